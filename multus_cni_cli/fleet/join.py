"""`multus-cni fleet-join`: the --summary-json of every shard's job as one fleet table.

A sharded workflow runs `fleet --shard I/N` on many machines; this joins their results, says which
stacks no shard reported (a job that died before writing its summary), and writes the Markdown the
job summary and the pull-request comment show: the table, then each changed or failed stack's own
engine output (its `--log-dir` file), cut to fit in one comment.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Sequence

from .cli import ACTIONS
from .report import Row, as_json, exit_code, table
from .shard import stack_files
from .stack_run import log_name

USAGE_ERROR = 2
HELP = "join the --summary-json files of a sharded fleet run into one table (and a Markdown report)"

# GitHub refuses a comment body over 65,536 characters; the table and headings stay whole.
COMMENT_LIMIT = 65_536
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class JoinError(Exception):
    """The summaries cannot be one fleet's: the message says which file and why."""


def add_arguments(join: argparse.ArgumentParser) -> None:
    join.add_argument("command_name", choices=ACTIONS, metavar="ACTION",
                      help="the fleet action every summary is of: preview, up, drift or audit")
    join.add_argument("summaries", nargs="*", type=Path, metavar="PATH",
                      help="each shard's fleet --summary-json, or a directory searched for *.json below it")
    join.add_argument("--stack-files", action="store_true",
                      help="every stack with a Pulumi.<stack>.yaml must be in one summary: a missing one is a failed row")
    join.add_argument("--summary-json", type=Path, metavar="FILE", help="write the joined table as JSON")
    join.add_argument("--markdown", type=Path, metavar="FILE",
                      help="write the table and each changed or failed stack's engine output as Markdown")
    join.add_argument("--log-dir", type=Path, action="append", default=[], metavar="DIR",
                      help="where the shards' --log-dir files are (searched below DIR; repeatable)")


def command(args: argparse.Namespace) -> int:
    try:
        rows = join(args.command_name, [(path, _read(path)) for path in summary_files(args.summaries)])
    except JoinError as exc:
        print(f"fleet-join: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if args.stack_files:
        rows = with_missing(rows, stack_files(args.project_dir))
    sys.stdout.write(table(rows, args.command_name))
    try:
        if args.summary_json:
            args.summary_json.write_text(as_json(args.command_name, rows))
        if args.markdown:
            args.markdown.write_text(markdown(args.command_name, rows, find_logs(args.log_dir)))
    except OSError as exc:
        print(f"fleet-join: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    return exit_code(rows)


def summary_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a directory's *.json below it, sorted (a shard whose job died may have none)."""
    return [found for path in paths for found in (sorted(path.rglob("*.json")) if path.is_dir() else [path])]


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise JoinError(f"{path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise JoinError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None


def join(action: str, documents: Sequence[tuple[Path, dict]]) -> list[Row]:
    """The rows of every document, each of `action`; a stack reported twice is refused."""
    for path, document in documents:
        if document.get("command") != action:
            raise JoinError(f"{path}: a summary of fleet {document.get('command')}, not fleet {action}")
    seen: dict[str, Path] = {}
    rows: list[Row] = []
    for path, document in documents:
        for data in document.get("stacks", []):
            try:
                row = Row.from_dict(data)
            except (KeyError, TypeError) as exc:
                raise JoinError(f"{path}: not a fleet --summary-json (a stack without {exc})") from None
            if row.stack in seen:
                raise JoinError(f"stack {row.stack!r} is in {seen[row.stack]} and {path}: the shards overlap")
            seen[row.stack] = path
            rows.append(row)
    return sorted(rows, key=lambda row: row.stack)


def with_missing(rows: list[Row], expected: Sequence[str]) -> list[Row]:
    """A failed row for each expected stack no summary holds (matched on the name's last part)."""
    reported = {row.stack.rsplit("/", 1)[-1] for row in rows}
    missing = [Row(stack, "failed", error="no result: the job of its shard reported nothing (see that job's log)")
               for stack in expected if stack not in reported]
    return sorted([*rows, *missing], key=lambda row: row.stack)


def find_logs(dirs: Sequence[Path]) -> dict[str, Path]:
    """Log file name -> its path, below every --log-dir (each shard's artifact is its own folder)."""
    return {path.name: path for where in dirs for path in sorted(Path(where).rglob("*.log"))}


def markdown(action: str, rows: Sequence[Row], logs: dict[str, Path], limit: int = COMMENT_LIMIT) -> str:
    """Heading and table first (only the stacks that change or fail when the whole one is too long);
    then each such stack's engine output, cut to an equal share of what is left under `limit`,
    for as many stacks as get at least MIN_SHARE characters each."""
    shown = [row for row in rows if row.status != "succeeded" or any(row.changes.values()) or row.drift or row.findings]
    failed = sum(row.status != "succeeded" for row in rows)
    head = (f"## fleet {action}: {len(rows)} stacks, "
            f"{'all succeeded' if not failed else f'{failed} did not succeed'}, {len(shown)} with changes or errors\n\n")
    listed = table(rows, action)
    if len(head) + len(listed) > limit // 2:
        quiet = len(rows) - len(shown)
        listed = table(shown, action) + (f"({quiet} stacks with no changes not listed: the summary JSON has every row)\n"
                                 if quiet else "")
    if len(head) + len(listed) > limit - 200:
        listed = listed[:limit - len(head) - 200].rsplit("\n", 1)[0] + "\n... (the table goes on in the summary JSON)\n"
    parts = [head, f"```\n{listed}```\n"]
    with_logs = [row for row in shown if log_name(row.stack) in logs]
    room = limit - sum(map(len, parts)) - 200
    fits = min(len(with_logs), max(0, room // (MIN_SHARE + _FRAME_SIZE)))
    for row in with_logs[:fits]:
        text = _ANSI.sub("", logs[log_name(row.stack)].read_text(errors="replace")).rstrip("\n")
        share = room // fits - _FRAME_SIZE - len(row.stack)
        if len(text) > share:
            text = text[:max(0, share - len(_CUT))] + _CUT
        parts.append(_FRAME.format(stack=row.stack, status=row.status, text=text.replace("```", "` ` `")))
    if fits < len(with_logs):
        parts.append(f"\n{len(with_logs) - fits} more stacks' engine output is in the shards' log artifacts.\n")
    return "".join(parts)


MIN_SHARE = 1_000  # characters of engine output: less than this says too little to show at all
_CUT = "\n... (cut here: the whole output is in the shard's log artifact)"
_FRAME = "\n<details><summary>{stack}: {status}</summary>\n\n```\n{text}\n```\n</details>\n"
_FRAME_SIZE = len(_FRAME) + len("cancelled")
