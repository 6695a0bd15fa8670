"""tanzu-package mode against a real API server that knows the Carvel PackageInstall kind but runs
no kapp-controller: what `tanzu package install` creates is created, and the NADs stay held back
by the wait for ReconcileSucceeded until it times out."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import said

pytestmark = pytest.mark.live

CRDS = Path(__file__).resolve().parent / "fixtures" / "carvel-packaging-crds.yaml"
TIMEOUT = 20


@pytest.fixture
def carvel_crds(cluster):
    cluster.kubectl("apply", "-f", str(CRDS))
    cluster.kubectl("wait", "--for=condition=Established", "crd/packageinstalls.packaging.carvel.dev")
    yield
    cluster.kubectl("delete", "-f", str(CRDS), "--ignore-not-found")


def test_the_package_is_installed_and_the_nads_wait_for_its_reconcile(new_stack, cluster, carvel_crds):
    stack = new_stack("tanzu")
    stack.set_config("multus-cni:multus", {"mode": "tanzu-package",
                                           "package": {"reconcileTimeoutSeconds": TIMEOUT}})
    done = stack.pulumi("up", "--yes", "--skip-preview", check=False)
    assert done.returncode != 0
    # The provider waited on the PackageInstall's conditions and gave up after reconcileTimeoutSeconds.
    assert said(done, "warning: Has no .status.conditions")
    assert said(done, "failed to fully initialize or become live: timed out waiting for the condition")

    install = cluster.get("packageinstall", "-n", "default", "multus-cni")
    assert install["spec"]["packageRef"]["refName"] == "multus-cni.tanzu.vmware.com"
    secret = install["spec"]["values"][0]["secretRef"]["name"]
    account = install["spec"]["serviceAccountName"]
    cluster.get("secret", "-n", "default", secret)
    cluster.get("serviceaccount", "-n", "default", account)
    binding = cluster.get("clusterrolebinding", install["metadata"]["annotations"]["packaging.carvel.dev/package-ClusterRoleBinding"])
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "default"}]
    cluster.get("clusterrole", binding["roleRef"]["name"])

    # What held the NAD back is the wait: it was never sent to the API server.
    assert not [r for r in stack.state() if r["type"].endswith("NetworkAttachmentDefinition")]
    assert "macvlan-conf" not in cluster.kubectl("get", "network-attachment-definitions", "-A", check=False).stdout
