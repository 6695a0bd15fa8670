"""One NetworkAttachmentDefinition. Not protected: a NAD can be removed safely."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import pulumi

from . import arguments, kube
from .annotations import NAD_API_VERSION, NAD_KIND
from .config import NetworkConfig, validate
from .warnings import warn_all

TYPE = "multus-cni:index:NetworkAttachment"


def nad_manifest(network: NetworkConfig) -> dict:
    metadata: dict[str, Any] = {"name": network.name, "namespace": network.namespace}
    if network.annotations:
        metadata["annotations"] = dict(sorted(network.annotations.items()))
    # spec.config stays a JSON string by design (multus-cni#872); canonical so previews never
    # show a diff for the same config.
    return {"apiVersion": NAD_API_VERSION, "kind": NAD_KIND, "metadata": metadata, "spec": {"config": network.config_json}}


class NetworkAttachment(pulumi.ComponentResource):
    nad_name: pulumi.Output[str]
    nad_namespace: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Union[NetworkConfig, Mapping[str, Any]],
        multus: Optional[pulumi.Resource] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
        config_path: Optional[str] = None,
        needs: Sequence[pulumi.Resource] = (),
    ):
        """`multus`: the install the NAD waits for, so its CRD exists first. `needs`: what installs the
        plugins the network runs (the CNI plugins, whereabouts), so no pod uses it before they are there."""
        label = arguments.label("NetworkAttachment", name, config_path)
        multus = arguments.resource(label, "multus", multus, "the Multus component (or another Pulumi resource) the NAD waits for")
        needs = arguments.resources(label, "needs", needs, pulumi.Resource, "Pulumi resources the NAD waits for")
        network = validate(NetworkConfig, args, label)
        super().__init__(TYPE, name, {}, opts)
        warn_all(self, label, network.warnings())
        self.network = network

        # A Multus component's guard refuses this NAD's change while its DaemonSet rolls (multus/rollout.py);
        # its ownership hooks serve the NAD too (components/ownership.py).
        guard = getattr(multus, "guard", None)
        self.nad = kube.create(
            f"{name}-nad", nad_manifest(network),
            pulumi.ResourceOptions(parent=self, depends_on=[*([multus] if multus else []), *needs] or None,
                                   hooks=guard.on_network() if guard else None),
            adopt=network.adopt, owner=getattr(multus, "owner", None),
            adopt_key=f"{label}.adopt" if config_path else None,
        )
        self.nad_name = kube.field(self.nad, "metadata", "name")
        self.nad_namespace = kube.field(self.nad, "metadata", "namespace")
        # No register_outputs, here or in SampleWorkload (a leaf of the tree, one per network or
        # workload). Programs read these outputs as attributes and TypeScript, Go and YAML users get
        # them in the Construct result (provider/): neither reads the state. What it would add is a
        # copy in this component's state record, for one more whole-state write by the file backend on
        # every create (pulumi 3.260.0 backend/snapshot.go: RegisterResourceOutputs is elided only when
        # the old outputs equal the new, and a create has none). Measured, and what a user sees
        # without it: docs/performance.md "Leaf components without register_outputs".
