"""The CrossGuard pack: each rule against real renders (real pulumi_policy argument objects built
from what the program registers) and against hand-made objects for kinds it does not create; then
the pack itself, started as the CLI starts it and asked over its gRPC protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Optional

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from components import Multus, NetworkAttachment, testing

from multus_cni_cli import stackfile
from conftest import MULTUS, NAD, POD, PROGRAM, PROJECT, ROOT
from policy import multus_policies as mp

PINNED = "docker.io/library/alpine:3.22"
HOST_LOCAL = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
              "ipam": {"type": "host-local", "subnet": "192.168.1.0/24"}}
WHEREABOUTS = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
               "ipam": {"type": "whereabouts", "range": "192.168.2.0/24"}}


class Recorder:
    """A `report_violation` that remembers every (message, urn)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Optional[str]]] = []

    def __call__(self, message: str, urn: Optional[str] = None) -> None:
        self.calls.append((message, urn))

    @property
    def messages(self) -> list[str]:
        return [m for m, _ in self.calls]


def _opts(protect: bool, parent: Optional[str]) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent or None)


def resource_args(reg: testing.Registration, config: Optional[dict] = None) -> ResourceValidationArgs:
    """What the analyzer hands a resource policy for this registration (props behind the same proxy)."""
    return ResourceValidationArgs(reg.type, unknown_checking_proxy(reg.inputs), reg.urn, reg.name,
                                  _opts(reg.protect, reg.parent), None, config)


def policy_resource(type_: str, props: dict, name: str, urn: Optional[str] = None) -> PolicyResource:
    return PolicyResource(type_, unknown_checking_proxy(props), urn or f"urn:pulumi:s::p::{type_}::{name}", name,
                          _opts(False, None), None, None, [], {})


def stack_args(run_: testing.Run, *extra: PolicyResource) -> StackValidationArgs:
    resources = [policy_resource(r.type, r.inputs, r.name, r.urn) for r in run_.monitor.registrations
                 if r.type != "pulumi:pulumi:Stack"]
    return StackValidationArgs(resources + list(extra))


def violations(rule, run_: testing.Run, config: Optional[dict] = None) -> dict[str, list[str]]:
    """Resource name -> messages, for every registration of a run."""
    found = {}
    for reg in run_.monitor.registrations:
        recorder = Recorder()
        rule(resource_args(reg, config), recorder)
        if recorder.calls:
            found[reg.name] = recorder.messages
    return found


RESOURCE_RULES = [p for p in mp.POLICIES if isinstance(p, ResourceValidationPolicy)]


def all_resource_violations(run_: testing.Run, config: Optional[dict] = None) -> dict[str, dict[str, list[str]]]:
    out = {}
    for policy in RESOURCE_RULES:
        found = violations(policy.validate, run_, (config or {}).get(policy.name))
        if found:
            out[policy.name] = found
    return out


# --- the program passes ----------------------------------------------------------------------

@pytest.mark.parametrize("multus", [{}, {"flavor": "thick"}, {"mode": "tanzu-package"}], ids=["thin", "thick", "tanzu"])
def test_the_program_with_pinned_images_passes_every_mandatory_rule(run_stack, multus):
    run_ = run_stack(
        multus=multus,
        networks=[{"name": "net-a", "config": HOST_LOCAL}],
        workloads=[{"networks": "net-a", "image": PINNED}],
    )
    assert all_resource_violations(run_) == {}
    recorder = Recorder()
    mp.host_local_shared(stack_args(run_), recorder)
    assert recorder.calls == []


def test_the_dev_stack_passes_with_the_pack_config_the_workflows_use():
    dev = testing.run_file(PROGRAM, PROJECT, "dev", stackfile.load_config(ROOT / "Pulumi.dev.yaml"))
    config = json.loads((ROOT / "policy" / "config.json").read_text())
    assert all_resource_violations(dev, config) == {}
    # Without that config the guide's untagged sample image is the one thing the pack blocks.
    assert all_resource_violations(dev) == {"images-pinned": {"default/sample-pod-pod": [
        "spec.containers[0]: image 'harbor-repo.vmware.com/dockerhub-proxy-cache/library/alpine' has no tag, so "
        "it pulls the moving 'latest'; pin a release tag or a digest, or list the image under allowedImages in "
        "the policy pack config"]}}


# --- multus-protected ------------------------------------------------------------------------

def test_every_object_of_an_unprotected_multus_is_a_violation(run_components):
    from pulumi import ResourceOptions

    run_ = run_components(lambda: NetworkAttachment(
        "net", {"name": "net-a", "config": HOST_LOCAL},
        multus=Multus("multus", {"flavor": "thick"}, opts=ResourceOptions(protect=False))))
    multus = next(r for r in run_.monitor.registrations if r.type == MULTUS)
    owned = {multus.name} | {r.name for r in run_.monitor.registrations if r.parent == multus.urn}
    found = violations(mp.multus_protected, run_)
    assert set(found) == owned and len(owned) == 7  # the component, its CRD, RBAC, ConfigMap, DaemonSet
    assert all("multus-cni#461" in m for messages in found.values() for m in messages)


def test_a_protected_multus_passes_and_other_resources_are_not_concerned(run_components):
    run_ = run_components(lambda: NetworkAttachment(
        "net", {"name": "net-a", "config": HOST_LOCAL},
        multus=Multus("multus", {})))  # protected by the class itself
    assert violations(mp.multus_protected, run_) == {}
    assert not next(r for r in run_.monitor.registrations if r.type == NAD).protect


ENGINE = "urn:pulumi:prod::cluster::my:index:Cluster$multus-cni:index:Multus"


@pytest.mark.parametrize("type_, urn, parent, expected", [
    # The engine's URNs spell the whole ancestry: a grandchild is found from its own URN.
    ("kubernetes:apps/v1:DaemonSet", f"{ENGINE}$kubernetes:apps/v1:DaemonSet::ds", None, True),
    ("kubernetes:apps/v1:DaemonSet", f"{ENGINE}$x:index:Wrap$kubernetes:apps/v1:DaemonSet::ds", None, True),
    # Mock URNs hold only the direct parent's type: the parent URN fills in.
    ("kubernetes:v1:Pod", "urn:pulumi:s::p::x:index:Wrap$kubernetes:v1:Pod::p", f"{ENGINE}$x:index:Wrap::w", True),
    ("multus-cni:index:Multus", "urn:pulumi:s::p::multus-cni:index:Multus::m", None, True),
    # Beside Multus, or merely named like it, is not below it.
    ("kubernetes:v1:Pod", "urn:pulumi:s::p::my:index:Cluster$kubernetes:v1:Pod::multus-cni:index:Multus", None, False),
    (NAD, "urn:pulumi:s::p::multus-cni:index:NetworkAttachment$" + NAD + "::n", None, False),
])
def test_under_multus_reads_the_ancestry_from_urns(type_, urn, parent, expected):
    assert mp.under_multus(type_, urn, parent) is expected


# --- images-pinned ---------------------------------------------------------------------------

@pytest.mark.parametrize("image, pinned", [
    ("ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0", True),
    ("ghcr.io/k8snetworkplumbingwg/multus-cni@sha256:" + "a" * 64, True),
    ("registry.local:5000/alpine:3.22", True),
    ("ghcr.io/k8snetworkplumbingwg/multus-cni:latest", False),
    ("ghcr.io/k8snetworkplumbingwg/multus-cni:stable-thick", False),
    ("ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-debug", False),
    ("registry.local:5000/alpine", False),
])
def test_workload_images_must_be_pinned(run_stack, image, pinned):
    run_ = run_stack(networks=[{"name": "net-a", "config": WHEREABOUTS}], workloads=[{"networks": "net-a", "image": image}])
    found = violations(mp.images_pinned, run_)
    assert (found == {}) is pinned
    if not pinned:
        assert list(found) == ["default/sample-pod-pod"] and image in found["default/sample-pod-pod"][0]


def test_a_moving_multus_tag_is_reported_for_every_container_unless_allowed(run_stack):
    run_ = run_stack(multus={"image": {"tag": "latest"}})
    found = violations(mp.images_pinned, run_)
    assert list(found) == ["multus-daemonset"]
    assert [m.split(":")[0] for m in found["multus-daemonset"]] == [
        "spec.template.spec.initContainers[0]", "spec.template.spec.containers[0]"]
    allow = {"allowedImages": ["ghcr.io/k8snetworkplumbingwg/multus-cni:*"]}
    assert violations(mp.images_pinned, run_, allow) == {}
    assert violations(mp.images_pinned, run_, {"allowedImages": ["ghcr.io/other/*"]}) == found


def test_the_tanzu_values_image_is_checked_when_it_sets_a_tag(run_stack):
    moving = violations(mp.images_pinned, run_stack(multus={"mode": "tanzu-package", "image": {"tag": "stable"}}))
    assert list(moving) == ["multus-values"]
    assert "'stable'" in moving["multus-values"][0]
    assert violations(mp.images_pinned, run_stack(multus={"mode": "tanzu-package", "image": {"tag": "v4.3.0"}})) == {}


def test_other_pod_templates_are_read_too():
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "busybox"}]}}}}}}
    assert list(mp.container_images("kubernetes:batch/v1:CronJob", unknown_checking_proxy(cron))) == [
        ("spec.jobTemplate.spec.template.spec.containers[0]", "busybox")]
    assert list(mp.container_images("kubernetes:core/v1:ConfigMap", {"data": {}})) == []


# --- nad-valid -------------------------------------------------------------------------------

def nad_violations(props: dict) -> list[str]:
    recorder = Recorder()
    args = ResourceValidationArgs(NAD, unknown_checking_proxy(props), "urn:pulumi:s::p::" + NAD + "::n", "n",
                                  _opts(False, None), None)
    mp.nad_valid(args, recorder)
    return recorder.messages


@pytest.mark.parametrize("props, expected", [
    ({"metadata": {"name": "n", "namespace": "default"}, "spec": {"config": '{"type":"bridge"}'}}, []),
    ({"metadata": {"name": "n"}, "spec": {"config": '{"type":"bridge"}'}}, ["metadata.namespace is not set"]),
    ({"metadata": {"name": "n", "namespace": "a"}, "spec": {"config": '{"type":'}}, ["spec.config is not valid JSON"]),
    ({"metadata": {"name": "n", "namespace": "a"}, "spec": {"config": "[1]"}}, ["spec.config must be a CNI configuration object"]),
    ({"metadata": {"name": "n", "namespace": "a"}, "spec": {"config": {"type": "bridge"}}}, ["spec.config must be the CNI configuration as a JSON string"]),
    ({"metadata": {"name": "n"}, "spec": {}}, ["metadata.namespace is not set", "spec.config must be the CNI configuration as a JSON string"]),
], ids=["valid", "no-namespace", "bad-json", "json-array", "object", "both"])
def test_nads_need_a_namespace_and_a_json_object_config(props, expected):
    messages = nad_violations(props)
    assert len(messages) == len(expected)
    assert all(m.startswith(e) for m, e in zip(messages, expected))


def test_every_nad_the_program_renders_is_valid(run_stack):
    run_ = run_stack(networks=[{"name": "a", "config": HOST_LOCAL}, {"name": "b", "namespace": "x", "config": WHEREABOUTS}])
    assert violations(mp.nad_valid, run_) == {}
    assert len(run_.monitor.by_type(NAD)) == 2


def test_other_kinds_are_not_nads():
    recorder = Recorder()
    mp.nad_valid(ResourceValidationArgs(POD, {}, "urn:pulumi:s::p::" + POD + "::p", "p", _opts(False, None), None), recorder)
    assert recorder.calls == []


# --- host-local-shared (advisory) ------------------------------------------------------------

def deployment(name: str, replicas: Optional[int], annotation: str, namespace: str = "default") -> PolicyResource:
    spec: dict[str, Any] = {"template": {"metadata": {"annotations": {"k8s.v1.cni.cncf.io/networks": annotation}},
                                         "spec": {"containers": [{"name": "c", "image": PINNED}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return policy_resource("kubernetes:apps/v1:Deployment", {"metadata": {"name": name, "namespace": namespace}, "spec": spec}, name)


def host_local_reports(run_: testing.Run, *extra: PolicyResource) -> list[tuple[str, Optional[str]]]:
    recorder = Recorder()
    mp.host_local_shared(stack_args(run_, *extra), recorder)
    return recorder.calls


def test_two_pods_on_one_host_local_network_are_reported_against_the_nad(run_stack):
    run_ = run_stack(
        networks=[{"name": "net-a", "config": HOST_LOCAL}, {"name": "net-b", "config": WHEREABOUTS}],
        workloads=[{"name": "one", "networks": "net-a,net-b"}, {"name": "two", "networks": ["net-a@data0", "net-b"]}],
    )
    reports = host_local_reports(run_)
    assert len(reports) == 1
    message, urn = reports[0]
    assert message.startswith("network default/net-a uses host-local IPAM") and "Pod default/one-pod" in message
    assert urn == next(r.urn for r in run_.monitor.by_type(NAD) if r.inputs["metadata"]["name"] == "net-a")


def test_one_pod_per_host_local_network_is_fine(run_stack):
    run_ = run_stack(
        networks=[{"name": "net-a", "config": HOST_LOCAL},
                  {"name": "net-b", "config": {**HOST_LOCAL, "ipam": {"type": "host-local", "subnet": "192.168.3.0/24"}}}],
        workloads=[{"name": "one", "networks": "net-a"}, {"name": "two", "networks": "net-b"}],
    )
    assert host_local_reports(run_) == []


@pytest.mark.parametrize("replicas, annotation, reported", [
    (3, '[{"name": "net-a", "interface": "net1"}]', True),  # the JSON form of the annotation
    (2, "default/net-a", True),
    (1, "net-a", False),
    (None, "net-a", False),  # replicas defaults to 1
    (3, "net-b", False),  # whereabouts is cluster-wide
    (3, "other/net-a", False),  # another namespace's net-a is not this one
])
def test_a_multi_replica_deployment_on_a_host_local_network_is_reported(run_stack, replicas, annotation, reported):
    run_ = run_stack(networks=[{"name": "net-a", "config": HOST_LOCAL}, {"name": "net-b", "config": WHEREABOUTS}])
    assert bool(host_local_reports(run_, deployment("app", replicas, annotation))) is reported


def test_host_local_inside_a_conflist_counts(run_stack):
    conflist = {"cniVersion": "0.4.0", "plugins": [{"type": "bridge", "ipam": {"type": "host-local", "subnet": "10.9.0.0/16"}},
                                                   {"type": "tuning"}]}
    run_ = run_stack(networks=[{"name": "chain", "config": conflist}])
    assert len(host_local_reports(run_, deployment("app", 2, "chain"))) == 1


# --- the pack as the CLI runs it --------------------------------------------------------------

@pytest.fixture
def analyzer(tmp_path):
    """policy/__main__.py started from another directory; it prints its gRPC port, as the CLI expects."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "policy" / "__main__.py")], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": ""})
    try:
        port = proc.stdout.readline().decode().strip()
        assert port.isdigit(), proc.stderr.read().decode() if proc.poll() is not None else port
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.kill()
        proc.wait()


def _struct(value: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def test_the_pack_loads_and_enforces_over_grpc(analyzer):
    info = analyzer.GetAnalyzerInfo(__import__("google.protobuf.empty_pb2", fromlist=["Empty"]).Empty())
    levels = {p.name: p.enforcementLevel for p in info.policies}
    mandatory, advisory = analyzer_pb2.MANDATORY, analyzer_pb2.ADVISORY
    assert info.name == "multus-cni"
    assert levels == {"multus-protected": mandatory, "images-pinned": mandatory, "nad-valid": mandatory,
                      "multus-credentials-refresh": advisory, "multus-guaranteed": advisory, "multus-thick-memory": advisory,
                      "host-local-shared": advisory}

    parent = "urn:pulumi:dev::multus-cni::multus-cni:index:Multus::multus"
    request = analyzer_pb2.AnalyzeRequest(
        type="kubernetes:apps/v1:DaemonSet", name="multus-daemonset",
        urn="urn:pulumi:dev::multus-cni::multus-cni:index:Multus$kubernetes:apps/v1:DaemonSet::multus-daemonset",
        properties=_struct({"spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/x/multus-cni:stable"}]}}}}),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=False, parent=parent),
    )
    found = {d.policyName: d.enforcementLevel for d in analyzer.Analyze(request).diagnostics}
    assert found == {"multus-protected": mandatory, "images-pinned": mandatory, "multus-guaranteed": advisory}
    request.options.protect = True
    amounts = {"cpu": "100m", "memory": "50Mi"}
    request.properties.CopyFrom(_struct({"spec": {"template": {"spec": {"containers": [
        {"image": "ghcr.io/x/multus-cni:v4.3.0", "resources": {"requests": amounts, "limits": amounts}}]}}}}))
    assert list(analyzer.Analyze(request).diagnostics) == []
