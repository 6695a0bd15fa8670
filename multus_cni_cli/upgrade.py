"""`multus-cni upgrade --stack NAME`: change Multus' version, flavor or layout under protection.

A version bump is an in-place update of the DaemonSet, which a plain `pulumi up` can do. A flavor
switch also swaps the ConfigMap (thin's multus-cni-config, thick's multus-daemon-config): the new one
is created, the DaemonSet rolls onto it, and only then is the superseded one deleted, which protection
forbids. This command lifts protection from exactly the superseded objects (read from the state and
the program, never guessed) and runs `pulumi up`; any other protected delete or replacement still
fails that `up`'s preview. It refuses a run that would also change the networks: Multus reads a NAD
only when a pod is created, and a half-rolled DaemonSet would attach pods with two configs.
Docs: docs/operations.md "Upgrading Multus".
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from components.annotations import NAD_API_VERSION, NAD_KIND
from components.multus import TYPE as MULTUS_TYPE, rollout
from components.testing import Registration

from . import stackfile
from .cli_types import stack_options
from .pulumi_cli import Pulumi, StepFailed
from .render import run_program

HELP = "plan a Multus upgrade (version, flavor) under protection; --yes: carry it out"

NAD_TYPE = f"kubernetes:{NAD_API_VERSION}:{NAD_KIND}"
DAEMONSET_TYPE = "kubernetes:apps/v1:DaemonSet"


@dataclass(frozen=True)
class Obj:
    """One Kubernetes object as the state holds it or the program registers it."""

    urn: str
    type: str
    inputs: dict

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def identity(self) -> tuple:
        metadata = self.inputs.get("metadata") or {}
        return self.inputs.get("kind") or self.type, metadata.get("namespace"), metadata.get("name")

    @property
    def ref(self) -> str:
        kind, namespace, name = self.identity
        return f"{kind.rsplit(':', 1)[-1]} {namespace}/{name}" if namespace else f"{kind.rsplit(':', 1)[-1]} {name}"


def _under(resources: list[dict], parent_type: str) -> set[str]:
    """URNs of the resources below any resource of `parent_type`."""
    by_urn = {r["urn"]: r for r in resources}
    roots = {r["urn"] for r in resources if r["type"] == parent_type}
    found = set()
    for r in resources:
        seen, parent = set(), r.get("parent")
        while parent and parent not in seen:
            if parent in roots:
                found.add(r["urn"])
                break
            seen.add(parent)
            parent = (by_urn.get(parent) or {}).get("parent")
    return found


def _objects(resources: list[dict], urns: set[str]) -> dict[str, Obj]:
    return {r["urn"]: Obj(r["urn"], r["type"], r.get("inputs") or {}) for r in resources
            if r["urn"] in urns and r.get("custom", True) and r["type"].startswith("kubernetes:")}


def _nads(resources: list[dict]) -> dict[tuple, str]:
    """Each NAD's identity and its spec.config."""
    out = {}
    for r in resources:
        if r["type"] == NAD_TYPE:
            obj = Obj(r["urn"], r["type"], r.get("inputs") or {})
            out[obj.identity[1:]] = (obj.inputs.get("spec") or {}).get("config")
    return out


@dataclass
class Plan:
    old_daemonset: Optional[dict] = None
    new_daemonset: Optional[dict] = None
    nodes: Optional[int] = None
    renames: list[tuple[Obj, Obj]] = field(default_factory=list)   # (in state, as the program names it)
    unprotect: list[Obj] = field(default_factory=list)             # superseded: deleted after the roll
    creates: list[Obj] = field(default_factory=list)
    updates: list[Obj] = field(default_factory=list)
    network_changes: list[str] = field(default_factory=list)

    @property
    def before(self) -> str:
        return rollout.describe(self.old_daemonset)

    @property
    def after(self) -> str:
        return rollout.describe(self.new_daemonset)

    @property
    def rolls(self) -> bool:
        return rollout.rolls(self.old_daemonset, self.new_daemonset)

    @property
    def upgrading(self) -> bool:
        return bool(self.unprotect or self.creates or self.renames or self.rolls)

    @property
    def refused(self) -> Optional[str]:
        """The hooks' refusal (multus/rollout.py), for removals too: this command sees the whole run."""
        if self.upgrading and self.network_changes:
            return rollout.REFUSAL.format(networks=", ".join(self.network_changes))
        return None


def plan(exported: dict, registrations: list[Registration]) -> Plan:
    state = (exported.get("deployment") or {}).get("resources") or []
    program = [{"urn": r.urn, "type": r.type, "parent": r.parent, "custom": r.custom, "inputs": r.inputs}
               for r in registrations]
    old = _objects(state, _under(state, MULTUS_TYPE))
    new = _objects(program, _under(program, MULTUS_TYPE))
    result = Plan()
    old_ds = next((o for o in old.values() if o.type == DAEMONSET_TYPE), None)
    new_ds = next((o for o in new.values() if o.type == DAEMONSET_TYPE), None)
    result.old_daemonset = old_ds.inputs if old_ds else None
    result.new_daemonset = new_ds.inputs if new_ds else None
    for r in state:
        if old_ds is not None and r["urn"] == old_ds.urn:
            result.nodes = ((r.get("outputs") or {}).get("status") or {}).get("desiredNumberScheduled")
    added = {urn: o for urn, o in new.items() if urn not in old}
    by_identity = {o.identity: o for o in added.values()}
    for urn, o in sorted(old.items()):
        if urn in new:
            continue
        if o.identity in by_identity:  # the same object under another Pulumi name: keep it, rename the state
            result.renames.append((o, by_identity.pop(o.identity)))
        else:
            result.unprotect.append(o)
    result.creates = sorted(by_identity.values(), key=lambda o: o.urn)
    result.updates = sorted((o for urn, o in new.items() if urn in old and _differs(old[urn], o)), key=lambda o: o.urn)
    old_nads, new_nads = _nads(state), _nads(program)
    for key in sorted(set(old_nads) | set(new_nads), key=str):
        where = "/".join(k for k in key if k)
        if key not in old_nads:
            result.network_changes.append(f"{where} added")
        elif key not in new_nads:
            result.network_changes.append(f"{where} removed")
        elif old_nads[key] != new_nads[key]:
            result.network_changes.append(f"{where} changed")
    return result


def _differs(old: Obj, new: Obj) -> bool:
    def canonical(inputs: dict) -> str:
        return json.dumps({k: v for k, v in inputs.items() if not k.startswith("__")}, sort_keys=True)
    return canonical(old.inputs) != canonical(new.inputs)


def render(stack: str, p: Plan) -> str:
    lines = [f"Multus upgrade of stack {stack}: {p.before} -> {p.after}"]
    if not p.upgrading:
        return "\n".join(lines + ["Nothing to upgrade: Multus is as the config says (use `pulumi up` for other changes)."]) + "\n"
    step = 0
    for old, new in p.renames:
        step += 1
        lines.append(f"{step}. pulumi state rename {old.urn} {new.name}   ({old.ref}: the program now names it {new.name})")
    for o in p.unprotect:
        step += 1
        lines.append(f"{step}. pulumi state unprotect {o.urn}   ({o.ref}: superseded, deleted at the end of the up)")
    step += 1
    lines.append(f"{step}. pulumi up (its preview first: any other protected delete or replacement fails it)")
    lines += [f"   create {o.ref}" for o in p.creates]
    lines += [f"   update {o.ref} in place" for o in p.updates]
    if p.rolls:
        lines.append("   " + rollout.what_each_node_does(p.old_daemonset, p.new_daemonset, p.nodes))
    lines += [f"   delete {o.ref} (after the DaemonSet rolled)" for o in p.unprotect]
    if p.before.endswith("(thick)") and p.after.endswith("(thin)"):
        lines.append("warning: pods the thick daemon attached keep their primary interface and address when they are deleted "
                     "under thin: Multus v4.3.0's daemon caches the cluster network without its IPAM settings "
                     "(multus-cni#1449); switch once those pods were recreated (docs/operations.md \"Upgrading Multus\")")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)
    parser.add_argument("--yes", action="store_true", help="carry out the plan")


def command(args: argparse.Namespace) -> int:
    stack, path = stackfile.resolve(args.stack, args.stack_file, args.project_dir)
    project = stackfile.project_name(args.project_dir)
    config = stackfile.load_config(path, project)
    result = run_program(args.project_dir, project, stack, config)
    pulumi = Pulumi(stack, args.project_dir)
    try:
        p = plan(pulumi.export(), result.monitor.registrations)
    except StepFailed as exc:
        print(f"upgrade: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(stack, p))
    if p.refused:
        print(f"upgrade: {p.refused}", file=sys.stderr)
        return 1
    if not p.upgrading:
        return 0
    if not args.yes:
        print("This is the plan only: nothing was changed. Run it with --yes to carry it out.")
        return 0
    try:
        for old, new in p.renames:
            pulumi("state", "rename", old.urn, new.name, "--yes", what=f"renaming {old.ref} in the state")
        for o in p.unprotect:
            pulumi("state", "unprotect", o.urn, "--yes", what=f"lifting protection from {o.ref}")
        print(pulumi("up", "--yes", what="pulumi up"), end="")
    except StepFailed as exc:
        print(f"upgrade stopped: {exc}\nRerun `multus-cni upgrade --stack {stack} --yes`: every step is skipped once done.",
              file=sys.stderr)
        return 1
    print(f"Multus of stack {stack} is upgraded: {p.after}.")
    return 0
