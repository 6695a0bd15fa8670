"""The IP address integrity of a stack's secondary networks, judged from plain objects.

The input is what `kubectl get -o json` lists (pods, whereabouts IPPools and
OverlappingRangeIPReservations, each a dict) and the stack's validated config; nothing here reads
a cluster. Only the stack's networks are judged: network-status entries, IPPools and reservations
of other networks are left alone. What a pod holds comes from its network-status annotation, the
record Multus writes of every attachment's result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Sequence

from components.annotations import NETWORK_STATUS, NETWORKS
from components.cni.addresses import Address, ip
from components.cni.ipam import AllocationRange
from components.config import NetworkConfig, StackConfig
from components.config.workload import selected_networks
from components.core.model import ref_of

from .. import pods as lifecycle
from .. import status
from .whereabouts import POOL_RESOURCE, RESERVATION_RESOURCE, allocations, pool_name, reservation_address

KINDS = ("duplicate", "leak", "missing", "exhausted")
#: IPAM types that give every attachment an address, so an entry without `ips` is a failure.
ADDRESS_IPAMS = frozenset({"whereabouts", "host-local", "static", "dhcp"})
DEFAULT_THRESHOLD = 0.9

Key = tuple[str, str]  # a network's (namespace, name)


@dataclass(frozen=True)
class Snapshot:
    """The cluster's objects an audit reads: the `items` of each list."""

    pods: Sequence[dict[str, Any]] = ()
    pools: Sequence[dict[str, Any]] = ()
    reservations: Sequence[dict[str, Any]] = ()


@dataclass(frozen=True)
class Finding:
    kind: str
    network: str  # namespace/name, or several joined by ", " when they share one IPPool
    address: str  # an address, a pool's range, or "-"
    what: str
    fix: str

    def sort_key(self) -> tuple:
        return KINDS.index(self.kind), self.network, _address_order(self.address), self.what

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class PoolUsage:
    namespace: str
    name: str
    network: str
    range: str
    allocated: int
    usable: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Audit:
    findings: list[Finding] = field(default_factory=list)
    pools: list[PoolUsage] = field(default_factory=list)
    networks: int = 0
    pods: int = 0  # pods attached to, or asking for, one of the stack's networks

    def counts(self) -> dict[str, int]:
        return {kind: sum(f.kind == kind for f in self.findings) for kind in KINDS}


def _address_order(text: str) -> tuple:
    try:
        address = ip(text.split("/")[0])
    except ValueError:
        return (9, 0, text)
    return (address.version, int(address), text)


def _meta(obj: dict[str, Any]) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace", ""), metadata.get("name", "")


def _entry_key(name: str, namespace: str) -> Key:
    """Current Multus names an entry `namespace/name`; older ones the plain name, in the pod's namespace."""
    space, _, plain = name.rpartition("/")
    return (space or namespace, plain)


@dataclass(frozen=True)
class _Pod:
    """One pod as the audit sees it: its attachments parsed once."""

    ref: str
    node: str
    phase: str
    live: bool
    selected: tuple[Key, ...]
    entries: tuple[tuple[Key, status.NetworkStatusEntry], ...]
    problem: Optional[str]  # why there are no entries: no annotation, or one that cannot be read

    @classmethod
    def of(cls, pod: dict[str, Any]) -> "_Pod":
        namespace = (pod.get("metadata") or {}).get("namespace", "default")
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        entries, problem = (), None
        text = annotations.get(NETWORK_STATUS)
        if text is None:
            problem = f"it has no {NETWORK_STATUS} annotation"
        else:
            try:
                entries = tuple((_entry_key(e.name, namespace), e) for e in status.parse(text) if not e.default)
            except status.StatusError as exc:
                problem = str(exc)
        spec = pod.get("spec") or {}
        return cls(
            ref=lifecycle.ref(pod), node=spec.get("nodeName") or "", phase=(pod.get("status") or {}).get("phase", ""),
            # Multus attaches no hostNetwork pod: its annotations ask for nothing.
            live=lifecycle.live(pod) and not spec.get("hostNetwork"),
            selected=tuple(dict.fromkeys(selected_networks(annotations.get(NETWORKS), namespace))),
            entries=entries, problem=problem,
        )

    def addresses_on(self, keys: Sequence[Key]) -> list[Address]:
        return [a for key, entry in self.entries if key in keys for a in status.addresses(entry)]

    def where(self) -> str:
        return f"{self.ref} on {self.node or 'no node'}"


def audit(stack: StackConfig, snapshot: Snapshot, threshold: float = DEFAULT_THRESHOLD) -> Audit:
    """Every finding, sorted, and the usage of each of the stack's IPPools found."""
    networks = {n.key: n for n in stack.networks}
    pods = [_Pod.of(p) for p in snapshot.pods]
    by_ref = {p.ref: p for p in pods}
    result = Audit(networks=len(networks),
                   pods=sum(any(k in networks for k in (*p.selected, *(k for k, _ in p.entries))) for p in pods))
    result.findings += _duplicates(networks, pods)
    result.findings += _missing(networks, pods)
    leaks, result.pools = _pools(networks, snapshot.pools, by_ref)
    result.findings += leaks
    result.findings += _reservations(networks, snapshot.reservations, by_ref)
    result.findings += [_exhausted(usage, threshold) for usage in result.pools
                        if usage.usable and usage.allocated >= threshold * usage.usable]
    result.findings.sort(key=Finding.sort_key)
    return result


# --- duplicate ------------------------------------------------------------------------------------

_DUPLICATE_FIX = {
    "host-local": ("host-local on one node handed it out twice: its lease directory (/var/lib/cni/networks/<name> on "
                   "the node) was lost or is shared with another network of the same name; delete all but one of "
                   "these pods so they get new addresses"),
    "whereabouts": ("whereabouts handed it out twice, usually after its IPPool was deleted or edited while pods ran: "
                    "delete all but one of these pods, then check that the IPPool lists the one that stays"),
    "static": ("static IPAM gives every pod the address written in the network: request one address per pod (ips in "
               "the pod's networks annotation) or use whereabouts"),
    "dhcp": "the DHCP server leased it twice: check its leases, then delete all but one of these pods",
}


def _duplicates(networks: dict[Key, NetworkConfig], pods: Sequence[_Pod]) -> list[Finding]:
    holders: dict[tuple[Key, Address], dict[str, _Pod]] = defaultdict(dict)
    for pod in pods:
        if not pod.live:
            continue
        for key, entry in pod.entries:
            if key in networks:
                for address in status.addresses(entry):
                    holders[(key, address)][pod.ref] = pod
    found = []
    for (key, address), by_ref in holders.items():
        if len(by_ref) < 2:
            continue
        holding = [by_ref[r] for r in sorted(by_ref)]
        ipam = networks[key].summary.ipam
        names = ", ".join(p.where() for p in holding)
        nodes = {p.node for p in holding}
        if ipam == "host-local" and len(nodes) > 1:
            what = (f"held by {len(holding)} pods on different nodes ({names}): host-local allocates per node, each "
                    "node on its own, so every node hands out the same addresses (multus-cni#144)")
            fix = ("use whereabouts for this network (one pool for the whole cluster), or static IPAM with an ips "
                   "request per pod; then delete all but one of these pods")
        else:
            what = f"held by {len(holding)} pods ({names})"
            fix = _DUPLICATE_FIX.get(ipam or "", "delete all but one of these pods so they get new addresses, and "
                                                  "check the network's IPAM")
        found.append(Finding("duplicate", ref_of(key), str(address), what, fix))
    return found


# --- missing --------------------------------------------------------------------------------------

def _missing(networks: dict[Key, NetworkConfig], pods: Sequence[_Pod]) -> list[Finding]:
    """Running pods only: a Pending pod's attachments may still be on their way."""
    found = []
    for pod in pods:
        if not pod.live or pod.phase != "Running":
            continue
        retry = (f"delete the pod so Multus attaches it again; if it stays without, read the Multus and IPAM "
                 f"logs on {pod.node or 'its node'}")
        for key, entry in pod.entries:
            ipam = networks[key].summary.ipam if key in networks else None
            if ipam in ADDRESS_IPAMS and not entry.ips:
                found.append(Finding("missing", ref_of(key), "-", (
                    f"pod {pod.where()}: {entry.interface or 'its interface'} has no address, but {ipam} gives one"),
                    f"{retry} (an exhausted pool gives none)" if ipam == "whereabouts" else retry))
        attached = {key for key, _ in pod.entries}
        for key in pod.selected:
            if key in networks and key not in attached:
                why = pod.problem or "its network-status has no entry for it"
                found.append(Finding("missing", ref_of(key), "-", f"pod {pod.where()} asks for it in {NETWORKS}, but {why}",
                                     retry))
    return found


# --- leak and exhausted: whereabouts' objects ----------------------------------------------------

def _by_network_name(networks: dict[Key, NetworkConfig]) -> dict[str, list[tuple[NetworkConfig, list[AllocationRange]]]]:
    """The stack's whereabouts networks by network_name ("" for the unnamed), with their ranges."""
    found: dict[str, list[tuple[NetworkConfig, list[AllocationRange]]]] = defaultdict(list)
    for key in sorted(networks):
        config = networks[key].summary.whereabouts
        if config is not None:
            found[config.network_name or ""].append((networks[key], config.allocation_ranges()))
    return found


def _stack_pools(networks: dict[Key, NetworkConfig]) -> dict[str, tuple[AllocationRange, tuple[NetworkConfig, ...]]]:
    """The IPPool name of every whereabouts range of the stack, with its range and networks (networks
    with the same range and network_name share one pool). Node slices (`node_slice_size`) make a
    pool per node and are not audited."""
    found: dict[str, tuple[AllocationRange, tuple[NetworkConfig, ...]]] = {}
    for network_name, members in sorted(_by_network_name(networks).items()):
        for network, ranges in members:
            if network.summary.whereabouts.node_slice_size is not None:
                continue
            for allocation_range in ranges:
                name = pool_name(allocation_range.cidr, network_name)
                first, owners = found.get(name, (allocation_range, ()))
                found[name] = (first, owners + (network,))
    return found


def _refs(owners: Sequence[NetworkConfig]) -> str:
    return ", ".join(n.ref for n in owners)


def _not_held(pod: Optional[_Pod], podref: str, keys: Sequence[Key], address: Address) -> Optional[str]:
    """Why `podref` does not hold `address` on these networks, or None when it does (or may soon:
    whereabouts' ip-control-loop also spares a Pending pod, pkg/reconciler/iploop.go isOrphanedIP)."""
    if pod is None:
        return f"{podref or '(no podref)'}, which does not exist"
    shown = pod.addresses_on(keys)
    if address in shown:
        return None
    if pod.phase == "Pending" and not shown:
        return None
    holds = f"holds {', '.join(str(a) for a in shown)} there instead" if shown else "holds no address on it"
    return f"{podref}, which {holds} (recreated under the same name, or an ADD that stopped half-way)"


def _pools(networks: dict[Key, NetworkConfig], objects: Sequence[dict[str, Any]],
           by_ref: dict[str, _Pod]) -> tuple[list[Finding], list[PoolUsage]]:
    known = _stack_pools(networks)
    leaks, usage = [], []
    for obj in sorted(objects, key=_meta):
        namespace, name = _meta(obj)
        if name not in known:
            continue
        allocation_range, owners = known[name]
        keys = [n.key for n in owners]
        found = allocations(obj)
        usage.append(PoolUsage(namespace, name, _refs(owners), allocation_range.cidr, len(found), allocation_range.size))
        for offset, address, allocation in found:
            why = _not_held(by_ref.get(allocation.get("podref", "")), allocation.get("podref", ""), keys, address)
            if why:
                container = allocation.get("id") or "(none)"
                leaks.append(Finding("leak", _refs(owners), str(address), (
                    f"IPPool {namespace}/{name} allocates it (offset {offset}, container {container[:12]}) to {why}"), (
                    "whereabouts' ip-control-loop frees it at its next run (the whereabouts-config cron-expression); "
                    f"to free it now: kubectl -n {namespace} patch {POOL_RESOURCE} {name} --type json "
                    f"-p '[{{\"op\": \"remove\", \"path\": \"/spec/allocations/{offset}\"}}]'")))
    return leaks, usage


def _reservation_owners(name: str, by_name: dict[str, list[tuple[NetworkConfig, list[AllocationRange]]]]
                        ) -> tuple[Optional[Address], tuple[NetworkConfig, ...]]:
    """The address an OverlappingRangeIPReservation's name holds, and the stack's networks it can
    belong to (its network_name, a range holding the address); the longest network_name first."""
    for network_name in sorted(by_name, key=lambda n: (-len(n), n)):
        address = reservation_address(name, network_name)
        owners = tuple(n for n, ranges in by_name[network_name] if address is not None and any(address in r.pool for r in ranges))
        if owners:
            return address, owners
    return None, ()


def _reservations(networks: dict[Key, NetworkConfig], objects: Sequence[dict[str, Any]],
                  by_ref: dict[str, _Pod]) -> list[Finding]:
    by_name = _by_network_name(networks)
    leaks = []
    for obj in sorted(objects, key=_meta):
        namespace, name = _meta(obj)
        address, owners = _reservation_owners(name, by_name)
        if address is None:
            continue
        podref = (obj.get("spec") or {}).get("podref", "")
        why = _not_held(by_ref.get(podref), podref, [n.key for n in owners], address)
        if why:
            leaks.append(Finding("leak", _refs(owners), str(address), (
                f"OverlappingRangeIPReservation {namespace}/{name} reserves it for {why}; no other pod gets it meanwhile"), (
                "whereabouts' ip-control-loop removes it at its next run (the whereabouts-config cron-expression); "
                f"to remove it now: kubectl -n {namespace} delete {RESERVATION_RESOURCE} {name}")))
    return leaks


def _exhausted(usage: PoolUsage, threshold: float) -> Finding:
    return Finding("exhausted", usage.network, usage.range, (
        f"IPPool {usage.namespace}/{usage.name}: {usage.allocated} of {usage.usable} usable addresses allocated "
        f"({usage.allocated / usage.usable:.0%}, threshold {threshold * 100:g}%)"), (
        "at 100% every new pod on this network fails its ADD: free the leaked addresses, or add a range to the "
        "network's ipRanges (a new range is a new IPPool; running pods keep their addresses)"))
