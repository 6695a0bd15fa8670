"""What the ADD result, the pod namespace and the node after DEL must show for a config.

Each check returns problems as sentences (empty: it agrees). Addresses and routes are compared
with the catalog's IPAM models (components.cni.ipam); when the catalog cannot read an IPAM section
(a config the validator rejects, run on purpose) there is no range to compare, and the plugin's
own verdict stands.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterable, Mapping, Optional, Sequence

from pydantic import ValidationError

from components.cni.addresses import Address, ip, network
from components.cni.ipam import IPAM, HostLocal, Ipam, Pool, Static
from . import node
from .chain import LEGACY_RESULTS, LINK_PLUGINS, MTU_SETTERS, chain_ipam, plugin_chain, result_version
from .node import IFNAME, Node

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


# --- reading a result of any version ------------------------------------------------------------


def result_ips(result: Mapping[str, Any], version: str) -> list[dict[str, Any]]:
    """The result's address entries (`address`, `gateway`), from ip4/ip6 before CNI 0.3.0."""
    if version in LEGACY_RESULTS:
        return [{"address": result[k]["ip"], "gateway": result[k].get("gateway")} for k in ("ip4", "ip6") if result.get(k)]
    return list(result.get("ips") or [])


def _result_interfaces(result: Mapping[str, Any], version: str) -> list[Interface]:
    return [ipaddress.ip_interface(entry["address"]) for entry in result_ips(result, version)]


def _result_routes(result: Mapping[str, Any], version: str) -> list[dict[str, Any]]:
    if version in LEGACY_RESULTS:
        return [route for k in ("ip4", "ip6") for route in (result.get(k) or {}).get("routes") or []]
    return list(result.get("routes") or [])


def _sorted_text(items: Iterable[Any], empty: str) -> str:
    return ", ".join(sorted(map(str, items))) or empty


# --- the ADD result -----------------------------------------------------------------------------


def result_problems(config: Mapping[str, Any], result: Mapping[str, Any], netns: str) -> list[str]:
    """How an ADD result disagrees with the config (version, net1 in the sandbox, addresses, routes)."""
    version = result_version(config)
    problems = []
    if result.get("cniVersion") != version:
        problems.append(f"result cniVersion is {result.get('cniVersion')!r}, the config asks for {version!r}")
    try:
        ips = _result_interfaces(result, version)
    except (KeyError, TypeError, ValueError) as exc:
        return problems + [f"result has an unreadable address: {exc}"]
    if version not in LEGACY_RESULTS:
        problems += _interface_problems(result, netns)
    ipam = chain_ipam(plugin_chain(config))
    model = catalog_ipam(ipam)
    problems += _address_problems(ipam.get("type"), model, ips)
    problems += _route_problems(model, _result_routes(result, version))
    return problems


def catalog_ipam(ipam: Mapping[str, Any]) -> Optional[Ipam]:
    """The catalog's model of an IPAM section, or None when the catalog cannot read it. Keys the
    model does not know, typos too, are kept aside (raw), as the plugins' JSON decoding ignores them."""
    try:
        return IPAM.validate_python(ipam, context={"raw": True})
    except ValidationError:
        return None


def _interface_problems(result: Mapping[str, Any], netns: str) -> list[str]:
    interfaces = result.get("interfaces") or []
    index = next((i for i, iface in enumerate(interfaces) if iface.get("name") == IFNAME), None)
    if index is None:
        return [f"result lists no interface {IFNAME}: {[i.get('name') for i in interfaces]}"]
    problems = []
    if interfaces[index].get("sandbox") != netns:
        problems.append(f"result puts {IFNAME} in sandbox {interfaces[index].get('sandbox')!r}, not {netns!r}")
    for entry in result.get("ips") or []:
        if "interface" in entry and entry["interface"] != index:
            problems.append(f"result gives {entry.get('address')} to interface #{entry['interface']}, not {IFNAME} (#{index})")
    return problems


def host_local_range_sets(ipam: HostLocal) -> list[list[tuple[Pool, Optional[Address]]]]:
    """host-local's range sets, each range as (pool, gateway): `ranges`, or the legacy top-level range."""
    def gateway(text: Optional[str]) -> Optional[Address]:
        return ip(text) if text else None

    if ipam.ranges is None:
        [pool] = ipam.pools()
        return [[(pool, gateway(ipam.gateway))]]
    return [[(r.pool(), gateway(r.gateway)) for r in range_set] for range_set in ipam.ranges]


def _hands_out(pool: Pool, gateway: Optional[Address], iface: Interface) -> bool:
    """host-local gives an address of the range, with the subnet's prefix, never the gateway."""
    return iface.network == pool.subnet and iface.ip in pool and iface.ip != gateway


def _address_problems(kind: Optional[str], ipam: Optional[Ipam], ips: list[Interface]) -> list[str]:
    """host-local: one address per range set, each inside a range; static: exactly its addresses."""
    shown = ", ".join(map(str, ips)) or "none"
    if isinstance(ipam, HostLocal):
        range_sets = host_local_range_sets(ipam)
        problems = []
        if len(ips) != len(range_sets):
            problems.append(f"host-local has {len(range_sets)} range set(s) but the result has {len(ips)} address(es): {shown}")
        problems += [
            f"{iface} is outside every configured host-local range"
            for iface in ips
            if not any(_hands_out(pool, gateway, iface) for range_set in range_sets for pool, gateway in range_set)
        ]
        return problems
    if isinstance(ipam, Static):
        wanted = {ipaddress.ip_interface(entry.address) for entry in ipam.addresses or ()}
        if set(ips) != wanted:
            return [f"result addresses {shown} are not the static addresses {_sorted_text(wanted, 'none')}"]
        return []
    if not kind and ips:
        return [f"no IPAM is configured but the result has addresses: {shown}"]
    return []  # another IPAM (whereabouts, a vendor's), or one the catalog cannot read: the pod's addresses are still compared


def _route_problems(ipam: Optional[Ipam], routes: list[dict[str, Any]]) -> list[str]:
    """Every route host-local or static is configured with is in the result."""
    if not isinstance(ipam, (HostLocal, Static)):
        return []
    try:
        got = {network(route["dst"]) for route in routes}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"unreadable route: {exc}"]
    return [f"configured route {route.dst} is missing from the result" for route in ipam.routes or () if network(route.dst) not in got]


# --- net1 in the pod namespace ------------------------------------------------------------------


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


def pod_problems(stand_in: Node, plugins: Sequence[Mapping[str, Any]], result: Mapping[str, Any], version: str) -> list[str]:
    """How net1 in the pod namespace disagrees with the result and the config."""
    link = node.pod_link(stand_in)
    if link is None:
        return [f"{IFNAME} does not exist in the pod namespace"]
    problems = []
    if "UP" not in (link.get("flags") or []):
        problems.append(f"{IFNAME} is down in the pod namespace (flags {link.get('flags')})")
    shown = {ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}") for a in link.get("addr_info") or [] if a.get("scope") == "global"}
    given = set(_result_interfaces(result, version))
    if shown != given:
        problems.append(f"{IFNAME} has {_sorted_text(shown, 'no address')} in the pod namespace "
                        f"but the result says {_sorted_text(given, 'no address')}")
    facts = _link_facts(link)
    for key, wanted in link_expectations(plugins).items():
        if facts[key] != (wanted.lower() if key == "mac" else wanted):
            problems.append(f"{IFNAME} has {key} {facts[key]!r}, the config asks for {wanted!r}")
    iface = next((i for i in result.get("interfaces") or [] if i.get("name") == IFNAME), None)
    if iface and iface.get("mac") and iface["mac"].lower() != facts["mac"]:
        problems.append(f"result says {IFNAME} has MAC {iface['mac']}, the pod namespace shows {facts['mac']}")
    return problems + _sysctl_problems(stand_in, plugins)


def _sysctl_problems(stand_in: Node, plugins: Sequence[Mapping[str, Any]]) -> list[str]:
    problems = []
    for plugin in plugins:
        if plugin.get("type") != "tuning":
            continue
        for key, wanted in (plugin.get("sysctl") or {}).items():
            path = "/proc/sys/" + key.replace("IFNAME", IFNAME).replace(".", "/")
            proc = node.run_in(stand_in.pod, ["cat", path])
            value = proc.stdout.strip() if proc.returncode == 0 else f"unreadable ({proc.stderr.strip()})"
            if value != str(wanted):
                problems.append(f"sysctl {key} is {value!r} in the pod namespace, tuning asks for {wanted!r}")
    return problems


# --- the node after DEL -------------------------------------------------------------------------


def released_problems(stand_in: Node, container: str) -> list[str]:
    """What DEL left behind: net1, a host-device not given back, a host-local reservation."""
    problems = []
    if node.pod_link(stand_in) is not None:
        problems.append(f"{IFNAME} is still in the pod namespace after DEL")
    host = node.host_links(stand_in)
    names = {link.get("ifname") for link in host}
    macs = {str(link.get("address", "")).lower() for link in host}
    for name, mac in stand_in.devices.items():
        if (mac.lower() not in macs) if mac else (name not in names):
            problems.append(f"host-device {mac or name} is not back in the host namespace after DEL")
    for path in sorted(stand_in.state.rglob("*")):
        if path.is_file() and not path.name.startswith(("lock", "last_reserved_ip")) and container in path.read_text(errors="replace"):
            problems.append(f"DEL left {path.name} reserved in host-local's store")
    return problems
