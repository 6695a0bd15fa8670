"""`fleet audit`: audit-ipam per stack, each on the cluster its provider settings name; its rows in
the fleet table, the --summary-json and `fleet-join`. The live proof is in
tests/integration/test_live_audit_ipam.py."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest
import yaml
from pulumi import automation as auto

from components.kubeapi import ClusterError, of_provider_setting
from conftest import closed_kubeconfig
from multus_cni_cli.__main__ import main
from multus_cni_cli.audit import reader
from multus_cni_cli.audit.findings import KINDS, Snapshot
from multus_cni_cli.fleet.audit import AuditRun
from multus_cni_cli.fleet.report import Row, as_json, exit_code, table
from test_audit_ipam import NETWORKS, _cluster, _messy


@pytest.fixture
def project(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: multus-cni\nruntime: python\n")
    (tmp_path / "Pulumi.audit.yaml").write_text(yaml.safe_dump({"config": {"multus-cni:networks": NETWORKS}}))
    (tmp_path / "kube").mkdir()
    closed_kubeconfig(tmp_path / "kube" / "config")
    return tmp_path


def workspace(project, settings: dict[str, str]):
    """The two calls AuditRun makes of a LocalWorkspace: its directory and a stack's config."""
    config = {key: auto.ConfigValue(value) for key, value in settings.items()}
    return SimpleNamespace(work_dir=str(project), get_all_config=lambda stack: config)


def run(project, settings: dict[str, str], stack: str = "audit", stop: bool = False, threshold: float = 0.9) -> Row:
    event = threading.Event()
    if stop:
        event.set()
    return AuditRun(stack, workspace(project, settings), event, threshold)()


def read_as(monkeypatch, cluster: dict) -> list[str]:
    """Each snapshot taken is of `cluster`; returns the hosts the audit connected to."""
    hosts: list[str] = []

    def snapshot(connected):
        hosts.append(connected.host)
        return Snapshot(**cluster)

    monkeypatch.setattr(reader, "snapshot", snapshot)
    return hosts


# --- which cluster ------------------------------------------------------------------------------

def test_a_relative_kubeconfig_setting_is_a_file_of_the_project_directory(project):
    assert of_provider_setting("kube/config", None, project).host == "https://127.0.0.1:1"
    with pytest.raises(ClusterError, match="neither a file that exists"):
        of_provider_setting("kube/config", None, project / "kube")  # relative to another directory: no file


def test_a_kubeconfig_setting_with_a_tilde_is_under_home(project, monkeypatch):
    monkeypatch.setenv("HOME", str(project))
    assert of_provider_setting("~/kube/config", None).host == "https://127.0.0.1:1"


def test_a_kubeconfig_setting_may_be_the_text_and_a_bad_one_is_never_shown(project):
    text = (project / "kube" / "config").read_text()
    assert of_provider_setting(text, "closed").host == "https://127.0.0.1:1"
    with pytest.raises(ClusterError) as exc:
        of_provider_setting("token: s3cr3t-value\nclusters: [", None)
    assert "s3cr3t" not in str(exc.value)


def test_no_kubeconfig_setting_is_the_clients_default_kubeconfig(project, monkeypatch):
    from kubernetes.config import kube_config

    # The client reads KUBECONFIG (else ~/.kube/config) into this once, when it is imported.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(project / "kube" / "config"))
    assert of_provider_setting(None, None).host == of_provider_setting("", None).host == "https://127.0.0.1:1"


# --- one stack's row ----------------------------------------------------------------------------

def test_a_stack_with_findings_is_a_findings_row_audited_on_its_own_cluster(project, monkeypatch):
    hosts = read_as(monkeypatch, _messy())
    row = run(project, {"kubernetes:kubeconfig": "kube/config", "kubernetes:context": "closed"})
    assert (row.status, row.error, hosts) == ("findings", "", ["https://127.0.0.1:1"])
    assert [f.kind for f in row.findings] == ["duplicate", "duplicate", "duplicate", "leak", "missing"]
    assert exit_code([row]) == 1


def test_a_clean_stack_succeeds_and_the_threshold_reaches_the_audit(project, monkeypatch):
    read_as(monkeypatch, _cluster())
    assert run(project, {"kubernetes:kubeconfig": "kube/config"}).status == "succeeded"
    tight = run(project, {"kubernetes:kubeconfig": "kube/config"}, threshold=0.05)
    assert tight.status == "findings" and {f.kind for f in tight.findings} == {"exhausted"}


def test_an_unreachable_cluster_is_a_failed_row_in_one_line(project):
    row = run(project, {"kubernetes:kubeconfig": "kube/config"})
    assert row.status == "failed" and row.error.startswith("list Pod: cannot reach the cluster at https://127.0.0.1:1")
    assert "\n" not in row.error and row.findings == ()


def test_a_bad_stack_file_fails_its_row_with_the_programs_words_before_any_cluster_is_read(project, monkeypatch):
    hosts = read_as(monkeypatch, _cluster())
    (project / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": {"multus-cni:networks": [{"name": "Bad_Name"}]}}))
    row = run(project, {"kubernetes:kubeconfig": "kube/config"}, stack="bad")
    assert row.status == "failed" and row.error.startswith("multus-cni:networks[0]") and hosts == []


def test_a_stop_before_the_start_cancels_the_row(project, monkeypatch):
    hosts = read_as(monkeypatch, _cluster())
    assert run(project, {}, stop=True).status == "cancelled" and hosts == []


# --- the table, the JSON and the join -----------------------------------------------------------

def audit_rows(project, monkeypatch) -> list[Row]:
    read_as(monkeypatch, _messy())
    messy = run(project, {"kubernetes:kubeconfig": "kube/config"})
    read_as(monkeypatch, _cluster())
    return [run(project, {"kubernetes:kubeconfig": "kube/config"}, stack="other"), messy,
            Row("broken", "failed", error="the kubeconfig setting is neither a file that exists nor ...")]


def test_the_audit_table_counts_findings_by_kind_and_lists_each_after_the_stacks(project, monkeypatch):
    rows = audit_rows(project, monkeypatch)
    stacks, found = table(rows, "audit").split("\n\n")
    lines = stacks.splitlines()
    assert lines[0].split() == ["STACK", "STATUS", *(kind.upper() for kind in KINDS), "DURATION", "ERROR"]
    assert [line.split()[:6] for line in lines[1:]] == [
        ["audit", "findings", "3", "1", "1", "0"], ["broken", "failed", "0", "0", "0", "0"],
        ["other", "succeeded", "0", "0", "0", "0"]]
    assert found.splitlines()[0].split() == ["STACK", "KIND", "NETWORK", "ADDRESS", "WHAT"]
    assert len(found.splitlines()) == 1 + 5 and all(line.startswith("audit ") for line in found.splitlines()[1:])
    assert table(rows, "audit") == table(rows[::-1], "audit")


def test_the_audit_json_reads_back_to_the_same_bytes_and_only_audit_has_findings(project, monkeypatch):
    rows = audit_rows(project, monkeypatch)
    text = as_json("audit", rows)
    document = json.loads(text)
    assert [row["status"] for row in document["stacks"]] == ["findings", "failed", "succeeded"]
    assert set(document["stacks"][0]["findings"][0]) == {"kind", "network", "address", "what", "fix"}
    assert as_json("audit", [Row.from_dict(data) for data in document["stacks"]]) == text
    assert all("findings" not in row for row in json.loads(as_json("preview", rows))["stacks"])


def test_shards_of_an_audit_join_into_the_unsharded_table_and_report(project, monkeypatch, tmp_path, capsys):
    rows = audit_rows(project, monkeypatch)
    for index, part in enumerate((rows[:1], rows[1:])):
        (tmp_path / f"shard-{index}.json").write_text(as_json("audit", part))
    markdown = tmp_path / "report.md"
    assert main(["fleet-join", "audit", str(tmp_path / "shard-0.json"), str(tmp_path / "shard-1.json"),
                 "--markdown", str(markdown)]) == 1
    assert capsys.readouterr().out == table(rows, "audit")
    assert "## fleet audit: 3 stacks, 2 did not succeed, 2 with changes or errors" in markdown.read_text()
    assert table(rows, "audit") in markdown.read_text()
