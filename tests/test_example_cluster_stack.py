"""examples/cluster-stack composes the components on a provider built from a StackReference's
kubeconfig: every Kubernetes object must go through that provider, never a default one."""

from __future__ import annotations

import json

import pytest

from components import testing
from conftest import MULTUS, ROOT

EXAMPLE = ROOT / "examples" / "cluster-stack"
PROJECT = "cluster-networks"
KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n"
PROVIDER = "pulumi:providers:kubernetes"


class ClusterStackMocks(testing.EchoMocks):
    """The engine's answers, plus the cluster stack's outputs for a StackReference (a read, so
    it never reaches RegisterResource: the names read are kept here)."""

    read: list[str] = []

    def new_resource(self, args):
        if args.typ == "pulumi:pulumi:StackReference":
            ClusterStackMocks.read.append(args.name)
            return args.name, {"name": args.name, "outputs": {"kubeconfig": KUBECONFIG}}
        return super().new_resource(args)


@pytest.fixture
def example(monkeypatch) -> testing.Run:
    monkeypatch.setattr(testing, "EchoMocks", ClusterStackMocks)
    monkeypatch.setattr(ClusterStackMocks, "read", [])
    config = {f"{PROJECT}:clusterStack": "acme/cluster/prod", f"{PROJECT}:master": "ens192"}
    return testing.run_file(EXAMPLE / "__main__.py", PROJECT, "prod", config)


def test_the_provider_gets_the_kubeconfig_from_the_cluster_stack(example):
    assert ClusterStackMocks.read == ["acme/cluster/prod"]
    (provider,) = example.monitor.by_type(PROVIDER)
    assert provider.name == "cluster"
    assert provider.inputs["kubeconfig"] == KUBECONFIG


def test_every_kubernetes_object_uses_the_explicit_provider(example):
    (provider,) = example.monitor.by_type(PROVIDER)
    assert not [r for r in example.monitor.registrations if r.type == PROVIDER and r.name.startswith("default")]
    objects = [r for r in example.monitor.registrations if r.type.startswith("kubernetes:")]
    assert {r.type.rsplit(":", 1)[-1] for r in objects} >= {"DaemonSet", "NetworkAttachmentDefinition", "Pod"}
    strays = [f"{r.type} {r.name}: {r.provider or 'default provider'}" for r in objects
              if not r.provider.startswith(provider.urn + "::")]
    assert strays == []


def test_multus_is_protected_and_the_network_uses_the_configured_master(example):
    multus = [r for r in example.monitor.registrations if r.type == MULTUS]
    owned = [r for r in example.monitor.registrations if r.parent == multus[0].urn]
    assert multus[0].protect and owned and all(r.protect for r in owned)
    (nad,) = example.monitor.by_type("kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition")
    assert json.loads(nad.inputs["spec"]["config"])["master"] == "ens192"
    assert not nad.protect
    assert example.outputs["networks"] == ["storage"]


def test_a_kubeconfig_from_config_works_without_a_cluster_stack(monkeypatch):
    monkeypatch.setattr(testing, "EchoMocks", ClusterStackMocks)
    monkeypatch.setattr(ClusterStackMocks, "read", [])
    run_ = testing.run_file(EXAMPLE / "__main__.py", PROJECT, "lab", {f"{PROJECT}:kubeconfig": KUBECONFIG})
    assert ClusterStackMocks.read == []
    (provider,) = run_.monitor.by_type(PROVIDER)
    assert provider.inputs["kubeconfig"] == KUBECONFIG
