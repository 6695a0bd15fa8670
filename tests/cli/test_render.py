"""`multus-cni render`: stable bytes, dependency order, the documented JSON shape."""

from __future__ import annotations

import json

import yaml

from components import testing

from multus_cni_cli import render, stackfile
from multus_cni_cli.__main__ import main
from conftest import PROGRAM, PROJECT, ROOT, config_of


def _render(capsys, *args):
    assert main(["render", *args]) == 0
    return capsys.readouterr().out


def test_rendering_twice_gives_identical_bytes(capsys):
    assert _render(capsys, "--format", "json") == _render(capsys, "--format", "json")
    assert _render(capsys) == _render(capsys)


def test_separate_processes_with_other_hash_seeds_render_the_same_bytes():
    """Set and dict ordering must never leak into the output: two processes, two hash seeds."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    def render(seed):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "multus_cni_cli", "render", "--format", "json"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=True)
        return done.stdout

    assert render("1") == render("2")


def test_reordering_networks_and_workloads_changes_no_resource():
    nets = [{"name": f"net-{i}", "config": {"cniVersion": "0.3.1", "type": "bridge", "bridge": f"br{i}", "ipam": {}}} for i in range(4)]
    nets.append({"name": "shared", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth1", "capabilities": {"ips": True},
                                              "ipam": {"type": "static"}}})
    loads = [{"name": f"pod-{i}", "networks": [f"net-{i}", {"name": "shared", "ips": [f"10.0.0.{i + 5}/24"]}],
              "defaultNetwork": f"net-{(i + 1) % 4}"} for i in range(4)]
    loads.append({"name": "web", "kind": "Deployment", "replicas": 2, "networks": "net-0,net-1@data0"})

    def resources(networks, workloads):
        run_ = testing.run_file(PROGRAM, PROJECT, "test", config_of(networks=networks, workloads=workloads))
        return json.loads(render.as_json(run_, PROJECT, "test"))["resources"]

    assert resources(nets, loads) == resources(nets[::-1], loads[::-1])


def test_yaml_render_prints_warnings_on_stderr(capsys):
    assert main(["render"]) == 0
    err = capsys.readouterr().err.splitlines()
    # The unpinned sample image; not the plugins the guide's NAD runs (its nodes have them: cniPlugins.preinstalled).
    assert [line.split(":")[2] for line in err] == ["workloads[0].image"]
    assert all(line.startswith("warning: multus-cni:") for line in err)


def test_yaml_lists_the_kubernetes_objects_in_apply_order(capsys):
    documents = list(yaml.safe_load_all(_render(capsys)))
    kinds = [d["kind"] for d in documents]
    assert kinds[0] == "CustomResourceDefinition"
    assert kinds.index("ServiceAccount") < kinds.index("DaemonSet")
    assert kinds[-2:] == ["NetworkAttachmentDefinition", "Pod"]
    assert all(list(d)[:3] == ["apiVersion", "kind", "metadata"] for d in documents)


def test_json_has_the_documented_shape(capsys):
    document = json.loads(_render(capsys, "--format", "json"))
    assert (document["project"], document["stack"]) == ("multus-cni", "dev")
    ids = [r["id"] for r in document["resources"]]
    assert len(ids) == len(set(ids))
    for resource in document["resources"]:
        assert resource["id"] == f"{resource['type']}::{resource['name']}"
        assert resource["parent"] is None or resource["parent"] in ids
        assert all(ids.index(d) < ids.index(resource["id"]) for d in resource["dependsOn"])
    nad = next(r for r in document["resources"] if r["type"].endswith("NetworkAttachmentDefinition"))
    assert "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::multus-crd" in nad["dependsOn"]
    assert document["outputs"]["networks"] == ["default/macvlan-conf"]
    assert len(document["warnings"]) == 1 and "has no tag" in document["warnings"][0]


def test_stack_file_values_reach_the_program_as_pulumi_passes_them(tmp_path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  multus-cni:multus:\n    flavor: thick\n  kubernetes:context: kind\n")
    assert stackfile.load_config(path) == {"multus-cni:multus": '{"flavor": "thick"}', "kubernetes:context": "kind"}
    assert stackfile.resolve(None, str(path), ROOT) == ("x", path)
    assert stackfile.resolve(None, str(tmp_path / "rich.yaml"), ROOT)[0] == "rich"
    assert stackfile.resolve("prod", None, tmp_path) == ("prod", tmp_path / "Pulumi.prod.yaml")
