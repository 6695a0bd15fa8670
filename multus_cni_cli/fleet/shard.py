"""A stable share of the stacks: `fleet --shard I/N`, and the workflows' matrix of shards.

A stack's shard is a hash of its name, so the same stack is always in the same shard for the same
N whatever else is added or removed, and every machine computes it alike. Standard library only:
the workflows' stack-list job runs it as a script before any virtualenv exists
(`python3 multus_cni_cli/fleet/shard.py matrix`).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Iterable

# GitHub Actions: "A matrix will generate a maximum of 256 jobs per workflow run"
# (docs.github.com, "Running variations of jobs in a workflow").
MATRIX_LIMIT = 256
# Stacks one job drives with `fleet --parallel 4` on a 2-core hosted runner: a few minutes of
# previews; more stacks per job only once the matrix would pass its limit.
STACKS_PER_JOB = 8


def parse(text: str) -> tuple[int, int]:
    """`I/N` with 1 <= I <= N (as `pytest --shard` and `jest --shard` count)."""
    index, slash, count = text.partition("/")
    if not (slash and index.isdigit() and count.isdigit()) or not 1 <= int(index) <= int(count):
        raise ValueError(f"{text!r}: a shard is I/N with 1 <= I <= N, e.g. 1/4")
    return int(index), int(count)


def shard_of(stack: str, count: int) -> int:
    """1..count, from SHA-256 of the stack's last name part (`org/dev` and `dev` share a shard)."""
    digest = hashlib.sha256(stack.rsplit("/", 1)[-1].encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select(stacks: Iterable[str], index: int, count: int) -> list[str]:
    return [stack for stack in stacks if shard_of(stack, count) == index]


def stack_files(project_dir: Path) -> list[str]:
    """The stacks this repository configures: one per Pulumi.<stack>.yaml beside Pulumi.yaml."""
    return sorted(path.name[len("Pulumi."):-len(".yaml")] for path in Path(project_dir).glob("Pulumi.*.yaml"))


def matrix(stacks: list[str], per_job: int = STACKS_PER_JOB, limit: int = MATRIX_LIMIT) -> list[str]:
    """The shards a workflow runs, as `I/N` strings, empty shards left out; at most `limit` jobs."""
    count = min(limit, max(1, math.ceil(len(stacks) / per_job)))
    used = {shard_of(stack, count) for stack in stacks}
    return [f"{index}/{count}" for index in range(1, count + 1) if index in used]


def main(argv: list[str]) -> int:
    if argv[1:2] != ["matrix"] or len(argv) > 3:
        print("usage: shard.py matrix [PROJECT_DIR]  (prints shards=<JSON list> for $GITHUB_OUTPUT)", file=sys.stderr)
        return 2
    shards = matrix(stack_files(Path(argv[2] if len(argv) > 2 else ".")))
    print("shards=" + json.dumps(shards, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
