"""The conventional parts of a third-party plugin's config, checked for `raw: true` networks.

A plugin or IPAM outside the catalog has its own keys, which pass unchecked. But the parts the
CNI conventions define are read the same way by whatever consumes them: a plugin's `dns`,
`capabilities` and `ipMasq` (CNI SPEC.md "Network configuration", CONVENTIONS.md), and an IPAM
section's `routes`, `dns`, `gateway`, and its addresses in static's (`addresses`) or host-local's
(`ranges`) form, which third-party IPAMs copy. So they are checked as far as they follow the
convention, with the catalog's own models, and each problem is a warning naming the key: the
third-party plugin may read it otherwise. A route whose gateway lies on no subnet of those
addresses makes the real ADD fail ("network is unreachable").
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import ValidationError

from ..core.errors import Found, flatten
from .common import IP, CniModel, Dns, Plugin
from .ipam import HostLocalRange, Ipam, Pool, StaticAddress, static_pools


class ConventionalIpam(Ipam):
    """An IPAM section's conventional keys (the rest is the third-party plugin's own)."""

    addresses: Optional[list[StaticAddress]] = None
    ranges: Optional[list[list[HostLocalRange]]] = None
    gateway: Optional[IP] = None

    def pools(self) -> list[Pool]:
        return static_pools(self.addresses) + [r.pool() for range_set in self.ranges or () for r in range_set]


def plugin_warnings(data: dict[str, Any], loc: tuple, owner: str) -> Found:
    """A third-party plugin's conventional keys, as warnings."""
    return _warnings(Plugin, data, loc, owner)


def ipam_warnings(data: dict[str, Any], loc: tuple, owner: str) -> Found:
    """A third-party IPAM section's conventional keys, as warnings; `dns` on its own, so that a
    bad nameserver does not hide an unreachable route."""
    found = _warnings(ConventionalIpam, {k: v for k, v in data.items() if k != "dns"}, loc, owner)
    return found + (_warnings(Dns, data["dns"], (*loc, "dns"), owner) if "dns" in data else [])


def _warnings(model: type[CniModel], data: dict[str, Any], loc: tuple, owner: str) -> Found:
    try:
        model.model_validate(data, context={"raw": True})  # raw: its own keys are no typos of ours
    except ValidationError as exc:
        return [((*loc, *sub), f"{message} ({owner} is outside the catalog, so this key is checked as the CNI "
                               "conventions define it, and only warned about)") for sub, message in flatten(exc)]
    return []
