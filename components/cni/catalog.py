"""Check a CNI config or conflist against the catalog and summarise what it attaches.

Types outside the catalog (third-party plugins such as route-override) pass only when the
network sets `raw: true`; then only their structure is checked. The config itself is never
rewritten: checking is separate from what we emit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from pydantic import ValidationError

from ..config.errors import Found, flatten, suggest
from .ipam import IPAMS, Pool, Whereabouts
from .plugins import PLUGINS, InterfacePlugin

# Keys of a conflist's top level (CNI SPEC.md "Network configuration lists", 1.1.0).
CONFLIST_KEYS = frozenset({"cniVersion", "cniVersions", "name", "plugins", "disableCheck", "disableGC", "loadOnlyInlinedPlugins"})
_RAW_HINT = " (a third-party plugin passes unchecked when the network sets raw: true)"



@dataclass(frozen=True)
class Summary:
    """What a checked config attaches: its plugin chain, IPAM, address pools and host links."""

    chain: tuple[str, ...] = ()
    ipam: Optional[str] = None
    pools: tuple[Pool, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (plugin type, link)
    declared: frozenset[str] = frozenset()  # capabilities set true in the config
    overlapping_allowed: bool = False  # whereabouts with enable_overlapping_ranges
    is_conflist: bool = False

    @property
    def capabilities(self) -> frozenset[str]:
        """Capabilities a pod may request: declared by the config (multi-net-spec §4.1.2.1)."""
        return self.declared


@dataclass
class _Builder:
    problems: Found = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    ipam: Optional[str] = None
    pools: list[Pool] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)
    overlapping_allowed: bool = False


def check(config: dict[str, Any], raw: bool = False) -> tuple[Summary, Found]:
    """(summary, problems) of a structurally valid config (see config.network.structure_problems)."""
    out = _Builder()
    if "plugins" in config:
        for key in sorted(k for k in config if k not in CONFLIST_KEYS):
            out.problems.append(((key,), "unknown key for a conflist" + suggest(key, CONFLIST_KEYS)
                                 + " (plugin settings go inside plugins[])"))
        for index, plugin in enumerate(config["plugins"]):
            _plugin(plugin, ("plugins", index), raw, out, chained=index > 0)
    else:
        _plugin(config, (), raw, out, chained=False)
    summary = Summary(
        chain=tuple(out.chain), ipam=out.ipam, pools=tuple(out.pools), links=tuple(out.links),
        declared=frozenset(out.declared),
        overlapping_allowed=out.overlapping_allowed, is_conflist="plugins" in config,
    )
    return summary, out.problems


def _validate(model: type, data: dict[str, Any], loc: tuple, out: _Builder) -> Optional[Any]:
    if any(k.startswith("cni.dev/") for k in data):  # reserved for runtimes (SPEC.md): passed, not checked
        data = {k: v for k, v in data.items() if not k.startswith("cni.dev/")}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        out.problems += [(loc + sub, message) for sub, message in flatten(exc, model)]
        return None


def _unknown_type(kind: str, type_: str, known: dict, loc: tuple, raw: bool, out: _Builder) -> None:
    if not raw:
        out.problems.append(((*loc, "type"), f"unknown {kind} type {type_!r}{suggest(type_, known)}{_RAW_HINT}"))


def _plugin(data: dict[str, Any], loc: tuple, raw: bool, out: _Builder, chained: bool) -> None:
    type_ = data["type"]
    out.chain.append(type_)
    capabilities = data.get("capabilities")
    if isinstance(capabilities, dict):
        out.declared |= {k for k, v in capabilities.items() if v is True}
    model = PLUGINS.get(type_)
    if model is None:
        _unknown_type("plugin", type_, PLUGINS, loc, raw, out)
        if isinstance(data.get("ipam"), dict):
            _ipam(data["ipam"], (*loc, "ipam"), raw, out)
        return
    plugin = _validate(model, data, loc, out)
    if not issubclass(model, InterfacePlugin):
        return
    if plugin is not None and plugin.link() is not None:
        out.links.append((type_, plugin.link()))
    if isinstance(data.get("ipam"), dict):
        _ipam(data["ipam"], (*loc, "ipam"), raw, out)
    elif "ipam" not in data and model.IPAM == "required" and not chained:
        out.problems.append(((*loc, "ipam"), f"{type_} needs an ipam section: it runs the IPAM plugin on every ADD"))


def _ipam(data: dict[str, Any], loc: tuple, raw: bool, out: _Builder) -> None:
    if not data:
        out.ipam = out.ipam or "none"
        return
    type_ = data.get("type")
    if not isinstance(type_, str) or not type_:
        out.problems.append(((*loc, "type"), "is required: the IPAM plugin (host-local, static, dhcp, whereabouts), or write ipam: {}"))
        return
    out.ipam = type_
    model = IPAMS.get(type_)
    if model is None:
        _unknown_type("IPAM", type_, IPAMS, loc, raw, out)
        return
    ipam = _validate(model, data, loc, out)
    if ipam is None:
        return
    out.pools += ipam.pools()
    out.overlapping_allowed = isinstance(ipam, Whereabouts) and ipam.overlapping_allowed

