"""A sample Pod attached to secondary networks, as the Tanzu guide's `sample-pod`."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence, Union

import pulumi

from . import kube
from .annotations import NETWORK_STATUS, NETWORKS
from .canonical import digest
from .config import WorkloadConfig, validate
from .network_attachment import NetworkAttachment
from .warnings import warn_all

TYPE = "multus-cni:index:SampleWorkload"


def pod_manifest(workload: WorkloadConfig) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": workload.name,
            "namespace": workload.namespace,
            "annotations": {NETWORKS: workload.annotation()},
        },
        "spec": {"containers": [{"name": workload.name, "image": workload.image, "command": list(workload.command)}]},
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
        self.workload = workload

        trigger = digest(sorted(n.network.config_json for n in networks)) if networks else None
        self.pod = kube.create(
            f"{name}-pod", pod_manifest(workload),
            pulumi.ResourceOptions(parent=self, depends_on=list(networks) or None, replacement_trigger=trigger),
        )
        self.network_status = self.pod.metadata.apply(parse_network_status)
        self.register_outputs({"networkStatus": self.network_status})
