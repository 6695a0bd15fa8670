"""`multus-cni decommission`: the plan from a real `pulumi stack export` of the dev stack,
the refusal, which steps a rerun skips, the node-cleanup script on temporary node trees, and the
cleanup DaemonSet's objects. The whole command against a cluster: tests/integration/test_live_decommission.py."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from multus_cni_cli.__main__ import main
from multus_cni_cli.decommission import cluster, daemonset, node_cleanup, plan, run
from multus_cni_cli.decommission.state import StackState
from components.images import pinning_problem
from conftest import FIXTURES

# `pulumi stack export --stack dev` after `pulumi up` of Pulumi.dev.yaml on the kwok cluster
# (Pulumi 3.260.0, pulumi-kubernetes 4.25.0), stored as the CLI printed it.
EXPORT = json.loads((FIXTURES / "decommission" / "dev-stack-export.json").read_text())
NODES = ["node-000000", "node-000001"]
DS_URN = "urn:pulumi:dev::multus-cni::multus-cni:index:Multus$kubernetes:apps/v1:DaemonSet::multus-daemonset"


def export_without(*names: str) -> dict:
    """The dev export with the resources of these URN names gone (what a step leaves behind)."""
    exported = copy.deepcopy(EXPORT)
    exported["deployment"]["resources"] = [r for r in exported["deployment"]["resources"]
                                           if r["urn"].rsplit("::", 1)[-1] not in names]
    return exported


def report(node: str, pod: str = "cleanup-x", removed=(), errors=()) -> str:
    return json.dumps({"node": node, "pod": pod, "removed": list(removed), "errors": list(errors)})


def pod(name: str, annotations=None, namespace: str = "default", owners=()) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "annotations": annotations or {},
                         "ownerReferences": list(owners)}, "spec": {}}


# --- the state ------------------------------------------------------------------------------------

def test_the_dev_export_splits_into_workloads_the_multus_daemonset_and_the_other_multus_objects():
    state = StackState(EXPORT)
    assert sorted(r.ref for r in state.workloads) == ["NetworkAttachmentDefinition default/macvlan-conf", "Pod default/sample-pod"]
    assert [r.urn for r in state.multus_daemonsets] == [DS_URN]
    assert sorted(r.ref for r in state.multus_objects) == [
        "ClusterRole multus", "ClusterRoleBinding multus", "ConfigMap kube-system/multus-cni-config",
        "CustomResourceDefinition network-attachment-definitions.k8s.cni.cncf.io", "DaemonSet kube-system/kube-multus-ds",
        "ServiceAccount kube-system/multus"]
    assert all(r.protect for r in state.multus_objects) and not any(r.protect for r in state.workloads)
    assert (state.flavor(), state.multus_namespace(), state.nad_refs()) == ("thin", "kube-system", {("default", "macvlan-conf")})
    assert state.protected_others == [] and state.package_installs == []


def test_a_protected_object_outside_multus_waits_for_the_last_step_and_any_type_counts():
    """A later component's objects (here a made-up type) are covered without knowing their type."""
    exported = copy.deepcopy(EXPORT)
    stack_urn = exported["deployment"]["resources"][0]["urn"]
    exported["deployment"]["resources"] += [
        {"urn": "urn:pulumi:dev::multus-cni::example:index:Thing$kubernetes:apps/v1:DaemonSet::installer", "custom": True,
         "type": "kubernetes:apps/v1:DaemonSet", "protect": True, "parent": stack_urn,
         "outputs": {"kind": "DaemonSet", "metadata": {"name": "installer", "namespace": "kube-system"}}},
        {"urn": "urn:pulumi:dev::multus-cni::example:index:Pool::pool", "custom": True, "type": "example:index:Pool",
         "parent": stack_urn, "outputs": {}},
    ]
    state = StackState(exported)
    assert [r.ref for r in state.protected_others] == ["DaemonSet kube-system/installer"]
    assert "Pool pool" in [r.ref for r in state.workloads]
    assert [r.urn for r in state.multus_daemonsets] == [DS_URN]  # not the other component's DaemonSet


# --- the steps and what a rerun skips -------------------------------------------------------------

def facts(reports=None, cleanup=()) -> plan.Facts:
    return plan.Facts(NODES, reports, list(cleanup))


def done_flags(state: StackState, f: plan.Facts) -> dict[str, bool]:
    return {s.key: s.done for s in plan.steps(state, f, 300)}


def test_a_fresh_stack_has_every_step_to_do_with_its_objects_and_nodes():
    steps = plan.steps(StackState(EXPORT), facts(), 300)
    assert [s.key for s in steps] == ["workloads", "daemonset", "nodes", "multus", "tidy"]
    assert not any(s.done for s in steps)
    assert steps[1].objects == ["DaemonSet kube-system/kube-multus-ds"]
    assert steps[2].objects == ["Node node-000000", "Node node-000001"]
    assert "CustomResourceDefinition network-attachment-definitions.k8s.cni.cncf.io" in steps[3].objects
    assert "DaemonSet kube-system/kube-multus-ds" not in steps[3].objects


def test_each_step_is_skipped_on_a_rerun_once_its_effect_is_there():
    after_workloads = StackState(export_without("default/macvlan-conf", "default/sample-pod", "default/macvlan-conf-nad",
                                                "default/sample-pod-pod"))
    assert done_flags(after_workloads, facts()) == {"workloads": True, "daemonset": False, "nodes": False, "multus": False, "tidy": False}
    after_daemonset = StackState(export_without("default/macvlan-conf-nad", "default/sample-pod-pod", "multus-daemonset"))
    assert done_flags(after_daemonset, facts())["daemonset"]
    one_node = {NODES[0]: report(NODES[0])}
    assert not done_flags(after_daemonset, facts(one_node))["nodes"]
    every_node = {n: report(n) for n in NODES}
    assert done_flags(after_daemonset, facts(every_node, ["ConfigMap x"])) == {
        "workloads": True, "daemonset": True, "nodes": True, "multus": False, "tidy": False}
    empty = StackState({"deployment": {"resources": []}})
    assert done_flags(empty, facts(None, ["ConfigMap kube-system/multus-node-cleanup-report"])) == {
        "workloads": True, "daemonset": True, "nodes": True, "multus": True, "tidy": False}
    assert all(done_flags(empty, facts()).values())


def test_reports_do_not_count_while_the_multus_daemonset_is_still_there():
    """E.g. left from an interrupted decommission before Multus was installed again."""
    every_node = {n: report(n) for n in NODES}
    assert not done_flags(StackState(EXPORT), facts(every_node))["nodes"]


def test_a_node_that_reported_errors_keeps_the_node_step_open():
    after_daemonset = StackState(export_without("default/macvlan-conf-nad", "default/sample-pod-pod", "multus-daemonset"))
    reports = {NODES[0]: report(NODES[0]), NODES[1]: report(NODES[1], errors=["/opt/cni/bin/multus: Read-only file system"])}
    assert not done_flags(after_daemonset, facts(reports))["nodes"]


def test_the_plan_text_lists_steps_objects_nodes_and_refusals():
    text = plan.render("dev", StackState(EXPORT), plan.steps(StackState(EXPORT), facts(), 300),
                       plan.Refusal({"team/probe": ["default/macvlan-conf"]}, ["team/other"]))
    assert text.startswith("Decommission of stack dev: Multus (thin) in kube-system\n")
    assert "     Node node-000001\n" in text and "     Pod default/sample-pod\n" in text
    assert "  pod team/probe uses default/macvlan-conf\n" in text
    assert "  NAD team/other is not in this stack and would be deleted with the CRD\n" in text


# --- the refusal ----------------------------------------------------------------------------------

NAD = {"metadata": {"name": "macvlan-conf", "namespace": "default"}}


def no_owner(namespace, reference):
    return None


def test_pods_outside_the_stack_that_use_a_nad_are_listed_in_any_annotation_form():
    pods = [
        pod("sample-pod", {"k8s.v1.cni.cncf.io/networks": "macvlan-conf"}),  # the stack's own
        pod("comma", {"k8s.v1.cni.cncf.io/networks": "macvlan-conf@net9"}),
        pod("json", {"k8s.v1.cni.cncf.io/networks": '[{"name": "macvlan-conf", "namespace": "default"}]'}, namespace="team"),
        pod("default-net", {"v1.multus-cni.io/default-network": "default/macvlan-conf"}, namespace="ops"),
        pod("elsewhere", {"k8s.v1.cni.cncf.io/networks": "macvlan-conf"}, namespace="team"),  # team/macvlan-conf: none
        pod("plain"),
    ]
    refused = plan.refusal(StackState(EXPORT), pods, [NAD], no_owner)
    assert refused.pods == {"default/comma": ["default/macvlan-conf"], "team/json": ["default/macvlan-conf"],
                            "ops/default-net": ["default/macvlan-conf"]}
    assert refused.nads == [] and bool(refused)


def test_a_pod_owned_through_its_replicaset_by_a_stack_deployment_is_the_stacks():
    exported = copy.deepcopy(EXPORT)
    exported["deployment"]["resources"].append({
        "urn": "urn:pulumi:dev::multus-cni::kubernetes:apps/v1:Deployment::web", "custom": True,
        "type": "kubernetes:apps/v1:Deployment", "outputs": {"kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}}})
    replicaset = {"metadata": {"name": "web-7d9", "namespace": "default",
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": True}]}}
    owners = {"web-7d9": replicaset}
    web = pod("web-7d9-abcde", {"k8s.v1.cni.cncf.io/networks": "macvlan-conf"},
              owners=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9", "controller": True}])
    other = pod("api-5c4-xyz", {"k8s.v1.cni.cncf.io/networks": "macvlan-conf"},
                owners=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-5c4", "controller": True}])
    refused = plan.refusal(StackState(exported), [web, other], [NAD], lambda ns, ref: owners.get(ref["name"]))
    assert list(refused.pods) == ["default/api-5c4-xyz"]


def test_nads_outside_the_stack_are_listed_because_the_crd_takes_them_along():
    foreign = {"metadata": {"name": "sriov-a", "namespace": "team"}}
    refused = plan.refusal(StackState(EXPORT), [], [NAD, foreign], no_owner)
    assert refused.nads == ["team/sriov-a"] and refused.pods == {}


def test_nothing_is_refused_once_the_stack_holds_no_nad_and_no_multus():
    empty = StackState({"deployment": {"resources": []}})
    assert not plan.refusal(empty, [pod("x", {"k8s.v1.cni.cncf.io/networks": "macvlan-conf"})], [NAD], no_owner)


# --- node reports -------------------------------------------------------------------------------

def test_reports_are_judged_per_node_missing_failed_and_misattributed():
    cleanup_pods = [{"metadata": {"name": f"c-{n}"}, "spec": {"nodeName": n}} for n in "abe"]
    data = {"a": report("a", "c-a", removed=["/opt/cni/bin/multus"]), "b": report("a", "c-a"),
            "c": report("c", "c-c"), "d": "{not json", "e": report("e", "c-e", errors=["/run/multus: Busy"])}
    judged = plan.judge_reports(["a", "b", "c", "d", "e", "f"], data, cleanup_pods)
    assert judged.clean == {"a": ["/opt/cni/bin/multus"]}
    assert judged.missing == ["f"]
    assert judged.failed["b"] == ["the report names node 'a'"]
    assert "not the cleanup pod on this node" in judged.failed["c"][0]
    assert judged.failed["d"][0].startswith("unreadable report")
    assert judged.failed["e"] == ["/run/multus: Busy"]
    assert not judged.done
    assert plan.judge_reports(["a"], data, cleanup_pods).done


# --- the node-cleanup script on temporary node trees ----------------------------------------------

REMOVED = ("etc/cni/net.d/00-multus.conf", "etc/cni/net.d/00-multus.conflist", "etc/cni/net.d/multus.d/multus.kubeconfig",
           "opt/cni/bin/multus", "opt/cni/bin/multus-shim", "opt/cni/bin/multus-shim.temp", "run/multus/multus.sock")
KEPT = ("etc/cni/net.d/10-flannel.conflist", "etc/cni/net.d/99-loopback.conf", "etc/cni/net.d/01-multus-like.conf",
        "etc/cni/multus/net.d/macvlan.conf", "opt/cni/bin/macvlan", "opt/cni/bin/passthru", "opt/cni/bin/my-multus",
        "run/containerd/containerd.sock", "var/lib/cni/multus/results")


def tree(root: Path, names) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_cleanup_removes_exactly_the_multus_paths_and_reports_them(tmp_path):
    root = tree(tmp_path, REMOVED + KEPT)
    removed, errors = node_cleanup.clean(root)
    assert errors == []
    assert removed == ["/etc/cni/net.d/00-multus.conf", "/etc/cni/net.d/00-multus.conflist", "/etc/cni/net.d/multus.d",
                       "/opt/cni/bin/multus", "/opt/cni/bin/multus-shim", "/opt/cni/bin/multus-shim.temp", "/run/multus"]
    assert files(root) == set(KEPT)
    assert not (root / "run" / "multus").exists() and (root / "etc" / "cni" / "net.d").is_dir()


def test_cleanup_is_idempotent_and_fine_on_a_node_that_never_had_multus(tmp_path):
    root = tree(tmp_path, REMOVED + KEPT)
    node_cleanup.clean(root)
    assert node_cleanup.clean(root) == ([], [])
    assert files(root) == set(KEPT)
    assert node_cleanup.clean(tmp_path / "no-such-root") == ([], [])


def test_cleanup_removes_a_symlink_but_never_what_it_points_to(tmp_path):
    outside = tree(tmp_path / "outside", ["keep/me"])
    root = tree(tmp_path / "node", ["etc/cni/net.d/10-flannel.conflist", "opt/cni/bin/bridge"])
    (root / "etc/cni/net.d/multus.d").symlink_to(outside / "keep")
    (root / "opt/cni/bin/multus").symlink_to(root / "opt/cni/bin/bridge")
    removed, errors = node_cleanup.clean(root)
    assert (removed, errors) == (["/etc/cni/net.d/multus.d", "/opt/cni/bin/multus"], [])
    assert (outside / "keep" / "me").is_file() and (root / "opt/cni/bin/bridge").is_file()


def test_a_mounted_socket_dir_is_emptied_not_removed(tmp_path, monkeypatch):
    """In the pod /run/multus is a mount of its own: the mount point stays, what is in it goes."""
    root = tree(tmp_path, ["run/multus/multus.sock", "run/multus/sub/x", "run/containerd/containerd.sock"])
    mount = root / "run" / "multus"
    real_ismount = node_cleanup.os.path.ismount
    monkeypatch.setattr(node_cleanup.os.path, "ismount", lambda p: Path(p) == mount or real_ismount(p))
    assert node_cleanup.clean(root) == (["/run/multus"], [])
    assert mount.is_dir() and not any(mount.iterdir())
    assert (root / "run" / "containerd" / "containerd.sock").is_file()
    assert node_cleanup.clean(root) == ([], [])  # an empty mount point: nothing left to do


def test_cleanup_reports_what_it_could_not_do_and_goes_on(tmp_path):
    root = tree(tmp_path, ["etc/cni/net.d/00-multus.conf", "run/multus/multus.sock"])
    (root / "opt" / "cni").mkdir(parents=True)
    (root / "opt" / "cni" / "bin").write_text("not a directory")
    removed, errors = node_cleanup.clean(root)
    assert removed == ["/etc/cni/net.d/00-multus.conf", "/run/multus"]
    assert errors == ["/opt/cni/bin: Not a directory"]


def test_the_script_runs_alone_with_the_standard_library_and_prints_its_report(tmp_path):
    """As the pod runs it: `python3 -I` (isolated, no project on the path); --no-report skips the API."""
    root = tree(tmp_path, REMOVED[:2] + KEPT[:1])
    done = subprocess.run([sys.executable, "-I", str(daemonset.SCRIPT), "--root", str(root), "--no-report"],
                          env={"NODE_NAME": "node-a", "POD_NAME": "cleanup-a"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"node": "node-a", "pod": "cleanup-a", "errors": [],
                                       "removed": ["/etc/cni/net.d/00-multus.conf", "/etc/cni/net.d/00-multus.conflist"]}


# --- the cleanup DaemonSet and its RBAC -----------------------------------------------------------

def test_the_cleanup_objects_are_valid_pinned_and_least_privilege(tmp_path):
    objects = daemonset.objects(daemonset.NAMESPACE)
    for obj in objects:
        kubernetes_validate.validate(obj, "1.36", strict=True)
    role = next(o for o in objects if o["kind"] == "Role")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [daemonset.REPORT], "verbs": ["patch"]}]
    ds = objects[-1]
    pod_spec = ds["spec"]["template"]["spec"]
    assert pinning_problem(pod_spec["containers"][0]["image"]) is None
    assert pod_spec["hostNetwork"] is True  # no CNI needed to start it
    assert pod_spec["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # never all of /run: the container runtime's and the kubelet's sockets are there
    assert {v["hostPath"]["path"] for v in pod_spec["volumes"] if "hostPath" in v} == {"/etc/cni/net.d", "/opt/cni/bin", "/run/multus"}
    # the script the pod runs is the one in its ConfigMap: run that text on a node tree
    script = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == daemonset.NAME)
    command = pod_spec["containers"][0]["command"]
    assert command[1] == f"/cleanup/{next(iter(script['data']))}"
    (tmp_path / "cleanup.py").write_text(script["data"][command[1].rsplit("/", 1)[1]])
    root = tree(tmp_path / "node", REMOVED + KEPT)
    done = subprocess.run([sys.executable, str(tmp_path / "cleanup.py"), "--root", str(root), "--no-report"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert files(root) == set(KEPT)


# --- the command line -----------------------------------------------------------------------------

def test_a_moving_cleanup_image_is_refused_before_anything_is_read(capsys):
    assert main(["decommission", "--stack", "dev", "--cleanup-image", "docker.io/library/python:latest"]) == 2
    assert "--cleanup-image: image 'docker.io/library/python:latest' uses the moving tag 'latest'" in capsys.readouterr().err


def test_the_stack_is_required(capsys):
    with pytest.raises(SystemExit):
        main(["decommission"])
    assert "--stack" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-5", "soon"])
def test_a_node_timeout_that_could_never_pass_is_refused(capsys, timeout):
    with pytest.raises(SystemExit) as exited:
        main(["decommission", "--stack", "dev", "--node-timeout", timeout])
    assert exited.value.code == 2
    assert f"--node-timeout: {timeout!r}: must be a whole number of at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("typed, ok", [("dev\n", True), ("prod\n", False), ("", False), (" dev \n", True)])
def test_the_stack_name_typed_again_confirms(monkeypatch, capsys, typed, ok):
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    assert run.confirmed("dev", None) is ok
    assert "Type the stack name (dev)" in capsys.readouterr().out


def test_confirm_flag_needs_the_exact_name():
    assert run.confirmed("dev", "dev") and not run.confirmed("dev", "Dev")


def test_thick_is_told_from_the_daemonsets_command_and_a_tanzu_package_is_found():
    exported = copy.deepcopy(EXPORT)
    ds = next(r for r in exported["deployment"]["resources"] if r["urn"] == DS_URN)
    ds["outputs"]["spec"]["template"]["spec"]["containers"][0]["command"] = ["/usr/src/multus-cni/bin/multus-daemon"]
    multus_urn = ds["parent"]
    exported["deployment"]["resources"].append({
        "urn": "urn:pulumi:dev::multus-cni::multus-cni:index:Multus$kubernetes:packaging.carvel.dev/v1alpha1:PackageInstall::multus-package-install",
        "custom": True, "protect": True, "parent": multus_urn, "type": "kubernetes:packaging.carvel.dev/v1alpha1:PackageInstall",
        "outputs": {"kind": "PackageInstall", "metadata": {"name": "multus-cni", "namespace": "tanzu-packages"}}})
    state = StackState(exported)
    assert state.flavor() == "thick"
    assert [r.ref for r in state.package_installs] == ["PackageInstall tanzu-packages/multus-cni"]


def test_api_paths_for_core_group_and_nad_kinds():
    assert cluster.path("v1", "ConfigMap", "kube-system", daemonset.REPORT) == f"/api/v1/namespaces/kube-system/configmaps/{daemonset.REPORT}"
    assert cluster.path("v1", "Node") == "/api/v1/nodes"
    assert cluster.path("rbac.authorization.k8s.io/v1", "RoleBinding", "ns") == "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/rolebindings"
    assert cluster.path("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition") == "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions"
