"""The Kubernetes objects of upstream whereabouts, as manifests built from validated config.

Source: k8snetworkplumbingwg/whereabouts at tag v0.9.2 (Go module github.com/k8snetworkplumbingwg/whereabouts
v0.9.2): `doc/crds/whereabouts.cni.cncf.io_{ippools,overlappingrangeipreservations,nodeslicepools}.yaml`
(the CRDs; descriptions omitted, they do not validate) and `doc/crds/daemonset-install.yaml` (the
ServiceAccount, ClusterRole `whereabouts-cni`, ClusterRoleBinding, ConfigMap `whereabouts-config` and
DaemonSet). In v0.9.x the ip-reconciler is no CronJob: the DaemonSet's `ip-control-loop` runs it on
the ConfigMap's schedule. Only the namespace, the image (upstream says `:latest`; we pin the release)
and the schedule come from config; everything else is upstream's.
"""

from __future__ import annotations

from .. import kube
from ..config.addons import WhereaboutsConfig

GROUP = "whereabouts.cni.cncf.io"
VERSION = "v1alpha1"
NAME = "whereabouts"  # ServiceAccount, ClusterRoleBinding, DaemonSet
CLUSTER_ROLE = "whereabouts-cni"
CONFIGMAP = "whereabouts-config"
LABELS = {"tier": "node", "app": "whereabouts"}

_STRING = {"type": "string"}
_OBJECT_META = {"apiVersion": _STRING, "kind": _STRING, "metadata": {"type": "object"}}


def _crd(kind: str, plural: str, schema: dict) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "annotations": {"controller-gen.kubebuilder.io/version": "v0.14.0"}},
        "spec": {
            "group": GROUP,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [{"name": VERSION, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


def _object(properties: dict, required: list[str] | None = None) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def ippools_crd() -> dict:
    allocation = _object({"id": _STRING, "ifname": _STRING, "podref": _STRING}, ["id", "podref"])
    spec = _object({"allocations": {"type": "object", "additionalProperties": allocation}, "range": _STRING}, ["allocations", "range"])
    return _crd("IPPool", "ippools", _object({**_OBJECT_META, "spec": spec}))


def overlapping_reservations_crd() -> dict:
    spec = _object({"containerid": _STRING, "ifname": _STRING, "podref": _STRING}, ["podref"])
    return _crd("OverlappingRangeIPReservation", "overlappingrangeipreservations", _object({**_OBJECT_META, "spec": spec}, ["spec"]))


def node_slice_pools_crd() -> dict:
    spec = _object({"range": _STRING, "sliceSize": _STRING}, ["range", "sliceSize"])
    slice_ = _object({"nodeName": _STRING, "sliceRange": _STRING}, ["nodeName", "sliceRange"])
    status = _object({"allocations": {"type": "array", "items": slice_}}, ["allocations"])
    return _crd("NodeSlicePool", "nodeslicepools", _object({**_OBJECT_META, "spec": spec, "status": status}))


def service_account(cfg: WhereaboutsConfig) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": cfg.namespace}}


def cluster_role() -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": CLUSTER_ROLE},
        "rules": [
            {"apiGroups": [GROUP], "resources": ["ippools", "overlappingrangeipreservations", "nodeslicepools"],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch", "get"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["k8s.cni.cncf.io"], "resources": ["network-attachment-definitions"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update", "get"]},
        ],
    }


def cluster_role_binding(cfg: WhereaboutsConfig) -> dict:
    return kube.cluster_role_binding(NAME, CLUSTER_ROLE, NAME, cfg.namespace)


def config_map(cfg: WhereaboutsConfig) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP, "namespace": cfg.namespace,
                     "annotations": {"kubernetes.io/description": "Configmap containing user customizable cronjob schedule\n"}},
        "data": {"cron-expression": cfg.reconcilerSchedule},
    }


# The container's script, upstream's: install the plugin, its kubeconfig and flat config
# (/etc/cni/net.d/whereabouts.d/), keep the token fresh, run the control loop (ip-reconciler).
_SCRIPT = "SLEEP=false source /install-cni.sh\n/token-watcher.sh &\n/ip-control-loop -log-level debug\n"


def daemonset(cfg: WhereaboutsConfig) -> dict:
    container = {
        "name": "whereabouts",
        "command": ["/bin/sh"],
        "args": ["-c", _SCRIPT],
        "image": cfg.image,
        "env": [
            {"name": "NODENAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
            {"name": "WHEREABOUTS_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"cpu": "100m", "memory": "200Mi"}},
        "securityContext": {"privileged": True},
        "volumeMounts": [
            {"name": "cnibin", "mountPath": "/host/opt/cni/bin"},
            {"name": "cni-net-dir", "mountPath": "/host/etc/cni/net.d"},
            {"name": "cron-scheduler-configmap", "mountPath": "/cron-schedule"},
        ],
    }
    return kube.daemonset(NAME, cfg.namespace, LABELS, {**LABELS, "name": NAME}, {
        "hostNetwork": True,
        "serviceAccountName": NAME,
        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
        "containers": [container],
        "volumes": [
            {"name": "cnibin", "hostPath": {"path": "/opt/cni/bin"}},
            {"name": "cni-net-dir", "hostPath": {"path": "/etc/cni/net.d"}},
            {"name": "cron-scheduler-configmap", "configMap": {
                "name": CONFIGMAP, "defaultMode": 0o744, "items": [{"key": "cron-expression", "path": "config"}]}},
        ],
    })


CRD_ROLES = ("crd-ippools", "crd-overlappingrangeipreservations", "crd-nodeslicepools")


def objects(cfg: WhereaboutsConfig) -> dict[str, dict]:
    """Every upstream object, keyed by its role (the suffix of its Pulumi name)."""
    return {
        "crd-ippools": ippools_crd(),
        "crd-overlappingrangeipreservations": overlapping_reservations_crd(),
        "crd-nodeslicepools": node_slice_pools_crd(),
        "service-account": service_account(cfg),
        "cluster-role": cluster_role(),
        "cluster-role-binding": cluster_role_binding(cfg),
        "config": config_map(cfg),
        "daemonset": daemonset(cfg),
    }
