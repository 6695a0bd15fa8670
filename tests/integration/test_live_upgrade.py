"""Upgrading the Multus a stack owns, with the real `pulumi` CLI on the kwok cluster: a flavor switch
goes through `multus-cni upgrade`, which lifts protection from exactly the superseded ConfigMap; an
upgrade never rides along with a network change. A version bump (an in-place update of the
protected DaemonSet, from v3.9.3 and v4.2.3, multus-cni#1218) is proven in
test_live_upgrade_datapath.py, with the nodes' binaries on both sides of it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import Stack, said
from .test_live_lifecycle import planned

pytestmark = pytest.mark.live

DS = ("daemonset", "-n", "kube-system", "kube-multus-ds")
NETWORK = {"name": "blue", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
                                      "ipam": {"type": "host-local", "subnet": "192.0.2.0/24"}}}


def tool(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "multus_cni_cli", *args, "--stack", stack.name], cwd=stack.workdir,
                          env=stack.env, capture_output=True, text=True, timeout=900)


def daemonset(cluster) -> dict:
    return cluster.get(*DS)


def image(ds: dict) -> str:
    return ds["spec"]["template"]["spec"]["containers"][0]["image"]


def protected(stack: Stack) -> dict[str, bool]:
    """Whether each object of the Multus component is protected, by Pulumi name."""
    return {r["urn"].rsplit("::", 1)[-1]: bool(r.get("protect")) for r in stack.state()
            if (r.get("parent") or "").endswith("multus-cni:index:Multus::multus")}


def test_a_flavor_switch_needs_the_upgrade_command_and_deletes_only_the_superseded_config_map(new_stack, cluster):
    stack = new_stack("flavor", config_from=None)
    stack.set_config("multus-cni:networks", [NETWORK])
    stack.up()
    uid = daemonset(cluster)["metadata"]["uid"]
    stack.set_config("multus-cni:multus", {"flavor": "thick"})
    # A plain `pulumi up` may not delete the protected thin ConfigMap: its preview fails, nothing changes.
    refused = stack.pulumi("up", "--yes", check=False)
    assert refused.returncode != 0 and said(refused, "protected")
    assert cluster.kubectl("get", "configmap", "-n", "kube-system", "multus-daemon-config", check=False).returncode != 0
    assert image(daemonset(cluster)).endswith(":v4.3.0")

    plan = tool(stack, "upgrade")
    assert plan.returncode == 0, plan.stderr
    assert "pulumi state unprotect" in plan.stdout and "multus-config " in plan.stdout
    assert all(protected(stack).values())  # the plan changed nothing
    done = tool(stack, "upgrade", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    ds = daemonset(cluster)
    assert ds["metadata"]["uid"] == uid and image(ds).endswith(":v4.3.0-thick")
    assert cluster.kubectl("get", "configmap", "-n", "kube-system", "multus-cni-config", check=False).returncode != 0
    cluster.get("configmap", "-n", "kube-system", "multus-daemon-config")
    # Every Multus object left is protected, the new ConfigMap included.
    assert protected(stack) == {name: True for name in (
        "multus-crd", "multus-cluster-role", "multus-cluster-role-binding", "multus-service-account",
        "multus-daemon-config", "multus-daemonset")}
    stack.pulumi("preview", "--expect-no-changes")

    # And back to thin, the same way.
    stack.set_config("multus-cni:multus", {})
    back = tool(stack, "upgrade", "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert daemonset(cluster)["metadata"]["uid"] == uid and image(daemonset(cluster)).endswith(":v4.3.0")
    assert cluster.kubectl("get", "configmap", "-n", "kube-system", "multus-daemon-config", check=False).returncode != 0
    stack.pulumi("preview", "--expect-no-changes")


def test_an_upgrade_with_a_network_change_is_refused_and_changes_nothing(new_stack, cluster):
    stack = new_stack("refuse", config_from=None)
    stack.set_config("multus-cni:multus", {"image": {"tag": "v4.2.3"}})
    stack.set_config("multus-cni:networks", [NETWORK])
    stack.up()
    generation = daemonset(cluster)["metadata"]["generation"]
    stack.set_config("multus-cni:multus", {})
    stack.set_config("multus-cni:networks", [{**NETWORK, "config": {**NETWORK["config"], "mode": "vepa"}}])
    done = tool(stack, "upgrade", "--yes")
    assert done.returncode == 1
    assert said(done, "refused: this `pulumi up` would roll the Multus DaemonSet and change networks (default/blue changed)")
    assert daemonset(cluster)["metadata"]["generation"] == generation
    # A plain `pulumi up` is refused the same way by the hooks, in its preview: nothing is applied.
    plain = stack.pulumi("up", "--yes", check=False)
    assert plain.returncode != 0
    assert said(plain, "refused: this `pulumi up` would roll the Multus DaemonSet and change networks (default/blue)")
    assert daemonset(cluster)["metadata"]["generation"] == generation
    assert "vepa" not in cluster.get("network-attachment-definitions", "-n", "default", "blue")["spec"]["config"]
    # One change at a time works: the network first, then the upgrade.
    stack.set_config("multus-cni:multus", {"image": {"tag": "v4.2.3"}})
    stack.up()
    stack.set_config("multus-cni:multus", {})
    stack.up()
    assert image(daemonset(cluster)).endswith(":v4.3.0")


def test_the_upgrade_command_lifts_no_other_protection(new_stack, cluster):
    """A flavor switch together with a new namespace would replace the ServiceAccount and DaemonSet:
    `multus-cni upgrade` unprotects only the superseded ConfigMap, so the `up`'s preview fails."""
    stack = new_stack("other", config_from=None)
    stack.up()
    uid = daemonset(cluster)["metadata"]["uid"]
    stack.set_config("multus-cni:multus", {"flavor": "thick", "namespace": "multus"})
    done = tool(stack, "upgrade", "--yes")
    assert done.returncode == 1
    assert said(done, "upgrade stopped: pulumi up:") and said(done, "protect")
    assert daemonset(cluster)["metadata"]["uid"] == uid and image(daemonset(cluster)).endswith(":v4.3.0")
    assert cluster.kubectl("get", "daemonset", "-n", "multus", "kube-multus-ds", check=False).returncode != 0
    # Exactly the superseded ConfigMap lost its protection; the rest of Multus keeps it.
    assert [name for name, on in protected(stack).items() if not on] == ["multus-config"]
    # Going back to the deployed config protects it again with a plain `pulumi up`.
    stack.set_config("multus-cni:multus", {})
    stack.up()
    assert all(protected(stack).values())
