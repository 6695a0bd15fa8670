"""The DaemonSet that puts the reference CNI plugins on every node.

An init container (the plugins image, privileged: it writes the host's /opt/cni/bin) copies each
listed plugin, then the pod only keeps running (the pause image, unprivileged, no mounts), so a
node that joins later gets the plugins when its pod starts. Each binary is copied to a temporary
name and renamed over the old one: a rename is atomic, so a runtime calling the plugin meanwhile
never runs a half-written file (the race Multus fixed in v4.2.3, multus-cni#1221).
"""

from __future__ import annotations

from .. import kube
from ..config.addons import CniPluginsConfig

DAEMONSET = "cni-plugins"
LABELS = {"tier": "node", "app": "cni-plugins", "name": "cni-plugins"}
HOST_BIN = "/host/opt/cni/bin"
# rancher/hardened-cni-plugins keeps the plugins in /opt/cni/bin (its Dockerfile's `install -D bin/* /opt/cni/bin`).
IMAGE_BIN = "/opt/cni/bin"

_COPY = (
    'set -eu\n'
    'for plugin in "$@"; do\n'
    f'  cp -f "{IMAGE_BIN}/$plugin" "{HOST_BIN}/.$plugin.tmp"\n'
    f'  mv -f "{HOST_BIN}/.$plugin.tmp" "{HOST_BIN}/$plugin"\n'
    f'  echo "installed $plugin"\n'
    'done\n'
)


def daemonset(cfg: CniPluginsConfig) -> dict:
    install = {
        "name": "install-cni-plugins",
        "image": cfg.image,
        "command": ["/bin/sh", "-c", _COPY, "install-cni-plugins", *cfg.plugins],
        "resources": {"requests": {"cpu": "10m", "memory": "15Mi"}},
        "securityContext": {"privileged": True},
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": "cnibin", "mountPath": HOST_BIN}],
    }
    pause = {
        "name": "pause",
        "image": cfg.pauseImage,
        "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"memory": "16Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 65535,
        },
    }
    return kube.daemonset(DAEMONSET, cfg.namespace, LABELS, LABELS, {
        # On the host network, as Multus: the pod must start on a node whose pod network is not ready
        # yet (its primary CNI may itself be one of these plugins), and it needs no address.
        "hostNetwork": True,
        # Every node that runs pods needs the plugins, tainted or not (as Multus tolerates).
        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "automountServiceAccountToken": False,
        "initContainers": [install],
        "containers": [pause],
        "terminationGracePeriodSeconds": 10,
        "volumes": [{"name": "cnibin", "hostPath": {"path": "/opt/cni/bin", "type": "DirectoryOrCreate"}}],
    })


def objects(cfg: CniPluginsConfig) -> dict[str, dict]:
    return {"daemonset": daemonset(cfg)}
