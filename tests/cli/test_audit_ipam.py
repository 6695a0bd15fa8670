"""`multus-cni audit-ipam`: duplicate, leaked, missing and exhausted addresses, judged from objects
shaped as the API server lists them (tests/fixtures/audit: a PodList, and whereabouts v0.9.2's
IPPool and OverlappingRangeIPReservation lists, from pkg/api/whereabouts.cni.cncf.io/v1alpha1)."""

from __future__ import annotations

import copy
import json
import random

import pytest
import yaml

from components.cni.addresses import ip
from components.cni.ipam import allocation_range
from components.config import load_stack_config
from conftest import FIXTURES, closed_kubeconfig, config_of
from multus_cni_cli.__main__ import main
from multus_cni_cli.audit import reader, report
from multus_cni_cli.audit.findings import Snapshot, audit
from multus_cni_cli.audit.whereabouts import pool_name, reservation_address, reservation_name

AUDIT = FIXTURES / "audit"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"


def _macvlan(ipam: dict) -> dict:
    return {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "ipam": ipam}


NETWORKS = [
    {"name": "wb-net", "config": _macvlan({"type": "whereabouts", "range": "10.10.0.0/29"})},
    {"name": "wb-named", "config": _macvlan({"type": "whereabouts", "range": "fd00:10::/125", "network_name": "blue"})},
    {"name": "hl-net", "config": _macvlan({"type": "host-local", "subnet": "192.168.50.0/24"})},
    {"name": "static-net", "config": _macvlan({"type": "static", "addresses": [{"address": "192.168.60.5/24"}]})},
]


def _stack(networks=NETWORKS):
    return load_stack_config(config_of(networks=networks))


def _items(name: str) -> list[dict]:
    return json.loads((AUDIT / f"{name}.json").read_text())["items"]


def _cluster() -> dict[str, list[dict]]:
    return {"pods": _items("pods"), "pools": _items("ippools"), "reservations": _items("overlappingrangeipreservations")}


def _run(cluster: dict, threshold: float = 0.9, networks=NETWORKS):
    return audit(_stack(networks), Snapshot(**cluster), threshold)


def _pod(cluster: dict, name: str) -> dict:
    return next(p for p in cluster["pods"] if p["metadata"]["name"] == name)


def _entries(pod: dict) -> list[dict]:
    return json.loads(pod["metadata"]["annotations"][NETWORK_STATUS])


def _set_entries(pod: dict, entries: list[dict]) -> None:
    pod["metadata"]["annotations"][NETWORK_STATUS] = json.dumps(entries, indent=4)


def _readdress(pod: dict, network: str, address: str) -> None:
    _set_entries(pod, [{**e, "ips": [address]} if e["name"] == network else e for e in _entries(pod)])


def _copy_pod(cluster: dict, source: str, name: str, node: str) -> dict:
    pod = copy.deepcopy(_pod(cluster, source))
    pod["metadata"].update(name=name, uid=f"uid-{name}")
    pod["spec"]["nodeName"] = node
    cluster["pods"].append(pod)
    return pod


def _allocate(cluster: dict, pool: str, offset: str, podref: str, container: str = "c0ffee", ifname: str = "net1") -> None:
    found = next(p for p in cluster["pools"] if p["metadata"]["name"] == pool)
    found["spec"]["allocations"][offset] = {"id": container, "podref": podref, "ifname": ifname}


def _reserve(cluster: dict, name: str, podref: str) -> None:
    cluster["reservations"].append({**copy.deepcopy(cluster["reservations"][0]), "metadata": {
        **cluster["reservations"][0]["metadata"], "name": name}, "spec": {"podref": podref, "ifname": "net1"}})


def _brief(result) -> list[tuple[str, str, str]]:
    return [(f.kind, f.network, f.address) for f in result.findings]


# --- the naming rules of whereabouts v0.9.2 (pkg/storage/kubernetes/ipam.go) -----------------------

@pytest.mark.parametrize("cidr, network_name, name", [
    ("10.0.0.0/8", "", "10.0.0.0-8"),  # upstream's ipam_test.go TestIPPoolName cases
    ("10.0.0.0/8", "test", "test-10.0.0.0-8"),
    ("fd00:10::/125", "blue", "blue-fd00-10---125"),
    ("2001:db8:0:1::/64", "", "2001-db8-0-1---64"),
])
def test_pool_names_are_whereabouts_ippoolname(cidr, network_name, name):
    assert pool_name(cidr, network_name) == name


@pytest.mark.parametrize("address, network_name, name", [
    ("10.10.0.1", "", "10.10.0.1"),
    ("fd00:10::1", "blue", "blue-fd00-10--1"),
    ("fd00::", "", "fd00--0"),  # NormalizeIP appends a 0 to a trailing ':'
])
def test_reservation_names_are_normalize_ip_and_read_back(address, network_name, name):
    assert reservation_name(ip(address), network_name) == name
    assert reservation_address(name, network_name) == ip(address)


def test_a_reservation_of_another_network_name_reads_as_none():
    assert reservation_address("blue-fd00-10--1", "") is None
    assert reservation_address("10.10.0.1", "blue") is None
    assert reservation_address("red-10.10.0.1", "blue") is None


@pytest.mark.parametrize("range_text, start, end, exclude, size", [
    ("10.10.0.0/29", None, None, None, 6),  # without the network and broadcast addresses
    ("10.10.0.0/29", "10.10.0.2", None, None, 5),
    ("10.10.0.2-10.10.0.5/29", None, None, None, 4),
    ("10.10.0.0/29", None, None, ["10.10.0.4/30"], 3),
    ("10.10.0.0/29", None, None, ["10.10.0.3", "10.10.0.0/31"], 4),
    ("fd00:10::/125", None, None, None, 6),
])
def test_usable_size_honors_range_start_end_and_exclude(range_text, start, end, exclude, size):
    assert allocation_range(range_text, start, end, exclude).size == size


# --- the clean cluster ------------------------------------------------------------------------------

def test_a_clean_cluster_has_no_findings_and_finds_both_pools_by_name():
    result = _run(_cluster())
    assert result.findings == []
    assert [(p.name, p.network, p.range, p.allocated, p.usable) for p in result.pools] == [
        ("10.10.0.0-29", "default/wb-net", "10.10.0.0/29", 2, 6),
        ("blue-fd00-10---125", "default/wb-named", "fd00:10::/125", 2, 6),
    ]  # the cluster's third pool, 10.99.0.0-24 with a pod long gone, belongs to no network of the stack
    assert (result.networks, result.pods) == (4, 3)


def test_entries_named_by_older_multus_without_a_namespace_are_the_pod_namespace_s():
    cluster = _cluster()
    for pod in cluster["pods"]:
        if NETWORK_STATUS in pod["metadata"]["annotations"]:
            _set_entries(pod, [{**e, "name": e["name"].split("/")[-1]} for e in _entries(pod)])
    assert _run(cluster).findings == []
    _copy_pod(cluster, "db-0", "db-1", "node-b")
    assert _brief(_run(cluster)) == [("duplicate", "default/static-net", "192.168.60.5")]


# --- duplicate -------------------------------------------------------------------------------------

def test_one_whereabouts_address_on_two_live_pods_is_a_duplicate():
    cluster = _cluster()
    _copy_pod(cluster, "app-0", "app-2", "node-b")  # holds 10.10.0.1 and fd00:10::1 as app-0 does
    result = _run(cluster)
    assert _brief(result) == [("duplicate", "default/hl-net", "192.168.50.2"), ("duplicate", "default/wb-named", "fd00:10::1"),
                              ("duplicate", "default/wb-net", "10.10.0.1")]
    wb = result.findings[2]
    assert wb.what == "held by 2 pods (default/app-0 on node-a, default/app-2 on node-b)"
    assert "IPPool was deleted or edited" in wb.fix


def test_host_local_on_two_nodes_says_it_allocates_per_node():
    cluster = _cluster()
    _readdress(_pod(cluster, "app-1"), "default/hl-net", "192.168.50.2")  # node-b's first lease, as node-a's
    [finding] = _run(cluster).findings
    assert (finding.kind, finding.network, finding.address) == ("duplicate", "default/hl-net", "192.168.50.2")
    assert "on different nodes (default/app-0 on node-a, default/app-1 on node-b): host-local allocates per node" in finding.what
    assert finding.fix.startswith("use whereabouts for this network")


def test_host_local_on_one_node_points_at_the_lease_directory():
    cluster = _cluster()
    pod = _pod(cluster, "app-1")
    pod["spec"]["nodeName"] = "node-a"
    _readdress(pod, "default/hl-net", "192.168.50.2")
    [finding] = _run(cluster).findings
    assert finding.what == "held by 2 pods (default/app-0 on node-a, default/app-1 on node-a)"
    assert "different nodes" not in finding.what and "lease directory" in finding.fix


def test_static_ipam_on_two_pods_asks_for_one_address_per_pod():
    cluster = _cluster()
    _copy_pod(cluster, "db-0", "db-1", "node-b")
    [finding] = _run(cluster).findings
    assert (finding.kind, finding.address) == ("duplicate", "192.168.60.5")
    assert "request one address per pod" in finding.fix


@pytest.mark.parametrize("change", [
    lambda pod: pod["metadata"].update(deletionTimestamp="2026-05-04T10:00:00Z", deletionGracePeriodSeconds=30),
    lambda pod: pod["status"].update(phase="Succeeded"),
    lambda pod: pod["status"].update(phase="Failed"),
])
def test_terminating_and_finished_pods_hold_no_duplicate(change):
    cluster = _cluster()
    old = _copy_pod(cluster, "app-0", "app-0-old", "node-a")
    change(old)
    _allocate(cluster, "10.10.0.0-29", "1", "default/app-0")  # the pool names the new pod
    assert _run(cluster).findings == []


# --- leak ------------------------------------------------------------------------------------------

def test_an_allocation_and_a_reservation_of_a_pod_that_is_gone_leak():
    cluster = _cluster()
    _allocate(cluster, "10.10.0.0-29", "3", "default/app-2", container="9d8c7b6a5f4e3d2c1b0a")
    _reserve(cluster, "10.10.0.3", "default/app-2")
    pool_leak, reservation_leak = _run(cluster).findings
    assert _brief(_run(cluster)) == [("leak", "default/wb-net", "10.10.0.3")] * 2
    assert pool_leak.what == ("IPPool kube-system/10.10.0.0-29 allocates it (offset 3, container 9d8c7b6a5f4e) "
                              "to default/app-2, which does not exist")
    assert "ip-control-loop" in pool_leak.fix
    assert pool_leak.fix.endswith("kubectl -n kube-system patch ippools.whereabouts.cni.cncf.io 10.10.0.0-29 --type json "
                                  "-p '[{\"op\": \"remove\", \"path\": \"/spec/allocations/3\"}]'")
    assert reservation_leak.what.startswith("OverlappingRangeIPReservation kube-system/10.10.0.3 reserves it for default/app-2")
    assert reservation_leak.fix.endswith(
        "kubectl -n kube-system delete overlappingrangeipreservations.whereabouts.cni.cncf.io 10.10.0.3")


def test_a_pod_recreated_under_the_same_name_leaks_its_old_address():
    cluster = _cluster()
    _readdress(_pod(cluster, "app-1"), "default/wb-net", "10.10.0.3")
    _allocate(cluster, "10.10.0.0-29", "3", "default/app-1")
    _reserve(cluster, "10.10.0.3", "default/app-1")
    result = _run(cluster)
    assert _brief(result) == [("leak", "default/wb-net", "10.10.0.2")] * 2
    assert "default/app-1, which holds 10.10.0.3 there instead" in result.findings[0].what


def test_an_ipv6_allocation_of_a_named_network_leaks_by_its_normalized_names():
    cluster = _cluster()
    _allocate(cluster, "blue-fd00-10---125", "3", "default/gone", ifname="net2")
    _reserve(cluster, "blue-fd00-10--3", "default/gone")
    assert _brief(_run(cluster)) == [("leak", "default/wb-named", "fd00:10::3")] * 2


def test_a_pending_pod_without_its_address_yet_is_no_leak():
    """ip-control-loop spares it too (pkg/reconciler/iploop.go): its ADD may still be running."""
    cluster = _cluster()
    pending = _copy_pod(cluster, "app-0", "app-2", "node-b")
    pending["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    del pending["metadata"]["annotations"][NETWORK_STATUS]
    _allocate(cluster, "10.10.0.0-29", "3", "default/app-2")
    assert _run(cluster).findings == []


# --- missing ---------------------------------------------------------------------------------------

def test_an_entry_without_an_address_and_a_network_without_an_entry_are_missing():
    cluster = _cluster()
    app = _pod(cluster, "app-0")
    _set_entries(app, [{k: v for k, v in e.items() if k != "ips"} if e["name"] == "default/wb-net" else e
                       for e in _entries(app) if e["name"] != "default/hl-net"])
    cluster["pools"][0]["spec"]["allocations"].pop("1")  # whereabouts gave it no address: nothing leaks
    cluster["reservations"] = [r for r in cluster["reservations"] if r["metadata"]["name"] != "10.10.0.1"]
    result = _run(cluster)
    assert _brief(result) == [("missing", "default/hl-net", "-"), ("missing", "default/wb-net", "-")]
    assert result.findings[0].what == ("pod default/app-0 on node-a asks for it in k8s.v1.cni.cncf.io/networks, "
                                       "but its network-status has no entry for it")
    assert result.findings[1].what == "pod default/app-0 on node-a: net1 has no address, but whereabouts gives one"


def test_a_running_pod_without_network_status_misses_the_networks_it_asks_for():
    cluster = _cluster()
    del _pod(cluster, "db-0")["metadata"]["annotations"][NETWORK_STATUS]
    [finding] = _run(cluster).findings
    assert (finding.kind, finding.network) == ("missing", "default/static-net")
    assert finding.what.endswith("but it has no k8s.v1.cni.cncf.io/network-status annotation")


def test_a_terminating_pod_without_addresses_is_not_missing():
    cluster = _cluster()
    pod = _pod(cluster, "db-0")
    pod["metadata"]["deletionTimestamp"] = "2026-05-04T10:00:00Z"
    del pod["metadata"]["annotations"][NETWORK_STATUS]
    assert _run(cluster).findings == []


# --- exhausted -------------------------------------------------------------------------------------

def _five_of_six() -> dict:
    cluster = _cluster()
    for offset in ("3", "4", "5"):
        pod = _copy_pod(cluster, "app-0", f"app-{offset}", "node-a")
        _set_entries(pod, [{**e, "ips": [f"10.10.0.{offset}"]} for e in _entries(pod) if e["name"] in ("cbr0", "default/wb-net")])
        pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] = "wb-net"
        _allocate(cluster, "10.10.0.0-29", offset, f"default/app-{offset}")
    return cluster


@pytest.mark.parametrize("threshold, found", [(0.9, []), (0.84, []), (0.83, [("exhausted", "default/wb-net", "10.10.0.0/29")]),
                                              (0.5, [("exhausted", "default/wb-net", "10.10.0.0/29")])])
def test_a_pool_is_exhausted_from_the_threshold_on(threshold, found):
    assert _brief(_run(_five_of_six(), threshold)) == found


def test_exhausted_counts_what_exclude_leaves():
    networks = [{**NETWORKS[0], "config": _macvlan({"type": "whereabouts", "range": "10.10.0.0/29", "exclude": ["10.10.0.6/32"]})}]
    [finding] = _run(_five_of_six(), 1.0, networks).findings
    assert finding.what == "IPPool kube-system/10.10.0.0-29: 5 of 5 usable addresses allocated (100%, threshold 100%)"


# --- output ----------------------------------------------------------------------------------------

def _messy() -> dict:
    cluster = _cluster()
    _copy_pod(cluster, "app-0", "app-2", "node-b")
    _allocate(cluster, "10.10.0.0-29", "5", "default/gone", container="0a1b2c3d4e5f6a7b")
    del _pod(cluster, "db-0")["metadata"]["annotations"][NETWORK_STATUS]
    return cluster


def test_the_table_and_the_json_are_the_same_bytes_whatever_the_order_read():
    cluster = _messy()
    first = _run(cluster)
    for seed in range(3):
        shuffled = {kind: random.Random(seed).sample(items, len(items)) for kind, items in cluster.items()}
        again = _run(shuffled)
        assert report.table(again) == report.table(first)
        assert report.as_json("audit", again, 0.9) == report.as_json("audit", first, 0.9)
    assert [f.kind for f in first.findings] == ["duplicate", "duplicate", "duplicate", "leak", "missing"]


def test_the_table_is_aligned_and_the_summary_counts_each_kind():
    result = _run(_messy())
    lines = report.table(result)
    assert lines[0].split() == ["KIND", "NETWORK", "ADDRESS", "WHAT", "FIX"]
    assert len({line.index(" 10.10.0.") for line in lines[1:] if " 10.10.0." in line}) == 1  # one ADDRESS column
    assert lines[1].startswith("duplicate  default/hl-net      192.168.50.2  held by 2 pods on different nodes "
                               "(default/app-0 on node-a, default/app-2 on node-b)")
    assert report.summary("audit", result) == ("audit-ipam: stack audit: 5 findings (3 duplicate, 1 leak, 1 missing) "
                                               "in 4 networks, 4 pods, 2 IPPools")


def test_the_json_has_sorted_keys_and_every_kind_counted():
    text = report.as_json("audit", _run(_messy()), 0.9)
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    assert document["counts"] == {"duplicate": 3, "exhausted": 0, "leak": 1, "missing": 1}
    assert document["clean"] is False and document["poolThreshold"] == 0.9
    assert set(document["findings"][0]) == {"kind", "network", "address", "what", "fix"}
    assert document["pools"][0] == {"namespace": "kube-system", "name": "10.10.0.0-29", "network": "default/wb-net",
                                    "range": "10.10.0.0/29", "allocated": 3, "usable": 6}


# --- the command -----------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: multus-cni\nruntime: python\n")
    (tmp_path / "Pulumi.audit.yaml").write_text(yaml.safe_dump({"config": {"multus-cni:networks": NETWORKS}}))
    return tmp_path


def _cli(project, monkeypatch, cluster, *argv):
    monkeypatch.setattr(reader, "snapshot", lambda connected: Snapshot(**cluster))
    kubeconfig = closed_kubeconfig(project / "kubeconfig")  # loaded, never reached: the snapshot is `cluster`
    return main(["audit-ipam", "--project-dir", str(project), "--stack", "audit", "--kubeconfig", str(kubeconfig), *argv])


def test_the_command_exits_0_when_clean(project, monkeypatch, capsys):
    assert _cli(project, monkeypatch, _cluster()) == 0
    assert capsys.readouterr().out == "audit-ipam: stack audit: no findings (4 networks, 3 pods, 2 IPPools)\n"


def test_the_command_prints_the_table_writes_the_json_and_exits_1(project, monkeypatch, capsys):
    summary = project / "audit.json"
    assert _cli(project, monkeypatch, _messy(), "--pool-threshold", "0.5", "--summary-json", str(summary)) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("KIND") and out[-1].startswith("audit-ipam: stack audit: 6 findings (3 duplicate, 1 leak, "
                                                           "1 missing, 1 exhausted)")
    document = json.loads(summary.read_text())
    assert document["poolThreshold"] == 0.5 and len(document["findings"]) == len(out) - 2


@pytest.mark.parametrize("argv", [["--pool-threshold", "0"], ["--pool-threshold", "1.5"], ["--pool-threshold", "most"],
                                  ["--stack", "a", "--stack-file", "b"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["audit-ipam", *argv])
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_stack_without_networks_exits_2_in_one_line(project, capsys):
    (project / "Pulumi.empty.yaml").write_text("config: {}\n")
    assert main(["audit-ipam", "--project-dir", str(project), "--stack", "empty"]) == 2
    assert capsys.readouterr().err == "audit-ipam: stack 'empty' has no networks to audit\n"


def test_an_unwritable_summary_file_exits_2_in_one_line(project, monkeypatch, capsys):
    assert _cli(project, monkeypatch, _cluster(), "--summary-json", str(project / "no" / "such" / "dir.json")) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_cluster_that_cannot_be_reached_exits_2_in_one_line(project, capsys):
    kubeconfig = closed_kubeconfig(project / "kubeconfig")
    assert main(["audit-ipam", "--project-dir", str(project), "--stack", "audit", "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("audit-ipam: list Pod: cannot reach the cluster at https://127.0.0.1:1") and err.count("\n") == 1


def test_a_kubeconfig_that_cannot_be_loaded_exits_2_in_one_line(project, capsys):
    kubeconfig = project / "kubeconfig"
    kubeconfig.write_text("a: [\n")
    assert main(["audit-ipam", "--project-dir", str(project), "--stack", "audit", "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"audit-ipam: cannot load a kubeconfig ({kubeconfig}): ") and err.count("\n") == 1


def test_the_example_in_the_operations_guide_is_this_output(project, monkeypatch, capsys):
    """docs/operations.md shows the table of `_messy` at --pool-threshold 0.5, its FIX column cut."""
    text = (FIXTURES.parent.parent / "docs" / "operations.md").read_text()
    section = text[text.index("## Auditing IP addresses"):text.index("## Adopting an existing Multus")]
    shown = section[section.index("```text\n") + 8:section.rindex("```")]
    assert _cli(project, monkeypatch, _messy(), "--pool-threshold", "0.5") == 1
    *rows, summary_line = capsys.readouterr().out.splitlines()
    fix = rows[0].index("FIX")
    assert shown == "".join(row[:fix].rstrip() + "\n" for row in rows) + summary_line + "\n"
