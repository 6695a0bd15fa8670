"""The Pulumi CLI as the tools run it: one stack, never interactive, a failure as one exception
whose message says what was being done (the tools never edit state or the cluster by hand)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path


class StepFailed(Exception):
    """A step did not finish; the message says which and why (what is left is for the next run)."""


@dataclass
class Pulumi:
    stack: str
    cwd: Path

    def __call__(self, *args: str, what: str) -> str:
        return self._run(list(args), what, ("--stack", self.stack))

    def backend_url(self) -> str:
        """The state backend the CLI uses here (`pulumi whoami`: the environment, Pulumi.yaml, the login)."""
        what = "finding the state backend"
        try:
            return json.loads(self._run(["whoami", "--json"], what))["url"]
        except (ValueError, KeyError, TypeError):
            raise StepFailed(f"{what}: `pulumi whoami --json` did not print its JSON") from None

    def _run(self, args: list[str], what: str, stack: tuple[str, ...] = ()) -> str:
        command = ["pulumi", *args, *stack, "--non-interactive"]
        try:
            done = subprocess.run(command, cwd=self.cwd, capture_output=True, text=True, timeout=1800)
        except FileNotFoundError:
            raise StepFailed("the Pulumi CLI (`pulumi`) is not on PATH") from None
        except subprocess.TimeoutExpired:
            raise StepFailed(f"{what}: `pulumi {' '.join(args[:2])}` did not finish in 30 minutes") from None
        if done.returncode:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise StepFailed(f"{what}: `pulumi {' '.join(args[:3])}` failed (exit {done.returncode}):\n{tail}")
        return done.stdout

    def export(self) -> dict:
        what = "reading the stack's state"
        try:
            return json.loads(self("stack", "export", what=what))
        except ValueError:
            raise StepFailed(f"{what}: `pulumi stack export` did not print JSON") from None

    def state(self):
        """The export as decommission reads it (a `StackState`)."""
        from .decommission.state import StackState

        return StackState(self.export())
