"""`multus-cni fleet` against two real control planes: stack a on the session's cluster,
b on a second one, c with invalid config; one project copy and one file backend for all three.

The tests build on each other in file order (preview, up, the protected refusal, drift, Ctrl-C), as
the fleet is used: one deployment per module keeps the suite lean.
"""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from multus_cni_cli.recovery import read_checkpoint

from .conftest import ROOT, Stacks, own_cluster

BAD_NAME = "multus-cni:networks[0].name: 'Bad_Name' is not a valid Kubernetes name"


@pytest.fixture(scope="module")
def second_cluster(toolchain, tmp_path_factory):
    yield from own_cluster(toolchain, tmp_path_factory, "fleet")


@pytest.fixture(scope="module")
def fleet(cluster, second_cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet")
    stacks = Stacks(cluster, base)
    try:
        a, b, c = stacks("a"), stacks("b"), stacks("c")
        a.set_config("kubernetes:kubeconfig", str(cluster.kubeconfig))
        b.set_config("kubernetes:kubeconfig", str(second_cluster.kubeconfig))
        c.set_config("kubernetes:kubeconfig", str(second_cluster.kubeconfig))
        networks = yaml.safe_load((c.workdir / "Pulumi.c.yaml").read_text())["config"]["multus-cni:networks"]
        networks[0]["name"] = "Bad_Name"
        c.set_config("multus-cni:networks", networks)
        # b's cluster is deleted with the module: only a (on the shared cluster) is decommissioned.
        stacks.made.remove(b)
        yield Fleet(stacks, base / "state")
    finally:
        stacks.close()


class Fleet:
    def __init__(self, stacks: Stacks, state: Path):
        self.stacks, self.state = stacks, state
        self.workdir = stacks.workdir
        self.summary = stacks.workdir.parent / "summary.json"

    def command(self, *args: str) -> list[str]:
        return [str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "fleet", *args,
                "--summary-json", str(self.summary)]

    def run(self, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
        started = time.monotonic()
        done = subprocess.run(self.command(*args), cwd=self.workdir, env=self.stacks.env, capture_output=True,
                              text=True, timeout=900)
        print(f"fleet {' '.join(args)}: {time.monotonic() - started:.1f}s, exit {done.returncode}\n{done.stdout}")
        return done, self.rows()

    def rows(self) -> dict[str, dict]:
        return {row["stack"]: row for row in json.loads(self.summary.read_text())["stacks"]}

    def config(self, stack: str) -> dict:
        return yaml.safe_load((self.workdir / f"Pulumi.{stack}.yaml").read_text())

    def write_config(self, stack: str, document: dict) -> None:
        (self.workdir / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    def locks(self) -> list[Path]:
        return [p for p in (self.state / ".pulumi" / "locks").rglob("*") if p.is_file()]

    def state_of(self, stack: str) -> dict:
        done = subprocess.run(["pulumi", "stack", "export", "--stack", stack], cwd=self.workdir, env=self.stacks.env,
                              capture_output=True, text=True, check=True, timeout=120)
        return json.loads(done.stdout)["deployment"]


NO_CHANGES = {"create": 0, "update": 0, "replace": 0, "delete": 0}


def test_preview_all_previews_a_and_b_and_fails_c_with_its_config_message(fleet):
    done, rows = fleet.run("preview", "--all")
    assert done.returncode == 1, done.stderr
    assert sorted(rows) == ["a", "b", "c"]
    for name in "ab":
        assert rows[name]["status"] == "succeeded" and rows[name]["error"] is None
        assert rows[name]["changes"] == {**NO_CHANGES, "create": 12}
        assert f"[{name}] preview: done" in done.stderr
    assert rows["c"]["status"] == "failed" and rows["c"]["error"].startswith(BAD_NAME)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.splitlines()[3].split()[:2] == ["c", "failed"]  # the table, sorted by stack
    assert fleet.locks() == []


def test_up_all_deploys_a_and_b_each_to_its_cluster_and_c_fails(fleet, cluster, second_cluster):
    """The first rollout, on the bulk path: each state backed up first, then written once, at the end."""
    backups = fleet.workdir.parent / "backups"
    done, rows = fleet.run("up", "--all", "--yes", "--bulk", "--backup-dir", str(backups))
    assert done.returncode == 1, done.stderr
    assert {name: rows[name]["status"] for name in rows} == {"a": "succeeded", "b": "succeeded", "c": "failed"}
    assert rows["a"]["changes"] == rows["b"]["changes"] == {**NO_CHANGES, "create": 12}
    assert rows["c"]["error"].startswith(BAD_NAME)
    assert f"each stack's state before its update is in {backups}/<stack>-<UTC time>.json" in done.stdout
    assert sorted(p.name.split("-")[0] for p in backups.iterdir()) == ["a", "b"]  # c failed before its preview
    for name in "ab":
        # The file backend copies the checkpoint to <stack>.json.bak before each write: after one
        # write only, that copy is the state from before the update.
        before = read_checkpoint(fleet.state / ".pulumi" / "stacks" / "multus-cni" / f"{name}.json.bak")
        assert before is not None and not before.get("resources"), name
        assert len(fleet.state_of(name)["resources"]) > 12
    for where in (cluster, second_cluster):
        where.get("daemonset", "-n", "kube-system", "kube-multus-ds")
        assert [n["metadata"]["name"] for n in where.get("network-attachment-definitions", "-A")["items"]] == ["macvlan-conf"]
    assert "Traceback" not in done.stdout + done.stderr


def test_up_refuses_a_stack_whose_preview_would_replace_multus_and_goes_on_with_the_others(fleet, cluster):
    before = fleet.config("a")
    moved = copy.deepcopy(before)
    moved["config"]["multus-cni:multus"] = {"namespace": "multus-system"}  # every Multus object replaced
    fleet.write_config("a", moved)
    daemonset = cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")["metadata"]["uid"]
    try:
        done, rows = fleet.run("up", "--stacks", "a,b", "--yes")
    finally:
        fleet.write_config("a", before)
    assert done.returncode == 1, done.stderr
    assert rows["a"]["status"] == "refused"
    assert rows["a"]["error"].startswith("not applied: its preview would delete or replace protected ")
    assert "multus-daemonset" in rows["a"]["error"]
    assert rows["a"]["protectedUntouched"] is True
    assert rows["b"]["status"] == "succeeded" and rows["b"]["changes"] == NO_CHANGES  # a rerun changes nothing
    assert cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")["metadata"]["uid"] == daemonset
    assert cluster.kubectl("get", "namespace", "multus-system", check=False).returncode != 0


def test_drift_reports_what_changed_behind_each_stacks_back_and_fleet_up_restores_it(fleet, cluster, second_cluster):
    done, rows = fleet.run("drift", "--stacks", "a,b")  # untouched since the last up
    assert done.returncode == 0, done.stderr
    assert {name: (row["status"], row["changes"], row["drift"]) for name, row in rows.items()} == {
        name: ("succeeded", NO_CHANGES, []) for name in "ab"}
    nad = cluster.get("network-attachment-definitions", "-n", "default", "macvlan-conf")
    edited = nad["spec"]["config"].replace("192.168.1.216", "192.168.1.220")
    assert edited != nad["spec"]["config"]
    cluster.kubectl("patch", "network-attachment-definitions", "-n", "default", "macvlan-conf", "--type", "merge",
                    "-p", json.dumps({"spec": {"config": edited}}))
    second_cluster.kubectl("delete", "daemonset", "-n", "kube-system", "kube-multus-ds", "--wait=true")

    done, rows = fleet.run("drift", "--all")
    assert done.returncode == 1, done.stderr
    drift = {name: [(d["object"], d["change"], d["fields"]) for d in row["drift"]] for name, row in rows.items()}
    assert drift == {"a": [("default/macvlan-conf-nad", "changed", [{"path": "spec.config", "change": "changed"}])],
                     "b": [("multus-daemonset", "deleted", [])],
                     "c": []}  # never deployed; its invalid config is not read by a refresh
    assert [rows[name]["status"] for name in "abc"] == ["drifted", "drifted", "succeeded"]
    assert (rows["a"]["changes"], rows["b"]["changes"]) == ({**NO_CHANGES, "update": 1}, {**NO_CHANGES, "delete": 1})
    assert "changed spec.config" in done.stdout and "deleted" in done.stdout
    assert cluster.get("network-attachment-definitions", "-n", "default", "macvlan-conf")["spec"]["config"] == edited
    assert fleet.locks() == []

    refreshes = [subprocess.Popen(["pulumi", "refresh", "--yes", "--skip-preview", "--stack", name], cwd=fleet.workdir,
                                  env=fleet.stacks.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for name in "ab"]
    errors = [process.communicate(timeout=300)[1] for process in refreshes]
    assert [process.returncode for process in refreshes] == [0, 0], errors
    done, rows = fleet.run("up", "--stacks", "a,b", "--yes")
    assert done.returncode == 0, done.stderr
    assert (rows["a"]["changes"], rows["b"]["changes"]) == ({**NO_CHANGES, "update": 1}, {**NO_CHANGES, "create": 1})
    assert cluster.get("network-attachment-definitions", "-n", "default", "macvlan-conf")["spec"]["config"] == nad["spec"]["config"]
    second_cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")


def test_ctrl_c_cancels_every_running_update_and_leaves_no_lock(fleet):
    for name in "ab":  # a second network and pod: an update with work to interrupt
        document = fleet.config(name)
        config = document["config"]
        network = copy.deepcopy(config["multus-cni:networks"][0])
        network.update(name="macvlan-two", config=network["config"].replace("192.168.1.", "192.168.2."))
        workload = copy.deepcopy(config["multus-cni:workloads"][0])
        workload.update(name="sample-two", networks="macvlan-two")
        config["multus-cni:networks"].append(network)
        config["multus-cni:workloads"].append(workload)
        fleet.write_config(name, document)
    process = subprocess.Popen(fleet.command("up", "--stacks", "a,b", "--yes", "--progress-interval", "0"),
                               cwd=fleet.workdir, env=fleet.stacks.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    updating = threading.Event()

    def read() -> None:
        for line in process.stderr:
            lines.append(line)
            if " up: create " in line:
                updating.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert updating.wait(600), "".join(lines)
        process.send_signal(signal.SIGINT)
        stdout = process.communicate(timeout=300)[0]
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(10)
    print(stdout + "".join(lines))
    assert process.returncode == 130, stdout + "".join(lines)
    rows = fleet.rows()
    assert "cancelled" in {rows["a"]["status"], rows["b"]["status"]}, rows
    assert all(row["status"] in ("cancelled", "succeeded") for row in rows.values()), rows
    assert fleet.locks() == []
    for name in "ab":
        assert not fleet.state_of(name).get("pending_operations"), name  # every operation ended cleanly
