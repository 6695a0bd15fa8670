"""Where the render's cost goes beyond the tree floor, in counts the machine's load does not move.

    python bench/render_profile.py [--networks 1000] [--workloads 100]

For our program and render_bench.py's tree floors, each in a fresh process: the Python stack
frames the SDK recorded under the registrations (it captures the stack under every resource, for
source positions), and the Python function calls made after every module is imported (cProfile),
and the full collections of the cyclic garbage collector with the old objects each met; then the
calls with the SDK's stack capture switched off (an ablation, to show what it costs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import render_bench

KINDS = {"ours": "our program", "tree": "tree floor (bare ComponentResource)", "classes": "tree floor, component classes"}


def child(kind: str, networks: str, workloads: str, plan: str, ablation: str) -> None:
    import cProfile
    import gc
    import pstats

    from components import testing  # every module the runs need, imported before counting

    if ablation == "no-stack":
        from pulumi.runtime import resource
        from pulumi.runtime.proto import source_pb2

        resource._get_stack_trace = source_pb2.StackTrace  # an empty trace for every registration
    runs: list[testing.Run] = []
    run = testing.run

    def recording(*args, **kwargs):
        runs.append(run(*args, **kwargs))
        return runs[-1]

    testing.run = recording
    full = []  # old-generation objects at the start of each full collection
    gc.callbacks.append(lambda phase, info: full.append(len(gc.get_objects(2)))
                        if phase == "start" and info["generation"] == 2 else None)
    profile = cProfile.Profile()
    profile.enable()
    if kind == "ours":
        render_bench.child_ours(networks, workloads)
    else:
        render_bench.child_baseline(plan, kind)
    profile.disable()
    gc.callbacks.clear()
    registrations = runs[0].monitor.registrations
    print(json.dumps({"calls": pstats.Stats(profile).total_calls, "registrations": len(registrations),
                      "frames": sum(len(r.request.stackTrace.frames) for r in registrations),
                      "full_collections": len(full), "objects_scanned": sum(full)}))


def measure(*args: str) -> dict:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="1000")
    parser.add_argument("--workloads", default="100")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        plan = str(Path(tmp, "plan.json"))
        render_bench.measure("plan", args.networks, args.workloads, plan)
        found = {(kind, ablation): measure(kind, args.networks, args.workloads, plan, ablation)
                 for kind in KINDS for ablation in ("", "no-stack")}
    print(f"{args.networks} networks, {args.workloads} workloads; calls are Python function calls after imports\n")
    print("| program | registrations | stack frames recorded | calls | calls without stack capture | calls in stack capture "
          "| full GC collections | old-generation objects they met |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, label in KINDS.items():
        full, bare = found[(kind, "")], found[(kind, "no-stack")]
        print(f"| {label} | {full['registrations']:,} | {full['frames']:,} | {full['calls']:,} | {bare['calls']:,} "
              f"| {full['calls'] - bare['calls']:,} | {full['full_collections']} | {full['objects_scanned']:,} |")
    print()
    ours = found[("ours", "")]["calls"], found[("ours", "no-stack")]["calls"]
    for kind in ("tree", "classes"):
        floor = found[(kind, "")]["calls"], found[(kind, "no-stack")]["calls"]
        print(f"- ours / {KINDS[kind]}: {ours[0] / floor[0]:.2f}x calls, {ours[1] / floor[1]:.2f}x without stack capture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
