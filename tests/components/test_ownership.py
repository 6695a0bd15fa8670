"""One cluster, one owner (components/ownership.py): every object the stack creates is forced and
marked with the stack, and carries the hooks that report drift and refuse a takeover.
What the hooks do against a real API server: tests/integration/test_live_ownership.py."""

from __future__ import annotations

import json

import pytest

from components import kube, ownership, testing
from conftest import FIXTURES, NAD, PROGRAM, PROJECT, config_of

NETWORK = {"name": "storage", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth1",
                                         "ipam": {"type": "whereabouts", "range": "192.168.50.0/24"}}}
EVERYTHING = {"networks": [NETWORK], "workloads": [{"networks": "storage"}],
              "cniPlugins": {"enabled": True}, "whereabouts": {"enabled": True}}


def _objects(run_) -> list[testing.Registration]:
    return [r for r in run_.monitor.registrations if r.custom and r.type.startswith("kubernetes:")]


@pytest.mark.parametrize("multus", [{}, {"flavor": "thick"}, {"mode": "tanzu-package"}], ids=["thin", "thick", "tanzu"])
def test_every_object_is_forced_and_marked_with_its_stack(run_stack, multus):
    for stack in ("dev", "prod-eu"):
        run_ = run_stack(stack, multus=multus, **EVERYTHING)
        objects = _objects(run_)
        assert {r.inputs["kind"] for r in objects} >= {"DaemonSet", NAD.rsplit(":", 1)[-1], "Pod"}
        marks = {r.name: {k: v for k, v in r.inputs["metadata"]["annotations"].items() if k in (kube.PATCH_FORCE, kube.STACK_ANNOTATION)}
                 for r in objects}
        assert marks == {r.name: {kube.PATCH_FORCE: "true", kube.STACK_ANNOTATION: f"organization/multus-cni/{stack}"}
                         for r in objects}


def test_every_object_reports_drift_and_is_checked_before_it_is_created(run_stack):
    run_ = run_stack(**EVERYTHING)
    hooks = {r.name: (list(r.request.hooks.before_create), list(r.request.hooks.before_update)) for r in _objects(run_)}
    parents = {r.name: r.parent for r in _objects(run_)}
    retained = {r.name for r in _objects(run_) if r.request.retainOnDelete}
    assert len(hooks) > 10 and retained == {f"whereabouts-crd-{kind}" for kind in (
        "ippools", "overlappingrangeipreservations", "nodeslicepools")}
    for name, (before_create, before_update) in hooks.items():
        # The component's own hooks; a NAD's are its Multus component's. What outlives the stack
        # (retained on delete) is shared with later stacks: not refused when it exists.
        parent_type, parent = parents[name].split("::")[-2:]
        owner = "multus" if parent_type.endswith("NetworkAttachment") else parent
        assert f"{owner}-drift" in before_update, (name, hooks[name])
        assert (f"{owner}-owner" in before_create) == (name not in retained), (name, hooks[name])


def test_a_provider_that_renders_to_a_folder_reaches_no_cluster_so_nothing_is_looked_up():
    run_ = testing.run_file(PROGRAM, PROJECT, "render", {**config_of(), "kubernetes:renderYamlToDirectory": "out"})
    objects = _objects(run_)
    assert objects and not [r.name for r in objects if any(h.endswith("-owner") for h in r.request.hooks.before_create)]
    assert all(any(h.endswith("-drift") for h in r.request.hooks.before_update) for r in objects)


# --- who owns an object, from what the API server recorded --------------------------------------

def test_an_object_kubectl_applied_is_kubectls():
    """Upstream v4.3.0's CRD after `kubectl apply` on a real API server (tests/fixtures/adopt/capture.py)."""
    live = json.loads((FIXTURES / "adopt" / "crd-live.json").read_text())
    assert ownership.owner_of(live, "organization/multus-cni/dev") == "kubectl (kubectl-client-side-apply)"


def test_an_object_marked_with_this_stack_is_its_own_and_with_another_that_stacks():
    live = json.loads((FIXTURES / "adopt" / "crd-live.json").read_text())
    live["metadata"].setdefault("annotations", {})[kube.STACK_ANNOTATION] = "organization/multus-cni/dev"
    assert ownership.owner_of(live, "organization/multus-cni/dev") is None
    assert ownership.owner_of(live, "organization/multus-cni/other") == "Pulumi stack organization/multus-cni/dev"


def test_helm_and_kapp_are_named_by_the_marks_they_put_on_their_objects():
    helm = {"metadata": {"annotations": {"meta.helm.sh/release-name": "multus", "meta.helm.sh/release-namespace": "kube-system"},
                         "labels": {"app.kubernetes.io/managed-by": "Helm"},
                         "managedFields": [{"manager": "helm", "operation": "Update"}]}}
    kapp = {"metadata": {"labels": {"kapp.k14s.io/app": "1700000000000000000"},
                         "managedFields": [{"manager": "kapp", "operation": "Update"}]}}
    assert ownership.owner_of(helm, "o/p/s") == "the Helm release kube-system/multus"
    assert ownership.owner_of(kapp, "o/p/s") == "the kapp app 1700000000000000000"
    assert ownership.owner_of({"metadata": {}}, "o/p/s") == "an unknown owner (no field manager recorded)"


# --- drift: what another manager owns of what the stack sets -------------------------------------

def _nad(config: str) -> dict:
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": "blue", "namespace": "default", "labels": {"team": "net"}}, "spec": {"config": config}}


def test_drift_names_the_fields_another_manager_changed_that_the_stack_sets():
    ours = "pulumi-kubernetes-3d8019f5"  # the provider's manager of the object, from the state
    live = _nad('{"master":"eth9"}')
    live["metadata"]["managedFields"] = [
        {"manager": ours, "operation": "Apply", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:spec": {"f:config": {}}}},
        # A label only kubectl set: the stack does not set it, so its apply leaves it (not drift it undoes).
        {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:extra": {}}}}},
        {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}},
    ]
    assert ownership.drift(live, _nad('{"master":"eth0"}'), {ours}) == {"kubectl-edit": [".spec.config"]}
    assert ownership.drift(live, _nad('{"master":"eth0"}'), {ours, "kubectl-edit"}) == {}


def test_drift_in_a_keyed_list_names_the_element():
    ds = {"spec": {"template": {"spec": {"containers": [{"name": "kube-multus", "image": "multus:v4.3.0"}]}}}}
    live = {"metadata": {"managedFields": [{"manager": "kubectl-set", "operation": "Update", "fieldsV1": {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"kube-multus"}': {"f:image": {}}}}}}}}]}}
    assert ownership.drift(live, ds, set()) == {"kubectl-set": ['.spec.template.spec.containers[name="kube-multus"].image']}
    other = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "x"}]}}}}
    assert ownership.drift(live, other, set()) == {}


# --- how the check reaches the cluster -----------------------------------------------------------

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://192.0.2.10:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_the_provider_kubeconfig_setting_may_be_a_path_or_the_files_text(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.replace("192.0.2.10", "192.0.2.11"))
    assert ownership.ClusterAccess(str(path)).connect().host == "https://192.0.2.11:6443"
    assert ownership.ClusterAccess(KUBECONFIG).connect().host == "https://192.0.2.10:6443"


# --- one read per kind and namespace before creates ------------------------------------------------

class _Recorder:
    """Our own Cluster interface, recording its calls: what the check asks for, not what a server says."""

    def __init__(self, objects: dict[tuple, dict], list_allowed: bool = True):
        self.objects, self.list_allowed, self.calls = objects, list_allowed, []

    def list(self, api_version, kind, namespace=None, metadata_only=False):
        self.calls.append(("list", kind, namespace, metadata_only))
        if not self.list_allowed:
            raise ownership.ClusterError(f"list {kind}: 403 forbidden")
        return [{"metadata": obj["metadata"]} for (v, k, _, ns), obj in sorted(self.objects.items())
                if (v, k, ns) == (api_version, kind, namespace)]

    def get(self, api_version, kind, name, namespace=None):
        self.calls.append(("get", kind, name))
        return self.objects.get((api_version, kind, name, namespace))


def _access(recorder: _Recorder) -> ownership.ClusterAccess:
    access = ownership.ClusterAccess(KUBECONFIG)
    access._client = recorder  # type: ignore[assignment]
    return access


def _kubectl_nad(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "managedFields": [{"manager": "kubectl-create"}]}}


def test_the_check_lists_each_kind_and_namespace_once_and_reads_again_only_what_it_would_refuse():
    recorder = _Recorder({("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "blue", "default"): _kubectl_nad("blue")})
    access = _access(recorder)
    found = {name: access.existing("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", name, "default")
             for name in ("blue", "green", "red")}
    assert found == {"blue": _kubectl_nad("blue"), "green": None, "red": None}
    assert access.existing("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "blue", "kube-system") is None
    assert recorder.calls == [("list", "NetworkAttachmentDefinition", "default", True),
                              ("list", "NetworkAttachmentDefinition", "kube-system", True)]
    # Before refusing, the check reads the object as it is now: a replace may have deleted it since.
    del recorder.objects[("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "blue", "default")]
    assert access.current("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "blue", "default") is None


def test_where_listing_is_forbidden_each_object_is_read_instead():
    recorder = _Recorder({("v1", "ConfigMap", "multus-cni-config", "kube-system"): {"metadata": {"name": "multus-cni-config"}}},
                         list_allowed=False)
    access = _access(recorder)
    assert access.existing("v1", "ConfigMap", "multus-cni-config", "kube-system") == {"metadata": {"name": "multus-cni-config"}}
    assert access.existing("v1", "ConfigMap", "other", "kube-system") is None
    assert recorder.calls == [("list", "ConfigMap", "kube-system", True), ("get", "ConfigMap", "multus-cni-config"),
                              ("get", "ConfigMap", "other")]
