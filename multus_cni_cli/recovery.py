"""What a killed `pulumi up` left behind (a SIGKILL, an OOM kill, a CI runner's timeout), and the
exact commands that recover the stack, in order. Nothing here runs them: `make up` and `fleet`
print them and stop (docs/operations.md, "When a run was killed").

A killed CLI can leave three things, each seen on the live toolchain (pulumi v3.260.0):

- its **lock** (file backends: `.pulumi/locks/<org>/<project>/<stack>/<id>.json`, with the CLI's
  pid, user, host and start time). Every later `up`/`refresh` fails with "the stack is currently
  locked". It is stale when it names this host and that pid runs no `pulumi` any more; a lock of a
  running `pulumi`, or of another host, is another run's and is never called stale;
  `pulumi cancel --yes` deletes every lock of the stack.
- **pending operations** (`deployment.pending_operations` of `pulumi stack export`: "creating",
  "updating", "deleting"). A later `up` only warns about them and a plain `refresh` keeps the
  creates; `pulumi refresh --clear-pending-creates --yes --skip-preview` clears all three kinds.
- an empty **`<stack>.json.attrs`** beside the checkpoint (file backends: the blob library writes
  that sidecar, then renames the new checkpoint into place): every command then fails with
  "failed to load checkpoint: EOF", while `<stack>.json` is still the last complete checkpoint.
  Deleting the sidecar makes it load again (the library reads a missing sidecar as empty).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

from .pulumi_cli import Pulumi, StepFailed
from .stackfile import StackFileError, project_name

#: The pending operations of a checkpoint, as the engine names them.
PENDING = "pending_operations"


@dataclass(frozen=True)
class Lock:
    path: Path
    pid: int | None
    username: str
    hostname: str
    timestamp: str

    def who(self) -> str:
        pid = f"pid {self.pid}" if self.pid is not None else "unknown pid"
        return f"{self.username or '?'}@{self.hostname or '?'} ({pid}) since {self.timestamp or '?'}"


@dataclass(frozen=True)
class Leftovers:
    """What `check` found: `held` (another run holds the lock), or `problems` and their `commands`."""

    stack: str
    held: str = ""
    problems: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.held or self.problems)

    def text(self, setup: tuple[str, ...] = (), then: str = "") -> str:
        """The lines `make up` prints: what was found, the commands (after `setup`), what to run after."""
        if self.held:
            return self.held + "\n"
        lines = [f"Stack '{self.stack}' was left behind by a run that was killed:",
                 *(f"  - {problem}" for problem in self.problems)]
        if self.commands:
            lines += ["Recover it with these commands, in order (docs/operations.md, \"When a run was killed\"):",
                      *(f"  {command}" for command in (*setup, *self.commands))]
            if then:
                lines.append(f"Then run `{then}` again.")
        return "\n".join(lines) + "\n"

    def one_line(self, then: str = "") -> str:
        """The same as one line (a fleet table's ERROR column)."""
        if self.held or not self.commands:
            return self.held or "; ".join(self.problems)
        steps = ", then ".join(f"`{command}`" for command in self.commands)
        return f"left by a killed run ({'; '.join(self.problems)}): run {steps}" + (f", then `{then}` again" if then else "")


def check(stack: str, project_dir: Path = Path("."), backend_url: str | None = None,
          hostname: str | None = None, proc: Path = Path("/proc"),
          export: Callable[[], dict] | None = None) -> Leftovers:
    """What a killed run left on `stack` (empty when nothing, or when the CLI cannot tell: then the
    next `pulumi up` says why itself). `backend_url` saves a `pulumi whoami` per stack; `export`
    stands in for `pulumi stack export`."""
    pulumi = Pulumi(stack, project_dir)
    export = export or pulumi.export
    here = hostname or socket.gethostname()
    name = stack.rsplit("/", 1)[-1]
    try:
        project = project_name(project_dir)
        root = file_backend(backend_url if backend_url is not None else pulumi.backend_url())
    except (StepFailed, StackFileError):
        return Leftovers(stack)
    problems: list[str] = []
    commands: list[str] = []
    checkpoint = None
    if root is not None:
        broken = broken_sidecar(root, project, name)
        if broken is not None:
            checkpoint = read_checkpoint(broken.with_suffix(""))
            if checkpoint is None:  # not seen after a kill: no proven command
                return Leftovers(stack, problems=(f"{broken} is cut off and {broken.with_suffix('').name} is not "
                                                  "a readable checkpoint either; nothing here is proven to repair that",))
            problems.append(f"{broken} is empty or cut off, so every command fails with "
                            f"\"failed to load checkpoint: EOF\" ({broken.with_suffix('').name} itself is whole)")
            commands.append(f"rm {shlex.quote(str(broken))}")
        locks = stack_locks(root, project, name)
        live = [lock for lock in locks if not stale(lock, here, proc)]
        if live:
            where = "" if live[0].hostname == here else " (on another host: this one cannot tell whether it still runs)"
            return Leftovers(stack, held=f"Stack '{stack}' is locked by another run: {live[0].who()}{where}; "
                                         "wait for it to end")
        if locks:
            problems.append("a lock of a `pulumi` that no longer runs: " + ", ".join(lock.who() for lock in locks))
            commands.append(command("cancel", stack))
    if checkpoint is None:
        try:
            checkpoint = export().get("deployment") or {}
        except StepFailed:
            checkpoint = {}
    pending = pending_operations(checkpoint)
    if pending:
        problems.append(f"{len(pending)} pending operation{'s' if len(pending) > 1 else ''} "
                        f"({', '.join(pending[:3])}{', ...' if len(pending) > 3 else ''})")
        commands.append(command("refresh", stack))
    return Leftovers(stack, problems=tuple(problems), commands=tuple(commands))


def command(step: str, stack: str) -> str:
    """The recovery command for a step, as proven live (tests/integration/test_live_interrupt.py)."""
    flags = {"cancel": ["cancel", "--yes"],
             "refresh": ["refresh", "--clear-pending-creates", "--yes", "--skip-preview"]}[step]
    return shlex.join(["pulumi", *flags, "--stack", stack])


def file_backend(url: str) -> Path | None:
    """The directory of a `file://` backend (None for any other: its locks are not ours to read)."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.netloc + parsed.path)).expanduser()


def stack_locks(root: Path, project: str, stack: str) -> list[Lock]:
    """The stack's lock files: `<org>/<project>/<stack>/` (project-scoped backends) or `<stack>/` (legacy)."""
    locks = root / ".pulumi" / "locks"
    found = []
    for path in sorted([*locks.glob(f"*/{project}/{stack}/*.json"), *locks.glob(f"{stack}/*.json")]):
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError):
            content = {}
        content = content if isinstance(content, dict) else {}
        pid = content.get("pid")
        found.append(Lock(path, pid if isinstance(pid, int) else None, str(content.get("username") or ""),
                          str(content.get("hostname") or ""), str(content.get("timestamp") or "")))
    return found


def stale(lock: Lock, hostname: str, proc: Path = Path("/proc")) -> bool:
    """Whether the lock's process is gone: it names this host, and its pid runs no `pulumi` (a reused
    pid runs something else). A lock of another host is never stale: nothing here can tell."""
    if lock.hostname != hostname or lock.pid is None:
        return False
    try:
        stat = (proc / str(lock.pid) / "stat").read_text()
    except OSError:
        return True
    comm, _, rest = stat.partition(" (")[2].rpartition(") ")
    return comm != "pulumi" or rest.startswith("Z")


def broken_sidecar(root: Path, project: str, stack: str) -> Path | None:
    """The checkpoint's `.attrs` sidecar when it is there but not JSON (a kill while it was written)."""
    stacks = root / ".pulumi" / "stacks"
    for checkpoint in (stacks / project / f"{stack}.json", stacks / project / f"{stack}.json.gz",
                       stacks / f"{stack}.json", stacks / f"{stack}.json.gz"):
        sidecar = checkpoint.with_name(checkpoint.name + ".attrs")
        try:
            json.loads(sidecar.read_text())
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            return sidecar
    return None


def read_checkpoint(path: Path) -> dict | None:
    """A file backend's checkpoint as `deployment` of an export (None when it is not JSON)."""
    try:
        document = json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes())
        return document["checkpoint"].get("latest") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def pending_operations(deployment: dict) -> list[str]:
    """Each pending operation as `<type> <name>` (its URN's last part)."""
    return [f"{op.get('type', '?')} {str(op.get('resource', {}).get('urn', '?')).rsplit('::', 1)[-1]}"
            for op in deployment.get(PENDING) or []]


def main(argv: list[str] | None = None) -> int:
    """`python -m multus_cni_cli.recovery --stack NAME`: 0 when the stack is free of leftovers;
    1 (and the lines on stderr) when a killed run left some, or another run holds the lock."""
    parser = argparse.ArgumentParser(prog="python -m multus_cni_cli.recovery", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project-dir", type=Path, default=Path("."))
    parser.add_argument("--setup", action="append", default=[], metavar="LINE",
                        help="a line to print before the commands (the environment the caller set up)")
    parser.add_argument("--then", default="", metavar="COMMAND", help="what to run again afterwards")
    args = parser.parse_args(argv)
    found = check(args.stack, args.project_dir)
    if not found:
        return 0
    sys.stderr.write(found.text(tuple(args.setup), args.then))
    return 1


if __name__ == "__main__":
    sys.exit(main())
