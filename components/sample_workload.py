"""A sample Pod (or Deployment) attached to secondary networks, as the Tanzu guide's `sample-pod`."""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional, Sequence, Union

import pulumi

from . import arguments, kube, ownership
from .annotations import DEFAULT_NETWORK, NETWORK_STATUS, NETWORKS
from .canonical import digest
from .config import ConfigError, Problem, WorkloadConfig, validate
from .config.attachments import attachment_findings
from .core.errors import join_path
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


def manifest(workload: WorkloadConfig, attachments: Optional[str] = None, pull_policy: Optional[str] = None) -> dict:
    """The guide's sample pod, or a Deployment of it."""
    labels = {NAME_LABEL: workload.name}
    container = {"name": workload.name, "image": workload.image, "command": list(workload.command)}
    if pull_policy:
        container["imagePullPolicy"] = pull_policy
    pod_spec = {"containers": [container]}
    if workload.kind == "Pod":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": workload.name, "namespace": workload.namespace, "labels": labels,
                         "annotations": pod_annotations(workload)},
            "spec": pod_spec,
        }
    template_annotations = pod_annotations(workload)
    if attachments:
        template_annotations[DIGEST_ANNOTATION] = attachments
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


def attachment_digest(workload: WorkloadConfig, networks: Sequence[NetworkAttachment]) -> str:
    """Changes with what Multus reads at pod creation: the pod's network annotations and the
    configs of the NADs they name."""
    return digest({"annotations": pod_annotations(workload), "configs": sorted(n.network.config_json for n in networks)})


def _check_attachments(workload: WorkloadConfig, networks: Sequence[NetworkAttachment], label: str) -> list:
    """The stack's workload checks, for library users too: NADs not passed in are taken as
    created elsewhere, so only their presence is unknown. Returns the warnings."""
    given = {n.network.key: n.network for n in networks}
    external = set(workload.attachment_keys()) - set(given)
    problems, warnings = attachment_findings(workload, given, external, pulumi.get_project())
    if problems:
        raise ConfigError(Problem(join_path(label, loc), message) for loc, message in problems)
    return warnings


class SampleWorkload(pulumi.ComponentResource):
    network_status: pulumi.Output[Optional[Any]]

    def __init__(
        self,
        name: str,
        args: Union[WorkloadConfig, Mapping[str, Any]],
        networks: Sequence[NetworkAttachment] = (),
        opts: Optional[pulumi.ResourceOptions] = None,
        config_path: Optional[str] = None,
        cluster: Optional[ownership.ClusterAccess] = None,
        image: Optional[str] = None,
    ):
        """`networks`: the attachments the pod uses (its default-network override included); it
        waits for them and is replaced when they or its selection change, since Multus reads
        NADs only when a pod is created. `cluster`: checked before the create (components/ownership.py).
        `image`: run this one instead of the configured one, which the warnings still judge (the local
        cluster's real node reaches no registry, only the images built for it: cluster/images.py),
        with `imagePullPolicy: IfNotPresent` said outright: a pod first made with an untagged image
        keeps the `Always` the API server defaulted for it when its image is changed later."""
        label = arguments.label("SampleWorkload", name, config_path)
        networks = arguments.resources(label, "networks", networks, NetworkAttachment, "NetworkAttachment components")
        workload = validate(WorkloadConfig, args, label)
        attachment_warnings = _check_attachments(workload, networks, label)
        super().__init__(TYPE, name, {}, opts)
        warn_all(self, label, workload.warnings() + attachment_warnings)
        self.config = workload

        attached = attachment_digest(workload, networks)
        role = workload.kind.lower()
        runs = workload.model_copy(update={"image": image}) if image else workload
        self.workload = kube.create(
            f"{name}-{role}", manifest(runs, attached, "IfNotPresent" if image else None),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=list(networks) or None,
                replacement_trigger=attached if workload.kind == "Pod" else None,
                # A Pod's name is fixed, so its replacement is the same object: created first (a
                # server-side apply onto the old pod), then "the original" deleted, which left no
                # pod at all (seen on the live suite). Delete first, then create.
                delete_before_replace=workload.kind == "Pod",
            ),
            owner=ownership.Owner(name, cluster),
        )
        # A Deployment's pods come and go under generated names: read them with `verify`.
        self.network_status = (
            self.workload.metadata.apply(parse_network_status) if workload.kind == "Pod" else pulumi.Output.from_input(None)
        )
        # No register_outputs: network_attachment.py says why.
