"""`fleet --shard I/N` and `fleet-join` under the real engine: six stacks on the session's kwok
cluster, one of them with an image the policy pack refuses; previewed once unsharded and once as
the workflows run them (two shards side by side, as on two machines, then joined)."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from multus_cni_cli.fleet import shard
from .conftest import ROOT, Stacks

pytestmark = pytest.mark.live

NAMES = [f"cluster-{i}" for i in range(1, 7)]
REFUSED = "cluster-6"
POLICY = ("--policy-pack", "policy", "--policy-pack-config", "policy/config.json")


@pytest.fixture(scope="module")
def six(cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    stacks = Stacks(cluster, base)
    for name in NAMES:
        stacks(name)
    stacks.made[-1].set_config("multus-cni:workloads", [{"name": "sample-pod", "networks": "macvlan-conf",
                                                         "image": "docker.io/library/alpine:latest"}])
    (stacks.workdir / "Pulumi.dev.yaml").unlink()  # only the six stack files: what --stack-files runs
    stacks.made.clear()  # previews only: nothing to decommission
    return stacks


def cli(stacks: Stacks, *args: str) -> subprocess.CompletedProcess:
    started = time.monotonic()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", *args], cwd=stacks.workdir,
                          env=stacks.env, capture_output=True, text=True, timeout=900)
    print(f"{' '.join(args[:4])}: {time.monotonic() - started:.1f}s, exit {done.returncode}\n{done.stdout}")
    return done


def timeless(document: dict) -> dict:
    return {**document, "stacks": [{k: v for k, v in row.items() if k != "durationSeconds"} for row in document["stacks"]]}


def table_without_durations(text: str) -> list[list[str]]:
    return [[cell for cell in line.split() if not cell.endswith("s") or not cell[:-1].replace(".", "").isdigit()]
            for line in text.splitlines()]


def test_two_shards_joined_give_the_table_of_one_unsharded_run(six, tmp_path):
    assert all(shard.select(NAMES, index, 2) for index in (1, 2))  # both shards hold stacks
    whole = cli(six, "fleet", "preview", "--stack-files", *POLICY, "--summary-json", str(tmp_path / "all.json"))

    def one(index: int) -> subprocess.CompletedProcess:
        where = tmp_path / "shards" / f"fleet-shard-{index - 1}"
        return cli(six, "fleet", "preview", "--stack-files", "--shard", f"{index}/2", *POLICY,
                   "--summary-json", str(where / "fleet.json"), "--log-dir", str(where / "logs"))

    with ThreadPoolExecutor(2) as pool:  # as two jobs of the matrix, on two machines
        parts = list(pool.map(one, (1, 2)))
    joined = cli(six, "fleet-join", "preview", str(tmp_path / "shards"), "--stack-files", "--log-dir",
                 str(tmp_path / "shards"), "--summary-json", str(tmp_path / "joined.json"), "--markdown", str(tmp_path / "fleet.md"))

    assert whole.returncode == joined.returncode == 1 and [p.returncode for p in parts] == [
        1 if REFUSED in shard.select(NAMES, index, 2) else 0 for index in (1, 2)]
    document = json.loads((tmp_path / "all.json").read_text())
    assert timeless(json.loads((tmp_path / "joined.json").read_text())) == timeless(document)
    assert table_without_durations(joined.stdout) == table_without_durations(whole.stdout)
    for part, index in zip(parts, (1, 2)):
        assert sorted(row["stack"] for row in json.loads(
            (tmp_path / "shards" / f"fleet-shard-{index - 1}" / "fleet.json").read_text())["stacks"]) == shard.select(NAMES, index, 2)

    rows = {row["stack"]: row for row in document["stacks"]}
    assert sorted(rows) == NAMES
    assert all(rows[name]["status"] == "succeeded" and rows[name]["changes"]["create"] == 12
               for name in NAMES if name != REFUSED)
    refused = rows[REFUSED]
    assert refused["status"] == "failed" and "images-pinned" in refused["error"]
    assert "docker.io/library/alpine:latest" in refused["error"] and "pin a release tag or a digest" in refused["error"]

    report = (tmp_path / "fleet.md").read_text()
    assert report.startswith("## fleet preview: 6 stacks, 1 did not succeed, 6 with changes or errors")
    assert report.count("<details>") == 6 and f"<summary>{REFUSED}: failed</summary>" in report
    log = next((tmp_path / "shards").rglob(f"{NAMES[0]}.log")).read_text()
    assert "+ kubernetes:apps/v1:DaemonSet" in log or "kubernetes:apps/v1:DaemonSet" in log
    assert "kube-multus-ds" in log  # --diff: the DaemonSet's fields, not only its name
