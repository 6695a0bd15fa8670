"""`multus-cni fleet`: arguments, engine events folded into progress and rows, the
table and JSON, exit codes, Ctrl-C's process lookup. The events are real: recorded from the live
engine (tests/fixtures/fleet/README.md says how); the live run is tests/integration/test_live_fleet.py."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from pulumi.automation import EngineEvent

from multus_cni_cli.__main__ import main
from multus_cni_cli.fleet import cli
from multus_cni_cli.fleet.interrupt import engine_processes
from multus_cni_cli.fleet.lines import Lines
from multus_cni_cli.fleet.progress import KINDS, Progress
from multus_cni_cli.fleet.report import Row, as_json, exit_code, table
from multus_cni_cli.fleet.stack_run import config_problem
from conftest import FIXTURES, ROOT

EVENTS = FIXTURES / "fleet"


def recorded(name: str) -> list[dict]:
    return [json.loads(line) for line in (EVENTS / f"{name}.jsonl").read_text().splitlines()]


def folded(events: list[dict], phase: str = "preview") -> Progress:
    progress = Progress()
    progress.begin(phase)
    for event in events:
        progress.fold(EngineEvent.from_json(event))
    return progress


def engine_summary(events: list[dict]) -> dict[str, int]:
    """The engine's own change counts (its SummaryEvent), for the kinds the table shows."""
    changes = next(e["summaryEvent"]["resourceChanges"] for e in events if "summaryEvent" in e)
    return {kind: changes.get(kind, 0) for kind in KINDS}


# --- arguments -------------------------------------------------------------------------------

def parse(*argv: str):
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_stacks_are_split_trimmed_and_deduplicated_in_order():
    args = parse("preview", "--stacks", "b, a,b")
    assert (args.action, args.stacks, args.all, args.parallel, args.yes) == ("preview", ["b", "a"], False, 4, False)


@pytest.mark.parametrize("argv", [
    ("preview",),                                   # neither --stacks nor --all
    ("preview", "--all", "--stacks", "a"),          # both
    ("preview", "--stacks", "a,,b"),                # an empty name
    ("preview", "--all", "--parallel", "0"),
    ("preview", "--all", "--parallel", "two"),
    ("destroy", "--all"),                           # the fleet never destroys
])
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fleet", *argv])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_up_without_yes_and_without_a_terminal_refuses_before_touching_anything(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["fleet", "up", "--all"]) == 2
    assert "--yes" in capsys.readouterr().err


# --- engine events -> progress and row ---------------------------------------------------------

@pytest.mark.parametrize("name,phase", [("a-preview", "preview"), ("a-up", "up"), ("a-protected", "preview")])
def test_change_counts_match_the_engines_own_summary(name, phase):
    events = recorded(name)
    assert folded(events, phase).counts() == engine_summary(events)


def test_a_clean_run_ends_with_every_started_step_ended():
    progress = folded(recorded("a-up"), "up")
    assert progress.ended == progress.started and len(progress.started) == 13  # 12 resources + the provider
    assert not progress.protected and not progress.errors
    assert progress.line() == "up: create default/sample-pod-pod (13/13)"  # the last step the engine started


def test_progress_line_counts_steps_as_they_start_and_end():
    events = [e for e in recorded("a-up") if "resourcePreEvent" in e or "resOutputsEvent" in e]
    progress = folded(events[:3], "up")
    started = {e["resourcePreEvent"]["metadata"]["urn"] for e in events[:3] if "resourcePreEvent" in e}
    ended = {e["resOutputsEvent"]["metadata"]["urn"] for e in events[:3] if "resOutputsEvent" in e}
    assert progress.line().endswith(f"({len(ended)}/{len(started)})")
    last = [e for e in events[:3] if "resourcePreEvent" in e][-1]["resourcePreEvent"]["metadata"]
    assert progress.step == f"{last['op']} {last['urn'].rsplit('::', 1)[-1]}"


def test_a_preview_replacing_protected_objects_names_them():
    events = recorded("a-protected")
    progress = folded(events)
    replaced = {e["resourcePreEvent"]["metadata"]["urn"] for e in events if "resourcePreEvent" in e
                and e["resourcePreEvent"]["metadata"]["op"] == "replace"}
    assert progress.protected == replaced
    assert progress.protected_names() == "multus-config, multus-daemonset, multus-service-account"


def test_protection_is_found_from_the_engines_refusal_alone():
    """The engine may refuse before any step event names the resource: its message is enough."""
    events = [e for e in recorded("a-protected") if "resourcePreEvent" not in e]
    refusals = [e for e in events if "marked for protection" in e.get("diagnosticEvent", {}).get("message", "")]
    progress = folded(events)
    assert refusals and len(progress.protected) == len(refusals)
    assert all(e["diagnosticEvent"]["urn"] in progress.protected for e in refusals)


def test_the_engines_config_error_is_the_programs_message_as_checked_locally(tmp_path):
    """The row of a stack with invalid config says what the program says, whichever path finds it."""
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["multus-cni:networks"][0]["name"] = "Bad_Name"  # what stack c had when recorded
    (tmp_path / "Pulumi.c.yaml").write_text(yaml.safe_dump(document))
    local = config_problem("c", root=tmp_path)
    assert local.startswith("multus-cni:networks[0].name: 'Bad_Name' is not a valid Kubernetes name")
    assert folded(recorded("c-preview")).error() == local


def test_a_valid_or_missing_stack_file_has_no_config_problem(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())
    assert config_problem("dev", root=tmp_path) == ""
    assert config_problem("organization/multus-cni/dev", root=tmp_path) == ""
    assert config_problem("none", root=tmp_path) == ""


def test_an_unreadable_stack_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.x.yaml").write_text("config: [1, 2]\n")
    assert config_problem("x", root=tmp_path) == (
        f"{tmp_path / 'Pulumi.x.yaml'}: expected a mapping with a 'config:' mapping, but 'config:' is a list")


# --- drift: a refresh in preview mode -----------------------------------------------------------

def test_an_untouched_stack_has_no_drift_as_the_engine_says():
    events = recorded("dev-refresh-clean")
    progress = folded(events, "drift")
    assert progress.drift == {} and progress.counts() == dict.fromkeys(KINDS, 0) == engine_summary(events)
    assert progress.ended == progress.started and len(progress.started) == 13


def test_drift_names_the_changed_field_and_the_deleted_object_as_the_engine_counts_them():
    """Recorded after `kubectl patch` of the NAD's spec.config (and a label) and `kubectl delete pod`."""
    events = recorded("dev-refresh-drifted")
    progress = folded(events, "drift")
    assert progress.counts() == {**dict.fromkeys(KINDS, 0), "update": 1, "delete": 1} == engine_summary(events)
    found = {d.name: d for d in progress.drift.values()}
    assert sorted(found) == ["default/macvlan-conf-nad", "default/sample-pod-pod"]
    nad, pod = found["default/macvlan-conf-nad"], found["default/sample-pod-pod"]
    assert (nad.type, nad.change, nad.fields) == (
        "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition", "changed", (("spec.config", "changed"),))
    assert nad.describe() == "changed spec.config"
    assert (pod.type, pod.describe(), pod.fields) == ("kubernetes:core/v1:Pod", "deleted", ())


def test_the_same_refresh_outside_a_drift_phase_counts_nothing():
    assert folded(recorded("dev-refresh-drifted"), "preview").drift == {}


def test_field_changes_are_grouped_in_the_users_words():
    from multus_cni_cli.fleet.drift import Drift

    drift = Drift("x", "t", "urn", "changed", (("a.b", "added"), ("c", "changed"), ("d", "changed"), ("e", "removed")))
    assert drift.describe() == "added a.b; changed c, d; removed e"
    assert Drift("x", "t", "urn", "changed").describe() == "changed"


def drifted_rows() -> list[Row]:
    progress = folded(recorded("dev-refresh-drifted"), "drift")
    return [Row("b", "succeeded"),
            Row("a", "drifted", progress.counts(), True, 3.21, "", tuple(sorted(progress.drift.values())))]


def test_the_drift_table_lists_each_object_after_the_stacks():
    text = table(drifted_rows())
    assert text == table(list(reversed(drifted_rows())))
    stacks, objects = text.split("\n\n")
    assert [line.split()[:2] for line in stacks.splitlines()[1:]] == [["a", "drifted"], ["b", "succeeded"]]
    assert stacks.splitlines()[1].split()[2:6] == ["0", "1", "0", "1"]
    assert [line.split() for line in objects.splitlines()] == [
        ["STACK", "OBJECT", "TYPE", "DRIFT"],
        ["a", "default/macvlan-conf-nad", "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition", "changed", "spec.config"],
        ["a", "default/sample-pod-pod", "kubernetes:core/v1:Pod", "deleted"]]
    assert "\n\n" not in table([Row("b", "succeeded")])  # no drift, no second table


def test_the_drift_json_has_each_objects_fields_and_preview_json_has_no_drift_key():
    document = json.loads(as_json("drift", drifted_rows()))
    a, b = document["stacks"]
    assert document["succeeded"] is False and (a["status"], b["drift"]) == ("drifted", [])
    assert a["drift"][0] == {
        "object": "default/macvlan-conf-nad", "type": "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition",
        "urn": "urn:pulumi:dev::multus-cni::multus-cni:index:NetworkAttachment$kubernetes:k8s.cni.cncf.io/v1:"
               "NetworkAttachmentDefinition::default/macvlan-conf-nad",
        "change": "changed", "fields": [{"path": "spec.config", "change": "changed"}]}
    assert a["drift"][1]["change"] == "deleted" and a["drift"][1]["fields"] == []
    assert all("drift" not in row for row in json.loads(as_json("preview", drifted_rows()))["stacks"])


def test_drift_does_not_check_the_config_it_never_uses(monkeypatch):
    """A refresh does not run the program: a stack whose config the program would reject still gets one."""
    from multus_cni_cli.recovery import Leftovers

    run, selected = stack_run("drift", Leftovers("a"), monkeypatch)
    run.check_config = lambda stack: "multus-cni:networks[0].name: bad"
    assert run().error.startswith("no stack 'a' in this project's backend") and selected == ["a"]


# --- progress lines -----------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_lines_are_whole_throttled_per_stack_and_forced_at_phase_edges():
    out, clock = io.StringIO(), Clock()
    lines = Lines(out, interval=2.0, clock=clock)
    progress = Progress()
    progress.begin("up")
    lines.show("a", progress, True)           # phase start: shown
    progress.step = "create x"
    lines.show("a", progress, False)          # within 2 s of the last line: held back
    lines.show("b", progress, False)          # another stack has its own pace
    clock.now = 2.5
    lines.show("a", progress, False)          # due
    lines.show("a", progress, True)           # unchanged text: not repeated
    progress.step = "done"
    lines.show("a", progress, True)           # phase end: shown at once
    assert out.getvalue().splitlines() == [
        "[a] up: starting (0/0)", "[b] up: create x (0/0)", "[a] up: create x (0/0)", "[a] up: done (0/0)"]


# --- table, JSON, exit code ---------------------------------------------------------------------

ROWS = [
    Row("b", "failed", dict.fromkeys(KINDS, 0), True, 0.04, "multus-cni:networks[0].name: bad"),
    Row("a", "succeeded", {"create": 12, "update": 0, "replace": 0, "delete": 0}, True, 49.06),
    Row("c", "refused", {"create": 0, "update": 1, "replace": 3, "delete": 0}, True, 16.4,
        "not applied: its preview would delete or replace protected multus-config"),
]


def test_table_is_sorted_by_stack_and_the_same_for_the_same_rows():
    text = table(ROWS)
    assert text == table(list(reversed(ROWS)))
    lines = text.splitlines()
    assert lines[0].split() == ["STACK", "STATUS", "CREATE", "UPDATE", "REPLACE", "DELETE",
                                "PROTECTED-UNTOUCHED", "DURATION", "ERROR"]
    assert [line.split()[0] for line in lines[1:]] == ["a", "b", "c"]
    assert lines[1].split() == ["a", "succeeded", "12", "0", "0", "0", "yes", "49.1s"]
    assert lines[3].endswith("not applied: its preview would delete or replace protected multus-config")
    column = lines[0].index("PROTECTED-UNTOUCHED")
    assert all(line[column:column + 4] == "yes " for line in lines[1:])  # columns aligned


def test_json_summary_is_deterministic_and_carries_the_table():
    text = as_json("up", ROWS)
    assert text == as_json("up", list(reversed(ROWS)))
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    assert document["command"] == "up" and document["succeeded"] is False
    assert [s["stack"] for s in document["stacks"]] == ["a", "b", "c"]
    assert document["stacks"][0] == {"stack": "a", "status": "succeeded", "changes": ROWS[1].changes,
                                     "protectedUntouched": True, "durationSeconds": 49.1, "error": None}
    assert document["stacks"][1]["error"] == ROWS[0].error


@pytest.mark.parametrize("statuses,code", [
    (["succeeded", "succeeded"], 0),
    (["succeeded", "failed"], 1),
    (["succeeded", "refused"], 1),
    (["succeeded", "drifted"], 1),
    (["succeeded", "cancelled"], 130),
])
def test_exit_code(statuses, code):
    assert exit_code([Row(str(i), status) for i, status in enumerate(statuses)]) == code


# --- Ctrl-C: which processes are this process's engines ----------------------------------------

def _proc(tmp_path: Path, pid: int, comm: str, ppid: int) -> None:
    (tmp_path / str(pid)).mkdir()
    (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194304\n")


def test_engine_processes_are_the_pulumi_children_of_this_process(tmp_path):
    _proc(tmp_path, 10, "pulumi", 7)
    _proc(tmp_path, 11, "pulumi", 8)            # another process's engine
    _proc(tmp_path, 12, "python", 7)            # not an engine
    _proc(tmp_path, 13, "odd) (pulumi", 7)      # a name with ") (" in it is read whole
    (tmp_path / "self").mkdir()
    assert sorted(engine_processes(parent=7, proc=tmp_path)) == [10]


def test_engine_processes_reads_the_real_proc():
    assert list(engine_processes()) == []  # this test process runs no pulumi


def test_a_cli_failure_is_its_last_stderr_line_not_the_whole_log():
    from pulumi.automation import CommandError
    from pulumi.automation._cmd import CommandResult

    from multus_cni_cli.fleet.stack_run import last_line

    result = CommandResult(stdout="Previewing update (a):\n lots of progress\n", code=255,
                           stderr="warning: something\nerror: read \".pulumi/meta.yaml\": no such bucket\n")
    assert last_line(CommandError(result)) == 'error: read ".pulumi/meta.yaml": no such bucket'
    assert last_line(RuntimeError("summary event never found")) == "summary event never found"


def test_run_all_runs_at_most_parallel_stacks_at_once_and_keeps_their_order():
    import threading
    import time

    from multus_cni_cli.fleet.interrupt import Interrupt

    lock, running, most = threading.Lock(), [0], [0]

    def run(name: str):
        def call() -> Row:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1
            return Row(name, "succeeded")
        return call

    rows = cli.run_all([run(name) for name in "edcba"], 2, Interrupt())
    assert [row.stack for row in rows] == list("edcba")
    assert most[0] == 2


# --- what a killed run left ------------------------------------------------------------------

def stack_run(action: str, leftovers, monkeypatch):
    """A StackRun whose config is fine and whose engine is never reached without a trace."""
    import threading
    from types import SimpleNamespace

    from pulumi import automation as auto
    from multus_cni_cli.fleet.stack_run import StackRun

    selected = []

    def select(name, workspace):
        selected.append(name)
        raise auto.StackNotFoundError(Exception("stand-in"))

    monkeypatch.setattr(auto.Stack, "select", staticmethod(select))
    run = StackRun("a", action, SimpleNamespace(work_dir="."), lambda *a: None, threading.Event(),
                   check_config=lambda stack: "", check_leftovers=lambda stack: leftovers)
    return run, selected


@pytest.mark.parametrize("action", ["preview", "up"])
def test_a_stack_a_killed_run_left_is_a_failed_row_naming_the_commands_and_no_engine_starts(action, monkeypatch):
    from multus_cni_cli.recovery import Leftovers

    left = Leftovers("a", problems=("1 pending operation (creating multus-crd)",),
                     commands=("pulumi cancel --yes --stack a", "pulumi refresh --clear-pending-creates --yes --skip-preview --stack a"))
    run, selected = stack_run(action, left, monkeypatch)
    row = run()
    assert (row.status, selected) == ("failed", [])
    assert row.error == ("left by a killed run (1 pending operation (creating multus-crd)): run "
                         "`pulumi cancel --yes --stack a`, then `pulumi refresh --clear-pending-creates --yes --skip-preview --stack a`")


def test_another_runs_lock_stops_an_up_but_not_a_preview(monkeypatch):
    from multus_cni_cli.recovery import Leftovers

    held = Leftovers("a", held="Stack 'a' is locked by another run: root@vm (pid 7) since T; wait for it to end")
    row = stack_run("up", held, monkeypatch)[0]()
    assert (row.status, row.error) == ("failed", held.held)
    run, selected = stack_run("preview", held, monkeypatch)
    assert run().error.startswith("no stack 'a' in this project's backend") and selected == ["a"]  # it went on to the engine
