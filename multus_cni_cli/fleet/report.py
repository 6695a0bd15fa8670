"""The fleet's result: one row per stack, as a text table for people and JSON for CI."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Sequence

from ..audit.findings import KINDS as FINDING_KINDS
from ..audit.findings import Finding
from ..table import aligned
from .drift import Drift
from .progress import KINDS

#: A row's status; only "succeeded" counts as success for the exit code ("drifted": `drift` found
#: some; "findings": `audit` found some).
STATUSES = ("succeeded", "drifted", "findings", "failed", "refused", "cancelled")


@dataclass(frozen=True)
class Row:
    stack: str
    status: str
    changes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    protected_untouched: bool = True
    seconds: float = 0.0
    error: str = ""
    drift: tuple[Drift, ...] = ()  # `drift` only: the objects that differ, sorted
    findings: tuple[Finding, ...] = ()  # `audit` only: sorted as audit-ipam sorts them

    @classmethod
    def from_dict(cls, data: dict) -> "Row":
        """One stack of a --summary-json read back (`fleet-join`): the inverse of as_json's rows."""
        return cls(data["stack"], data["status"], {kind: data["changes"][kind] for kind in KINDS},
                   data["protectedUntouched"], data["durationSeconds"], data["error"] or "",
                   tuple(Drift.from_dict(found) for found in data.get("drift", ())),
                   tuple(Finding(**found) for found in data.get("findings", ())))


def table(rows: Sequence[Row], command: str = "") -> str:
    """The fleet table; after it, one line per object that drifted (`drift`) or per address finding
    (`audit`, whose columns count findings by kind where the others count changes)."""
    rows = sorted(rows, key=lambda row: row.stack)
    if command == "audit":
        header = ["STACK", "STATUS", *(kind.upper() for kind in FINDING_KINDS), "DURATION", "ERROR"]
        body = [[row.stack, row.status, *(str(sum(f.kind == kind for f in row.findings)) for kind in FINDING_KINDS),
                 f"{row.seconds:.1f}s", row.error] for row in rows]
    else:
        header = ["STACK", "STATUS", *(kind.upper() for kind in KINDS), "PROTECTED-UNTOUCHED", "DURATION", "ERROR"]
        body = [[row.stack, row.status, *(str(row.changes[kind]) for kind in KINDS),
                 "yes" if row.protected_untouched else "no", f"{row.seconds:.1f}s", row.error]
                for row in rows]
    text = "\n".join(aligned([header, *body])) + "\n"
    drifted = [[row.stack, found.name, found.type, found.describe()] for row in rows for found in row.drift]
    if drifted:
        text += "\n" + "\n".join(aligned([["STACK", "OBJECT", "TYPE", "DRIFT"], *drifted])) + "\n"
    found = [[row.stack, f.kind, f.network, f.address, f.what] for row in rows for f in row.findings]
    if found:
        text += "\n" + "\n".join(aligned([["STACK", "KIND", "NETWORK", "ADDRESS", "WHAT"], *found])) + "\n"
    return text


def as_json(command: str, rows: Sequence[Row]) -> str:
    """Sorted keys, two-space indent, fixed separators: the same rows give the same bytes."""
    document = {
        "command": command,
        "succeeded": all(row.status == "succeeded" for row in rows),
        "stacks": [{
            "stack": row.stack,
            "status": row.status,
            "changes": dict(row.changes),
            "protectedUntouched": row.protected_untouched,
            "durationSeconds": round(row.seconds, 1),
            "error": row.error or None,
            **({"drift": [found.as_dict() for found in row.drift]} if command == "drift" else {}),
            **({"findings": [found.as_dict() for found in row.findings]} if command == "audit" else {}),
        } for row in sorted(rows, key=lambda row: row.stack)],
    }
    return json.dumps(document, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


def exit_code(rows: Sequence[Row]) -> int:
    """0 only when every stack succeeded; 130 after Ctrl-C (as a shell reports SIGINT)."""
    if any(row.status == "cancelled" for row in rows):
        return 130
    return 0 if all(row.status == "succeeded" for row in rows) else 1
