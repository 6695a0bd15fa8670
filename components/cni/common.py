"""Field types every CNI plugin shares, checked with the standard library's `ipaddress`.

Field names and meanings: containernetworking/cni SPEC.md and CONVENTIONS.md, and the plugin
pages of cni.dev (`content/plugins/current/**`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Mapping, Optional, Union, get_args

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from ..core.errors import near_miss
from ..core.model import Model
from . import addresses

#: containernetworking/cni SPEC.md and pkg/version (libcni version.All).
CniVersion = Literal["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
CNI_VERSIONS: tuple[str, ...] = get_args(CniVersion)

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
#: Go's uint32 (json.Unmarshal fails outside it).
UInt32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
#: A Go int that must not be negative.
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _Typo:
    """A value under a key one edit from a known one, so that validation refuses it there."""

    def __init__(self, meant: str):
        self.meant = meant


def _refuse_typo(value: Any) -> Any:
    if isinstance(value, _Typo):
        raise PydanticCustomError("unknown_key", f"unknown key; did you mean {value.meant!r}?")  # a known key: no braces
    return value


class CniModel(Model):
    """CNI plugins decode JSON with Go's types: "yes" is not a boolean nor "1500" a number.

    Go's json.Unmarshal drops keys it does not know, and chained readers rely on that, so unknown
    keys are kept (`model_extra`, see `ignored`); a key one edit from a known one is a typo and
    refused in the same validation, unless the context says `raw` (then the catalog warns)."""

    model_config = ConfigDict(strict=True, extra="allow")
    __pydantic_extra__: dict[str, Annotated[Any, BeforeValidator(_refuse_typo)]] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _mark_typos(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or (info.context or {}).get("raw"):
            return data
        known = cls.known_keys()
        meant = {key: near_miss(key, known, typo=True) for key in data if key not in known}
        return {key: _Typo(meant[key]) if meant.get(key) else value for key, value in data.items()}

    def ignored(self, loc: tuple = ()) -> list[tuple[tuple, frozenset[str]]]:
        """(location, the keys known there) of every key the plugin ignores, nested ones included,
        in the order pydantic reports errors: each field's, then the model's own."""
        found: list[tuple[tuple, frozenset[str]]] = []
        for name, field in type(self).model_fields.items():
            found += _ignored(getattr(self, name), (*loc, field.alias or name))
        return found + [((*loc, key), self.known_keys()) for key in self.model_extra or ()]


def _ignored(value: Any, loc: tuple) -> list[tuple[tuple, frozenset[str]]]:
    if isinstance(value, CniModel):
        return value.ignored(loc)
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _ignored(item, (*loc, index))]
    return []


def _type_of(config: Any) -> Optional[str]:
    type_ = config.get("type") if isinstance(config, dict) else getattr(config, "type", None)
    return type_ if isinstance(type_, str) else None  # a tag is looked up: a list would not hash


def by_type(models: Mapping[str, type[CniModel]], kind: str) -> TypeAdapter:
    """The models as one union discriminated on `type`; another type fails with the error type
    `unknown_type` (context: `kind`), which the catalog words with a close match."""
    union = Union[tuple(Annotated[model, Tag(name)] for name, model in models.items())]  # type: ignore[valid-type]
    return TypeAdapter(Annotated[union, Discriminator(
        _type_of, custom_error_type="unknown_type", custom_error_message=f"unknown {kind} type",
        custom_error_context={"kind": kind})])


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

    #: The oldest cniVersion the plugin's skel accepts (None: all); below it ADD fails with
    #: "incompatible CNI versions".
    MIN_CNI_VERSION: ClassVar[Optional[str]] = None
    #: Said of every network using the plugin (a warning at its `type`).
    WARNING: ClassVar[Optional[str]] = None

    type: str
    cniVersion: Optional[CniVersion] = None
    name: Optional[str] = None
    capabilities: Optional[dict[str, bool]] = None
    runtimeConfig: Optional[dict[str, Any]] = None
    args: Optional[dict[str, Any]] = None
    ipMasq: Optional[bool] = None
    dns: Optional[Dns] = None


