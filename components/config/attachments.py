"""Checks of how workloads attach to networks: references, capabilities, addresses, interfaces."""

from __future__ import annotations

from typing import Mapping, Optional

from ..cni.addresses import ip
from .errors import Found, suggest
from .network import NetworkConfig
from .base import ref_of
from .workload import WorkloadConfig

RESERVED_INTERFACES = ("eth0", "lo")  # the pod's default network and loopback


def attachment_problems(
    workload: WorkloadConfig,
    networks: Mapping[tuple[str, str], NetworkConfig],
    external: set[tuple[str, str]],
    project: str,
) -> Found:
    """Problems at paths relative to the workload; `networks` are the ones whose configs are known."""
    loc: tuple = ()
    found: Found = []
    for s_index, (selection, key) in enumerate(zip(workload.networks, workload.network_keys())):
        here = (*loc, "networks", s_index)
        if key not in networks and key not in external:
            found.append((here, _undefined(key, networks, project)))
            continue
        found += _request_problems(here, selection, networks.get(key))
    default = workload.default_network_key()
    if default is not None and default not in networks and default not in external:
        found.append(((*loc, "defaultNetwork"), _undefined(default, networks, project)))
    found += _interface_problems(loc, workload)
    routes = [i for i, s in enumerate(workload.networks) if s.default_route]
    if len(routes) > 1:
        found.append(((*loc, "networks", routes[1], "default-route"),
                      f"only one network may set default-route (networks[{routes[0]}] already does)"))
    fixed = [k for k in ("ips", "mac") if any(getattr(s, k) for s in workload.networks)]
    if workload.replicas > 1 and fixed:
        found.append(((*loc, "replicas"), (
            f"{workload.replicas} replicas would all request the same {' and '.join(fixed)}; "
            "fixed addresses need one Pod each"
        )))
    return found


def _undefined(key: tuple[str, str], networks: Mapping[tuple[str, str], NetworkConfig], project: str) -> str:
    hint = suggest(key[1], [name for namespace, name in networks if namespace == key[0]])
    return (f"network {ref_of(key)} is not defined under {project}:networks{hint} "
            f"(list a NAD created elsewhere under {project}:externalNetworks)")


def _request_problems(loc: tuple, selection, network: Optional[NetworkConfig]) -> Found:
    """Capabilities and addresses can only be checked for networks this stack defines."""
    if network is None:
        return []
    found: Found = []
    summary = network.summary
    for capability in selection.requested_capabilities():
        if capability not in summary.capabilities:
            found.append(((*loc, capability), (
                f"network {network.ref} does not declare the {capability!r} capability, so Multus would reject "
                f'this request; add "capabilities": {{"{capability}": true}} to its plugin (multi-net-spec §4.1.2.1)'
            )))
    if selection.ips and summary.pools and summary.ipam != "static":
        for i, text in enumerate(selection.ips):
            address = ip(text.partition("/")[0])
            if not any(address in pool for pool in summary.pools):
                pools = ", ".join(str(p) for p in summary.pools)
                found.append(((*loc, "ips", i), f"{text} is outside the addresses of network {network.ref} ({pools})"))
    return found


def _interface_problems(loc: tuple, workload: WorkloadConfig) -> Found:
    found: Found = []
    seen: dict[str, int] = {}
    for index, name in enumerate(workload.interfaces()):
        where = (*loc, "networks", index, "interface")
        if name in RESERVED_INTERFACES:
            found.append((where, f"{name!r} is taken by the pod's {'default network' if name == 'eth0' else 'loopback'}"))
        elif name in seen:
            found.append((where, f"interface {name!r} is already used by networks[{seen[name]}]"))
        seen.setdefault(name, index)
    return found
