"""The `k8s.v1.cni.cncf.io/network-status` annotation: its model, what the config expects of it,
and the comparison of the two.

Real annotations vary with the Multus version and the CNI: entries are named `namespace/name`
by current Multus but plain `name` by older ones, the default entry may lack `interface`,
addresses may carry a prefix length, MACs come in either case, SR-IOV and host-device entries
may carry `device-info` and no `ips`. All of that is accepted; what is judged is what the
config asked for (multi-net-spec v1.3 §5; network-attachment-definition-client NetworkStatus).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.cni import Pool
from components.cni.addresses import Address, ip
from components.config import NetworkConfig, WorkloadConfig
from components.core.model import ref_of
from components.core.errors import describe, join_path, problems_from
from components.core.data import DataError, JsonSyntaxError, decode_json, one_line
from components.core.data import problems as plain_problems
from .table import aligned

OK, FAIL = "ok", "FAIL"


class NetworkStatusEntry(BaseModel):
    """One attached interface as Multus reports it; unknown keys are kept, not rejected.

    Strict, as Go's JSON decoding into network-attachment-definition-client's NetworkStatus is:
    `"default": "true"` is text, not a boolean."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, strict=True)

    name: str = ""
    interface: Optional[str] = None
    ips: tuple[str, ...] = Field((), strict=False)  # a JSON list; its items stay strict
    mac: Optional[str] = None
    mtu: Optional[int] = None
    default: bool = False
    dns: Optional[dict[str, Any]] = None
    gateway: tuple[str, ...] = Field((), strict=False)
    device_info: Optional[dict[str, Any]] = Field(None, alias="device-info")


class StatusError(ValueError):
    """The annotation is not a network-status list."""


def parse(text: Any) -> list[NetworkStatusEntry]:
    """The annotation's value, which Kubernetes keeps as text; anything else is a StatusError."""
    if not isinstance(text, str):
        raise StatusError(f"the network-status annotation must be text holding a JSON list, not {describe(text)}")
    try:
        data = decode_json(text)
    except JsonSyntaxError as exc:
        raise StatusError(f"the network-status annotation is not JSON: {exc.detail}") from None
    except DataError as exc:
        raise StatusError(f"the network-status annotation {exc}") from None
    found = plain_problems(data)
    if found:
        raise StatusError("; ".join(f"{join_path('network-status', loc)}: {message}" for loc, message in found))
    if not isinstance(data, list):
        raise StatusError("the network-status annotation must be a JSON list of interfaces")
    entries = []
    for index, item in enumerate(data):
        try:
            entries.append(NetworkStatusEntry.model_validate(item))
        except ValidationError as exc:
            raise StatusError("; ".join(str(p) for p in problems_from(exc, f"network-status[{index}]"))) from None
    return entries


@dataclass(frozen=True)
class Expected:
    """An attachment the config asked for, and what its status entry must show."""

    network: str  # namespace/name
    interface: str
    pools: tuple[Pool, ...] = ()
    requested_ips: tuple[str, ...] = ()
    mac: Optional[str] = None
    needs_address: bool = False


def expected(workload: WorkloadConfig, networks: Sequence[Optional[NetworkConfig]]) -> list[Expected]:
    """One entry per selection, in order, on the requested interface or net1, net2, ...

    `networks[i]` is the stack's network for selection i, or None for an external one (whose
    addresses this stack cannot know).
    """
    out = []
    for selection, key, interface, network in zip(workload.networks, workload.network_keys(), workload.interfaces(), networks):
        summary = network.summary if network is not None else None
        has_ipam = summary is not None and summary.ipam not in (None, "none")
        out.append(Expected(
            network=ref_of(key),
            interface=interface,
            pools=summary.pools if summary is not None and summary.ipam != "static" else (),
            requested_ips=selection.ips or (),
            mac=selection.mac,
            needs_address=bool(selection.ips) or has_ipam,
        ))
    return out


@dataclass(frozen=True)
class Row:
    interface: str
    network: str
    ips: str
    verdict: str
    detail: str = ""


def _bare(address: str) -> str:
    return address.split("/")[0]


def addresses(entry: NetworkStatusEntry) -> list[Address]:
    """The entry's `ips` as addresses, a prefix length dropped; text that is no address is left out."""
    found = []
    for text in entry.ips:
        try:
            found.append(ip(_bare(text)))
        except ValueError:
            continue
    return found


def _same_mac(a: str, b: str) -> bool:
    return a.replace("-", ":").lower() == b.replace("-", ":").lower()


def _names_match(entry_name: str, network: str) -> bool:
    """Current Multus writes `namespace/name`; older ones wrote the plain name."""
    return entry_name == network or entry_name == network.split("/", 1)[1]


def compare(entries: Sequence[NetworkStatusEntry], wanted: Sequence[Expected], default_network: Optional[str] = None) -> list[Row]:
    """A row per interface: the default network first, then each expected attachment."""
    rows = [_default_row(entries, default_network)]
    used: set[int] = set()
    for want in wanted:
        candidates = [i for i, e in enumerate(entries) if i not in used and not e.default and _names_match(e.name, want.network)]
        exact = [i for i in candidates if entries[i].interface == want.interface]
        if exact:
            used.add(exact[0])
            rows.append(_attachment_row(entries[exact[0]], want))
        elif candidates:
            found = entries[candidates[0]]
            used.add(candidates[0])
            rows.append(Row(want.interface, want.network, ", ".join(found.ips), FAIL,
                            f"attached on {found.interface or '(no interface)'}, expected {want.interface}"))
        else:
            rows.append(Row(want.interface, want.network, "", FAIL, "attachment missing from network-status"))
    return rows


def _default_row(entries: Sequence[NetworkStatusEntry], default_network: Optional[str]) -> Row:
    defaults = [e for e in entries if e.default]
    if not defaults:
        return Row("eth0", "(cluster network)", "", FAIL, "no entry marked default: true")
    entry = defaults[0]
    name = entry.name or "(cluster network)"
    if default_network and not _names_match(entry.name, default_network):
        return Row(entry.interface or "eth0", name, ", ".join(entry.ips), FAIL, f"default network should be {default_network}")
    return Row(entry.interface or "eth0", name, ", ".join(entry.ips), OK)


def _attachment_row(entry: NetworkStatusEntry, want: Expected) -> Row:
    ips = ", ".join(entry.ips)
    problems = []
    addresses = []
    for text in entry.ips:
        try:
            addresses.append(ip(_bare(text)))
        except ValueError:
            problems.append(f"{text!r} is not an IP address")
    if want.needs_address and not entry.ips:
        problems.append("no address, but the network assigns one")
    for text in want.requested_ips:
        if ip(_bare(text)) not in addresses:
            problems.append(f"requested {text} not assigned")
    if not want.requested_ips and want.pools:
        for address in addresses:
            if not any(address in pool for pool in want.pools):
                problems.append(f"{address} is outside {', '.join(str(p) for p in want.pools)}")
    if want.mac and not (entry.mac and _same_mac(entry.mac, want.mac)):
        problems.append(f"MAC {entry.mac or '(none)'}, requested {want.mac}")
    return Row(want.interface, want.network, ips, FAIL if problems else OK, "; ".join(problems))


def passed(rows: Sequence[Row]) -> bool:
    return all(row.verdict == OK for row in rows)


def table(title: str, rows: Sequence[Row]) -> str:
    """A fixed-width table, the same bytes for the same rows."""
    header = ("INTERFACE", "NETWORK", "IPS", "VERDICT")
    cells = [header] + [tuple(one_line(c) for c in (r.interface, r.network, r.ips or "-", r.verdict + (f": {r.detail}" if r.detail else "")))
                        for r in rows]
    return "\n".join([f"{one_line(title)}: {'ok' if passed(rows) else 'FAIL'}", *aligned(cells, indent="  ")])
