"""`multus-cni:networksFile`: networks from a file of the project, checked and rendered as inline ones;
and the config-size check that points to it before the engine would fail to start the program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from multus_cni_cli import stackfile
from multus_cni_cli.__main__ import main
from components.config import ConfigError, load_stack_config
from multus_cni_cli.fleet.stack_run import config_problem
from conftest import PROJECT, config_of


def network(i: int, **config) -> dict:
    return {"name": f"net-{i}", "config": {"cniVersion": "0.3.1", "type": "bridge", "bridge": f"br{i}", "ipam": {}, **config}}


def load(tmp_path: Path, file_name: str = "networks.yaml", **keys) -> object:
    return load_stack_config({**config_of(**keys), f"{PROJECT}:networksFile": file_name}, PROJECT, tmp_path)


def problems(tmp_path: Path, **keys) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **keys)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("file_name, dump", [("networks.yaml", yaml.safe_dump), ("nets/prod.json", json.dumps)])
def test_file_networks_follow_the_inline_ones(tmp_path, file_name, dump):
    (tmp_path / file_name).parent.mkdir(exist_ok=True)
    (tmp_path / file_name).write_text(dump([network(1), network(2)]))
    stack = load(tmp_path, file_name, networks=[network(0)])
    assert [n.name for n in stack.networks] == ["net-0", "net-1", "net-2"]
    assert stack.network_loc(0) == ("networks", 0)
    assert stack.network_loc(2) == (f"networksFile({file_name})", 1)


def test_a_file_alone_and_an_empty_file(tmp_path):
    (tmp_path / "networks.yaml").write_text(yaml.safe_dump([network(7)]))
    assert [n.name for n in load(tmp_path).networks] == ["net-7"]
    (tmp_path / "networks.yaml").write_text("")
    assert load(tmp_path, networks=[network(0)]).networks[0].name == "net-0"


def test_problems_name_the_file_and_the_index_in_it(tmp_path):
    (tmp_path / "networks.yaml").write_text(yaml.safe_dump([network(1), network(2, mtu="big")]))
    assert sorted(problems(tmp_path, networks=[network(0, mtu="small")])) == [
        "multus-cni:networksFile(networks.yaml)[1].config.mtu: must be a whole number, not the text 'big'",
        "multus-cni:networks[0].config.mtu: must be a whole number, not the text 'small'",
    ]


def test_a_network_twice_across_inline_and_file_is_caught(tmp_path):
    (tmp_path / "networks.yaml").write_text(yaml.safe_dump([network(1), network(0)]))
    assert problems(tmp_path, networks=[network(0)]) == [
        "multus-cni:networksFile(networks.yaml)[1].name: network default/net-0 is already defined at networks[0]"]
    (tmp_path / "networks.yaml").write_text(yaml.safe_dump([network(1), network(1)]))
    assert problems(tmp_path, networks=[network(0)]) == [
        "multus-cni:networksFile(networks.yaml)[1].name: network default/net-1 is already defined at "
        "networksFile(networks.yaml)[0]"]


def test_workload_paths_keep_their_own_selection_indices(tmp_path):
    (tmp_path / "networks.yaml").write_text(yaml.safe_dump([network(1)]))
    found = problems(tmp_path, networks=[network(0)], workloads=[{"name": "pod", "networks": ["net-0", "net-1", "nope"]}])
    assert len(found) == 1 and found[0].startswith("multus-cni:workloads[0].networks[2]"), found


@pytest.mark.parametrize("text, problem", [
    (None, "no such file (looked for {root}/networks.yaml)"),
    ("- [unclosed", "line 1 column 12: not valid YAML"),
    ("name: net-0", "must hold a list of networks (as multus-cni:networks), not an object"),
    ("- {name: a, name: b}", "the key 'name' appears twice in one mapping"),
])
def test_a_file_that_cannot_be_read_is_one_line(tmp_path, text, problem):
    if text is not None:
        (tmp_path / "networks.yaml").write_text(text)
    (found,) = problems(tmp_path)
    assert found.startswith("multus-cni:networksFile(networks.yaml): ") and problem.format(root=tmp_path) in found, found
    assert "\n" not in found


def test_the_file_name_must_be_text(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_stack_config(config_of(networksFile=5), PROJECT, tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        "multus-cni:networksFile: must be the path of a YAML or JSON file, not the number 5"]


def test_a_misspelt_key_is_pointed_to_networksFile(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_stack_config(config_of(networkFile="x.yaml"), PROJECT, tmp_path)
    assert "did you mean 'networksFile'?" in str(caught.value)


# --- the program and render ---------------------------------------------------------------------


def stack_file(directory: Path, networks: list, workloads: list, networks_file: list | None = None) -> Path:
    directory.mkdir()
    config = {f"{PROJECT}:networks": networks, f"{PROJECT}:workloads": workloads}
    if networks_file is not None:
        (directory / "networks.yaml").write_text(yaml.safe_dump(networks_file))
        config[f"{PROJECT}:networksFile"] = str(directory / "networks.yaml")  # absolute: render's cwd is the repo
    path = directory / "Pulumi.t.yaml"
    path.write_text(json.dumps({"config": config}))  # JSON is YAML; it writes fast
    return path


def render(capsys, path: Path, *args: str) -> tuple[str, str]:
    assert main(["render", "--stack-file", str(path), *args]) == 0
    out = capsys.readouterr()
    return out.out, out.err


def test_render_of_a_networks_file_stack_is_byte_identical_to_the_inline_one(tmp_path, capsys):
    nets = [network(i) for i in range(6)]
    loads = [{"name": "pod", "networks": ["net-0", "net-4"]}, {"name": "web", "kind": "Deployment", "networks": "net-5"}]
    inline = stack_file(tmp_path / "inline", nets, loads)
    from_file = stack_file(tmp_path / "file", nets[:2], loads, networks_file=nets[2:])
    rendered_inline, _ = render(capsys, inline)
    assert "net-4" in rendered_inline
    assert render(capsys, from_file)[0] == rendered_inline  # the YAML form: every resource, nothing else
    as_json = [json.loads(render(capsys, path, "--format", "json")[0]) for path in (inline, from_file)]
    assert [d.pop("warnings") != [] for d in as_json] == [True, True]  # they name where each network is
    assert as_json[1] == as_json[0]


def test_warnings_about_file_networks_name_the_file(tmp_path, capsys):
    _, err = render(capsys, stack_file(tmp_path / "s", [], [], networks_file=[network(0)]))
    assert f"(used by networksFile({tmp_path / 's' / 'networks.yaml'})[0])" in err, err


def test_the_file_is_read_again_on_each_run(run_stack, tmp_path):
    file_ = tmp_path / "networks.yaml"
    file_.write_text(yaml.safe_dump([network(0)]))
    assert run_stack(networksFile=str(file_)).outputs["networks"] == ["default/net-0"]
    file_.write_text(yaml.safe_dump([network(0), network(1)]))
    assert run_stack(networksFile=str(file_)).outputs["networks"] == ["default/net-0", "default/net-1"]


def test_a_relative_file_is_read_from_the_project_directory(run_stack, tmp_path, monkeypatch):
    """Under the engine the program runs in the project directory, which is also where it is
    looked for when the engine names no root (render, mocks)."""
    (tmp_path / "networks.yaml").write_text(yaml.safe_dump([network(3)]))
    monkeypatch.chdir(tmp_path)
    assert run_stack(networksFile="networks.yaml").outputs["networks"] == ["default/net-3"]


# --- the size of the config as PULUMI_CONFIG ----------------------------------------------------


def oversize_networks() -> list:
    many = [network(i) for i in range(1500)]
    assert stackfile.config_env_size(config_of(networks=many)) > stackfile.ENV_STRING_LIMIT
    return many


def test_config_beyond_128_KiB_is_refused_with_a_pointer_to_networksFile(tmp_path, capsys):
    path = stack_file(tmp_path / "big", oversize_networks(), [])
    assert main(["render", "--stack-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"{path}: the config is ") and "131,072" in err and "multus-cni:networksFile" in err


def test_the_same_networks_in_a_file_pass_the_size_check(tmp_path):
    path = stack_file(tmp_path / "s", [], [], networks_file=oversize_networks())
    config = stackfile.load_config(path)
    stackfile.check_config_size(config, path)
    assert len(load_stack_config(config, PROJECT, tmp_path).networks) == 1500


def test_fleet_local_check_refuses_the_oversize_config(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    stack_file(tmp_path / "unused", oversize_networks(), []).rename(tmp_path / "Pulumi.big.yaml")
    assert "PULUMI_CONFIG" in config_problem("big", tmp_path)


@pytest.mark.parametrize("value, encoded", [
    ("é<", '{"multus-cni:a":"é\\u003c"}'),  # Go's json.Marshal: UTF-8 kept, < escaped
    ("a&b\u2028", '{"multus-cni:a":"a\\u0026b\\u2028"}'),
])
def test_the_size_counts_the_utf8_bytes_of_the_engine_encoding(value, encoded):
    assert stackfile.config_env_size({"multus-cni:a": value}) == len("PULUMI_CONFIG=") + len(encoded.encode()) + 1


def test_inline_networks_that_are_no_list_are_reported_as_they_are(tmp_path):
    (tmp_path / "networks.yaml").write_text(yaml.safe_dump([network(1)]))
    assert problems(tmp_path, networks={"name": "net-0"}) == ["multus-cni:networks: must be a list, not an object"]
