"""Ctrl-C for a fleet: cancel every running engine operation the way the Pulumi CLI's own Ctrl-C does.

A Pulumi CLI that receives SIGINT stops scheduling steps, lets the resource operations in flight
finish, saves the state and releases the stack's lock; a second SIGINT makes it terminate at
once. So each engine process must get exactly one SIGINT. Pressed in a terminal, Ctrl-C already
reaches them (the Automation API starts them in our process group); a SIGINT sent to this process
alone (`kill -INT`, a CI runner) does not, so it is forwarded. `pulumi cancel` is no substitute:
on a file backend it only deletes the lock files while the engine goes on writing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator


class Interrupt:
    def __init__(self) -> None:
        self.requested = threading.Event()
        self._signalled: set[int] = set()
        self._previous = None

    def __enter__(self) -> "Interrupt":
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _on_sigint(self, signum, frame) -> None:
        if self.requested.is_set():
            return  # the engines are already cancelling; a second SIGINT would make them terminate
        self.requested.set()
        print("Ctrl-C: cancelling the running stacks (each finishes the resource operations in flight, "
              "saves its state and releases its lock); queued stacks do not start", file=sys.stderr, flush=True)
        if _terminal_sent_it():
            self._signalled.update(engine_processes())
        self.forward()

    def forward(self) -> None:
        """SIGINT to each engine process not signalled yet (also one that started just now)."""
        if not self.requested.is_set():
            return
        for pid in engine_processes():
            if pid not in self._signalled:
                self._signalled.add(pid)
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:
                    pass


def engine_processes(parent: int | None = None, proc: Path = Path("/proc")) -> Iterator[int]:
    """The `pulumi` processes this process started (Linux /proc: the Automation API keeps no handle)."""
    parent = os.getpid() if parent is None else parent
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        comm, _, rest = stat.partition(" (")[2].rpartition(") ")
        fields = rest.split()
        if comm == "pulumi" and len(fields) > 1 and int(fields[1]) == parent:
            yield int(entry.name)


def _terminal_sent_it() -> bool:
    """Whether we are the terminal's foreground process group, which gets the terminal's Ctrl-C."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)
