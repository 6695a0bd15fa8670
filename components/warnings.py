"""Config warnings go to `pulumi preview`/`up` output, attached to the component they concern."""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

import pulumi

from .core.errors import join_path
from .core.data import one_line


def warn_all(resource: Optional[pulumi.Resource], label: str, warnings: Iterable[tuple[Sequence, str]]) -> None:
    for loc, message in warnings:
        pulumi.log.warn(one_line(f"{join_path(label, loc)}: {message}"), resource=resource)
