"""The node-cleanup DaemonSet and the least privilege its report needs.

The command creates these objects itself (they are not part of the stack) and deletes them when
it is done. Each pod runs `node_cleanup.py` on its node and reports with one JSON merge patch of
its node's key in one ConfigMap; its ServiceAccount may `patch` that ConfigMap, by name, and
nothing else. Why that channel: annotating its own Pod would need `patch` on every pod of the
namespace (RBAC cannot say "only your own pod"), which lets a pod change other pods' images;
Events need `create` on any Event. A pod can at worst overwrite another node's key, which the
command cross-checks (the report names the pod; it must be this DaemonSet's pod on that node).
"""

from __future__ import annotations

from pathlib import Path

# kube-system always exists, also once the stack (and its Multus namespace setting) is gone.
NAMESPACE = "kube-system"
NAME = "multus-node-cleanup"  # ServiceAccount, Role, RoleBinding, script ConfigMap, DaemonSet
REPORT = "multus-node-cleanup-report"
LABELS = {"app": NAME}
# Python 3 for the standard-library-only script (the Multus images have none: the thin one is
# distroless, the thick one debian:stable-slim; multus-cni v4.3.0 images/Dockerfile*). The official
# Python image (docker-library/python) at a fixed, released tag; `--cleanup-image` takes a mirror
# of it or the same by digest.
IMAGE = "docker.io/library/python:3.13.5-alpine3.22"
SCRIPT = Path(__file__).with_name("node_cleanup.py")
# The host directories the script works in, mounted below /host: the CNI dirs, and the thick
# daemon's socket dir alone, never all of /run, where a root process would reach the container
# runtime's and the kubelet's sockets. /run/multus is created where it is missing (thin nodes):
# "Directory" would keep the pod from starting there, and it would never report.
HOST_DIRS = (("cni-conf", "/etc/cni/net.d", "Directory"), ("cni-bin", "/opt/cni/bin", "Directory"),
             ("multus-run", "/run/multus", "DirectoryOrCreate"))


def service_account(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)}}


def role(namespace: str) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [REPORT], "verbs": ["patch"]}],
    }


def role_binding(namespace: str) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
    }


def script_config_map(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
            "data": {SCRIPT.name: SCRIPT.read_text()}}


def report_config_map(namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": REPORT, "namespace": namespace, "labels": dict(LABELS)},
            "data": {}}


def daemonset(namespace: str, image: str = IMAGE) -> dict:
    env = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "REPORT_NAMESPACE", "value": namespace},
        {"name": "REPORT_CONFIGMAP", "value": REPORT},
    ]
    mounts = [{"name": volume, "mountPath": f"/host{path}"} for volume, path, _ in HOST_DIRS]
    mounts.append({"name": "script", "mountPath": "/cleanup", "readOnly": True})
    volumes = [{"name": volume, "hostPath": {"path": path, "type": kind}} for volume, path, kind in HOST_DIRS]
    volumes.append({"name": "script", "configMap": {"name": NAME}})
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(LABELS)},
        "spec": {
            "selector": {"matchLabels": dict(LABELS)},
            "template": {"metadata": {"labels": dict(LABELS)}, "spec": {
                # Host network: the pod needs no CNI, so it starts even where 00-multus.conf is broken.
                "hostNetwork": True,
                "serviceAccountName": NAME,
                "tolerations": [{"operator": "Exists"}],  # every node Multus may have run on
                "priorityClassName": "system-node-critical",  # built in; a full node still runs it
                "terminationGracePeriodSeconds": 5,
                "containers": [{
                    "name": "cleanup",
                    "image": image,
                    "command": ["python3", f"/cleanup/{SCRIPT.name}", "--root", "/host", "--stay"],
                    "env": env,
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                    # root for root-owned host dirs, without any capability or escalation.
                    "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": mounts,
                }],
                "volumes": volumes,
            }},
        },
    }


def objects(namespace: str, image: str = IMAGE) -> list[dict]:
    """In creation order (the DaemonSet last); deleted in the reverse order."""
    return [service_account(namespace), role(namespace), role_binding(namespace), script_config_map(namespace),
            report_config_map(namespace), daemonset(namespace, image)]
