"""The dev stack (the Tanzu guide) through the real `pulumi preview` and `pulumi up`, read back
from the API server; then what a second preview, a refresh and a destroy do to it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .conftest import Stack, rendered_objects, said

pytestmark = pytest.mark.live


@dataclass
class Deployed:
    stack: Stack
    objects: list[dict]  # what `render` lists for the same stack file


@pytest.fixture(scope="module")
def dev(module_stacks) -> Deployed:
    stack = module_stacks()
    stack.pulumi("preview", "--diff")
    stack.up()
    return Deployed(stack, rendered_objects(stack.workdir, stack.workdir / "Pulumi.dev.yaml"))


def live_object(cluster, obj: dict):
    resource = cluster.api().resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    return resource.get(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))


def uids(cluster, objects: list[dict]) -> dict[str, str]:
    return {f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}": live_object(cluster, o).metadata.uid
            for o in objects}


def test_every_rendered_object_exists_in_the_api_server(dev, cluster):
    kinds = {o["kind"] for o in dev.objects}
    assert {"CustomResourceDefinition", "ClusterRole", "DaemonSet", "NetworkAttachmentDefinition", "Pod"} <= kinds
    missing = []
    for obj in dev.objects:
        try:
            live_object(cluster, obj)
        except Exception as exc:  # NotFoundError and friends: name the object
            missing.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.__class__.__name__}")
    assert missing == []


def test_the_nad_config_is_byte_equal_to_the_rendered_string(dev, cluster):
    nads = [o for o in dev.objects if o["kind"] == "NetworkAttachmentDefinition"]
    assert nads
    for nad in nads:
        assert live_object(cluster, nad).spec.config == nad["spec"]["config"]


def test_the_multus_daemonset_is_ready_on_both_fake_nodes(dev, cluster):
    outputs = dev.stack.outputs()
    ds = cluster.get("daemonset", "-n", outputs["multusNamespace"], outputs["multusDaemonSet"])
    nodes = {n["metadata"]["name"] for n in cluster.get("nodes")["items"]}
    assert len(nodes) == 2
    assert ds["status"]["desiredNumberScheduled"] == ds["status"]["numberReady"] == len(nodes)
    selector = ",".join(f"{k}={v}" for k, v in ds["spec"]["selector"]["matchLabels"].items())
    pods = cluster.get("pods", "-n", outputs["multusNamespace"], "-l", selector)["items"]
    assert {p["spec"]["nodeName"] for p in pods} == nodes


def test_sample_pod_is_running_on_a_fake_node(dev, cluster):
    pod = cluster.get("pod", "-n", "default", "sample-pod")
    assert pod["status"]["phase"] == "Running"
    assert pod["spec"]["nodeName"] in {n["metadata"]["name"] for n in cluster.get("nodes")["items"]}


def test_stack_outputs_name_what_the_cluster_has(dev, cluster):
    outputs = dev.stack.outputs()
    assert set(outputs) == {"multusNamespace", "multusDaemonSet", "networks", "networkStatus"}
    cluster.get("daemonset", "-n", outputs["multusNamespace"], outputs["multusDaemonSet"])
    nads = cluster.get("network-attachment-definitions", "-A")["items"]
    assert outputs["networks"] == sorted(f"{n['metadata']['namespace']}/{n['metadata']['name']}" for n in nads)
    # kwok runs no Multus daemon, so no pod has a network-status annotation: the output says so.
    assert outputs["networkStatus"] == {"default/sample-pod": None}


def test_a_second_preview_shows_no_changes(dev):
    dev.stack.pulumi("preview", "--expect-no-changes", "--diff")


def test_no_changes_after_a_refresh_either(dev):
    dev.stack.pulumi("refresh", "--yes", "--skip-preview")
    dev.stack.pulumi("preview", "--expect-no-changes", "--diff")


def test_destroy_is_refused_by_its_preview_and_deletes_nothing(dev, cluster):
    before = uids(cluster, dev.objects)
    done = dev.stack.pulumi("destroy", "--yes", check=False)
    assert done.returncode != 0
    assert said(done, "cannot be deleted because it is protected")
    assert uids(cluster, dev.objects) == before
