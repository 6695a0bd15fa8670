"""The Multus component: upstream objects, protection, layouts, the Tanzu package mode."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import Multus, kube
from conftest import DAEMONSET, MULTUS, children_of, guide_values, only

# Objects of upstream v4.3.0 deployments/multus-daemonset.yml and multus-daemonset-thick.yml.
UPSTREAM_THIN = {
    ("CustomResourceDefinition", "network-attachment-definitions.k8s.cni.cncf.io"),
    ("ClusterRole", "multus"),
    ("ClusterRoleBinding", "multus"),
    ("ServiceAccount", "multus"),
    ("ConfigMap", "multus-cni-config"),
    ("DaemonSet", "kube-multus-ds"),
}
UPSTREAM_THICK = (UPSTREAM_THIN - {("ConfigMap", "multus-cni-config")}) | {("ConfigMap", "multus-daemon-config")}


def _objects(run_) -> set[tuple[str, str]]:
    multus = only(run_, MULTUS)
    return {(r.inputs["kind"], r.inputs["metadata"]["name"]) for r in children_of(run_, multus.urn)}


def _pod_spec(run_) -> dict:
    return only(run_, DAEMONSET).inputs["spec"]["template"]["spec"]


@pytest.mark.parametrize("multus, expected", [({}, UPSTREAM_THIN), ({"flavor": "thick"}, UPSTREAM_THICK)])
def test_flavors_create_the_upstream_objects(run_stack, multus, expected):
    assert _objects(run_stack(multus=multus)) == expected


def test_every_multus_object_is_protected_and_parented(run_stack):
    run_ = run_stack(multus={"flavor": "thick"})
    multus = only(run_, MULTUS)
    children = children_of(run_, multus.urn)
    assert multus.protect is True
    assert len(children) == len(UPSTREAM_THICK)
    assert all(child.protect for child in children), [c.name for c in children if not c.protect]
    assert all(child.name.startswith("multus-") for child in children)


def test_thin_defaults_pin_v4_and_drop_cni_version(run_stack):
    spec = _pod_spec(run_stack())
    container, init = spec["containers"][0], spec["initContainers"][0]
    assert container["image"] == "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0"
    assert container["command"] == ["/thin_entrypoint"]
    assert container["args"][0] == "--multus-conf-file=auto"
    assert not any(a.startswith("--cni-version") for a in container["args"])
    assert init["command"] == ["/install_multus"] and init["args"] == ["--type", "thin"]
    assert [t["effect"] for t in spec["tolerations"]] == ["NoSchedule", "NoExecute"]


def test_thick_layout_matches_upstream(run_stack):
    spec = _pod_spec(run_stack(multus={"flavor": "thick"}))
    container = spec["containers"][0]
    assert container["image"] == "ghcr.io/k8snetworkplumbingwg/multus-cni:v4.3.0-thick"
    assert container["command"] == ["/usr/src/multus-cni/bin/multus-daemon"]
    assert "args" not in container
    assert spec["hostPID"] is True
    assert container["env"][0]["name"] == "MULTUS_NODE_NAME"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["cnibin"]["mountPath"] == "/opt/cni/bin"  # same path as on the host, upstream says
    assert mounts["multus-daemon-config"]["readOnly"] is True
    assert {v["name"] for v in spec["volumes"]} == set(mounts)
    assert spec["initContainers"][0]["command"][-2:] == ["-t", "thick"]


def test_guide_values_give_the_v3_layout_with_warnings(run_stack):
    values = guide_values()
    run_ = run_stack(multus=values)
    spec = _pod_spec(run_)
    container = spec["containers"][0]
    assert container["image"] == "docker.io/nfvpe/multus:stable"
    assert container["command"] == ["/entrypoint.sh"]
    assert container["args"] == values["daemonset"]["args"]
    assert "initContainers" not in spec
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    warned = "\n".join(run_.warnings)
    assert "multus-cni:multus.image.tag: image tag 'stable' moves" in warned
    assert "multus-cni:multus.image.repository:" in warned and "retired Multus v3" in warned
    assert "multus-cni:multus.daemonset.args: '--cni-version=0.3.1' pins" in warned


def test_v3_tag_on_upstream_repository_also_gets_v3_layout(run_stack):
    spec = _pod_spec(run_stack(multus={"image": {"tag": "v3.9.3"}}))
    assert spec["containers"][0]["command"] == ["/entrypoint.sh"]
    assert "nodeSelector" not in spec  # ghcr images are multi-arch


def test_v3_8_tag_gets_the_v3_8_layout_without_init_container():
    """k8snetworkplumbingwg/multus-cni images/multus-daemonset.yml at v3.8."""
    from components.config import MultusConfig
    from components.multus import manifests

    spec = manifests.daemonset(MultusConfig.model_validate({"image": {"tag": "v3.8"}}))["spec"]["template"]["spec"]
    assert [t["effect"] for t in spec["tolerations"]] == ["NoSchedule"] and "initContainers" not in spec


def test_v3_9_tags_get_upstreams_noexecute_toleration_and_init_container(run_stack):
    """k8snetworkplumbingwg/multus-cni deployments/multus-daemonset.yml at v3.9.3."""
    spec = _pod_spec(run_stack(multus={"image": {"tag": "v3.9.3"}}))
    assert [t["effect"] for t in spec["tolerations"]] == ["NoSchedule", "NoExecute"]
    [init] = spec["initContainers"]
    assert init["command"] == ["cp", "/usr/src/multus-cni/bin/multus", "/host/opt/cni/bin/multus"]
    assert init["image"] == "ghcr.io/k8snetworkplumbingwg/multus-cni:v3.9.3"
    assert init["volumeMounts"] == [{"name": "cnibin", "mountPath": "/host/opt/cni/bin", "mountPropagation": "Bidirectional"}]


def test_pinned_default_has_no_warnings(run_stack):
    assert run_stack(multus={}).warnings == []


def test_namespace_moves_every_namespaced_object_and_the_binding_subject(run_stack):
    run_ = run_stack(multus={"namespace": "multus-system"})
    namespaced = [r.inputs for r in children_of(run_, only(run_, MULTUS).urn) if "namespace" in r.inputs["metadata"]]
    assert {o["metadata"]["namespace"] for o in namespaced} == {"multus-system"}
    binding = next(r for r in run_.monitor.registrations if r.inputs.get("kind") == "ClusterRoleBinding")
    assert binding.inputs["subjects"][0]["namespace"] == "multus-system"
    assert run_.outputs["multusNamespace"] == "multus-system"


def test_tanzu_package_mode_creates_what_the_cli_creates(run_stack):
    values = guide_values()
    run_ = run_stack(multus={**values, "mode": "tanzu-package"})
    multus = only(run_, MULTUS)
    children = {r.inputs["kind"]: r for r in children_of(run_, multus.urn)}
    assert set(children) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "PackageInstall"}
    assert all(c.protect for c in children.values())
    install = children["PackageInstall"]
    assert install.inputs["apiVersion"] == "packaging.carvel.dev/v1alpha1"
    assert install.inputs["spec"]["noopDelete"] is True
    assert install.inputs["spec"]["packageRef"]["refName"] == "multus-cni.tanzu.vmware.com"
    assert install.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=ReconcileSucceeded"
    secret = children["Secret"]
    assert install.inputs["spec"]["values"] == [{"secretRef": {"name": secret.inputs["metadata"]["name"]}}]
    assert yaml.safe_load(secret.inputs["stringData"]["values.yaml"]) == values
    assert install.inputs["spec"]["serviceAccountName"] == children["ServiceAccount"].inputs["metadata"]["name"]
    others = {c.urn for kind, c in children.items() if kind != "PackageInstall"}
    assert others <= set(install.dependencies)


def test_nads_wait_for_the_package_install(run_stack):
    run_ = run_stack(
        multus={"mode": "tanzu-package"},
        networks=[{"name": "net-a", "config": {"cniVersion": "0.3.1", "type": "bridge", "ipam": {}}}],
    )
    install = next(r for r in run_.monitor.registrations if r.inputs.get("kind") == "PackageInstall")
    nad = next(r for r in run_.monitor.registrations if r.inputs.get("kind") == "NetworkAttachmentDefinition")
    assert install.urn in nad.dependencies


@pytest.mark.parametrize("mode", ["manifest", "tanzu-package"])
@pytest.mark.parametrize("opts, protected", [
    (None, True),
    (pulumi.ResourceOptions(ignore_changes=["spec"]), True),  # options given, protect not among them
    (pulumi.ResourceOptions(protect=True), True),
    (pulumi.ResourceOptions(protect=False), False),  # only an explicit False lifts it
], ids=["no-options", "protect-not-given", "protect-true", "protect-false"])
def test_multus_protects_itself_and_every_child_unless_told_false(run_components, mode, opts, protected):
    run_ = run_components(lambda: Multus("multus", {"mode": mode}, opts=opts))
    multus = only(run_, MULTUS)
    children = children_of(run_, multus.urn)
    assert children
    assert [multus.protect, *(c.protect for c in children)] == [protected] * (1 + len(children))


@pytest.mark.parametrize("mode", ["manifest", "tanzu-package"])
def test_a_callers_provider_reaches_every_child(run_components, mode):
    def build():
        provider = k8s.Provider("cluster-k8s", kubeconfig="{}")
        Multus("multus", {"mode": mode}, opts=pulumi.ResourceOptions(providers=[provider]))

    run_ = run_components(build)
    provider = only(run_, "pulumi:providers:kubernetes")
    children = children_of(run_, only(run_, MULTUS).urn)
    assert children
    for child in children:
        assert child.provider.startswith(provider.urn + "::"), child.name


def test_component_validates_its_own_args(run_components):
    from components import ConfigError

    with pytest.raises(ConfigError) as caught:
        run_components(lambda: Multus("multus", {"flavor": "thicc"}))
    assert [str(p) for p in caught.value.problems] == ["Multus multus.flavor: must be 'thin' or 'thick', not the text 'thicc'"]


def test_the_reconcile_timeout_becomes_the_providers_await_timeout(run_stack):
    def install_of(package: dict) -> dict:
        run_ = run_stack(multus={"mode": "tanzu-package", "package": package})
        return next(r for r in run_.monitor.registrations if r.inputs.get("kind") == "PackageInstall").inputs

    assert install_of({"reconcileTimeoutSeconds": 90})["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "90"
    assert "pulumi.com/timeoutSeconds" not in install_of({})["metadata"]["annotations"]


# --- Tanzu package fidelity ------------------------------------------------------------------------

def _package_install(run_):
    return next(r for r in run_.monitor.registrations if r.inputs.get("kind") == "PackageInstall").inputs


def test_tanzu_package_install_pins_one_version_by_default_as_the_cli_does(run_stack):
    run_ = run_stack(multus={"mode": "tanzu-package"})
    assert _package_install(run_)["spec"]["packageRef"]["versionSelection"] == {"constraints": "3.7.1"}
    assert not any("package.version" in w for w in run_.warnings)


def test_a_version_range_lets_kapp_controller_move_multus_and_warns(run_stack):
    run_ = run_stack(multus={"mode": "tanzu-package", "package": {"version": ">=3.7.1"}})
    assert _package_install(run_)["spec"]["packageRef"]["versionSelection"] == {"constraints": ">=3.7.1"}
    [warning] = [w for w in run_.warnings if w.startswith("multus-cni:multus.package.version:")]
    assert "'>=3.7.1' is a range" in warning and "Multus 4.x included" in warning


def test_a_prerelease_version_is_selectable_and_warns(run_stack):
    run_ = run_stack(multus={"mode": "tanzu-package", "package": {"version": "3.8.0-rc.1"}})
    assert _package_install(run_)["spec"]["packageRef"]["versionSelection"] == {"constraints": "3.8.0-rc.1", "prereleases": {}}
    assert any(w.startswith("multus-cni:multus.package.version: '3.8.0-rc.1' is a prerelease") for w in run_.warnings)


def test_tanzu_objects_carry_kctrls_ownership_marks_so_tanzu_package_installed_update_accepts_them(run_stack):
    """carvel-dev/kapp-controller cli/test/e2e/package_install_dry_run_test.go: what kctrl writes."""
    run_ = run_stack(multus={"mode": "tanzu-package"})
    objects = {r.inputs["kind"]: r.inputs for r in children_of(run_, only(run_, MULTUS).urn)}
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret"):
        marks = {k: v for k, v in objects[kind]["metadata"]["annotations"].items() if k not in (kube.PATCH_FORCE, kube.STACK_ANNOTATION)}
        assert marks == {"packaging.carvel.dev/package": "multus-cni-default", "tkg.tanzu.vmware.com/tanzu-package": "multus-cni-default"}
    install = objects["PackageInstall"]["metadata"]["annotations"]
    for prefix in ("packaging.carvel.dev/package", "tkg.tanzu.vmware.com/tanzu-package"):
        assert {k[len(prefix) + 1:]: v for k, v in install.items() if k.startswith(prefix + "-")} == {
            "ClusterRole": "multus-cni-default-cluster-role", "ClusterRoleBinding": "multus-cni-default-cluster-rolebinding",
            "ServiceAccount": "multus-cni-default-sa", "Secret": "multus-cni-default-values"}


# --- the flavor and the image tag agree ------------------------------------------------------------

def test_thin_flavor_with_a_thick_tag_is_refused_since_its_pods_cannot_start():
    from components.config import ConfigError, MultusConfig, validate

    with pytest.raises(ConfigError) as caught:
        validate(MultusConfig, {"flavor": "thin", "image": {"tag": "v4.3.0-thick"}}, "multus")
    [problem] = caught.value.problems
    assert problem.path == "multus.image.tag" and "/thin_entrypoint" in problem.message and "use tag 'v4.3.0'" in problem.message


def test_thick_flavor_with_a_thin_tag_is_refused():
    from components.config import ConfigError, MultusConfig, validate

    with pytest.raises(ConfigError) as caught:
        validate(MultusConfig, {"flavor": "thick", "image": {"tag": "v4.2.4"}}, "multus")
    assert [str(p) for p in caught.value.problems] == [
        "multus.image.tag: 'v4.2.4' names a thin image, but flavor is 'thick': upstream builds the thick daemon's image as "
        "'<tag>-thick' (images/Dockerfile.thick); use tag 'v4.2.4-thick' or flavor 'thin'"]


def test_a_thick_tag_without_a_flavor_renders_the_thick_daemonset_with_a_warning(run_stack):
    run_ = run_stack(multus={"image": {"tag": "v4.3.0-thick"}})
    assert _pod_spec(run_)["containers"][0]["command"] == ["/usr/src/multus-cni/bin/multus-daemon"]
    assert any(w.startswith("multus-cni:multus.flavor: is not set and image tag 'v4.3.0-thick' names a thick image") for w in run_.warnings)


def test_tanzu_3_7_1_bundle_names_its_daemonset_for_amd64(run_stack):
    assert run_stack(multus={"mode": "tanzu-package"}).outputs["multusDaemonSet"] == "kube-multus-ds-amd64"
    assert run_stack(multus={"mode": "tanzu-package", "package": {"version": "3.8.0"}}).outputs["multusDaemonSet"] == "kube-multus-ds"


def test_tanzu_package_in_another_namespace_warns_that_only_the_daemonset_moves(run_stack):
    run_ = run_stack(multus={"mode": "tanzu-package", "namespace": "multus-system"})
    [warning] = [w for w in run_.warnings if w.startswith("multus-cni:multus.namespace:")]
    assert "moves only the DaemonSet to 'multus-system'" in warning
    assert not any(w.startswith("multus-cni:multus.namespace:") for w in run_stack(multus={"mode": "tanzu-package"}).warnings)
