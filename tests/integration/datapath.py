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

The thick flavor (`flavor="thick"`): per node, the real `multus-daemon` runs as a local process in
the node namespace, with the Multus component's own `multus-daemon-config` ConfigMap (paths moved to
the node's temp dir, no chroot) and the in-cluster credentials a pod of the DaemonSet gets: the
TokenRequest token and the CA under /var/run/secrets/kubernetes.io/serviceaccount (a temp dir
bind-mounted over /var in its private mount namespace) and KUBERNETES_SERVICE_HOST/PORT. It writes
`00-multus.conflist` (type `multus-shim`) itself; the harness runs the real `multus-shim` with that
config, and the shim hands the request to the daemon over its unix socket.

The thin DaemonSet's own entrypoint (`entrypoint_args=ARGS`, thin only): per node, the real
`thin_entrypoint` runs as a local process in the node namespace with ARGS (the DaemonSet's, read
back from the cluster, or any others) and the pod's credentials as for thick. The node's file system
is a temp dir that the container would see at /host: path flags are appended with their values moved
there (pflag keeps the last), so `thin_entrypoint` copies the multus binary, writes the kubeconfig
from the token file and generates `00-multus.conflist` from the node's primary conf itself; every ADD
then runs the multus binary it copied, with the config it wrote. `bound_tokens=True` gives each node
a TokenRequest token bound to the Multus DaemonSet's pod object on that node, as the kubelet's
projected token is; `rotate_token` writes a new one as the kubelet does on rotation.

Upgrades (`version=`, `update_multus`): a DataPath can start its nodes on an older Multus release
(the thin `multus-<version>` binaries of the toolchain's multus_old part, each built from its own
module version) with the config that release's entrypoint writes (v3's /entrypoint.sh: a
`00-multus.conf` at `--cni-version=0.3.1`; v4's thin_entrypoint: the primary's cniVersion, a
`.conflist` from 1.0.0 on). `update_multus(flavor=, version=)` then does what a rolling update of the
DaemonSet does on each node: the old pod's daemon and config go, the new one's come (thin or thick),
and the node's /var/lib (host-local's leases, Multus' delegate cache in /var/lib/cni/multus, shared
by both flavors as on a node) stays, so pods ADDed by the old Multus are DELeted by the new one.

whereabouts (`whereabouts=NAMESPACE`): the toolchain's real whereabouts binary is the IPAM plugin of
networks that name it, configured as its DaemonSet configures a node (`_install_whereabouts`), so it
allocates from IPPool objects in the API server as the whereabouts ServiceAccount the stack installed
(thin: each plugin run; thick: the daemon, which runs the plugins, sees the same /etc overlay).

`close()` runs DEL for every attachment, then stops the daemons, deletes every namespace (their links
go with them), stops the relays and removes the temp dirs, also after a failure.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence
from urllib.parse import urlparse

import yaml

from components.config.multus_health import thin_flags
from components.multus.manifests import HOSTROOT, V3_ARGS

NETNS_DIR = Path("/run/netns")  # where `ip netns add` puts them (/var/run links here)
PREFIX = "multus-dp-"
CNI_PATH = os.environ.get("CNI_PATH", "/usr/lib/cni")
TIMEOUT = 90
NETWORKS = "k8s.v1.cni.cncf.io/networks"
WHEREABOUTS_D = Path("/etc/cni/net.d/whereabouts.d")  # where whereabouts' install-cni.sh writes on a node
CLONE_NEWNET = 0x40000000
SERVICE_ACCOUNT = Path("var/run/secrets/kubernetes.io/serviceaccount")  # below the pod's root
# thin_entrypoint's path flags and their defaults (Multus v4.3.0 cmd/thin_entrypoint/main.go addFlags):
# paths in the container, where the node's / is /host, and paths on the node itself.
_CONTAINER_PATHS = {"cni-bin-dir": "/host/opt/cni/bin", "cni-conf-dir": "/host/etc/cni/net.d",
                    "multus-autoconfig-dir": "/host/etc/cni/net.d", "multus-cni-conf-dir": "/host/etc/cni/multus/net.d"}
_NODE_PATHS = {"multus-kubeconfig-file-host": "/etc/cni/net.d/multus.d/multus.kubeconfig", "readiness-indicator-file": ""}
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
    """Namespaces this process's harness made that still exist (other test workers make theirs)."""
    return sorted(p.name for p in NETNS_DIR.glob(f"{PREFIX}{os.getpid()}-*")) if NETNS_DIR.is_dir() else []


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
    state: Path  # the node's files: var/ (its /var), net.d/ (its /etc/cni/net.d), the daemon's logs
    subnet: str  # the primary network's (ptp + host-local) pool on this node
    links: tuple[str, ...]  # what the harness created in the namespace
    primary: dict  # the node's primary CNI conflist (10-kwok-pod-network.conflist)
    token: str  # the Multus pod's ServiceAccount token on this node
    flavor: str = "thin"  # what the node runs now (update_multus changes it)
    conflist: Optional[Path] = None  # the 00-multus.conf(list) the node's Multus wrote (or would write)
    multus: Optional[str] = None  # thin: the multus binary the runtime runs (with thin_entrypoint: the copy it made)
    daemon: Optional[subprocess.Popen] = None  # thick: the node's multus-daemon; thin_entrypoint's
    daemon_log: Optional[Path] = None
    argv: tuple[str, ...] = ()  # how the daemon is started (restart: the same again)
    env: Optional[dict] = None
    account: Optional[Path] = None  # the pod's ServiceAccount files: token, ca.crt, namespace
    root: Optional[Path] = None  # with thin_entrypoint: the node's / (the container's /host)

    @property
    def var_lib(self) -> Path:
        """The node's /var/lib: bind-mounted over /var/lib for every plugin run (thin), inside the daemon's /var
        (thick). host-local's leases and Multus' delegate cache live here, whichever flavor wrote them."""
        return self.state / "var" / "lib"

    @property
    def confdir(self) -> Path:
        """The node's /etc/cni/net.d (thin without thin_entrypoint, thick)."""
        return self.state / "net.d"


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
    added_by: str = ""  # what ran its ADD and its DEL: the thin multus binary, or the node's multus-daemon (thick)
    deleted_by: str = ""

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

    def __init__(self, cluster, multus_namespace: str = "kube-system",
                 host_devices: Iterable[str] = (), service_account: str = "multus", flavor: str = "thin",
                 whereabouts: Optional[str] = None, entrypoint_args: Optional[Sequence[str]] = None,
                 bound_tokens: bool = False, daemon_prefix: Sequence[str] = (), version: Optional[str] = None,
                 primary_cni_version: str = "1.0.0"):
        """`whereabouts`: the namespace of the whereabouts ServiceAccount the stack installed; the plugin
        (the toolchain's build) then allocates with that account's token, as on a node. `entrypoint_args`,
        `bound_tokens`: see the module docstring. `daemon_prefix`: a command the node daemons run under
        (bench/multus_memory_bench.py starts them inside a memory cgroup). `version`: an older Multus
        release the nodes run (thin only: the toolchain's `multus-<version>`, part multus_old), None for
        the toolchain's own (MULTUS_VERSION); `update_multus` moves the nodes to another one.
        `primary_cni_version`: the cniVersion of the nodes' primary network (Multus v3 runs only <= 0.4.0)."""
        self.cluster = cluster
        # Right under the system temp dir, not pytest's deep tmp_path: the thick daemon's socket path
        # must fit a unix socket's 108-byte sun_path (a test worker's tmp_path already nearly fills it).
        self.workdir = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.host_devices = tuple(host_devices)
        self.multus_namespace, self.primary_cni_version = multus_namespace, primary_cni_version
        if entrypoint_args is not None and flavor != "thin":
            raise HarnessError("entrypoint_args are thin_entrypoint's: thin flavor only")
        self.entrypoint_args = None if entrypoint_args is None else tuple(entrypoint_args)
        self._use(flavor, version)
        self.bound_tokens, self.daemon_prefix = bound_tokens, tuple(daemon_prefix)
        self.hostroot = self.workdir / "hostroot"  # thick: what the daemon's /hostroot shows (the readiness indicator)
        self.nodes: dict[str, FakeNode] = {}
        self.relays: list[Relay] = []
        self.namespaces: list[str] = []
        self.attached: list[Attachment] = []
        admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
        self.server = admin["clusters"][0]["cluster"]["server"]
        self.ca = admin["clusters"][0]["cluster"]["certificate-authority"]
        self.port = urlparse(self.server).port
        self.service_account = service_account
        self._credentials()
        self.cni_path, self.etc = CNI_PATH, None
        if whereabouts is not None:
            self._install_whereabouts(whereabouts)

    # --- setup ------------------------------------------------------------------------------------

    def _use(self, flavor: str, version: Optional[str]) -> None:
        """The Multus the nodes run from now on: its flavor and release (see __init__), its binaries found."""
        if version is not None and (flavor != "thin" or self.entrypoint_args is not None):
            raise HarnessError(f"Multus {version}: only its thin plugin is built (part multus_old), without thin_entrypoint")
        plugin = "multus" if version is None else f"multus-{version}"
        wanted = (plugin,) if flavor == "thin" else ("multus-daemon", "multus-shim")
        wanted += ("thin_entrypoint",) if self.entrypoint_args is not None else ()
        found = {name: shutil.which(name, path=self.cluster.env.get("PATH")) for name in wanted}
        if not all(found.values()):
            raise HarnessError(f"the toolchain has no {', '.join(n for n, p in found.items() if not p)}: run `make toolchain`")
        self.flavor, self.version = flavor, version
        self.multus, self.entrypoint = found.get(plugin), found.get("thin_entrypoint")
        self.daemon_binary, self.shim = found.get("multus-daemon"), found.get("multus-shim")

    def _token(self, namespace: str, account: str) -> str:
        """A ServiceAccount's identity from the TokenRequest API (what the token mount gives a DaemonSet's
        pod, which thin_entrypoint and whereabouts' install-cni.sh write into their kubeconfigs)."""
        return self.cluster.kubectl("create", "token", account, "-n", namespace, "--duration", "1h").stdout.strip()

    def multus_pod(self, node: str) -> dict:
        """The Multus DaemonSet's pod on a node (kwok runs it: it exists, nothing runs in it)."""
        pods = self.cluster.get("pods", "-n", self.multus_namespace, "-l", "name=multus",
                                "--field-selector", f"spec.nodeName={node}")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if len(live) != 1:
            raise HarnessError(f"expected one Multus pod on {node}, found {[p['metadata']['name'] for p in live]}")
        return live[0]

    def bound_token(self, pod: Mapping[str, Any]) -> str:
        """A TokenRequest token bound to a pod object, as the kubelet's projected token is: it is invalid
        as soon as that pod object is gone."""
        meta = pod["metadata"]
        return self.cluster.kubectl(
            "create", "token", pod["spec"]["serviceAccountName"], "-n", meta["namespace"], "--duration", "1h",
            "--bound-object-kind", "Pod", "--bound-object-name", meta["name"], "--bound-object-uid", meta["uid"]).stdout.strip()

    def _service_account(self, state: Path, token: str) -> Path:
        """The files a pod's ServiceAccount volume holds, below `state`/var (mounted over /var for the daemon)."""
        account = state / SERVICE_ACCOUNT
        account.mkdir(parents=True, exist_ok=True)
        (account / "token").write_text(token)
        (account / "namespace").write_text(self.multus_namespace)
        shutil.copy2(self.ca, account / "ca.crt")
        return account

    def rotate_token(self, node: FakeNode, token: str) -> None:
        """What the kubelet does when it refreshes a projected token: the file's content replaced at once."""
        new = node.account / ".token.new"
        new.write_text(token)
        os.replace(new, node.account / "token")

    def _kubeconfig(self, path: Path, user: str, token: str, namespace: Optional[str] = None) -> Path:
        context: dict[str, str] = {"cluster": "local", "user": user}
        if namespace:
            context["namespace"] = namespace
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": user,
            "clusters": [{"name": "local", "cluster": {"server": self.server, "certificate-authority": self.ca}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": context}],
        }))
        path.chmod(0o600)
        return path

    def _install_whereabouts(self, namespace: str) -> None:
        """What the whereabouts DaemonSet's install-cni.sh does on a node (script/lib.sh at v0.9.2): the
        binary in the CNI path, and /etc/cni/net.d/whereabouts.d/ holding a kubeconfig with its
        ServiceAccount's token (context namespace: where IPPools live) and the flat whereabouts.conf the
        plugin requires. /etc is this machine's: each plugin run sees those files through an overlay of
        /etc in its private mount namespace (read-only), whose top layer is a temp dir."""
        binary = shutil.which("whereabouts", path=self.cluster.env.get("PATH"))
        if not binary:
            raise HarnessError("the toolchain has no whereabouts: run `bash toolchain/build.sh whereabouts`")
        bindir = self.workdir / "cni-bin"
        bindir.mkdir()
        (bindir / "whereabouts").symlink_to(binary)
        self.cni_path = f"{CNI_PATH}:{bindir}"
        self.etc = self.workdir / "etc"
        confdir = self.etc / "upper" / WHEREABOUTS_D.relative_to("/etc")
        confdir.mkdir(parents=True)
        self.whereabouts_namespace = namespace
        self.renew_whereabouts_token()
        (confdir / "whereabouts.conf").write_text(json.dumps({
            "datastore": "kubernetes", "kubernetes": {"kubeconfig": str(WHEREABOUTS_D / "whereabouts.kubeconfig")},
            "reconciler_cron_expression": "30 4 * * *"}, indent=2))

    def renew_whereabouts_token(self) -> None:
        """What a new whereabouts pod's install-cni.sh does: the kubeconfig again, with its (new) token (a
        ServiceAccount deleted and created again invalidates the old one)."""
        confdir = self.etc / "upper" / WHEREABOUTS_D.relative_to("/etc")
        namespace = self.whereabouts_namespace
        self._kubeconfig(confdir / "whereabouts.kubeconfig", "whereabouts", self._token(namespace, "whereabouts"), namespace)

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
        subnet = f"10.244.{index}.0/24"
        primary = {"cniVersion": self.primary_cni_version, "name": "kwok-pod-network", "plugins": [
            {"type": "ptp", "ipMasq": False, "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                                                      "routes": [{"dst": "0.0.0.0/0"}]}}]}
        made = FakeNode(name, netns, state, subnet, tuple(links), primary, self._node_token(name))
        (made.var_lib / "cni").mkdir(parents=True)
        made.confdir.mkdir()
        (made.confdir / "10-kwok-pod-network.conflist").write_text(json.dumps(primary))
        self._provision(made)
        self.nodes[name] = made
        return made

    def _credentials(self) -> None:
        """The Multus ServiceAccount's token, and the kubeconfig thin_entrypoint writes from it."""
        self.token = self._token(self.multus_namespace, self.service_account)
        self.kubeconfig = self._kubeconfig(self.workdir / "multus.kubeconfig", "multus", self.token)

    def _node_token(self, name: str) -> str:
        return self.bound_token(self.multus_pod(name)) if self.bound_tokens else self.token

    def _provision(self, node: FakeNode) -> None:
        """What the node's Multus pod does when it starts, for the flavor and release in use."""
        node.flavor = self.flavor
        if self.flavor == "thick":
            self._thick_node(node)
        elif self.entrypoint_args is not None:
            self._entrypoint_node(node)
        else:
            self._thin_node(node)

    def _thin_node(self, node: FakeNode) -> None:
        """The config the release's entrypoint writes from the primary conf, logLevel set; the runtime runs its multus."""
        primary_version = node.primary["cniVersion"]
        plugin = {"type": "multus", "logLevel": "debug", "kubeconfig": str(self.kubeconfig), "delegates": [node.primary]}
        if self.version and self.version.startswith("v3."):
            # v3's /entrypoint.sh (images/entrypoint.sh at v3.9.3) writes a 00-multus.conf, at its --cni-version.
            conf, path = {"cniVersion": thin_flags(V3_ARGS)["cni-version"], "name": "multus-cni-network", **plugin}, "00-multus.conf"
        elif _version(primary_version) >= (1, 0, 0):  # thin_entrypoint: multusConflistTemplate, the primary's version
            conf, path = {"cniVersion": primary_version, "name": "multus-cni-network", "plugins": [plugin]}, "00-multus.conflist"
        else:  # below 1.0.0, multusConfTemplate
            conf, path = {"cniVersion": primary_version, "name": "multus-cni-network", **plugin}, "00-multus.conf"
        node.conflist = node.confdir / path
        node.conflist.write_text(json.dumps(conf, indent=2))
        node.multus = self.multus

    def update_multus(self, flavor: Optional[str] = None, version: Optional[str] = None) -> None:
        """What a rolling update of the Multus DaemonSet does on every node: the old Multus pod stops (its
        daemon, its config: v4's cleanup on exit), the new one (`flavor`, default the current; `version` as
        for __init__) writes its config or starts its daemon. Pods attached so far keep their namespaces and
        links, and the node keeps its /var/lib (host-local's leases, Multus' delegate cache, whoever wrote
        them), so their DEL is the new Multus's; later ADDs are too."""
        if self.entrypoint_args is not None:
            raise HarnessError("update_multus: not for nodes that run thin_entrypoint")
        self._use(flavor or self.flavor, version)
        self._credentials()  # the new pods' token (the ServiceAccount may have been created anew)
        for node in self.nodes.values():
            self._stop(node)
            for old in node.confdir.glob("00-multus.conf*"):
                old.unlink()
            node.daemon = node.daemon_log = node.conflist = node.multus = None
            node.token = self._node_token(node.name)  # the new pod's
            self._provision(node)

    def _pod_env(self, node: str) -> dict:
        """What a pod of the DaemonSet gets in its environment (in-cluster config, the node name)."""
        return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                "KUBERNETES_SERVICE_PORT": str(self.port), "MULTUS_NODE_NAME": node}

    def _isolated(self, netns: str, propagation: str, source: Path, target: str, *command: str) -> tuple[str, ...]:
        """argv running `command` in the node's network namespace and a mount namespace of its own, where
        `source` is bound over `target` and, with whereabouts, /etc shows its whereabouts.d (an overlay)."""
        # Read-only, two lower layers and no upper: overlayfs refuses a second mount that shares a
        # workdir (EBUSY), which concurrent ADDs on one harness would.
        overlay = 'mount -t overlay overlay -o "lowerdir=$3/upper:/etc" /etc'
        return ("ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", propagation, "sh", "-c",
                f'{{ [ -z "$3" ] || {overlay}; }} && mount --bind "$1" "$2" && shift 3 && exec "$@"',
                "sh", str(source), target, str(self.etc or ""), *command)

    def _in_pod(self, netns: str, state: Path, *command: str) -> tuple[str, ...]:
        """argv running `command` in the node's namespace with `state`/var over /var (the token mount)."""
        # slave: pod namespaces created later (nsfs mounts under /run/netns) still appear to it
        return self._isolated(netns, "slave", state / "var", "/var", *command)

    def start(self, node: FakeNode) -> None:
        """Start (or restart, as a new pod of the DaemonSet would) the node's daemon."""
        with open(node.daemon_log, "ab") as out:
            node.daemon = subprocess.Popen((*self.daemon_prefix, *node.argv), env=node.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def _entrypoint_args(self, root: Path) -> list[str]:
        """The given args, then every path flag again with its value on the node's temp root."""
        flags = thin_flags(self.entrypoint_args)
        moved = []
        for flag, default in _CONTAINER_PATHS.items():
            value = flags.get(flag, default)
            if value != "/host" and not value.startswith("/host/"):
                raise HarnessError(f"--{flag}={value} is not below the container's /host: nothing to map it to")
            moved.append(f"--{flag}={root}{value[len('/host'):]}")
        for flag, default in _NODE_PATHS.items():
            value = flags.get(flag, default)
            if value:
                moved.append(f"--{flag}={root}{value}")
        return [*self.entrypoint_args, *moved, f"--multus-bin-file={self.multus}"]

    def _entrypoint_node(self, node: FakeNode) -> None:
        """Start thin_entrypoint for the node; it writes the kubeconfig and 00-multus.conflist."""
        root = node.state / "root"
        for path in ("etc/cni/net.d", "opt/cni/bin", "etc/cni/multus/net.d", "var/lib"):
            (root / path).mkdir(parents=True)
        confdir = root / "etc" / "cni" / "net.d"
        (confdir / "10-kwok-pod-network.conflist").write_text(json.dumps(node.primary))
        node.conflist, node.root, node.multus = confdir / "00-multus.conflist", root, str(root / "opt" / "cni" / "bin" / "multus")
        node.daemon_log, node.env = node.state / "thin_entrypoint.log", self._pod_env(node.name)
        node.argv = self._in_pod(node.netns, node.state, self.entrypoint, *self._entrypoint_args(root))
        node.account = self._service_account(node.state, node.token)
        self.start(node)
        self._wait_for_config(node, lambda: (confdir / "multus.d" / "multus.kubeconfig").exists())

    def _wait_for_config(self, node: FakeNode, ready=lambda: True) -> None:
        """Until the daemon has written 00-multus.conf(list) (and `ready()`); its log if it exits first."""
        deadline = time.monotonic() + 60
        # cniVersion 1.0.0 and up gives a .conflist, below a .conf (thin_entrypoint and the thick daemon alike).
        other = node.conflist.with_name("00-multus.conf")
        while not ((node.conflist.exists() or other.exists()) and ready()):
            if node.daemon.poll() is not None or time.monotonic() > deadline:
                self._stop(node)
                raise HarnessError(f"the Multus daemon for {node.name} did not come up (exit {node.daemon.returncode}):\n"
                                   f"{node.daemon_log.read_text()[-3000:]}")
            time.sleep(0.2)
        if not node.conflist.exists():
            node.conflist = other

    def _thick_node(self, node: FakeNode) -> None:
        """Start the node's multus-daemon; it generates 00-multus.conflist from the primary conf."""
        node.account = self._service_account(node.state, node.token)
        confdir, socketdir = node.confdir, node.state / "run"
        configmap = self.cluster.get("configmap", "-n", self.multus_namespace, "multus-daemon-config")
        config = json.loads(configmap["data"]["daemon-config.json"])
        config.pop("chrootDir", None)  # the daemon runs on this machine's root, in the node's namespaces
        # binDir: on a node the DaemonSet mounts /opt/cni/bin at the same path; here the plugins are in CNI_PATH.
        config.update(cniConfigDir=str(confdir), multusAutoconfigDir=str(confdir), socketDir=str(socketdir),
                      binDir=CNI_PATH, logLevel="debug")
        indicator = config.get("readinessindicatorfile")
        if indicator:  # the daemon sees the node's / at /hostroot; here the nodes' / is self.hostroot
            if not indicator.startswith(HOSTROOT + "/"):
                raise HarnessError(f"readinessindicatorfile {indicator!r} is not below {HOSTROOT}: nothing to map it to")
            config["readinessindicatorfile"] = str(self.hostroot) + indicator[len(HOSTROOT):]
        path = node.state / "daemon-config.json"
        path.write_text(json.dumps(config, indent=2))
        node.conflist, node.daemon_log = confdir / "00-multus.conflist", node.state / "multus-daemon.log"
        node.argv = self._in_pod(node.netns, node.state, self.daemon_binary, "-config", str(path))
        node.env = self._pod_env(node.name)
        if self.etc:  # whereabouts: its bin dir too (on a node, binDir /opt/cni/bin holds it; here CNI_PATH does not)
            node.env["CNI_PATH"] = self.cni_path
        self.start(node)
        # The daemon's cniVersion (the ConfigMap's 0.3.1) picks 00-multus.conf, 1.0.0 and up a .conflist.
        self._wait_for_config(node, lambda: (socketdir / "multus.sock").exists())

    def stop(self, node: FakeNode) -> None:
        """Stop the node's daemon as the kubelet stops a container (SIGTERM, then SIGKILL after 15 s)."""
        self._stop(node)

    @staticmethod
    def _stop(node: FakeNode) -> None:
        if node.daemon is not None and node.daemon.poll() is None:
            node.daemon.terminate()
            try:
                node.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.daemon.kill()
                node.daemon.wait(timeout=15)

    # --- CNI calls --------------------------------------------------------------------------------

    def _multus(self, command: str, att: Attachment) -> tuple[dict, str]:
        """One multus run as libcni runs a conflist's plugin: name and cniVersion injected."""
        argv, env, conf = self._multus_run(command, att)
        done = subprocess.run(argv, input=conf, env=env, capture_output=True, text=True, timeout=TIMEOUT)
        if done.returncode:
            daemon = f"\nmultus-daemon log:\n{att.node.daemon_log.read_text()[-3000:]}" if att.node.daemon_log else ""
            raise HarnessError(f"multus {command} for pod {att.ref} on {att.node.name} failed (exit {done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr[-3000:]}{daemon}")
        return (json.loads(done.stdout) if done.stdout.strip() else {}), done.stderr

    def _multus_run(self, command: str, att: Attachment, cni_path: Optional[str] = None) -> tuple[tuple[str, ...], dict, str]:
        """argv, environment and stdin of one multus run (`cni_path`: where it finds the plugins instead)."""
        conflist = json.loads(att.node.conflist.read_text())
        conf = ({"cniVersion": conflist["cniVersion"], "name": conflist["name"], **conflist["plugins"][0]}
                if "plugins" in conflist else conflist)
        thick = att.node.flavor == "thick"
        if thick:  # on a node the shim's default /run/multus is the daemon's socketDir
            conf = {**conf, "daemonSocketDir": str(att.node.state / "run")}
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command, "CNI_CONTAINERID": att.container, "CNI_NETNS": str(NETNS_DIR / att.netns),
            "CNI_IFNAME": "eth0", "CNI_PATH": cni_path or self.cni_path,
            # Multus v3.9.3 writes its log to a file even without `logFile` (pkg/logging `SetLogOptions`
            # makes its lumberjack logger the writer; lumberjack's default file is
            # `<binary>-lumberjack.log` in the temp dir): the node's, not the host's /tmp.
            "TMPDIR": str(att.node.state),
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={att.namespace};K8S_POD_NAME={att.name};"
                        f"K8S_POD_INFRA_CONTAINER_ID={att.container};K8S_POD_UID={att.uid}",
        }
        if thick:  # the shim only talks to the node's daemon, which runs the plugins
            argv = ("ip", "netns", "exec", att.node.netns, self.shim)
        else:
            argv = self._isolated(att.node.netns, "private", att.node.var_lib, "/var/lib", att.node.multus)
        return argv, env, json.dumps(conf)

    def _runner(self, node: FakeNode) -> str:
        return self.daemon_binary if node.flavor == "thick" else node.multus

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
        att.added_by = self._runner(att.node)
        try:
            att.result, _ = self._multus("ADD", att)
        finally:
            if att.skipped:
                self._annotate(att, original)
        return att

    def attach_killed(self, pod: Mapping[str, Any], after: str) -> Attachment:
        """An ADD killed half-way, with no DEL after it (a runtime's timeout, a crashed or restarted node
        agent): the real plugins run until the delegate plugin `after` has answered Multus, then the
        whole run is SIGKILLed before Multus can write the pod's network-status. Thin nodes only (the
        plugins run in the killed process tree). Returns the attachment `detach` can still DEL later,
        as the runtime's garbage collection would."""
        if self._runner(self.node(pod["spec"]["nodeName"])) != self.multus:
            raise HarnessError("attach_killed runs thin nodes' multus only")
        real = shutil.which(after, path=self.cni_path)
        if real is None:
            raise HarnessError(f"no {after} plugin in {self.cni_path}")
        paused = self.workdir / f"paused-{after}"
        paused.mkdir(exist_ok=True)
        answered = paused / "answered"
        answered.unlink(missing_ok=True)
        # The real plugin's whole answer reaches Multus, then the stdout stays open: Multus waits on it.
        (paused / after).write_text(f'#!/bin/sh\nout=$("{real}")\nprintf "%s" "$out"\ntouch "{answered}"\nexec sleep {TIMEOUT}\n')
        (paused / after).chmod(0o755)
        meta = pod["metadata"]
        att = Attachment(meta["namespace"], meta["name"], meta["uid"], self.node(pod["spec"]["nodeName"]),
                         self._netns("pod"), uuid.uuid4().hex, added_by=self.multus)
        self.attached.append(att)
        argv, env, conf = self._multus_run("ADD", att, cni_path=f"{paused}:{self.cni_path}")
        (paused / "stdin").write_text(conf)
        with open(paused / "stdin") as stdin, open(paused / "output", "w") as output:  # files: no pipe fills up
            run = subprocess.Popen(argv, stdin=stdin, stdout=output, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        deadline = time.monotonic() + TIMEOUT
        while not answered.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=TIMEOUT)
        if not answered.exists():
            raise HarnessError(f"multus ADD for pod {att.ref} ended before {after} answered (exit {run.returncode}):\n"
                               f"{(paused / 'output').read_text()[-3000:]}")
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
            att.deleted, att.deleted_by = True, self._runner(att.node)
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
        for node in self.nodes.values():
            self._stop(node)
        for name in reversed(self.namespaces):
            ip("netns", "delete", name, check=False)
        for relay in self.relays:
            relay.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if failures:
            raise failures[0]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _without(annotation: Optional[str], names: Iterable[str]) -> str:
    """The networks annotation (comma or JSON form) without the networks named."""
    names = set(names)
    text = (annotation or "").strip()
    if text.startswith("["):
        return json.dumps([e for e in json.loads(text) if e.get("name") not in names])
    kept = [part for part in text.split(",") if part.strip().split("@")[0].split("/")[-1] not in names]
    return ",".join(kept)
