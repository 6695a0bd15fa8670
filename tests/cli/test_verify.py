"""network-status: the model, the expected status, and `multus-cni verify`."""

from __future__ import annotations

import json

import pytest
import yaml

from multus_cni_cli import status, verify
from multus_cni_cli.__main__ import main
from components.config import load_stack_config
from conftest import FIXTURES, GUIDE, closed_kubeconfig, config_of

SAMPLES = FIXTURES / "status"


def _macvlan(subnet: str, start: str, end: str, **extra) -> dict:
    ipam = {"type": "host-local", "subnet": subnet, "rangeStart": start, "rangeEnd": end}
    return {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "ipam": ipam, **extra}


def _stack(networks, workloads, external=None):
    keys = {"networks": networks, "workloads": workloads}
    if external:
        keys["externalNetworks"] = external
    return load_stack_config(config_of(**keys))


def _report(stack, text: str, name: str | None = None) -> verify.Report:
    workload = verify.find_workload(stack, name or stack.workloads[0].name)
    return verify.check_annotation("pod", text, workload, stack)


# --- samples from the guide, upstream docs and issues --------------------------------------------

def test_guide_example_passes_through_the_cli(capsys):
    code = main(["verify", "--workload", "sample-pod", "--network-status-file", str(GUIDE / "network-status.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == "pod default/sample-pod: ok"
    assert "net1       default/macvlan-conf  192.168.1.201  ok" in out


def test_host_device_entry_without_ips_passes_when_no_address_was_asked():
    stack = _stack([{"name": "net-a", "namespace": "tenant-a", "config": {"cniVersion": "1.0.0", "plugins": [
        {"type": "host-device", "pciBusID": "0000:07:00.0", "ipam": {}}]}}],
        [{"name": "probe", "namespace": "tenant-a", "networks": "net-a"}])
    report = _report(stack, SAMPLES.joinpath("host-device-no-ips.json").read_text())
    assert report.passed, report.rows
    assert [r.interface for r in report.rows] == ["eth0", "net1"]


def test_sriov_entry_with_device_info_passes():
    sriov = {"cniVersion": "0.3.1", "type": "sriov", "vlan": 1000, "ipam": {
        "type": "host-local", "subnet": "10.56.217.0/24", "rangeStart": "10.56.217.171", "rangeEnd": "10.56.217.181"}}
    stack = _stack([{"name": "sriovnet1", "config": sriov, "annotations": {"k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov"}}],
                   [{"name": "probe", "networks": "sriovnet1"}])
    assert _report(stack, SAMPLES.joinpath("sriov-device-info.json").read_text()).passed


def test_old_multus_plain_names_default_without_interface_and_upper_case_mac():
    stack = _stack([{"name": "macvlan-conf", "config": {**_macvlan("192.168.1.0/24", "192.168.1.200", "192.168.1.216"),
                                                         "capabilities": {"mac": True}}}],
                   [{"name": "probe", "networks": [{"name": "macvlan-conf", "mac": "72:00:53:b4:48:c4"}]}])
    report = _report(stack, SAMPLES.joinpath("old-multus-plain-names.json").read_text())
    assert report.passed, report.rows
    assert report.rows[0].network == "cbr0"


def _how_to_use_stack():
    return _stack([{"name": "macvlan-conf-1", "config": _macvlan("10.1.0.0/16", "10.1.1.100", "10.1.1.200")},
                   {"name": "macvlan-conf-2", "config": {**_macvlan("11.10.0.0/16", "11.10.1.20", "11.10.1.50"), "master": "eth1"}}],
                  [{"name": "pod-case-06", "networks": [{"name": "macvlan-conf-1", "interface": "macvlan1"}, {"name": "macvlan-conf-2"}]}])


def test_requested_interface_then_positional_name():
    report = _report(_how_to_use_stack(), SAMPLES.joinpath("how-to-use-interface.json").read_text())
    assert report.passed, report.rows
    assert [r.interface for r in report.rows] == ["eth0", "macvlan1", "net2"]


def test_status_with_name_only_fails_for_the_missing_interface_and_address():
    stack = _stack([{"name": "sriov-network", "config": {"cniVersion": "0.3.1", "type": "sriov", "ipam": {
        "type": "host-local", "subnet": "10.56.217.0/24"}}, "annotations": {"k8s.v1.cni.cncf.io/resourceName": "x/y"}}],
        [{"name": "testpod1", "networks": "sriov-network"}])
    report = _report(stack, SAMPLES.joinpath("sriov-name-only.json").read_text())
    assert not report.passed
    assert report.rows[1].detail == "attached on (no interface), expected net1"


# --- synthesized failures -----------------------------------------------------------------------

def _guide_stack():
    return _stack([{"name": "macvlan-conf", "config": _macvlan("192.168.1.0/24", "192.168.1.200", "192.168.1.216")}],
                  [{"name": "sample-pod", "networks": "macvlan-conf"}])


def _guide_status():
    return json.loads(GUIDE.joinpath("network-status.json").read_text())


@pytest.mark.parametrize("change, detail", [
    (lambda s: s[:1], "attachment missing from network-status"),
    (lambda s: [s[0], {**s[1], "interface": "net2"}], "attached on net2, expected net1"),
    (lambda s: [s[0], {**s[1], "ips": ["192.168.1.250"]}], "192.168.1.250 is outside 192.168.1.200-192.168.1.216"),
    (lambda s: [s[0], {**s[1], "ips": ["10.0.0.5"]}], "10.0.0.5 is outside"),
    (lambda s: [s[0], {**s[1], "ips": []}], "no address, but the network assigns one"),
    (lambda s: [s[0], {**s[1], "ips": ["not-an-ip"]}], "'not-an-ip' is not an IP address"),
    (lambda s: [s[0], {**s[1], "name": "default/other-net"}], "attachment missing"),
    (lambda s: [{**s[0], "default": False}, s[1]], "no entry marked default: true"),
])
def test_synthesized_failures_are_named(change, detail):
    report = _report(_guide_stack(), json.dumps(change(_guide_status())))
    assert not report.passed
    assert any(detail in row.detail for row in report.rows), report.rows


def test_addresses_with_prefix_and_plain_both_pass():
    status_ = _guide_status()
    status_[1]["ips"] = ["192.168.1.201/24"]
    assert _report(_guide_stack(), json.dumps(status_)).passed


def test_requested_ips_and_mac_are_judged():
    static = {"cniVersion": "0.3.1", "plugins": [
        {"type": "macvlan", "master": "eth0", "capabilities": {"ips": True}, "ipam": {"type": "static"}},
        {"type": "tuning", "capabilities": {"mac": True}}]}
    stack = _stack([{"name": "static-net", "config": static}],
                   [{"name": "probe", "networks": [{"name": "static-net", "ips": ["10.1.1.12/24"], "mac": "c2:b0:57:49:47:f1"}]}])
    good = [_guide_status()[0], {"name": "default/static-net", "interface": "net1", "ips": ["10.1.1.12/24"], "mac": "C2:B0:57:49:47:F1"}]
    assert _report(stack, json.dumps(good)).passed
    bad = [good[0], {**good[1], "ips": ["10.1.1.13/24"], "mac": "c2:b0:57:49:47:f2"}]
    details = _report(stack, json.dumps(bad)).rows[1].detail
    assert "requested 10.1.1.12/24 not assigned" in details and "requested c2:b0:57:49:47:f1" in details


def test_external_networks_are_checked_for_presence_only():
    stack = _stack([], [{"name": "probe", "networks": "infra/shared-net"}], external=["infra/shared-net"])
    entry = {"name": "infra/shared-net", "interface": "net1", "ips": ["203.0.113.9"]}
    assert _report(stack, json.dumps([_guide_status()[0], entry])).passed


def test_default_network_override_is_checked():
    stack = _stack([{"name": "macvlan-conf", "config": _macvlan("192.168.1.0/24", "192.168.1.200", "192.168.1.216")}],
                   [{"name": "probe", "networks": "macvlan-conf", "defaultNetwork": "infra/fabric"}],
                   external=["infra/fabric"])
    report = _report(stack, GUIDE.joinpath("network-status.json").read_text())
    assert report.rows[0].detail == "default network should be infra/fabric"


@pytest.mark.parametrize("text, words", [("{", "is not JSON"), ('{"name": "x"}', "must be a JSON list"),
                                         ('[{"ips": "10.0.0.1"}]', "network-status[0].ips")])
def test_malformed_annotations_fail_with_a_reason(text, words):
    report = _report(_guide_stack(), text)
    assert not report.passed and words in report.rows[0].detail


def test_table_is_stable_and_aligned():
    status_ = _guide_status()
    status_[1]["ips"] = ["10.0.0.5", "10.0.0.6"]
    report = _report(_guide_stack(), json.dumps(status_))
    assert not report.passed and len(report.rows[1].detail) > 40
    first = status.table(report.title, report.rows)
    assert first == status.table(report.title, report.rows)
    lines = first.splitlines()
    column = lines[1].index("VERDICT")
    assert len(lines) == 2 + len(report.rows)
    for line, row in zip(lines[2:], report.rows):
        assert line[column - 2:column] == "  " and line[column:].startswith(row.verdict), (line, column)
    assert all(line.startswith("  ") for line in lines[1:])


def test_status_parse_rejects_a_value_that_is_not_text():
    with pytest.raises(status.StatusError, match="must be text holding a JSON list, not a list"):
        status.parse(_guide_status())


# --- live pods (recorded objects) and the CLI ----------------------------------------------------

def _pod(annotations=None, phase="Running", name="sample-pod"):
    return {"metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
            "spec": {"nodeName": "worker-1"}, "status": {"phase": phase}}


def test_pod_without_status_annotation_explains_why():
    stack = _guide_stack()
    report = verify.check_pod(_pod(phase="Running"), stack.workloads[0], stack)
    assert not report.passed
    assert "Multus is not running on worker-1, or the pod was created before Multus" in report.rows[0].detail


def test_missing_pods_and_every_replica_are_reported():
    stack = _stack([{"name": "net-a", "config": {"cniVersion": "0.3.1", "type": "bridge", "ipam": {
        "type": "whereabouts", "range": "10.9.0.0/24"}}}],
        [{"name": "web", "kind": "Deployment", "replicas": 2, "networks": "net-a"}, {"name": "gone", "networks": "net-a"}])
    status_ = json.dumps([_guide_status()[0], {"name": "default/net-a", "interface": "net1", "ips": ["10.9.0.7"]}])
    pods = {"web": [_pod({"k8s.v1.cni.cncf.io/network-status": status_}, name=f"web-{i}") for i in "ba"], "gone": []}
    reports = verify.verify_live(stack, lambda workload: pods[workload.name])
    assert [r.title for r in reports] == ["pod default/web-a", "pod default/web-b", "pod default/gone"]
    assert [r.passed for r in reports] == [True, True, False]
    assert "no pod found" in reports[2].rows[0].detail


def _web_stack(replicas: int):
    return _stack([{"name": "net-a", "config": {"cniVersion": "0.3.1", "type": "bridge", "ipam": {
        "type": "whereabouts", "range": "10.9.0.0/24"}}}],
        [{"name": "web", "kind": "Deployment", "replicas": replicas, "networks": "net-a"}])


def _web_pod(name: str, terminating: bool = False) -> dict:
    status_ = json.dumps([_guide_status()[0], {"name": "default/net-a", "interface": "net1", "ips": ["10.9.0.7"]}])
    pod = _pod({"k8s.v1.cni.cncf.io/network-status": status_}, name=name)
    if terminating:
        pod["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    return pod


def test_deployment_with_fewer_pods_than_replicas_fails():
    reports = verify.verify_live(_web_stack(3), lambda workload: [_web_pod("web-a")])
    assert [r.title for r in reports] == ["deployment default/web", "pod default/web-a"]
    assert [r.passed for r in reports] == [False, True]
    assert reports[0].rows[0].detail == "1 of 3 replicas found"
    reports = verify.verify_live(_web_stack(1), lambda workload: [_web_pod("web-a"), _web_pod("web-b")])
    assert reports[0].title == "deployment default/web" and reports[0].rows[0].detail == "2 pods found for 1 replicas"


def test_terminating_pods_of_a_deployment_are_ignored():
    pods = [_web_pod("web-old", terminating=True), _web_pod("web-a"), _web_pod("web-b")]
    reports = verify.verify_live(_web_stack(2), lambda workload: pods)
    assert [r.title for r in reports] == ["pod default/web-a", "pod default/web-b"]
    assert all(r.passed for r in reports)
    reports = verify.verify_live(_web_stack(2), lambda workload: pods[:2])
    assert [r.title for r in reports] == ["deployment default/web", "pod default/web-a"]
    assert reports[0].rows[0].detail == "1 of 2 replicas found"


def test_unreachable_cluster_is_a_clear_error(tmp_path, capsys):
    kubeconfig = closed_kubeconfig(tmp_path / "kubeconfig")
    assert main(["verify", "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("verify: cannot reach the cluster at https://127.0.0.1:1")


@pytest.mark.parametrize("text", [": : :\n", "a: [\n", "just text\n", "[1, 2]\n", "clusters: 5\n"])
def test_kubeconfig_that_cannot_be_loaded_is_a_clear_error(tmp_path, capsys, text):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(text)
    assert main(["verify", "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"verify: cannot load a kubeconfig ({kubeconfig}): ")
    assert "Traceback" not in err


def test_offline_check_exits_1_on_a_mismatch(tmp_path, capsys):
    status_file = tmp_path / "status.json"
    status_file.write_text(json.dumps(_guide_status()[:1]))
    assert main(["verify", "--workload", "default/sample-pod", "--network-status-file", str(status_file)]) == 1
    captured = capsys.readouterr()
    assert "FAIL: attachment missing from network-status" in captured.out
    # One line on stderr names the pod and the network, for logs and CI.
    assert captured.err == "verify: pod default/sample-pod: net1 default/macvlan-conf: attachment missing from network-status\n"


def test_a_workload_level_failure_is_one_line_naming_the_workload():
    reports = verify.verify_live(_stack([{"name": "blue", "config": _macvlan("192.0.2.0/24", "192.0.2.10", "192.0.2.20")}],
                                        [{"name": "web", "kind": "Deployment", "replicas": 2, "networks": "blue"}]),
                                 lambda workload: [])
    assert verify.failure_lines(reports) == [
        "verify: deployment default/web: no pods of deployment default/web found: run `pulumi up`, or check "
        "`kubectl -n default get pods`"]


def test_offline_check_reads_a_whole_pod_too(tmp_path, capsys):
    pod_file = tmp_path / "pod.yaml"
    pod_file.write_text(yaml.safe_dump(_pod({"k8s.v1.cni.cncf.io/network-status": GUIDE.joinpath("network-status.json").read_text()})))
    assert main(["verify", "--workload", "sample-pod", "--network-status-file", str(pod_file)]) == 0


@pytest.mark.parametrize("metadata, words", [
    (None, "the pod's metadata must be an object, not null"),
    ([], "the pod's metadata must be an object, not a list"),
    ({"annotations": ["x"]}, "the pod's metadata.annotations must be an object, not a list"),
])
def test_offline_pod_with_malformed_metadata_exits_2(tmp_path, capsys, metadata, words):
    pod_file = tmp_path / "pod.yaml"
    pod_file.write_text(yaml.safe_dump({"kind": "Pod", "metadata": metadata}))
    assert main(["verify", "--workload", "sample-pod", "--network-status-file", str(pod_file)]) == 2
    assert capsys.readouterr().err == f"verify: {pod_file}: {words}\n"


def test_offline_pod_whose_annotation_is_not_text_is_bad_input(tmp_path, capsys):
    pod_file = tmp_path / "pod.yaml"
    pod_file.write_text(yaml.safe_dump(_pod({"k8s.v1.cni.cncf.io/network-status": _guide_status()})))
    assert main(["verify", "--workload", "sample-pod", "--network-status-file", str(pod_file)]) == 2
    assert "the network-status annotation must be text holding a JSON list, not a list" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--workload", "sample-pod"], "--workload and --network-status-file go together"),
    (["--workload", "nope", "--network-status-file", "x"], "workload 'nope' is not in this stack"),
])
def test_bad_arguments_exit_2(capsys, argv, words):
    assert main(["verify", *argv]) == 2
    assert words in capsys.readouterr().err


# --- a status file that is not readable input: exit 2, one line, never a mismatch (exit 1) -------

# "Billion laughs": 1 KB that expands to 10^8 values.
BOMB = "a: &a [" + ", ".join(["x"] * 10) + "]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh"))


@pytest.mark.parametrize("content, words", [
    (b'[{"name": "x", "default": true}]\xff', "not UTF-8 text"),
    (BOMB.encode(), "refused before expanding"),
    (b"a: &a [*a]\n", "refers to a node that contains it"),
    (b"[" * 5000 + b"]" * 5000, "nests deeper than 100 levels"),
    (b'[{"name": "", "default": true, "default": false}]', "appears twice"),
    (b'[{"name": "", "default": "true", "interface": "eth0"}]', "network-status[0].default: must be true or false, not the text 'true'"),
    (b'[{"name": "", "default": true, "mtu": ' + b"9" * 5000 + b"}]", "beyond the 64-bit integers Go reads"),
    (b'[{"name": "\\ud800", "default": true}]', "network-status[0].name: holds a lone surrogate (\\ud800)"),
    (b'[{"name": "", "default": true, "mtu": NaN}]', "nan is not a number JSON or Go can carry"),
])
def test_unreadable_status_files_exit_2_with_one_line(tmp_path, capsys, content, words):
    status_file = tmp_path / "status.json"
    status_file.write_bytes(content)
    assert main(["verify", "--workload", "sample-pod", "--network-status-file", str(status_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and words in captured.err and len(captured.err.splitlines()) == 1, captured.err


def test_a_live_status_with_default_as_text_is_a_failed_pod():
    report = _report(_guide_stack(), json.dumps([{**_guide_status()[0], "default": "true"}, *_guide_status()[1:]]))
    assert not report.passed
    assert "network-status[0].default: must be true or false" in report.rows[0].detail


def test_the_table_of_a_status_with_a_lone_surrogate_can_be_printed():
    text = json.dumps([_guide_status()[0], {**_guide_status()[1], "ips": ["192.168.1.205\ud800"]}])
    report = _report(_guide_stack(), text)
    assert not report.passed
    status.table(report.title, report.rows).encode("utf-8")
