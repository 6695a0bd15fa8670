"""components.kube registers each object as pulumi_kubernetes' generated class of its kind does:
the same RegisterResource request (type, inputs, provider version, aliases, secret outputs), so
the engine and the provider cannot tell them apart, and stacks deployed with the classes keep an
empty preview (the live suite's stacks are made and previewed through components.kube)."""

from __future__ import annotations

import pulumi
import pytest
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.apiextensions.v1 import CustomResourceDefinition
from pulumi_kubernetes.apps.v1 import DaemonSet, Deployment
from pulumi_kubernetes.core.v1 import ConfigMap, Pod, Secret, ServiceAccount
from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding

from components import kube, testing

META = {"name": "x", "namespace": "kube-system", "labels": {"app": "x"}, "annotations": {"a": "b"}}
POD_SPEC = {"containers": [{"name": "c", "image": "i:1", "command": ["sleep", "1"]}]}
SELECTOR = {"matchLabels": {"app": "x"}}
MANIFESTS = [
    (CustomResourceDefinition, {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                                "metadata": {"name": "things.example.com"},
                                "spec": {"group": "example.com", "names": {"kind": "Thing", "plural": "things"},
                                         "scope": "Namespaced", "versions": [{"name": "v1", "served": True, "storage": True}]}}),
    (DaemonSet, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": META,
                 "spec": {"selector": SELECTOR, "template": {"metadata": {"labels": {"app": "x"}}, "spec": POD_SPEC},
                          "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}}}),
    (Deployment, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": META,
                  "spec": {"replicas": 2, "selector": SELECTOR,
                           "template": {"metadata": {"labels": {"app": "x"}}, "spec": POD_SPEC}}}),
    (ConfigMap, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": META, "data": {"00-multus.conf": "{}"}}),
    (Pod, {"apiVersion": "v1", "kind": "Pod", "metadata": META, "spec": POD_SPEC}),
    (Secret, {"apiVersion": "v1", "kind": "Secret", "metadata": META, "type": "Opaque", "stringData": {"token": "t"}}),
    (ServiceAccount, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": META}),
    (ClusterRole, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"},
                   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
    (ClusterRoleBinding, kube.cluster_role_binding("x", "x", "x", "kube-system")),
    (None, {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition", "metadata": META,
            "spec": {"config": "{}"}}),
]
# Where the two registrations may differ: the Python call site of each.
CALL_SITE = ("stackTrace", "sourcePosition", "parentStackTraceHandle")
KEYWORDS = {"roleRef": "role_ref", "stringData": "string_data"}


def generated(cls, name: str, manifest: dict, opts: pulumi.ResourceOptions) -> None:
    fields = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    if cls is None:
        CustomResource(name, api_version=manifest["apiVersion"], kind=manifest["kind"], opts=opts, **fields)
    else:
        cls(name, opts=opts, **{KEYWORDS.get(k, k): v for k, v in fields.items()})


def request(build) -> dict:
    run_ = testing.run(build, "multus-cni", "test", {})
    [registration] = [r for r in run_.monitor.registrations if r.type != "pulumi:pulumi:Stack"]
    message = type(registration.request)()
    message.CopyFrom(registration.request)
    for name in CALL_SITE:
        message.ClearField(name)
    return {"request": message, "inputs": registration.inputs}


@pytest.mark.parametrize("cls,manifest", MANIFESTS, ids=[m["kind"] for _, m in MANIFESTS])
@pytest.mark.parametrize("options", [{}, {"protect": True, "delete_before_replace": True,
                                          "aliases": [pulumi.Alias(name="old")]}], ids=["plain", "options"])
def test_the_registration_is_the_generated_classes_own(cls, manifest, options):
    ours = request(lambda: kube.KubernetesObject("x", manifest, pulumi.ResourceOptions(**options)))
    theirs = request(lambda: generated(cls, "x", manifest, pulumi.ResourceOptions(**options)))
    assert ours["inputs"] == theirs["inputs"]
    assert ours["request"] == theirs["request"]


def test_a_secrets_values_are_secret_and_its_outputs_declared_so():
    secret = next(m for cls, m in MANIFESTS if cls is Secret)
    ours = request(lambda: kube.KubernetesObject("x", secret))["request"]
    assert list(ours.additionalSecretOutputs) == ["data", "stringData"]
    assert ours.acceptSecrets and "4dabf18193072939515e22adb298388d" in str(ours.object)  # the SDK's secret signature


def test_fields_are_read_from_the_plain_outputs(run_components):
    def build():
        obj = kube.KubernetesObject("x", MANIFESTS[1][1])
        pulumi.export("namespace", kube.field(obj, "metadata", "namespace"))
        pulumi.export("maxUnavailable", kube.field(obj, "spec", "updateStrategy", "rollingUpdate", "maxUnavailable"))

    assert run_components(build).outputs == {"namespace": "kube-system", "maxUnavailable": 1}
