"""Adopting the Tanzu package install of the guide (`tanzu-package` mode, `adopt: true`): the objects
`tanzu package install multus-cni` creates exist first, made outside Pulumi; the first `pulumi up`
imports each of them, recreating nothing.

kctrl's own module (carvel.dev/kapp-controller/cli) is not served by the Go module proxy here, so the
objects are created with `kubectl create` from what components/multus/tanzu.py renders (kctrl's
objects and names, from its e2e test), without the `pulumi.com/*` annotations kctrl does not write.
kapp-controller does not run on kwok: the test writes the status it writes after a reconcile.
"""

from __future__ import annotations

import json

import pytest
import yaml

from .conftest import rendered_objects, said
from .test_live_tanzu import carvel_crds  # noqa: F401  (fixture)

pytestmark = pytest.mark.live

TANZU = {"mode": "tanzu-package"}


def as_kctrl_creates(obj: dict) -> dict:
    annotations = obj["metadata"].get("annotations") or {}
    obj["metadata"]["annotations"] = {k: v for k, v in annotations.items() if not k.startswith("pulumi.com/")}
    return obj


def reconciled(cluster, namespace: str, name: str) -> None:
    """The status kapp-controller writes once the package is installed."""
    status = {"status": {"conditions": [{"type": "ReconcileSucceeded", "status": "True"}],
                         "friendlyDescription": "Reconcile succeeded", "observedGeneration": 1}}
    cluster.kubectl("patch", "packageinstall", "-n", namespace, name, "--subresource=status", "--type=merge",
                    "-p", json.dumps(status))


def uids(cluster, objects: list[dict]) -> dict[str, str]:
    found = {}
    for obj in objects:
        meta = obj["metadata"]
        scope = ["-n", meta["namespace"]] if meta.get("namespace") else []
        kind = obj["kind"] if "/" not in obj["apiVersion"] or obj["apiVersion"] == "v1" else f"{obj['kind']}.{obj['apiVersion'].split('/')[0]}"
        found[f"{obj['kind']} {meta['name']}"] = cluster.get(kind, meta["name"], *scope)["metadata"]["uid"]
    return found


def test_the_guides_tanzu_package_install_is_adopted_without_recreating_anything(new_stack, cluster, carvel_crds, tmp_path):
    stack = new_stack("tanzu-adopt", config_from=None)
    stack.set_config("multus-cni:multus", TANZU)
    objects = [as_kctrl_creates(o) for o in rendered_objects(stack.workdir, stack.workdir / "Pulumi.tanzu-adopt.yaml")]
    assert sorted(o["kind"] for o in objects) == ["ClusterRole", "ClusterRoleBinding", "PackageInstall", "Secret", "ServiceAccount"]
    manifest = tmp_path / "kctrl-objects.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    cluster.kubectl("create", "-f", str(manifest))
    try:
        reconciled(cluster, "default", "multus-cni")
        before = uids(cluster, objects)

        stack.set_config("multus-cni:multus", {**TANZU, "adopt": True})
        preview = json.loads(stack.pulumi("preview", "--json").stdout)
        ops: dict[str, list[str]] = {}
        for step in preview["steps"]:
            if "$" in step["urn"]:  # the component's children
                ops.setdefault(step["urn"].rsplit("::", 1)[-1], []).append(step["op"])
        # Each object imported, then updated in place: it gains the stack's ownership annotations (and
        # the PackageInstall the annotation Pulumi waits on); nothing created, replaced or deleted.
        assert ops == {name: ["import", "update"] for name in (
            "multus-service-account", "multus-cluster-role", "multus-cluster-role-binding", "multus-values",
            "multus-package-install")}

        stack.up()
        assert uids(cluster, objects) == before
        again = stack.pulumi("preview", "--expect-no-changes", check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        assert not said(again, "import")  # adopt stays set and is inert: the state holds the IDs it names
    finally:
        stack.decommission()
        cluster.kubectl("delete", "-f", str(manifest), "--ignore-not-found")
