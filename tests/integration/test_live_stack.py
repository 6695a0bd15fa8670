"""On a real cluster: the dev stack deploys, Multus attaches net1, and Multus cannot be destroyed."""

from __future__ import annotations


def test_dev_stack_deploys_and_reports_multus(deployed):
    assert deployed["multusDaemonSet"] == "kube-multus-ds"
    assert deployed["networks"] == ["default/macvlan-conf"]


def test_sample_pod_has_net1_from_multus(deployed):
    status = deployed["networkStatus"]["default/sample-pod"]
    assert status is not None, "no network-status annotation: is Multus running on the node?"
    assert [entry.get("interface") for entry in status][1:] == ["net1"]


def test_preview_after_up_shows_no_changes(deployed, pulumi):
    pulumi("preview", "--stack", "dev", "--expect-no-changes")


def test_verify_confirms_every_attachment(deployed):
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, "-m", "components", "verify", "--stack", "dev"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_destroy_refuses_to_delete_protected_multus(deployed, pulumi):
    done = pulumi("destroy", "--stack", "dev", "--yes", check=False)
    assert done.returncode != 0
    assert "marked for protection" in (done.stdout + done.stderr)  # pulumi/pulumi#8158's wording

