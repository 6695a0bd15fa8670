"""The data path for real: the real Multus thin plugin attaches each Running pod's networks with the
real reference plugins, as the `multus` ServiceAccount, and writes network-status; `verify` then
judges it, and what each pod's namespace really holds is compared with what `verify` expects.

The harness (datapath.py) does what kwok leaves out (the kubelet's and the runtime's CNI calls) in
throw-away namespaces; every namespace, link, relay and temp dir is removed after each test.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from multus_cni_cli import stackfile, status
from components.annotations import NETWORK_STATUS
from multus_cni_cli.conformance.node import PROBE_LOWER, kernel_refusal

from .conftest import ROOT, Stack
from .datapath import CNI_PATH, Attachment, DataPath, HarnessError, leftovers

pytestmark = pytest.mark.live

GUIDE_FIRST, GUIDE_LAST = ipaddress.ip_address("192.168.1.200"), ipaddress.ip_address("192.168.1.216")


PLUGINS = ("ptp", "host-local", "macvlan", "bridge", "static", "host-device")


def missing_prerequisite() -> str:
    """Why this machine cannot run the harness, or ''. Like the conformance tests: skipped, with the reason."""
    if os.geteuid() != 0:
        return "the data path harness creates network namespaces and runs CNI plugins: it needs root"
    if not shutil.which("ip") or not shutil.which("unshare"):
        return "the data path harness needs `ip` (iproute2) and `unshare` (util-linux)"
    missing = [p for p in PLUGINS if not (Path(CNI_PATH) / p).is_file()]
    return f"reference CNI plugins missing from {CNI_PATH}: {', '.join(missing)}" if missing else ""


@pytest.fixture
def datapath(cluster) -> Iterator[callable]:
    """DataPath(s) for a test, each closed (DEL, namespaces deleted) at its end, also on failure;
    then nothing of the harness may be left on this machine."""
    reason = missing_prerequisite()
    if reason:
        pytest.skip(reason)
    made: list[DataPath] = []

    def make(**kwargs) -> DataPath:
        made.append(DataPath(cluster, **kwargs))
        return made[-1]

    before = set(leftovers())
    try:
        yield make
    finally:
        errors = []
        for dp in reversed(made):
            try:
                dp.close()
            except Exception as exc:
                errors.append(exc)
        left = sorted(set(leftovers()) - before)
        assert not left, f"namespaces left behind: {left}"
        if errors:
            raise errors[0]


def verify(stack: Stack, cluster) -> subprocess.CompletedProcess:
    """`multus-cni verify` for the stack, live, on the cluster's (admin) kubeconfig."""
    return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "verify",
                           "--stack-file", str(stack.workdir / f"Pulumi.{stack.name}.yaml"),
                           "--kubeconfig", str(cluster.kubeconfig)],
                          cwd=stack.workdir, capture_output=True, text=True, timeout=120)


def network_status(cluster, att: Attachment) -> list[status.NetworkStatusEntry]:
    pod = cluster.get("pod", "-n", att.namespace, att.name)
    return status.parse(pod["metadata"]["annotations"][NETWORK_STATUS])


def addresses(link: dict) -> set[str]:
    return {a["local"] for a in link.get("addr_info", []) if a.get("scope") == "global"}


def bare(text: str) -> str:
    return text.split("/")[0]


def check_namespace(cluster, stack: Stack, att: Attachment, default_routes: bool = True) -> None:
    """What the pod's namespace holds equals what `verify` expects of the pod and what Multus wrote:
    the interface names, each one's addresses (in its pools, or the requested ones) and MAC, and (with
    `default_routes`) the requested default routes."""
    _, config = stackfile.load_stack(None, str(stack.workdir / f"Pulumi.{stack.name}.yaml"), stack.workdir)
    workload = next(w for w in config.workloads if w.namespace == att.namespace and att.name.startswith(w.name))
    wanted = status.expected(workload, config.networks_of(workload))
    entries = network_status(cluster, att)
    links = att.links()
    where = f"pod {att.ref} ({att.netns})"

    assert set(links) - {"lo"} == {"eth0"} | {w.interface for w in wanted}, where
    default = next(e for e in entries if e.default)
    assert addresses(links["eth0"]) == {bare(a) for a in default.ips}, where
    assert ipaddress.ip_address(bare(default.ips[0])) in ipaddress.ip_network(att.node.subnet)

    routes = att.routes()
    for want, selection in zip(wanted, workload.networks):
        link = links[want.interface]
        entry = next(e for e in entries if not e.default and e.interface == want.interface)
        observed = addresses(link)
        assert observed == {bare(a) for a in entry.ips}, f"{where} {want.interface}: namespace vs network-status"
        if want.requested_ips:
            assert observed == {bare(a) for a in want.requested_ips}, f"{where} {want.interface}"
        elif want.pools:
            for address in observed:
                assert any(ipaddress.ip_address(address) in pool for pool in want.pools), f"{where} {address}"
        assert link["address"].lower() == (entry.mac or "").lower(), f"{where} {want.interface} MAC"
        if want.mac:
            assert link["address"].lower() == want.mac.lower(), f"{where} {want.interface} MAC"
        for gateway in (selection.default_route or ()) if default_routes else ():
            assert {"dst": "default", "gateway": str(gateway), "dev": want.interface} in [
                {k: r.get(k) for k in ("dst", "gateway", "dev")} for r in routes], f"{where} default route via {gateway}"
            assert str(gateway) in entry.gateway, f"{where} network-status gateway"


def fail_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("verify: ")]


# --- the dev stack (the guide) ------------------------------------------------------------------


def test_dev_stack_multus_attaches_net1_in_the_guide_range_and_verify_passes(new_stack, cluster, datapath):
    stack = new_stack()
    stack.up()
    dp = datapath(multus_namespace=stack.outputs()["multusNamespace"])
    attached = dp.attach_running()
    assert [a.ref for a in attached] == ["default/sample-pod"]
    att = attached[0]

    done = verify(stack, cluster)
    assert done.returncode == 0, done.stdout + done.stderr
    net1 = next(e for e in network_status(cluster, att) if e.interface == "net1")
    assert net1.name == "default/macvlan-conf"
    assert GUIDE_FIRST <= ipaddress.ip_address(bare(net1.ips[0])) <= GUIDE_LAST
    check_namespace(cluster, stack, att)
    link = att.links()["net1"]
    assert link["linkinfo"]["info_kind"] == "macvlan" and link["linkinfo"]["info_data"]["mode"] == "bridge"
    # The guide's NAD routes 0.0.0.0/0 through its gateway 192.168.1.1 on net1.
    assert {"dst": "default", "gateway": "192.168.1.1", "dev": "net1"} in [
        {k: r.get(k) for k in ("dst", "gateway", "dev")} for r in att.routes()]

    # DEL gives everything back: net1 and eth0 gone, host-local's leases released.
    dp.detach(att)
    assert set(att.links()) == {"lo"}
    leases = [p.name for p in (att.node.var_lib / "cni" / "networks").rglob("*") if p.is_file()
              and p.name not in ("lock",) and not p.name.startswith("last_reserved_ip")]
    assert leases == []


def test_refresh_then_the_stack_output_shows_the_parsed_status(new_stack, cluster, datapath):
    stack = new_stack()
    stack.up()
    assert stack.outputs()["networkStatus"] == {"default/sample-pod": None}
    datapath(multus_namespace=stack.outputs()["multusNamespace"]).attach_running()
    # A plain refresh re-reads the Pod into the state but does not run the program, so the stack
    # output it computes keeps its old value; --run-program recomputes it from the refreshed Pod.
    stack.pulumi("refresh", "--yes", "--skip-preview")
    assert json.loads(stack.pulumi("stack", "output", "networkStatus", "--json").stdout) == {"default/sample-pod": None}
    stack.pulumi("refresh", "--yes", "--skip-preview", "--run-program")
    shown = json.loads(stack.pulumi("stack", "output", "networkStatus", "--json").stdout)
    live = json.loads(cluster.get("pod", "-n", "default", "sample-pod")["metadata"]["annotations"][NETWORK_STATUS])
    assert shown == {"default/sample-pod": live}
    assert [e["interface"] for e in shown["default/sample-pod"]] == ["eth0", "net1"]


def test_verify_fails_naming_the_pod_and_network_when_one_network_was_skipped(new_stack, cluster, datapath):
    stack = new_stack()
    stack.up()
    att = datapath(multus_namespace=stack.outputs()["multusNamespace"]).attach_running(
        skip={"default/sample-pod": ["macvlan-conf"]})[0]
    assert set(att.links()) == {"lo", "eth0"}  # the harness really left it out
    done = verify(stack, cluster)
    assert done.returncode == 1, done.stdout + done.stderr
    assert fail_lines(done) == [
        "verify: pod default/sample-pod: net1 default/macvlan-conf: attachment missing from network-status"]


def test_verify_fails_when_a_nad_changed_under_a_running_pod(new_stack, cluster, datapath):
    stack = new_stack()
    stack.up()
    att = datapath(multus_namespace=stack.outputs()["multusNamespace"]).attach_running()[0]
    assert verify(stack, cluster).returncode == 0

    # Only the NAD moves to another range (`--target`): the pod keeps the address it was given.
    path = stack.workdir / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace('"192.168.1.', '"192.168.7.'))
    nad = next(r["urn"] for r in stack.state() if r["type"].endswith(":NetworkAttachmentDefinition"))
    stack.pulumi("up", "--yes", "--skip-preview", "--target", nad)
    assert cluster.get("pod", "-n", "default", "sample-pod")["metadata"]["uid"] == att.uid

    done = verify(stack, cluster)
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = fail_lines(done)
    assert line.startswith("verify: pod default/sample-pod: net1 default/macvlan-conf: 192.168.1.2")
    assert line.endswith("is outside 192.168.7.200-192.168.7.216")


def test_a_service_account_without_the_multus_cluster_role_cannot_attach(new_stack, cluster, datapath):
    """The negative control: the harness really authenticates as the account it is given, and the
    ClusterRole is what lets Multus read the pod and its NAD."""
    stack = new_stack()
    stack.up()
    cluster.kubectl("create", "serviceaccount", "-n", "kube-system", "no-multus-role")
    try:
        dp = datapath(service_account="no-multus-role")
        with pytest.raises(HarnessError, match="forbidden"):
            dp.attach_running()
    finally:
        cluster.kubectl("delete", "serviceaccount", "-n", "kube-system", "no-multus-role")
    assert NETWORK_STATUS not in (cluster.get("pod", "-n", "default", "sample-pod")["metadata"].get("annotations") or {})


def test_thick_flavor_the_daemon_and_shim_attach_as_the_multus_service_account(new_stack, cluster, datapath):
    """The thick flavor: the real multus-daemon per node (the component's daemon-config ConfigMap, the
    thick ClusterRole through in-cluster credentials), the real multus-shim per pod."""
    stack = new_stack()
    stack.set_config("multus-cni:multus", {"flavor": "thick"})
    stack.up()
    assert cluster.get("configmap", "-n", stack.outputs()["multusNamespace"], "multus-daemon-config")
    dp = datapath(multus_namespace=stack.outputs()["multusNamespace"], flavor="thick")
    [att] = dp.attach_running()
    assert json.loads(att.node.conflist.read_text())["type"] == "multus-shim"  # written by the daemon

    done = verify(stack, cluster)
    assert done.returncode == 0, done.stdout + done.stderr
    check_namespace(cluster, stack, att)
    net1 = next(e for e in network_status(cluster, att) if e.interface == "net1")
    assert GUIDE_FIRST <= ipaddress.ip_address(bare(net1.ips[0])) <= GUIDE_LAST

    dp.detach(att)
    left = set(att.links())
    if left == {"lo", "eth0"} and 'plugin type="ptp" failed (delete): no IP ranges specified' in att.node.daemon_log.read_text():
        # Multus v4.3.0 caches a conflist cluster network lossily (only type/ipam.type survive), so the
        # daemon's DEL of the primary network fails, is logged, and the shim still reports success:
        # k8snetworkplumbingwg/multus-cni#1449, fixed by #1521 after v4.3.0. net1 was removed.
        pytest.xfail("multus-cni#1449: thick DEL of a conflist cluster network runs with a lossy config; eth0 stays")
    assert left == {"lo"}


# --- a richer stack -------------------------------------------------------------------------------

RICH_NETWORKS = [
    {"name": "macvlan-a", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                     "ipam": {"type": "host-local", "subnet": "10.10.0.0/24",
                                              "rangeStart": "10.10.0.10", "rangeEnd": "10.10.0.50"}}},
    {"name": "bridge-b", "config": {"cniVersion": "1.0.0", "type": "bridge", "bridge": "dp-br0",
                                    "capabilities": {"ips": True, "mac": True},
                                    "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.20.0.0/24",
                                             "rangeStart": "10.20.0.10", "rangeEnd": "10.20.0.100",
                                             "gateway": "10.20.0.1"}]]}}},
    {"name": "static-c", "config": {"cniVersion": "0.4.0", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                    "capabilities": {"ips": True}, "ipam": {"type": "static"}}},
    {"name": "hostdev-d", "config": {"cniVersion": "0.4.0", "type": "host-device", "device": "hostdev0",
                                     "ipam": {"type": "host-local", "subnet": "10.40.0.0/24"}}},
]
RICH_WORKLOADS = [
    {"name": "two-nets", "networks": "macvlan-a,bridge-b"},
    {"name": "selected", "networks": [
        {"name": "static-c", "ips": ["10.30.0.5/24"], "interface": "fixed0"},
        {"name": "bridge-b", "ips": ["10.20.0.77/24"], "mac": "02:00:00:00:20:77", "interface": "picked1",
         "default-route": ["10.20.0.1"]},
    ]},
    {"name": "on-hostdev", "networks": "hostdev-d"},
    {"name": "spread", "kind": "Deployment", "replicas": 2, "networks": "macvlan-a"},
]


def test_a_richer_stack_every_pod_matches_verify_and_its_namespace(new_stack, cluster, datapath):
    stack = new_stack("rich", config_from=None)
    stack.set_config("multus-cni:networks", RICH_NETWORKS)
    stack.set_config("multus-cni:workloads", [{**w, "image": "docker.io/library/alpine:3.22"} for w in RICH_WORKLOADS])
    stack.up()
    dp = datapath(multus_namespace=stack.outputs()["multusNamespace"], host_devices=["hostdev0"])
    attached = dp.attach_running()
    names = sorted(a.name for a in attached)
    assert [n for n in names if not n.startswith("spread-")] == ["on-hostdev", "selected", "two-nets"], names
    assert len(names) == 5, names
    spread = [a for a in attached if a.name.startswith("spread-")]
    assert {a.node.name for a in spread} == set(dp.nodes) and len(dp.nodes) == 2, "the Deployment spans both nodes"

    done = verify(stack, cluster)
    assert done.returncode == 0, done.stdout + done.stderr
    for att in attached:
        check_namespace(cluster, stack, att, default_routes=False)  # see the next test
    by_name = {a.name: a for a in attached}
    kinds = {name: {ifname: (link.get("linkinfo") or {}).get("info_kind") for ifname, link in by_name[name].links().items()}
             for name in ("two-nets", "selected", "on-hostdev")}
    assert kinds["two-nets"] == {"lo": None, "eth0": "veth", "net1": "macvlan", "net2": "veth"}
    assert kinds["selected"] == {"lo": None, "eth0": "veth", "fixed0": "macvlan", "picked1": "veth"}
    assert kinds["on-hostdev"] == {"lo": None, "eth0": "veth", "net1": "veth"}

    # host-device moved the node's hostdev0 into the pod; DEL gives it back to the node.
    node = by_name["on-hostdev"].node
    assert "hostdev0" not in {l["ifname"] for l in json.loads(
        subprocess.run(["ip", "-j", "-n", node.netns, "link"], capture_output=True, text=True).stdout)}
    dp.detach(by_name["on-hostdev"])
    assert "hostdev0" in {l["ifname"] for l in json.loads(
        subprocess.run(["ip", "-j", "-n", node.netns, "link"], capture_output=True, text=True).stdout)}


def test_a_default_route_selection_moves_the_pods_default_route(new_stack, cluster, datapath):
    """`default-route` (spec 4.1.2.1.9): the selected interface gets the default route, eth0 loses its
    own. Multus v4.3.0 does neither on this machine: vishvananda/netlink 1.3 lists a default route with
    Dst 0.0.0.0/0, not nil, so Multus' DeleteDefaultGW finds none and SetDefaultGW's EEXIST is ignored
    (upstream PR k8snetworkplumbingwg/multus-cni#1552, open). Everything else is asserted as usual;
    only the route itself is an expected failure, and this test passes once Multus is fixed."""
    stack = new_stack("gw", config_from=None)
    stack.set_config("multus-cni:networks", [RICH_NETWORKS[1]])
    stack.set_config("multus-cni:workloads", [{"name": "routed", "image": "docker.io/library/alpine:3.22",
                                               "networks": [{"name": "bridge-b", "default-route": ["10.20.0.1"]}]}])
    stack.up()
    att = datapath(multus_namespace=stack.outputs()["multusNamespace"]).attach_running()[0]
    done = verify(stack, cluster)
    assert done.returncode == 0, done.stdout + done.stderr
    check_namespace(cluster, stack, att, default_routes=False)
    defaults = {(r.get("gateway"), r.get("dev")) for r in att.routes() if r.get("dst") == "default"}
    if ("10.20.0.1", "net1") not in defaults:
        pytest.xfail(f"multus-cni#1552: default routes after ADD are {sorted(defaults)}, not [('10.20.0.1', 'net1')]")
    assert defaults == {("10.20.0.1", "net1")}


# --- link types this kernel may lack ------------------------------------------------------------

MISSING_KINDS = {
    "ipvlan": ({"type": "ipvlan", "master": "eth0", "mode": "l2"}, ("type", "ipvlan", "mode", "l2")),
    "vlan": ({"type": "vlan", "master": "eth0", "vlanId": 100}, ("type", "vlan", "id", "100")),
}


@pytest.mark.parametrize("kind", sorted(MISSING_KINDS))
def test_link_kinds_through_multus_or_skipped_with_the_kernels_reason(kind, new_stack, cluster, datapath):
    plugin, probe = MISSING_KINDS[kind]
    refusal = kernel_refusal(("link", PROBE_LOWER, *probe))
    if refusal:
        pytest.skip(f"this kernel cannot create a {kind} link (`ip link add ... {' '.join(probe)}`: {refusal})")
    stack = new_stack(f"kind-{kind}", config_from=None)
    stack.set_config("multus-cni:networks", [{"name": f"{kind}-net", "config": {
        "cniVersion": "0.4.0", **plugin, "ipam": {"type": "host-local", "subnet": "10.50.0.0/24"}}}])
    stack.set_config("multus-cni:workloads", [{"name": f"on-{kind}", "networks": f"{kind}-net",
                                               "image": "docker.io/library/alpine:3.22"}])
    stack.up()
    att = datapath(multus_namespace=stack.outputs()["multusNamespace"]).attach_running()[0]
    assert verify(stack, cluster).returncode == 0
    check_namespace(cluster, stack, att)
