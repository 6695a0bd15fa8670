"""`python -m components conformance`: run each network of a stack through the real CNI plugins.

A NAD's config is only proven once a plugin binary accepts it. This does what a node does when
Multus attaches `net1`, with throw-away network namespaces instead of a node: a "host" namespace
holding veth stand-ins named as the config's `master`/`device`, where the plugin runs (macvlan looks
its master up there), and a "pod" namespace that receives `net1`. The CNI result and the interface
are checked against the config, then DEL runs and must undo everything; both namespaces and the
plugins' state directory are removed, also on failure. Needs root, iproute2 and the reference
plugins (Debian/Ubuntu `containernetworking-plugins`, or a node's /opt/cni/bin).
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from . import stackfile
from .config import NetworkConfig, load_stack_config

IFNAME = "net1"  # the name Multus gives the first secondary interface
DEFAULT_PLUGIN_DIRS = (Path("/opt/cni/bin"), Path("/usr/lib/cni"))  # a node's, then Debian's
NETNS_DIR = Path("/var/run/netns")  # where `ip netns add` puts the namespaces it names
NETNS_PREFIX = "cni-conformance-"
POD_NAME = "conformance-probe"
TIMEOUT = 60  # seconds for one plugin call: a hung plugin is a failure, not a hung check
LEGACY_RESULTS = ("0.1.0", "0.2.0")  # result formats with ip4/ip6 and no interfaces list

PASS, FAIL, SKIP = "pass", "fail", "skip"

# Plugins whose ADD cannot be exercised on a bare node, whatever binaries it has.
NEEDS_MORE = {
    "whereabouts": "whereabouts keeps its IP pools in the Kubernetes API (IPPool objects) and is not packaged in Debian",
    "sriov": "sriov needs an SR-IOV virtual function handed out by the SR-IOV device plugin and is not packaged in Debian",
    "dhcp": "dhcp IPAM needs the `dhcp daemon` running on the node and a DHCP server on the master's network",
}
# Plugins that keep state in `dataDir` (default /var/lib/cni/networks, /run/cni/tuning): redirected.
STATEFUL = ("host-local", "tuning")
# Plugins that apply their `mtu` to the pod's interface.
MTU_SETTERS = ("macvlan", "ipvlan", "bridge", "ptp", "vlan", "tuning")


@dataclass(frozen=True)
class LinkPlugin:
    """What a plugin asks of the kernel, to tell a kernel limit from a config error."""

    kernel: tuple[str, ...]  # `ip link add NAME ...` arguments creating the link kind it needs
    on_master: bool  # that link hangs off the master interface
    kind: str  # what net1 is in the pod (`ip -d link`'s info_kind)
    modes: tuple[str, ...] = ()  # modes the plugin accepts, default first


LINK_PLUGINS = {
    "macvlan": LinkPlugin(("type", "macvlan"), True, "macvlan", ("bridge", "private", "vepa", "passthru")),
    "ipvlan": LinkPlugin(("type", "ipvlan"), True, "ipvlan", ("l2", "l3", "l3s")),
    "vlan": LinkPlugin(("type", "vlan", "id", "1"), True, "vlan"),
    "bridge": LinkPlugin(("type", "bridge"), False, "veth"),
    "ptp": LinkPlugin(("type", "veth"), False, "veth"),
}


class EnvironmentProblem(Exception):
    """This machine cannot run any check (not root, no iproute2, no plugins): exit status 2."""


class NodeError(Exception):
    """Building or inspecting the stand-in node failed."""


class PluginError(Exception):
    """A plugin call failed; `error` is the plugin's own message."""

    def __init__(self, command: str, plugin: str, error: str):
        super().__init__(f"{command} {plugin}: {error}")
        self.command, self.plugin, self.error = command, plugin, error


@dataclass(frozen=True)
class Result:
    network: str
    plugins: str  # the chain, e.g. "bridge(host-local),tuning"
    verdict: str  # PASS, FAIL or SKIP
    reason: str = ""  # what failed, or why it was skipped
    interface: str = ""  # IFNAME once the plugin created it
    addresses: tuple[str, ...] = ()  # the result's addresses, CIDR notation
    cni_result: Optional[dict] = field(default=None, compare=False)  # the ADD result JSON


# --- the machine --------------------------------------------------------------------------------


def find_plugin_dirs() -> tuple[Path, ...]:
    """`CNI_PATH` (colon-separated) when set, as libcni reads it; else the first default that exists."""
    if os.environ.get("CNI_PATH"):
        dirs = tuple(Path(p) for p in os.environ["CNI_PATH"].split(os.pathsep) if p)
        existing = tuple(d for d in dirs if d.is_dir())
        if not existing:
            raise EnvironmentProblem(f"CNI_PATH={os.environ['CNI_PATH']}: no such directory")
        return existing
    for candidate in DEFAULT_PLUGIN_DIRS:
        if candidate.is_dir():
            return (candidate,)
    raise EnvironmentProblem(
        f"no CNI plugin directory ({' or '.join(map(str, DEFAULT_PLUGIN_DIRS))}): install the reference plugins "
        "(apt-get install containernetworking-plugins) or set CNI_PATH"
    )


def preflight(dirs: Sequence[Path]) -> None:
    """Raise EnvironmentProblem unless this process can build a node and has plugins to run."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("needs root: it creates network namespaces and runs CNI plugins (try sudo)")
    if _ip_binary() is None:
        raise EnvironmentProblem("needs `ip` from iproute2 (apt-get install iproute2)")
    if not any(_executable(p) for d in dirs for p in d.iterdir()):
        raise EnvironmentProblem(f"{_dirs_text(dirs)} holds no plugin binaries (apt-get install containernetworking-plugins)")
    try:
        with _scratch():
            pass
    except NodeError as exc:
        raise EnvironmentProblem(f"cannot create a network namespace with a veth pair: {exc}") from None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _dirs_text(dirs: Sequence[Path]) -> str:
    return os.pathsep.join(map(str, dirs))


def find_plugin(kind: str, dirs: Sequence[Path]) -> Optional[Path]:
    """The binary libcni would run for a `type`: the first match along the plugin path."""
    if not kind or "/" in kind or kind in (".", ".."):
        return None
    return next((d / kind for d in dirs if _executable(d / kind)), None)


@lru_cache(maxsize=1)
def _ip_binary() -> Optional[str]:
    return shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([_ip_binary() or "ip", *args], capture_output=True, text=True, timeout=TIMEOUT)
    if check and proc.returncode:
        raise NodeError(f"ip {' '.join(args)}: {proc.stderr.strip() or f'exit status {proc.returncode}'}")
    return proc


_serial = itertools.count(1)


def _unique(role: str) -> str:
    """Names that parallel runs (other processes, other tests) never share."""
    return f"{NETNS_PREFIX}{os.getpid()}-{next(_serial)}-{role}"


@contextmanager
def _netns(role: str) -> Iterator[str]:
    name = _unique(role)
    _ip("netns", "add", name)
    try:
        yield name
    finally:
        _ip("netns", "delete", name, check=False)


def _veth(netns: str, name: str, peer: str, mac: Optional[str] = None, mtu: Optional[int] = None) -> None:
    """A veth pair, both ends up: `name` stands in for a node interface, `peer` is its wire."""
    settings = (("address", mac) if mac else ()) + (("mtu", str(mtu)) if mtu else ())
    _ip("-n", netns, "link", "add", name, *settings, "type", "veth", "peer", "name", peer)
    for end in (name, peer):
        _ip("-n", netns, "link", "set", end, "up")


PROBE_LOWER = "cfprobe0"


@contextmanager
def _scratch() -> Iterator[str]:
    """A namespace with one veth, to ask the kernel what it can create."""
    with _netns("scratch") as name:
        _veth(name, PROBE_LOWER, "cfprobe0p")
        yield name


@lru_cache(maxsize=None)
def _kernel_refusal(args: tuple[str, ...]) -> Optional[str]:
    """The kernel's error for `ip link add probe <args>` on a fresh veth, or None when it can."""
    with _scratch() as name:
        proc = _ip("-n", name, "link", "add", "cfprobe1", *args, check=False)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"exit status {proc.returncode}")


# --- the configuration --------------------------------------------------------------------------


def plugin_chain(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The configs libcni hands each plugin: a conflist's get its `name` and `cniVersion`."""
    if "plugins" not in config:
        return [dict(config)]
    shared = {"name": config.get("name")}
    if config.get("cniVersion"):
        shared["cniVersion"] = config["cniVersion"]
    return [{**plugin, **shared} for plugin in config["plugins"]]


def chain_label(plugins: Sequence[Mapping[str, Any]]) -> str:
    return ",".join(f"{p.get('type')}({_ipam(p)['type']})" if _ipam(p).get("type") else str(p.get("type")) for p in plugins)


def _ipam(plugin: Mapping[str, Any]) -> dict[str, Any]:
    ipam = plugin.get("ipam")
    return ipam if isinstance(ipam, dict) else {}


def _result_version(config: Mapping[str, Any]) -> str:
    """Plugins read a missing cniVersion as 0.1.0 (libcni pkg/version ConfigDecoder)."""
    return str(config.get("cniVersion") or "0.1.0")


def skip_reason(plugins: Sequence[Mapping[str, Any]], dirs: Sequence[Path]) -> Optional[str]:
    """Why this chain cannot be exercised here, or None: never a judgement on the config."""
    for plugin in plugins:
        for kind in (plugin.get("type"), _ipam(plugin).get("type")):
            if not kind:
                continue
            if kind in NEEDS_MORE:
                return NEEDS_MORE[kind]
            if find_plugin(str(kind), dirs) is None:
                return f"plugin binary {kind!r} is not in {_dirs_text(dirs)}"
        if plugin.get("type") == "host-device" and not (plugin.get("device") or plugin.get("hwaddr")):
            by = [k for k in ("pciBusID", "kernelpath") if plugin.get(k)] or ["the deviceID capability"]
            return f"host-device by {by[0]} needs that real device; only a `device` or `hwaddr` can be stood in for"
        refusal = _link_refusal(plugin)
        if refusal:
            return refusal
    return None


def _link_refusal(plugin: Mapping[str, Any]) -> Optional[str]:
    link = LINK_PLUGINS.get(str(plugin.get("type")))
    if link is None:
        return None
    mode = plugin.get("mode") or (link.modes[0] if link.modes else None)
    # Only modes the plugin accepts are asked of the kernel: a bad mode is the plugin's to reject.
    wanted = link.kernel + (("mode", mode) if mode in link.modes else ())
    refusal = _kernel_refusal((("link", PROBE_LOWER) if link.on_master else ()) + wanted)
    if refusal is None:
        return None
    return f"this kernel cannot create the link {plugin.get('type')} needs (`ip link add ... {' '.join(wanted)}` on a fresh veth: {refusal})"


# --- the node -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    host: str  # namespace the plugins run in
    pod: str  # namespace that receives net1
    state: Path  # the plugins' dataDir
    devices: Mapping[str, Optional[str]]  # host-device stand-ins (name -> MAC) that DEL must give back

    @property
    def netns(self) -> str:
        return str(NETNS_DIR / self.pod)


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
    if not name or "/" in name or name in (".", ".."):
        return None
    try:
        return int(Path("/sys/class/net", name, "mtu").read_text())
    except (OSError, ValueError):
        return None


@contextmanager
def _node(plugins: Sequence[Mapping[str, Any]], like_host: bool) -> Iterator[Node]:
    """Host and pod namespaces with the stand-ins; all of it removed on the way out.

    `like_host`: stand-ins take the MTU of this machine's interface of the same name (run on a
    node, a master with jumbo frames accepts a macvlan `mtu` of 9000); otherwise veth's 1500.
    """
    uplinks, devices = _stand_ins(plugins)
    with ExitStack() as cleanup:
        host = cleanup.enter_context(_netns("host"))
        pod = cleanup.enter_context(_netns("pod"))
        state = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix=NETNS_PREFIX)))
        _ip("-n", pod, "link", "set", "lo", "up")  # as the runtime's loopback plugin leaves a sandbox
        for index, (name, mac) in enumerate({**devices, **uplinks}.items()):
            _veth(host, name, f"cfpeer{index}", mac, host_mtu(name) if like_host else None)
        _ip("-n", host, "route", "add", "default", "dev", next(iter(uplinks)))
        yield Node(host, pod, state, devices)


def _with_state_dir(plugin: Mapping[str, Any], state: Path) -> dict[str, Any]:
    """Point `dataDir` of stateful plugins and IPAMs at the node's temp dir, never /var/lib/cni."""
    conf = dict(plugin)
    if conf.get("type") in STATEFUL:
        conf["dataDir"] = str(state / str(conf["type"]))
    ipam = _ipam(conf)
    if ipam.get("type") in STATEFUL:
        conf["ipam"] = {**ipam, "dataDir": str(state / str(ipam["type"]))}
    return conf


# --- running the plugins (libcni's AddNetworkList / DelNetworkList) -----------------------------


def _invoke(command: str, conf: Mapping[str, Any], node: Node, dirs: Sequence[Path], container: str, namespace: str) -> dict:
    binary = find_plugin(str(conf.get("type")), dirs)
    env = {
        **os.environ,
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": container,
        "CNI_NETNS": node.netns,
        "CNI_IFNAME": IFNAME,
        "CNI_PATH": _dirs_text(dirs),
        # What Multus passes its delegates.
        "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={POD_NAME};K8S_POD_INFRA_CONTAINER_ID={container}",
    }
    plugin = str(conf.get("type"))
    try:
        proc = subprocess.run(
            [_ip_binary() or "ip", "netns", "exec", node.host, str(binary)],
            input=json.dumps(conf), env=env, capture_output=True, text=True, timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise PluginError(command, plugin, f"no answer within {TIMEOUT}s") from None
    if proc.returncode:
        raise PluginError(command, plugin, _plugin_error(proc))
    try:
        return json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        raise PluginError(command, plugin, f"output is not JSON: {proc.stdout.strip()[:200]}") from None


def _plugin_error(proc: subprocess.CompletedProcess) -> str:
    """The spec's error object (`msg`, `details`, `code`), else whatever the plugin printed."""
    try:
        error = json.loads(proc.stdout)
        text = str(error["msg"]) + (f": {error['details']}" if error.get("details") else "")
        return f"{text} (code {error.get('code')})"
    except (json.JSONDecodeError, KeyError, TypeError):
        return (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}")[:500]


def _add(confs: Sequence[Mapping[str, Any]], run) -> dict:
    result: Optional[dict] = None
    for conf in confs:
        result = run("ADD", conf if result is None else {**conf, "prevResult": result})
    return result or {}


def _delete(confs: Sequence[Mapping[str, Any]], cached: Optional[dict], version: str, run) -> list[PluginError]:
    """DEL in reverse order; from 0.4.0 on libcni passes the cached ADD result as prevResult."""
    with_prev = cached is not None and version not in LEGACY_RESULTS + ("0.3.0", "0.3.1")
    failures = []
    for conf in reversed(confs):
        try:
            run("DEL", {**conf, "prevResult": cached} if with_prev else conf)
        except PluginError as exc:
            failures.append(exc)
    return failures


# --- what the result and the namespaces must show -----------------------------------------------


@dataclass(frozen=True)
class Range:
    subnet: ipaddress.IPv4Network | ipaddress.IPv6Network
    start: Optional[ipaddress.IPv4Address | ipaddress.IPv6Address]
    end: Optional[ipaddress.IPv4Address | ipaddress.IPv6Address]
    gateway: Optional[ipaddress.IPv4Address | ipaddress.IPv6Address]

    @classmethod
    def parse(cls, item: Mapping[str, Any]) -> "Range":
        def address(key: str):
            return ipaddress.ip_address(item[key]) if item.get(key) else None

        return cls(ipaddress.ip_network(item["subnet"], strict=False), address("rangeStart"), address("rangeEnd"), address("gateway"))

    def holds(self, iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> bool:
        if iface.network != self.subnet:
            return False
        return (self.start is None or iface.ip >= self.start) and (self.end is None or iface.ip <= self.end) and iface.ip != self.gateway


def host_local_ranges(ipam: Mapping[str, Any]) -> list[list[Range]]:
    """host-local's range sets: `ranges`, or the legacy top-level subnet/rangeStart/rangeEnd."""
    if ipam.get("ranges"):
        return [[Range.parse(item) for item in range_set] for range_set in ipam["ranges"]]
    return [[Range.parse(ipam)]]


def _result_ips(result: Mapping[str, Any], version: str) -> list[dict[str, Any]]:
    if version in LEGACY_RESULTS:
        return [{"address": result[k]["ip"], "gateway": result[k].get("gateway")} for k in ("ip4", "ip6") if result.get(k)]
    return list(result.get("ips") or [])


def _result_routes(result: Mapping[str, Any], version: str) -> list[dict[str, Any]]:
    if version in LEGACY_RESULTS:
        return [route for k in ("ip4", "ip6") for route in (result.get(k) or {}).get("routes") or []]
    return list(result.get("routes") or [])


def result_problems(config: Mapping[str, Any], result: Mapping[str, Any], netns: str) -> list[str]:
    """How an ADD result disagrees with the config (version, net1 in the sandbox, addresses, routes)."""
    version = _result_version(config)
    plugins = plugin_chain(config)
    problems = []
    if result.get("cniVersion") != version:
        problems.append(f"result cniVersion is {result.get('cniVersion')!r}, the config asks for {version!r}")
    try:
        ips = [ipaddress.ip_interface(ip["address"]) for ip in _result_ips(result, version)]
    except (KeyError, TypeError, ValueError) as exc:
        return problems + [f"result has an unreadable address: {exc}"]
    if version not in LEGACY_RESULTS:
        problems += _interface_problems(result, netns)
    ipam = next((_ipam(p) for p in plugins if "ipam" in p), {})
    problems += _address_problems(ipam, ips)
    problems += _route_problems(ipam, _result_routes(result, version))
    return problems


def _interface_problems(result: Mapping[str, Any], netns: str) -> list[str]:
    interfaces = result.get("interfaces") or []
    index = next((i for i, iface in enumerate(interfaces) if iface.get("name") == IFNAME), None)
    if index is None:
        return [f"result lists no interface {IFNAME}: {[i.get('name') for i in interfaces]}"]
    problems = []
    if interfaces[index].get("sandbox") != netns:
        problems.append(f"result puts {IFNAME} in sandbox {interfaces[index].get('sandbox')!r}, not {netns!r}")
    for ip in result.get("ips") or []:
        if "interface" in ip and ip["interface"] != index:
            problems.append(f"result gives {ip.get('address')} to interface #{ip['interface']}, not {IFNAME} (#{index})")
    return problems


def _address_problems(ipam: Mapping[str, Any], ips: list) -> list[str]:
    shown = ", ".join(map(str, ips)) or "none"
    kind = ipam.get("type")
    if kind == "host-local":
        try:
            range_sets = host_local_ranges(ipam)
        except (KeyError, TypeError, ValueError) as exc:
            return [f"host-local accepted a range that does not parse: {exc}"]
        problems = []
        if len(ips) != len(range_sets):
            problems.append(f"host-local has {len(range_sets)} range set(s) but the result has {len(ips)} address(es): {shown}")
        problems += [f"{ip} is outside every configured host-local range" for ip in ips if not any(r.holds(ip) for s in range_sets for r in s)]
        return problems
    if kind == "static":
        wanted = {ipaddress.ip_interface(a["address"]) for a in ipam.get("addresses") or []}
        if set(ips) != wanted:
            return [f"result addresses {shown} are not the static addresses {', '.join(sorted(map(str, wanted))) or 'none'}"]
        return []
    if not kind and ips:
        return [f"no IPAM is configured but the result has addresses: {shown}"]
    return []  # another IPAM (whereabouts, a vendor's): the pod's addresses are still compared


def _route_problems(ipam: Mapping[str, Any], routes: list[dict[str, Any]]) -> list[str]:
    if ipam.get("type") not in ("host-local", "static"):
        return []
    try:
        got = {ipaddress.ip_network(r["dst"], strict=False) for r in routes}
        wanted = [ipaddress.ip_network(r["dst"], strict=False) for r in ipam.get("routes") or []]
    except (KeyError, TypeError, ValueError) as exc:
        return [f"unreadable route: {exc}"]
    return [f"configured route {dst} is missing from the result" for dst in wanted if dst not in got]


def _pod_link(node: Node) -> Optional[dict]:
    proc = _ip("-d", "-j", "-n", node.pod, "addr", "show", "dev", IFNAME, check=False)
    if proc.returncode:
        return None
    links = json.loads(proc.stdout or "[]")
    return links[0] if links else None


def link_expectations(plugins: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Attributes of net1 the config sets; later plugins win, as tuning runs after the main plugin."""
    wanted: dict[str, Any] = {}
    main = LINK_PLUGINS.get(str(plugins[0].get("type"))) if plugins else None
    if main:
        wanted["kind"] = main.kind
        if main.modes:
            wanted["mode"] = plugins[0].get("mode") or main.modes[0]
    for plugin in plugins:
        if plugin.get("type") in MTU_SETTERS and plugin.get("mtu"):
            wanted["mtu"] = int(plugin["mtu"])
        if plugin.get("type") == "tuning":
            wanted.update({k: plugin[k] for k in ("mac", "promisc", "allmulti") if k in plugin})
    return wanted


def _link_facts(link: Mapping[str, Any]) -> dict[str, Any]:
    info = link.get("linkinfo") or {}
    flags = link.get("flags") or []
    return {
        "kind": info.get("info_kind"),
        "mode": (info.get("info_data") or {}).get("mode"),
        "mtu": link.get("mtu"),
        "mac": str(link.get("address", "")).lower(),
        "promisc": "PROMISC" in flags,
        "allmulti": "ALLMULTI" in flags,
    }


def pod_problems(node: Node, plugins: Sequence[Mapping[str, Any]], result: Mapping[str, Any], version: str) -> list[str]:
    """How net1 in the pod namespace disagrees with the result and the config."""
    link = _pod_link(node)
    if link is None:
        return [f"{IFNAME} does not exist in the pod namespace"]
    problems = []
    if "UP" not in (link.get("flags") or []):
        problems.append(f"{IFNAME} is down in the pod namespace (flags {link.get('flags')})")
    shown = {ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}") for a in link.get("addr_info") or [] if a.get("scope") == "global"}
    given = {ipaddress.ip_interface(ip["address"]) for ip in _result_ips(result, version)}
    if shown != given:
        problems.append(f"{IFNAME} has {_sorted_text(shown)} in the pod namespace but the result says {_sorted_text(given)}")
    facts = _link_facts(link)
    for key, wanted in link_expectations(plugins).items():
        if facts[key] != (wanted.lower() if key == "mac" else wanted):
            problems.append(f"{IFNAME} has {key} {facts[key]!r}, the config asks for {wanted!r}")
    iface = next((i for i in result.get("interfaces") or [] if i.get("name") == IFNAME), None)
    if iface and iface.get("mac") and iface["mac"].lower() != facts["mac"]:
        problems.append(f"result says {IFNAME} has MAC {iface['mac']}, the pod namespace shows {facts['mac']}")
    return problems + _sysctl_problems(node, plugins)


def _sorted_text(ips: set) -> str:
    return ", ".join(sorted(map(str, ips))) or "no address"


def _sysctl_problems(node: Node, plugins: Sequence[Mapping[str, Any]]) -> list[str]:
    problems = []
    for plugin in plugins:
        if plugin.get("type") != "tuning":
            continue
        for key, wanted in (plugin.get("sysctl") or {}).items():
            path = "/proc/sys/" + key.replace("IFNAME", IFNAME).replace(".", "/")
            proc = subprocess.run([_ip_binary() or "ip", "netns", "exec", node.pod, "cat", path], capture_output=True, text=True, timeout=TIMEOUT)
            value = proc.stdout.strip() if proc.returncode == 0 else f"unreadable ({proc.stderr.strip()})"
            if value != str(wanted):
                problems.append(f"sysctl {key} is {value!r} in the pod namespace, tuning asks for {wanted!r}")
    return problems


def released_problems(node: Node, container: str) -> list[str]:
    """What DEL left behind: net1, a host-device not given back, a host-local reservation."""
    problems = []
    if _pod_link(node) is not None:
        problems.append(f"{IFNAME} is still in the pod namespace after DEL")
    host = json.loads(_ip("-j", "-n", node.host, "link", "show").stdout or "[]")
    names = {link.get("ifname") for link in host}
    macs = {str(link.get("address", "")).lower() for link in host}
    for name, mac in node.devices.items():
        if (mac.lower() not in macs) if mac else (name not in names):
            problems.append(f"host-device {mac or name} is not back in the host namespace after DEL")
    for path in sorted(node.state.rglob("*")):
        if path.is_file() and not path.name.startswith(("lock", "last_reserved_ip")) and container in path.read_text(errors="replace"):
            problems.append(f"DEL left {path.name} reserved in host-local's store")
    return problems


# --- one network, a stack -----------------------------------------------------------------------


def check_config(
    config: Mapping[str, Any],
    ref: str = "",
    namespace: str = "default",
    plugin_dirs: Optional[Sequence[Path]] = None,
    like_host: bool = False,
) -> Result:
    """ADD, check, DEL, check for a config exactly as the plugin receives it (its `name` included)."""
    dirs = tuple(plugin_dirs) if plugin_dirs else find_plugin_dirs()
    plugins = plugin_chain(config)
    ref = ref or str(config.get("name"))
    label = chain_label(plugins)
    try:
        reason = skip_reason(plugins, dirs)
    except NodeError as exc:
        return Result(ref, label, FAIL, f"could not ask the kernel: {exc}")
    if reason:
        return Result(ref, label, SKIP, reason)
    try:
        with _node(plugins, like_host) as node:
            return _attach(config, plugins, node, dirs, ref, namespace, label)
    except NodeError as exc:
        return Result(ref, label, FAIL, f"could not build the node: {exc}")


def check_network(network: NetworkConfig, plugin_dirs: Optional[Sequence[Path]] = None, like_host: bool = False) -> Result:
    """A stack network, with the config Multus hands its plugin."""
    return check_config(network.cni_config, network.ref, network.namespace, plugin_dirs, like_host)


def _attach(
    config: Mapping[str, Any], plugins: Sequence[Mapping[str, Any]], node: Node, dirs: Sequence[Path],
    ref: str, namespace: str, label: str,
) -> Result:
    """ADD, compare, then DEL and look for leftovers, whatever happened before."""
    container = f"{NETNS_PREFIX}{os.getpid()}-{next(_serial)}"
    version = _result_version(config)
    confs = [_with_state_dir(p, node.state) for p in plugins]

    def run(command: str, conf: Mapping[str, Any]) -> dict:
        return _invoke(command, conf, node, dirs, container, namespace)

    problems: list[str] = []
    result: Optional[dict] = None
    attached = False
    add_error = None
    try:
        result = _add(confs, run)
        attached = _pod_link(node) is not None
        problems += result_problems(config, result, node.netns)
        problems += pod_problems(node, plugins, result, version)
    except PluginError as exc:
        add_error = exc.error
        problems.append(str(exc))
    except (KeyError, TypeError, ValueError) as exc:  # a result too malformed to compare
        problems.append(f"unreadable ADD result: {exc!r}")
    finally:
        # A runtime calls DEL after a failed ADD too; it must succeed and leave nothing behind.
        for exc in _delete(confs, result, version, run):
            problems.append(f"DEL {exc.plugin} fails the same way" if exc.error == add_error else str(exc))
        problems += released_problems(node, container)
    addresses = tuple(str(ip.get("address")) for ip in _result_ips(result or {}, version))
    return Result(ref, label, FAIL if problems else PASS, "; ".join(problems), IFNAME if attached else "", addresses, result)


def check_stack(networks: Sequence[NetworkConfig], plugin_dirs: Sequence[Path], like_host: bool = True) -> list[Result]:
    """As the operator's command runs it: on a node, stand-ins mirror the node's interfaces."""
    return [check_network(network, plugin_dirs, like_host) for network in networks]


def format_table(results: Sequence[Result]) -> str:
    rows = [("NETWORK", "PLUGINS", "IFACE", "ADDRESS", "RESULT")]
    for r in results:
        verdict = r.verdict if not r.reason else f"{r.verdict}: {r.reason}"
        rows.append((r.network, r.plugins, r.interface or "-", ",".join(r.addresses) or "-", verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4] for row in rows]
    counts = {v: sum(r.verdict == v for r in results) for v in (PASS, FAIL, SKIP)}
    lines.append(f"{len(results)} network(s): {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return "\n".join(lines) + "\n"


def command(args: argparse.Namespace) -> int:
    """0 when no network failed (skips allowed), 1 when one did, 2 when nothing could run."""
    stack, path = stackfile.resolve(args.stack, args.stack_file)
    config = load_stack_config(stackfile.load_config(path), stackfile.project_name())
    try:
        dirs = find_plugin_dirs()
        preflight(dirs)
    except EnvironmentProblem as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    print(f"stack {stack}: plugins from {_dirs_text(dirs)}, kernel {os.uname().release}")
    if not config.networks:
        print("no networks under multus-cni:networks: nothing to check")
        return 0
    results = check_stack(config.networks, dirs)
    sys.stdout.write(format_table(results))
    return 1 if any(r.verdict == FAIL for r in results) else 0
