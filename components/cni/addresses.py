"""Fast, cached parsing of IP addresses and subnets (the hot path of validating 10,000 networks).

`ipaddress` parses in pure Python; `socket.inet_pton` does the same strict parse in C. A text
is accepted on the fast path only when it round-trips exactly, so odd spellings still go
through `ipaddress` and get its verdict.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from typing import Union

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _as_go_reads(text: str) -> None:
    """Go's net.ParseIP and ParseCIDR take ASCII digits and no IPv6 zone; Python's ipaddress
    accepts `fe80::1%eth0`, and int() reads Unicode digits in a prefix length ("/２４")."""
    if not text.isascii() or "%" in text:
        raise ValueError(f"{text!r} is not an address Go's net.ParseIP reads")


@functools.lru_cache(maxsize=65536)
def ip(text: str) -> Address:
    """Raises ValueError for anything that is not one IPv4 or IPv6 address."""
    _as_go_reads(text)
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, TypeError):
        return ipaddress.ip_address(text)
    if socket.inet_ntop(socket.AF_INET, packed) != text:
        return ipaddress.ip_address(text)
    return ipaddress.IPv4Address(packed)


@functools.lru_cache(maxsize=65536)
def network(text: str) -> Network:
    """A subnet in CIDR form; host bits are masked, as the CNI plugins do."""
    _as_go_reads(text)
    address, slash, prefix = text.partition("/")
    if not slash or not prefix.isdigit():
        return ipaddress.ip_network(text, strict=False)
    base = ip(address)
    cls = ipaddress.IPv4Network if base.version == 4 else ipaddress.IPv6Network
    return cls((int(base), int(prefix)), strict=False)
