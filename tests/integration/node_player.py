"""What a node would do with the decommission's cleanup pod, on kwok nodes that run no container
(test code, not product code).

For each Running pod of the node-cleanup DaemonSet, the player runs the pod's own command: the
script from the cluster's ConfigMap (what the pod mounts at /cleanup), with `/host` mapped to a
temporary "node root" directory tree of that node, the pod's environment resolved as the kubelet
does (its node and pod name from the field references) and the in-cluster credentials a pod gets:
a TokenRequest token of the cleanup ServiceAccount bound to that pod, and the cluster's CA. So the
script, the RBAC and the API server are real; only the container runtime is played. `--stay`
(keep the pod running) is left out: the played process ends after its report.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import urlparse

import yaml

from multus_cni_cli.decommission import daemonset

# A node as Multus v4.3.0 leaves it (thin and thick files both), beside what must stay.
MULTUS_FILES = ("etc/cni/net.d/00-multus.conf", "etc/cni/net.d/00-multus.conflist", "etc/cni/net.d/multus.d/multus.kubeconfig",
                "opt/cni/bin/multus", "opt/cni/bin/multus-shim", "run/multus/multus.sock")
KEPT_FILES = ("etc/cni/net.d/10-kwok-pod-network.conflist", "etc/cni/net.d/99-loopback.conf", "opt/cni/bin/macvlan",
              "opt/cni/bin/host-local", "opt/cni/bin/passthru", "run/containerd/containerd.sock")


def node_tree(root: Path) -> Path:
    for name in MULTUS_FILES + KEPT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"{name}\n")
    return root


def files_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


class NodePlayer:
    """Plays the cleanup pods of `nodes` (node name -> its root) in a thread until `close()`; not
    those of `only` other nodes, nor the pods whose uids are in `skip` (a node that comes back only
    after they were replaced)."""

    def __init__(self, cluster, nodes: dict[str, Path], workdir: Path, only: Optional[Iterable[str]] = None,
                 skip: Iterable[str] = ()):
        self.cluster, self.nodes, self.workdir = cluster, nodes, workdir
        self.only = set(only) if only is not None else set(nodes)
        self.skip = set(skip)
        self.played: dict[str, str] = {}  # pod uid -> node
        self.outputs: list[str] = []
        self.errors: list[str] = []
        admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())["clusters"][0]["cluster"]
        self.ca, server = admin["certificate-authority"], urlparse(admin["server"])
        self.host, self.port = server.hostname, str(server.port)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(0.5):
            try:
                pods = self.cluster.get("pods", "-n", daemonset.NAMESPACE, "-l", f"app={daemonset.NAME}")["items"]
                for pod in pods:
                    node, uid = pod["spec"].get("nodeName"), pod["metadata"]["uid"]
                    if (pod["status"].get("phase") == "Running" and node in self.only and uid not in self.played
                            and uid not in self.skip and not pod["metadata"].get("deletionTimestamp")):
                        self.played[uid] = node
                        self._play(pod)
            except Exception as exc:  # reported by close()
                self.errors.append(repr(exc))

    def _play(self, pod: dict) -> None:
        meta, node = pod["metadata"], pod["spec"]["nodeName"]
        scratch = self.workdir / meta["name"]
        account, scripts = scratch / "serviceaccount", scratch / "cleanup"
        account.mkdir(parents=True)
        scripts.mkdir()
        token = self.cluster.kubectl("create", "token", pod["spec"]["serviceAccountName"], "-n", meta["namespace"],
                                     "--bound-object-kind", "Pod", "--bound-object-name", meta["name"],
                                     "--bound-object-uid", meta["uid"], "--duration", "10m").stdout.strip()
        (account / "token").write_text(token)
        (account / "ca.crt").write_text(Path(self.ca).read_text())
        volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "script")
        script_map = self.cluster.get("configmap", "-n", meta["namespace"], volume["configMap"]["name"])
        for key, text in script_map["data"].items():
            (scripts / key).write_text(text)
        container = pod["spec"]["containers"][0]
        env = {"KUBERNETES_SERVICE_HOST": self.host, "KUBERNETES_SERVICE_PORT": self.port,
               "SERVICE_ACCOUNT_DIR": str(account), "PATH": "/usr/bin:/bin"}
        fields = {"spec.nodeName": node, "metadata.name": meta["name"]}
        for item in container.get("env", []):
            env[item["name"]] = item["value"] if "value" in item else fields[item["valueFrom"]["fieldRef"]["fieldPath"]]
        mounts = {"/cleanup": str(scripts), "/host": str(self.nodes[node])}
        argv = [sys.executable] + [self._map(arg, mounts) for arg in container["command"][1:] if arg != "--stay"]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        self.outputs.append(f"{node}: exit {done.returncode}: {done.stdout.strip()} {done.stderr.strip()}")

    @staticmethod
    def _map(arg: str, mounts: dict[str, str]) -> str:
        for inside, outside in mounts.items():
            if arg == inside or arg.startswith(inside + "/"):
                return outside + arg[len(inside):]
        return arg

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)
