"""Checks of how workloads attach to networks: references, capabilities, addresses, interfaces."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ..cni.addresses import ip
from ..core.errors import Found, did_you_mean
from .network import NetworkConfig
from ..core.model import ref_of
from .workload import NetworkSelection, WorkloadConfig

RESERVED_INTERFACES = ("eth0", "lo")  # the pod's default network and loopback

# Multus passes `ips` and `mac` to the plugin as IP= and MAC= in CNI_ARGS whether or not the
# network declares the capability (multus-cni pkg/multus/multus.go DelegateAdd). Who reads them,
# in containernetworking/plugins and sriov-cni:
#: IPAM plugins reading IP= : static takes a comma list of addresses in CIDR form
#: (plugins/ipam/static/main.go IPAMEnvArgs), host-local one address (host-local/backend/allocator/config.go).
IP_ARG_READERS = ("static", "host-local")
#: Plugins reading MAC= (MacEnvArgs in macvlan.go, bridge.go, tuning.go; sriov-cni pkg/cnicommands/cni.go).
MAC_ARG_READERS = ("macvlan", "bridge", "tuning", "sriov")


def attachment_findings(
    workload: WorkloadConfig,
    networks: Mapping[tuple[str, str], NetworkConfig],
    external: set[tuple[str, str]],
    project: str,
) -> tuple[Found, Found]:
    """(problems, warnings) at paths relative to the workload; `networks` are the ones whose configs are known."""
    found: Found = []
    warned: Found = []
    for s_index, (selection, key) in enumerate(zip(workload.networks, workload.network_keys())):
        here = ("networks", s_index)
        if key not in networks and key not in external:
            found.append((here, _undefined(key, networks, project)))
            continue
        problems, warnings = _request_findings(here, selection, networks.get(key))
        found += problems
        warned += warnings
    default = workload.default_network_key()
    if default is not None and default not in networks and default not in external:
        found.append((("defaultNetwork",), _undefined(default, networks, project)))
    elif default is not None and default in networks and networks[default].summary.addresses_from_pod:
        found.append((("defaultNetwork",), (
            f"network {networks[default].ref} uses static IPAM without addresses, and a default-network override "
            "takes no ips request, so every ADD fails with \"IPAM plugin returned missing IP config\"; give its "
            "ipam addresses"
        )))
    found += _interface_problems(workload)
    routes = [i for i, s in enumerate(workload.networks) if s.default_route]
    if len(routes) > 1:
        found.append((("networks", routes[1], "default-route"),
                      f"only one network may set default-route (networks[{routes[0]}] already does)"))
    fixed = [k for k in ("ips", "mac") if any(getattr(s, k) for s in workload.networks)]
    if workload.replicas > 1 and fixed:
        found.append((("replicas",), (
            f"{workload.replicas} replicas would all request the same {' and '.join(fixed)}; "
            "fixed addresses need one Pod each"
        )))
    return found, warned


def attachment_problems(workload: WorkloadConfig, networks: Mapping[tuple[str, str], NetworkConfig],
                        external: set[tuple[str, str]], project: str) -> Found:
    """The errors of `attachment_findings`, for the stack's cross-checks."""
    return attachment_findings(workload, networks, external, project)[0]


def _undefined(key: tuple[str, str], networks: Mapping[tuple[str, str], NetworkConfig], project: str) -> str:
    hint = did_you_mean(key[1], [name for namespace, name in networks if namespace == key[0]])
    return (f"network {ref_of(key)} is not defined under {project}:networks{hint} "
            f"(list a NAD created elsewhere under {project}:externalNetworks)")


def _request_findings(loc: tuple, selection: NetworkSelection, network: Optional[NetworkConfig]) -> tuple[Found, Found]:
    """Capabilities and addresses can only be checked for networks this stack defines."""
    if network is None:
        return [], []
    found: Found = []
    warned: Found = []
    summary = network.summary
    for capability in selection.requested_capabilities():
        if capability in summary.capabilities:
            continue
        refusal = _cni_args_refusal(capability, selection, network)
        if refusal is None:
            warned.append(((*loc, capability), (
                f"network {network.ref} does not declare the {capability!r} capability; Multus still passes the "
                f"request as {'IP' if capability == 'ips' else 'MAC'}= in CNI_ARGS and {_reader(capability, network)} "
                f"reads it, so it works, but the network plumbing spec says to reject it (multi-net-spec §4.1.2.1): "
                f'add "capabilities": {{"{capability}": true}} to its plugin'
            )))
        else:
            found.append(((*loc, capability), (
                f"network {network.ref} does not declare the {capability!r} capability{refusal}; add "
                f'"capabilities": {{"{capability}": true}} to its plugin (multi-net-spec §4.1.2.1)'
            )))
    if summary.addresses_from_pod and not (selection.ips or _cni_args_ips(selection.cni_args)):
        found.append((loc, (
            f"network {network.ref} uses static IPAM without addresses, so ADD fails with \"IPAM plugin returned "
            f"missing IP config\" unless the pod asks for one: request it here "
            f"(ips: [<address>/<prefix>]{'' if 'ips' in summary.capabilities else ', and declare the ips capability'}) "
            "or give the network's ipam addresses"
        )))
    found += _address_shape(loc, selection, summary.ipam)
    if selection.ips and summary.pools and summary.ipam != "static":
        for i, text in enumerate(selection.ips):
            address = ip(text.partition("/")[0])
            if not any(address in pool for pool in summary.pools):
                pools = ", ".join(str(p) for p in summary.pools)
                found.append(((*loc, "ips", i), f"{text} is outside the addresses of network {network.ref} ({pools})"))
    return found, warned


def _cni_args_ips(cni_args: Optional[dict[str, Any]]) -> bool:
    """Multus merges a selection's cni-args into the plugin's `args.cni`, where static reads `ips`."""
    return bool(isinstance(cni_args, dict) and cni_args.get("ips"))


def _address_shape(loc: tuple, selection: NetworkSelection, ipam: Optional[str]) -> Found:
    """Multus always passes `ips` as IP=<comma list> in CNI_ARGS, capability or not, and the IPAM
    parses it before anything else: static wants each address in CIDR form (static/main.go,
    "the 'ip' field is expected to be in CIDR notation"), host-local parses the whole list as one
    address ("invalid IP address 10.1.0.5/24,10.2.0.5/24", seen with the real plugin)."""
    ips = selection.ips or ()
    if ipam == "static":
        return [((*loc, "ips", i), f"{text!r} needs its prefix length (for example {text}/24): static IPAM takes "
                 "addresses in CIDR form only") for i, text in enumerate(ips) if "/" not in text]
    if ipam == "host-local" and len(ips) > 1:
        return [((*loc, "ips"), (
            f"host-local takes one requested address: Multus passes these as IP={','.join(ips)} in CNI_ARGS, "
            "which host-local cannot parse, so ADD fails; request one address, or use static IPAM"))]
    return []


def _reader(capability: str, network: NetworkConfig) -> str:
    summary = network.summary
    if capability == "ips":
        return f"its {summary.ipam} IPAM"
    return "its " + next(p for p in summary.chain if p in MAC_ARG_READERS) + " plugin"


def _cni_args_refusal(capability: str, selection: NetworkSelection, network: NetworkConfig) -> Optional[str]:
    """Why the request cannot reach the plugin through CNI_ARGS either; None when it does."""
    summary = network.summary
    if capability == "mac":
        if any(p in MAC_ARG_READERS for p in summary.chain):
            return None
        return f", and no plugin of its chain ({', '.join(summary.chain)}) reads the MAC= that Multus passes in CNI_ARGS"
    if capability == "ips" and summary.ipam in IP_ARG_READERS:
        return None  # what each reader cannot take is checked for every request (_address_shape)
    if capability == "ips" and summary.ipam in (None, "none"):
        return ", and it has no IPAM to read the IP= that Multus passes in CNI_ARGS"
    if capability == "ips":
        return f", and its {summary.ipam} IPAM does not read the IP= that Multus passes in CNI_ARGS"
    return ", so Multus would reject this request"


def _interface_problems(workload: WorkloadConfig) -> Found:
    found: Found = []
    seen: dict[str, int] = {}
    for index, name in enumerate(workload.interfaces()):
        where = ("networks", index, "interface")
        if name in RESERVED_INTERFACES:
            found.append((where, f"{name!r} is taken by the pod's {'default network' if name == 'eth0' else 'loopback'}"))
        elif name in seen:
            found.append((where, f"interface {name!r} is already used by networks[{seen[name]}]"))
        seen.setdefault(name, index)
    return found
