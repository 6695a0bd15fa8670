"""One stack's engine events folded into what the fleet shows: its progress line and its row.

The engine reports each resource step twice (ResourcePreEvent when it starts, ResOutputsEvent or
ResOpFailedEvent when it ends), so "done/total" is steps ended over steps started so far: the
total grows while the program registers resources, as in the Pulumi CLI's own display.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .drift import KIND_OF_RESULT, Drift, drift_of

if TYPE_CHECKING:
    from pulumi.automation import EngineEvent

KINDS = ("create", "update", "replace", "delete")

#: Step op -> the change it counts as, once per resource (a replacement's steps are one replace).
CHANGE_OF_OP = {
    "create": "create",
    "import": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "discard-replaced": "replace",
    "import-replacement": "replace",
    "delete": "delete",
    "discard": "delete",
}

# The engine refuses these in its step generator (pkg/resource/deploy/step_generator.go and
# step.go of pulumi v3.260.0), sometimes before any step event names the resource.
_PROTECTION = re.compile(r'(?:unable to replace resource|resource) "(urn:[^"]+)"\s*'
                         r"(?:as it is currently marked for protection|cannot be deleted\s+because it is protected)")
# What the engine adds after the program's own error: it says nothing the first error did not.
_GENERIC = ("an unhandled error occurred: program exited with non-zero exit code", "preview failed", "update failed")


def short_name(urn: str) -> str:
    """The resource's name, the last part of its URN (what `pulumi preview` prints)."""
    return urn.rsplit("::", 1)[-1]


@dataclass
class Progress:
    phase: str = "queued"
    step: str = ""
    started: set[str] = field(default_factory=set)
    ended: set[str] = field(default_factory=set)
    changed: dict[str, set[str]] = field(default_factory=lambda: {kind: set() for kind in KINDS})
    protected: set[str] = field(default_factory=set)  # URNs of protected objects a step deletes or replaces
    errors: list[str] = field(default_factory=list)
    drift: dict[str, Drift] = field(default_factory=dict)  # a refresh's ("drift" phase) objects that differ

    def begin(self, phase: str) -> None:
        """A new engine operation (preview, then up): its own steps, changes and errors."""
        self.phase, self.step = phase, ""
        self.started, self.ended, self.errors, self.drift = set(), set(), [], {}
        self.changed = {kind: set() for kind in KINDS}

    def fold(self, event: "EngineEvent") -> None:
        if event.resource_pre_event:
            meta = event.resource_pre_event.metadata
            self.started.add(meta.urn)
            self.step = f"{meta.op.value} {short_name(meta.urn)}"
            kind = CHANGE_OF_OP.get(meta.op.value)
            if kind and not meta.type.startswith("pulumi:providers:"):  # as the CLI's summary counts
                self.changed[kind].add(meta.urn)
            if kind in ("replace", "delete") and meta.old is not None and meta.old.protect:
                self.protected.add(meta.urn)
        elif event.res_outputs_event:
            meta = event.res_outputs_event.metadata
            self.ended.add(meta.urn)
            found = drift_of(meta) if self.phase == "drift" else None
            if found:
                self.drift[meta.urn] = found
                self.changed[KIND_OF_RESULT[meta.op.value]].add(meta.urn)
        elif event.res_op_failed_event:
            self.ended.add(event.res_op_failed_event.metadata.urn)
        elif event.policy_event and event.policy_event.enforcement_level == "mandatory":
            policy = event.policy_event  # the engine then fails with only "preview failed"
            where = f" {short_name(policy.resource_urn)}:" if policy.resource_urn else ""
            self.errors.append(f"policy {policy.policy_pack_name}/{policy.policy_name}:{where} {policy.message}")
        elif event.diagnostic_event and event.diagnostic_event.severity == "error":
            message = event.diagnostic_event.message
            self.protected.update(match.group(1) for match in _PROTECTION.finditer(message))
            self.errors.append(message)

    def counts(self) -> dict[str, int]:
        return {kind: len(urns) for kind, urns in self.changed.items()}

    def line(self) -> str:
        return f"{self.phase}: {self.step or 'starting'} ({len(self.ended)}/{len(self.started)})"

    def protected_names(self) -> str:
        return ", ".join(sorted({short_name(urn) for urn in self.protected}))

    def error(self) -> str:
        """The engine's errors as one line: the program's own words, without what the engine adds."""
        found = [text for text in map(_one_line, self.errors) if text]
        specific = [text for text in found if not text.startswith(_GENERIC)]
        return "; ".join(dict.fromkeys(specific or found))


def _one_line(message: str) -> str:
    """A heading with an indented list ("invalid configuration:" and its problems) becomes the
    list joined by "; "; a message wrapped over lines becomes one line."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return "; ".join(lines[1:])
    return " ".join(lines)
