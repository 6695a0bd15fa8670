"""Typed pulumi_kubernetes resources from plain manifests.

Manifests stay plain camelCase dicts (easy to compare with upstream YAML and to validate);
this maps each kind to its typed class so the provider knows the schema. Only the kinds
this project creates are listed: anything else is a CustomResource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.apiextensions.v1 import CustomResourceDefinition
from pulumi_kubernetes.apps.v1 import DaemonSet, Deployment
from pulumi_kubernetes.core.v1 import ConfigMap, Pod, Secret, ServiceAccount
from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding

if TYPE_CHECKING:
    from .ownership import Owner

_TYPED = {
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): CustomResourceDefinition,
    ("apps/v1", "DaemonSet"): DaemonSet,
    ("apps/v1", "Deployment"): Deployment,
    ("v1", "ConfigMap"): ConfigMap,
    ("v1", "Pod"): Pod,
    ("v1", "Secret"): Secret,
    ("v1", "ServiceAccount"): ServiceAccount,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ClusterRoleBinding,
}

# Top-level manifest fields whose Python keyword differs from the JSON name.
_KEYWORDS = {"roleRef": "role_ref", "stringData": "string_data"}


def create(name: str, manifest: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None,
           adopt: bool = False, owner: Optional["Owner"] = None, adopt_key: Optional[str] = None) -> pulumi.CustomResource:
    """The typed resource of a manifest, owned by this stack (see `owned`); `adopt` imports the
    object the cluster already has; `owner` binds the ownership hooks (`adopt_key`: the config key
    its refusal names)."""
    manifest = owned(manifest)
    if adopt:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(import_=object_id(manifest)))
    if owner is not None:
        shared = bool(opts and opts.retain_on_delete)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(hooks=owner.binding(shared)))
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    fields = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    cls = _TYPED.get((api_version, kind))
    if cls is None:
        resource = CustomResource(name, api_version=api_version, kind=kind, opts=opts, **fields)
    else:
        resource = cls(name, opts=opts, **{_KEYWORDS.get(k, k): v for k, v in fields.items()})
    if owner is not None:
        owner.track(name, resource, adopt_key)
    return resource


def object_id(manifest: dict[str, Any]) -> str:
    """The provider's ID of an object, what the `import` option names: `namespace/name`, or `name`
    for a cluster-scoped one (pulumi-kubernetes provider.go, parseFqName)."""
    metadata = manifest["metadata"]
    return f"{metadata['namespace']}/{metadata['name']}" if metadata.get("namespace") else metadata["name"]


# pulumi-kubernetes' annotation that makes its server-side apply force conflicts, in the preview's
# dry-run too (provider/pkg/await/await.go `patchForce`), so an update takes back the fields a
# `kubectl edit` or `kubectl patch` changed (and, on an adopted object, the fields `kubectl apply`
# owned) instead of failing with "Server-Side Apply field conflict".
PATCH_FORCE = "pulumi.com/patchForce"
# Which stack owns the object, for the ownership check (components/ownership.py). Not the
# provider's `pulumi.com/patchFieldManager`: the provider updates a CRD with a PUT (await.go
# `updateResource`), so a new field manager owns none of its spec, and dropping the old one
# (`ssa.Relinquish`) then empties it: the first `up` of an existing stack failed with
# "spec.group: Required value" (measured, pulumi-kubernetes v4.25).
STACK_ANNOTATION = "multus-cni/stack"


def stack_id() -> str:
    """This stack as `<organization>/<project>/<stack>`."""
    return f"{pulumi.get_organization() or 'organization'}/{pulumi.get_project()}/{pulumi.get_stack()}"


def owned(manifest: dict[str, Any]) -> dict[str, Any]:
    """An object this stack is the source of truth for: applied forced, marked with the stack
    (docs/operations.md "One cluster, one owner")."""
    metadata = dict(manifest["metadata"])
    metadata["annotations"] = {**(metadata.get("annotations") or {}), PATCH_FORCE: "true",
                               STACK_ANNOTATION: stack_id()}
    return {**manifest, "metadata": metadata}


def create_children(parent: pulumi.Resource, name: str, objects: dict[str, dict[str, Any]], adopt: bool = False,
                    owner: Optional["Owner"] = None, adopt_key: Optional[str] = None,
                    **options: Any) -> dict[str, pulumi.CustomResource]:
    """A component's objects, keyed by role: each named f"{name}-{role}", parented to the component,
    with only the options given (protection, for example, comes from the parent); `adopt` imports each."""
    return {role: create(f"{name}-{role}", obj, pulumi.ResourceOptions(parent=parent, **options), adopt=adopt,
                         owner=owner, adopt_key=adopt_key)
            for role, obj in objects.items()}


def cluster_role_binding(name: str, role: str, account: str, namespace: str) -> dict[str, Any]:
    """The binding upstream node agents ship: one ClusterRole to their own ServiceAccount."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


def daemonset(name: str, namespace: str, labels: dict[str, str], pod_labels: dict[str, str], pod_spec: dict[str, Any],
              max_unavailable: int | str | None = None, min_ready_seconds: int | None = None) -> dict[str, Any]:
    """A DaemonSet manifest in the shape upstream node agents share: selected by its `name` label,
    rolling updates (`max_unavailable` nodes at a time when given, else the API server's default of 1),
    a pod counted available `min_ready_seconds` after it is Ready when given."""
    strategy: dict[str, Any] = {"type": "RollingUpdate"}
    if max_unavailable is not None:
        strategy["rollingUpdate"] = {"maxUnavailable": max_unavailable}
    spec: dict[str, Any] = {"selector": {"matchLabels": {"name": pod_labels["name"]}}}
    if min_ready_seconds is not None:
        spec["minReadySeconds"] = min_ready_seconds
    spec["updateStrategy"] = strategy
    spec["template"] = {"metadata": {"labels": dict(pod_labels)}, "spec": pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }
