"""The bulk path's backup (`make up BULK=1`, `fleet up --bulk`); what a killed bulk `up` leaves and
how it converges is proven live (tests/integration/test_live_interrupt.py)."""

from __future__ import annotations

import json
import stat
import threading
from types import SimpleNamespace

import pytest

from multus_cni_cli import bulk
from multus_cni_cli.__main__ import main as cli_main
from multus_cni_cli.pulumi_cli import Pulumi, StepFailed

EXPORT = {"version": 3, "deployment": {"manifest": {"time": "t"}, "resources": [{"urn": "b"}, {"urn": "a"}]}}
NOON = 1796299200.0  # 2026-12-03 12:00:00 UTC


def test_a_backup_is_the_export_in_sorted_json_readable_only_by_its_owner(tmp_path):
    path = bulk.write_backup(EXPORT, tmp_path / "backups", "org/multus-cni/dev", now=NOON)
    assert path == tmp_path / "backups" / "org_multus-cni_dev-20261203T120000Z.json"
    assert json.loads(path.read_text()) == EXPORT
    assert path.read_text() == json.dumps(EXPORT, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_second_backup_in_the_same_second_never_overwrites_the_first(tmp_path):
    first = bulk.write_backup(EXPORT, tmp_path, "dev", now=NOON)
    second = bulk.write_backup({"version": 3, "deployment": {}}, tmp_path, "dev", now=NOON)
    assert second.name == "dev-20261203T120000Z-1.json"
    assert json.loads(first.read_text()) == EXPORT


def test_the_command_writes_the_backup_and_says_where_and_how_to_restore_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Pulumi, "export", lambda self: EXPORT)
    assert bulk.main(["--stack", "dev", "--project-dir", str(tmp_path)]) == 0
    [path] = (tmp_path / ".pulumi-backups").iterdir()
    said = capsys.readouterr().out
    assert f"the state before it is in {path}" in said
    assert f"pulumi stack import --stack dev --file {path}" in said


def test_no_export_means_no_backup_and_an_error_before_any_update(tmp_path, monkeypatch, capsys):
    def fails(self):
        raise StepFailed("reading the stack's state: `pulumi stack export` failed (exit 255):\nerror: no stack named 'dev'")

    monkeypatch.setattr(Pulumi, "export", fails)
    assert bulk.main(["--stack", "dev", "--project-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("bulk path: no update ran: reading the stack's state")
    assert not (tmp_path / ".pulumi-backups").exists()


def test_an_unwritable_backup_dir_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Pulumi, "export", lambda self: EXPORT)
    (tmp_path / "file").write_text("")
    assert bulk.main(["--stack", "dev", "--dir", str(tmp_path / "file" / "below")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"bulk path: no update ran: the backup could not be written to {tmp_path / 'file' / 'below'}: ")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [("preview", "--all", "--bulk"), ("drift", "--all", "--backup-dir", "x")])
def test_bulk_is_for_fleet_up_only(argv, capsys):
    assert cli_main(["fleet", *argv]) == 2
    assert "--bulk and --backup-dir are for `fleet up` only" in capsys.readouterr().err


class FakeStack:
    """The Automation API's stack as StackRun drives it: what was called, in order."""

    def __init__(self, export_fails: bool = False):
        self.calls: list[str] = []
        self.export_fails = export_fails

    def preview(self, **kwargs):
        self.calls.append("preview")

    def export_stack(self):
        from pulumi.automation import CommandError
        from pulumi.automation._cmd import CommandResult

        self.calls.append("export")
        if self.export_fails:
            raise CommandError(CommandResult(stdout="", stderr="error: the passphrase is wrong\n", code=255))
        return SimpleNamespace(version=3, deployment=EXPORT["deployment"])

    def up(self, **kwargs):
        self.calls.append("up")


def bulk_run(stack: FakeStack, backups, monkeypatch):
    from pulumi import automation as auto
    from multus_cni_cli.fleet.stack_run import EngineOptions, StackRun
    from multus_cni_cli.recovery import Leftovers

    monkeypatch.setattr(auto.Stack, "select", staticmethod(lambda name, workspace: stack))
    return StackRun("org/multus-cni/k3", "up", SimpleNamespace(work_dir="."), lambda *a: None, threading.Event(),
                    check_config=lambda name: "", check_leftovers=lambda name: Leftovers(name),
                    options=EngineOptions(backup_dir=backups))()


def test_fleet_bulk_backs_each_stack_up_after_its_preview_and_before_its_update(tmp_path, monkeypatch):
    stack = FakeStack()
    row = bulk_run(stack, tmp_path / "backups", monkeypatch)
    assert (row.status, stack.calls) == ("succeeded", ["preview", "export", "up"])
    [path] = (tmp_path / "backups").iterdir()
    assert path.name.startswith("org_multus-cni_k3-")
    assert json.loads(path.read_text()) == EXPORT


def test_fleet_bulk_applies_nothing_without_its_backup(tmp_path, monkeypatch):
    stack = FakeStack(export_fails=True)
    row = bulk_run(stack, tmp_path / "backups", monkeypatch)
    assert (row.status, stack.calls) == ("failed", ["preview", "export"])
    assert row.error == "not applied: its state could not be exported for the backup: error: the passphrase is wrong"


def test_fleet_without_bulk_takes_no_backup(tmp_path, monkeypatch):
    stack = FakeStack()
    assert bulk_run(stack, None, monkeypatch).status == "succeeded"
    assert stack.calls == ["preview", "up"]
