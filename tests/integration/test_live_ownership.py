"""One cluster, one owner, with the real `pulumi` CLI on the kwok cluster: what someone changes or
deletes behind the stack's back, one `pulumi up --refresh` restores exactly (its preview names who
changed which field), and a stack never takes over objects another stack or kubectl created."""

from __future__ import annotations

import json

import pytest

from components import kube
from .conftest import Stack, said

pytestmark = pytest.mark.live

NETWORKS = [{"name": name, "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
                                      "ipam": {"type": "host-local", "subnet": subnet}}}
            for name, subnet in (("blue", "192.0.2.0/24"), ("green", "198.51.100.0/24"))]
NAD = "network-attachment-definitions.k8s.cni.cncf.io"
# What someone does behind Pulumi's back, and the objects it hits.
OBJECTS = {
    "blue": (NAD, "-n", "default", "blue"),
    "green": (NAD, "-n", "default", "green"),
    "daemonset": ("daemonset", "-n", "kube-system", "kube-multus-ds"),
    "config": ("configmap", "-n", "kube-system", "multus-cni-config"),
    "cluster-role": ("clusterrole", "multus"),
}
# What the API server sets on every write: never part of "the same object".
SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")


def as_written(obj: dict) -> dict:
    metadata = {k: v for k, v in obj["metadata"].items() if k not in SERVER_SET}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": metadata}


def snapshot(cluster) -> dict[str, str]:
    return {role: json.dumps(as_written(cluster.get(*what)), sort_keys=True) for role, what in OBJECTS.items()}


def test_one_up_with_refresh_restores_what_was_edited_patched_and_deleted(new_stack, cluster):
    stack = new_stack("drift", config_from=None)
    stack.set_config("multus-cni:networks", NETWORKS)
    stack.up()
    before = snapshot(cluster)

    # kubectl edit of one NAD's config, kubectl patch of the ClusterRole, three deletions.
    cluster.kubectl("edit", *OBJECTS["blue"], env={"KUBE_EDITOR": "sed -i s/eth0/eth9/"})
    assert json.loads(cluster.get(*OBJECTS["blue"])["spec"]["config"])["master"] == "eth9"
    # A rule widened in place (pods: get -> delete). An element *added* to a list is invisible to the
    # provider's refresh (docs/operations.md "Drift: what happens when someone edits the cluster").
    cluster.kubectl("patch", *OBJECTS["cluster-role"], "--type", "json",
                    "-p", '[{"op": "replace", "path": "/rules/1/verbs/0", "value": "delete"}]')
    for role in ("green", "daemonset", "config"):
        cluster.kubectl("delete", *OBJECTS[role])

    # The preview with refresh plans the repair and says who changed what; nothing is applied.
    preview = stack.pulumi("preview", "--refresh")
    assert said(preview, "drift on NetworkAttachmentDefinition default/blue: kubectl-edit changed .spec.config; this update takes it back")
    assert said(preview, "drift on ClusterRole multus: kubectl-patch changed .rules; this update takes it back"), preview.stdout
    assert cluster.kubectl("get", *OBJECTS["green"], check=False).returncode != 0

    stack.pulumi("up", "--refresh", "--yes")
    assert snapshot(cluster) == before
    stack.pulumi("preview", "--refresh", "--expect-no-changes")


def managers(obj: dict) -> set[str]:
    return {entry["manager"] for entry in obj["metadata"]["managedFields"]}


def owner(obj: dict) -> str:
    return obj["metadata"]["annotations"][kube.STACK_ANNOTATION]


def test_a_second_stack_refuses_what_another_stack_or_kubectl_owns(new_stack, cluster):
    first = new_stack("first", config_from=None)
    first.up()
    crd_before = cluster.get("crd", NAD, "--show-managed-fields")
    assert owner(crd_before) == "organization/multus-cni/first"

    # Another stack of the project on the same cluster, Multus in another namespace: its cluster-wide
    # objects (the CRD, the ClusterRole and its binding) are the first stack's.
    second = new_stack("second", config_from=None)
    second.set_config("multus-cni:multus", {"namespace": "kube-public"})
    refused = second.pulumi("preview", check=False)
    assert refused.returncode != 0
    assert said(refused, f"CustomResourceDefinition {NAD} already exists, managed by Pulumi stack organization/multus-cni/first; "
                         "this stack would take it over without a word: to manage it from this stack instead, "
                         "set multus-cni:multus.adopt: true once that stack lets it go")
    assert said(refused, "ClusterRole multus already exists, managed by Pulumi stack organization/multus-cni/first")
    assert "Traceback" not in refused.stdout + refused.stderr
    # The real run (no preview first) refuses the same way, and the objects stay the first stack's.
    assert second.pulumi("up", "--yes", "--skip-preview", check=False).returncode != 0
    crd_after = cluster.get("crd", NAD, "--show-managed-fields")
    assert managers(crd_after) == managers(crd_before)
    assert crd_after["metadata"]["resourceVersion"] == crd_before["metadata"]["resourceVersion"]
    first.pulumi("preview", "--refresh", "--expect-no-changes")

    # A NAD someone made with kubectl: the first stack refuses to create its namesake, adopts it when told.
    nad = {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
           "metadata": {"name": "blue", "namespace": "default"},
           "spec": {"config": json.dumps({**NETWORKS[0]["config"], "name": "blue"})}}
    cluster.kubectl("create", "-f", "-", input_text=json.dumps(nad))
    first.set_config("multus-cni:networks", NETWORKS[:1])
    refused = first.pulumi("up", "--yes", check=False)
    assert said(refused, "NetworkAttachmentDefinition default/blue already exists, managed by kubectl (kubectl-create); "
                         "this stack would take it over without a word: to manage it from this stack instead, "
                         "set multus-cni:networks[0].adopt: true")
    first.set_config("multus-cni:networks", [{**NETWORKS[0], "adopt": True}])
    first.up()
    assert owner(cluster.get(*OBJECTS["blue"])) == "organization/multus-cni/first"
    first.pulumi("preview", "--expect-no-changes")


def test_a_run_that_created_objects_before_it_was_cut_off_takes_them_back(new_stack, cluster):
    """Its objects carry this stack's mark: a later `up` after the state lost them (an
    interrupted run's pending creates, cleared) adopts nothing by hand and refuses nothing."""
    stack: Stack = new_stack("resumed", config_from=None)
    stack.up()
    stack.pulumi("state", "unprotect", "--all", "--yes")
    exported = json.loads(stack.pulumi("stack", "export").stdout)
    exported["deployment"]["resources"] = [r for r in exported["deployment"]["resources"]
                                           if not r["type"].startswith("kubernetes:")]
    (stack.workdir / "forgotten.json").write_text(json.dumps(exported))
    stack.pulumi("stack", "import", "--file", "forgotten.json")
    done = stack.up()
    assert "already exists" not in done.stdout + done.stderr
    stack.pulumi("preview", "--expect-no-changes")
