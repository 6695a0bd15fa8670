"""The dev stack reproduces the Tanzu guide; NADs and pods are wired as Multus needs."""

from __future__ import annotations

import json

import pytest

from components import NetworkAttachment, SampleWorkload, kube, testing

from multus_cni_cli import stackfile
from components.annotations import NETWORK_STATUS, NETWORKS
from conftest import GUIDE, MULTUS, NAD, POD, PROGRAM, PROJECT, ROOT, children_of, guide_nad, guide_pod, only

OWNERSHIP = {kube.PATCH_FORCE, kube.STACK_ANNOTATION}


@pytest.fixture
def dev():
    return testing.run_file(PROGRAM, PROJECT, "dev", stackfile.load_config(ROOT / "Pulumi.dev.yaml"))


def test_dev_nad_is_the_guides_config_plus_the_injected_name(dev):
    nad = only(dev, NAD)
    expected = json.loads(guide_nad()["spec"]["config"])
    config = json.loads(nad.inputs["spec"]["config"])
    assert config.pop("name") == "macvlan-conf" == guide_nad()["metadata"]["name"]
    assert config == expected
    assert {k: v for k, v in nad.inputs["metadata"].items() if k != "annotations"} == {"name": "macvlan-conf", "namespace": "default"}
    assert set(nad.inputs["metadata"]["annotations"]) == OWNERSHIP  # the stack's own marks, nothing else


def test_dev_pod_is_the_guides_sample_pod(dev):
    pod = only(dev, POD)
    guide = guide_pod()
    annotations = {k: v for k, v in pod.inputs["metadata"]["annotations"].items() if k not in OWNERSHIP}
    assert annotations == {NETWORKS: "macvlan-conf"} == guide["metadata"]["annotations"]
    assert pod.inputs["spec"]["containers"] == guide["spec"]["containers"]
    assert pod.inputs["metadata"]["name"] == guide["metadata"]["name"]


def test_dev_multus_is_the_default_configuration(dev):
    multus = only(dev, MULTUS)
    assert multus.protect
    ds = only(dev, "kubernetes:apps/v1:DaemonSet")
    assert ds.inputs["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v4.3.0")
    assert dev.outputs["multusNamespace"] == "kube-system"
    assert dev.outputs["multusDaemonSet"] == "kube-multus-ds"
    assert dev.outputs["networks"] == ["default/macvlan-conf"]
    assert dev.outputs["networkStatus"] == {"default/sample-pod": None}  # no cluster, no Multus


def test_nads_are_unprotected_and_wait_for_every_multus_object(dev):
    nad = only(dev, NAD)
    multus_children = {r.urn for r in children_of(dev, only(dev, MULTUS).urn)}
    assert nad.protect is False
    assert multus_children and multus_children <= set(nad.dependencies)


def test_pod_depends_on_its_networks_and_is_replaced_when_they_change(run_stack):
    def pod_trigger(mode):
        run_ = run_stack(
            networks=[{"name": "net-a", "config": {"cniVersion": "0.3.1", "type": "macvlan", "mode": mode, "ipam": {}}}],
            workloads=[{"networks": "net-a"}],
        )
        pod, nad = only(run_, POD), only(run_, NAD)
        assert nad.urn in pod.dependencies
        return pod.request.replacement_trigger.string_value

    bridge, again, vepa = pod_trigger("bridge"), pod_trigger("bridge"), pod_trigger("vepa")
    assert bridge == again
    assert bridge != vepa


def test_unqualified_names_resolve_in_the_pods_namespace(run_stack):
    run_ = run_stack(
        networks=[{"name": "net-a", "namespace": "team", "config": {"type": "bridge", "cniVersion": "0.3.1", "ipam": {}}}],
        workloads=[{"name": "probe", "namespace": "team", "networks": ["net-a"]}],
    )
    assert only(run_, POD).inputs["metadata"]["namespace"] == "team"


class StatusMocks(testing.EchoMocks):
    """The engine's answer for a Pod carries the annotation Multus wrote (the guide's example)."""

    def new_resource(self, args):
        id_, state = super().new_resource(args)
        if args.typ == POD:
            status = GUIDE.joinpath("network-status.json").read_text()
            state["metadata"] = {**state["metadata"], "annotations": {**state["metadata"]["annotations"], NETWORK_STATUS: status}}
        return id_, state


@pytest.mark.parametrize("metadata, expected", [
    (None, None),
    ({"annotations": None}, None),
    ({"annotations": {NETWORK_STATUS: "[{"}}, None),  # Multus writes JSON; anything else is no status
    ({"annotations": {NETWORK_STATUS: '[{"name": "", "default": true}]'}}, [{"name": "", "default": True}]),
])
def test_network_status_parsing(metadata, expected):
    from components.sample_workload import parse_network_status

    assert parse_network_status(metadata) == expected


def test_sample_workload_exports_the_parsed_network_status(monkeypatch):
    monkeypatch.setattr(testing, "EchoMocks", StatusMocks)
    captured = {}

    def build():
        net = NetworkAttachment("net", {"name": "macvlan-conf", "config": {"type": "macvlan", "cniVersion": "0.3.0", "ipam": {}}})
        captured["workload"] = SampleWorkload("pod", {"networks": "macvlan-conf"}, networks=[net])

    testing.run(build, PROJECT, "test", {})
    status = testing._sync_await(captured["workload"].network_status.future())
    assert status == json.loads(GUIDE.joinpath("network-status.json").read_text())
    assert [entry["interface"] for entry in status] == ["eth0", "net1"]
