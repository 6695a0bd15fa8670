"""Adopting an existing Multus and existing NADs, with the real `pulumi` CLI and provider.

Upstream v4.3.0's own manifests (the toolchain's Go module cache, never a copy in this repository)
are applied with `kubectl apply -f` to a kwok cluster of this module's own (they are cluster-scoped
and would collide with other tests' Multus); then `multus-cni adopt-plan` says what the first up
changes, and `pulumi preview`/`up` do it. Each test deletes what it made.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from components import kube
from multus_cni_cli import adopt_plan as ap
from .conftest import ROOT, Cluster, Stack, Stacks, own_cluster, said

pytestmark = pytest.mark.live

NAMESPACE, DAEMONSET = "kube-system", "kube-multus-ds"
MANIFESTS = {"thin": "multus-daemonset.yml", "thick": "multus-daemonset-thick.yml"}


def upstream_deployments() -> Path:
    """upstream's deployments/ in the Go module cache toolchain/build.sh filled (GOPATH=$TC/go)."""
    script = ". toolchain/lib.sh; echo \"$TC/go/pkg/mod/gopkg.in/k8snetworkplumbingwg/multus-cni.v4@$MULTUS_VERSION/deployments\""
    return Path(subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip())


@pytest.fixture(scope="module")
def deployments(toolchain) -> Path:
    found = upstream_deployments()
    if not (found / MANIFESTS["thick"]).is_file():
        reason = f"upstream's manifests are not in the toolchain's module cache ({found}): run `make toolchain`"
        if os.environ.get("REQUIRE_LIVE") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def adopt_cluster(toolchain, tmp_path_factory) -> Iterator[Cluster]:
    yield from own_cluster(toolchain, tmp_path_factory, "adopt")


@pytest.fixture
def stacks(adopt_cluster, deployments, tmp_path) -> Iterator[Stacks]:
    """Stacks on this module's cluster; afterwards every stack is destroyed (adopted objects are
    then its own) and whatever kubectl applied and nobody adopted is deleted."""
    made = Stacks(adopt_cluster, tmp_path)
    try:
        yield made
    finally:
        made.close()
        for manifest in MANIFESTS.values():
            adopt_cluster.kubectl("delete", "--ignore-not-found", "--wait", "-f", str(deployments / manifest), check=False)


def kubectl_apply(cluster: Cluster, path: Path) -> None:
    cluster.kubectl("apply", "-f", str(path))
    cluster.kubectl("rollout", "status", "-n", NAMESPACE, f"ds/{DAEMONSET}", "--timeout=120s")


def adopt_plan(stack: Stack, *args: str) -> tuple[int, str, dict]:
    summary = stack.workdir / f"adopt-plan-{stack.name}.json"
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "adopt-plan", "--stack", stack.name,
                           "--summary-json", str(summary), *args], cwd=stack.workdir, env=stack.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, done.stdout, json.loads(summary.read_text())


def objects(plan: dict) -> dict[str, dict]:
    return {f"{o['kind']} {o['name']}": o for o in plan["objects"]}


def preview(stack: Stack, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = stack.pulumi("preview", "--json", *args, check=False)
    return done, json.loads(done.stdout)


def kube_ops(document: dict) -> dict[str, list[str]]:
    """The step operations per Kubernetes resource of a `pulumi preview --json`."""
    ops: dict[str, list[str]] = {}
    for step in document.get("steps") or []:
        if step["urn"].split("::")[-2].split("$")[-1].startswith("kubernetes:"):
            ops.setdefault(step["urn"].split("::")[-1], []).append(step["op"])
    return ops


def errors(document: dict) -> str:
    return "\n".join(d.get("message", "") for d in document.get("diagnostics") or [] if d.get("severity") == "error")


def daemonset(cluster: Cluster) -> dict:
    return cluster.get("daemonset", "-n", NAMESPACE, DAEMONSET)


def pods(cluster: Cluster) -> list[tuple[str, str]]:
    found = cluster.get("pods", "-n", NAMESPACE, "-l", "name=multus")["items"]
    return sorted((p["metadata"]["name"], p["metadata"]["uid"]) for p in found)


def multus_objects(cluster: Cluster, flavor: str) -> dict[str, dict]:
    config_map = "multus-daemon-config" if flavor == "thick" else "multus-cni-config"
    names = {"crd": ("crd", "network-attachment-definitions.k8s.cni.cncf.io"), "cluster-role": ("clusterrole", "multus"),
             "binding": ("clusterrolebinding", "multus"), "account": ("serviceaccount", "-n", NAMESPACE, "multus"),
             "config": ("configmap", "-n", NAMESPACE, config_map), "daemonset": ("daemonset", "-n", NAMESPACE, DAEMONSET)}
    return {role: cluster.get(*args) for role, args in names.items()}


def with_hints(multus: dict, plan: dict) -> dict:
    """The `multus-cni:multus` config with every key adopt-plan suggests."""
    config = json.loads(json.dumps(multus))
    for obj in plan["objects"]:
        for hint in obj["config"]:
            node, keys = config, hint["key"].split(":", 1)[1].split(".")[1:]
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = hint["value"]
    return config


@pytest.mark.parametrize("flavor", ["thin", "thick"])
def test_upstream_multus_is_adopted_unchanged_with_the_config_adopt_plan_suggests(stacks, adopt_cluster, deployments, flavor):
    cluster = adopt_cluster
    kubectl_apply(cluster, deployments / MANIFESTS[flavor])
    stack = stacks(f"adopt-{flavor}", config_from=None)
    multus = {"adopt": True, "flavor": flavor}
    stack.set_config("multus-cni:multus", multus)

    code, text, plan = adopt_plan(stack)
    assert code == 1, text
    assert {o["action"] for o in plan["objects"]} == {"import"} and len(plan["objects"]) == 6
    found = objects(plan)
    assert [name for name, o in found.items() if o["differences"]] == ["DaemonSet kube-multus-ds"], text
    paths = {d["path"] for d in found["DaemonSet kube-multus-ds"]["differences"]}
    container = '.spec.template.spec.containers[name="kube-multus"]'
    init = '.spec.template.spec.initContainers[name="install-multus-binary"]'
    assert {f"{container}.image", f"{init}.image", f"{init}.resources.limits"} <= paths
    live_image = next(d for d in found["DaemonSet kube-multus-ds"]["differences"] if d["path"] == f"{container}.image")["live"]
    assert live_image == f"ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot{'-thick' if flavor == 'thick' else ''}"
    assert ({f"{container}.args"} <= paths) == (flavor == "thin")

    plan_before_up = plan
    stack.set_config("multus-cni:multus", with_hints(multus, plan))
    code, text, plan = adopt_plan(stack)
    assert code == 0 and plan["ready"] and all(not o["differences"] for o in plan["objects"]), text

    done, document = preview(stack)
    assert done.returncode == 0, errors(document)
    ops = kube_ops(document)
    assert len(ops) == 6 and all(steps[0] == "import" and set(steps[1:]) <= {"update"} for steps in ops.values()), ops
    assert document["changeSummary"].get("import") == 6 and not {"replace", "delete", "create-replacement"} & set(document["changeSummary"])

    before, pods_before = multus_objects(cluster, flavor), pods(cluster)
    stack.up()
    after = multus_objects(cluster, flavor)
    assert after["daemonset"]["metadata"]["uid"] == before["daemonset"]["metadata"]["uid"]
    assert after["daemonset"]["metadata"]["generation"] == before["daemonset"]["metadata"]["generation"]
    assert pods(cluster) == pods_before
    # What adopt-plan said, the API server did: nothing changed but the metadata of the write.
    assert {role: [d.path for d in ap.differences(before[role], after[role])] for role in before} == {role: [] for role in before}
    assert all(after[r]["metadata"]["uid"] == before[r]["metadata"]["uid"] for r in before)

    done, document = preview(stack, "--expect-no-changes")
    assert done.returncode == 0, errors(document)
    versions = {role: obj["metadata"]["resourceVersion"] for role, obj in after.items()}
    again = stack.up()
    assert said(again, "8 unchanged"), again.stdout  # adopt still set: the import ID is the state's, a no-op
    assert {role: obj["metadata"]["resourceVersion"] for role, obj in multus_objects(cluster, flavor).items()} == versions

    code, text, plan = adopt_plan(stack)
    assert code == 0 and {o["action"] for o in plan["objects"]} == {"in the stack"}, text

    # adopt removed afterwards: nothing changes (every object is forced under the stack's field
    # manager anyway, components/kube.py `owned`); the objects stay forced, as the stack's own.
    hinted = with_hints(multus, plan_before_up)
    stack.set_config("multus-cni:multus", {k: v for k, v in hinted.items() if k != "adopt"})
    done, document = preview(stack, "--expect-no-changes")
    assert done.returncode == 0, errors(document)
    last = multus_objects(cluster, flavor)
    assert all((obj["metadata"].get("annotations") or {}).get(kube.PATCH_FORCE) == "true" for obj in last.values())
    assert pods(cluster) == pods_before


PATCH_FORCE_LINE = '    metadata["annotations"] = {**(metadata.get("annotations") or {}), PATCH_FORCE: "true",\n'


def test_our_defaults_roll_the_adopted_daemonset_in_place_and_need_patch_force(stacks, adopt_cluster, deployments, tmp_path):
    cluster = adopt_cluster
    kubectl_apply(cluster, deployments / MANIFESTS["thin"])

    # The same program without the annotation: the preview's dry-run is not forced and fails on
    # every field kubectl-client-side-apply owns and ours changes.
    (tmp_path / "without-patch-force").mkdir()
    plain = Stacks(cluster, tmp_path / "without-patch-force")
    kube_py = plain.workdir / "components" / "kube.py"
    assert PATCH_FORCE_LINE in kube_py.read_text()
    kube_py.write_text(kube_py.read_text().replace(PATCH_FORCE_LINE, '    metadata["annotations"] = {**(metadata.get("annotations") or {}),\n'))
    try:
        bare = plain("bare", config_from=None)
        bare.set_config("multus-cni:multus", {"adopt": True})
        done, document = preview(bare)
        failure = errors(document)
        assert done.returncode != 0
        assert "Server-Side Apply field conflict detected" in failure
        assert 'Apply failed with 5 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1' in failure
        refused = set(re.findall(r"^\s*- (\.\S+)$", failure, re.M))
        assert len(refused) == 5, failure
    finally:
        plain.close()

    stack = stacks("defaults", config_from=None)
    stack.set_config("multus-cni:multus", {"adopt": True})
    code, text, plan = adopt_plan(stack)
    assert code == 1
    changes = objects(plan)["DaemonSet kube-multus-ds"]["differences"]
    assert {d["path"] for d in changes if d.get("owner") == "kubectl-client-side-apply"} == refused, text

    done, document = preview(stack)
    assert done.returncode == 0, errors(document)
    ops = kube_ops(document)
    assert ops["multus-daemonset"] == ["import", "update"] and not {"replace", "delete"} & set(document["changeSummary"])

    before = multus_objects(cluster, "thin")
    stack.up()
    after = multus_objects(cluster, "thin")
    ds_before, ds_after = before["daemonset"], after["daemonset"]
    assert ds_after["metadata"]["uid"] == ds_before["metadata"]["uid"]
    assert ds_after["metadata"]["generation"] == ds_before["metadata"]["generation"] + 1
    assert all(after[r]["metadata"]["uid"] == before[r]["metadata"]["uid"] for r in before)  # nothing replaced
    # Exactly the changes adopt-plan listed, to the values it listed.
    made = {d.path: d.rendered for d in ap.differences(ds_before, ds_after)}
    assert made == {d["path"]: d.get("rendered", ap.ABSENT) for d in changes}
    assert {role: ap.differences(before[role], after[role]) for role in before if role != "daemonset"} == {
        role: [] for role in before if role != "daemonset"}
    done, document = preview(stack, "--expect-no-changes")
    assert done.returncode == 0, errors(document)


def test_a_change_the_provider_makes_by_replacement_fails_the_preview(stacks, adopt_cluster, deployments):
    """A ConfigMap whose data differs is replaced by the provider (it replaces ConfigMaps on data
    changes); Multus is protected, so the preview refuses instead of deleting it."""
    cluster = adopt_cluster
    kubectl_apply(cluster, deployments / MANIFESTS["thick"])
    config_map = cluster.get("configmap", "-n", NAMESPACE, "multus-daemon-config")
    text = config_map["data"]["daemon-config.json"].replace('"logLevel": "verbose"', '"logLevel": "debug"')
    cluster.kubectl("patch", "configmap", "-n", NAMESPACE, "multus-daemon-config", "--type=merge",
                    "-p", json.dumps({"data": {"daemon-config.json": text}}))
    stack = stacks("replace", config_from=None)
    stack.set_config("multus-cni:multus", {"adopt": True, "flavor": "thick"})
    code, out, plan = adopt_plan(stack)
    assert code == 1
    assert objects(plan)["ConfigMap multus-daemon-config"]["replacedOn"] == ['.data.daemon-config.json'], out
    assert "protected, so the preview fails" in objects(plan)["ConfigMap multus-daemon-config"]["note"]

    uid = config_map["metadata"]["uid"]
    done, document = preview(stack)
    assert done.returncode != 0
    assert "marked for protection" in errors(document), errors(document)
    assert cluster.get("configmap", "-n", NAMESPACE, "multus-daemon-config")["metadata"]["uid"] == uid


def nad(name: str, config: dict) -> dict:
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": "default"}, "spec": {"config": json.dumps(config)}}


def test_existing_nads_are_imported_named_or_left_alone(stacks, adopt_cluster, deployments):
    cluster = adopt_cluster
    kubectl_apply(cluster, deployments / MANIFESTS["thin"])
    stack = stacks("nads", config_from=None)
    multus = {"adopt": True}
    stack.set_config("multus-cni:multus", multus)
    _, _, plan = adopt_plan(stack)
    stack.set_config("multus-cni:multus", with_hints(multus, plan))

    macvlan = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
               "ipam": {"type": "host-local", "subnet": "192.168.50.0/24"}}
    networks = [{"name": "backup", "config": {**macvlan, "master": "eth1"}},  # networks[0]: not adopted
                {"name": "storage", "config": macvlan, "adopt": True}]
    stack.set_config("multus-cni:networks", networks)
    stack.set_config("multus-cni:externalNetworks", ["default/platform"])
    stack.set_config("multus-cni:workloads", [{"name": "probe", "networks": "storage,platform",
                                               "image": "docker.io/library/alpine:3.22"}])
    # What the render makes of networks[0] and [1], created beforehand with kubectl, and the platform's NAD.
    rendered = {o["metadata"]["name"]: o for o in
                yaml.safe_load_all(subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "multus_cni_cli", "render", "--stack",
                                                   stack.name], cwd=stack.workdir, capture_output=True, text=True, check=True).stdout)
                if o and o["kind"] == "NetworkAttachmentDefinition"}
    for obj in (rendered["backup"], rendered["storage"], nad("platform", {**macvlan, "master": "eth2", "name": "platform"})):
        obj["metadata"].pop("annotations", None)  # as someone else created them: no patchForce
        subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "create", "-f", "-"], input=json.dumps(obj),
                       env=cluster.env, text=True, capture_output=True, check=True)
    before = {name: cluster.get("network-attachment-definitions", "-n", "default", name) for name in ("backup", "storage", "platform")}

    code, text, plan = adopt_plan(stack)
    assert code == 1, text
    found = objects(plan)
    backup = found["NetworkAttachmentDefinition backup"]
    assert backup["action"] == "exists, not adopted" and "multus-cni:networks[0].adopt" in backup["note"]
    assert "set multus-cni:networks[0].adopt: true to import it, or rename it" in text
    assert found["NetworkAttachmentDefinition storage"]["action"] == "import" and not found["NetworkAttachmentDefinition storage"]["differences"]
    assert "NetworkAttachmentDefinition platform" not in found  # the stack does not own an external network

    # Without adopt, the create of the NAD kubectl made is refused, naming its owner and the key; nothing is written.
    done, document = preview(stack)
    assert done.returncode != 0
    assert ("NetworkAttachmentDefinition default/backup already exists, managed by kubectl (kubectl-create); "
            "this stack would take it over without a word: to manage it from this stack instead, "
            "set multus-cni:networks[0].adopt: true") in errors(document)
    assert cluster.get("network-attachment-definitions", "-n", "default", "backup") == before["backup"]
    networks[0]["adopt"] = True
    stack.set_config("multus-cni:networks", networks)
    done, document = preview(stack)
    assert done.returncode == 0, errors(document)
    ops = kube_ops(document)
    assert ops["default/storage-nad"][0] == "import" and ops["default/backup-nad"][0] == "import"

    stack.up()
    after = {name: cluster.get("network-attachment-definitions", "-n", "default", name) for name in before}
    assert after["platform"]["metadata"]["resourceVersion"] == before["platform"]["metadata"]["resourceVersion"]
    assert after["storage"]["metadata"]["uid"] == before["storage"]["metadata"]["uid"]
    assert after["backup"]["metadata"]["uid"] == before["backup"]["metadata"]["uid"]
    assert after["backup"]["metadata"]["annotations"][kube.STACK_ANNOTATION] == f"organization/multus-cni/{stack.name}"
    state_ids = {r.get("id") for r in stack.state()}
    assert {"default/backup", "default/storage"} <= state_ids and "default/platform" not in state_ids
