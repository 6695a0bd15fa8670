"""What later `pulumi up`s and `destroy`s do to a deployed stack: protection, replacements, and the
documented decommission, each on a stack of its own."""

from __future__ import annotations

import json

import pytest

from .conftest import Stack, said

pytestmark = pytest.mark.live

MACVLAN = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge"}


def network(name: str, subnet: str) -> dict:
    return {"name": name, "config": {**MACVLAN, "ipam": {"type": "host-local", "subnet": subnet}}}


def two_networks(stack: Stack, blue_subnet: str = "192.0.2.0/24") -> None:
    stack.set_config("multus-cni:networks", [network("blue", blue_subnet), network("green", "198.51.100.0/24")])
    stack.set_config("multus-cni:workloads", [
        {"name": "on-blue", "networks": "blue", "image": "docker.io/library/alpine:3.22"},
        {"name": "on-green", "networks": "green", "image": "docker.io/library/alpine:3.22"},
        {"name": "on-both", "networks": "blue,green", "image": "docker.io/library/alpine:3.22"},
    ])


def multus_objects(stack: Stack, cluster) -> dict[str, tuple[str, str]]:
    """Each object the Multus component owns (found in the state), as the API server has it now:
    (uid, resourceVersion), so a replacement and an in-place update both show."""
    resources = stack.state()
    multus = next(r["urn"] for r in resources if r["type"] == "multus-cni:index:Multus")
    found = {}
    for r in resources:
        if r.get("parent") == multus:
            meta = r["outputs"]["metadata"]
            scope = ["-n", meta["namespace"]] if meta.get("namespace") else []
            live = cluster.get(f"{r['outputs']['kind']}.{r['outputs']['apiVersion'].split('/')[0]}"
                               if "/" in r["outputs"]["apiVersion"] else r["outputs"]["kind"], meta["name"], *scope)
            found[r["urn"]] = (live["metadata"]["uid"], live["metadata"]["resourceVersion"])
    return found


def pod_uids(cluster, names: list[str]) -> dict[str, str]:
    return {name: cluster.get("pod", "-n", "default", name)["metadata"]["uid"] for name in names}


def planned(stack: Stack) -> dict[str, str]:
    """`pulumi preview --json`: the operation planned for each resource name that changes."""
    steps = json.loads(stack.pulumi("preview", "--json").stdout).get("steps", [])
    return {s["urn"].rsplit("::", 1)[-1]: s["op"] for s in steps if s["op"] != "same"}


def test_changing_a_network_replaces_exactly_the_pods_that_use_it(new_stack, cluster):
    stack = new_stack("lifecycle", config_from=None)
    two_networks(stack)
    stack.up()
    pods = ["on-blue", "on-green", "on-both"]
    before, multus_before = pod_uids(cluster, pods), multus_objects(stack, cluster)

    two_networks(stack, blue_subnet="203.0.113.0/24")
    plan = planned(stack)
    assert {name for name, op in plan.items() if op in ("replace", "create-replacement", "delete-replaced")} == {
        "default/on-blue-pod", "default/on-both-pod"}
    assert not [name for name in plan if name.startswith("multus")]
    stack.up()

    after = pod_uids(cluster, pods)
    assert [p for p in pods if after[p] != before[p]] == ["on-blue", "on-both"]
    assert multus_objects(stack, cluster) == multus_before
    nad = cluster.get("network-attachment-definition", "-n", "default", "blue")
    assert json.loads(nad["spec"]["config"])["ipam"]["subnet"] == "203.0.113.0/24"


def test_moving_multus_to_another_namespace_is_refused_by_protection(new_stack, cluster):
    stack = new_stack()
    stack.up()
    before = multus_objects(stack, cluster)
    stack.set_config("multus-cni:multus", {"namespace": "multus-system"})
    done = stack.pulumi("up", "--yes", check=False)  # its preview refuses before anything is applied
    assert done.returncode != 0
    assert said(done, "as it is currently marked for protection")
    assert not said(done, "Traceback")
    assert multus_objects(stack, cluster) == before
    assert cluster.kubectl("get", "namespace", "multus-system", check=False).returncode != 0


def test_destroy_exclude_protected_keeps_multus_then_the_decommission_removes_it(new_stack, cluster):
    stack = new_stack()
    stack.up()
    outputs = stack.outputs()
    multus_before = multus_objects(stack, cluster)

    stack.pulumi("destroy", "--exclude-protected", "--yes", "--skip-preview")
    assert cluster.kubectl("get", "pod", "-n", "default", "sample-pod", check=False).returncode != 0
    assert cluster.get("network-attachment-definitions", "-A")["items"] == []
    assert multus_objects(stack, cluster) == multus_before
    cluster.get("daemonset", "-n", outputs["multusNamespace"], outputs["multusDaemonSet"])

    # Unprotect, then destroy (what decommission does after the nodes are clean).
    stack.pulumi("state", "unprotect", "--all", "--yes")
    stack.pulumi("destroy", "--yes", "--skip-preview")
    gone = cluster.kubectl("get", "daemonset", "-n", outputs["multusNamespace"], outputs["multusDaemonSet"], check=False)
    assert gone.returncode != 0
    assert cluster.kubectl("get", "crd", "network-attachment-definitions.k8s.cni.cncf.io", check=False).returncode != 0
    assert stack.state() == []


def test_destroy_without_its_preview_deletes_the_networks_but_never_multus(new_stack, cluster):
    """--skip-preview: the engine deletes unprotected objects before it reaches a protected one."""
    stack = new_stack()
    stack.up()
    multus_before = multus_objects(stack, cluster)
    done = stack.pulumi("destroy", "--yes", "--skip-preview", check=False)
    assert done.returncode != 0
    assert said(done, "cannot be deleted because it is protected")
    assert multus_objects(stack, cluster) == multus_before
    assert cluster.get("network-attachment-definitions", "-A")["items"] == []
