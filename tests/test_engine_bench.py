"""bench/engine_bench.py's pure parts: the figures, the JSON it writes, the /proc sampler; and
bench/plain, its baseline program, registering exactly the objects ours does (under the mocks)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from google.protobuf import json_format

from components import testing
from components.annotations import NETWORKS
from conftest import PROGRAM, ROOT

BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import engine_bench  # noqa: E402
from render_bench import baseline_plan, child_baseline, stack_config  # noqa: E402


def run_of(seconds: float, mib: float = 100, cpu: dict[str, float] | None = None) -> dict:
    return {"seconds": seconds, "peak_bytes": int(mib * 2**20), "cpu": cpu or {}}


def samples_of(times: dict[str, dict[int, dict[str, list[float]]]]) -> engine_bench.Samples:
    return {p: {n: {step: [run_of(s) for s in runs] for step, runs in steps.items()} for n, steps in sizes.items()}
            for p, sizes in times.items()}


def test_figures_take_medians_and_divide_ours_by_each_baseline():
    samples = samples_of({"ours": {100: {"up": [30.0, 10.0, 20.0], "preview": [6.0]}},
                          "plain": {100: {"up": [8.0, 12.0, 10.0], "preview": [4.0]}},
                          "kubectl": {100: {"up": [5.0]}}})
    samples["ours"][100]["up"][0]["peak_bytes"] = 300 * 2**20  # peaks 300, 100, 100 MiB: median 100
    result = engine_bench.figures(samples)
    assert result["medians"]["ours"][100]["up"]["seconds"] == 20.0
    assert result["medians"]["ours"][100]["up"]["peak_mib"] == 100.0
    assert result["ratios"][100]["up"] == {"plain": 2.0, "kubectl": 4.0}
    assert result["ratios"][100]["preview"] == {"plain": 1.5}  # kubectl has no first preview
    assert result["growth"] == {}  # 1,000 networks not measured


def test_growth_and_verdicts_at_the_largest_size():
    samples = samples_of({"ours": {100: {"up": [10.0], "preview-nochange": [4.0]},
                                   1000: {"up": [120.0], "preview-nochange": [30.0]}},
                          "plain": {100: {"up": [10.0], "preview-nochange": [4.0]},
                                    1000: {"up": [100.0], "preview-nochange": [20.0]}}})
    result = engine_bench.figures(samples)
    assert result["growth"]["ours"] == {"up": 12.0, "preview-nochange": 7.5}
    verdicts = {v["target"]: (v["value"], v["met"]) for v in engine_bench.verdicts(result)}
    assert verdicts["1,000 networks: up at most 2.00x plain"] == (1.2, True)
    assert verdicts["1,000 networks: preview-nochange at most 1.25x plain"] == (1.5, False)
    assert verdicts["ours, up: 1,000 vs 100 networks at most 10.5x"] == (12.0, False)
    assert "1,000 networks: change at most 1.50x plain" not in verdicts  # not measured: no verdict
    bulk = {v["target"]: v["met"] for v in engine_bench.verdicts(result, bulk=True)}
    assert bulk["1,000 networks: up at most 1.30x plain"] is True  # the bulk path's own target


def test_verdicts_judge_every_size_from_300_networks_memory_and_the_programs_cpu():
    cpu = lambda seconds: {engine_bench.PROGRAM: seconds, "pulumi": 99.0}
    samples = {"ours": {100: {"up": [run_of(10.0, 500, cpu(2.0))]},
                        300: {"up": [run_of(30.0, 600, cpu(9.0))]},
                        500: {"up": [run_of(50.0, 700, cpu(12.0))]}},
               "plain": {100: {"up": [run_of(10.0, 500, cpu(2.0))]},
                         300: {"up": [run_of(20.0, 480, cpu(7.0))]},
                         500: {"up": [run_of(20.0, 500, cpu(7.0))]}}}
    verdicts = {v["target"]: (round(v["value"], 3), v["met"]) for v in engine_bench.verdicts(engine_bench.figures(samples))}
    assert verdicts == {
        "300 networks: up at most 2.00x plain": (1.5, True),
        "300 networks: peak memory of up at most 1.20x plain": (1.25, False),
        "300 networks: program CPU of up at most 1.50x plain": (1.286, True),
        "ours, program CPU of up: 300 vs 100 networks at most 3.3x": (4.5, False),
        "500 networks: up at most 2.00x plain": (2.5, False),
        "500 networks: peak memory of up at most 1.20x plain": (1.4, False),
        "500 networks: program CPU of up at most 1.50x plain": (1.714, False),
        "ours, program CPU of up: 500 vs 100 networks at most 5.5x": (6.0, False),
    }  # nothing at 100 networks: below TARGETS_FROM


def test_report_takes_several_runs_files_together_and_judges_them_as_one(tmp_path, capsys):
    cpu = lambda seconds: {engine_bench.PROGRAM: seconds}
    small = {"ours": {100: {"up": [run_of(10.0, 500, cpu(2.0))]}}, "plain": {100: {"up": [run_of(8.0, 500, cpu(2.0))]}}}
    large = {"ours": {500: {"up": [run_of(50.0, 500, cpu(10.0))]}}, "plain": {500: {"up": [run_of(40.0, 500, cpu(8.0))]}}}
    files = []
    for name, samples, bulk in (("small", small, False), ("large", large, False), ("bulk", large, True)):
        meta = {"date": "2026-12-07", "repeat": 1, "command": name, "skip_checkpoints": bulk}
        files.append(tmp_path / f"{name}.json")
        engine_bench.write_json(files[-1], engine_bench.as_document(engine_bench.figures(samples), meta))
    assert engine_bench.main(["--report", str(files[0]), str(files[1])]) == 0
    printed = capsys.readouterr().out
    assert "| 100 | up | 10.00 | n/a | 8.00 | n/a | 1.25x |" in printed
    assert "| 500 | up | 50.00 | n/a | 40.00 | n/a | 1.25x |" in printed
    assert "- ours, program CPU of up: 500 vs 100 networks at most 5.5x: 5.00x (met)" in printed  # across the files
    with pytest.raises(SystemExit, match="more than one file"):
        engine_bench.main(["--report", str(files[1]), str(files[1])])
    with pytest.raises(SystemExit, match="mix the bulk path"):
        engine_bench.main(["--report", str(files[0]), str(files[2])])


def test_the_day2_change_is_the_first_networks_nad_and_the_pods_on_it():
    config = stack_config(3, 7)
    changed = engine_bench.day2(config)
    before, after = json.loads(config[engine_bench.NETWORKS_KEY]), json.loads(changed[engine_bench.NETWORKS_KEY])
    assert after[0]["config"]["mode"] == "private" and after[1:] == before[1:]
    nad = lambda name: {"kind": "NetworkAttachmentDefinition", "metadata": {"name": name}, "spec": {"config": name}}
    pod = lambda name, nets: {"kind": "Pod", "metadata": {"name": name, "annotations": {NETWORKS: nets}}}
    objects = [nad("net-0000"), nad("net-0001"), pod("probe-0000", "net-0000"), pod("probe-0001", "net-0001"),
               pod("probe-0002", '[{"name": "net-0001"}, {"name": "net-0000", "namespace": "default"}]')]
    new = [{**objects[0], "spec": {"config": "other"}}, *objects[1:]]
    differ, pods = engine_bench.changed_objects(objects, new)
    assert differ == [new[0]]
    assert [p["metadata"]["name"] for p in pods] == ["probe-0000", "probe-0002"]


def test_cpu_medians_per_process_kind():
    runs = [run_of(1, cpu={"pulumi": 1.0, "python program": 5.0}), run_of(1, cpu={"pulumi": 3.0}),
            run_of(1, cpu={"pulumi": 2.0, "python program": 4.0})]
    assert engine_bench.median_cpu(runs) == {"pulumi": 2.0, "python program": 4.0}


def test_json_is_deterministic_with_string_keys(tmp_path):
    result = engine_bench.figures(samples_of({"ours": {1: {"up": [2.0]}}, "plain": {1: {"up": [1.0]}}}))
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    engine_bench.write_json(first, engine_bench.as_document(result, {"sizes": [1]}))
    engine_bench.write_json(second, engine_bench.as_document(result, {"sizes": [1]}))
    text = first.read_text()
    assert text == second.read_text() and text.endswith("}\n")
    document = json.loads(text)
    assert document["ratios"]["1"]["up"]["plain"] == 2.0
    assert document["medians"]["plain"]["1"]["up"]["seconds"] == 1.0
    assert list(document) == sorted(document)


def test_table_has_a_row_per_size_and_step_and_says_what_is_not_measured():
    result = engine_bench.figures(samples_of({"ours": {1: {s: [2.0] for s in engine_bench.STEPS}},
                                              "plain": {1: {s: [1.0] for s in engine_bench.STEPS}}}))
    rows = engine_bench.table(result).splitlines()[2:]
    assert [r.split(" | ")[1] for r in rows] == list(engine_bench.STEPS)
    assert rows[1] == "| 1 | up | 2.00 | n/a | 1.00 | n/a | 2.00x | n/a | n/a | 100 | n/a | 100 | n/a |"


def test_report_gives_the_state_bytes_per_network_and_against_plain():
    samples = samples_of({"ours": {100: {"up": [2.0, 2.0]}}, "plain": {100: {"up": [1.0]}}})
    for run, size in zip(samples["ours"][100]["up"], (600_000, 400_000)):
        run["state_bytes"] = size
    samples["plain"][100]["up"][0]["state_bytes"] = 200_000
    report = engine_bench.report(engine_bench.figures(samples))
    assert "- state after up, 100 networks: bytes per network ours 5,000, plain 2,000 (ours / plain 2.50x)" in report


def test_busy_names_the_processes_that_would_share_the_cpu_but_not_itself(tmp_path):
    def process(pid: int, *argv: str) -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes("\0".join(argv).encode() + b"\0")

    process(10, "/tmp/x/clusters/live-1/bin/kube-apiserver", "--etcd-prefix=/registry")
    process(11, "/usr/bin/python3", "/work/bench/engine_bench.py", "--sizes", "100")  # another bench
    process(12, "/usr/bin/python3", "/work/bench/engine_bench.py")  # this one
    process(13, "/usr/bin/vim", "engine_bench.py")  # only edits it
    process(14, "/root/.cache/multus-cni/toolchain/bin/pulumi", "up")
    (tmp_path / "self").mkdir()
    assert engine_bench.busy(tmp_path, own=12) == ["10 kube-apiserver", "11 engine_bench.py", "14 pulumi"]


def test_sampler_sums_a_process_tree_and_names_its_processes():
    """A child that starts a grandchild holding 64 MiB: the tree's peak holds both."""
    grandchild = "b = bytearray(64 * 2**20); import time; time.sleep(0.5)"
    child = textwrap.dedent(f"""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {grandchild!r}], check=True)
    """)
    with engine_bench.PeakSampler(interval=0.01) as sampler:
        subprocess.run([sys.executable, "-c", child], check=True)
    python = Path(sys.executable).name
    assert sampler.peak >= 64 * 2**20 + 2 * 5 * 2**20  # the bytes, plus two interpreters of a few MiB each
    assert sampler.peak < 1024 * 2**20
    assert f"{python} -c" in sampler.cpu
    assert engine_bench.tree_rss(engine_bench.os.getpid()) == 0  # everything has exited


def test_labels_say_which_script_a_python_runs(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text("import time\ntime.sleep(30)\n")
    child = subprocess.Popen([sys.executable, "-u", str(script)])  # -u: as the language host runs a program
    wanted, deadline = f"{Path(sys.executable).name} probe.py", time.monotonic() + 10
    try:
        while engine_bench.label(child.pid) != wanted and time.monotonic() < deadline:
            time.sleep(0.01)  # until the child has exec'd
        assert engine_bench.label(child.pid) == wanted
    finally:
        child.kill()
        child.wait()
    assert engine_bench.label(child.pid) == "?"  # gone


def replacement_trigger(registration: testing.Registration):
    request = registration.request
    return json_format.MessageToDict(request.replacement_trigger) if request.HasField("replacement_trigger") else None


def test_plain_program_registers_the_same_objects_with_the_same_waits(tmp_path):
    """bench/plain against ours for 3 networks and 4 workloads: same types, names, inputs,
    protection; each NAD waits for every Multus object, each Pod for its NAD."""
    config = stack_config(3, 4)
    ours = testing.run_file(PROGRAM, "multus-cni", "bench", config)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(baseline_plan(3, 4)))
    plain = testing.run_file(BENCH / "plain" / "__main__.py", "multus-cni-plain", "bench", {"multus-cni-plain:plan": str(plan)})

    def objects(run_: testing.Run) -> dict[tuple[str, str], tuple]:
        return {(r.type, r.name): (r.inputs, r.protect, r.request.deleteBeforeReplace, replacement_trigger(r))
                for r in run_.monitor.registrations if r.custom and r.type.startswith("kubernetes:")}

    assert objects(plain) == objects(ours)
    assert not [r for r in plain.monitor.registrations if not r.custom and r.type != "pulumi:pulumi:Stack"]
    names = {r.urn: r.name for r in plain.monitor.registrations}
    waits = {r.name: {names[d] for d in r.dependencies} for r in plain.monitor.registrations if r.custom}
    multus = {r.name for r in plain.monitor.registrations if r.protect}
    assert len(multus) == 6
    assert waits["default/net-0001-nad"] == multus
    assert waits["default/probe-0001-pod"] == {"default/net-0001-nad"}  # which waits for Multus
    pod = next(r for r in plain.monitor.registrations if r.name == "default/probe-0001-pod")
    assert pod.request.deleteBeforeReplace and replacement_trigger(pod)  # replaced as ours is

    # The tree floor: the same objects, each under a bare component of its component's type and name in ours.
    tree = testing.run_file(BENCH / "plain" / "__main__.py", "multus-cni-plain", "bench",
                            {"multus-cni-plain:plan": str(plan), "multus-cni-plain:tree": "true"})
    assert objects(tree) == objects(ours)

    def parents(run_: testing.Run) -> dict[str, tuple[str, str]]:
        by_urn = {r.urn: (r.type, r.name) for r in run_.monitor.registrations}
        return {r.name: by_urn[r.parent] for r in run_.monitor.registrations if r.custom and r.type.startswith("kubernetes:")}

    assert parents(tree) == parents(ours)
    assert len({p for p in parents(tree).values()}) == 1 + 3 + 4  # Multus, each network, each workload

    def with_outputs(run_: testing.Run) -> set[tuple[str, str]]:  # one state write each on the engine
        by_urn = {r.urn: (r.type, r.name) for r in run_.monitor.registrations if not r.custom}
        return {by_urn[u] for u in run_.monitor.outputs_registered if u in by_urn and by_urn[u][0] != "pulumi:pulumi:Stack"}

    assert with_outputs(tree) == with_outputs(ours) == {("multus-cni:index:Multus", "multus")}


@pytest.mark.parametrize("tree", ["", "true", "classes"])
def test_the_render_benchs_baselines_register_ours_objects_and_outputs_where_ours_does(tmp_path, tree):
    """bench/render_bench.py's flat and tree floors (under the mocks, as it measures them)."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(baseline_plan(2, 2)))
    ours = testing.run_file(PROGRAM, "multus-cni", "bench", stack_config(2, 2))
    floor = child_baseline(str(plan), tree)
    objects = lambda run_: sorted((r.type, r.name) for r in run_.monitor.registrations if r.custom and r.type.startswith("kubernetes:"))
    assert objects(floor) == objects(ours)
    components = {r.urn: (r.type, r.name) for r in floor.monitor.registrations if not r.custom and r.type != "pulumi:pulumi:Stack"}
    assert len(components) == (1 + 2 + 2 if tree else 0)
    assert {components[u] for u in floor.monitor.outputs_registered if u in components} == (
        {("multus-cni:index:Multus", "multus")} if tree else set())


@pytest.mark.parametrize("api_version,kind,module", [
    ("v1", "Pod", "pulumi_kubernetes.core.v1"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "pulumi_kubernetes.rbac.v1"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "pulumi_kubernetes.apiextensions.v1"),
    ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", None),
])
def test_plain_program_picks_the_typed_class(api_version, kind, module):
    import runpy
    plain = runpy.run_path(str(BENCH / "plain" / "__main__.py"), run_name="plain_module")  # defines, creates nothing
    cls = plain["resource_class"](api_version, kind)
    assert (cls.__module__.rsplit(".", 1)[0] if cls else None) == module


class _FailingStack:
    """Stands in for tests.integration.conftest.Stack, whose pulumi() raises AssertionError with the output."""

    def __init__(self, output: str):
        self.output = output

    def pulumi(self, *args: str, timeout: int = 0) -> None:
        raise AssertionError(f"pulumi {' '.join(args)} failed (exit 1):\n{self.output}")


def test_a_config_too_large_for_the_environment_makes_the_program_unrunnable_not_the_bench_fail():
    too_long = _FailingStack("error: Exception calling application: [Errno 7] Argument list too long: '.venv/bin/python'")
    with pytest.raises(engine_bench.Unrunnable, match="PULUMI_CONFIG"):
        engine_bench.pulumi_steps(too_long)["preview"]()
    other = _FailingStack("error: something else")
    with pytest.raises(AssertionError, match="something else"):
        engine_bench.pulumi_steps(other)["up"]()


def test_program_profile_sums_own_and_inclusive_samples_per_function():
    import program_profile

    stacks = program_profile.collapsed(
        "<module> (__main__.py:1);build (components/network_attachment.py:30);__init__ (site-packages/pulumi/resource.py:9) 6\n"
        "<module> (__main__.py:1);build (components/network_attachment.py:30) 3\n"
        "<module> (__main__.py:1);validate (components/config/network.py:5) 1\n"
        "not a line\n")
    assert [count for _, count in stacks] == [6, 3, 1]
    text = program_profile.summary(stacks, top=2)
    assert text.splitlines()[0] == "10 samples"
    own = text.split("own time, top 2:\n")[1].split("\n\n")[0].splitlines()
    assert own == ["   60.0%  __init__ (site-packages/pulumi/resource.py:9)",
                   "   30.0%  build (components/network_attachment.py:30)"]
    ours = text.split("ours, inclusive, top 2:\n")[1].split("\n\n")[0].splitlines()
    assert ours == ["  100.0%  <module> (__main__.py:1)", "   90.0%  build (components/network_attachment.py:30)"]
    assert "   60.0%  __init__ (site-packages/pulumi/resource.py:9)" in text.split("the pulumi SDK, inclusive")[1]
