"""One cluster, one owner: a stack takes back what someone changed on its objects behind its back,
and never takes over an object someone else created.

Every object a component creates is marked with its stack and forces its server-side apply
(`kube.owned`), so `pulumi up --refresh` restores what a `kubectl edit` changed instead of failing
on the conflict. Two hooks, run in previews too, make that visible and safe:

- before an update, the fields of the refreshed object that another field manager owns and this
  stack sets: the drift the update takes back, one warning per object;
- before a create, the object as the cluster has it (one metadata LIST per kind and namespace per
  run, `ClusterAccess.existing`): the provider's server-side apply would take an
  existing object over without a word (pulumi-kubernetes v4.25 `await.Creation`: "we always send a
  PATCH request during creates"), so a create of an object someone else manages is refused, naming
  that owner, unless it is adopted (`adopt: true`, which imports instead of creating).
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Optional

import pulumi

from . import kube, managed_fields
from .kubeapi import Cluster, ClusterError, of_provider_setting

DOCS = 'docs/operations.md "One cluster, one owner"'
DRIFT_DOCS = 'docs/operations.md "Drift: what happens when someone edits the cluster"'


class ClusterAccess:
    """How the ownership check reaches the cluster the objects go to: the provider's settings.

    `kubeconfig`: a path or a kubeconfig's text, as the provider's own setting (an Output too, such
    as a StackReference's secret: read once it is known, never logged); None: KUBECONFIG, ~/.kube/config.
    One per cluster and program run: every component's check shares its connection and its reads."""

    def __init__(self, kubeconfig: "pulumi.Input[str] | None" = None, context: Optional[str] = None):
        self.context = context
        self._known = not isinstance(kubeconfig, pulumi.Output)
        self.kubeconfig: Optional[str] = kubeconfig if self._known else None  # type: ignore[assignment]
        if not self._known:
            kubeconfig.apply(self._resolved)  # type: ignore[union-attr]
        self._client: Optional[Cluster] = None
        self._listed: dict[tuple[str, str, Optional[str]], Optional[dict[str, dict]]] = {}
        self._lock = threading.Lock()

    def _resolved(self, value: Optional[str]) -> None:
        self.kubeconfig, self._known = value, True

    @classmethod
    def of_default_provider(cls) -> Optional["ClusterAccess"]:
        """The default Kubernetes provider's cluster (its `kubernetes:kubeconfig` and `kubernetes:context`,
        else KUBECONFIG); None when it renders manifests to a folder and reaches no cluster."""
        settings = pulumi.Config("kubernetes")
        if settings.get("renderYamlToDirectory"):
            return None
        return cls(settings.get("kubeconfig"), settings.get("context"))

    def connect(self) -> Cluster:
        if not self._known:
            raise ClusterError("the provider's kubeconfig is not known yet")
        return of_provider_setting(self.kubeconfig, self.context)

    def client(self) -> Cluster:
        with self._lock:
            if self._client is None:
                self._client = self.connect()
            return self._client

    def existing(self, api_version: str, kind: str, name: str, namespace: Optional[str]) -> Optional[dict]:
        """The object's metadata as the cluster had it when this run first asked for its kind and
        namespace, None when it had none: one metadata-only LIST per kind and namespace instead of a
        GET per object (at 500 networks, 500 reads become one). Where listing is not allowed, a GET."""
        client, key = self.client(), (api_version, kind, namespace)
        with self._lock:
            if key not in self._listed:
                try:
                    items = client.list(api_version, kind, namespace, metadata_only=True)
                    self._listed[key] = {item["metadata"]["name"]: item for item in items}
                except ClusterError as exc:
                    pulumi.log.debug(f"cannot list {kind}, reading each object instead: {exc}")
                    self._listed[key] = None
            listed = self._listed[key]
        if listed is None:
            return client.get(api_version, kind, name, namespace)
        return listed.get(name)

    def current(self, api_version: str, kind: str, name: str, namespace: Optional[str]) -> Optional[dict]:
        """The object as the cluster has it now (a run may have deleted it since the LIST: a replace)."""
        return self.client().get(api_version, kind, name, namespace)


def described(manager: str) -> str:
    """Who a field manager is, in the words of the tool that names it that way."""
    if manager.startswith("pulumi-kubernetes"):
        return f"a Pulumi stack (field manager {manager})"
    if manager == "helm" or manager.startswith("helm-"):
        return "Helm"
    if manager.startswith("kubectl"):
        return f"kubectl ({manager})"
    return manager


def owner_of(live: Mapping[str, Any], ours: str) -> Optional[str]:
    """None when the object is marked with `ours` (a run of this stack created it, and was
    interrupted before the state knew); else who owns it: another stack's mark, the tools' own
    labels, else its field managers."""
    metadata = live.get("metadata") or {}
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    stack = annotations.get(kube.STACK_ANNOTATION)
    if stack:
        return None if stack == ours else f"Pulumi stack {stack}"
    if annotations.get("meta.helm.sh/release-name"):  # helm.sh/helm v3 pkg/action: the release's marks
        return f"the Helm release {annotations.get('meta.helm.sh/release-namespace', '')}/{annotations['meta.helm.sh/release-name']}"
    if labels.get("kapp.k14s.io/app"):  # carvel kapp: the app's label on every object it applies
        return f"the kapp app {labels['kapp.k14s.io/app']}"
    names = managed_fields.managers(metadata.get("managedFields"))
    if not names:
        return "an unknown owner (no field manager recorded)"
    return ", ".join(described(name) for name in names)


def drift(old_outputs: Mapping[str, Any], new_inputs: Mapping[str, Any], ours: set[str]) -> dict[str, list[str]]:
    """manager -> the fields (API notation) it owns on the live object that this stack sets: what
    another tool changed, which the forced apply takes back."""
    found: dict[str, list[str]] = {}
    for entry in (old_outputs.get("metadata") or {}).get("managedFields") or []:
        manager = entry.get("manager") or ""
        if manager in ours or entry.get("subresource"):
            continue
        fields = sorted(p for p in managed_fields.leaves(entry.get("fieldsV1") or {})
                        if p and managed_fields.resolve(new_inputs, p)[1])
        if fields:
            found.setdefault(manager, []).extend(managed_fields.field_path(p) for p in fields)
    return found


def _what(inputs: Mapping[str, Any]) -> str:
    metadata = inputs.get("metadata") or {}
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{inputs.get('kind', 'object')} {where}{metadata.get('name', '?')}"


class Owner:
    """The ownership hooks of one component's objects (a NAD's come from its Multus)."""

    def __init__(self, name: str, cluster: Optional[ClusterAccess] = None):
        """`cluster`: where to look before a create; None (a caller's own provider, whose cluster this
        cannot know, or a provider that renders to a folder) checks nothing before creates."""
        self.stack = kube.stack_id()
        self.cluster = cluster
        self.resources: dict[str, tuple[pulumi.Resource, Optional[str]]] = {}
        options = pulumi.ResourceHookOptions(on_dry_run=True)
        self.drift_hook = pulumi.ResourceHook(f"{name}-drift", self._before_update, options)
        self.create_hook = pulumi.ResourceHook(f"{name}-owner", self._before_create, options) if cluster else None

    def binding(self, shared: bool = False) -> pulumi.ResourceHookBinding:
        """`shared`: an object the stack leaves behind on destroy (`retain_on_delete`, whereabouts'
        CRDs, which hold the IP reservations): made to outlive its stack, so a later stack may find it
        under an earlier one's manager and is not refused."""
        check = [self.create_hook] if self.create_hook and not shared else None
        return pulumi.ResourceHookBinding(before_create=check, before_update=[self.drift_hook])

    def track(self, name: str, resource: pulumi.Resource, adopt_key: Optional[str]) -> None:
        self.resources[name] = (resource, adopt_key)

    def _before_update(self, args: pulumi.ResourceHookArgs) -> None:
        old, new = args.old_outputs or {}, args.new_inputs or {}
        found = drift(old, new, {str(old.get("__fieldManager") or "")})
        if found:
            changes = "; ".join(f"{manager} changed {', '.join(fields)}" for manager, fields in sorted(found.items()))
            pulumi.log.warn(f"drift on {_what(new)}: {changes}; this update takes it back ({DRIFT_DOCS})",
                            resource=self.resources.get(args.name, (None,))[0])

    def _before_create(self, args: pulumi.ResourceHookArgs) -> None:
        inputs = args.new_inputs or {}
        metadata = inputs.get("metadata") or {}
        assert self.cluster is not None
        try:
            what = (inputs["apiVersion"], inputs["kind"], metadata["name"], metadata.get("namespace"))
            owner = self._owner(self.cluster.existing(*what))
            if owner is not None:  # refused only on what the cluster holds now
                owner = self._owner(self.cluster.current(*what))
        except (ClusterError, KeyError) as exc:  # the provider says what is wrong with the cluster
            pulumi.log.debug(f"ownership of {_what(inputs)} not checked: {exc}")
            return
        if owner is not None:
            adopt_key = self.resources.get(args.name, (None, None))[1]
            # Another stack must first forget it (`pulumi state delete`), or both would own it.
            after = " once that stack lets it go" if "Pulumi stack" in owner else ""
            remedy = (f"to manage it from this stack instead, set {adopt_key}: true{after}"
                      if adopt_key else "remove it from the cluster, or this part from the stack's config")
            raise RuntimeError(f"{_what(inputs)} already exists, managed by {owner}; this stack would take it over "
                               f"without a word: {remedy} ({DOCS})")

    def _owner(self, live: Optional[Mapping[str, Any]]) -> Optional[str]:
        return None if live is None else owner_of(live, self.stack)
