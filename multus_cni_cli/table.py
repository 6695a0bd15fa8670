"""Fixed-width text tables for the CLI: the same rows always give the same bytes."""

from __future__ import annotations

from typing import Sequence


def aligned(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Pad every column but the last (free text, such as a verdict with its reason)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [(indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]).rstrip() for row in rows]
