"""Which plugin binaries this machine has, and why a chain cannot be exercised here.

A skip is never a judgement on the config: it names what the machine lacks (a binary, a daemon,
a device, a kernel link type), so that only the plugins themselves fail a network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from . import node
from .chain import LINK_PLUGINS, ipam_of
from .node import EnvironmentProblem

DEFAULT_PLUGIN_DIRS = (Path("/opt/cni/bin"), Path("/usr/lib/cni"))  # a node's, then Debian's

# Plugins whose ADD cannot be exercised on a bare node, whatever binaries it has.
NEEDS_MORE = {
    "whereabouts": "whereabouts keeps its IP pools in the Kubernetes API (IPPool objects) and is not packaged in Debian",
    "sriov": "sriov needs an SR-IOV virtual function handed out by the SR-IOV device plugin and is not packaged in Debian",
    "dhcp": "dhcp IPAM needs the `dhcp daemon` running on the node and a DHCP server on the master's network",
}


def find_plugin_dirs() -> tuple[Path, ...]:
    """`CNI_PATH` (colon-separated) when set, as libcni reads it; else the first default that holds
    plugins, else the first that exists: an empty /opt/cni/bin (the mount point the local cluster's
    real node makes, cluster/node.sh) does not hide Debian's plugins."""
    if os.environ.get("CNI_PATH"):
        dirs = tuple(Path(p) for p in os.environ["CNI_PATH"].split(os.pathsep) if p)
        existing = tuple(d for d in dirs if d.is_dir())
        if not existing:
            raise EnvironmentProblem(f"CNI_PATH={os.environ['CNI_PATH']}: no such directory")
        return existing
    existing = [d for d in DEFAULT_PLUGIN_DIRS if d.is_dir()]
    filled = [d for d in existing if any(_executable(p) for p in d.iterdir())]
    if existing:
        return ((filled or existing)[0],)
    raise EnvironmentProblem(
        f"no CNI plugin directory ({' or '.join(map(str, DEFAULT_PLUGIN_DIRS))}): install the reference plugins "
        "(apt-get install containernetworking-plugins) or set CNI_PATH"
    )


def dirs_text(dirs: Sequence[Path]) -> str:
    """The plugin path as CNI_PATH spells it."""
    return os.pathsep.join(map(str, dirs))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def require_binaries(dirs: Sequence[Path]) -> None:
    if not any(_executable(p) for d in dirs for p in d.iterdir()):
        raise EnvironmentProblem(f"{dirs_text(dirs)} holds no plugin binaries (apt-get install containernetworking-plugins)")


def find_plugin(kind: str, dirs: Sequence[Path]) -> Optional[Path]:
    """The binary libcni would run for a `type`: the first match along the plugin path."""
    if not node.is_file_name(kind):
        return None
    return next((d / kind for d in dirs if _executable(d / kind)), None)


def skip_reason(plugins: Sequence[Mapping[str, Any]], dirs: Sequence[Path]) -> Optional[str]:
    """Why this chain cannot be exercised here, or None: never a judgement on the config."""
    for plugin in plugins:
        for kind in (plugin.get("type"), ipam_of(plugin).get("type")):
            if not kind:
                continue
            if kind in NEEDS_MORE:
                return NEEDS_MORE[kind]
            if find_plugin(str(kind), dirs) is None:
                return f"plugin binary {kind!r} is not in {dirs_text(dirs)}"
        if plugin.get("type") == "host-device" and not (plugin.get("device") or plugin.get("hwaddr")):
            by = [k for k in ("pciBusID", "kernelpath") if plugin.get(k)] or ["the deviceID capability"]
            return f"host-device by {by[0]} needs that real device; only a `device` or `hwaddr` can be stood in for"
        refusal = _link_refusal(plugin)
        if refusal:
            return refusal
    return None


def _link_refusal(plugin: Mapping[str, Any]) -> Optional[str]:
    """The kernel's refusal of the link this plugin creates (ipvlan on a kernel without it)."""
    link = LINK_PLUGINS.get(str(plugin.get("type")))
    if link is None:
        return None
    mode = plugin.get("mode") or (link.modes[0] if link.modes else None)
    # Only modes the plugin accepts are asked of the kernel: a bad mode is the plugin's to reject.
    wanted = link.kernel + (("mode", mode) if mode in link.modes else ())
    refusal = node.kernel_refusal((("link", node.PROBE_LOWER) if link.on_master else ()) + wanted)
    if refusal is None:
        return None
    return f"this kernel cannot create the link {plugin.get('type')} needs (`ip link add ... {' '.join(wanted)}` on a fresh veth: {refusal})"
