"""The guide on the local cluster's real node (cluster/node.sh): a kubelet, containerd and runc run
the Multus DaemonSet's pod and the sample pods, and the kubelet's CNI call goes through the real
Multus to the real macvlan and host-local plugins, so network-status is what Multus itself wrote."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from typing import Any, Iterator

import pytest

from .conftest import ROOT, Cluster, Stack, Stacks, macvlan_address, network_status, start_cluster, verify_stack, stop_cluster

pytestmark = pytest.mark.live

NODE = "real-node"


@pytest.fixture(scope="module")
def real_cluster(toolchain, tmp_path_factory) -> Iterator[Cluster]:
    why = subprocess.run(["bash", "cluster/node.sh", "why-not"], cwd=ROOT, env=toolchain, capture_output=True, text=True)
    if why.returncode:
        if os.environ.get("REQUIRE_LIVE") == "1":
            pytest.fail(f"REQUIRE_LIVE=1 but this machine cannot run a real node: {why.stdout.strip()}", pytrace=False)
        pytest.skip(f"no real node here: {why.stdout.strip()}")
    name = f"real-{uuid.uuid4().hex[:6]}"
    cluster = start_cluster(toolchain, tmp_path_factory.mktemp("kwok"), name, real_node=True)
    try:
        yield cluster
    finally:
        stop_cluster(cluster.env, name)


def sample_image() -> str:
    return subprocess.run(["python3", "cluster/images.py", "names", "sample"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def guide(real_cluster, tmp_path_factory) -> Iterator[Stack]:
    stacks = Stacks(real_cluster, tmp_path_factory.mktemp("stacks"))
    stacks.env["MULTUS_CNI_SAMPLE_IMAGE"] = sample_image()  # what `make up` sets on this cluster
    stack = stacks()
    stack.up()
    # Not decommissioned: the cluster is deleted with the module, its node and the stack's state with it.
    yield stack


def on_node(cluster: Cluster, *command: str) -> str:
    """What the node itself sees (its mount and network namespaces)."""
    return subprocess.run(["bash", "cluster/node.sh", "exec", cluster.name, *command], cwd=ROOT, env=cluster.env,
                          capture_output=True, text=True, check=True, timeout=60).stdout


def verify(stack: Stack) -> subprocess.CompletedProcess:
    return verify_stack(stack.workdir, stack.env, stack.name)


def test_the_guides_pod_gets_net1_from_the_real_multus(guide, real_cluster):
    pod, status = network_status(real_cluster, "sample-pod")
    assert pod["spec"]["nodeName"] == NODE
    address = macvlan_address(status)
    # Written on the node by the real thin_entrypoint, and the address host-local recorded there.
    assert json.loads(on_node(real_cluster, "cat", "/etc/cni/net.d/00-multus.conf"))["type"] == "multus"
    assert on_node(real_cluster, "cat", f"/var/lib/cni/networks/macvlan-conf/{address}").strip()
    done = verify(guide)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "default/macvlan-conf" in done.stdout


def test_a_pod_deleted_and_made_again_gets_its_attachment_again(guide, real_cluster):
    _, status = network_status(real_cluster, "sample-pod")
    old = macvlan_address(status)
    real_cluster.kubectl("delete", "pod", "-n", "default", "sample-pod", "--wait=true", "--timeout=90s")
    # Multus ran the DEL: host-local gave the address back.
    assert old not in on_node(real_cluster, "ls", "/var/lib/cni/networks/macvlan-conf")
    guide.up("--refresh")
    _, status = network_status(real_cluster, "sample-pod")
    macvlan_address(status)
    assert verify(guide).returncode == 0


def test_multus_rolled_while_pods_run_still_attaches_new_pods(guide, real_cluster):
    before, _ = network_status(real_cluster, "sample-pod")
    ds_pods = {p["metadata"]["uid"] for p in real_multus_pods(real_cluster)}
    guide.set_config("multus-cni:multus", {"resources": {"daemon": {"requests": {"cpu": "120m", "memory": "64Mi"},
                                                                   "limits": {"cpu": "120m", "memory": "64Mi"}}}})
    workloads = guide_workloads(guide)
    guide.set_config("multus-cni:workloads", [*workloads, {**workloads[0], "name": "sample-pod-2"}])
    guide.up()
    rolled = real_multus_pods(real_cluster)
    assert rolled and not {p["metadata"]["uid"] for p in rolled} & ds_pods  # a new Multus pod on the node
    assert rolled[0]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "64Mi"
    after, _ = network_status(real_cluster, "sample-pod")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # the running pod was left alone
    pod, status = network_status(real_cluster, "sample-pod-2")
    assert pod["spec"]["nodeName"] == NODE
    macvlan_address(status)
    done = verify(guide)
    assert done.returncode == 0, done.stdout + done.stderr


def real_multus_pods(cluster: Cluster) -> list[dict]:
    """The Multus DaemonSet's pods on the real node, once the DaemonSet has rolled and they run."""
    deadline = time.monotonic() + 120
    while True:
        ds = cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")
        pods = [p for p in cluster.get("pods", "-n", "kube-system", "-l", "app=multus")["items"]
                if p["spec"].get("nodeName") == NODE and not p["metadata"].get("deletionTimestamp")]
        done = ds["status"].get("updatedNumberScheduled") == ds["status"].get("desiredNumberScheduled") \
            and ds["metadata"]["generation"] == ds["status"].get("observedGeneration")
        if done and len(pods) == 1 and pods[0]["status"].get("phase") == "Running":
            return pods
        if time.monotonic() > deadline:
            raise AssertionError(f"the Multus DaemonSet did not roll on {NODE}: {ds['status']}")
        time.sleep(2)


def guide_workloads(stack: Stack) -> list[dict]:
    return yaml_config(stack)["multus-cni:workloads"]


WA_RANGE = "192.168.5.0/28"
WA_NETWORK = {"name": "wa-net", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                           "ipam": {"type": "whereabouts", "range": WA_RANGE}}}


def test_the_add_ons_images_install_the_plugins_and_whereabouts_allocates_on_the_node(guide, real_cluster):
    """cniPlugins and whereabouts enabled: their DaemonSets' pods run on the node from the images built
    locally, the plugins the node then runs are the ones built at the images' release, and a pod on a
    whereabouts network gets its address from the IPPool in the API server."""
    import ipaddress

    guide.set_config("multus-cni:cniPlugins", {"enabled": True})
    guide.set_config("multus-cni:whereabouts", {"enabled": True})
    networks = yaml_config(guide)["multus-cni:networks"]
    guide.set_config("multus-cni:networks", [*networks, WA_NETWORK])
    workloads = guide_workloads(guide)
    guide.set_config("multus-cni:workloads", [*workloads, {**workloads[0], "name": "wa-pod", "networks": "wa-net"}])
    guide.up()
    for selector in ("name=cni-plugins", "app=whereabouts"):
        pods = [p for p in real_cluster.get("pods", "-n", "kube-system", "-l", selector)["items"]
                if p["spec"].get("nodeName") == NODE]
        assert [p["status"]["phase"] for p in pods] == ["Running"], selector
    # A plugin run with no CNI_COMMAND prints its about string: the release the toolchain built.
    about = subprocess.run(["bash", "cluster/node.sh", "exec", real_cluster.name, "/opt/cni/bin/macvlan"], cwd=ROOT,
                           env=real_cluster.env, capture_output=True, text=True, timeout=60)
    assert "CNI macvlan plugin v1.9.1" in about.stdout + about.stderr
    assert on_node(real_cluster, "ls", "/opt/cni/bin/whereabouts").strip() == "/opt/cni/bin/whereabouts"
    pod, status = network_status(real_cluster, "wa-pod")
    assert pod["spec"]["nodeName"] == NODE
    (net1,) = [entry for entry in status if entry.get("interface") == "net1"]
    (address,) = net1["ips"]
    assert net1["name"] == "default/wa-net" and ipaddress.ip_address(address) in ipaddress.ip_network(WA_RANGE)
    pools = real_cluster.get("ippools.whereabouts.cni.cncf.io", "-A")["items"]
    allocated = [a["podref"] for p in pools for a in (p["spec"].get("allocations") or {}).values()]
    assert "default/wa-pod" in allocated
    done = verify(guide)
    assert done.returncode == 0, done.stdout + done.stderr


def yaml_config(stack: Stack) -> dict:
    import yaml

    return yaml.safe_load((stack.workdir / f"Pulumi.{stack.name}.yaml").read_text())["config"]
