"""whereabouts for real: `pulumi up` with `whereabouts.enabled` (and `cniPlugins.enabled`, whose
DaemonSet the same stack applies) installs its CRDs and RBAC, and the real whereabouts v0.9.2 binary (the toolchain's, built from its Go module) allocates the addresses of
two replicas on two nodes from one IPPool in the API server, as the whereabouts ServiceAccount.

The data-path harness (datapath.py) runs the real Multus thin plugin for each Running pod; macvlan
calls whereabouts as its IPAM plugin, which reads the flat config and kubeconfig the DaemonSet's
install script would write on a node.
"""

from __future__ import annotations

import ipaddress

import pytest

from .conftest import said
from .test_live_datapath import addresses, bare, check_namespace, datapath, network_status, verify  # noqa: F401 (fixture)

pytestmark = pytest.mark.live

RANGE = "10.60.0.0/28"
# whereabouts' IPPoolName for an unnamed network: the range with '/' (and ':') replaced by '-'.
POOL = "10.60.0.0-28"
NETWORK = {"name": "wa-net", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                        "ipam": {"type": "whereabouts", "range": RANGE, "exclude": ["10.60.0.1/32"]}}}
WORKLOAD = {"name": "wa-web", "kind": "Deployment", "replicas": 2, "networks": "wa-net", "image": "docker.io/library/alpine:3.22"}


def test_whereabouts_gives_two_replicas_distinct_addresses_from_the_api_servers_ippool(new_stack, cluster, datapath):
    stack = new_stack("wa", config_from=None)
    stack.set_config("multus-cni:whereabouts", {"enabled": True})
    stack.set_config("multus-cni:cniPlugins", {"enabled": True})
    stack.set_config("multus-cni:networks", [NETWORK])
    stack.set_config("multus-cni:workloads", [WORKLOAD])
    done = stack.up()
    assert not said(done, "use whereabouts IPAM, which this stack does not install")
    assert not said(done, "is not known to be in the nodes' /opt/cni/bin")
    outputs = stack.outputs()
    assert (outputs["whereaboutsDaemonSet"], outputs["cniPluginsDaemonSet"]) == ("whereabouts", "cni-plugins")
    plugins = cluster.get("daemonset", "-n", "kube-system", "cni-plugins")
    assert plugins["status"]["desiredNumberScheduled"] == 2  # one per (kwok) node
    for plural in ("ippools", "overlappingrangeipreservations", "nodeslicepools"):
        assert cluster.get("crd", f"{plural}.whereabouts.cni.cncf.io")["status"]["acceptedNames"]["plural"] == plural

    dp = datapath(multus_namespace=outputs["multusNamespace"], whereabouts="kube-system")
    attached = dp.attach_running()
    assert sorted(a.name.rsplit("-", 2)[0] for a in attached) == ["wa-web", "wa-web"]
    assert len({a.node.name for a in attached}) == 2, "the two replicas run on two nodes: one pool serves both"

    pool = cluster.get("ippools.whereabouts.cni.cncf.io", "-n", "kube-system", POOL)
    assert pool["spec"]["range"] == RANGE
    allocations = pool["spec"]["allocations"]
    assert len(allocations) == 2, allocations
    base = ipaddress.ip_network(RANGE).network_address
    allocated = {str(base + int(offset)): entry["podref"] for offset, entry in allocations.items()}
    seen = {}
    for att in attached:
        [net1] = [e for e in network_status(cluster, att) if e.interface == "net1"]
        address = bare(net1.ips[0])
        assert addresses(att.links()["net1"]) == {address}, att.ref
        seen[att.ref] = address
    assert len(set(seen.values())) == 2, seen  # no duplicate
    assert allocated == {address: ref for ref, address in seen.items()}  # the API server's record is what the pods hold
    for address in seen.values():  # inside the range, neither its network address nor the excluded .1
        assert ipaddress.ip_address(address) in ipaddress.ip_network(RANGE)
        assert address not in ("10.60.0.0", "10.60.0.1")

    checked = verify(stack, cluster)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for att in attached:
        check_namespace(cluster, stack, att)

    # DEL gives each address back to the pool.
    dp.detach(attached[0])
    remaining = cluster.get("ippools.whereabouts.cni.cncf.io", "-n", "kube-system", POOL)["spec"]["allocations"]
    assert [entry["podref"] for entry in remaining.values()] == [attached[1].ref]
    dp.detach(attached[1])

    # Disabled again: its objects go, but not the CRDs (retainOnDelete) nor the IPPools they hold.
    stack.set_config("multus-cni:whereabouts", {"enabled": False})
    done = stack.up()
    assert said(done, "use whereabouts IPAM, which this stack does not install")
    assert cluster.kubectl("get", "daemonset", "-n", "kube-system", "whereabouts", check=False).returncode
    assert cluster.kubectl("get", "clusterrole", "whereabouts-cni", check=False).returncode
    assert cluster.get("ippools.whereabouts.cni.cncf.io", "-n", "kube-system", POOL)["spec"]["range"] == RANGE
