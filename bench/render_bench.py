"""Render cost of the components against the same objects written directly with pulumi_kubernetes.

Every measurement is a fresh process, as `pulumi up` starts one: interpreter start, imports and
every registration under the same mocks (components.testing.run). Wall time is taken around the
process and its peak RSS comes from wait4(2), so each figure is that process alone. Medians of
--repeat runs. The targets are reported, not asserted.

    python bench/render_bench.py [--repeat 5] [--networks 1,100,1000] [--workloads 100] [--classes]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
sys.path.insert(0, str(ROOT))
PROJECT = "multus-cni"


# --- what the children run -------------------------------------------------------------------

def stack_config(networks: int, workloads: int) -> dict[str, str]:
    """N macvlan networks (disjoint subnets) and W probe pods, pod j on network j mod N."""
    nets = [{
        "name": f"net-{i:04d}",
        "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
                   "ipam": {"type": "host-local", "subnet": f"10.{i // 256}.{i % 256}.0/24"}},
    } for i in range(networks)]
    pods = [{"name": f"probe-{j:04d}", "networks": f"net-{j % networks:04d}"} for j in range(workloads)]
    return {f"{PROJECT}:networks": json.dumps(nets), f"{PROJECT}:workloads": json.dumps(pods)}


def child_ours(networks: str, workloads: str) -> None:
    from components import testing

    testing.run_file(PROGRAM, PROJECT, "bench", stack_config(int(networks), int(workloads)))


def child_baseline(plan_file: str, tree: str = "") -> Any:
    """The plan's objects, each created directly with its pulumi_kubernetes class: flat, or (tree)
    under bare components of the same types and names as ours, with no validation and no work
    beyond their registration: the floor for a design of one component per NAD and per workload.

    tree="classes" (informational, `--classes`): the same tree with each component an instance of
    an empty ComponentResource subclass. The SDK records the Python stack under a resource from
    the third `__init__` frame up; a bare ComponentResource has only two, so it records none,
    while any component class (ours included) has its stack recorded."""
    import pulumi
    from pulumi_kubernetes.apiextensions import CustomResource
    from pulumi_kubernetes.apiextensions.v1 import CustomResourceDefinition
    from pulumi_kubernetes.apps.v1 import DaemonSet
    from pulumi_kubernetes.core.v1 import ConfigMap, Pod, ServiceAccount
    from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding

    from components import testing

    classes = {"CustomResourceDefinition": CustomResourceDefinition, "DaemonSet": DaemonSet, "ConfigMap": ConfigMap,
               "Pod": Pod, "ServiceAccount": ServiceAccount, "ClusterRole": ClusterRole,
               "ClusterRoleBinding": ClusterRoleBinding}
    plan = json.loads(Path(plan_file).read_text())

    class Component(pulumi.ComponentResource):
        def __init__(self, type_: str, name: str):
            super().__init__(type_, name)

    component_class = Component if tree == "classes" else pulumi.ComponentResource

    def program() -> None:
        created: dict[str, pulumi.Resource] = {}
        components: dict[tuple[str, str], pulumi.ComponentResource] = {}
        for item in plan:
            parent = None
            if tree and item["parent"]:
                key = tuple(item["parent"])
                parent = components.get(key) or components.setdefault(key, component_class(*key))
            manifest = item["manifest"]
            fields = {("role_ref" if k == "roleRef" else k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
            opts = pulumi.ResourceOptions(protect=item["protect"], parent=parent,
                                          depends_on=[created[d] for d in item["dependsOn"]] or None)
            cls = classes.get(manifest["kind"])
            if cls is None:
                created[item["name"]] = CustomResource(item["name"], api_version=manifest["apiVersion"], kind=manifest["kind"], opts=opts, **fields)
            else:
                created[item["name"]] = cls(item["name"], opts=opts, **fields)
        for key in {tuple(item["parent"]) for item in plan if tree and item["parent"] and item["parentOutputs"]}:
            components[key].register_outputs({})

    return testing.run(program, PROJECT, "bench", {})


def child_dev(modules_file: str = "") -> None:
    """`multus-cni render --stack dev`, output discarded; optionally list the modules it loaded."""
    from multus_cni_cli.__main__ import main

    main(["render", "--stack", "dev", "--project-dir", str(ROOT)])
    if modules_file:
        Path(modules_file).write_text("\n".join(sorted(m for m in sys.modules if m != "__main__")))


def child_imports(modules_file: str) -> None:
    """Only import what the dev render loaded."""
    import importlib

    for name in Path(modules_file).read_text().split():
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - platform-specific or lazily aliased modules
            pass


# --- the baseline's inputs -------------------------------------------------------------------

def child_plan(networks: str, workloads: str, plan_file: str) -> None:
    Path(plan_file).write_text(json.dumps(baseline_plan(int(networks), int(workloads))))


def baseline_plan(networks: int, workloads: int, config: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every Kubernetes object our program registers for this config (default: stack_config's),
    with the same protection and replacement options (a Pod is replaced, deleted first, when its
    networks change) and the dependencies on the objects behind each component it waited for."""
    from google.protobuf import json_format

    from components import testing
    from multus_cni_cli import render

    run_ = testing.run_file(PROGRAM, PROJECT, "bench", config or stack_config(networks, workloads))
    regs = render.ordered(run_)
    components = {r.urn: [r.type, r.name] for r in regs if not r.custom}
    with_outputs = set(run_.monitor.outputs_registered)  # the components that register outputs, as ours does
    kube = [r for r in regs if r.custom and r.type.startswith("kubernetes:")]
    owned: dict[str, list[str]] = {}
    for r in kube:
        owned.setdefault(r.parent, []).append(r.name)
    plan = []
    for r in kube:
        deps = [n for d in r.dependencies for n in ([d.rsplit("::", 1)[-1]] if d not in owned and any(k.urn == d for k in kube) else owned.get(d, []))]
        manifest = {k: r.inputs[k] for k in r.inputs if k != "status"}
        trigger = (json_format.MessageToDict(r.request.replacement_trigger)
                   if r.request.HasField("replacement_trigger") else None)
        plan.append({"name": r.name, "manifest": manifest, "protect": r.protect, "dependsOn": sorted(set(deps)),
                     "parent": components.get(r.parent), "parentOutputs": r.parent in with_outputs,
                     "deleteBeforeReplace": r.request.deleteBeforeReplace,
                     "replacementTrigger": trigger})
    return plan


CHILDREN = {"ours": child_ours, "baseline": child_baseline, "dev": child_dev, "imports": child_imports, "plan": child_plan}


# --- measuring -------------------------------------------------------------------------------

def measure(*args: str) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of `python render_bench.py --child ...` in a fresh process.

    The parent stays small (it never imports the project): a spawned child's peak RSS starts from
    its parent's, since Linux keeps ru_maxrss across exec. CPU is the child's user + system time,
    which other processes on a shared machine disturb far less than its wall time."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    with tempfile.NamedTemporaryFile("r", suffix=".stderr") as stderr:
        quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                 (os.POSIX_SPAWN_OPEN, 2, stderr.name, os.O_WRONLY | os.O_TRUNC, 0)]
        start = time.perf_counter()
        pid = os.posix_spawn(sys.executable, argv, dict(os.environ), file_actions=quiet)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"child {args} failed with status {os.waitstatus_to_exitcode(status)}:\n{stderr.read()}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # Linux reports KiB


TURNS: list[dict[str, list[tuple[float, float, float]]]] = []  # every sample of every medians() call


def medians(repeat: int, **children: tuple[str, ...]) -> dict[str, tuple[float, float, float]]:
    """Median (wall, RSS, CPU) of each child, run in turns (a, b, c, a, b, c, ...) so that a busy
    spell on the machine falls on all of them rather than on one."""
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in children}
    for _ in range(repeat):
        for name, args in children.items():
            samples[name].append(measure(*args))
    TURNS.append(samples)
    return {name: tuple(statistics.median(s[i] for s in runs) for i in range(3))  # type: ignore[misc]
            for name, runs in samples.items()}


def verdict(value: float, limit: float) -> str:
    return f"{value:.2f}x (target <= {limit:.2f}x: {'met' if value <= limit else 'MISSED'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--networks", default="1,100,1000")
    parser.add_argument("--workloads", type=int, default=100)
    parser.add_argument("--classes", action="store_true",
                        help="also measure the tree with component classes (informational, see child_baseline)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        CHILDREN[args.child[0]](*args.child[1:])
        return 0

    sizes = [int(n) for n in args.networks.split(",")]
    results: dict[int, dict[str, tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            plan = Path(tmp, f"plan-{n}.json")
            measure("plan", str(n), str(args.workloads), str(plan))
            children = {"ours": ("ours", str(n), str(args.workloads)), "baseline": ("baseline", str(plan)),
                        "tree": ("baseline", str(plan), "tree")}
            if args.classes:
                children["classes"] = ("baseline", str(plan), "classes")
            results[n] = medians(args.repeat, **children)
        modules = Path(tmp, "modules.txt")
        measure("dev", str(modules))
        cold = medians(args.repeat, dev=("dev",), imports=("imports", str(modules)))
        dev, imports = cold["dev"], cold["imports"]

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, medians of {args.repeat} fresh processes run in turns, "
          f"{args.workloads} workloads\n")
    print("flat: the same objects without components; tree: the same objects under the same component tree\n")
    print("| networks | ours s | flat s | tree s | time / flat | time / tree | ours MiB | flat MiB | tree MiB | memory / flat | memory / tree |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        (ot, om, _), (bt, bm, _), (tt, tm, _) = r["ours"], r["baseline"], r["tree"]
        print(f"| {n:,} | {ot:.2f} | {bt:.2f} | {tt:.2f} | {ot / bt:.2f}x | {ot / tt:.2f}x | {om:.0f} | {bm:.0f} | {tm:.0f} "
              f"| {om / bm:.2f}x | {om / tm:.2f}x |")
    print("\nCPU seconds (user + system) of the same processes:\n")
    print("| networks | ours CPU s | flat CPU s | tree CPU s | CPU / flat | CPU / tree |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        oc, bc, tc = r["ours"][2], r["baseline"][2], r["tree"][2]
        print(f"| {n:,} | {oc:.2f} | {bc:.2f} | {tc:.2f} | {oc / bc:.2f}x | {oc / tc:.2f}x |")
    if args.classes:
        print("\nInformational: the tree floor with each component an empty ComponentResource subclass (the SDK "
              "then records its stack, as for any component class):\n")
        print("| networks | ours s | classes s | time / classes | ours CPU s | classes CPU s | CPU / classes | ours MiB | classes MiB | memory / classes |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n, r in results.items():
            (ot, om, oc), (ct, cm, cc) = r["ours"], r["classes"]
            print(f"| {n:,} | {ot:.2f} | {ct:.2f} | {ot / ct:.2f}x | {oc:.2f} | {cc:.2f} | {oc / cc:.2f}x | {om:.0f} | {cm:.0f} | {om / cm:.2f}x |")
    print()
    largest = max(sizes)
    (ot, om, oc), (tt, tm, tc) = results[largest]["ours"], results[largest]["tree"]
    print(f"- {largest:,} networks, time vs the tree floor: {verdict(ot / tt, 1.10)} (CPU: {oc / tc:.2f}x)")
    print(f"- {largest:,} networks, memory vs the tree floor: {verdict(om / tm, 1.10)}")
    turns = TURNS[sizes.index(largest)]
    print("  each turn's ours / tree, time: " + ", ".join(f"{o[0] / t[0]:.2f}x" for o, t in zip(turns["ours"], turns["tree"]))
          + "; CPU: " + ", ".join(f"{o[2] / t[2]:.2f}x" for o, t in zip(turns["ours"], turns["tree"])))
    if 100 in results and 1000 in results:
        t100, t1000 = results[100]["ours"][0], results[1000]["ours"][0]
        print(f"- time, 1,000 vs 100 networks: {verdict(t1000 / t100, 10.5)} (CPU: {results[1000]['ours'][2] / results[100]['ours'][2]:.2f}x)")
        if 1 in results:
            per_net_low = (t100 - results[1]["ours"][0]) / 99
            per_net_high = (t1000 - t100) / 900
            print(f"  marginal cost per network: {per_net_low * 1000:.2f} ms (1-100), {per_net_high * 1000:.2f} ms (100-1,000)")
    print(f"- cold dev render {dev[0]:.2f} s / {dev[1]:.0f} MiB vs importing the same modules "
          f"{imports[0]:.2f} s / {imports[1]:.0f} MiB: {verdict(dev[0] / imports[0], 1.25)} (CPU: {dev[2] / imports[2]:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
