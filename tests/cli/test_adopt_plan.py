"""`multus-cni adopt-plan`'s own parts: the differences, the provider's takeover of kubectl's fields,
the conflicts, the config hints, the verdicts, the table and the JSON.

The objects are what a real API server (kube-apiserver v1.36.3 of the live toolchain) answered about
upstream Multus v4.3.0 applied with `kubectl apply -f` (tests/fixtures/adopt/capture.py): the live
DaemonSet, the forced and the plain dry-run apply of the DaemonSet this project renders, and the
dry-run update after the takeover."""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from components import kube, managed_fields
from components.config import MultusConfig
from components.config.multus_health import DAEMON_RESOURCES
from components.multus import manifests
from components.testing import run_file
from multus_cni_cli import adopt_plan as ap
from multus_cni_cli.__main__ import main
from components.config import load_stack_config
from conftest import FIXTURES, PROGRAM, PROJECT, ROOT, config_of

ADOPT = FIXTURES / "adopt"
CONTAINER = '.spec.template.spec.containers[name="kube-multus"]'
INIT = '.spec.template.spec.initContainers[name="install-multus-binary"]'
CONFIGS = {"thin": MultusConfig(adopt=True), "thick": MultusConfig(adopt=True, flavor="thick")}


def load(name: str) -> dict:
    return json.loads((ADOPT / f"{name}.json").read_text())


def containers(ds: dict) -> dict:
    spec = ds["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*spec.get("containers", []), *spec.get("initContainers", [])]}


def first_up(case: str) -> list[ap.Difference]:
    return ap.differences(load(f"{case}-live"), load(f"{case}-updated"))


# --- what the first up changes -------------------------------------------------------------------

def test_upstream_thin_differs_exactly_where_our_defaults_differ_from_upstreams():
    diffs = {d.path: d for d in first_up("thin")}
    cfg = CONFIGS["thin"]
    assert sorted(diffs) == sorted([
        f"{CONTAINER}.args", f"{CONTAINER}.image", f"{INIT}.image", f"{INIT}.resources.requests.cpu",
        f"{INIT}.resources.requests.memory", f"{INIT}.resources.limits"])
    args = diffs[f"{CONTAINER}.args"]
    assert (args.live, args.rendered) == (list(manifests.UPSTREAM_THIN_ARGS), list(manifests.THIN_ARGS))
    assert diffs[f"{CONTAINER}.image"].live.endswith(":snapshot")  # upstream's manifests use the moving tag
    assert diffs[f"{CONTAINER}.image"].rendered == diffs[f"{INIT}.image"].rendered == cfg.image_ref
    assert diffs[f"{INIT}.resources.limits"].live is ap.ABSENT  # upstream's init container has requests only
    assert diffs[f"{INIT}.resources.limits"].rendered == DAEMON_RESOURCES["thin"].as_manifest()["limits"]


def test_upstream_thick_differs_in_image_and_memory_only():
    diffs = {d.path: d for d in first_up("thick")}
    assert sorted(diffs) == sorted([
        f"{CONTAINER}.image", f"{CONTAINER}.resources.limits.memory", f"{CONTAINER}.resources.requests.memory",
        f"{INIT}.image", f"{INIT}.resources.requests.cpu", f"{INIT}.resources.requests.memory", f"{INIT}.resources.limits"])
    assert diffs[f"{CONTAINER}.image"].rendered == CONFIGS["thick"].image_ref
    assert diffs[f"{CONTAINER}.resources.limits.memory"].rendered == DAEMON_RESOURCES["thick"].limits.memory


def test_what_the_api_server_defaults_and_its_own_metadata_are_never_differences():
    live, forced = load("thin-live"), load("thin-forced")
    assert forced["metadata"]["annotations"][kube.PATCH_FORCE] == "true"  # the rendered object carries it
    assert forced["metadata"]["managedFields"] != live["metadata"]["managedFields"]
    paths = [d.path for d in ap.differences(live, forced)]
    assert not [p for p in paths if p.startswith(".metadata")]
    # Every difference is a field the render sets: nothing the server defaulted (dnsPolicy, ...) shows.
    assert all(d.rendered is not ap.ABSENT for d in first_up("thin") + first_up("thick"))


def test_a_keyed_list_in_another_order_is_one_difference_the_whole_list():
    live = load("thick-live")
    reordered = copy.deepcopy(live)
    reordered["spec"]["template"]["spec"]["volumes"].reverse()
    [diff] = ap.differences(live, reordered)
    assert diff.path == ".spec.template.spec.volumes"
    assert diff.rendered == reordered["spec"]["template"]["spec"]["volumes"]


def test_paths_are_written_as_the_api_server_writes_its_conflicts():
    owners = ap.conflicts(load("thin-conflict"))
    diffs = first_up("thin")
    assert set(owners) <= {d.path for d in diffs}
    assert ap.with_owners(diffs, owners) == []
    assert {d.path: d.owner for d in diffs if d.owner} == owners
    assert set(owners.values()) == {"kubectl-client-side-apply"}
    # Nobody owned the limits upstream never set: no conflict there, only a change.
    assert [d.path for d in diffs if d.owner is None] == [f"{INIT}.resources.limits"]


def test_a_conflict_without_a_change_is_kept_apart():
    """fieldRef is an atomic struct whose apiVersion the API server defaults: the plain apply of ours
    (without apiVersion) conflicts with kubectl's, though the result is the same."""
    diffs = first_up("thick")
    unmatched = ap.with_owners(diffs, ap.conflicts(load("thick-conflict")))
    assert unmatched == [f'{CONTAINER}.env[name="MULTUS_NODE_NAME"].valueFrom.fieldRef (kubectl-client-side-apply)']


# --- the provider's takeover of kubectl's fields --------------------------------------------------

def test_the_takeover_drops_only_fields_the_render_does_not_set_and_the_server_defaults_them_again():
    forced = load("thin-forced")
    dropped = ap.dropped_paths(forced["metadata"]["managedFields"], ap.FIELD_MANAGER)
    assert ("f:metadata", "f:annotations", "f:kubectl.kubernetes.io/last-applied-configuration") in dropped
    assert ("f:spec", "f:template", "f:spec", "f:dnsPolicy") in dropped
    rendered = kube.owned(manifests.daemonset(CONFIGS["thin"]))
    assert all(managed_fields.without(rendered, [path]) == rendered for path in dropped)  # none is ours
    stripped = managed_fields.without(forced, dropped)
    assert all(managed_fields.without(forced, [path]) != forced and managed_fields.without(stripped, [path]) == stripped for path in dropped)
    # The dry-run update of the stripped object: the server defaulted every spec field again.
    assert ap.differences(forced, load("thin-updated")) == []


def test_the_takeover_removes_what_kubectl_applied_beyond_the_render():
    """A nodeSelector and a label of the user's own: kept by a plain apply of ours (kubectl still owns
    them), removed by the first up, which takes kubectl's fields over first."""
    live, forced = load("custom-live"), load("custom-forced")
    assert ap.differences(live, forced) == []
    dropped = ap.dropped_paths(forced["metadata"]["managedFields"], ap.FIELD_MANAGER)
    assert {("f:metadata", "f:labels", "f:team"), ("f:spec", "f:template", "f:spec", "f:nodeSelector")} <= set(dropped)
    assert [(d.path, d.rendered) for d in first_up("custom")] == [
        (".metadata.labels.team", ap.ABSENT), (".spec.template.spec.nodeSelector", ap.ABSENT)]


def test_an_atomic_list_is_replaced_whole_which_is_why_the_crd_needs_upstreams_descriptions():
    live, forced = load("crd-live"), load("crd-forced-without-descriptions")
    paths = [d.path for d in ap.differences(live, forced)]
    schema = '.spec.versions[name="v1"].schema.openAPIV3Schema.properties'
    assert paths == [f"{schema}.apiVersion.description", f"{schema}.kind.description"]


def test_only_the_managers_the_provider_takes_over_count():
    entry = {"fieldsV1": {"f:spec": {"f:x": {}}}, "operation": "Update"}
    managed = [{**entry, "manager": name} for name in ("kubectl-client-side-apply", "kubectl-edit", "before-first-apply")]
    assert ap.dropped_paths(managed, ap.FIELD_MANAGER) == [("f:spec", "f:x")]
    # Another tool's manager, or kubectl's on a subresource, is not taken over: the field stays.
    for other in ({**entry, "manager": "helm"}, {**entry, "manager": "kubectl", "operation": "Apply", "subresource": "status"}):
        assert ap.dropped_paths([*managed, other], ap.FIELD_MANAGER) == []


# --- the config that keeps the live values ---------------------------------------------------------

@pytest.mark.parametrize("case", ["thin", "thick"])
def test_the_hints_render_the_live_values(case):
    cfg, live = CONFIGS[case], load(f"{case}-live")
    found = dict(ap.hints(cfg, live, first_up(case)))
    expected = {("image", "tag"), ("resources", "init")} | ({("daemonset", "args")} if case == "thin" else {("resources", "daemon")})
    assert set(found) == expected
    merged = cfg.model_dump(mode="json", exclude_unset=True)
    for (section, key), value in found.items():
        merged.setdefault(section, {})[key] = value
    ours = containers(manifests.daemonset(MultusConfig.model_validate(merged)))
    for name, container in containers(live).items():
        for key in ("image", "args", "resources"):
            assert ours[name].get(key) == container.get(key), (name, key)


def test_no_hint_the_config_cannot_render():
    live = load("thin-live")
    diffs = first_up("thin")
    digest = copy.deepcopy(live)
    for container in containers(digest).values():
        container["image"] = "ghcr.io/k8snetworkplumbingwg/multus-cni@sha256:" + "0" * 64
    assert ("image", "tag") not in dict(ap.hints(CONFIGS["thin"], digest, diffs))
    two = copy.deepcopy(live)
    containers(two)["install-multus-binary"]["image"] += "-other"
    assert not [k for k, _ in ap.hints(CONFIGS["thin"], two, diffs) if k[0] == "image"]
    # thin_entrypoint's args cannot be kept with a readiness indicator of ours added to them
    waiting = MultusConfig(adopt=True, readinessIndicatorFile="/run/flannel/subnet.env")
    assert ("daemonset", "args") not in dict(ap.hints(waiting, live, diffs))
    # a thick tag on a thin DaemonSet is refused by the config: no hint at all
    thick_tag = copy.deepcopy(live)
    for container in containers(thick_tag).values():
        container["image"] += "-thick"
    assert ap.hints(MultusConfig(adopt=True, flavor="thin"), thick_tag, diffs) == []


def test_a_rolling_update_setting_is_a_hint_when_the_config_can_hold_it():
    live = load("thin-live")
    for value, hinted in (("25%", True), (0, False)):  # maxUnavailable: a positive number or a share
        live["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = value
        diffs = [ap.Difference(".spec.updateStrategy.rollingUpdate.maxUnavailable", value, 1)]
        assert ap.hints(CONFIGS["thin"], live, diffs) == ([(("maxUnavailable",), value)] if hinted else [])


def test_upstreams_daemonset_differs_in_min_ready_seconds_and_the_hint_keeps_upstreams_value():
    live = load("thin-live")  # upstream's manifest, applied: no minReadySeconds (0)
    assert "minReadySeconds" not in live["spec"]
    rendered = manifests.daemonset(CONFIGS["thin"])
    diffs = [d for d in ap.differences(live, rendered) if d.path == ".spec.minReadySeconds"]
    assert [d.rendered for d in diffs] == [5]  # absent live
    hints = dict(ap.hints(CONFIGS["thin"], live, diffs))
    assert hints[("minReadySeconds",)] == 0
    kept = CONFIGS["thin"].model_copy(update={"minReadySeconds": 0})
    assert "minReadySeconds" not in manifests.daemonset(kept)["spec"]


# --- verdicts, table, JSON --------------------------------------------------------------------------

def _item(action: str, diffs=(), **extra) -> ap.Item:
    return ap.Item("DaemonSet", "kube-multus-ds", "kube-system", "multus-daemonset", action,
                   "multus-cni:multus.adopt", True, list(diffs), **extra)


def test_ready_means_imports_without_changes_creates_and_what_the_stack_has():
    assert ap.exit_code([_item(ap.IMPORT), _item(ap.CREATE), _item(ap.IN_STACK)]) == 0
    for item in (_item(ap.IMPORT, first_up("thin")), _item(ap.EXISTS), _item(ap.MISSING),
                 _item(ap.IMPORT, problem="422 field is immutable"), _item(ap.IMPORT, replaced_on=[".data"])):
        assert ap.exit_code([_item(ap.IMPORT), item]) == 1, item.action


def test_notes_name_the_config_key():
    assert "set multus-cni:multus.adopt: true to import it" in _item(ap.EXISTS).note()
    assert "rename" not in _item(ap.EXISTS).note()  # Multus' names are upstream's
    nad = ap.Item("NetworkAttachmentDefinition", "macvlan-conf", "default", "x", ap.EXISTS, "multus-cni:networks[0].adopt")
    assert nad.note() == "the cluster already has it: set multus-cni:networks[0].adopt: true to import it, or rename it"
    assert "the import fails" in _item(ap.MISSING).note()
    assert "protected, so the preview fails" in _item(ap.IMPORT, replaced_on=[".data"]).note()


def test_table_lists_every_object_then_each_objects_changes_and_hints():
    diffs = first_up("thin")
    ap.with_owners(diffs, ap.conflicts(load("thin-conflict")))
    hints = [(f"multus-cni:multus.{'.'.join(k)}", v) for k, v in ap.hints(CONFIGS["thin"], load("thin-live"), diffs)]
    items = [ap.Item("ClusterRole", "multus", None, "multus-cluster-role", ap.IMPORT, "multus-cni:multus.adopt", True),
             _item(ap.IMPORT, diffs, hints=hints)]
    text = ap.table(items, "stack prod")
    lines = text.splitlines()
    assert lines[:4] == [
        "stack prod",
        "OBJECT                                ACTION  CHANGES  NOTE",
        "ClusterRole multus                    import  0        adopted by multus-cni:multus.adopt",
        "DaemonSet kube-system/kube-multus-ds  import  6        adopted by multus-cni:multus.adopt; the first `pulumi up` changes it (below)",
    ]
    assert f'  {CONTAINER}.image: "ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot" -> "{CONFIGS["thin"].image_ref}"' \
           "   (owned by kubectl-client-side-apply)" in lines
    assert f'  {INIT}.resources.limits: (absent) -> {{"cpu": "100m", "memory": "50Mi"}}' in lines
    assert '    multus-cni:multus.image.tag: "snapshot"' in lines
    assert text == ap.table(items, "stack prod")


def test_summary_json_is_sorted_and_leaves_out_what_is_absent():
    diffs = first_up("thin")
    text = ap.as_json("prod", [_item(ap.IMPORT, diffs)])
    document = json.loads(text)
    assert document["ready"] is False and document["stack"] == "prod"
    [obj] = document["objects"]
    limits = next(d for d in obj["differences"] if d["path"].endswith("limits"))
    assert "live" not in limits and limits["rendered"] == {"cpu": "100m", "memory": "50Mi"}
    assert text == json.dumps(document, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


# --- the objects `pulumi up` registers --------------------------------------------------------------

NETWORK = {"name": "storage", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth1",
                                         "ipam": {"type": "host-local", "subnet": "192.168.50.0/24"}}}


def test_planned_objects_carry_the_import_flag_and_the_key_that_adopts_them():
    other = {"name": "other", "config": {**NETWORK["config"], "master": "eth2"}}
    keys = {"multus": {"adopt": True}, "networks": [other, {**NETWORK, "adopt": True}], "workloads": [{"networks": "storage"}]}
    config = config_of(**keys)
    objects = ap.planned(run_file(PROGRAM, PROJECT, "test", config), load_stack_config(config), PROJECT)
    by_name = {o.manifest["metadata"]["name"]: o for o in objects if o.manifest["kind"] != "ConfigMap"}
    assert all(o.adopt and o.adopt_key == "multus-cni:multus.adopt" and o.protected and o.multus is not None
               for o in objects if o.type.startswith(("kubernetes:rbac", "kubernetes:apps", "kubernetes:apiext")))
    assert (by_name["storage"].adopt, by_name["storage"].adopt_key) == (True, "multus-cni:networks[1].adopt")
    assert (by_name["other"].adopt, by_name["other"].adopt_key) == (False, "multus-cni:networks[0].adopt")
    assert (by_name["sample-pod"].adopt, by_name["sample-pod"].adopt_key) == (False, None)
    assert [o.manifest["kind"] for o in objects][0] == "CustomResourceDefinition"  # apply order, as render


class FakeApi:
    """Answers as the API server answered for upstream thin (the fixtures); counts the calls."""

    def __init__(self, live: dict | None, case: str = "thin"):
        self.live, self.case, self.calls = live, case, []

    def get(self, manifest):
        self.calls.append("get")
        return self.live

    def apply(self, manifest, force):
        self.calls.append(f"apply force={force}")
        return (200, load(f"{self.case}-forced")) if force else (409, load(f"{self.case}-conflict"))

    def update(self, obj):
        self.calls.append("update")
        assert "managedFields" not in obj["metadata"]
        return 200, load(f"{self.case}-updated")


def _planned(adopt: bool) -> ap.Planned:
    manifest = kube.owned(manifests.daemonset(CONFIGS["thin"]))
    return ap.Planned(manifest, "kubernetes:apps/v1:DaemonSet", "multus-daemonset", adopt, True,
                      "multus-cni:multus.adopt", CONFIGS["thin"])


def test_judge_imports_and_computes_what_changes():
    api = FakeApi(load("thin-live"))
    item = ap.judge(_planned(True), api, set(), PROJECT)
    assert item.action == ap.IMPORT and len(item.differences) == 6
    assert api.calls == ["get", "apply force=False", "apply force=True", "update"]
    assert [k for k, _ in item.hints] == ["multus-cni:multus.daemonset.args", "multus-cni:multus.image.tag",
                                          "multus-cni:multus.resources.init"]


def test_judge_without_adopt_or_without_the_object():
    api = FakeApi(load("thin-live"))
    item = ap.judge(_planned(False), api, set(), PROJECT)
    assert item.action == ap.EXISTS and "update" not in api.calls  # a plain create takes nothing over
    assert ap.judge(_planned(True), FakeApi(None), set(), PROJECT).action == ap.MISSING
    assert ap.judge(_planned(False), FakeApi(None), set(), PROJECT).action == ap.CREATE
    known = FakeApi(load("thin-live"))
    state = {("kubernetes:apps/v1:DaemonSet", "kube-system/kube-multus-ds")}
    assert ap.judge(_planned(True), known, state, PROJECT).action == ap.IN_STACK and known.calls == []


# --- the stack's state, the command ----------------------------------------------------------------------

def _runner(code: int, stdout: str = "", stderr: str = ""):
    def run(command, **kwargs):
        assert command[:3] == ["pulumi", "stack", "export"] and "--stack" in command
        return subprocess.CompletedProcess(command, code, stdout, stderr)
    return run


def test_the_state_is_read_with_pulumi_stack_export(tmp_path):
    exported = (FIXTURES / "decommission" / "dev-stack-export.json").read_text()
    ids, known = ap.stack_state(tmp_path, "dev", _runner(0, exported))
    assert known and ("kubernetes:apps/v1:DaemonSet", "kube-system/kube-multus-ds") in ids
    assert ap.stack_state(tmp_path, "prod", _runner(255, stderr="error: no stack named 'prod' found")) == (set(), False)
    with pytest.raises(ap.AdoptError, match="passphrase"):
        ap.stack_state(tmp_path, "prod", _runner(255, stderr="error: incorrect passphrase"))

    def missing(command, **kwargs):
        raise FileNotFoundError(command[0])
    with pytest.raises(ap.AdoptError, match="not on PATH"):
        ap.stack_state(tmp_path, "prod", missing)


def test_no_cluster_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {"token": "t"}}]}))
    code = main(["adopt-plan", "--project-dir", str(ROOT), "--stack", "dev", "--no-state", "--kubeconfig", str(kubeconfig)])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    [line] = [line for line in err if line.startswith("adopt-plan:")]
    assert "cannot reach the cluster at https://127.0.0.1:9" in line
    assert main(["adopt-plan", "--project-dir", str(ROOT), "--stack-file", str(tmp_path / "Pulumi.none.yaml")]) == 2
    assert "no such stack file" in capsys.readouterr().err
