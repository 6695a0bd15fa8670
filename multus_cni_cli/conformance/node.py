"""The stand-in node: throw-away network namespaces instead of a real node.

A "host" namespace holds veth stand-ins named as the config's `master`/`device` (plugins run there
and look them up); a "pod" namespace receives net1. Everything is removed on the way out, also on
failure. A scratch namespace asks the kernel what it can create, so that a kernel limit is told
apart from a config error.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

IFNAME = "net1"  # the name Multus gives the first secondary interface
NETNS_DIR = Path("/var/run/netns")  # where `ip netns add` puts the namespaces it names
NETNS_PREFIX = "cni-conformance-"
TIMEOUT = 60  # seconds for one command: a hung plugin is a failure, not a hung check
PROBE_LOWER = "cfprobe0"  # the scratch namespace's veth, master of the links the kernel is asked for


class EnvironmentProblem(Exception):
    """This machine cannot run any check (not root, no iproute2, no plugins): exit status 2."""


class NodeError(Exception):
    """Building or inspecting the stand-in node failed."""


@dataclass(frozen=True)
class Node:
    host: str  # namespace the plugins run in
    pod: str  # namespace that receives net1
    state: Path  # the plugins' dataDir
    devices: Mapping[str, Optional[str]]  # host-device stand-ins (name -> MAC) that DEL must give back

    @property
    def netns(self) -> str:
        return str(NETNS_DIR / self.pod)


def is_file_name(name: str) -> bool:
    """`name` is one path component, safe to join to a directory (no '/', '.' or '..')."""
    return bool(name) and "/" not in name and name not in (".", "..")


# --- running iproute2 ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _ip_binary() -> Optional[str]:
    return shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")


def _run_ip(*args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run([_ip_binary() or "ip", *args], capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = _run_ip(*args)
    if check and proc.returncode:
        raise NodeError(f"ip {' '.join(args)}: {proc.stderr.strip() or f'exit status {proc.returncode}'}")
    return proc


def run_in(netns: str, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """`argv` inside the namespace (`ip netns exec`); raises subprocess.TimeoutExpired after TIMEOUT."""
    return _run_ip("netns", "exec", netns, *argv, **kwargs)


def require_tools() -> None:
    """Root and iproute2, without which no namespace can be built."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("needs root: it creates network namespaces and runs CNI plugins (try sudo)")
    if _ip_binary() is None:
        raise EnvironmentProblem("needs `ip` from iproute2 (apt-get install iproute2)")


def require_namespaces() -> None:
    """The kernel lets this process create a namespace with a veth pair (containers may not)."""
    try:
        with _scratch():
            pass
    except NodeError as exc:
        raise EnvironmentProblem(f"cannot create a network namespace with a veth pair: {exc}") from None


# --- namespaces and stand-ins -------------------------------------------------------------------

_serial = itertools.count(1)


def unique(role: str) -> str:
    """Names that parallel runs (other processes, other tests) never share."""
    return f"{NETNS_PREFIX}{os.getpid()}-{next(_serial)}-{role}"


@contextmanager
def _netns(role: str) -> Iterator[str]:
    name = unique(role)
    ip("netns", "add", name)
    try:
        yield name
    finally:
        ip("netns", "delete", name, check=False)


def _veth(netns: str, name: str, peer: str, mac: Optional[str] = None, mtu: Optional[int] = None) -> None:
    """A veth pair, both ends up: `name` stands in for a node interface, `peer` is its wire."""
    settings = (("address", mac) if mac else ()) + (("mtu", str(mtu)) if mtu else ())
    ip("-n", netns, "link", "add", name, *settings, "type", "veth", "peer", "name", peer)
    for end in (name, peer):
        ip("-n", netns, "link", "set", end, "up")


@contextmanager
def _scratch() -> Iterator[str]:
    """A namespace with one veth, to ask the kernel what it can create."""
    with _netns("scratch") as name:
        _veth(name, PROBE_LOWER, "cfprobe0p")
        yield name


@lru_cache(maxsize=None)
def kernel_refusal(args: tuple[str, ...]) -> Optional[str]:
    """The kernel's error for `ip link add probe <args>` on a fresh veth, or None when it can."""
    with _scratch() as name:
        proc = ip("-n", name, "link", "add", "cfprobe1", *args, check=False)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"exit status {proc.returncode}")


def _stand_ins(plugins: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Optional[str]], dict[str, Optional[str]]]:
    """(uplinks, devices) as name -> MAC: the interfaces the config expects on the node.

    The first uplink carries the default route (macvlan without `master` uses that interface).
    """
    masters = [p["master"] for p in plugins if isinstance(p.get("master"), str) and p["master"]]
    uplinks: dict[str, Optional[str]] = dict.fromkeys(masters or ["eth0"])
    devices: dict[str, Optional[str]] = {}
    for index, plugin in enumerate(plugins):
        if plugin.get("type") != "host-device":
            continue
        if plugin.get("device"):
            devices[str(plugin["device"])] = None
        elif plugin.get("hwaddr"):
            devices[f"cfhw{index}"] = str(plugin["hwaddr"])
    return uplinks, devices


def host_mtu(name: str) -> Optional[int]:
    """The MTU of this machine's interface `name`, if it has one: plugins check `mtu` against it."""
    if not is_file_name(name):
        return None
    try:
        return int(Path("/sys/class/net", name, "mtu").read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def build(plugins: Sequence[Mapping[str, Any]], like_host: bool) -> Iterator[Node]:
    """Host and pod namespaces with the stand-ins; all of it removed on the way out.

    `like_host`: stand-ins take the MTU of this machine's interface of the same name (run on a
    node, a master with jumbo frames accepts a macvlan `mtu` of 9000); otherwise veth's 1500.
    """
    uplinks, devices = _stand_ins(plugins)
    with ExitStack() as cleanup:
        host = cleanup.enter_context(_netns("host"))
        pod = cleanup.enter_context(_netns("pod"))
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=NETNS_PREFIX)))
        ip("-n", pod, "link", "set", "lo", "up")  # as the runtime's loopback plugin leaves a sandbox
        for index, (name, mac) in enumerate({**devices, **uplinks}.items()):
            _veth(host, name, f"cfpeer{index}", mac, host_mtu(name) if like_host else None)
        ip("-n", host, "route", "add", "default", "dev", next(iter(uplinks)))
        yield Node(host, pod, state, devices)


# --- what the namespaces show -------------------------------------------------------------------


def pod_link(node: Node) -> Optional[dict]:
    """net1 with its addresses and link details (`ip -d addr`), or None when the pod has none."""
    proc = ip("-d", "-j", "-n", node.pod, "addr", "show", "dev", IFNAME, check=False)
    if proc.returncode:
        return None
    links = json.loads(proc.stdout or "[]")
    return links[0] if links else None


def host_links(node: Node) -> list[dict]:
    return json.loads(ip("-j", "-n", node.host, "link", "show").stdout or "[]")
