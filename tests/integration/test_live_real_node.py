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
    try:
        stack = stacks()
        stack.up()
        yield stack
    finally:
        stacks.close()


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
    import yaml

    return yaml.safe_load((stack.workdir / "Pulumi.dev.yaml").read_text())["config"]["multus-cni:workloads"]
