"""Drift: what the engine's refresh, in preview mode, found changed behind the stack's back.

A refresh reads every object from the cluster and diffs what it found against the stack's inputs
(`RefreshStep.Apply` in pkg/resource/deploy/step.go, pulumi v3.260.0). Its ResOutputsEvent carries
the result (`same`, `update`, or `delete` for an object that is gone: `ResultOp`, same file) and
the diff by field path, inverted so that it reads from the stack's side: `add` is a field the live
object has and the stack does not set, `delete` one the stack sets and the live object lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi.automation import StepEventMetadata

#: A refresh's result op -> the fleet table's column it counts in.
KIND_OF_RESULT = {"update": "update", "delete": "delete"}

#: The engine's diff kinds (sdk/go/common/resource/plugin: DiffKind), in the user's words.
_FIELD_CHANGE = {"add": "added", "delete": "removed", "update": "changed"}


@dataclass(frozen=True, order=True)
class Drift:
    """One object that differs from the stack: `deleted`, or `changed` with its fields."""

    name: str
    type: str
    urn: str
    change: str
    fields: tuple[tuple[str, str], ...] = ()  # (path, "added" | "removed" | "changed"), sorted by path

    def describe(self) -> str:
        if self.change == "deleted":
            return "deleted"
        by_change: dict[str, list[str]] = {}
        for path, change in self.fields:
            by_change.setdefault(change, []).append(path)
        parts = [f"{change} {', '.join(paths)}" for change, paths in sorted(by_change.items())]
        return "; ".join(parts) or "changed"  # a provider that names no field: the engine's own word

    def as_dict(self) -> dict:
        return {"object": self.name, "type": self.type, "urn": self.urn, "change": self.change,
                "fields": [{"path": path, "change": change} for path, change in self.fields]}

    @classmethod
    def from_dict(cls, data: dict) -> "Drift":
        """The inverse of as_dict: a drift read back from a --summary-json."""
        return cls(data["object"], data["type"], data["urn"], data["change"],
                   tuple((field["path"], field["change"]) for field in data["fields"]))


def drift_of(meta: "StepEventMetadata") -> Drift | None:
    """The drift one refresh step reports, or None when the object matches the stack."""
    result = meta.op.value
    if result not in KIND_OF_RESULT:
        return None
    name, type_ = meta.urn.rsplit("::", 1)[-1], meta.type
    if result == "delete":
        return Drift(name, type_, meta.urn, "deleted")
    if meta.detailed_diff:
        fields = {path: _FIELD_CHANGE[diff.diff_kind.value.split("-")[0]]
                  for path, diff in meta.detailed_diff.items()}
    else:  # only the top-level keys: what an older provider reports
        fields = dict.fromkeys(meta.diffs or (), "changed")
    return Drift(name, type_, meta.urn, "changed", tuple(sorted(fields.items())))
