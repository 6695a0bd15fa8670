"""A network's verdict, and the table the command prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from ..table import aligned

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Result:
    network: str
    plugins: str  # the chain, e.g. "bridge(host-local),tuning"
    verdict: str  # PASS, FAIL or SKIP
    reason: str = ""  # what failed, or why it was skipped
    interface: str = ""  # IFNAME once the plugin created it
    addresses: tuple[str, ...] = ()  # the result's addresses, CIDR notation
    cni_result: Optional[dict] = field(default=None, compare=False)  # the ADD result JSON


def format_table(results: Sequence[Result]) -> str:
    rows = [("NETWORK", "PLUGINS", "IFACE", "ADDRESS", "RESULT")]
    for r in results:
        verdict = r.verdict if not r.reason else f"{r.verdict}: {r.reason}"
        rows.append((r.network, r.plugins, r.interface or "-", ",".join(r.addresses) or "-", verdict))
    lines = aligned(rows)
    counts = {v: sum(r.verdict == v for r in results) for v in (PASS, FAIL, SKIP)}
    lines.append(f"{len(results)} network(s): {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return "\n".join(lines) + "\n"
