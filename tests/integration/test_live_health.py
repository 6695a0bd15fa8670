"""Keeping Multus healthy, with the real binaries: credentials that rotate (the thin DaemonSet's real
`thin_entrypoint` with upstream's args and with ours; the thick daemon) and the readiness indicator.

Each test deploys a stack with the real engine, reads the Multus DaemonSet back from the API server and
runs what it says on a fake node (datapath.py): the kubeconfig, the generated 00-multus.conflist and
every ADD come from the upstream v4.3.0 binaries, authenticated by TokenRequest tokens bound to the
DaemonSet's pod objects.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from components.config.multus_health import quantity_value
from components.multus.manifests import DAEMONSET, UPSTREAM_THIN_ARGS

from .burst import NETWORK, Cgroup, add_all, burst_pods
from .conftest import said
from .datapath import DataPath, FakeNode, HarnessError
from .test_live_datapath import datapath  # noqa: F401 (the fixture)

pytestmark = pytest.mark.live

REFRESH = "--cleanup-config-on-exit=true"
# Multus v4.3.0 pkg/types/conf.go GetReadinessIndicatorFile: polls once a second for 45 s.
READINESS_TIMEOUT = 45
# Pods that get their networks at once: about a node restart with the kubelet's default --max-pods 110.
BURST = 100
UPSTREAM_THICK_MEMORY = "50Mi"  # v4.3.0 deployments/multus-daemonset-thick.yml, requests = limits


def deployed_args(cluster, namespace: str) -> list[str]:
    """The thin container's args as `pulumi up` applied them."""
    ds = cluster.get("daemonset", "-n", namespace, DAEMONSET)
    return ds["spec"]["template"]["spec"]["containers"][0]["args"]


def sample_pod(cluster) -> dict:
    return cluster.get("pod", "-n", "default", "sample-pod")


def replace_multus_pod(cluster, dp: DataPath, node: str) -> dict:
    """Delete the Multus pod object on `node` (every token bound to it is invalid from then on) and
    return the one the DaemonSet controller creates in its place."""
    old = dp.multus_pod(node)
    cluster.kubectl("delete", "pod", "-n", old["metadata"]["namespace"], old["metadata"]["name"],
                    "--grace-period=0", "--force", "--wait=true")
    deadline = time.monotonic() + 120
    while True:
        try:
            new = dp.multus_pod(node)
            if new["metadata"]["uid"] != old["metadata"]["uid"]:
                return new
        except HarnessError:
            pass
        assert time.monotonic() < deadline, f"the DaemonSet did not replace {old['metadata']['name']} on {node}"
        time.sleep(0.5)


def wait_until_rejected(cluster, dp: DataPath, *tokens: str) -> None:
    """Until the API server refuses each token (it caches a successful authentication for 10 s,
    kube-apiserver's --authentication-token-success-cache-ttl... default in pkg/kubeapiserver/authenticator)."""
    for index, token in enumerate(tokens):
        path = dp._kubeconfig(dp.workdir / f"probe-{index}.kubeconfig", "probe", token)
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run(["kubectl", "--kubeconfig", str(path), "auth", "whoami"], env=cluster.env,
                                  capture_output=True, text=True, timeout=60)
            if done.returncode and "Unauthorized" in done.stderr:
                break
            assert time.monotonic() < deadline, f"the API server still accepts a token of a deleted pod: {done.stdout}"
            time.sleep(1)


def kubeconfig_of(node: FakeNode) -> str:
    return (node.root / "etc" / "cni" / "net.d" / "multus.d" / "multus.kubeconfig").read_text()


def eventually(check, seconds: float, what: str) -> float:
    """Seconds until `check()` holds; fails saying `what` after `seconds`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"{what} after {seconds}s"
        time.sleep(0.2)
    return time.monotonic() - start


def wait_for_token(node: FakeNode, token: str, seconds: float) -> float:
    """Seconds until the node's Multus kubeconfig holds `token`."""
    return eventually(lambda: token in kubeconfig_of(node), seconds, f"the kubeconfig on {node.name} has the old token")


def test_thin_a_rotated_token_reaches_the_node_with_our_args_and_never_with_upstreams(new_stack, cluster, datapath):
    stack = new_stack()
    stack.up()
    namespace = stack.outputs()["multusNamespace"]
    ours = deployed_args(cluster, namespace)
    assert REFRESH in ours and REFRESH not in UPSTREAM_THIN_ARGS
    default = datapath(multus_namespace=namespace, entrypoint_args=ours, bound_tokens=True)
    upstream = datapath(multus_namespace=namespace, entrypoint_args=UPSTREAM_THIN_ARGS, bound_tokens=True)
    pod = sample_pod(cluster)
    for dp in (default, upstream):  # both work on day 1
        assert dp.attach(pod).result["interfaces"]
    name = pod["spec"]["nodeName"]
    node_ours, node_upstream = default.nodes[name], upstream.nodes[name]
    old_ours, old_upstream = (node.account.joinpath("token").read_text() for node in (node_ours, node_upstream))
    assert old_ours in kubeconfig_of(node_ours) and old_upstream in kubeconfig_of(node_upstream)

    # The pod object the token is bound to goes, and the kubelet writes a token of the new pod.
    new_token = default.bound_token(replace_multus_pod(cluster, default, name))
    wait_until_rejected(cluster, default, old_ours, old_upstream)
    for dp, node in ((default, node_ours), (upstream, node_upstream)):
        dp.rotate_token(node, new_token)

    took = wait_for_token(node_ours, new_token, seconds=10)  # the watch loop looks once a second
    assert default.attach(pod).result["interfaces"]

    time.sleep(max(0.0, 3 - took))  # upstream's thin_entrypoint had as long as ours, and more
    assert old_upstream in kubeconfig_of(node_upstream)
    with pytest.raises(HarnessError, match="Unauthorized") as caught:
        upstream.attach(pod)
    print("upstream's args after the rotation:", next(line for line in str(caught.value).splitlines() if "Unauthorized" in line))
    # The known workaround, for the record: a new container writes the kubeconfig again.
    upstream.stop(node_upstream)
    upstream.start(node_upstream)
    wait_for_token(node_upstream, new_token, seconds=30)
    assert upstream.attach(pod).result["interfaces"]

    # What --cleanup-config-on-exit also does: the config goes when the container stops, so until the
    # next pod of a DaemonSet roll has written it the runtime's first conf is the primary CNI's alone.
    default.stop(node_ours)
    confs = sorted(p.name for p in node_ours.conflist.parent.glob("*.conf*"))
    assert confs == ["10-kwok-pod-network.conflist"], confs
    default.start(node_ours)
    eventually(node_ours.conflist.exists, 30, "the restarted thin_entrypoint wrote no 00-multus.conflist")


def test_a_real_preview_warns_and_the_pack_flags_thin_args_that_cannot_refresh(new_stack):
    stack = new_stack("own-args")
    stack.set_config("multus-cni:multus", {"daemonset": {"args": list(UPSTREAM_THIN_ARGS)}})
    done = stack.pulumi("preview", "--policy-pack", "policy", "--policy-pack-config", "policy/config.json")
    assert said(done, "multus-cni:multus.daemonset.args: these arguments never refresh the node's Multus kubeconfig")
    assert said(done, "multus-credentials-refresh") and said(done, "add '--cleanup-config-on-exit=true'")


def test_thick_the_daemon_follows_a_rotated_token(new_stack, cluster, datapath):
    stack = new_stack()
    stack.set_config("multus-cni:multus", {"flavor": "thick"})
    stack.up()
    namespace = stack.outputs()["multusNamespace"]
    dp = datapath(multus_namespace=namespace, flavor="thick", bound_tokens=True)
    pod = sample_pod(cluster)
    assert dp.attach(pod).result["interfaces"]
    name = pod["spec"]["nodeName"]
    node = dp.nodes[name]
    old = node.account.joinpath("token").read_text()
    new_token = dp.bound_token(replace_multus_pod(cluster, dp, name))
    wait_until_rejected(cluster, dp, old)
    dp.rotate_token(node, new_token)

    # client-go reads the in-cluster token file again at least once a minute, and at once after a 401.
    start, failures = time.monotonic(), []
    while True:
        try:
            assert dp.attach(pod).result["interfaces"]
            break
        except HarnessError as exc:
            failures.append(str(exc))
            assert time.monotonic() - start < 90, failures[0]
            try:  # as the kubelet does after a failed ADD, so no address stays allocated
                dp.detach(dp.attached[-1])
            except HarnessError:
                pass
            time.sleep(5)
    print(f"thick: ADD passed {time.monotonic() - start:.1f}s after the rotation, after {len(failures)} failed ADDs")
    assert all("Unauthorized" in f for f in failures), failures


def test_thin_readiness_indicator_an_add_waits_then_fails_and_passes_once_the_file_exists(new_stack, cluster, datapath):
    stack = new_stack()
    stack.set_config("multus-cni:multus", {"readinessIndicatorFile": "/run/flannel/subnet.env"})
    stack.up()
    namespace = stack.outputs()["multusNamespace"]
    args = deployed_args(cluster, namespace)
    assert args[-1] == "--readiness-indicator-file=/run/flannel/subnet.env"
    dp = datapath(multus_namespace=namespace, entrypoint_args=args)
    pod = sample_pod(cluster)
    node = dp.node(pod["spec"]["nodeName"])
    indicator = node.root / "run" / "flannel" / "subnet.env"  # the node's /run/flannel/subnet.env
    assert f'"readinessindicatorfile": "{indicator}"' in node.conflist.read_text()  # thin_entrypoint wrote it

    start = time.monotonic()
    with pytest.raises(HarnessError, match="have you checked that your default network is ready"
                                            r"\? still waiting for readinessindicatorfile @ "):
        dp.attach(pod)
    assert time.monotonic() - start >= READINESS_TIMEOUT - 1

    indicator.parent.mkdir(parents=True)
    indicator.write_text("FLANNEL_NETWORK=10.244.0.0/16\n")
    assert dp.attach(pod).result["interfaces"]


def test_thick_a_burst_oom_kills_the_daemon_at_upstreams_limit_and_not_at_the_default(new_stack, cluster, datapath, tmp_path):
    """The real daemon and its plugins in a memory cgroup with the container's limit, BURST concurrent ADDs."""
    stack = new_stack("burst", config_from=None)
    stack.set_config("multus-cni:multus", {"flavor": "thick"})
    stack.set_config("multus-cni:networks", [NETWORK])
    stack.up()
    namespace = stack.outputs()["multusNamespace"]
    container = cluster.get("daemonset", "-n", namespace, DAEMONSET)["spec"]["template"]["spec"]["containers"][0]
    ours = container["resources"]["limits"]["memory"]
    node = cluster.get("nodes")["items"][0]["metadata"]["name"]
    outcome = {}
    with burst_pods(cluster, node, BURST, tmp_path) as pods:
        for name, limit in (("upstream", UPSTREAM_THICK_MEMORY), ("ours", ours)):
            cgroup, dp = Cgroup(f"multus-live-{os.getpid()}-{name}"), None
            try:
                cgroup.limit(int(quantity_value(limit)))  # before the daemon starts, as for a container
                dp = datapath(multus_namespace=namespace, flavor="thick", daemon_prefix=cgroup.join)
                fake = dp.node(node)
                failures = add_all(dp, pods)
                outcome[name] = (len(failures), cgroup.oom_kills(), failures[:1])
                cgroup.unlimit()  # so the DELs run: what raising the limit does on a node
                if fake.daemon.poll() is not None:  # the kernel killed the daemon itself
                    dp.start(fake)
                    eventually(fake.conflist.exists, 60, "the restarted multus-daemon wrote no config")
            finally:
                try:
                    if dp is not None:
                        dp.close()  # DEL, and every process out of the cgroup before it is removed
                finally:
                    cgroup.remove()
    print(f"{BURST} concurrent ADDs: {outcome}")
    failed, killed, _ = outcome["upstream"]
    assert killed > 0 and failed > 0, outcome
    assert outcome["ours"][:2] == (0, 0), outcome


def test_thick_readiness_indicator_the_daemon_waits_for_the_file_and_exits_without_it(new_stack, cluster, datapath):
    stack = new_stack()
    stack.set_config("multus-cni:multus", {"flavor": "thick", "readinessIndicatorFile": "/run/flannel/subnet.env"})
    stack.up()
    namespace = stack.outputs()["multusNamespace"]
    daemon_config = cluster.get("configmap", "-n", namespace, "multus-daemon-config")["data"]["daemon-config.json"]
    assert '"readinessindicatorfile": "/hostroot/run/flannel/subnet.env"' in daemon_config
    pod = sample_pod(cluster)

    start = time.monotonic()
    with pytest.raises(HarnessError, match="have you checked that your default network is ready"):
        datapath(multus_namespace=namespace, flavor="thick").node(pod["spec"]["nodeName"])
    assert time.monotonic() - start >= READINESS_TIMEOUT - 1  # it waited, then exited

    dp = datapath(multus_namespace=namespace, flavor="thick")
    indicator = dp.hostroot / "run" / "flannel" / "subnet.env"  # the node's /run/flannel/subnet.env

    def primary_ready() -> None:
        indicator.parent.mkdir(parents=True)
        indicator.write_text("FLANNEL_NETWORK=10.244.0.0/16\n")

    timer = threading.Timer(5, primary_ready)
    timer.start()
    start = time.monotonic()
    try:
        dp.node(pod["spec"]["nodeName"])
    finally:
        timer.cancel()
    assert time.monotonic() - start >= 5  # it waited for the file
    assert dp.attach(pod).result["interfaces"]
