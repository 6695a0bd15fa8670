"""whereabouts' cluster objects as v0.9.2 names and fills them: IPPool and
OverlappingRangeIPReservation (whereabouts.cni.cncf.io/v1alpha1).

Source: k8snetworkplumbingwg/whereabouts tag v0.9.2, pkg/api/whereabouts.cni.cncf.io/v1alpha1/
{ippool,overlappingrangeipreservation}_types.go (the shapes) and pkg/storage/kubernetes/ipam.go
(`IPPoolName`, `normalizeRange`, `NormalizeIP`, `toIPReservationList`: the names and offsets).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from components.cni.addresses import Address, ip
from components.whereabouts.manifests import GROUP, VERSION

API_VERSION = f"{GROUP}/{VERSION}"
POOL_KIND = "IPPool"
RESERVATION_KIND = "OverlappingRangeIPReservation"
POOL_RESOURCE = f"ippools.{GROUP}"
RESERVATION_RESOURCE = f"overlappingrangeipreservations.{GROUP}"

# toIPReservationList reads each key with strconv.ParseInt and skips what is no offset; whereabouts
# itself writes them with fmt.Sprintf("%d"), so only plain digits are ours to read.
_OFFSET = re.compile(r"[0-9]+")


def _normalized(text: str) -> str:
    """normalizeRange and NormalizeIP: a trailing ':' gets a '0', then ':' and '/' become '-'."""
    if text.endswith(":"):
        text += "0"
    return text.replace(":", "-").replace("/", "-")


def _named(network_name: str, normalized: str) -> str:
    return f"{network_name}-{normalized}" if network_name else normalized


def pool_name(cidr: str, network_name: str = "") -> str:
    """IPPoolName without node slices: `[network_name-]` and the normalized range, as LoadIPAMConfig
    leaves it (the masked subnet): 10.0.0.0/24 -> 10.0.0.0-24, fd00::/64 -> fd00---64."""
    return _named(network_name, _normalized(cidr))


def reservation_name(address: Address, network_name: str = "") -> str:
    """NormalizeIP: the name of the OverlappingRangeIPReservation that holds `address`."""
    return _named(network_name, _normalized(str(address)))


def reservation_address(name: str, network_name: str = "") -> Optional[Address]:
    """The address a reservation of `network_name` holds, or None when `name` is none of its."""
    prefix = f"{network_name}-" if network_name else ""
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix):]
    try:
        address = ip(rest if "." in rest else rest.replace("-", ":"))
    except ValueError:
        return None
    return address if reservation_name(address, network_name) == name else None


def allocations(pool: dict[str, Any]) -> list[tuple[str, Address, dict[str, Any]]]:
    """(offset, address, allocation) of an IPPool's spec.allocations, by offset: each key counts
    from the address of spec.range (IPAddOffset of ParseCIDR's IP)."""
    spec = pool.get("spec") or {}
    try:
        base = ip(str(spec.get("range", "")).split("/")[0])
    except ValueError:
        return []
    found = []
    for offset, allocation in (spec.get("allocations") or {}).items():
        if not _OFFSET.fullmatch(offset) or not isinstance(allocation, dict):
            continue
        try:
            found.append((offset, base + int(offset), allocation))
        except ValueError:  # beyond the family's last address
            continue
    return sorted(found, key=lambda item: int(item[0]))
