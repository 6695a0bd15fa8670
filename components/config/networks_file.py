"""`multus-cni:networksFile`: networks kept in a file of the project, after the inline `networks`.

Why a file: the engine hands a program its whole stack config in ONE environment variable,
PULUMI_CONFIG (pulumi/pulumi#8680; policy packs the same, #20402), and Linux caps one environment
string at 128 KiB (MAX_ARG_STRLEN), so a stack of about 1,000 inline networks cannot start. The
file is part of the program, read on every run; its networks are checked exactly as inline ones,
and every problem names the file and the index in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..core.data import DataError, decode_json, load_yaml
from ..core.data import problems as plain_problems
from ..core.errors import ConfigError, Problem, Verbatim, describe, join_path

KEY = "networksFile"

# `networks[i]` as a stack path or in a message, not a workload's own `workloads[0].networks[i]`.
_STACK_NETWORK = re.compile(r"(?<![\w.\]])networks\[(\d+)\]")


@dataclass(frozen=True)
class NetworksFile:
    """Where the file's networks sit among the stack's: after the `start` inline ones."""

    name: str  # as written in the config
    start: int

    @property
    def label(self) -> Verbatim:
        return Verbatim(f"{KEY}({self.name})")

    def loc(self, index: int) -> tuple:
        """The config location of the stack's network `index`, inline or in the file."""
        return ("networks", index) if index < self.start else (self.label, index - self.start)

    def text(self, text: str) -> str:
        """`text` with each `networks[i]` of a file network written as `networksFile(<file>)[j]`."""
        return _STACK_NETWORK.sub(lambda m: join_path("", self.loc(int(m.group(1)))), text)

    def problem(self, problem: Problem, prefix: str) -> Problem:
        if problem.path.startswith(f"{prefix}workloads"):  # its networks[i] are the workload's own selections
            return problem
        return Problem(self.text(problem.path), self.text(problem.message))

    def found(self, items: Sequence[tuple[tuple, str]]) -> list[tuple[tuple, str]]:
        """(location, message) pairs of stack-level checks, relocated."""
        out = []
        for loc, message in items:
            if loc[:1] == ("networks",) and len(loc) > 1 and isinstance(loc[1], int):
                loc = (*self.loc(loc[1]), *loc[2:])
            out.append((loc, message if loc[:1] == ("workloads",) else self.text(message)))
        return out


def read(name: Any, root: Path, prefix: str) -> list:
    """The file's list of networks as plain data; ConfigError (one line) when it cannot be."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError([Problem(f"{prefix}{KEY}", f"must be the path of a YAML or JSON file, not {describe(name)}")])
    where = join_path(prefix, (NetworksFile(name, 0).label,))
    path = root / name
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(where, f"no such file (looked for {path})")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(where, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise ConfigError([Problem(where, f"cannot be read: {exc.strerror or exc} ({path})")]) from None
    try:
        value = decode_json(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except DataError as exc:
        raise ConfigError([Problem(where, str(exc))]) from None
    if value is None:  # an empty file: no networks, as an empty stack file has no config
        return []
    if not isinstance(value, list):
        raise ConfigError([Problem(where, f"must hold a list of networks (as multus-cni:networks), not {describe(value)}")])
    found = plain_problems(value, ())
    if found:
        raise ConfigError(Problem(join_path(where, loc), message) for loc, message in found)
    return value
