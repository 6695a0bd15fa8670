"""Adopting what the cluster already has: `multus.adopt` and `networks[].adopt` import the objects the
config renders (forced, as every object is: components/kube.py `owned`), and nothing else is imported."""

from __future__ import annotations

import json

from components import kube
from components.multus import manifests
from conftest import FIXTURES, MULTUS, NAD, children_of, only

ADOPT = FIXTURES / "adopt"
NETWORK = {"name": "storage", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth1",
                                         "ipam": {"type": "host-local", "subnet": "192.168.50.0/24"}}}


def _id(reg) -> str:
    meta = reg.inputs["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _annotations(reg) -> dict:
    return reg.inputs["metadata"].get("annotations") or {}


def test_multus_adopt_imports_every_object_it_renders_under_the_providers_id(run_stack):
    for multus in ({"adopt": True}, {"adopt": True, "flavor": "thick"}, {"adopt": True, "namespace": "multus"}):
        run_ = run_stack(multus=multus)
        children = children_of(run_, only(run_, MULTUS).urn)
        assert children and all(r.request.importId == _id(r) for r in children)
        assert all(_annotations(r)[kube.PATCH_FORCE] == "true" for r in children)
        assert {r.request.importId for r in children if r.inputs["kind"] == "ServiceAccount"} == {
            f"{multus.get('namespace', 'kube-system')}/multus"}


def test_without_adopt_nothing_is_imported(run_stack):
    run_ = run_stack(networks=[NETWORK], workloads=[{"networks": "storage"}])
    assert [r.name for r in run_.monitor.registrations if r.custom]
    assert not [r.name for r in run_.monitor.registrations if r.request.importId]


def test_a_network_adopts_its_own_nad_only(run_stack):
    other = {"name": "other", "config": {**NETWORK["config"], "master": "eth2"}}
    run_ = run_stack(networks=[{**NETWORK, "adopt": True}, other], workloads=[{"networks": "storage,other"}])
    imported = {r.type: r.request.importId for r in run_.monitor.registrations if r.request.importId}
    assert imported == {NAD: "default/storage"}
    [adopted] = [r for r in run_.monitor.by_type(NAD) if r.request.importId]
    assert set(_annotations(adopted)) == {kube.PATCH_FORCE, kube.STACK_ANNOTATION}  # ours only, as for any NAD
    assert json.loads(adopted.inputs["spec"]["config"])["master"] == "eth1"  # the NAD is otherwise the same


def test_tanzu_package_mode_adopts_what_tanzu_package_install_created(run_stack):
    run_ = run_stack(multus={"mode": "tanzu-package", "adopt": True})
    children = children_of(run_, only(run_, MULTUS).urn)
    assert {r.inputs["kind"] for r in children} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "PackageInstall"}
    assert all(r.request.importId == _id(r) for r in children)


def test_the_crd_is_upstreams_as_the_api_server_holds_it_after_kubectl_apply():
    """Every field we render has the value of upstream v4.3.0's CRD on a real API server (the capture
    of `kubectl apply -f deployments/multus-daemonset.yml`, tests/fixtures/adopt/capture.py), so
    adopting it changes nothing; the schema's descriptions included."""
    live = json.loads((ADOPT / "crd-live.json").read_text())

    def same(rendered, held, where="") -> list[str]:
        if isinstance(rendered, dict):
            return [p for k, v in rendered.items() for p in same(v, (held or {}).get(k), f"{where}.{k}")]
        return [] if rendered == held else [where]

    assert same(manifests.crd(), live) == []
    # `versions` is an atomic list: an apply replaces it whole, so it must be upstream's whole.
    assert manifests.crd()["spec"]["versions"] == live["spec"]["versions"]


def test_the_thick_pod_lists_mounts_and_volumes_in_upstreams_order():
    """Server-side apply keeps the applier's order of a keyed list: another order would change an
    adopted DaemonSet's pod template (and roll its pods)."""
    from components.config import MultusConfig

    live = json.loads((ADOPT / "thick-live.json").read_text())["spec"]["template"]["spec"]
    ours = manifests.daemonset(MultusConfig(flavor="thick"))["spec"]["template"]["spec"]
    assert [v["name"] for v in ours["volumes"]] == [v["name"] for v in live["volumes"]]
    assert [m["mountPath"] for m in ours["containers"][0]["volumeMounts"]] == [
        m["mountPath"] for m in live["containers"][0]["volumeMounts"]]
