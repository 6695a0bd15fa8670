"""The Multus install: once applied it must never be deleted (multus-cni#461).

It protects itself (`protect=True` unless a Python caller passes `protect=False`; the component
package always protects it), and the Python SDK copies protect to every child registered with
`parent=self`, so neither `pulumi up` nor `pulumi destroy` can delete any object it owns.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import pulumi

from .. import arguments, kube, ownership
from ..annotations import NAD_CRD_NAME
from ..config import MultusConfig, validate
from ..warnings import warn_all
from . import manifests, rollout, tanzu

TYPE = "multus-cni:index:Multus"


class Multus(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    daemonset_name: pulumi.Output[str]
    crd_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Union[MultusConfig, Mapping[str, Any], None] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
        config_path: Optional[str] = None,
        cluster: Optional[ownership.ClusterAccess] = None,
    ):
        """`cluster`: the cluster the objects go to, checked before each create (components/ownership.py)."""
        label = arguments.label("Multus", name, config_path)
        cfg = validate(MultusConfig, {} if args is None else args, label)
        # Protected unless the caller says protect=False: a caller who forgets the option must not
        # be one `pulumi destroy` away from the outage of multus-cni#461 (None means not given).
        super().__init__(TYPE, name, {}, pulumi.ResourceOptions.merge(pulumi.ResourceOptions(protect=True), opts))
        warn_all(self, label, cfg.warnings())
        self.config = cfg
        self.guard = rollout.Guard(name)
        self.owner = ownership.Owner(name, cluster)
        self.adopt_key = f"{label}.adopt" if config_path else None

        if cfg.mode == "tanzu-package":
            objects = tanzu.objects(cfg)
            children = self._create(name, {k: v for k, v in objects.items() if k != "package-install"})
            install = objects["package-install"]
            children["package-install"] = kube.create(
                f"{name}-package-install", install,
                pulumi.ResourceOptions(parent=self, depends_on=list(children.values())), adopt=cfg.adopt,
                owner=self.owner, adopt_key=self.adopt_key,
            )
            self.namespace = pulumi.Output.from_input(cfg.namespace)
            self.daemonset_name = pulumi.Output.from_input(tanzu.daemonset_name(cfg))
            self.crd_name = pulumi.Output.from_input(NAD_CRD_NAME)
        else:
            children = self._create(name, manifests.objects(cfg))
            self.namespace = kube.field(children["daemonset"], "metadata", "namespace")
            self.daemonset_name = kube.field(children["daemonset"], "metadata", "name")
            self.crd_name = kube.field(children["crd"], "metadata", "name")
        self.children = children

        self.register_outputs({
            "namespace": self.namespace,
            "daemonsetName": self.daemonset_name,
            "crdName": self.crd_name,
        })

    def _create(self, name: str, objects: dict[str, dict]) -> dict[str, pulumi.CustomResource]:
        """The DaemonSet last: in a flavor switch its pods must find the new ConfigMap (created first)."""
        daemonset = objects.pop("daemonset", None)
        mine = {"adopt": self.config.adopt, "owner": self.owner, "adopt_key": self.adopt_key}
        children = kube.create_children(self, name, objects, **mine)
        if daemonset is not None:
            children |= kube.create_children(self, name, {"daemonset": daemonset}, **mine,
                                             depends_on=list(children.values()), hooks=self.guard.on_daemonset())
            self.guard.daemonset = children["daemonset"]
        return children
