"""Where our program's CPU goes during a real `pulumi up`: py-spy attached to the program process.

The engine bench says how much CPU the program takes (`python pulumi-language-python-exec` in its
CPU lines); this says where. For each size, on a fresh kwok cluster and stack (the engine bench's
functions), it starts `pulumi up --yes --skip-preview` of the bench config (N networks, W workloads),
attaches `py-spy record --gil` to the program as soon as the language host starts it (only the
thread holding the GIL is sampled: CPU, not waits on the engine), and prints the
functions with the most samples: own time, and time inclusive of callees for our own code
(components/, multus_cni_cli/, __main__.py) and the SDK's.

    python bench/program_profile.py [--sizes 100,500] [--workloads 100] [--top 25] [--raw DIR]

Needs the built toolchain and py-spy (`.venv/bin/pip install py-spy`; not a project dependency).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from engine_bench import ROOT, busy, descendants, fresh_cluster, label, ours_stack  # noqa: E402
from render_bench import stack_config  # noqa: E402
from tests.integration.conftest import Stacks, toolchain_env  # noqa: E402

PROGRAM = "pulumi-language-python-exec"
OURS = ("components/", "multus_cni_cli/", "__main__.py")


def collapsed(text: str) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) format: `frame;frame;...;leaf count` per line, root first."""
    stacks = []
    for line in text.splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def summary(stacks: list[tuple[list[str], int]], top: int) -> str:
    """Own samples per function, and inclusive samples per function of ours and of the SDK."""
    total = sum(count for _, count in stacks) or 1
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total:,} samples", "", f"own time, top {top}:"]
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in own.most_common(top)]
    for title, keep in (("ours, inclusive", lambda f: any(part in f for part in OURS)),
                        ("the pulumi SDK, inclusive", lambda f: "site-packages/pulumi/" in f)):
        lines += ["", f"{title}, top {top}:"]
        lines += [f"  {count / total:6.1%}  {frame}" for frame, count in
                  [(f, c) for f, c in inclusive.most_common() if keep(f)][:top]]
    return "\n".join(lines)


def program_pid(root: int, deadline: float) -> int | None:
    """The program process below `root`, once the language host has started it."""
    while time.monotonic() < deadline:
        for pid in descendants(root):
            if label(pid).endswith(PROGRAM):
                return pid
        time.sleep(0.02)
    return None


def profile(size: int, workloads: int, env: dict[str, str], raw: Path) -> str:
    with tempfile.TemporaryDirectory(prefix=f"program-profile-{size}-") as tmp:
        base = Path(tmp)
        with fresh_cluster(env, base) as cluster:
            (base / "stacks").mkdir()
            stack = ours_stack(Stacks(cluster, base / "stacks"), stack_config(size, workloads))
            up = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--stack", stack.name, "--non-interactive"],
                                  cwd=stack.workdir, env=stack.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            started = time.monotonic()
            pid = program_pid(up.pid, started + 120)
            spy = subprocess.run([shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(pid),
                                  "--rate", "200", "--function", "--gil", "--format", "raw", "--output", str(raw), "--nonblocking"],
                                 capture_output=True, text=True) if pid else None
            _, errors = up.communicate()
            seconds = time.monotonic() - started
            if up.returncode:
                raise SystemExit(f"pulumi up of {size} networks failed:\n{errors[-3000:]}")
            if spy is None or not raw.exists():
                raise SystemExit(f"no profile of the program: {spy.stderr if spy else 'it never started'}")
            return f"{size:,} networks, {workloads} workloads: up {seconds:.1f} s\n" + raw.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500")
    parser.add_argument("--workloads", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here (one file per size)")
    args = parser.parse_args(argv)
    if not (shutil.which("py-spy") or (ROOT / ".venv" / "bin" / "py-spy").exists()):
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    env, reason = toolchain_env()
    if env is None:
        raise SystemExit(reason)
    if competing := busy():
        print(f"WARNING: a busy machine ({', '.join(competing)}): the shares hold, the seconds do not", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="program-profile-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            raw = (args.raw or Path(tmp)) / f"profile-{size}.txt"
            raw.parent.mkdir(parents=True, exist_ok=True)
            heading, _, text = profile(size, args.workloads, env, raw).partition("\n")
            print(f"## {heading}\n\n{summary(collapsed(text), args.top)}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
