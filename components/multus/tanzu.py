"""What `tanzu package install multus-cni --package P --version V --values-file F` creates.

Source: carvel-dev/kapp-controller `cli/test/e2e/package_install_dry_run_test.go` (the objects
and names kctrl creates) and `pkg/apis/packaging/v1alpha1/package_install.go` (noopDelete).
"""

from __future__ import annotations

import yaml

from ..config import MultusConfig

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


def version_selection(cfg: MultusConfig) -> dict:
    """kctrl writes `prereleases: {}` with every --version; that matters only for a prerelease
    version (kapp-controller's packageinstall.go adds it itself then), and with a range it lets
    kapp-controller pick prereleases, so it is written only for a prerelease version."""
    selection: dict = {"constraints": cfg.package.version}
    version = cfg.package.exact_version
    if version is not None and version.pre:
        selection["prereleases"] = {}
    return selection


def install_annotations(cfg: MultusConfig, role: str, binding: str, sa: str, secret: str) -> dict[str, str]:
    annotations = {
        "packaging.carvel.dev/package-ClusterRole": role,
        "packaging.carvel.dev/package-ClusterRoleBinding": binding,
        "packaging.carvel.dev/package-ServiceAccount": sa,
        "packaging.carvel.dev/package-Secret": secret,
        "pulumi.com/waitFor": WAIT_FOR,
    }
    if cfg.package.reconcileTimeoutSeconds is not None:
        annotations["pulumi.com/timeoutSeconds"] = str(cfg.package.reconcileTimeoutSeconds)
    return annotations


def objects(cfg: MultusConfig) -> dict[str, dict]:
    install, ns = cfg.package.installName, cfg.package.namespace
    base = f"{install}-{ns}"
    sa, role, binding, secret = f"{base}-sa", f"{base}-cluster-role", f"{base}-cluster-rolebinding", f"{base}-values"
    return {
        "service-account": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}},
        "cluster-role": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            # kctrl grants the installing account everything; kapp-controller applies the package with it.
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
        },
        "cluster-role-binding": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": binding},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}],
        },
        "values": {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret, "namespace": ns},
            "stringData": {"values.yaml": values_yaml(cfg)},
        },
        "package-install": {
            "apiVersion": PACKAGE_API_VERSION,
            "kind": "PackageInstall",
            "metadata": {
                "name": install,
                "namespace": ns,
                "annotations": install_annotations(cfg, role, binding, sa, secret),
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
