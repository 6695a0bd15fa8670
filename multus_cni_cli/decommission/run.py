"""Carrying out the plan, one step at a time, each skipped when already done, so a rerun after
any failure finishes the job. Everything in the stack goes through the Pulumi CLI (so the state
stays true); only the node-cleanup objects, which are not in the stack, go through the API."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

from components.multus import manifests
from . import daemonset
from .cluster import Cluster
from .plan import Facts, Refusal, judge_reports, refusal, steps
from .state import StackState
from ..pulumi_cli import Pulumi, StepFailed

POLL_SECONDS = 1.0
STEPS = 5


def facts(cluster: Cluster) -> Facts:
    report = cluster.get("v1", "ConfigMap", daemonset.REPORT, daemonset.NAMESPACE)
    present = [f"{obj['kind']} {daemonset.NAMESPACE}/{obj['metadata']['name']}" for obj in daemonset.objects(daemonset.NAMESPACE)
               if cluster.get(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], daemonset.NAMESPACE) is not None]
    return Facts(cluster.nodes(), (report.get("data") or {}) if report is not None else None, present)


def check_refusal(state: StackState, cluster: Cluster) -> Refusal:
    return refusal(state, cluster.pods(), cluster.nads(), cluster.owner)


@dataclass
class Runner:
    pulumi: Pulumi
    cluster: Cluster
    timeout: int
    image: str = daemonset.IMAGE
    say: Callable[[str], None] = lambda line: print(line, flush=True)

    def run(self, state: StackState) -> None:
        for number in range(1, STEPS + 1):
            step = steps(state, facts(self.cluster), self.timeout)[number - 1]  # re-planned after each step
            if step.done:
                self.say(f"[{number}/{STEPS}] {step.key}: already done")
            else:
                self.say(f"[{number}/{STEPS}] {step.key}: {step.title}")
                getattr(self, f"_{step.key}")(state)
                state = self.pulumi.state()
                self.say(f"[{number}/{STEPS}] {step.key}: done")
            if step.key == "nodes":
                self._say_reports()

    def _workloads(self, state: StackState) -> None:
        targets = [arg for r in state.workloads for arg in ("--target", r.urn)]
        self.pulumi("destroy", "--yes", "--skip-preview", *targets, what="deleting the workloads and NADs")

    def _daemonset(self, state: StackState) -> None:
        self._tidy(state)  # a report left from before Multus was (re)installed must not count
        for r in state.multus_daemonsets:
            self.pulumi("state", "unprotect", r.urn, "--yes", what="unprotecting the Multus DaemonSet")
        targets = [arg for r in state.multus_daemonsets for arg in ("--target", r.urn)]
        self.pulumi("destroy", "--yes", "--skip-preview", *targets, what="deleting the Multus DaemonSet")

    def _nodes(self, state: StackState) -> None:
        """A fresh DaemonSet and an empty report each time, so every node runs the (idempotent)
        script again and no report of an earlier run is taken for this one."""
        self._wait_multus_pods_gone(state.multus_namespace())
        objects = daemonset.objects(daemonset.NAMESPACE, self.image)
        for obj in reversed(objects):
            self.cluster.delete(obj)
        self._wait_gone(objects[-1])
        for obj in objects:
            self.cluster.create(obj)
        nodes = self.cluster.nodes()
        deadline = time.monotonic() + self.timeout
        while True:
            pods = self.cluster.list("v1", "Pod", daemonset.NAMESPACE, label_selector=f"app={daemonset.NAME}")
            report = self.cluster.get("v1", "ConfigMap", daemonset.REPORT, daemonset.NAMESPACE) or {}
            judged = judge_reports(nodes, report.get("data") or {}, pods)
            if judged.failed:
                raise StepFailed("node cleanup failed on " + "; ".join(
                    f"node {node}: {', '.join(errors)}" for node, errors in sorted(judged.failed.items()))
                    + "; fix that node, then rerun")
            if judged.done:
                break
            if time.monotonic() > deadline:
                where = {(p.get("spec") or {}).get("nodeName"): p for p in pods}
                detail = [f"{node} ({self._pod_state(where.get(node))})" for node in judged.missing]
                raise StepFailed(f"node cleanup: no report after {self.timeout}s from {len(detail)} of {len(nodes)} nodes: "
                                 f"{', '.join(detail)}. The Multus ServiceAccount and CRD are kept until every node "
                                 "has reported; rerun once those nodes can run the cleanup pod (or are removed)")
            time.sleep(POLL_SECONDS)
        self.cluster.delete(objects[-1])  # the pods have done their work; the report stays until the end

    def _wait_multus_pods_gone(self, namespace: Optional[str]) -> None:
        """A Multus pod still starting could write 00-multus.conf after the cleanup: wait for none."""
        if namespace is None:
            return
        selector = ",".join(f"{k}={v}" for k, v in manifests.DAEMONSET_SELECTOR.items())
        deadline = time.monotonic() + self.timeout
        while pods := self.cluster.list("v1", "Pod", namespace, label_selector=selector):
            if time.monotonic() > deadline:
                raise StepFailed(f"Multus pods are still there after {self.timeout}s: " + ", ".join(sorted(
                    f"{namespace}/{p['metadata']['name']} on {(p.get('spec') or {}).get('nodeName')}" for p in pods))
                    + "; rerun once they are gone")
            time.sleep(POLL_SECONDS)

    def _say_reports(self) -> None:
        """Each node's report, as the cleanup pods wrote it (kept until the last step)."""
        report = self.cluster.get("v1", "ConfigMap", daemonset.REPORT, daemonset.NAMESPACE)
        if report is None:
            return
        for node, removed in sorted(judge_reports(sorted(report.get("data") or {}), report.get("data") or {}).clean.items()):
            self.say(f"    node {node}: {'removed ' + ', '.join(removed) if removed else 'nothing left to remove'}")

    @staticmethod
    def _pod_state(pod: Optional[dict]) -> str:
        if pod is None:
            return "no cleanup pod scheduled"
        return f"pod {pod['metadata']['name']} {(pod.get('status') or {}).get('phase', 'Unknown')}"

    def _wait_gone(self, obj: dict, seconds: int = 60) -> None:
        deadline = time.monotonic() + seconds
        meta = obj["metadata"]
        while self.cluster.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")) is not None:
            if time.monotonic() > deadline:
                raise StepFailed(f"the previous {obj['kind']} {meta['name']} is still being deleted after {seconds}s")
            time.sleep(POLL_SECONDS)

    def _multus(self, state: StackState) -> None:
        refused = check_refusal(state, self.cluster)  # NADs may have appeared since the start
        if refused:
            raise StepFailed("\n".join(["refused before deleting the CRD:", *refused.lines()]))
        self.pulumi("state", "unprotect", "--all", "--yes", what="unprotecting the Multus objects")
        self.pulumi("destroy", "--yes", "--skip-preview", what="deleting the Multus objects")

    def _tidy(self, state: StackState) -> None:
        for obj in reversed(daemonset.objects(daemonset.NAMESPACE, self.image)):
            self.cluster.delete(obj)


def confirmed(stack: str, given: Optional[str]) -> bool:
    """The stack name typed again: `--confirm NAME`, else asked on stdin."""
    if given is None:
        sys.stdout.write(f"Type the stack name ({stack}) to decommission it: ")
        sys.stdout.flush()
        given = sys.stdin.readline().strip()
    return given == stack
