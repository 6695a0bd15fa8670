"""The bulk path of a big stack's first rollout: `pulumi up` with PULUMI_SKIP_CHECKPOINTS, after a
backup of the stack's state (`make up BULK=1`, `multus-cni fleet up --bulk`).

By default the engine writes the whole state before and after every step, which a stack of
hundreds of networks pays for in every step (docs/performance.md). With PULUMI_SKIP_CHECKPOINTS
it keeps the state in memory and writes it once, when the update ends (pulumi v3.260.0
`pkg/backend/snapshot.go`, `unsafeServiceLoop`: it saves only on the snapshot manager's close).
A CLI killed meanwhile records nothing of its run: the state stays as the backup has it, only the
lock is left, and what it created is in the cluster under this stack's mark, which the next `up`
takes over (proven live: tests/integration/test_live_interrupt.py; docs/operations.md, "The bulk
path").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .pulumi_cli import Pulumi, StepFailed

#: The engine's switch (pulumi sdk `go/common/env/env.go`: SkipCheckpoints, "only save the final deployment").
ENV = {"PULUMI_SKIP_CHECKPOINTS": "true"}
#: Where the backups go, below the project directory (git ignores it).
DEFAULT_DIR = Path(".pulumi-backups")
DOCS = 'docs/operations.md, "The bulk path"'


def write_backup(exported: dict, directory: Path, stack: str, now: float | None = None) -> Path:
    """`<directory>/<stack>-<UTC time>.json`, never over an earlier one, readable only by its owner
    (secrets stay encrypted in an export, the rest of the state is still the cluster's inventory)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    text = json.dumps(exported, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    base = f"{stack.replace('/', '_')}-{stamp}"
    for attempt in range(1000):
        path = directory / (f"{base}.json" if attempt == 0 else f"{base}-{attempt}.json")
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "w") as out:
            out.write(text)
        return path
    raise StepFailed(f"backing up the state: 1,000 backups of stack {stack} from {stamp} already in {directory}")


def announce(path: Path, stack: str) -> str:
    """What the user reads before a bulk update: where the state before it is, and how it comes back."""
    return (f"Bulk path ({DOCS}): the state is written once, when the update ends; the state before it is in "
            f"{path} (if the state is ever lost: pulumi stack import --stack {stack} --file {path}).")


def main(argv: list[str] | None = None) -> int:
    """`python -m multus_cni_cli.bulk --stack NAME`, before `make up BULK=1` runs its update: the
    backup written and said on stdout (exit 0), or what went wrong on stderr (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m multus_cni_cli.bulk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project-dir", type=Path, default=Path("."))
    parser.add_argument("--dir", type=Path, default=None, metavar="DIR",
                        help=f"where the backup goes (default: <project-dir>/{DEFAULT_DIR})")
    args = parser.parse_args(argv)
    directory = args.dir if args.dir is not None else args.project_dir / DEFAULT_DIR
    try:
        path = write_backup(Pulumi(args.stack, args.project_dir).export(), directory, args.stack)
    except StepFailed as exc:
        print(f"bulk path: no update ran: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"bulk path: no update ran: the backup could not be written to {directory}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    print(announce(path, args.stack))
    return 0


if __name__ == "__main__":
    sys.exit(main())
