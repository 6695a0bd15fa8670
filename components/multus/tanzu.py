"""What `tanzu package install multus-cni --package P --version V --values-file F` creates.

Source: carvel-dev/kapp-controller `cli/test/e2e/package_install_dry_run_test.go` (the objects
and names kctrl creates) and `pkg/apis/packaging/v1alpha1/package_install.go` (noopDelete).
"""

from __future__ import annotations

import yaml

from ..config import MultusConfig
from . import manifests

PACKAGE_API_VERSION = "packaging.carvel.dev/v1alpha1"
# Pulumi waits on this condition, so NADs are created only once kapp-controller has
# reconciled the package and its NAD CRD exists (pulumi-kubernetes `pulumi.com/waitFor`).
WAIT_FOR = "condition=ReconcileSucceeded"


def values(cfg: MultusConfig) -> dict:
    """The Tanzu values the user gave (namespace always), in the package's own shape."""
    data = cfg.model_dump(include={"namespace", "image", "daemonset"}, exclude_unset=True, exclude_none=True)
    data["namespace"] = cfg.namespace
    return data


def values_yaml(cfg: MultusConfig) -> str:
    return yaml.safe_dump(values(cfg), sort_keys=True, default_flow_style=False)


def daemonset_name(cfg: MultusConfig) -> str:
    """The DaemonSet the package's bundle creates: the 3.7.x bundles vendor upstream v3.7.1's
    images/multus-daemonset.yml, whose amd64 DaemonSet their overlay targets (`kube-multus-ds-amd64`,
    addons/packages/multus-cni/3.7.1/bundle/config/overlays); 3.8.0 and later use `kube-multus-ds`."""
    version = cfg.package.exact_version
    if version is not None and (version.major, version.minor) == (3, 7):
        return "kube-multus-ds-amd64"
    return manifests.DAEMONSET


def version_selection(cfg: MultusConfig) -> dict:
    """kctrl writes `prereleases: {}` with every --version; that matters only for a prerelease
    version (kapp-controller's packageinstall.go adds it itself then), and with a range it lets
    kapp-controller pick prereleases, so it is written only for a prerelease version."""
    selection: dict = {"constraints": cfg.package.version}
    version = cfg.package.exact_version
    if version is not None and version.pre:
        selection["prereleases"] = {}
    return selection


# kctrl's ownership marks (cli/pkg/kctrl/cmd/package/installed/created_resource_annotations.go):
# `tanzu package installed update/delete` only touches objects carrying them.
OWNER_ANNOTATIONS = ("packaging.carvel.dev/package", "tkg.tanzu.vmware.com/tanzu-package")


def owned(install: str, namespace: str) -> dict[str, str]:
    """On each object kctrl creates for an install: both marks, valued `<install>-<namespace>`."""
    return {key: f"{install}-{namespace}" for key in OWNER_ANNOTATIONS}


def install_annotations(cfg: MultusConfig, created: dict[str, str]) -> dict[str, str]:
    """On the PackageInstall: `<mark>-<Kind>: <name>` for every object created for it (kctrl's
    addCreatedResourceAnnotations), plus what Pulumi waits on."""
    annotations = {f"{mark}-{kind}": name for mark in OWNER_ANNOTATIONS for kind, name in created.items()}
    annotations["pulumi.com/waitFor"] = WAIT_FOR
    if cfg.package.reconcileTimeoutSeconds is not None:
        annotations["pulumi.com/timeoutSeconds"] = str(cfg.package.reconcileTimeoutSeconds)
    return annotations


def objects(cfg: MultusConfig) -> dict[str, dict]:
    install, ns = cfg.package.installName, cfg.package.namespace
    base = f"{install}-{ns}"
    sa, role, binding, secret = f"{base}-sa", f"{base}-cluster-role", f"{base}-cluster-rolebinding", f"{base}-values"
    created = {"ClusterRole": role, "ClusterRoleBinding": binding, "ServiceAccount": sa, "Secret": secret}
    marks = owned(install, ns)
    return {
        "service-account": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns, "annotations": dict(marks)}},
        "cluster-role": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role, "annotations": dict(marks)},
            # kctrl grants the installing account everything; kapp-controller applies the package with it.
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        "cluster-role-binding": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": binding, "annotations": dict(marks)},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
        },
        "values": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret, "namespace": ns, "annotations": dict(marks)},
            # What kctrl's Secret gets from the API server; a Secret's type cannot change, so leaving it
            # out would make adopting the install a replacement (refused: protected).
            "type": "Opaque",
            "stringData": {"values.yaml": values_yaml(cfg)},
        },
        "package-install": {
            "apiVersion": PACKAGE_API_VERSION,
            "kind": "PackageInstall",
            "metadata": {
                "name": install,
                "namespace": ns,
                "annotations": install_annotations(cfg, created),
            },
            "spec": {
                "serviceAccountName": sa,
                "packageRef": {"refName": cfg.package.refName, "versionSelection": version_selection(cfg)},
                "values": [{"secretRef": {"name": secret}}],
                # Deleting the PackageInstall must leave Multus on the nodes (multus-cni#461).
                "noopDelete": True,
            },
        },
    }
