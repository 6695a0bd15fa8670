"""Check a CNI config or conflist against the catalog and summarise what it attaches.

Types outside the catalog (third-party plugins such as route-override) pass only when the
network sets `raw: true`; then their own keys pass and their conventional parts (`dns`, an IPAM's
routes and addresses) get warnings (conventions.py). Meta plugins that need an earlier plugin's
result are refused first or alone, and each plugin's oldest cniVersion is held. The config itself
is never rewritten: checking is separate from what we emit.

Unknown keys: the plugins decode their config with Go's `json.Unmarshal`, which drops keys it
does not know, and chained readers rely on that (an IPAM plugin such as calico-ipam reads keys
beside the main plugin's). So an unknown key is a warning naming the plugin that ignores it;
only a near miss of a known key (a typo) is an error, and `raw: true` makes that a warning too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from pydantic import TypeAdapter, ValidationError

from ..core.errors import Found, did_you_mean, flatten, near_miss
from . import conventions
from .common import CNI_VERSIONS, CniModel
from .ipam import IPAM, IPAMS, Pool, Static, Whereabouts
from .plugins import PLUGIN, PLUGINS, InterfacePlugin, MetaPlugin

# Keys of a conflist's top level (CNI SPEC.md "Network configuration lists", 1.1.0).
CONFLIST_KEYS = frozenset({"cniVersion", "cniVersions", "name", "plugins", "disableCheck", "disableGC", "loadOnlyInlinedPlugins"})
# Settings of some catalog plugin: at a conflist's top level, one of these is a misplaced setting.
_PLUGIN_KEYS = frozenset(key for model in PLUGINS.values() for key in model.known_keys())
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
    #: static IPAM with no address of its own: ADD fails with "IPAM plugin returned missing IP
    #: config" (containernetworking/plugins plugins/main/*) unless the pod requests `ips`.
    addresses_from_pod: bool = False
    #: the whereabouts IPAM model, when the network uses it: its ranges and network_name name the
    #: cluster's IPPools (multus-cni audit-ipam).
    whereabouts: Optional[Whereabouts] = field(default=None, compare=False)

    @property
    def capabilities(self) -> frozenset[str]:
        """Capabilities a pod may request: declared by the config (multi-net-spec §4.1.2.1)."""
        return self.declared


@dataclass
class _Builder:
    problems: Found = field(default_factory=list)
    warnings: Found = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    ipam: Optional[str] = None
    pools: list[Pool] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    declared: set[str] = field(default_factory=set)
    overlapping_allowed: bool = False
    addresses_from_pod: bool = False
    whereabouts: Optional[Whereabouts] = None


def check(config: dict[str, Any], raw: bool = False) -> tuple[Summary, Found, Found]:
    """(summary, problems, warnings) of a structurally valid config (see config.network.structure_problems)."""
    out = _Builder()
    version = _run_version(config)
    if "plugins" in config:
        _conflist_keys(config, out)
        for index, plugin in enumerate(config["plugins"]):
            _plugin(plugin, ("plugins", index), raw, out, chained=index > 0, version=version)
    else:
        _plugin(config, (), raw, out, chained=False, version=version)
    summary = Summary(
        chain=tuple(out.chain), ipam=out.ipam, pools=tuple(out.pools), links=tuple(out.links),
        declared=frozenset(out.declared),
        overlapping_allowed=out.overlapping_allowed, is_conflist="plugins" in config,
        addresses_from_pod=out.addresses_from_pod, whereabouts=out.whereabouts,
    )
    return summary, out.problems, out.warnings


def _run_version(config: dict[str, Any]) -> Optional[str]:
    """The cniVersion every plugin runs with, when the config sets one: libcni injects the
    conflist's into each plugin (libcni/api.go buildOneConfig), the highest of `cniVersion` and
    `cniVersions` (libcni/conf.go NetworkConfFromBytes)."""
    given = [config.get("cniVersion")]
    if "plugins" in config and isinstance(config.get("cniVersions"), list):
        given += config["cniVersions"]
    known = [v for v in given if isinstance(v, str) and v in CNI_VERSIONS]
    return max(known, key=CNI_VERSIONS.index) if known else None


def _conflist_keys(config: dict[str, Any], out: _Builder) -> None:
    """libcni reads a conflist's own keys only (libcni/conf.go NetworkConfFromBytes), and the
    plugins get only their own entry of plugins[]: any other top-level key does nothing. A typo
    of a conflist key is an error; so is a setting that a plugin of the chain reads and does not
    set itself (that plugin runs without it). Anything else is ignored, and said so."""
    plugins = config["plugins"]
    for key in sorted(k for k in config if k not in CONFLIST_KEYS):
        near = near_miss(key, CONFLIST_KEYS, typo=True)
        lost = [index for index, plugin in enumerate(plugins)
                if key not in plugin and key in getattr(PLUGINS.get(plugin["type"]), "model_fields", {})]
        if near:
            out.problems.append(((key,), f"unknown key for a conflist; did you mean {near!r}?"))
        elif lost:
            where = ", ".join(f"plugins[{i}] ({plugins[i]['type']})" for i in lost)
            out.problems.append(((key,), f"libcni ignores plugin settings at a conflist's top level, so {where} runs "
                                 f"without it; move it into {'that plugin' if len(lost) == 1 else 'those plugins'}"))
        elif key in _PLUGIN_KEYS:
            out.warnings.append(((key,), "libcni ignores this key at a conflist's top level (plugin settings go inside "
                                 "plugins[], and every plugin here that reads it sets its own); kept in the NAD as written"))
        else:
            out.warnings.append(((key,), "libcni and Multus ignore this key: a conflist carries cniVersion, name and "
                                 "plugins[] (CNI SPEC.md); kept in the NAD as written"))


def _validate(adapter: TypeAdapter, known: Mapping[str, type], data: dict[str, Any], loc: tuple, raw: bool,
              owner: str, out: _Builder) -> Optional[CniModel]:
    """The model of `data`, or None when it has problems or a type outside the catalog (an error
    unless `raw`); unknown keys are judged as the module says."""
    if any(k.startswith("cni.dev/") for k in data):  # reserved for runtimes (SPEC.md): passed, not checked
        data = {k: v for k, v in data.items() if not k.startswith("cni.dev/")}
    try:
        model = adapter.validate_python(data, context={"raw": raw})
    except ValidationError as exc:
        [first, *_] = exc.errors(include_url=False)
        if first["type"] == "unknown_type":  # the discriminator's: nothing else was validated
            if not raw:
                type_ = data["type"]
                out.problems.append(((*loc, "type"), f"unknown {first['ctx']['kind']} type {type_!r}"
                                     f"{did_you_mean(type_, known)}{_RAW_HINT}"))
            return None
        out.problems += [(loc + sub[1:], message) for sub, message in flatten(exc)]  # sub[0] is the union's tag
        return None
    for sub, keys in model.ignored():
        near = near_miss(str(sub[-1]), keys, typo=True)
        if near:  # a typo is refused in validation unless raw
            out.warnings.append((loc + sub, f"unknown key; did you mean {near!r}? {owner} ignores it; kept because "
                                 "the network sets raw: true"))
        else:
            out.warnings.append((loc + sub, f"{owner} ignores this key: it is none of its settings, and Go's JSON "
                                 "decoding drops unknown keys; kept in the NAD for any other reader"))
    return model


def _plugin(data: dict[str, Any], loc: tuple, raw: bool, out: _Builder, chained: bool, version: Optional[str]) -> None:
    type_ = data["type"]
    out.chain.append(type_)
    capabilities = data.get("capabilities")
    if isinstance(capabilities, dict):
        out.declared |= {k for k, v in capabilities.items() if v is True}
    plugin = _validate(PLUGIN, PLUGINS, data, loc, raw, f"the {type_} plugin", out)
    model = PLUGINS.get(type_)
    if model is None:
        if raw:
            out.warnings += conventions.plugin_warnings(data, loc, f"the {type_} plugin")
        if isinstance(data.get("ipam"), dict):
            _ipam(data["ipam"], (*loc, "ipam"), raw, out)
        return
    if model.WARNING:
        out.warnings.append(((*loc, "type"), model.WARNING))
    if issubclass(model, MetaPlugin) and not chained:
        out.problems.append(((*loc, "type"), (
            f"{type_} only works chained: its ADD changes what an earlier plugin made and fails alone with "
            f"\"{model.PREV_RESULT_ERROR}\"; put it in a conflist after an interface plugin "
            f"(plugins: [{{type: macvlan, ...}}, {{type: {type_}, ...}}])")))
    if version is not None and model.MIN_CNI_VERSION and CNI_VERSIONS.index(version) < CNI_VERSIONS.index(model.MIN_CNI_VERSION):
        where = f" (plugins[{loc[1]}])" if loc else ""
        out.problems.append((("cniVersion",), (
            f"is {version}, but {type_}{where} supports {model.MIN_CNI_VERSION} and later: its ADD fails with "
            f"\"incompatible CNI versions\"; set cniVersion to {model.MIN_CNI_VERSION} or later")))
    if not issubclass(model, InterfacePlugin):
        return
    if plugin is not None and plugin.link() is not None:
        out.links.append((type_, plugin.link()))
    needed_by = type_ if model.IPAM == "required" or (model.IPAM == "unless-chained" and not chained) else None
    section = data.get("ipam")
    if isinstance(section, dict):
        ipam = _ipam(section, (*loc, "ipam"), raw, out, (type_, model.NO_IPAM_ERROR) if needed_by else None)
        if isinstance(ipam, Static) and not ipam.addresses and not _args_ips(data):
            out.addresses_from_pod = True
    elif section is None and needed_by:
        out.problems.append(((*loc, "ipam"), f"{type_} needs an ipam section naming an IPAM plugin: it runs one on every ADD"))


def _args_ips(plugin: dict[str, Any]) -> bool:
    """Addresses static IPAM also reads from the config: `args.cni.ips` and `runtimeConfig.ips`
    (containernetworking/plugins plugins/ipam/static/main.go LoadIPAMConfig)."""
    args, runtime = plugin.get("args"), plugin.get("runtimeConfig")
    cni = args.get("cni") if isinstance(args, dict) else None
    return bool((isinstance(cni, dict) and cni.get("ips")) or (isinstance(runtime, dict) and runtime.get("ips")))


def _ipam(data: dict[str, Any], loc: tuple, raw: bool, out: _Builder,
          needed_by: Optional[tuple[str, str]] = None) -> Optional[Any]:
    """`needed_by`: the plugin that always runs IPAM, so that `{}` is no choice, and what its ADD
    answers without an IPAM type."""
    type_ = data.get("type")
    if needed_by and (not isinstance(type_, str) or not type_):
        name, error = needed_by
        out.problems.append(((*loc, "type"), (
            f"is required: {name} runs the IPAM plugin on every ADD, and without a type that fails with "
            f"\"{error}\"; name one (host-local, static, dhcp, whereabouts)")))
        return None
    if not data:
        out.ipam = out.ipam or "none"
        return None
    if not isinstance(type_, str) or not type_:
        out.problems.append(((*loc, "type"), "is required: the IPAM plugin (host-local, static, dhcp, whereabouts), or write ipam: {}"))
        return None
    out.ipam = type_
    if type_ not in IPAMS and raw:
        out.warnings += conventions.ipam_warnings(data, loc, f"the {type_} IPAM plugin")
    ipam = _validate(IPAM, IPAMS, data, loc, raw, f"the {type_} IPAM plugin", out)
    if ipam is None:
        return None
    out.pools += ipam.pools()
    out.overlapping_allowed = isinstance(ipam, Whereabouts) and ipam.overlapping_allowed
    out.whereabouts = ipam if isinstance(ipam, Whereabouts) else None
    return ipam
