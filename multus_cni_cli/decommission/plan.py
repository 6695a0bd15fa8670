"""The decommission plan: the steps, which are already done, and what refuses it. Pure functions
of the stack's state and what the cluster holds, so a rerun sees where the last run stopped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Optional

from components.annotations import DEFAULT_NETWORK, NETWORKS
from components.config.workload import selected_networks
from . import daemonset
from .node_cleanup import TARGETS
from .state import StackState

Owner = Callable[[str, dict], Optional[dict]]  # (namespace, ownerReference) -> the owner object
REMOVED_ON_NODES = tuple(f"/{directory}/{pattern}" for directory, pattern in TARGETS)
_MAX_OWNER_DEPTH = 4  # Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob, ...


@dataclass
class Refusal:
    pods: dict[str, list[str]] = field(default_factory=dict)  # "ns/pod" -> NADs it selects
    nads: list[str] = field(default_factory=list)  # NADs outside the stack that the CRD takes along

    def __bool__(self) -> bool:
        return bool(self.pods or self.nads)

    def lines(self) -> list[str]:
        out = [f"  pod {pod} uses {', '.join(nads)}" for pod, nads in sorted(self.pods.items())]
        out += [f"  NAD {nad} is not in this stack and would be deleted with the CRD" for nad in self.nads]
        return out


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _in_stack(state: StackState, obj: dict, kind: str, owner_of: Owner) -> bool:
    """Whether the stack created `obj` or, following ownerReferences, what owns it."""
    namespace = _meta(obj).get("namespace")
    for _ in range(_MAX_OWNER_DEPTH):
        if state.owns(kind, namespace, _meta(obj).get("name", "")):
            return True
        references = [r for r in _meta(obj).get("ownerReferences") or [] if r.get("controller", True)]
        if not references:
            return False
        reference = references[0]
        owner = owner_of(namespace, reference)
        if owner is None:
            return state.owns(reference["kind"], namespace, reference["name"])
        obj, kind = owner, reference["kind"]
    return False


def refusal(state: StackState, pods: list[dict], nads: list[dict], owner_of: Owner) -> Refusal:
    """Pods outside the stack that select a NAD the decommission deletes (the stack's, or any NAD:
    deleting the CRD deletes them all), and NADs outside the stack. Nothing is deleted while any."""
    found = Refusal()
    if not (state.multus_objects or state.nads):
        return found
    existing = {(_meta(n).get("namespace", "default"), _meta(n).get("name")) for n in nads}
    doomed = existing | state.nad_refs()
    found.nads = sorted(f"{ns}/{name}" for ns, name in existing - state.nad_refs())
    for pod in pods:
        meta = _meta(pod)
        annotations = meta.get("annotations") or {}
        namespace = meta.get("namespace", "default")
        selected = set(selected_networks(annotations.get(NETWORKS), namespace))
        selected |= set(selected_networks(annotations.get(DEFAULT_NETWORK), namespace))
        used = sorted(f"{ns}/{name}" for ns, name in selected & doomed)
        if used and not _in_stack(state, pod, "Pod", owner_of):
            found.pods[f"{namespace}/{meta.get('name')}"] = used
    return found


# --- node reports ---------------------------------------------------------------------------------


@dataclass
class NodeReports:
    clean: dict[str, list[str]] = field(default_factory=dict)  # node -> paths removed
    failed: dict[str, list[str]] = field(default_factory=dict)  # node -> errors (or why the report is not accepted)
    missing: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.failed and not self.missing


def judge_reports(nodes: list[str], data: dict[str, str], cleanup_pods: Optional[list[dict]] = None) -> NodeReports:
    """Each node's report from the report ConfigMap's data. With `cleanup_pods` (while the cleanup
    DaemonSet runs) a report must name this DaemonSet's pod on that node."""
    result = NodeReports()
    on_node = {}
    for pod in cleanup_pods or []:
        on_node.setdefault((pod.get("spec") or {}).get("nodeName"), set()).add(_meta(pod).get("name"))
    for node in nodes:
        text = data.get(node)
        if text is None:
            result.missing.append(node)
            continue
        try:
            report = json.loads(text)
            removed, errors = list(report["removed"]), list(report["errors"])
            reporter, pod = report["node"], report["pod"]
        except (ValueError, KeyError, TypeError):
            result.failed[node] = [f"unreadable report {text[:200]!r}"]
            continue
        if reporter != node:
            result.failed[node] = [f"the report names node {reporter!r}"]
        elif cleanup_pods is not None and pod not in on_node.get(node, set()):
            result.failed[node] = [f"the report names pod {pod!r}, which is not the cleanup pod on this node"]
        elif errors:
            result.failed[node] = errors
        else:
            result.clean[node] = removed
    return result


# --- the steps ------------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the cluster holds now, as far as the plan cares."""

    nodes: list[str]
    reports: Optional[dict[str, str]]  # the report ConfigMap's data, None when it does not exist
    cleanup_objects: list[str]  # "Kind name" of the cleanup objects that exist


@dataclass
class Step:
    key: str
    title: str
    objects: list[str]
    done: bool


def steps(state: StackState, facts: Facts, timeout: int) -> list[Step]:
    reports = judge_reports(facts.nodes, facts.reports or {})
    multus_rest = [r.ref for r in state.multus_objects if r not in state.multus_daemonsets]
    # A report counts only once the Multus DaemonSet is gone (step 2 deletes any earlier report).
    nodes_done = not state.multus_objects or (not state.multus_daemonsets and facts.reports is not None and reports.done)
    return [
        Step("workloads", "delete the stack's workloads, NADs and other unprotected objects (targeted pulumi destroy)",
             sorted(r.ref for r in state.workloads), not state.workloads),
        Step("daemonset", "delete the Multus DaemonSet, so nothing writes 00-multus.conf again (pulumi state unprotect, "
             "targeted pulumi destroy; the ServiceAccount and CRD stay, so the nodes' Multus still works meanwhile)",
             sorted(r.ref for r in state.multus_daemonsets), not state.multus_daemonsets),
        Step("nodes", f"run the node-cleanup DaemonSet in {daemonset.NAMESPACE}: remove {', '.join(REMOVED_ON_NODES)} on each node, "
             f"wait up to {timeout}s for every node's report",
             [f"Node {n}" for n in facts.nodes], nodes_done),
        Step("multus", "unprotect and delete the Multus objects and whatever is left in the stack "
             "(pulumi state unprotect --all, pulumi destroy)",
             sorted(multus_rest + [r.ref for r in state.protected_others]), state.empty),
        Step("tidy", "delete the node-cleanup DaemonSet, its RBAC and its report",
             [f"{o['kind']} {daemonset.NAMESPACE}/{o['metadata']['name']}" for o in daemonset.objects(daemonset.NAMESPACE)],
             state.empty and not facts.cleanup_objects),
    ]


def render(stack: str, state: StackState, plan: list[Step], refused: Refusal) -> str:
    namespace = state.multus_namespace()
    lines = [f"Decommission of stack {stack}" + (f": Multus ({state.flavor()}) in {namespace}" if namespace else "")]
    if all(step.done for step in plan):
        lines.append("Nothing left to do: the stack is empty and no node-cleanup object remains.")
    for number, step in enumerate(plan, 1):
        lines.append(f"{number}. {step.title}{': already done' if step.done else ''}")
        lines += [f"     {obj}" for obj in step.objects] if not step.done else []
    if refused:
        lines.append("Refused: the decommission would break what is outside the stack:")
        lines += refused.lines()
    else:
        lines.append("No pod outside the stack uses a NAD, and no NAD outside the stack exists.")
    return "\n".join(lines) + "\n"
