"""A sample Pod (or Deployment) attached to secondary networks, as the Tanzu guide's `sample-pod`."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence, Union

import pulumi

from . import kube
from .annotations import DEFAULT_NETWORK, NETWORK_STATUS, NETWORKS
from .canonical import digest
from .config import WorkloadConfig, validate
from .network_attachment import NetworkAttachment
from .warnings import warn_all

TYPE = "multus-cni:index:SampleWorkload"


NAME_LABEL = "app.kubernetes.io/name"
#: On a Deployment's pod template: changes when a network's config does, so pods roll and
#: Multus re-reads the NADs (it reads them only when a pod is created).
DIGEST_ANNOTATION = "multus-cni/networks-digest"


def pod_annotations(workload: WorkloadConfig) -> dict[str, str]:
    annotations = {NETWORKS: workload.annotation()}
    if workload.defaultNetwork:
        annotations[DEFAULT_NETWORK] = workload.defaultNetwork
    return annotations


def manifest(workload: WorkloadConfig, networks_digest: Optional[str] = None) -> dict:
    """The guide's sample pod, or a Deployment of it."""
    labels = {NAME_LABEL: workload.name}
    pod_spec = {"containers": [{"name": workload.name, "image": workload.image, "command": list(workload.command)}]}
    if workload.kind == "Pod":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": workload.name, "namespace": workload.namespace, "labels": labels,
                         "annotations": pod_annotations(workload)},
            "spec": pod_spec,
        }
    template_annotations = pod_annotations(workload)
    if networks_digest:
        template_annotations[DIGEST_ANNOTATION] = networks_digest
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": workload.name, "namespace": workload.namespace, "labels": labels},
        "spec": {
            "replicas": workload.replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels, "annotations": template_annotations}, "spec": pod_spec},
        },
    }


def parse_network_status(metadata: Any) -> Optional[Any]:
    """The pod's network-status annotation as JSON; None until Multus has written it."""
    annotations = (metadata or {}).get("annotations") or {}
    text = annotations.get(NETWORK_STATUS)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


class SampleWorkload(pulumi.ComponentResource):
    network_status: pulumi.Output[Optional[Any]]

    def __init__(
        self,
        name: str,
        args: Union[WorkloadConfig, Mapping[str, Any]],
        networks: Sequence[NetworkAttachment] = (),
        opts: Optional[pulumi.ResourceOptions] = None,
        config_path: Optional[str] = None,
    ):
        """`networks`: the attachments the pod uses; it waits for them and is replaced when
        their configs change, since Multus reads a NAD only when a pod is created."""
        super().__init__(TYPE, name, {}, opts)
        label = config_path or f"SampleWorkload {name}"
        workload = validate(WorkloadConfig, args, label)
        warn_all(self, label, workload.warnings())
        self.config = workload

        configs = digest(sorted(n.network.config_json for n in networks)) if networks else None
        role = workload.kind.lower()
        self.workload = kube.create(
            f"{name}-{role}", manifest(workload, configs),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=list(networks) or None,
                replacement_trigger=configs if workload.kind == "Pod" else None,
            ),
        )
        # A Deployment's pods come and go under generated names: read them with `verify`.
        self.network_status = (
            self.workload.metadata.apply(parse_network_status) if workload.kind == "Pod" else pulumi.Output.from_input(None)
        )
        self.register_outputs({"networkStatus": self.network_status})
