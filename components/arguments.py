"""The components' Python arguments, checked before Pulumi sees them: a wrong type is a
ConfigError naming the argument, like a bad config value, never an AttributeError."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pulumi

from .core.errors import ConfigError, Problem
from .core.errors import describe, join_path


def resource_name(kind: str, name: Any) -> str:
    """`name`, which Pulumi needs as non-empty text to build the resource's URN."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError([Problem(f"{kind} name", f"must be non-empty text, not {describe(name)}")])
    return name


def label(kind: str, name: Any, config_path: Optional[str]) -> str:
    """How errors name a component: its stack config path, else `Kind name`."""
    return config_path or f"{kind} {resource_name(kind, name)}"


def resource(label: str, key: str, value: Any, what: str) -> Optional[pulumi.Resource]:
    """An optional Pulumi resource argument (such as the Multus install a NAD waits for)."""
    if value is not None and not isinstance(value, pulumi.Resource):
        raise ConfigError([Problem(join_path(label, (key,)), f"must be {what}, not {describe(value)}")])
    return value


def resources(label: str, key: str, values: Any, kind: type, what: str) -> list:
    """A list of components of one kind (such as a workload's NetworkAttachments)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ConfigError([Problem(join_path(label, (key,)), f"must be a list of {what}, not {describe(values)}")])
    wrong = [Problem(join_path(label, (key, i)), f"must be a {kind.__name__}, not {describe(v)}")
             for i, v in enumerate(values) if not isinstance(v, kind)]
    if wrong:
        raise ConfigError(wrong)
    return list(values)
