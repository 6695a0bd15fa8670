"""What a killed run left, found from what real killed runs left (tests/fixtures/recovery/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from multus_cni_cli import recovery
from multus_cni_cli.recovery import check

FIXTURES = ROOT / "tests" / "fixtures" / "recovery"
LOCK = json.loads((FIXTURES / "lock.json").read_text())
CANCEL = "pulumi cancel --yes --stack k3"
REFRESH = "pulumi refresh --clear-pending-creates --yes --skip-preview --stack k3"


def export(name: str):
    return lambda: json.loads((FIXTURES / f"{name}.json").read_text())


def clean():
    return {"deployment": {"resources": []}}


@pytest.fixture
def backend(tmp_path):
    """A file backend with the killed run's lock under the project's lock dir."""
    root = tmp_path / "state"
    locks = root / ".pulumi" / "locks" / "organization" / "multus-cni" / "k3"
    locks.mkdir(parents=True)
    shutil.copy(FIXTURES / "lock.json", locks / "52ea36ec-7bfc-401a-af40-1517e20c80f2.json")
    return root


def proc_with(tmp_path, pid: int, comm: str, state: str = "S") -> Path:
    """A /proc where `pid` runs `comm`."""
    proc = tmp_path / "proc"
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "stat").write_text(f"{pid} ({comm}) {state} 1 {pid} {pid} 0 -1\n")
    return proc


def run(backend: Path, tmp_path, proc: Path | None = None, pending: str | None = "export-pending-creates",
        hostname: str = "vm"):
    return check("k3", ROOT, backend_url=f"file://{backend}", hostname=hostname,
                 proc=proc or tmp_path / "empty-proc", export=export(pending) if pending else clean)


def test_a_lock_whose_pulumi_is_gone_and_pending_creates_give_cancel_then_refresh(backend, tmp_path):
    found = run(backend, tmp_path)
    assert found.commands == (CANCEL, REFRESH)
    assert found.problems == (
        f"a lock of a `pulumi` that no longer runs: root@vm (pid {LOCK['pid']}) since {LOCK['timestamp']}",
        "4 pending operations (creating multus-crd, creating multus-cluster-role-binding, "
        "creating multus-service-account, ...)")
    assert not found.held


@pytest.mark.parametrize("name, shown", [("export-pending-update", "1 pending operation (updating default/int-0-nad)"),
                                         ("export-pending-delete", "3 pending operations (deleting default/int-13-nad, "
                                                                   "deleting default/int-3-nad, deleting default/int-2-nad)")])
def test_pending_updates_and_deletes_take_the_same_refresh(backend, tmp_path, name, shown):
    found = run(backend, tmp_path, pending=name)
    assert found.commands == (CANCEL, REFRESH) and found.problems[1] == shown


def test_a_stale_lock_alone_needs_only_cancel_and_pending_alone_only_refresh(backend, tmp_path):
    assert run(backend, tmp_path, pending=None).commands == (CANCEL,)
    shutil.rmtree(backend / ".pulumi" / "locks")
    assert run(backend, tmp_path).commands == (REFRESH,)


def test_a_clean_stack_gives_nothing(backend, tmp_path):
    shutil.rmtree(backend / ".pulumi" / "locks")
    found = run(backend, tmp_path, pending=None)
    assert not found and found.commands == () and found.problems == () and not found.held


def test_a_lock_of_a_running_pulumi_is_another_run_and_hides_its_pending_operations(backend, tmp_path):
    found = run(backend, tmp_path, proc=proc_with(tmp_path, LOCK["pid"], "pulumi"))
    assert found.commands == () and found.problems == ()
    assert found.held == f"Stack 'k3' is locked by another run: root@vm (pid {LOCK['pid']}) since {LOCK['timestamp']}; wait for it to end"
    assert found.text() == found.held + "\n"


@pytest.mark.parametrize("comm, state", [("python3", "S"), ("pulumi", "Z")])
def test_a_reused_pid_or_a_zombie_is_not_a_running_pulumi(backend, tmp_path, comm, state):
    assert run(backend, tmp_path, proc=proc_with(tmp_path, LOCK["pid"], comm, state)).commands == (CANCEL, REFRESH)


def test_a_lock_of_another_host_is_never_called_stale(backend, tmp_path):
    found = run(backend, tmp_path, hostname="ci-runner-7")
    assert found.commands == () and "on another host" in found.held and "root@vm" in found.held


def test_a_cut_off_checkpoint_sidecar_is_removed_first_and_the_checkpoint_read_directly(tmp_path):
    backend = tmp_path / "state"
    shutil.copytree(FIXTURES / "backend-cut-sidecar", backend)
    sidecar = backend / ".pulumi" / "stacks" / "multus-cni" / "k3.json.attrs"

    def export_fails():
        raise AssertionError("the CLI cannot load this checkpoint: it must not be asked")

    found = check("k3", ROOT, backend_url=f"file://{backend}", hostname="vm", proc=tmp_path / "proc", export=export_fails)
    assert found.commands == (f"rm {sidecar}", CANCEL, REFRESH)
    assert "failed to load checkpoint: EOF" in found.problems[0] and found.problems[2].startswith("4 pending operations")


def test_a_cut_off_sidecar_beside_an_unreadable_checkpoint_gives_no_command(tmp_path):
    backend = tmp_path / "state"
    shutil.copytree(FIXTURES / "backend-cut-sidecar", backend)
    (backend / ".pulumi" / "stacks" / "multus-cni" / "k3.json").write_text('{"version": 3, "checkp')
    found = check("k3", ROOT, backend_url=f"file://{backend}", hostname="vm", proc=tmp_path / "proc", export=clean)
    assert found and found.commands == () and "nothing here is proven" in found.problems[0]


def test_a_backend_that_is_not_a_directory_is_judged_by_its_export_alone(tmp_path):
    found = check("k3", ROOT, backend_url="s3://bucket/state", hostname="vm", proc=tmp_path,
                  export=export("export-pending-creates"))
    assert found.commands == (REFRESH,)


def test_the_text_make_up_prints_has_the_setup_then_the_commands_then_what_to_rerun(backend, tmp_path):
    text = run(backend, tmp_path).text(setup=("export PULUMI_CONFIG_PASSPHRASE=''",), then="make up")
    assert text.splitlines()[-4:] == ["  export PULUMI_CONFIG_PASSPHRASE=''", f"  {CANCEL}", f"  {REFRESH}",
                                      "Then run `make up` again."]
    assert text.startswith("Stack 'k3' was left behind by a run that was killed:\n  - a lock of")


def test_the_one_line_a_fleet_row_shows(backend, tmp_path):
    line = run(backend, tmp_path).one_line("fleet up")
    assert line.endswith(f": run `{CANCEL}`, then `{REFRESH}`, then `fleet up` again") and "\n" not in line


def test_file_backend_urls():
    assert recovery.file_backend("file:///tmp/x?no_tmp_dir=true") == Path("/tmp/x")
    assert recovery.file_backend("file://~/state") == Path("~/state").expanduser()
    assert recovery.file_backend("https://api.pulumi.com") is None


def test_main_exits_1_with_the_lines_on_stderr(backend, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(recovery, "check", lambda stack, project_dir: run(backend, tmp_path))
    assert recovery.main(["--stack", "k3", "--setup", "export A=1", "--then", "make up"]) == 1
    assert capsys.readouterr().err.splitlines()[-4:] == ["  export A=1", f"  {CANCEL}", f"  {REFRESH}", "Then run `make up` again."]
    monkeypatch.setattr(recovery, "check", lambda stack, project_dir: recovery.Leftovers(stack))
    assert recovery.main(["--stack", "k3"]) == 0 and capsys.readouterr().err == ""
