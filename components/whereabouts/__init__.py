"""whereabouts, cluster-wide IPAM (optional, `multus-cni:whereabouts`).

Its CRDs are created with `retain_on_delete`: the IPPool objects are the record of which pod holds
which address, and deleting a CRD deletes every object of its kind, so a later pod could get an
address a running pod still uses. Removing whereabouts from the stack leaves them in the cluster.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import pulumi

from .. import arguments, kube, ownership
from ..config import validate
from ..config.addons import WhereaboutsConfig
from . import manifests

TYPE = "multus-cni:index:Whereabouts"


class Whereabouts(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    daemonset_name: pulumi.Output[str]
    service_account_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Union[WhereaboutsConfig, Mapping[str, Any], None] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
        config_path: Optional[str] = None,
        cluster: Optional[ownership.ClusterAccess] = None,
    ):
        """`cluster`: the cluster the objects go to, checked before each create (components/ownership.py)."""
        label = arguments.label("Whereabouts", name, config_path)
        cfg = validate(WhereaboutsConfig, {} if args is None else args, label)
        super().__init__(TYPE, name, {}, opts)
        self.config = cfg
        owner = ownership.Owner(name, cluster)
        objects = manifests.objects(cfg)
        crds = {role: objects.pop(role) for role in manifests.CRD_ROLES}
        rest = kube.create_children(self, name, objects, owner=owner)
        self.children = {**kube.create_children(self, name, crds, owner=owner, retain_on_delete=True), **rest}
        self.namespace = kube.field(rest["daemonset"], "metadata", "namespace")
        self.daemonset_name = kube.field(rest["daemonset"], "metadata", "name")
        self.service_account_name = kube.field(rest["service-account"], "metadata", "name")
        self.register_outputs({
            "namespace": self.namespace,
            "daemonsetName": self.daemonset_name,
            "serviceAccountName": self.service_account_name,
        })
