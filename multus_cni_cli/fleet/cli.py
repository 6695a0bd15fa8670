"""`fleet preview|up|drift|audit` arguments, the bounded worker pool, and the final table."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Sequence

from ..cli_types import fraction, positive_int
from . import shard
from .interrupt import Interrupt
from .lines import Lines
from .report import Row, as_json, exit_code, table

USAGE_ERROR = 2
ACTIONS = ("preview", "up", "drift", "audit")


HELP = "preview, deploy, check for drift or audit IP addresses on many stacks of this project in parallel"


def add_arguments(fleet: argparse.ArgumentParser) -> None:
    fleet.add_argument("action", choices=ACTIONS,
                       help="drift: a refresh in preview mode (nothing written): what changed behind each stack's back;"
                            " audit: audit-ipam on each stack's cluster (no engine runs)")
    which = fleet.add_mutually_exclusive_group(required=True)
    which.add_argument("--stacks", type=_names, help="comma-separated stack names (a,b,c)")
    which.add_argument("--all", action="store_true", help="every stack of this project in the backend")
    which.add_argument("--stack-files", action="store_true",
                       help="every stack with a Pulumi.<stack>.yaml in the project directory (what the workflows run)")
    fleet.add_argument("--shard", type=_shard, metavar="I/N",
                       help="only the I-th of N stable shares of those stacks (by a hash of each name)")
    fleet.add_argument("--policy-pack", action="append", default=[], metavar="DIR",
                       help="preview and up: run this policy pack too (repeatable)")
    fleet.add_argument("--policy-pack-config", action="append", default=[], metavar="FILE",
                       help="the config of the --policy-pack in the same position (one per pack, or none)")
    fleet.add_argument("--log-dir", type=Path, metavar="DIR",
                       help="write each stack's engine output, with its diff, to DIR/<stack>.log")
    fleet.add_argument("--parallel", type=positive_int, default=4, metavar="N", help="stacks at a time (default 4)")
    fleet.add_argument("--yes", action="store_true", help="up: apply without asking")
    fleet.add_argument("--bulk", action="store_true",
                       help="up: the bulk path of a first rollout: each stack's state backed up, then written only "
                            "when its update ends (docs/operations.md \"The bulk path\")")
    fleet.add_argument("--backup-dir", type=Path, default=None, metavar="DIR",
                       help="--bulk: where each stack's backup goes (default: <project>/.pulumi-backups)")
    fleet.add_argument("--summary-json", type=Path, metavar="FILE", help="also write the table as JSON")
    fleet.add_argument("--pool-threshold", type=fraction, default=None, metavar="FRACTION",
                       help="audit: report a whereabouts pool this full or fuller (default: 0.9)")
    fleet.add_argument("--progress-interval", type=float, default=2.0, metavar="SECONDS",
                       help="at most one progress line per stack this often (default 2)")


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: an empty stack name")
    return list(dict.fromkeys(names))


def _shard(text: str) -> tuple[int, int]:
    try:
        return shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def command(args: argparse.Namespace) -> int:
    from pulumi import automation as auto

    try:
        return _command(args)
    except KeyboardInterrupt:  # before any engine started, or at the prompt: nothing to cancel
        return 130
    except auto.CommandError as exc:  # listing the stacks failed: the backend's own words
        from .stack_run import last_line

        print(f"fleet: {last_line(exc)}", file=sys.stderr)
        return USAGE_ERROR


def _command(args: argparse.Namespace) -> int:
    from pulumi import automation as auto

    if args.action == "up" and not args.yes and not sys.stdin.isatty():
        print("fleet up: --yes is needed without a terminal to confirm on", file=sys.stderr)
        return USAGE_ERROR
    if args.policy_pack_config and len(args.policy_pack_config) != len(args.policy_pack):
        print(f"fleet: {len(args.policy_pack_config)} --policy-pack-config for {len(args.policy_pack)} --policy-pack:"
              " give one config per pack, in the same order, or none", file=sys.stderr)
        return USAGE_ERROR
    if (args.bulk or args.backup_dir) and args.action != "up":
        print(f"fleet {args.action}: --bulk and --backup-dir are for `fleet up` only", file=sys.stderr)
        return USAGE_ERROR
    # The CLI takes PULUMI_SKIP_CONFIRMATIONS (set in many CI environments) as --yes, which it refuses
    # beside the --preview-only of a drift check; a drift check asks nothing anyway.
    env = {"PULUMI_SKIP_CONFIRMATIONS": "false"} if args.action == "drift" else {}
    if args.bulk:  # a preview writes no state: only the updates change
        from ..bulk import ENV

        env.update(ENV)
    workspace = auto.LocalWorkspace(work_dir=str(args.project_dir), env_vars=env or None)
    known = sorted(summary.name for summary in workspace.list_stacks())
    if args.stack_files:
        names = [_backend_name(name, known) for name in shard.stack_files(args.project_dir)]
    else:
        names = known if args.all else args.stacks
    # A stack file with no stack yet (a cluster being added) fails its own row, not the others';
    # a name typed in --stacks that the backend lacks is a usage error before anything runs.
    unknown = [] if args.stack_files else [name for name in names if name not in known]
    if unknown:
        print(f"fleet: no such stack in this project's backend: {', '.join(unknown)} (it has: {', '.join(known) or 'none'})",
              file=sys.stderr)
        return USAGE_ERROR
    if not names:
        where = "stack files (Pulumi.<stack>.yaml)" if args.stack_files else "stacks in the backend"
        print(f"fleet: this project has no {where}", file=sys.stderr)
        return USAGE_ERROR
    if args.shard:
        names = shard.select(names, *args.shard)
        if not names:  # a matrix leaves empty shards out; by hand, nothing to do is not an error
            print(f"fleet: shard {args.shard[0]}/{args.shard[1]} holds none of these stacks", file=sys.stderr)
    if args.action == "up" and not args.yes:
        code, rows = _run(args, workspace, names, "preview")
        ready = [row.stack for row in rows if row.status == "succeeded"]  # only what the user saw pass
        question = f"Deploy these {len(ready)} stacks ({', '.join(ready)})? [y/N] "
        if code == 130 or not ready or input(question).strip().lower() not in ("y", "yes"):
            return code or 1
        up_code, _ = _run(args, workspace, ready, "up")
        return up_code or code
    return _run(args, workspace, names, args.action)[0]


def _run(args: argparse.Namespace, workspace, names: list[str], action: str) -> tuple[int, list]:
    lines = Lines(interval=args.progress_interval)  # one for all: its lock keeps each line whole
    with Interrupt() as interrupt:
        rows = run_all([_stack_run(args, workspace, name, action, lines, interrupt) for name in names],
                       args.parallel, interrupt)
    sys.stdout.write(table(rows, action))
    if action == "up" and args.bulk:
        from ..bulk import DOCS

        print(f"Bulk path ({DOCS}): each stack's state before its update is in "
              f"{_backups(args)}/<stack>-<UTC time>.json (pulumi stack import --stack NAME --file FILE puts one back).")
    code = 130 if interrupt.requested.is_set() else exit_code(rows)
    if args.summary_json:
        try:
            args.summary_json.write_text(as_json(action, rows))
        except OSError as exc:
            print(f"fleet: --summary-json {args.summary_json}: {exc.strerror or exc}", file=sys.stderr)
            return code or USAGE_ERROR, rows
    return code, rows


def _stack_run(args: argparse.Namespace, workspace, name: str, action: str, lines: Lines,
               interrupt: Interrupt) -> Callable[[], Row]:
    if action == "audit":
        from ..audit.findings import DEFAULT_THRESHOLD
        from .audit import AuditRun

        threshold = DEFAULT_THRESHOLD if args.pool_threshold is None else args.pool_threshold
        return AuditRun(name, workspace, interrupt.requested, threshold)
    from .stack_run import EngineOptions, StackRun

    options = EngineOptions(tuple(args.policy_pack), tuple(args.policy_pack_config), args.log_dir,
                            _backups(args) if args.bulk else None)
    return StackRun(name, action, workspace, lines.show, interrupt.requested, options=options)


def _backups(args: argparse.Namespace) -> Path:
    from ..bulk import DEFAULT_DIR

    return args.backup_dir or args.project_dir / DEFAULT_DIR


def _backend_name(stack: str, known: list[str]) -> str:
    """A stack file's name as the backend lists it: itself, or the one `org/.../<stack>` ending so."""
    if stack in known:
        return stack
    qualified = [name for name in known if name.rsplit("/", 1)[-1] == stack]
    return qualified[0] if len(qualified) == 1 else stack


def run_all(runs: Sequence[Callable[[], Row]], parallel: int, interrupt: Interrupt) -> list[Row]:
    """At most `parallel` stacks at once; after Ctrl-C, queued stacks do not start and each
    engine started meanwhile gets its SIGINT too."""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="fleet") as pool:
        futures = [pool.submit(run) for run in runs]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            interrupt.forward()
    return [future.result() for future in futures]
