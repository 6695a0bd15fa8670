"""Bad configuration: `render` exits 2 with `<config key path>: <problem>` lines, nothing on stdout."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from multus_cni_cli.__main__ import main
from conftest import PROGRAM, ROOT

GOOD_NET = {"name": "net-a", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "ipam": {}}}

BAD = [
    # (case, config keys, expected path, words in the message)
    ("networks not a list", {"networks": "net-a"}, "multus-cni:networks", "must be a list"),
    ("network without config", {"networks": [{"name": "net-a"}]}, "multus-cni:networks[0].config", "is required"),
    ("config JSON string that does not parse", {"networks": [{"name": "net-a", "config": '{"type": "macvlan",}'}]},
     "multus-cni:networks[0].config", "is not valid JSON"),
    ("config a JSON list", {"networks": [{"name": "net-a", "config": "[1]"}]}, "multus-cni:networks[0].config",
     "must be a CNI configuration object"),
    ("config without type", {"networks": [{"name": "net-a", "config": {"cniVersion": "0.3.1"}}]},
     "multus-cni:networks[0].config.type", "is required"),
    ("bad cniVersion", {"networks": [{"name": "net-a", "config": {"cniVersion": "0.3.2", "type": "macvlan"}}]},
     "multus-cni:networks[0].config.cniVersion", "is not a CNI spec version"),
    ("empty conflist", {"networks": [{"name": "net-a", "config": {"cniVersion": "1.0.0", "plugins": []}}]},
     "multus-cni:networks[0].config.plugins", "non-empty list"),
    ("conflist plugin without type", {"networks": [{"name": "net-a", "config": {"cniVersion": "1.0.0", "plugins": [{"mtu": 1500}]}}]},
     "multus-cni:networks[0].config.plugins[0].type", "is required"),
    ("upper-case network name", {"networks": [{**GOOD_NET, "name": "Macvlan"}]}, "multus-cni:networks[0].name",
     "DNS-1123"),
    ("name too long", {"networks": [{**GOOD_NET, "name": "n" * 64}]}, "multus-cni:networks[0].name", "at most 63"),
    ("bad namespace", {"networks": [{**GOOD_NET, "namespace": "team_a"}]}, "multus-cni:networks[0].namespace", "DNS-1123"),
    ("duplicate network", {"networks": [GOOD_NET, GOOD_NET]}, "multus-cni:networks[1].name", "already defined at networks[0]"),
    ("unknown network key", {"networks": [{**GOOD_NET, "confg": {}}]}, "multus-cni:networks[0].confg",
     "unknown key; did you mean 'config'?"),
    ("annotation value not text", {"networks": [{**GOOD_NET, "annotations": {"a": 1}}]},
     "multus-cni:networks[0].annotations.a", "must be text"),
    ("workload naming a missing network", {"networks": [GOOD_NET], "workloads": [{"networks": "net-b"}]},
     "multus-cni:workloads[0].networks[0]", "network default/net-b is not defined"),
    ("workload network in another namespace", {"networks": [GOOD_NET], "workloads": [{"networks": "other/net-a"}]},
     "multus-cni:workloads[0].networks[0]", "network other/net-a is not defined"),
    ("workload without networks", {"workloads": [{"name": "pod"}]}, "multus-cni:workloads[0].networks", "is required"),
    ("malformed selection", {"networks": [GOOD_NET], "workloads": [{"networks": "net-a@"}]},
     "multus-cni:workloads[0].networks[0].interface", "is not a Linux interface name"),
    ("interface name too long", {"networks": [GOOD_NET], "workloads": [{"networks": "net-a@averyveryverylongname"}]},
     "multus-cni:workloads[0].networks[0].interface", "1 to 15 characters"),
    ("command not a list", {"networks": [GOOD_NET], "workloads": [{"networks": "net-a", "command": 5}]},
     "multus-cni:workloads[0].command", "must be a list"),
    ("duplicate workload", {"networks": [GOOD_NET], "workloads": [{"networks": "net-a"}, {"networks": "net-a"}]},
     "multus-cni:workloads[1].name", "already defined at workloads[0]"),
    ("unknown top-level key", {"netwroks": []}, "multus-cni:netwroks", "unknown configuration key; did you mean 'networks'?"),
    ("unknown mode", {"multus": {"mode": "helm"}}, "multus-cni:multus.mode", "must be 'manifest' or 'tanzu-package'"),
    ("unknown flavor", {"multus": {"flavor": "thicc"}}, "multus-cni:multus.flavor", "must be 'thin' or 'thick'"),
    ("misspelt image key", {"multus": {"image": {"tga": "v4.3.0"}}}, "multus-cni:multus.image.tga", "did you mean 'tag'?"),
    ("tag with a space", {"multus": {"image": {"tag": "v4 .3"}}}, "multus-cni:multus.image.tag", "is not an image tag"),
    ("args not a list", {"multus": {"daemonset": {"args": "--multus-conf-file=auto"}}}, "multus-cni:multus.daemonset.args",
     "must be a list"),
    ("thick with a v3 image", {"multus": {"flavor": "thick", "image": {"tag": "v3.9.3"}}}, "multus-cni:multus",
     "flavor 'thick' needs a Multus v4 image"),
    ("thick with thin args", {"multus": {"flavor": "thick", "daemonset": {"args": ["--multus-conf-file=auto"]}}},
     "multus-cni:multus", "the thick daemon takes no arguments"),
    ("multus not an object", {"multus": ["manifest"]}, "multus-cni:multus", "must be an object"),
]


def _render(tmp_path, keys, capsys):
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {f"multus-cni:{k}": v for k, v in keys.items()}}))
    status = main(["render", "--stack-file", str(stack_file)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("case, keys, path, words", BAD, ids=[b[0] for b in BAD])
def test_bad_config_exits_2_naming_the_path(tmp_path, capsys, case, keys, path, words):
    status, out, err = _render(tmp_path, keys, capsys)
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert any(line.startswith(f"{path}: ") and words in line for line in lines), err


def test_every_problem_is_reported_not_just_the_first(tmp_path, capsys):
    status, _, err = _render(tmp_path, {"multus": {"mode": "helm", "flavor": "x"}, "networks": [{"name": "A"}]}, capsys)
    assert status == 2
    assert [line.split(": ")[0] for line in err.splitlines()] == [
        "multus-cni:multus.flavor", "multus-cni:multus.mode", "multus-cni:networks[0].config", "multus-cni:networks[0].name",
    ]


def test_the_command_prints_no_traceback(tmp_path):
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {"multus-cni:networks": [{"name": "Bad_Name", "config": "{"}]}}))
    done = subprocess.run(
        [sys.executable, "-m", "multus_cni_cli", "render", "--stack-file", str(stack_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "multus-cni:networks[0].config: is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        "multus-cni:networks[0].name: 'Bad_Name' is not a valid Kubernetes name: use at most 63 lower-case letters, "
        "digits and '-', starting and ending with a letter or digit (DNS-1123 label)",
    ]


@pytest.mark.parametrize("content, words", [
    (b"config:\n  multus-cni:multus:\n    namespace: 2024-01-01T10:00:00Z\n", "multus-cni:multus.namespace: '2024-01-01 10:00:00+00:00'"),
    (b"config:\n  1: x\n  multus-cni:networks: 5\n", "line 2 column 3: the key '1' is not text (YAML read it as int); quote it"),
    (b"config:\n  multus-cni:multus: {namespace: \xff}\n", "not UTF-8 text"),
    (b"config: [1, 2]\n", "expected a mapping with a 'config:' mapping"),
    (b"config: {\n", "not valid YAML"),
])
def test_odd_stack_files_exit_2_without_a_traceback(tmp_path, capsys, content, words):
    stack_file = tmp_path / "Pulumi.odd.yaml"
    stack_file.write_bytes(content)
    assert main(["render", "--stack-file", str(stack_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and words in captured.err and "Traceback" not in captured.err


def test_yaml_dates_reach_the_program_as_their_text(tmp_path, capsys):
    stack_file = tmp_path / "Pulumi.dated.yaml"
    stack_file.write_text("config:\n  multus-cni:multus:\n    image: {tag: 2024-01-01}\n")
    assert main(["render", "--stack-file", str(stack_file)]) == 0
    assert "image: ghcr.io/k8snetworkplumbingwg/multus-cni:2024-01-01" in capsys.readouterr().out


def test_external_network_needs_a_name(tmp_path, capsys):
    status, _, err = _render(tmp_path, {"externalNetworks": ["/shared", "infra/"]}, capsys)
    assert status == 2
    assert [line.split(": ")[0] for line in err.splitlines()] == [
        "multus-cni:externalNetworks[0].namespace", "multus-cni:externalNetworks[1].name"]


def test_missing_stack_file_is_a_clear_error(tmp_path, capsys):
    status = main(["render", "--stack-file", str(tmp_path / "Pulumi.none.yaml")])
    assert status == 2
    assert "no such stack file" in capsys.readouterr().err


# --- stack files the reader cannot turn into config: exit 2, one line, before anything runs -------

def bomb(indent: str) -> str:
    """A "billion laughs" mapping: 1 KB of YAML whose aliases expand to 10^8 values."""
    lines = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    lines += [f"{c}: &{c} [{', '.join(['*' + p] * 10)}]" for p, c in zip("abcdefg", "bcdefgh")]
    return "".join(f"{indent}{line}\n" for line in lines)


@pytest.mark.parametrize("content, words", [
    ("config:\n  multus-cni:networks: &a [*a]\n", "line 2 column 28: the alias *a refers to a node that contains it"),
    ("config:\n  multus-cni:workloads:\n    - {networks: net-a, 2024-01-01: x}\n",
     "line 3 column 25: the key '2024-01-01' is not text (YAML read it as date); quote it"),
    ("config:\n  multus-cni:multus: {namespace: !!binary aGVsbG8=}\n", "binary data (!!binary) is not text"),
    ("config:\n  multus-cni:workloads:\n    - replicas: " + "9" * 5000 + "\n", "an integer of 5000 characters is beyond the 64-bit integers"),
    ("config:\n  multus-cni:networks: " + "[" * 2000 + "]" * 2000 + "\n", "nests deeper than 100 levels"),
    ("unread:\n" + bomb("  ") + "config: {}\n", "refused before expanding"),  # under a key nobody reads
    ("config:\n  multus-cni:multus: {mode: manifest, mode: tanzu-package}\n",
     "line 2 column 39: the key 'mode' appears twice in one mapping"),
    ("config:\n  multus-cni:networks: []\n  multus-cni:networks: []\n", "the key 'multus-cni:networks' appears twice"),
    ("[]\n", "expected a mapping with a 'config:' mapping, not a list"),
    ("0\n", "not the number 0"),
    ("''\n", "not the text ''"),
    ("config:\n  networks: []\n", "config key 'networks' needs a namespace, as the Pulumi CLI requires (for example 'multus-cni:networks')"),
    ("config:\n  multus-cni:networks: [\n", "line 3 column 1: not valid YAML: while parsing a flow node expected the node content"),
])
def test_stack_files_the_reader_cannot_turn_into_config_exit_2(tmp_path, capsys, content, words):
    stack_file = tmp_path / "Pulumi.odd.yaml"
    stack_file.write_text(content)
    assert main(["render", "--stack-file", str(stack_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [captured.err.strip()] and words in captured.err, captured.err


def test_an_alias_bomb_is_refused_quickly_and_in_little_memory(tmp_path):
    stack_file = tmp_path / "Pulumi.bomb.yaml"
    stack_file.write_text("config:\n  multus-cni:networks:\n    - x: {}\n" + bomb("      "))
    done = subprocess.run([sys.executable, "-c", (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
        "from multus_cni_cli.__main__ import main; sys.exit(main(['render', '--stack-file', sys.argv[1]]))"), str(stack_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "refused before expanding" in done.stderr and "Traceback" not in done.stderr


# --- values that cannot be serialised, through both config paths: `render` and `pulumi up` --------
# `pulumi up` runs __main__.py, whose load_from_pulumi reads the config the CLI passes as JSON text;
# render.run_program does exactly that under the engine's mocks.

NET = '{"name": "net-a", "config": %s}'
MACVLAN = '{"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0"%s}'
TEXT_CASES = [
    # (case, config key, its JSON text as Pulumi passes it, expected path, words)
    ("lone surrogate in a config value", "networks", "[" + NET % (MACVLAN % ', "mode": "\\ud800"') + "]",
     "multus-cni:networks[0].config.mode", "lone surrogate (\\ud800)"),
    ("lone surrogate in an annotation", "networks",
     '[{"name": "net-a", "config": ' + MACVLAN % "" + ', "annotations": {"a": "\\udfff"}}]', "multus-cni:networks[0].annotations.a",
     "lone surrogate"),
    ("lone surrogate in cni-args", "workloads", '[{"networks": [{"name": "net-a", "cni-args": {"k": "x\\ud83d"}}]}]',
     "multus-cni:workloads[0].networks[0].cni-args.k", "lone surrogate"),
    ("NaN in spec.config", "networks", "[" + NET % (MACVLAN % ', "mtu": NaN') + "]", "multus-cni:networks[0].config.mtu",
     "nan is not a number JSON or Go can carry"),
    ("Infinity in spec.config", "networks", "[" + NET % (MACVLAN % ', "args": {"x": -Infinity}') + "]",
     "multus-cni:networks[0].config.args.x", "-inf is not a number"),
    ("integer beyond uint64", "networks", "[" + NET % (MACVLAN % ', "args": {"x": 18446744073709551616}') + "]",
     "multus-cni:networks[0].config.args.x", "18446744073709551616 is beyond the 64-bit integers Go reads"),
    ("integer past Python's digit limit", "workloads", '[{"networks": "net-a", "replicas": ' + "9" * 5000 + "}]",
     "multus-cni:workloads[0].replicas", "an integer of 5000 digits"),
    ("duplicate key in a value", "multus", '{"mode": "manifest", "mode": "tanzu-package"}', "multus-cni:multus.mode", "appears twice"),
    ("nesting past the recursion limit", "networks", "[" * 5000 + "]" * 5000, "multus-cni:networks", "nests deeper than 100 levels"),
    ("nesting under the recursion limit", "workloads", '[{"networks": [{"name": "net-a", "cni-args": {"k": ' + "[" * 150 + "]" * 150 + "}}]}]",
     "multus-cni:workloads[0].networks[0].cni-args.k" + "[0]" * 95, "nests deeper than 100 levels"),
]
NAD_TEXT_CASES = [
    # the NAD's spec.config pasted as JSON text inside the value (as in the Tanzu guide)
    ("duplicate key in the NAD's JSON text", '{\\"cniVersion\\": \\"0.3.1\\", \\"type\\": \\"macvlan\\", \\"mode\\": \\"bridge\\", \\"mode\\": \\"vepa\\"}',
     "multus-cni:networks[0].config.mode", "appears twice in this object; Go would keep the last value silently"),
    ("NaN in the NAD's JSON text", '{\\"cniVersion\\": \\"0.3.1\\", \\"type\\": \\"bridge\\", \\"mtu\\": NaN}',
     "multus-cni:networks[0].config.mtu", "nan is not a number"),
    ("lone surrogate in the NAD's JSON text", '{\\"cniVersion\\": \\"0.3.1\\", \\"type\\": \\"bridge\\", \\"bridge\\": \\"\\\\ud800\\"}',
     "multus-cni:networks[0].config.bridge", "lone surrogate"),
    ("deep JSON text in the NAD", "[" * 3000 + "]" * 3000, "multus-cni:networks[0].config", "nests deeper than 100 levels"),
    ("cniVersion null", '{\\"cniVersion\\": null, \\"type\\": \\"bridge\\"}', "multus-cni:networks[0].config.cniVersion",
     "must be text such as '0.3.1', not null"),
    ("CNI name null", '{\\"cniVersion\\": \\"0.3.1\\", \\"name\\": null, \\"type\\": \\"bridge\\"}',
     "multus-cni:networks[0].config.name", "must be text, not null"),
    ("a Go int field past int64", '{\\"cniVersion\\": \\"0.3.1\\", \\"type\\": \\"macvlan\\", \\"bcqueuelen\\": 9223372036854775808}',
     "multus-cni:networks[0].config.bcqueuelen", "must be less than or equal to 9223372036854775807"),
    ("a route priority past int64", '{\\"cniVersion\\": \\"0.3.1\\", \\"type\\": \\"bridge\\", \\"ipam\\": {\\"type\\": \\"static\\", '
     '\\"addresses\\": [{\\"address\\": \\"10.0.0.5/24\\"}], \\"routes\\": [{\\"dst\\": \\"0.0.0.0/0\\", \\"priority\\": 9223372036854775808}]}}',
     "multus-cni:networks[0].config.ipam.routes[0].priority", "must be less than or equal to 9223372036854775807"),
]
CASES = TEXT_CASES + [(case, "networks", '[{"name": "net-a", "config": "' + text + '"}]', path, words)
                      for case, text, path, words in NAD_TEXT_CASES]


def _both_paths(config: dict[str, str]) -> list[list[str]]:
    """The problems of `config` through load_stack_config, and through the program as `pulumi up` runs it."""
    from components import testing
    from multus_cni_cli import render
    from components.config import ConfigError, load_stack_config

    found = []
    for run in (lambda: load_stack_config(config), lambda: testing.run_file(PROGRAM, "multus-cni", "test", config)):
        with pytest.raises(ConfigError) as caught:
            run()
        found.append([str(p) for p in caught.value.problems])
    return found


@pytest.mark.parametrize("case, key, text, path, words", CASES, ids=[c[0] for c in CASES])
def test_values_go_or_kubernetes_cannot_carry_are_refused_on_both_config_paths(case, key, text, path, words):
    config = {f"multus-cni:{key}": text}
    if key == "workloads":
        config["multus-cni:networks"] = "[" + NET % (MACVLAN % ', "ipam": {}') + "]"
    for problems in _both_paths(config):
        assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems
        assert all("\n" not in p for p in problems)


def test_cni_version_null_is_an_error_not_a_crash(tmp_path, capsys):
    stack_file = tmp_path / "Pulumi.null.yaml"
    stack_file.write_text("config:\n  multus-cni:networks:\n    - {name: net-a, config: {cniVersion: null, type: bridge}}\n")
    assert main(["render", "--stack-file", str(stack_file)]) == 2
    assert capsys.readouterr().err == "multus-cni:networks[0].config.cniVersion: must be text such as '0.3.1', not null\n"


def test_a_hundred_million_replicas_are_judged_in_bounded_time():
    import time

    from components.config import load_stack_config

    hl = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "ipam": {"type": "host-local", "subnet": "10.3.0.0/24"}}
    config = {"multus-cni:networks": json.dumps([{"name": "net-a", "config": hl}]),
              "multus-cni:workloads": json.dumps([{"kind": "Deployment", "replicas": 10**8, "networks": "net-a"}])}
    started = time.monotonic()
    [(loc, message)] = load_stack_config(config).warnings()
    assert time.monotonic() - started < 2
    assert "100000000 pods use this network (default/sample-pod (100000000 replicas))" in message


def test_replicas_beyond_kubernetes_int32_are_refused():
    [problems, _] = _both_paths({"multus-cni:networks": "[" + NET % (MACVLAN % ', "ipam": {}') + "]",
                                 "multus-cni:workloads": '[{"kind": "Deployment", "replicas": 2147483648, "networks": "net-a"}]'})
    assert problems == ["multus-cni:workloads[0].replicas: must be less than or equal to 2147483647, not 2147483648"]


# --- values Kubernetes or the kernel refuse; patterns match the whole text ------------------------

GOOD = json.loads("[" + NET % (MACVLAN % ', "ipam": {}') + "]")


def _with(**changes) -> dict[str, str]:
    """The good stack with some keys replaced (values as Python data)."""
    keys = {"networks": GOOD, "workloads": [{"networks": "net-a"}], **changes}
    return {f"multus-cni:{k}": json.dumps(v) for k, v in keys.items()}


REFUSED = [
    ("NAD name with a trailing newline", _with(networks=[{**GOOD[0], "name": "net-a\n"}]), "multus-cni:networks[0].name",
     "'net-a\\n' is not a valid Kubernetes name"),
    ("namespace with a trailing newline", _with(networks=[{**GOOD[0], "namespace": "team\n"}]), "multus-cni:networks[0].namespace",
     "is not a valid Kubernetes name"),
    ("multus namespace with a trailing newline", _with(multus={"namespace": "kube-system\n"}), "multus-cni:multus.namespace",
     "is not a valid Kubernetes name"),
    ("image tag with a trailing newline", _with(multus={"image": {"tag": "v4.3.0\n"}}), "multus-cni:multus.image.tag", "is not an image tag"),
    ("image repository with a trailing newline", _with(multus={"image": {"repository": "ghcr.io/x\n"}}), "multus-cni:multus.image.repository",
     "is not an image repository"),
    ("image name with a trailing newline", _with(multus={"image": {"name": "multus-cni\n"}}), "multus-cni:multus.image.name",
     "is not an image name"),
    ("MAC with a trailing newline", _with(workloads=[{"networks": [{"name": "net-a", "mac": "02:00:00:00:00:01\n"}]}]),
     "multus-cni:workloads[0].networks[0].mac", "is not a MAC address"),
    ("interface with a trailing newline", _with(workloads=[{"networks": [{"name": "net-a", "interface": "data\n"}]}]),
     "multus-cni:workloads[0].networks[0].interface", "is not a Linux interface name"),
    ("CNI name with a trailing newline", _with(networks=[{**GOOD[0], "config": {**GOOD[0]["config"], "name": "mynet\n"}}]),
     "multus-cni:networks[0].config.name", "is not a CNI network name"),
    ("interface of 15 characters but 18 bytes", _with(workloads=[{"networks": [{"name": "net-a", "interface": "dätä-ñet-ñämé"}]}]),
     "multus-cni:workloads[0].networks[0].interface", "at most 15 bytes"),
    ("interface '..'", _with(workloads=[{"networks": [{"name": "net-a", "interface": ".."}]}]),
     "multus-cni:workloads[0].networks[0].interface", "not '.' or '..'"),
    ("bridge name '.'", _with(networks=[{**GOOD[0], "config": {"cniVersion": "0.3.1", "type": "bridge", "bridge": "."}}]),
     "multus-cni:networks[0].config.bridge", "is not a Linux interface name"),
    ("NAD annotation key that is not a qualified name", _with(networks=[{**GOOD[0], "annotations": {"team notes": "x"}}]),
     'multus-cni:networks[0].annotations["team notes"]', "is not an annotation key Kubernetes accepts"),
    ("NAD annotation key with a bad prefix", _with(networks=[{**GOOD[0], "annotations": {"-x.io/a": "x"}}]),
     'multus-cni:networks[0].annotations["-x.io/a"]', "is not an annotation key Kubernetes accepts"),
    ("NAD annotations over 256 KiB", _with(networks=[{**GOOD[0], "annotations": {"a": "x" * 200000, "b": "y" * 70000}}]),
     "multus-cni:networks[0].annotations", "annotations total 270002 bytes; Kubernetes accepts at most 262144"),
    ("pod annotation over 256 KiB", _with(workloads=[{"networks": [{"name": "net-a", "cni-args": {"blob": "z" * 270000}}]}]),
     "multus-cni:workloads[0].networks", "Kubernetes accepts at most 262144"),
    ("pod image with trailing whitespace", _with(workloads=[{"networks": "net-a", "image": "docker.io/library/alpine:3.22 "}]),
     "multus-cni:workloads[0].image", "has leading or trailing whitespace"),
    ("Unicode digits in a prefix length", _with(networks=[{**GOOD[0], "config": {**GOOD[0]["config"], "ipam": {
        "type": "host-local", "subnet": "10.0.0.0/２４"}}}]), "multus-cni:networks[0].config.ipam.subnet", "is not a subnet"),
    ("IPv6 zone in a gateway", _with(networks=[{**GOOD[0], "config": {**GOOD[0]["config"], "ipam": {
        "type": "static", "addresses": [{"address": "fe80::5/64", "gateway": "fe80::1%eth0"}]}}}]),
     "multus-cni:networks[0].config.ipam.addresses[0].gateway", "is not an IP address"),
    ("IPv6 zone in a requested address", _with(networks=[{**GOOD[0], "config": {**GOOD[0]["config"], "capabilities": {"ips": True},
        "ipam": {"type": "static"}}}], workloads=[{"networks": [{"name": "net-a", "ips": ["fe80::5%eth0/64"]}]}]),
     "multus-cni:workloads[0].networks[0].ips[0]", "is not an IP address"),
]


@pytest.mark.parametrize("case, config, path, words", REFUSED, ids=[r[0] for r in REFUSED])
def test_values_kubernetes_or_the_kernel_refuse_are_errors_on_both_config_paths(case, config, path, words):
    for problems in _both_paths(config):
        assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems


# --- user text in messages: quoted or escaped, one problem per line --------------------------------

def test_a_newline_inside_a_name_keeps_each_problem_on_one_line(tmp_path, capsys):
    stack_file = tmp_path / "Pulumi.nl.yaml"
    stack_file.write_text(yaml.safe_dump({"config": {
        "multus-cni:networks": [{"name": "net\na", "config": {"cniVersion": "0.3.1", "type": "bridge"},
                                 "annotations": {"note\nx": "y"}}],
        "multus-cni:workloads": [{"name": "pod\nb", "networks": "net-b"}],
    }}))
    assert main(["render", "--stack-file", str(stack_file)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        'multus-cni:networks[0].annotations["note\\nx"]', "multus-cni:networks[0].name", "multus-cni:workloads[0].name"]
    assert "'net\\na' is not a valid Kubernetes name" in lines[1]


def test_warnings_with_user_text_stay_on_one_line(run_stack):
    run_ = run_stack(networks=[{"name": "net-a", "config": {"cniVersion": "0.3.1", "type": "bridge", "note\nx": "y"}}])
    [warning] = [w for w in run_.warnings if "ignores this key" in w]
    assert "\n" not in warning and warning.startswith('multus-cni:networks[0].config["note\\nx"]: the bridge plugin ignores')


def test_chained_only_plugins_and_version_minimums_exit_2_one_line_each(tmp_path, capsys):
    networks = [
        {"name": "tuned", "config": {"cniVersion": "1.0.0", "type": "tuning", "mtu": 1400}},
        {"name": "walled", "config": {"cniVersion": "0.3.1", "plugins": [{"type": "bridge"}, {"type": "firewall"}]}},
    ]
    status, out, err = _render(tmp_path, {"networks": networks}, capsys)
    assert status == 2 and out == "" and "Traceback" not in err
    assert [line.split(": ")[0] for line in err.splitlines()] == [
        "multus-cni:networks[0].config.type", "multus-cni:networks[1].config.cniVersion"]
