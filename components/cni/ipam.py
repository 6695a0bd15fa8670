"""IPAM plugins: host-local, static, dhcp, whereabouts, and `{}` (no address).

Sources: cni.dev `content/plugins/current/ipam/{host-local,static,dhcp}.md`;
k8snetworkplumbingwg/whereabouts `README.md` and `doc/extended-configuration.md`.
Every model also yields its address pools, so ranges can be compared across networks.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any, Optional, Sequence

from pydantic import AfterValidator, model_validator

from ..core.errors import fail
from .common import CIDR, IP, CniModel, Dns, GoInt, InterfaceAddress, Route, by_type

from .addresses import Address, Network, ip, network


# Go's strconv.Atoi: an optional sign, then ASCII digits.
_ATOI = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Pool:
    """Addresses a network hands out: [first, last] inside `subnet`."""

    subnet: Network
    first: Address
    last: Address

    @property
    def version(self) -> int:
        return self.subnet.version

    def __contains__(self, address: Address) -> bool:
        return address.version == self.version and self.first <= address <= self.last

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


def _host_range(subnet: Network) -> tuple[Address, Address]:
    """host-local's defaults: from .1 (gateway excluded later) to the last usable address."""
    if subnet.num_addresses <= 2:
        return subnet.network_address, subnet[-1]
    return subnet.network_address + 1, subnet[-1] - (1 if subnet.version == 4 else 0)


def _range_problems(loc: tuple, subnet_text: str, start: Optional[str], end: Optional[str], gateway: Optional[str]) -> list:
    """Start, end and gateway must sit inside the subnet, in order, in its IP family."""
    subnet = network(subnet_text)
    problems = []
    bounds = {}
    for key, text in (("rangeStart", start), ("rangeEnd", end), ("gateway", gateway)):
        if text is None:
            continue
        address = ip(text)
        if address.version != subnet.version or address not in subnet:
            problems.append(((*loc, key), f"{text} is outside the subnet {subnet_text}"))
        else:
            bounds[key] = address
    if "rangeStart" in bounds and "rangeEnd" in bounds and bounds["rangeStart"] > bounds["rangeEnd"]:
        problems.append(((*loc, "rangeEnd"), f"{end} comes before rangeStart {start}"))
    return problems


class Ipam(CniModel):
    type: str
    routes: Optional[list[Route]] = None
    dns: Optional[Dns] = None


    def pools(self) -> list[Pool]:
        return []

    @model_validator(mode="after")
    def _gateways_reachable(self) -> "Ipam":
        """A route's gw must sit on one of the interface's subnets, or the plugin fails to add it
        ("network is unreachable"); seen with the real plugins on cni.dev's static example."""
        if not any(route.gw is not None for route in self.routes or ()):
            return self
        try:
            subnets = [p.subnet for p in self.pools()]
        except (ValueError, TypeError):  # the model's own checks report what is wrong with its ranges
            return self
        problems = []
        for index, route in enumerate(self.routes or ()):
            if route.gw is None or not subnets:
                continue
            gw = ip(route.gw)
            if not any(gw.version == s.version and gw in s for s in subnets):
                same_family = ", ".join(str(s) for s in subnets if s.version == gw.version) or "none of its family"
                problems.append((("routes", index, "gw"), f"{route.gw} is not on the interface's subnets ({same_family}), "
                                 "so the plugin cannot add this route"))
        fail(problems)
        return self


class HostLocalRange(CniModel):
    subnet: CIDR
    rangeStart: Optional[IP] = None
    rangeEnd: Optional[IP] = None
    gateway: Optional[IP] = None

    @model_validator(mode="after")
    def _inside(self) -> "HostLocalRange":
        fail(_range_problems((), self.subnet, self.rangeStart, self.rangeEnd, self.gateway))
        return self

    def pool(self) -> Pool:
        return host_local_pool(self.subnet, self.rangeStart, self.rangeEnd)


def host_local_pool(subnet_text: str, start: Optional[str], end: Optional[str]) -> Pool:
    subnet = network(subnet_text)
    first, last = _host_range(subnet)
    return Pool(subnet, ip(start) if start else first, ip(end) if end else last)


class HostLocal(Ipam):
    """Per-node allocation: every node hands out the same range on its own (multus-cni#144)."""

    ranges: Optional[list[list[HostLocalRange]]] = None
    # The legacy single-range form (deprecated upstream, still accepted by the plugin).
    subnet: Optional[CIDR] = None
    rangeStart: Optional[IP] = None
    rangeEnd: Optional[IP] = None
    gateway: Optional[IP] = None
    dataDir: Optional[str] = None
    resolvConf: Optional[str] = None


    @model_validator(mode="after")
    def _one_form(self) -> "HostLocal":
        legacy = [k for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if getattr(self, k) is not None]
        problems = []
        if self.ranges is not None and legacy:
            problems.append(((legacy[0],), "use either ranges or the legacy top-level subnet form, not both"))
        elif self.ranges is None and self.subnet is None:
            problems.append(((), "host-local needs ranges (or the legacy subnet); use {} for no address"))
        elif self.subnet is not None:
            problems += _range_problems((), self.subnet, self.rangeStart, self.rangeEnd, self.gateway)
        elif legacy:
            problems.append(((legacy[0],), "needs subnet"))
        for index, range_set in enumerate(self.ranges or ()):
            if not range_set:
                problems.append((("ranges", index), "a range set needs at least one range"))
        fail(problems)
        return self

    def pools(self) -> list[Pool]:
        if self.subnet is not None:
            return [host_local_pool(self.subnet, self.rangeStart, self.rangeEnd)]
        return [r.pool() for range_set in self.ranges or () for r in range_set]


class StaticAddress(CniModel):
    address: InterfaceAddress
    gateway: Optional[IP] = None

    @model_validator(mode="after")
    def _gateway_on_subnet(self) -> "StaticAddress":
        subnet = network(self.address)
        if self.gateway is not None and ip(self.gateway) not in subnet:
            fail([(("gateway",), f"{self.gateway} is not on {subnet}, the subnet of {self.address}")])
        return self


class Static(Ipam):
    addresses: Optional[list[StaticAddress]] = None

    # Addresses may also come from the pod (`ips`), which needs the capability on the chain.

    def pools(self) -> list[Pool]:
        return static_pools(self.addresses)


def static_pools(addresses: Optional[list[StaticAddress]]) -> list[Pool]:
    """Each address as a pool of its own, on its subnet."""
    pools = []
    for entry in addresses or ():
        interface = ipaddress.ip_interface(entry.address)
        pools.append(Pool(interface.network, interface.ip, interface.ip))
    return pools


class DhcpOption(CniModel):
    option: str
    skipDefault: Optional[bool] = None
    value: Optional[str] = None
    fromArg: Optional[str] = None


class Dhcp(Ipam):
    """Leases from a DHCP server through the `dhcp daemon` on every node."""

    daemonSocketPath: Optional[str] = None
    request: Optional[list[DhcpOption]] = None
    provide: Optional[list[DhcpOption]] = None


# whereabouts v0.9.2 (k8snetworkplumbingwg/whereabouts, tag v0.9.2): how the plugin reads its ranges.
# pkg/config/config.go LoadIPAMConfig parses each range; pkg/iphelpers/iphelpers.go GetIPRange bounds it
# by the first and last usable address and *silently ignores* a range_start or range_end outside
# them; pkg/allocate/allocate.go parseExcludedRange reads an exclude entry as a CIDR or one address.
# Whatever the plugin would ignore or refuse at pod creation is an error here, before any cluster.


def _whereabouts_range(text: str) -> tuple[Network, Optional[Address], Optional[Address]]:
    """`10.0.0.0/24`, or `10.0.0.10-10.0.0.20/24`: LoadIPAMConfig takes the subnet from the part after
    the '-' (the end address and the prefix) and requires the start inside it."""
    if "-" in text:
        start, _, rest = text.partition("-")
        last = ip(rest.split("/")[0])
        return network(rest), ip(start), last
    return network(text), None, None


def _usable(subnet: Network) -> Optional[tuple[Address, Address]]:
    """iphelpers.FirstUsableIP/LastUsableIP: without the network and broadcast addresses, in both
    families; None when HasUsableIPs says there is none (a /31 or /32, a /127 or /128)."""
    if subnet.max_prefixlen - subnet.prefixlen <= 1:
        return None
    return subnet.network_address + 1, subnet.broadcast_address - 1


def _exclude(value: str) -> str:
    """parseExcludedRange: a CIDR, or one address (then a /32 or /128)."""
    try:
        _excluded(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither a subnet in CIDR form nor an address (whereabouts fails the ADD: "
                         "\"could not parse exclude range\")") from None
    return value


def _excluded(value: str) -> Network:
    return network(value) if "/" in value else network(f"{ip(value)}/{ip(value).max_prefixlen}")


Exclude = Annotated[str, AfterValidator(_exclude)]


class WhereaboutsRange(CniModel):
    range: str
    range_start: Optional[IP] = None
    range_end: Optional[IP] = None
    exclude: Optional[list[Exclude]] = None

    @model_validator(mode="after")
    def _consistent(self) -> "WhereaboutsRange":
        fail(_whereabouts_problems(self))
        return self

    def pool(self) -> Pool:
        return whereabouts_pool(self.range, self.range_start, self.range_end)

    def allocation_range(self) -> AllocationRange:
        return allocation_range(self.range, self.range_start, self.range_end, self.exclude)


def allocation_range(range_text: str, range_start: Optional[str], range_end: Optional[str],
                     exclude: Optional[Sequence[str]]) -> AllocationRange:
    return AllocationRange(whereabouts_pool(range_text, range_start, range_end), tuple(_excluded(t) for t in exclude or ()))


def whereabouts_pool(range_text: str, range_start: Optional[str], range_end: Optional[str]) -> Pool:
    subnet, first, last = _whereabouts_range(range_text)
    low, high = _usable(subnet) or (subnet.network_address, subnet.broadcast_address)
    return Pool(subnet, ip(range_start) if range_start else first or low, ip(range_end) if range_end else last or high)


def _whereabouts_problems(entry: Any) -> list:
    try:
        subnet, first, last = _whereabouts_range(entry.range)
    except ValueError:
        return [(("range",), f"{entry.range!r} is not a CIDR such as 10.0.0.0/24 or a range such as 10.0.0.10-10.0.0.20/24")]
    if first is not None and (first.version != subnet.version or first not in subnet or first > last):
        return [(("range",), f"{entry.range!r}: the start and end must lie, in order, inside the prefix "
                             f"({subnet}, from the end address and the prefix)")]
    usable = _usable(subnet)
    if usable is None:
        return [(("range",), f"{entry.range!r} has no address whereabouts hands out: it skips a subnet's network and "
                             "broadcast addresses (iphelpers.HasUsableIPs), so every ADD fails; use a /30 or larger")]
    problems = []
    if first is not None:
        problems += [((key,), f"is ignored when range names its own start and end ({entry.range}); remove it")
                     for key in ("range_start", "range_end") if getattr(entry, key) is not None]
        low, high = first, last
    else:
        low, high = usable
        start, end = (ip(v) if v else None for v in (entry.range_start, entry.range_end))
        for key, value in (("range_start", start), ("range_end", end)):
            if value is not None and not (value.version == subnet.version and usable[0] <= value <= usable[1]):
                problems.append(((key,), (f"{value} is outside the range {entry.range} (its usable addresses are "
                                          f"{usable[0]}-{usable[1]}); whereabouts would silently ignore it")))
        if start and end and start.version == end.version == subnet.version and start in subnet and end in subnet and start > end:
            problems.append((("range_end",), f"{entry.range_end} comes before range_start {entry.range_start}; whereabouts "
                                             "would silently ignore it and hand out up to the range's last address"))
        low = start if start and not problems else low
        high = end if end and not problems else high
    excluded = []
    for index, text in enumerate(entry.exclude or ()):
        block = _excluded(text)
        if block.version != subnet.version or not block.overlaps(subnet):
            problems.append((("exclude", index), f"{text} does not overlap the range {entry.range}, so it excludes nothing"))
        excluded.append(block)
    if excluded and low.version == high.version and _free(low, high, excluded) == 0:
        problems.append((("exclude",), f"leaves no address of {low}-{high} to hand out: every ADD would fail"))
    return problems


def _free(low: Address, high: Address, blocks: Sequence[Network]) -> int:
    """How many addresses from low to high no excluded block covers (IterateForAssignment skips
    each block whole, pkg/allocate/allocate.go)."""
    free, at, end = 0, int(low), int(high)
    for block in sorted((b for b in blocks if b.version == low.version), key=lambda b: b.network_address):
        start, stop = int(block.network_address), int(block.broadcast_address)
        if start > end:
            break
        free += max(0, start - at)
        at = max(at, stop + 1)
    return free + max(0, end - at + 1)


@dataclass(frozen=True)
class AllocationRange:
    """One range whereabouts allocates from, as LoadIPAMConfig leaves it (pkg/config/config.go):
    its IPPool's `spec.range` is the masked subnet (`ipNet.String()`), and `size` is how many
    addresses it can hand out, the excluded blocks taken off."""

    pool: Pool
    exclude: tuple[Network, ...] = ()

    @property
    def cidr(self) -> str:
        return str(self.pool.subnet)

    @property
    def size(self) -> int:
        return _free(self.pool.first, self.pool.last, self.exclude)


class Whereabouts(Ipam):
    """Cluster-wide allocation with IPPool custom resources (its own DaemonSet and CRDs)."""

    range: Optional[str] = None
    range_start: Optional[IP] = None
    range_end: Optional[IP] = None
    exclude: Optional[list[Exclude]] = None
    ipRanges: Optional[list[WhereaboutsRange]] = None
    enable_overlapping_ranges: Optional[bool] = None
    network_name: Optional[str] = None
    gateway: Optional[IP] = None
    addresses: Optional[list[StaticAddress]] = None
    node_slice_size: Optional[str] = None
    log_file: Optional[str] = None
    log_level: Optional[str] = None
    configuration_path: Optional[str] = None
    kubernetes: Optional[dict[str, Any]] = None
    datastore: Optional[str] = None
    etcd_host: Optional[str] = None
    etcd_username: Optional[str] = None
    etcd_password: Optional[str] = None
    etcd_key_file: Optional[str] = None
    etcd_cert_file: Optional[str] = None
    etcd_ca_cert_file: Optional[str] = None
    sleep_for_race: Optional[GoInt] = None

    @model_validator(mode="after")
    def _consistent(self) -> "Whereabouts":
        if self.range is None and not self.ipRanges:
            fail([(("range",), "whereabouts needs a range (or ipRanges)")])
        fail(_whereabouts_problems(self) if self.range is not None else [])
        if self.range is None and self.exclude:
            # LoadIPAMConfig copies the top-level exclude into `range` only, then drops it.
            fail([(("exclude",), "is ignored without range: with ipRanges, give each entry its own exclude")])
        fail(self._node_slice_problems())
        return self

    def _node_slice_problems(self) -> list:
        """Fast IPAM (node slices) as whereabouts' node-slice controller reads it: the first range
        (`range`, else ipRanges[0]) cut by iphelpers.DivideRangeBySize (pkg/iphelpers/iphelpers.go),
        which takes an optional '/', then strconv.Atoi, and an IPv4 range no smaller than a slice.
        Anything else yields no slice at all, so no pod of the network ever gets an address."""
        if self.node_slice_size is None:
            return []
        text = self.node_slice_size
        where = ("node_slice_size",)
        digits = text[1:] if text.startswith("/") else text
        if not _ATOI.fullmatch(digits):
            return [(where, f"{text!r} is not a prefix length such as '/26': whereabouts then cuts no node slice "
                            "and no pod gets an address")]
        first = self.range if self.range is not None else self.ipRanges[0].range
        try:
            subnet = _whereabouts_range(first)[0]
        except ValueError:
            return []  # the range's own check reports it
        size = int(digits)
        if subnet.version != 4:
            return [(where, f"whereabouts cuts node slices from IPv4 ranges only, and {first} is IPv6")]
        if not subnet.prefixlen <= size <= 32:
            return [(where, (
                f"{text!r} does not fit the range {first} (a /{size} slice of a /{subnet.prefixlen}), so whereabouts "
                f"never allocates a node slice and no pod gets an address; use /{subnet.prefixlen} to /32, "
                f"for example /{min(subnet.prefixlen + 4, 32)}"))]
        return []

    @property
    def overlapping_allowed(self) -> bool:
        return self.enable_overlapping_ranges is not False  # whereabouts' default is true

    def allocation_ranges(self) -> list[AllocationRange]:
        """`range` (with the top-level range_start, range_end and exclude) first, then ipRanges, in
        the order LoadIPAMConfig puts them."""
        top = [allocation_range(self.range, self.range_start, self.range_end, self.exclude)] if self.range else []
        return top + [entry.allocation_range() for entry in self.ipRanges or ()]

    def pools(self) -> list[Pool]:
        return [r.pool for r in self.allocation_ranges()]


#: Each IPAM type (the binary's name) and its model.
IPAMS: dict[str, type[Ipam]] = {"host-local": HostLocal, "static": Static, "dhcp": Dhcp, "whereabouts": Whereabouts}
#: Validates any catalog IPAM section, dispatching on its `type`.
IPAM = by_type(IPAMS, "IPAM")
