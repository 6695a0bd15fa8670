"""One stack of the fleet: its config checked locally, then what a killed run left on it, then the
engine's preview, then (up) its update; or (drift) the engine's refresh in preview mode alone.

`up` runs only after a clean preview of the same stack, and never when that preview would delete
or replace a protected object; nothing here ever destroys, and `drift` writes no state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from pulumi import automation as auto

from .. import recovery, stackfile
from components.config import ConfigError, load_stack_config
from .progress import Progress
from .report import Row

if TYPE_CHECKING:
    from components.config import StackConfig

Show = Callable[[str, Progress, bool], None]


@dataclass(frozen=True)
class EngineOptions:
    """What every stack's preview and up get: policy packs (with one config each, or none), a
    directory for each stack's engine output, shown with --diff (`log_name`), and (--bulk) one
    for the backup of each stack's state taken before its update."""

    policy_packs: tuple[str, ...] = ()
    policy_pack_configs: tuple[str, ...] = ()
    log_dir: Path | None = None
    backup_dir: Path | None = None


def log_name(stack: str) -> str:
    """The file of a stack's engine output in --log-dir (an org/stack name's `/` as `_`)."""
    return stack.replace("/", "_") + ".log"


def stack_config(stack: str, root: Path) -> "StackConfig":
    """The stack file validated with the program's own models (ConfigError, StackFileError): the
    same `<config path>: <problem>` lines the program would exit with, without starting an engine.
    A stack without a stack file has no config, as for the Pulumi CLI."""
    path = root / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"  # an org/project/stack name: its last part
    project = stackfile.project_name(root)
    config = stackfile.load_config(path, project) if path.exists() else {}
    stackfile.check_config_size(config, path)
    return load_stack_config(config, project, root)


def config_problem(stack: str, root: Path) -> str:
    """The stack file's problems as one line, or ''."""
    try:
        stack_config(stack, root)
    except ConfigError as exc:
        return "; ".join(str(problem) for problem in exc.problems)
    except stackfile.StackFileError as exc:
        return str(exc)
    return ""


class StackRun:
    def __init__(self, name: str, command: str, workspace: auto.LocalWorkspace, show: Show,
                 stop: threading.Event, check_config: Callable[[str], str] | None = None,
                 check_leftovers: Callable[[str], recovery.Leftovers] | None = None,
                 options: EngineOptions = EngineOptions()):
        self.name, self.command, self.workspace, self.options = name, command, workspace, options
        self.show, self.stop = show, stop
        self.check_config = check_config or (lambda stack: config_problem(stack, Path(workspace.work_dir)))
        self.check_leftovers = check_leftovers or (lambda stack: recovery.check(stack, Path(workspace.work_dir)))
        self.progress = Progress()
        self.output: list[str] = []  # the engine's own display, for --log-dir
        self._start = time.monotonic()

    def __call__(self) -> Row:
        self._start = time.monotonic()
        row = self._run()
        if self.options.log_dir is not None and self.output:
            self.options.log_dir.mkdir(parents=True, exist_ok=True)
            (self.options.log_dir / log_name(self.name)).write_text("\n".join(self.output) + "\n")
        return row

    def _run(self) -> Row:
        if self.stop.is_set():
            return self._row("cancelled", "cancelled before it started")
        # A refresh reads the cluster against the state and never runs the program: its config is not used.
        problem = "" if self.command == "drift" else self.check_config(self.name)
        if problem:
            return self._row("failed", problem)
        # A killed run's leftovers: the row names the commands, which are never run here
        # (docs/operations.md, "When a run was killed"); another run's lock stops only an update.
        leftovers = self.check_leftovers(self.name)
        if leftovers.problems or (leftovers.held and self.command == "up"):
            return self._row("failed", leftovers.one_line())
        try:
            stack = auto.Stack.select(self.name, self.workspace)
            if self.command == "drift":
                return self._engine("drift", stack.preview_refresh) or self._row(
                    "drifted" if self.progress.drift else "succeeded")
            failed = self._engine("preview", stack.preview)
            if failed or self.command == "preview":
                return failed or self._row("succeeded")
            if self.stop.is_set():
                return self._row("cancelled", "cancelled after its preview; nothing applied")
            if self.options.backup_dir is not None:
                failed = self._backup(stack)
                if failed:
                    return failed
            return self._engine("up", stack.up) or self._row("succeeded")
        except auto.StackNotFoundError:
            return self._row("failed", f"no stack {self.name!r} in this project's backend"
                                       f" (create it: pulumi stack init {self.name})")
        except auto.CommandError as exc:  # selecting the stack failed (a backend or passphrase problem)
            return self._row("failed", last_line(exc))

    def _backup(self, stack: auto.Stack) -> Row | None:
        """The bulk path's backup of the state, before an update that writes it only at its end."""
        from ..bulk import announce, write_backup

        try:
            exported = stack.export_stack()
            assert self.options.backup_dir is not None
            path = write_backup({"version": exported.version, "deployment": exported.deployment},
                                self.options.backup_dir, self.name)
        except auto.CommandError as exc:
            return self._row("failed", f"not applied: its state could not be exported for the backup: {last_line(exc)}")
        except OSError as exc:
            return self._row("failed", f"not applied: the backup could not be written to {self.options.backup_dir}: "
                                       f"{exc.strerror or exc}")
        self.output.append(announce(path, self.name))
        return None

    def _engine(self, phase: str, operation) -> Row | None:
        """Run one engine operation with its events folded; a Row when it did not go cleanly."""
        self.progress.begin(phase)
        self.show(self.name, self.progress, True)
        kwargs = {"on_event": self._on_event}
        if self.options.log_dir is not None:
            kwargs.update(on_output=self.output.append, diff=True)
        if phase != "drift" and self.options.policy_packs:  # a refresh runs no policies
            kwargs.update(policy_packs=list(self.options.policy_packs))
            if self.options.policy_pack_configs:
                kwargs.update(policy_pack_configs=list(self.options.policy_pack_configs))
        try:
            operation(**kwargs)
            failed = self._protected() if self.progress.protected else None
        except Exception as exc:  # CommandError, or the SDK's own when the engine stopped early
            if self.stop.is_set():
                failed = self._row("cancelled", f"cancelled during {phase}")
            elif self.progress.protected:
                failed = self._protected()
            else:
                failed = self._row("failed", self.progress.error() or last_line(exc))
        self.progress.step = failed.status if failed else "done"
        self.show(self.name, self.progress, True)
        return failed

    def _on_event(self, event: auto.EngineEvent) -> None:
        self.progress.fold(event)
        self.show(self.name, self.progress, False)

    def _protected(self) -> Row:
        names = self.progress.protected_names()
        if self.progress.phase == "up":  # cannot happen after a clean preview; said plainly if it does
            return self._row("failed", f"the update deleted or replaced protected {names}")
        would = f"its preview would delete or replace protected {names}"
        return self._row("refused", f"not applied: {would}") if self.command == "up" else self._row("failed", would)

    def _row(self, status: str, error: str = "") -> Row:
        # A preview's protected steps are planned ones; in `up` they stop it before anything is
        # applied, so only protected steps of the update itself would have touched an object.
        untouched = not (self.progress.protected and (self.command == "preview" or self.progress.phase == "up"))
        return Row(self.name, status, self.progress.counts(), untouched, time.monotonic() - self._start, error,
                   tuple(sorted(self.progress.drift.values())))


def last_line(exc: Exception) -> str:
    """The last line the CLI printed on stderr: its error, without the whole engine log."""
    text = str(exc)
    if "\n stderr: " in text:  # how the Automation API's CommandError shows the CLI's output
        text = text.rsplit("\n stderr: ", 1)[1]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
