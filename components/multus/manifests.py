"""The Kubernetes objects of upstream Multus, as manifests built from validated config.

Source: k8snetworkplumbingwg/multus-cni at tag v4.3.0, `deployments/multus-daemonset.yml`
(thin) and `deployments/multus-daemonset-thick.yml` (thick); the v3 layout follows
`images/multus-daemonset.yml` at v3.7.1/v3.8 (`/entrypoint.sh`), and for v3.9.x tags
`deployments/multus-daemonset.yml` at v3.9.3 (a NoExecute toleration, an init container that
copies the binary). The image, the namespace, the thin arguments, the containers' resources and
the readiness indicator come from config; everything else is upstream's, except three defaults that
keep an install working long after day 1 (docs/operations.md "Keeping Multus healthy"): thin args
that refresh the node's credentials, Guaranteed QoS, and the thick daemon's memory.
"""

from __future__ import annotations

import json
from typing import Any

from .. import kube
from ..annotations import NAD_API_VERSION, NAD_CRD_NAME, NAD_GROUP, NAD_KIND
from ..config import MultusConfig
from ..config.multus_health import REFRESH_FLAG

NAME = "multus"  # ServiceAccount, ClusterRole and ClusterRoleBinding
DAEMONSET = "kube-multus-ds"
LABELS = {"tier": "node", "app": "multus", "name": "multus"}
CONFIGMAP_LABELS = {"tier": "node", "app": "multus"}
DAEMONSET_SELECTOR = {"name": LABELS["name"]}  # upstream's selector, every layout

# Upstream's thin args (thin_entrypoint reads the primary CNI conf and writes 00-multus.conf there).
# No --cni-version: v4 inherits the primary CNI's (multus-cni#1060).
UPSTREAM_THIN_ARGS = ("--multus-conf-file=auto", "--multus-autoconfig-dir=/host/etc/cni/net.d", "--cni-conf-dir=/host/etc/cni/net.d")
# Ours add the refresh flag: Multus v4.3.0 cmd/thin_entrypoint/main.go rewrites the node kubeconfig from
# the rotated token only in its watch loop (`watchChanges := opt.CleanupConfigOnExit && opt.MultusConfFile
# == "auto" && !opt.SkipMultusConfWatch`). It also deletes 00-multus.conf(list) when the container stops.
THIN_ARGS = (*UPSTREAM_THIN_ARGS, REFRESH_FLAG)
# The thick daemon sees the node's / at /hostroot (the `hostroot` volume).
HOSTROOT = "/hostroot"
# v3 /entrypoint.sh defaults as upstream v3.7.1 shipped them.
V3_ARGS = ("--multus-conf-file=auto", "--cni-version=0.3.1")

_DESCRIPTION = (
    "NetworkAttachmentDefinition is a CRD schema specified by the Network Plumbing Working Group to "
    "express the intent for attaching pods to one or more logical or physical networks. More "
    "information available at: https://github.com/k8snetworkplumbingwg/multi-net-spec"
)

# The sample conf upstream ships in multus-cni-config, as upstream's text byte for byte (v4.3.0
# deployments/multus-daemonset.yml, its indentation included), so a ConfigMap applied from that file is
# adopted unchanged: the provider replaces a ConfigMap whose data differs. Only read with
# --multus-conf-file=/tmp/multus-conf/70-multus.conf, ignored with `auto`.
SAMPLE_CNI_CONF_TEXT = """{
  "name": "multus-cni-network",
  "type": "multus",
  "capabilities": {
    "portMappings": true
  },
  "delegates": [
    {
      "cniVersion": "0.3.1",
      "name": "default-cni-network",
      "plugins": [
        {
          "type": "flannel",
          "name": "flannel.1",
            "delegate": {
              "isDefaultGateway": true,
              "hairpinMode": true
            }
          },
          {
            "type": "portmap",
            "capabilities": {
              "portMappings": true
            }
          }
      ]
    }
  ],
  "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig"
}
"""

# Thick daemon settings, upstream's multus-daemon-config ConfigMap verbatim, in its key order: rendered
# with `daemon_config_text` it is upstream's text byte for byte (see SAMPLE_CNI_CONF_TEXT for why).
_DAEMON_CONFIG = {
    "chrootDir": "/hostroot",
    "cniVersion": "0.3.1",
    "logLevel": "verbose",
    "logToStderr": True,
    "cniConfigDir": "/host/etc/cni/net.d",
    "multusAutoconfigDir": "/host/etc/cni/net.d",
    "multusConfigFile": "auto",
    "socketDir": "/host/run/multus/",
}


def crd() -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": NAD_CRD_NAME},
        "spec": {
            "group": NAD_GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": "network-attachment-definitions",
                "singular": "network-attachment-definition",
                "kind": NAD_KIND,
                "shortNames": ["nad", "net-attach-def"],
            },
            "versions": [{
                "name": NAD_API_VERSION.split("/")[1],
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": nad_schema()},
            }],
        },
    }


# The descriptions of apiVersion and kind, upstream's text as its YAML folds it (the space in
# "represen tation" included): without them the first `pulumi up` of an adopted CRD would delete
# them, since the provider takes over what `kubectl apply` wrote (a CRD update, generation + 1).
_API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this represen tation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this "
    "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


def nad_schema() -> dict:
    """The NAD openAPIV3Schema, upstream's (v4.3.0 deployments/multus-daemonset.yml, thin and thick alike)."""
    return {
        "description": _DESCRIPTION,
        "type": "object",
        "properties": {
            "apiVersion": {"description": _API_VERSION_DESCRIPTION, "type": "string"},
            "kind": {"description": _KIND_DESCRIPTION, "type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "description": "NetworkAttachmentDefinition spec defines the desired state of a network attachment",
                "type": "object",
                "properties": {
                    "config": {
                        "description": "NetworkAttachmentDefinition config is a JSON-formatted CNI configuration",
                        "type": "string",
                    },
                },
            },
        },
    }


def cluster_role(cfg: MultusConfig) -> dict:
    # v4.3.0: thin reads and updates pods only; thick also lists and watches them.
    # (resource.k8s.io rules exist only on master, for DRA, in no release yet.)
    pod_verbs = ["get", "list", "update", "watch"] if cfg.layout == "thick" else ["get", "update"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": NAME},
        "rules": [
            {"apiGroups": [NAD_GROUP], "resources": ["*"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["pods", "pods/status"], "verbs": pod_verbs},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
        ],
    }


def cluster_role_binding(cfg: MultusConfig) -> dict:
    return kube.cluster_role_binding(NAME, NAME, NAME, cfg.namespace)


def service_account(cfg: MultusConfig) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": cfg.namespace}}


def daemon_config(cfg: MultusConfig) -> dict:
    """The thick daemon's settings: upstream's, plus the readiness indicator as the daemon's container
    sees the node's file (the daemon itself waits for it, pkg/server/config/manager.go)."""
    config = dict(_DAEMON_CONFIG)
    if cfg.readinessIndicatorFile:
        config["readinessindicatorfile"] = HOSTROOT + cfg.readinessIndicatorFile
    return config


def thin_args(cfg: MultusConfig) -> list[str]:
    """The thin container's args: the user's or ours, plus the readiness indicator (a node path:
    thin_entrypoint copies it into 00-multus.conf, which the multus binary reads on the node)."""
    args = list(cfg.daemonset.args if cfg.daemonset.args is not None else THIN_ARGS)
    if cfg.readinessIndicatorFile:
        args.append(f"--readiness-indicator-file={cfg.readinessIndicatorFile}")
    return args


def daemon_config_text(cfg: MultusConfig) -> str:
    """Upstream's indentation and key order, the readiness indicator last: the same config always
    gives the same bytes, and upstream's config gives upstream's."""
    return json.dumps(daemon_config(cfg), indent=4) + "\n"


def config_map_role(cfg: MultusConfig) -> str:
    """Each flavor's ConfigMap has its own name, so its own Pulumi resource: a flavor switch creates
    the new one and deletes the superseded one (docs/operations.md "Upgrading Multus")."""
    return "daemon-config" if cfg.layout == "thick" else "config"


def config_map(cfg: MultusConfig) -> dict:
    if cfg.layout == "thick":
        name, data = "multus-daemon-config", {"daemon-config.json": daemon_config_text(cfg)}
    else:
        name, data = "multus-cni-config", {"cni-conf.json": SAMPLE_CNI_CONF_TEXT}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": cfg.namespace, "labels": dict(CONFIGMAP_LABELS)},
        "data": data,
    }


def daemonset(cfg: MultusConfig) -> dict:
    """`minReadySeconds` (multus.minReadySeconds, 5 unless 0): upstream's pods have no readiness probe,
    so Ready means "the container started" and the node's 00-multus.conf comes a moment later; seen on
    the local cluster's real node, the sample pod's sandbox was made 0.1 s before thin_entrypoint wrote
    the file, and got no macvlan. The provider's DaemonSet await waits for available pods."""
    pod_spec = {"thin": _thin_pod, "thick": _thick_pod, "v3": _v3_pod, "v3.9": _v3_pod}[cfg.layout](cfg)
    return kube.daemonset(DAEMONSET, cfg.namespace, LABELS, LABELS, pod_spec, max_unavailable=cfg.maxUnavailable,
                          min_ready_seconds=cfg.minReadySeconds or None)


def objects(cfg: MultusConfig) -> dict[str, dict]:
    """Every upstream object, keyed by its role (the suffix of its Pulumi name)."""
    return {
        "crd": crd(),
        "cluster-role": cluster_role(cfg),
        "cluster-role-binding": cluster_role_binding(cfg),
        "service-account": service_account(cfg),
        config_map_role(cfg): config_map(cfg),
        "daemonset": daemonset(cfg),
    }


def _daemon_resources(cfg: MultusConfig) -> dict:
    return cfg.resources.daemon_for(cfg.runs).as_manifest()


def _init_resources(cfg: MultusConfig) -> dict:
    return cfg.resources.init_for(cfg.runs).as_manifest()


def _host_path(name: str, path: str) -> dict:
    return {"name": name, "hostPath": {"path": path}}


def _mount(name: str, path: str, **extra: Any) -> dict:
    return {"name": name, "mountPath": path, **extra}


_PRIVILEGED = {"privileged": True}
_TOLERATE_ALL = [{"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}]


def _thin_volumes() -> list[dict]:
    return [
        _host_path("cni", "/etc/cni/net.d"),
        _host_path("cnibin", "/opt/cni/bin"),
        {"name": "multus-cfg", "configMap": {"name": "multus-cni-config", "items": [{"key": "cni-conf.json", "path": "70-multus.conf"}]}},
    ]


def _thin_mounts() -> list[dict]:
    return [_mount("cni", "/host/etc/cni/net.d"), _mount("cnibin", "/host/opt/cni/bin"), _mount("multus-cfg", "/tmp/multus-conf")]


def _install_binary(cfg: MultusConfig, command: list[str], args: list[str] | None = None) -> dict:
    # install_multus copies atomically; a plain cp raced with the runtime on reboot (#1221, fixed in v4.2.3).
    container = {
        "name": "install-multus-binary",
        "image": cfg.image_ref,
        "command": command,
        "resources": _init_resources(cfg),
        "securityContext": dict(_PRIVILEGED),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [_mount("cnibin", "/host/opt/cni/bin", mountPropagation="Bidirectional")],
    }
    if args:
        container["args"] = args
    return container


def _thin_pod(cfg: MultusConfig) -> dict:
    return {
        "hostNetwork": True,
        "tolerations": [dict(t) for t in _TOLERATE_ALL],
        "serviceAccountName": NAME,
        "containers": [{
            "name": "kube-multus",
            "image": cfg.image_ref,
            "command": ["/thin_entrypoint"],
            "args": thin_args(cfg),
            "resources": _daemon_resources(cfg),
            "securityContext": dict(_PRIVILEGED),
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "volumeMounts": _thin_mounts(),
        }],
        "initContainers": [_install_binary(cfg, ["/install_multus"], ["--type", "thin"])],
        "terminationGracePeriodSeconds": 10,
        "volumes": _thin_volumes(),
    }


# The thick pod's host paths: volume -> (host path, mount path, propagation); cnibin must be the
# same path inside and out. Mounts and volumes are listed in upstream's orders, which differ (v4.3.0
# deployments/multus-daemonset-thick.yml): server-side apply keeps the applier's order of a keyed
# list, so another order would change the pod template of an adopted DaemonSet and roll every pod.
_THICK_HOST_PATHS = {
    "cni": ("/etc/cni/net.d", "/host/etc/cni/net.d", None),
    "cnibin": ("/opt/cni/bin", "/opt/cni/bin", None),
    "host-run": ("/run", "/host/run", None),
    "host-var-lib-cni-multus": ("/var/lib/cni/multus", "/var/lib/cni/multus", None),
    "host-var-lib-kubelet": ("/var/lib/kubelet", "/var/lib/kubelet", "HostToContainer"),
    "host-run-k8s-cni-cncf-io": ("/run/k8s.cni.cncf.io", "/run/k8s.cni.cncf.io", None),
    "host-run-netns": ("/run/netns/", "/run/netns", "HostToContainer"),
    "hostroot": ("/", "/hostroot", "HostToContainer"),
    "multus-conf-dir": ("/etc/cni/multus/net.d", "/etc/cni/multus/net.d", None),
}
_THICK_MOUNT_ORDER = ("cni", "cnibin", "host-run", "host-var-lib-cni-multus", "host-var-lib-kubelet",
                      "host-run-k8s-cni-cncf-io", "host-run-netns", "multus-daemon-config", "hostroot", "multus-conf-dir")
_THICK_VOLUME_ORDER = ("cni", "cnibin", "hostroot", "multus-daemon-config", "host-run", "host-var-lib-cni-multus",
                       "host-var-lib-kubelet", "host-run-k8s-cni-cncf-io", "host-run-netns", "multus-conf-dir")


def _thick_pod(cfg: MultusConfig) -> dict:
    mounts = {v: _mount(v, m, **({"mountPropagation": p} if p else {})) for v, (_, m, p) in _THICK_HOST_PATHS.items()}
    mounts["multus-daemon-config"] = _mount("multus-daemon-config", "/etc/cni/net.d/multus.d", readOnly=True)
    volumes = {v: _host_path(v, h) for v, (h, _, _) in _THICK_HOST_PATHS.items()}
    volumes["multus-daemon-config"] = {
        "name": "multus-daemon-config",
        "configMap": {"name": "multus-daemon-config", "items": [{"key": "daemon-config.json", "path": "daemon-config.json"}]},
    }
    return {
        "hostNetwork": True,
        "hostPID": True,
        "tolerations": [dict(t) for t in _TOLERATE_ALL],
        "serviceAccountName": NAME,
        "containers": [{
            "name": "kube-multus",
            "image": cfg.image_ref,
            "command": ["/usr/src/multus-cni/bin/multus-daemon"],
            "resources": _daemon_resources(cfg),
            "securityContext": dict(_PRIVILEGED),
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "volumeMounts": [mounts[name] for name in _THICK_MOUNT_ORDER],
            "env": [{"name": "MULTUS_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        }],
        "initContainers": [
            _install_binary(cfg, ["/usr/src/multus-cni/bin/install_multus", "-d", "/host/opt/cni/bin", "-t", "thick"]),
        ],
        "terminationGracePeriodSeconds": 10,
        "volumes": [volumes[name] for name in _THICK_VOLUME_ORDER],
    }


def _v3_pod(cfg: MultusConfig) -> dict:
    v39 = cfg.layout == "v3.9"
    spec = {
        "hostNetwork": True,
        "tolerations": [dict(t) for t in (_TOLERATE_ALL if v39 else _TOLERATE_ALL[:1])],
        "serviceAccountName": NAME,
        "containers": [{
            "name": "kube-multus",
            "image": cfg.image_ref,
            "command": ["/entrypoint.sh"],
            "args": list(cfg.daemonset.args if cfg.daemonset.args is not None else V3_ARGS),
            "resources": _daemon_resources(cfg),
            "securityContext": dict(_PRIVILEGED),
            "volumeMounts": _thin_mounts(),
        }],
        "terminationGracePeriodSeconds": 10,
        "volumes": _thin_volumes(),
    }
    if v39:
        spec["initContainers"] = [{
            "name": "install-multus-binary",
            "image": cfg.image_ref,
            "command": ["cp", "/usr/src/multus-cni/bin/multus", "/host/opt/cni/bin/multus"],
            "resources": _init_resources(cfg),
            "securityContext": dict(_PRIVILEGED),
            "volumeMounts": [_mount("cnibin", "/host/opt/cni/bin", mountPropagation="Bidirectional")],
        }]
    if cfg.is_nfvpe_image:
        # docker.io/nfvpe/multus tags were per architecture; the plain tag is amd64 only.
        spec["nodeSelector"] = {"kubernetes.io/arch": "amd64"}
    return spec
