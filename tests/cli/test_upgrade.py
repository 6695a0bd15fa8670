"""`multus-cni upgrade`: the plan from a real `pulumi stack export` of the dev stack (thin v4.3.0)
and the program rendered under mocks with the new config. The whole command against a cluster:
tests/integration/test_live_upgrade.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from multus_cni_cli import stackfile, upgrade
from components.multus import rollout
from multus_cni_cli.render import run_program
from conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
# `pulumi stack export --stack dev` after `pulumi up` of Pulumi.dev.yaml (thin v4.3.0) on the kwok cluster.
EXPORT = json.loads((FIXTURES / "decommission" / "dev-stack-export.json").read_text())


def registrations(tmp_path: Path, multus: dict | None = None, **changes) -> list:
    """The dev stack's program under mocks, with `multus` and top-level keys changed."""
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    if multus is not None:
        document["config"]["multus-cni:multus"] = multus
    for key, value in changes.items():
        document["config"][f"multus-cni:{key}"] = value
    path = tmp_path / "Pulumi.next.yaml"
    path.write_text(yaml.safe_dump(document))
    config = stackfile.load_config(path, "multus-cni")
    return run_program(ROOT, "multus-cni", "dev", config).monitor.registrations


def test_a_flavor_switch_unprotects_exactly_the_superseded_config_map(tmp_path):
    p = upgrade.plan(EXPORT, registrations(tmp_path, {"flavor": "thick"}))
    assert [o.ref for o in p.unprotect] == ["ConfigMap kube-system/multus-cni-config"]
    assert [o.ref for o in p.creates] == ["ConfigMap kube-system/multus-daemon-config"]
    assert "DaemonSet kube-system/kube-multus-ds" in [o.ref for o in p.updates]
    assert p.before.endswith("multus-cni:v4.3.0 (thin)") and p.after.endswith("multus-cni:v4.3.0-thick (thick)")
    assert p.refused is None
    text = upgrade.render("dev", p)
    assert "pulumi state unprotect urn:pulumi:dev::multus-cni::multus-cni:index:Multus$kubernetes:core/v1:ConfigMap::multus-config" in text
    assert "at most 1 at a time" in text


def test_a_version_bump_unprotects_nothing_and_rolls_at_max_unavailable(tmp_path):
    p = upgrade.plan(EXPORT, registrations(tmp_path, {"image": {"tag": "v4.2.3"}, "maxUnavailable": "50%"}))
    assert p.unprotect == [] and p.creates == [] and p.renames == []
    assert p.after.endswith("multus-cni:v4.2.3 (thin)") and p.upgrading
    assert rollout.max_unavailable(p.new_daemonset) == "50%"
    assert "at most 50% at a time" in upgrade.render("dev", p)


def as_export(regs: list) -> dict:
    """A state holding what the program registers (the inputs a `pulumi up` of it records)."""
    return {"deployment": {"resources": [{"urn": r.urn, "type": r.type, "parent": r.parent, "custom": r.custom,
                                          "inputs": r.inputs} for r in regs]}}


def test_the_same_config_is_nothing_to_upgrade(tmp_path):
    p = upgrade.plan(as_export(registrations(tmp_path)), registrations(tmp_path))
    assert not p.upgrading and p.network_changes == []
    assert "Nothing to upgrade" in upgrade.render("dev", p)


def test_an_upgrade_with_a_network_change_is_refused_in_one_line(tmp_path):
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    network = document["config"]["multus-cni:networks"][0]
    changed = json.loads(network["config"]) | {"mode": "vepa"}
    p = upgrade.plan(EXPORT, registrations(tmp_path, {"image": {"tag": "v4.2.3"}},
                                           networks=[{**network, "config": changed}]))
    assert p.network_changes == ["default/macvlan-conf changed"]
    assert p.refused.startswith("refused: this `pulumi up` would roll the Multus DaemonSet and change networks "
                                "(default/macvlan-conf changed)")
    assert "\n" not in p.refused


def test_a_network_change_alone_is_not_an_upgrade(tmp_path):
    p = upgrade.plan(as_export(registrations(tmp_path)), registrations(tmp_path, networks=[], workloads=[]))
    assert p.network_changes == ["default/macvlan-conf removed"] and not p.upgrading and p.refused is None


def test_an_object_renamed_in_the_program_is_renamed_in_the_state_not_deleted(tmp_path):
    """A thick stack made before each flavor's ConfigMap had its own Pulumi name (`multus-config`):
    deleting that resource would delete the ConfigMap the program now calls multus-daemon-config."""
    thick = registrations(tmp_path, {"flavor": "thick"})
    exported = json.loads(json.dumps(EXPORT))
    for r in exported["deployment"]["resources"]:
        if r["urn"].endswith("ConfigMap::multus-config"):
            new = next(x for x in thick if x.name == "multus-daemon-config")
            r["inputs"] = new.inputs
    p = upgrade.plan(exported, thick)
    assert [(o.name, n.name) for o, n in p.renames] == [("multus-config", "multus-daemon-config")]
    assert p.unprotect == [] and p.creates == []


def test_thick_to_thin_warns_of_the_primary_network_the_thick_cache_leaks(tmp_path):
    """multus-cni#1449, seen with the real binaries in test_live_upgrade_datapath.py."""
    thick = as_export(registrations(tmp_path, {"flavor": "thick"}))
    back = upgrade.render("dev", upgrade.plan(thick, registrations(tmp_path)))
    assert "warning: pods the thick daemon attached keep their primary interface" in back
    forward = upgrade.render("dev", upgrade.plan(EXPORT, registrations(tmp_path, {"flavor": "thick"})))
    assert "warning" not in forward
