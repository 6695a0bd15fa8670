"""`multus-cni fleet-join`: the shards' summaries as one table, the stacks no shard reported, and
the Markdown report within a pull-request comment's limit; and what `fleet` hands every stack's
engine (policy packs, the output for --log-dir)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from multus_cni_cli.__main__ import main
from multus_cni_cli.fleet import join as fleet_join
from multus_cni_cli.fleet.report import Row, as_json, table
from multus_cni_cli.fleet.stack_run import EngineOptions, StackRun, log_name
from test_fleet import drifted_rows, folded, recorded

NO_CHANGES = {"create": 0, "update": 0, "replace": 0, "delete": 0}


def rows() -> list[Row]:
    return [Row("a", "succeeded", {**NO_CHANGES, "create": 12}, True, 12.34),
            Row("b", "succeeded", dict(NO_CHANGES), True, 3.0),
            Row("c", "failed", dict(NO_CHANGES), True, 0.5, "multus-cni:networks[0].name: bad"),
            Row("d", "refused", {**NO_CHANGES, "replace": 3}, True, 8.0, "not applied: ...")]


def write(tmp_path: Path, name: str, command: str, part: list[Row]) -> Path:
    path = tmp_path / name / "fleet.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(as_json(command, part))
    return path


def test_a_summary_read_back_gives_the_same_bytes_with_or_without_drift():
    for command, part in (("preview", rows()), ("drift", drifted_rows())):
        document = json.loads(as_json(command, part))
        assert as_json(command, [Row.from_dict(data) for data in document["stacks"]]) == as_json(command, part)


def test_the_shards_joined_give_the_unsharded_table_and_json(tmp_path, capsys):
    write(tmp_path / "shards", "fleet-shard-0", "preview", rows()[::2])
    write(tmp_path / "shards", "fleet-shard-1", "preview", rows()[1::2])
    joined = tmp_path / "joined.json"
    assert main(["fleet-join", "preview", str(tmp_path / "shards"), "--summary-json", str(joined)]) == 1
    assert capsys.readouterr().out == table(rows())
    assert joined.read_text() == as_json("preview", rows())


def test_every_stack_succeeded_is_exit_0(tmp_path, capsys):
    path = write(tmp_path, "s", "up", rows()[:2])
    assert main(["fleet-join", "up", str(path)]) == 0


def test_a_stack_no_shard_reported_is_a_failed_row_with_stack_files(tmp_path, capsys):
    for name in ("Pulumi.yaml", "Pulumi.a.yaml", "Pulumi.b.yaml", "Pulumi.lost.yaml"):
        (tmp_path / name).write_text("")
    path = write(tmp_path, "s", "preview", rows()[:2])
    joined = tmp_path / "joined.json"
    code = main(["fleet-join", "preview", str(path), "--stack-files", "--project-dir", str(tmp_path),
                 "--summary-json", str(joined)])
    assert code == 1
    lost = {row["stack"]: row for row in json.loads(joined.read_text())["stacks"]}["lost"]
    assert lost["status"] == "failed" and lost["error"].startswith("no result: the job of its shard reported nothing")


def test_no_shard_at_all_reports_every_stack_missing(tmp_path, capsys):
    (tmp_path / "Pulumi.dev.yaml").write_text("")
    (tmp_path / "shards").mkdir()
    assert main(["fleet-join", "drift", str(tmp_path / "shards"), "--stack-files", "--project-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["dev", "failed"]


@pytest.mark.parametrize("second, message", [
    (("up", ["a"]), "a summary of fleet up, not fleet preview"),
    (("preview", ["a"]), "stack 'a' is in"),
])
def test_summaries_that_cannot_be_one_fleets_are_usage_errors_naming_the_file(tmp_path, capsys, second, message):
    first = write(tmp_path, "one", "preview", rows()[:1])
    command, names = second
    other = write(tmp_path, "two", command, [row for row in rows() if row.stack in names])
    assert main(["fleet-join", "preview", str(first), str(other)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(other) in err


@pytest.mark.parametrize("text, message", [("{", "not JSON"), ('{"command": "preview", "stacks": [{"stack": "a"}]}',
                                                                 "not a fleet --summary-json")])
def test_a_file_that_is_no_summary_is_one_line_naming_it(tmp_path, capsys, text, message):
    path = tmp_path / "x.json"
    path.write_text(text)
    assert main(["fleet-join", "preview", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fleet-join: {path}: {message}") and "Traceback" not in err


# --- the Markdown report ------------------------------------------------------------------------

def logs(tmp_path: Path, texts: dict[str, str]) -> dict[str, Path]:
    where = tmp_path / "logs"
    where.mkdir(exist_ok=True)
    for stack, text in texts.items():
        (where / log_name(stack)).write_text(text)
    return fleet_join.find_logs([tmp_path])


def test_the_report_shows_the_table_and_the_output_of_each_changed_or_failed_stack(tmp_path):
    found = logs(tmp_path, {s: f"\x1b[32m+ create {s}\x1b[0m\n" for s in "abcd"})
    text = fleet_join.markdown("preview", rows(), found)
    assert text.startswith("## fleet preview: 4 stacks, 2 did not succeed, 3 with changes or errors\n\n```\n" + table(rows()))
    summaries = [line for line in text.splitlines() if line.startswith("<details>")]
    assert summaries == ["<details><summary>a: succeeded</summary>", "<details><summary>c: failed</summary>",
                         "<details><summary>d: refused</summary>"]  # b changes nothing: no output shown
    assert "+ create a" in text and "\x1b" not in text


def test_a_thousand_stacks_with_long_outputs_fit_one_comment(tmp_path):
    many = [Row(f"cluster-{i:04d}", "succeeded", {**NO_CHANGES, "update": i % 2}, True, 1.0) for i in range(1000)]
    found = logs(tmp_path, {row.stack: f"~ update {row.stack}\n" * 400 for row in many})
    text = fleet_join.markdown("preview", many, found)
    assert len(text) <= fleet_join.COMMENT_LIMIT
    assert "500 stacks with no changes not listed" in text and "cluster-0001" in text and "cluster-0000 " not in text
    assert text.count("<details>") >= 1 and text.rstrip().endswith("is in the shards' log artifacts.")
    assert "cut here: the whole output is in the shard's log artifact" in text


# --- what every stack's engine is handed --------------------------------------------------------

class Engine:
    """A stand-in stack: records what fleet passes and replays a recorded run's events and output."""

    def __init__(self, events: list[dict]):
        self.events, self.calls = events, []

    def preview(self, **kwargs):
        from pulumi.automation import EngineEvent

        self.calls.append(("preview", sorted(kwargs)))
        self.kwargs = kwargs
        for line in ("Previewing update (a):", "    + kubernetes:core/v1:Pod default/sample-pod-pod create"):
            kwargs.get("on_output", lambda line: None)(line)
        for event in self.events:
            kwargs["on_event"](EngineEvent.from_json(event))


def engine_run(monkeypatch, options: EngineOptions, events: list[dict]) -> tuple[StackRun, Engine]:
    from pulumi import automation as auto

    engine = Engine(events)
    monkeypatch.setattr(auto.Stack, "select", staticmethod(lambda name, workspace: engine))
    run = StackRun("org/a", "preview", SimpleNamespace(work_dir="."), lambda *a: None, threading.Event(),
                   check_config=lambda stack: "", check_leftovers=lambda stack: SimpleNamespace(problems=(), held=""),
                   options=options)
    return run, engine


def test_policy_packs_and_the_diff_log_reach_the_engine_and_the_log_is_written(monkeypatch, tmp_path):
    options = EngineOptions(("policy",), ("policy/config.json",), tmp_path / "logs")
    run, engine = engine_run(monkeypatch, options, recorded("a-preview"))
    row = run()
    assert row.status == "succeeded"
    assert engine.kwargs["policy_packs"] == ["policy"] and engine.kwargs["policy_pack_configs"] == ["policy/config.json"]
    assert engine.kwargs["diff"] is True
    assert (tmp_path / "logs" / "org_a.log").read_text() == (
        "Previewing update (a):\n    + kubernetes:core/v1:Pod default/sample-pod-pod create\n")


def test_without_options_the_engine_gets_only_the_event_handler(monkeypatch, tmp_path):
    run, engine = engine_run(monkeypatch, EngineOptions(), recorded("a-preview"))
    assert run().status == "succeeded" and engine.calls == [("preview", ["on_event"])]


def test_unmatched_policy_pack_configs_are_a_usage_error(capsys):
    assert main(["fleet", "preview", "--all", "--policy-pack", "a", "--policy-pack-config", "x.json",
                 "--policy-pack-config", "y.json"]) == 2
    assert "2 --policy-pack-config for 1 --policy-pack" in capsys.readouterr().err
