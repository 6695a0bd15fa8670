"""The data path kwok leaves out: what the kubelet and the container runtime do for each pod, with
the real Multus thin plugin and the real reference plugins (test code, not product code).

For each Running pod on a fake node the harness creates the pod's network namespace and runs the
toolchain's `multus` binary with `CNI_COMMAND=ADD`, the pod's `K8S_POD_NAMESPACE/NAME/UID` in
`CNI_ARGS`, and the config `thin_entrypoint` would write on that node (`00-multus.conflist`: the
kubeconfig, and the node's primary network, ptp + host-local, as its one delegate). Multus reads the
pod and its NADs from the API server, runs the plugins and writes network-status back to the pod,
authenticated as the `multus` ServiceAccount with a TokenRequest token: the ClusterRole this project
renders is what is exercised, never the admin kubeconfig.

Where things happen, so nothing touches this machine's own network or files:
- a "node" namespace per fake node, holding a veth `eth0` (the NADs' macvlan `master`), and any
  host-device stand-ins asked for; multus and its plugins run inside it (`ip netns exec`), so a
  `master` or `device` name resolves there, never to this machine's interfaces;
- the API server listens on this machine's loopback, which a node namespace cannot reach: a relay in
  this process listens on the node namespace's 127.0.0.1 at the API server's port and copies bytes to
  the real one (TLS end to end, the server's certificate and the token checked as usual);
- the plugins' state (`/var/lib/cni`: host-local's leases, Multus' delegate cache) is a temp dir
  bind-mounted over /var/lib in a private mount namespace of each plugin run;
- no traffic is sent: nothing here opens a socket in a pod namespace.

`close()` runs DEL for every attachment, then deletes every namespace (their links go with them),
stops the relays and removes the temp dirs, also after a failure.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlparse

import yaml

NETNS_DIR = Path("/var/run/netns")
PREFIX = "multus-dp-"
CNI_PATH = os.environ.get("CNI_PATH", "/usr/lib/cni")
TIMEOUT = 90
NETWORKS = "k8s.v1.cni.cncf.io/networks"
CLONE_NEWNET = 0x40000000
_serial = itertools.count(1)
_libc = ctypes.CDLL(None, use_errno=True)


class HarnessError(AssertionError):
    pass


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=TIMEOUT)
    if check and done.returncode:
        raise HarnessError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def ip_json(netns: str, *args: str) -> list[dict]:
    return json.loads(ip("-j", "-n", netns, *args).stdout or "[]")


def leftovers() -> list[str]:
    """Namespaces of this harness that still exist (any process's)."""
    return sorted(p.name for p in NETNS_DIR.glob(f"{PREFIX}*")) if NETNS_DIR.is_dir() else []


class Relay:
    """127.0.0.1:PORT inside a namespace, copied to 127.0.0.1:PORT of this machine (the API server)."""

    def __init__(self, netns: str, port: int):
        self.port = port
        self.sockets: list[socket.socket] = []
        self.listener = self._listen_in(NETNS_DIR / netns, port)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _listen_in(path: Path, port: int) -> socket.socket:
        out: dict[str, Any] = {}

        def work() -> None:  # setns changes this thread only, and the thread ends here
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET):
                        raise OSError(ctypes.get_errno(), f"setns {path}")
                finally:
                    os.close(fd)
                listener = socket.socket()
                listener.bind(("127.0.0.1", port))
                listener.listen(64)
                out["socket"] = listener
            except BaseException as exc:  # handed to the caller
                out["error"] = exc

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        if "error" in out:
            raise out["error"]
        return out["socket"]

    def _serve(self) -> None:
        while True:
            try:
                inner, _ = self.listener.accept()
            except OSError:
                return
            try:
                outer = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                outer.settimeout(None)
            except OSError:
                inner.close()
                continue
            self.sockets += [inner, outer]
            for a, b in ((inner, outer), (outer, inner)):
                threading.Thread(target=self._copy, args=(a, b), daemon=True).start()

    @staticmethod
    def _copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in self.sockets:
            s.close()
        self.thread.join(timeout=10)


@dataclass
class FakeNode:
    name: str
    netns: str
    state: Path  # bind-mounted over /var/lib for every plugin run on this node
    conflist: Path  # the 00-multus.conflist thin_entrypoint would write
    subnet: str  # the primary network's (ptp + host-local) pool on this node
    links: tuple[str, ...]  # what the harness created in the namespace


@dataclass
class Attachment:
    """One pod the harness ran ADD for: its namespace and what Multus answered."""

    namespace: str
    name: str
    uid: str
    node: FakeNode
    netns: str
    container: str
    result: dict = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    deleted: bool = False

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def links(self) -> dict[str, dict]:
        """Each interface of the pod namespace as `ip -d -j addr` shows it, by name."""
        return {link["ifname"]: link for link in ip_json(self.netns, "-d", "addr", "show")}

    def routes(self) -> list[dict]:
        return ip_json(self.netns, "route", "show")


class DataPath:
    """The kubelet's and the runtime's CNI calls for a cluster's pods; `close()` undoes all of it."""

    def __init__(self, cluster, workdir: Path, multus_namespace: str = "kube-system",
                 host_devices: Iterable[str] = (), service_account: str = "multus"):
        self.cluster = cluster
        self.workdir = Path(tempfile.mkdtemp(prefix=PREFIX, dir=workdir))
        self.host_devices = tuple(host_devices)
        self.multus = shutil.which("multus", path=cluster.env.get("PATH"))
        if not self.multus:
            raise HarnessError("the toolchain has no multus binary: run `make toolchain`")
        self.nodes: dict[str, FakeNode] = {}
        self.relays: list[Relay] = []
        self.namespaces: list[str] = []
        self.attached: list[Attachment] = []
        admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
        self.server = admin["clusters"][0]["cluster"]["server"]
        self.ca = admin["clusters"][0]["cluster"]["certificate-authority"]
        self.port = urlparse(self.server).port
        self.kubeconfig = self._service_account_kubeconfig(multus_namespace, service_account)

    # --- setup ------------------------------------------------------------------------------------

    def _service_account_kubeconfig(self, namespace: str, account: str) -> Path:
        """The multus ServiceAccount's identity, from the TokenRequest API (what the SA token mount gives
        the DaemonSet's pod, and thin_entrypoint writes into multus.d/multus.kubeconfig)."""
        token = self.cluster.kubectl("create", "token", account, "-n", namespace, "--duration", "1h").stdout.strip()
        path = self.workdir / "multus.kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "multus",
            "clusters": [{"name": "local", "cluster": {"server": self.server, "certificate-authority": self.ca}}],
            "users": [{"name": "multus", "user": {"token": token}}],
            "contexts": [{"name": "multus", "context": {"cluster": "local", "user": "multus"}}],
        }))
        path.chmod(0o600)
        return path

    def _netns(self, role: str) -> str:
        name = f"{PREFIX}{os.getpid()}-{next(_serial)}-{role}"
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def node(self, name: str) -> FakeNode:
        if name in self.nodes:
            return self.nodes[name]
        index = len(self.nodes)
        netns = self._netns("node")
        links = []
        for ifname in ("eth0", *self.host_devices):
            peer = f"{ifname[:11]}peer"
            ip("-n", netns, "link", "add", ifname, "type", "veth", "peer", "name", peer)
            for end in (ifname, peer):
                ip("-n", netns, "link", "set", end, "up")
            links += [ifname, peer]
        ip("-n", netns, "route", "add", "default", "dev", "eth0")  # the node's uplink, inside its namespace
        self.relays.append(Relay(netns, self.port))
        state = self.workdir / f"node{index}"
        (state / "cni").mkdir(parents=True)
        subnet = f"10.244.{index}.0/24"
        primary = {"cniVersion": "1.0.0", "name": "kwok-pod-network", "plugins": [
            {"type": "ptp", "ipMasq": False, "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                                                      "routes": [{"dst": "0.0.0.0/0"}]}}]}
        # thin_entrypoint's multusConflistTemplate (cniVersion >= 1.0.0), no optional flags set.
        conflist = {"cniVersion": "1.0.0", "name": "multus-cni-network", "plugins": [
            {"type": "multus", "logLevel": "debug", "kubeconfig": str(self.kubeconfig), "delegates": [primary]}]}
        path = state / "00-multus.conflist"
        path.write_text(json.dumps(conflist, indent=2))
        made = FakeNode(name, netns, state, path, subnet, tuple(links))
        self.nodes[name] = made
        return made

    # --- CNI calls --------------------------------------------------------------------------------

    def _multus(self, command: str, att: Attachment) -> tuple[dict, str]:
        """One multus run as libcni runs a conflist's plugin: name and cniVersion injected."""
        conflist = json.loads(att.node.conflist.read_text())
        conf = {"cniVersion": conflist["cniVersion"], "name": conflist["name"], **conflist["plugins"][0]}
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command, "CNI_CONTAINERID": att.container, "CNI_NETNS": str(NETNS_DIR / att.netns),
            "CNI_IFNAME": "eth0", "CNI_PATH": CNI_PATH,
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={att.namespace};K8S_POD_NAME={att.name};"
                        f"K8S_POD_INFRA_CONTAINER_ID={att.container};K8S_POD_UID={att.uid}",
        }
        script = 'mount --bind "$1" /var/lib && shift && exec "$@"'
        done = subprocess.run(["ip", "netns", "exec", att.node.netns, "unshare", "--mount", "--propagation", "private",
                               "sh", "-c", script, "sh", str(att.node.state), self.multus],
                              input=json.dumps(conf), env=env, capture_output=True, text=True, timeout=TIMEOUT)
        if done.returncode:
            raise HarnessError(f"multus {command} for pod {att.ref} on {att.node.name} failed (exit {done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr[-3000:]}")
        return (json.loads(done.stdout) if done.stdout.strip() else {}), done.stderr

    def attach(self, pod: Mapping[str, Any], skip: Iterable[str] = ()) -> Attachment:
        """ADD for one pod. `skip`: network names left out of this attachment, as if the pod's
        networks annotation had not named them when it was created (the annotation is edited for
        the ADD and put back right after, so the pod declares what its config says)."""
        meta = pod["metadata"]
        att = Attachment(meta["namespace"], meta["name"], meta["uid"], self.node(pod["spec"]["nodeName"]),
                         self._netns("pod"), uuid.uuid4().hex, skipped=tuple(skip))
        self.attached.append(att)
        original = (meta.get("annotations") or {}).get(NETWORKS)
        if att.skipped:
            self._annotate(att, _without(original, att.skipped))
        try:
            att.result, _ = self._multus("ADD", att)
        finally:
            if att.skipped:
                self._annotate(att, original)
        return att

    def _annotate(self, att: Attachment, value: Optional[str]) -> None:
        patch = {"metadata": {"annotations": {NETWORKS: value}}}
        self.cluster.kubectl("patch", "pod", "-n", att.namespace, att.name, "--type", "merge", "-p", json.dumps(patch))

    def running_pods(self) -> list[dict]:
        """Pods a kubelet would call CNI for: Running, on a node, not on the host network."""
        nodes = {n["metadata"]["name"] for n in self.cluster.get("nodes")["items"]}
        pods = self.cluster.get("pods", "-A")["items"]
        return sorted((p for p in pods if p["status"].get("phase") == "Running" and p["spec"].get("nodeName") in nodes
                       and not p["spec"].get("hostNetwork") and not p["metadata"].get("deletionTimestamp")),
                      key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]))

    def attach_running(self, skip: Mapping[str, Iterable[str]] | None = None) -> list[Attachment]:
        """ADD for every Running pod; `skip` maps `namespace/name` to networks to leave out."""
        skip = skip or {}
        return [self.attach(pod, skip.get(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}", ()))
                for pod in self.running_pods()]

    def detach(self, att: Attachment) -> None:
        if not att.deleted:
            att.deleted = True
            self._multus("DEL", att)

    def close(self) -> None:
        """DEL every attachment, then remove every namespace, relay and temp dir; raises the first
        DEL failure after all the cleanup is done."""
        failures = []
        for att in reversed(self.attached):
            try:
                self.detach(att)
            except Exception as exc:  # keep cleaning up; reported below
                failures.append(exc)
        for name in reversed(self.namespaces):
            ip("netns", "delete", name, check=False)
        for relay in self.relays:
            relay.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if failures:
            raise failures[0]


def _without(annotation: Optional[str], names: Iterable[str]) -> str:
    """The networks annotation (comma or JSON form) without the networks named."""
    names = set(names)
    text = (annotation or "").strip()
    if text.startswith("["):
        return json.dumps([e for e in json.loads(text) if e.get("name") not in names])
    kept = [part for part in text.split(",") if part.strip().split("@")[0].split("/")[-1] not in names]
    return ",".join(kept)
