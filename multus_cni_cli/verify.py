"""`multus-cni verify`: check each workload's live network-status against the config.

The guide ends with "run `kubectl describe pod` and confirm that the annotation
`k8s.v1.cni.cncf.io/network-status` lists all network interfaces"; this makes that check exact
and repeatable. Pods are read with the Kubernetes Python client; the judging is `status.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from . import stackfile, status
from .cli_types import cluster_options, stack_options
from .pods import terminating
from components.annotations import NETWORK_STATUS
from components.config import StackConfig, WorkloadConfig
from components.core.model import ref_of
from components.core.errors import describe
from components.core.data import DataError, YamlSyntaxError, load_yaml, one_line
from components.sample_workload import NAME_LABEL


class VerifyError(Exception):
    """The check could not run (no cluster, bad arguments); exit status 2."""


@dataclass
class Report:
    title: str
    rows: list[status.Row]

    @property
    def passed(self) -> bool:
        return status.passed(self.rows)


def check_pod(pod: dict[str, Any], workload: WorkloadConfig, stack: StackConfig) -> Report:
    """Judge one pod object (as `kubectl get pod -o json` prints it)."""
    metadata = pod.get("metadata") or {}
    title = f"pod {metadata.get('namespace', workload.namespace)}/{metadata.get('name', workload.name)}"
    text = (metadata.get("annotations") or {}).get(NETWORK_STATUS)
    if text is None:
        node = (pod.get("spec") or {}).get("nodeName") or "its node"
        phase = (pod.get("status") or {}).get("phase", "unknown")
        return Report(title, [status.Row("-", "-", "", status.FAIL, (
            f"no {NETWORK_STATUS} annotation (phase {phase}): Multus is not running on {node}, or the pod "
            "was created before Multus; delete the pod so it is recreated through Multus"))])
    return check_annotation(title, text, workload, stack)


def check_annotation(title: str, text: Any, workload: WorkloadConfig, stack: StackConfig) -> Report:
    try:
        entries = status.parse(text)
    except status.StatusError as exc:
        return Report(title, [status.Row("-", "-", "", status.FAIL, str(exc))])
    wanted = status.expected(workload, stack.networks_of(workload))
    default = workload.default_network_key()
    return Report(title, status.compare(entries, wanted, ref_of(default) if default else None))


def find_workload(stack: StackConfig, name: str) -> WorkloadConfig:
    matches = [w for w in stack.workloads if name in (w.name, w.ref)]
    if len(matches) != 1:
        known = ", ".join(w.ref for w in stack.workloads) or "none"
        raise VerifyError(f"workload {name!r} is {'ambiguous' if matches else 'not in this stack'} (workloads: {known})")
    return matches[0]


def read_status_file(path: str) -> Any:
    """The annotation's value, or a whole Pod (JSON or YAML) carrying it; `status.parse` judges the value."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise VerifyError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise VerifyError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = load_yaml(text)
    except YamlSyntaxError:
        return text  # not YAML, so not JSON either: status.parse says what is wrong with it
    except DataError as exc:
        raise VerifyError(f"{path}: {exc}") from None
    if isinstance(document, dict) and "metadata" in document:
        metadata = document["metadata"]
        if not isinstance(metadata, dict):
            raise VerifyError(f"{path}: the pod's metadata must be an object, not {describe(metadata)}")
        annotations = metadata.get("annotations") or {}
        if not isinstance(annotations, dict):
            raise VerifyError(f"{path}: the pod's metadata.annotations must be an object, not {describe(annotations)}")
        annotation = annotations.get(NETWORK_STATUS)
        if annotation is None:
            raise VerifyError(f"{path}: the pod has no {NETWORK_STATUS} annotation")
        return annotation
    return text if isinstance(document, list) or document is None else json.dumps(document, default=str)


PodReader = Callable[[WorkloadConfig], list[dict[str, Any]]]


def live_reader(kubeconfig: Optional[str], context: Optional[str]) -> PodReader:
    """Read pods through the Kubernetes API; fail fast and clearly when it is unreachable."""
    from kubernetes import client, config as kube_config
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        kube_config.load_kube_config(config_file=kubeconfig, context=context)
    except (kube_config.ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise VerifyError(f"cannot load a kubeconfig ({kubeconfig or 'KUBECONFIG or ~/.kube/config'}): {exc}") from None
    configuration = client.Configuration.get_default_copy()
    configuration.retries = 0
    api_client = client.ApiClient(configuration)
    core = client.CoreV1Api(api_client)

    def read(workload: WorkloadConfig) -> list[dict[str, Any]]:
        try:
            if workload.kind == "Pod":
                pods = [core.read_namespaced_pod(workload.name, workload.namespace, _request_timeout=15)]
            else:
                pods = core.list_namespaced_pod(workload.namespace, label_selector=f"{NAME_LABEL}={workload.name}",
                                                _request_timeout=15).items
        except ApiException as exc:
            if exc.status == 404:
                return []
            raise VerifyError(f"the cluster refused to read pods of {workload.ref}: {exc.status} {exc.reason}") from None
        except (HTTPError, OSError) as exc:
            raise VerifyError(f"cannot reach the cluster at {configuration.host}: {exc}") from None
        return [api_client.sanitize_for_serialization(p) for p in pods]

    return read


def verify_live(stack: StackConfig, reader: PodReader) -> list[Report]:
    reports = []
    for workload in stack.workloads:
        pods = reader(workload)
        if workload.kind != "Pod":
            # The label selector also picks up the old ReplicaSet's pods while they terminate.
            pods = [pod for pod in pods if not terminating(pod)]
        problem = None
        if not pods:
            what = "pod" if workload.kind == "Pod" else f"pods of deployment {workload.ref}"
            problem = f"no {what} found: run `pulumi up`, or check `kubectl -n {workload.namespace} get pods`"
        elif workload.kind != "Pod" and len(pods) != workload.replicas:
            found, wanted = len(pods), workload.replicas
            problem = f"{found} of {wanted} replicas found" if found < wanted else f"{found} pods found for {wanted} replicas"
        if problem:
            reports.append(Report(f"{workload.kind.lower()} {workload.ref}", [status.Row("-", "-", "", status.FAIL, problem)]))
        reports += [check_pod(pod, workload, stack) for pod in sorted(pods, key=lambda p: p["metadata"]["name"])]
    return reports


HELP = "check the workloads' live network-status against the config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)
    cluster_options(parser)
    parser.add_argument("--workload", help="offline: the workload (name or namespace/name) a recorded status belongs to")
    parser.add_argument("--network-status-file", help="offline: a file holding the annotation value, or the whole pod")


def command(args: argparse.Namespace) -> int:
    stack_name, stack = stackfile.load_stack(args.stack, args.stack_file, args.project_dir)
    try:
        if args.network_status_file or args.workload:
            if not (args.network_status_file and args.workload):
                raise VerifyError("--workload and --network-status-file go together")
            workload = find_workload(stack, args.workload)
            text = read_status_file(args.network_status_file)
            try:  # the file is the user's input: a status that cannot be read is exit 2, not a mismatch
                status.parse(text)
            except status.StatusError as exc:
                raise VerifyError(f"{args.network_status_file}: {exc}") from None
            reports = [check_annotation(f"pod {workload.ref}", text, workload, stack)]
        else:
            if not stack.workloads:
                raise VerifyError(f"stack {stack_name!r} has no workloads to verify")
            reports = verify_live(stack, live_reader(args.kubeconfig, args.context))
    except VerifyError as exc:
        print(f"verify: {one_line(str(exc))}", file=sys.stderr)
        return 2
    print("\n\n".join(status.table(r.title, r.rows) for r in reports))
    for line in failure_lines(reports):
        print(line, file=sys.stderr)
    return 0 if all(r.passed for r in reports) else 1


def failure_lines(reports: list[Report]) -> list[str]:
    """One line per failed row, naming the pod (or workload) and the network: what a log or CI shows."""
    lines = []
    for report in reports:
        for row in report.rows:
            if row.verdict != status.OK:
                where = f"{row.interface} {row.network}: " if row.network != "-" else ""
                lines.append(f"verify: {one_line(report.title)}: {one_line(where + row.detail)}")
    return lines
