"""Kubernetes objects from plain manifests, registered as pulumi_kubernetes' own classes register them.

Manifests stay plain camelCase dicts (easy to compare with upstream YAML and to validate). Each is
registered under its kind's type token (`kubernetes:core/v1:Pod`, `kubernetes:apps/v1:DaemonSet`,
a custom resource's `kubernetes:<apiVersion>:<kind>`), with the provider version, aliases and secret
outputs that class gives it, so the engine and the provider get the same request
(tests/components/test_kube.py compares them). Not the generated classes themselves: without
their modules the program's imports take 0.65 s of CPU instead of 1.2 s, at every preview and `up`
(docs/performance.md), and their typed outputs are not read here. Outputs are plain dicts: `obj.metadata.apply(lambda m: m["name"])`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi_kubernetes import _utilities

if TYPE_CHECKING:
    from .ownership import Owner

# What pulumi-kubernetes v4.25's generated Python class of a kind adds to its registration
# (sdk/python/pulumi_kubernetes/<group>/<version>/<Kind>.py, `_internal_init`): the types of its
# aliases, and outputs that are always secret (and whose inputs it wraps as secrets).
_ALIASES = {
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition": ("kubernetes:apiextensions.k8s.io/v1beta1:CustomResourceDefinition",),
    "kubernetes:apps/v1:DaemonSet": ("kubernetes:apps/v1beta2:DaemonSet", "kubernetes:extensions/v1beta1:DaemonSet"),
    "kubernetes:apps/v1:Deployment": ("kubernetes:apps/v1beta1:Deployment", "kubernetes:apps/v1beta2:Deployment",
                                      "kubernetes:extensions/v1beta1:Deployment"),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": ("kubernetes:rbac.authorization.k8s.io/v1alpha1:ClusterRole",
                                                            "kubernetes:rbac.authorization.k8s.io/v1beta1:ClusterRole"),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": (
        "kubernetes:rbac.authorization.k8s.io/v1alpha1:ClusterRoleBinding",
        "kubernetes:rbac.authorization.k8s.io/v1beta1:ClusterRoleBinding"),
}
_SECRETS = {"kubernetes:core/v1:Secret": ("data", "stringData")}


def type_token(api_version: str, kind: str) -> str:
    """`kubernetes:<group>/<version>:<kind>`, the core group as `core`."""
    return f"kubernetes:{api_version if '/' in api_version else 'core/' + api_version}:{kind}"


class KubernetesObject(pulumi.CustomResource):
    """One Kubernetes object; its attributes are the manifest's top-level fields, as Outputs of the
    provider's plain values."""

    metadata: pulumi.Output[dict]

    def __init__(self, name: str, manifest: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None):
        token = type_token(manifest["apiVersion"], manifest["kind"])
        secrets = _SECRETS.get(token, ())
        # Outputs only of the manifest's fields: no `status`, which the classes declare and nothing here reads.
        props = {k: pulumi.Output.secret(v) if k in secrets else v for k, v in manifest.items()}
        # In the generated classes' order: their defaults (the provider version) under the caller's
        # options, then their aliases and secret outputs added.
        opts = pulumi.ResourceOptions.merge(_utilities.get_resource_opts_defaults(), opts)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            aliases=[pulumi.Alias(type_=alias) for alias in _ALIASES.get(token, ())] or None,
            additional_secret_outputs=list(secrets) or None))
        super().__init__(token, name, props, opts)


def create(name: str, manifest: dict[str, Any], opts: Optional[pulumi.ResourceOptions] = None,
           adopt: bool = False, owner: Optional["Owner"] = None, adopt_key: Optional[str] = None) -> KubernetesObject:
    """The object of a manifest, owned by this stack (see `owned`); `adopt` imports the object the
    cluster already has; `owner` binds the ownership hooks (`adopt_key`: the config key its refusal
    names)."""
    manifest = owned(manifest)
    if adopt:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(import_=object_id(manifest)))
    if owner is not None:
        shared = bool(opts and opts.retain_on_delete)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(hooks=owner.binding(shared)))
    resource = KubernetesObject(name, manifest, opts)
    if owner is not None:
        owner.track(name, resource, adopt_key)
    return resource


def field(resource: pulumi.CustomResource, *path: str) -> pulumi.Output[Any]:
    """A field of an object's outputs, `field(daemonset, "metadata", "namespace")`."""
    def get(value: Any) -> Any:
        for key in path[1:]:
            value = value[key]
        return value

    return getattr(resource, path[0]).apply(get)


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
