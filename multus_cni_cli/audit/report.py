"""An audit as a table, a summary line and JSON: the same audit always gives the same bytes."""

from __future__ import annotations

import json

from components.core.data import one_line

from ..table import aligned
from .findings import KINDS, Audit

HEADER = ("KIND", "NETWORK", "ADDRESS", "WHAT", "FIX")


def table(result: Audit) -> list[str]:
    """One row per finding (already sorted); no rows, no table."""
    if not result.findings:
        return []
    rows = [tuple(one_line(cell) for cell in (f.kind, f.network, f.address, f.what, f.fix)) for f in result.findings]
    return aligned([HEADER, *rows])


def summary(stack: str, result: Audit) -> str:
    counts = result.counts()
    seen = f"{_count(result.networks, 'network')}, {_count(result.pods, 'pod')}, {_count(len(result.pools), 'IPPool')}"
    if not result.findings:
        return f"audit-ipam: stack {stack}: no findings ({seen})"
    kinds = ", ".join(f"{counts[kind]} {kind}" for kind in KINDS if counts[kind])
    return f"audit-ipam: stack {stack}: {_count(len(result.findings), 'finding')} ({kinds}) in {seen}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def as_json(stack: str, result: Audit, threshold: float) -> str:
    """Sorted keys, two-space indent, fixed separators (as fleet/report.py as_json)."""
    document = {
        "stack": stack,
        "poolThreshold": threshold,
        "clean": not result.findings,
        "counts": result.counts(),
        "findings": [f.as_dict() for f in result.findings],
        "pools": [p.as_dict() for p in sorted(result.pools, key=lambda p: (p.namespace, p.name))],
    }
    return json.dumps(document, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
