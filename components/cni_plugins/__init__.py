"""The reference CNI plugins on every node (optional, `multus-cni:cniPlugins`).

Not protected, unlike Multus: deleting the DaemonSet deletes its pods, never the files they
copied, so every node keeps its plugins and running pods (and their CNI DEL) are unaffected;
only a node that joins afterwards lacks them. docs/addons.md has the whole argument.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import pulumi

from .. import arguments, kube, ownership
from ..config import validate
from ..config.addons import CniPluginsConfig
from . import manifests

TYPE = "multus-cni:index:CniPlugins"


class CniPlugins(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    daemonset_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Union[CniPluginsConfig, Mapping[str, Any], None] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
        config_path: Optional[str] = None,
        cluster: Optional[ownership.ClusterAccess] = None,
    ):
        """`cluster`: the cluster the objects go to, checked before each create (components/ownership.py)."""
        label = arguments.label("CniPlugins", name, config_path)
        cfg = validate(CniPluginsConfig, {} if args is None else args, label)
        super().__init__(TYPE, name, {}, opts)
        self.config = cfg
        owner = ownership.Owner(name, cluster)
        self.children = kube.create_children(self, name, manifests.objects(cfg), owner=owner)
        daemonset = self.children["daemonset"]
        self.namespace = kube.field(daemonset, "metadata", "namespace")
        self.daemonset_name = kube.field(daemonset, "metadata", "name")
        self.register_outputs({"namespace": self.namespace, "daemonsetName": self.daemonset_name, "plugins": list(cfg.plugins)})
