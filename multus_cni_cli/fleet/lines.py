"""Progress from parallel stacks as whole lines, one at a time, each stack's at most every few seconds."""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

from .progress import Progress


class Lines:
    def __init__(self, stream: TextIO = sys.stderr, interval: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.stream, self.interval, self.clock = stream, interval, clock
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, str]] = {}

    def show(self, stack: str, progress: Progress, force: bool) -> None:
        """`force`: a phase starting or ending, always shown; else throttled per stack."""
        text = progress.line()
        with self._lock:
            now = self.clock()
            when, shown = self._last.get(stack, (float("-inf"), ""))
            if text == shown or (not force and now - when < self.interval):
                return
            self._last[stack] = (now, text)
            self.stream.write(f"[{stack}] {text}\n")
            self.stream.flush()
