"""A config as libcni hands it to the plugins: the chain, its result version, its IPAM, its links.

Read from the raw config, not the catalog's models: configs the validator rejects run too, so that
the real plugin's refusal is what proves them wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from components.cni import PLUGINS

LEGACY_RESULTS = ("0.1.0", "0.2.0")  # result formats with ip4/ip6 and no interfaces list


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

# Plugins that apply their `mtu` to the pod's interface: the catalog's plugins that take one.
MTU_SETTERS = frozenset(kind for kind, model in PLUGINS.items() if "mtu" in model.model_fields)


def plugin_chain(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The configs libcni hands each plugin: a conflist's get its `name` and `cniVersion`."""
    if "plugins" not in config:
        return [dict(config)]
    shared = {"name": config.get("name")}
    if config.get("cniVersion"):
        shared["cniVersion"] = config["cniVersion"]
    return [{**plugin, **shared} for plugin in config["plugins"]]


def ipam_of(plugin: Mapping[str, Any]) -> dict[str, Any]:
    """The plugin's IPAM section, {} when it has none (or not an object)."""
    ipam = plugin.get("ipam")
    return ipam if isinstance(ipam, dict) else {}


def chain_ipam(plugins: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The IPAM of the chain: the first plugin's that has an `ipam` key (the interface plugin)."""
    return next((ipam_of(p) for p in plugins if "ipam" in p), {})


def chain_label(plugins: Sequence[Mapping[str, Any]]) -> str:
    """The chain for people, e.g. "bridge(host-local),tuning"."""
    return ",".join(f"{p.get('type')}({ipam_of(p)['type']})" if ipam_of(p).get("type") else str(p.get("type")) for p in plugins)


def result_version(config: Mapping[str, Any]) -> str:
    """Plugins read a missing cniVersion as 0.1.0 (libcni pkg/version ConfigDecoder)."""
    return str(config.get("cniVersion") or "0.1.0")
