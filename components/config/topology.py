"""Checks across networks: address pools sharing a link, and how networks are shared.

All run in O(n log n) in the number of networks: intervals are sorted once per link and
swept, never compared pairwise.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

from ..core.errors import Found
from .network import NetworkConfig



def overlapping_pools(networks: Sequence[NetworkConfig]) -> Found:
    """Two networks on one link must not hand out the same addresses.

    Whereabouts networks that both allow overlapping ranges are exempt: whereabouts keeps
    cluster-wide reservations across them.
    """
    intervals = []
    for index, network in enumerate(networks):
        for link in sorted({link for _, link in network.summary.links}):
            for pool in network.summary.pools:
                intervals.append((link, pool.version, int(pool.first), int(pool.last), index, pool))
    intervals.sort(key=lambda i: i[:5])

    found: Found = []
    reported: set[tuple[int, int]] = set()
    group, reach, holder = None, -1, None
    for link, version, first, last, index, pool in intervals:
        if (link, version) != group:
            group, reach, holder = (link, version), -1, None
        if holder is not None and first <= reach and holder[0] != index:
            other_index, other_pool = holder
            pair = (min(index, other_index), max(index, other_index))
            both_whereabouts = networks[index].summary.overlapping_allowed and networks[other_index].summary.overlapping_allowed
            if pair not in reported and not both_whereabouts:
                reported.add(pair)
                found.append((("networks", index, "config"), (
                    f"addresses {pool} overlap {other_pool} of network {networks[other_index].ref} "
                    f"(networks[{other_index}]) on {link}; networks sharing a link must not hand out the same "
                    "addresses (both whereabouts with enable_overlapping_ranges is the exception)"
                )))
        if last > reach:
            reach, holder = last, (index, pool)
    return found


def shared_master_warnings(networks: Sequence[NetworkConfig]) -> Found:
    """macvlan and ipvlan cannot share a master interface (cni.dev ipvlan notes)."""
    kinds: dict[str, dict[str, int]] = defaultdict(dict)
    for index, network in enumerate(networks):
        for plugin, link in network.summary.links:
            kinds[link].setdefault(plugin, index)
    found: Found = []
    for link, by_plugin in sorted(kinds.items()):
        if "macvlan" in by_plugin and "ipvlan" in by_plugin:
            ipvlan, macvlan = by_plugin["ipvlan"], by_plugin["macvlan"]
            found.append((("networks", ipvlan, "config"), (
                f"ipvlan and macvlan share {link} with network {networks[macvlan].ref} (networks[{macvlan}]); "
                "the kernel cannot run both on one master, so pods of one of them will fail to start"
            )))
    return found


def host_local_warnings(networks: Sequence[NetworkConfig], users: Mapping[tuple[str, str], list[tuple[str, int]]]) -> Found:
    """host-local allocates per node: several pods on different nodes get the same address.
    `users`: (workload, replicas) per network, so the cost does not grow with replica counts."""
    found: Found = []
    for index, network in enumerate(networks):
        workloads = users.get(network.key, [])
        pods = sum(replicas for _, replicas in workloads)
        if network.summary.ipam == "host-local" and pods > 1:
            names = sorted(ref if replicas == 1 else f"{ref} ({replicas} replicas)" for ref, replicas in workloads)
            found.append((("networks", index, "config", "ipam"), (
                f"host-local hands out addresses per node, and {pods} pods use this network "
                f"({', '.join(names)}): pods on different nodes get the same addresses "
                "(multus-cni#144); use whereabouts, or static IPAM with an ips request per pod"
            )))
    return found
