"""Field types every CNI plugin shares, checked with the standard library's `ipaddress`.

Field names and meanings: containernetworking/cni SPEC.md and CONVENTIONS.md, and the plugin
pages of cni.dev (`content/plugins/current/**`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, ConfigDict, Field

from ..core.model import Model
from . import addresses

CniVersion = Literal["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

# Used with fullmatch: `$` also matches before a trailing newline, so "name\n" would pass.
_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}")
_IFNAME = re.compile(r"[^\s/:]+")


def _ip(value: str) -> str:
    try:
        addresses.ip(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
    return value


def _requested_address(value: str) -> str:
    """A pod's `ips` request: an address, with or without its prefix length."""
    address, slash, _ = value.partition("/")
    try:
        addresses.network(value) if slash else addresses.ip(address)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (for example 10.1.1.12/24)") from None
    return value


def _cidr(value: str) -> str:
    """A subnet such as 10.1.0.0/24; host bits are allowed, as the plugins mask them."""
    try:
        addresses.network(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a subnet in CIDR form (for example 192.168.1.0/24)") from None
    if "/" not in value:
        raise ValueError(f"{value!r} needs a prefix length (for example {value}/24)")
    return value


def _interface_address(value: str) -> str:
    """An address with its prefix length, as static IPAM takes it (10.10.0.1/24)."""
    _cidr(value)
    return value


def _mac(value: str) -> str:
    if not _MAC.fullmatch(value):
        raise ValueError(f"{value!r} is not a MAC address (six hex octets, for example c2:b0:57:49:47:f1)")
    return value


def _ifname(value: str) -> str:
    """The kernel's dev_valid_name: 1 to 15 bytes (IFNAMSIZ - 1), not "." or "..", no space, '/'
    or ':'; Multus (parsePodNetworkObjectName) counts bytes too."""
    if not _IFNAME.fullmatch(value) or len(value.encode("utf-8", "surrogatepass")) > 15 or value in (".", ".."):
        raise ValueError(f"{value!r} is not a Linux interface name (1 to 15 characters, at most 15 bytes in all, not '.' or '..', no spaces, '/' or ':')")
    return value


def _mtu(value: int) -> int:
    # 0 lets the plugin choose (the master's or the kernel's MTU); IPv4 needs at least 68.
    if value != 0 and not 68 <= value <= 65535:
        raise ValueError(f"MTU {value} is out of range: use 68 to 65535, or 0 for the default")
    return value


IP = Annotated[str, AfterValidator(_ip)]
RequestedAddress = Annotated[str, AfterValidator(_requested_address)]
CIDR = Annotated[str, AfterValidator(_cidr)]
InterfaceAddress = Annotated[str, AfterValidator(_interface_address)]
MAC = Annotated[str, AfterValidator(_mac)]
IfName = Annotated[str, AfterValidator(_ifname)]
MTU = Annotated[int, AfterValidator(_mtu)]
VlanId = Annotated[int, Field(ge=0, le=4094)]
#: Go's int (64 bits on every platform nodes run): json.Unmarshal fails beyond it.
GoInt = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
#: A Go int that must not be negative.
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]


class CniModel(Model):
    """CNI plugins decode JSON with Go's types: "yes" is not a boolean nor "1500" a number."""

    model_config = ConfigDict(strict=True)


class Route(CniModel):
    dst: CIDR
    gw: Optional[IP] = None
    mtu: Optional[GoInt] = None
    advmss: Optional[GoInt] = None
    priority: Optional[GoInt] = None
    table: Optional[GoInt] = None
    scope: Optional[GoInt] = None


class Dns(CniModel):
    nameservers: Optional[list[IP]] = None
    domain: Optional[str] = None
    search: Optional[list[str]] = None
    options: Optional[list[str]] = None


class Plugin(CniModel):
    """Keys any plugin may carry (CNI SPEC.md "Network configuration" and CONVENTIONS.md)."""

    type: str
    cniVersion: Optional[CniVersion] = None
    name: Optional[str] = None
    capabilities: Optional[dict[str, bool]] = None
    runtimeConfig: Optional[dict[str, Any]] = None
    args: Optional[dict[str, Any]] = None
    ipMasq: Optional[bool] = None
    dns: Optional[Dns] = None


