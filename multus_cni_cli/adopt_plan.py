"""`multus-cni adopt-plan`: before a stack takes over (adopts) the Multus and the NADs a cluster
already has, what its `pulumi up` would do to each object it owns, and what that changes.

The objects and their import flags are exactly what `pulumi up` registers: the program runs under
Pulumi's mocks, as for `render`. Each is then looked up in the stack's state and in the cluster:

- `import`: in the cluster, and the config adopts it (`multus.adopt`, `networks[N].adopt`);
- `create`: not in the cluster;
- `exists, not adopted`: in the cluster, but the config would create it: `pulumi up` refuses that
  create, naming the object's owner (components/ownership.py), since the provider's create is a
  server-side apply that would take the object over without a word;
- `missing`: adopted, but not in the cluster: the import fails;
- `in the stack`: the stack's state holds it already; `pulumi preview` shows what changes.

What an import changes is computed by the API server, never by re-implementing its defaulting: a
server-side apply of the rendered object in dry-run (forced, as the adopting object's
`pulumi.com/patchForce` makes the provider force it), after the provider's own takeover of the
fields `kubectl apply` owned (pulumi-kubernetes v4.25 `fixCSAFieldManagers`: fields only those
managers owned and the rendered object does not set are dropped, and the API server defaults them
again in a dry-run update), compared with the live object. A second apply, not forced, names the
field manager that owns each conflicting field.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from components import kube, managed_fields
from components.kubeapi import ClusterError, failure_reason, path as api_path
from components.config import MultusConfig, StackConfig, config_path, load_stack_config
from components.core.data import one_line
from components.multus import TYPE as MULTUS_TYPE
from components.multus import manifests
from components.network_attachment import TYPE as NAD_COMPONENT_TYPE

from . import stackfile
from .cli_types import cluster_options, stack_options
from .decommission.cluster import Cluster
from .table import aligned

HELP = "before adopting an existing Multus or NADs: what the first `pulumi up` imports, creates or refuses, and what it changes"

FIELD_MANAGER = "multus-cni-adopt-plan"

IMPORT, CREATE, EXISTS, MISSING, IN_STACK = "import", "create", "exists, not adopted", "missing", "in the stack"

# Metadata that changes on any write, or that says who wrote last: never a difference. The
# last-applied annotation is kubectl's record, which the first update drops (the provider takes
# kubectl's fields over); the template generation follows the DaemonSet's generation; patchForce
# is what adopting adds (components/kube.py, `adopted`).
IGNORED = (
    ("metadata", "managedFields"), ("metadata", "resourceVersion"), ("metadata", "generation"),
    ("metadata", "uid"), ("metadata", "creationTimestamp"), ("status",),
    ("metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"),
    ("metadata", "annotations", "deprecated.daemonset.template.generation"),
    ("metadata", "annotations", kube.PATCH_FORCE), ("metadata", "annotations", kube.STACK_ANNOTATION),
)

# The managers whose fields pulumi-kubernetes v4.25 takes over before a real update, matched by
# prefix, as the provider does (provider/pkg/await/await.go `fixCSAFieldManagers`, through
# fluxcd/pkg/ssa `PatchReplaceFieldsManagers`): `kubectl apply`, with and without --server-side,
# objects created before server-side apply, and the provider's own client-side-apply updates.
TAKEN_OVER = (("kubectl", "Apply"), ("kubectl", "Update"), ("before-first-apply", "Update"),
              ("pulumi-kubernetes", "Update"), ("pulumi-kubernetes.exe", "Update"),
              ("pulumi-resource-kubernetes", "Update"))

# Where pulumi-kubernetes v4.25 replaces an object instead of updating it (provider/pkg/provider/
# diff.go `forceNew`), for the kinds the components render. A protected object (all of Multus) is
# never replaced: such a preview fails.
REPLACED_ON = {
    "ConfigMap": (".data", ".binaryData"),
    "Secret": (".type", ".data", ".stringData"),
    "DaemonSet": (".spec.selector",),
    "Deployment": (".spec.selector",),
    "ClusterRoleBinding": (".roleRef",),
    "RoleBinding": (".roleRef",),
}


class AdoptError(Exception):
    """The plan cannot be made (no cluster, no state); one line, exit status 2."""


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


# --- differences between two objects ---------------------------------------------------------

@dataclass
class Difference:
    path: str
    live: Any = ABSENT
    rendered: Any = ABSENT
    owner: Optional[str] = None  # the other field manager that owns it (what a plain apply conflicts with)


@dataclass(frozen=True)
class Keyed:
    """A list element named by its key field, as the API server writes it: [name="kube-multus"]."""
    key: str
    value: Any

    def __str__(self) -> str:
        return f"[{self.key}={json.dumps(self.value)}]"


# List elements are matched by these fields (the Kubernetes merge keys of the lists Multus objects
# have: volumeMounts by mountPath; containers, volumes, env, CRD versions by name); other lists are
# one value, as the API server treats atomic lists.
_LIST_KEYS = ("mountPath", "name")


def format_path(parts: Sequence[Any]) -> str:
    """`.spec.template.spec.containers[name="kube-multus"].image`: the API server's own notation."""
    return "".join(str(p) if isinstance(p, Keyed) else f".{p}" for p in parts)


def _list_key(*lists: list) -> Optional[str]:
    for key in _LIST_KEYS:
        if all(isinstance(e, dict) and key in e for items in lists for e in items) and \
                all(len({json.dumps(e[key], sort_keys=True) for e in items}) == len(items) for items in lists):
            return key
    return None


def differences(live: Any, rendered: Any, ignored: Iterable[tuple] = IGNORED) -> list[Difference]:
    """Every leaf where two objects differ, in document order; maps by key, lists of keyed elements
    by key, other lists whole; a side that lacks a key is ABSENT."""
    out: list[Difference] = []
    _walk(live, rendered, (), tuple(ignored), out)
    return out


def _walk(a: Any, b: Any, parts: tuple, ignored: tuple, out: list[Difference]) -> None:
    if any(parts[:len(skip)] == skip for skip in ignored):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            _walk(a.get(key, ABSENT), b.get(key, ABSENT), (*parts, key), ignored, out)
        return
    if isinstance(a, list) and isinstance(b, list) and a != b:
        key = _list_key(a, b)
        if key is not None:
            found: list[Difference] = []
            mine, theirs = {_id(e[key]): e for e in a}, {_id(e[key]): e for e in b}
            for k in [*mine, *(k for k in theirs if k not in mine)]:
                _walk(mine.get(k, ABSENT), theirs.get(k, ABSENT), (*parts, Keyed(key, json.loads(k))), ignored, found)
            if found or mine.keys() != theirs.keys():
                out += found
                return  # else only the order differs: the list as a whole, below
    if a is ABSENT or b is ABSENT:  # a map on one side only: what is left of it but the ignored keys
        a, b = (_kept(v, parts, ignored) for v in (a, b))
        if a is b:
            return
    if a != b or type(a) is not type(b):
        out.append(Difference(format_path(parts), a, b))


def _kept(value: Any, parts: tuple, ignored: tuple) -> Any:
    if not isinstance(value, dict):
        return value
    kept = {k: _kept(v, (*parts, k), ignored) for k, v in value.items() if not any((*parts, k)[:len(s)] == s for s in ignored)}
    return {k: v for k, v in kept.items() if v is not ABSENT} or ABSENT


def _id(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# --- what the provider's first update does: take kubectl's fields over ------------------------------

def _taken_over(entry: dict) -> bool:
    return not entry.get("subresource") and any(
        (entry.get("manager") or "").startswith(name) and entry.get("operation") == operation for name, operation in TAKEN_OVER)


def dropped_paths(entries: Sequence[dict], manager: str) -> list[tuple]:
    """The fields the first update removes: owned only by the managers the provider takes over, and
    neither set by `manager` (the rendered object's apply) nor owned by any other manager."""
    taken, kept = set(), set()
    for entry in entries:
        fields = entry.get("fieldsV1") or {}
        if _taken_over(entry) and entry.get("manager") != manager:
            taken |= managed_fields.leaves(fields)
        else:
            kept |= managed_fields.owned_paths(fields)
    kept_prefixes = {p[:i] for p in kept for i in range(len(p) + 1)}
    drop = sorted(p for p in taken if p and p not in kept_prefixes)
    # The outermost only: a dropped node takes its children with it.
    return [p for p in drop if not any(p[:i] in drop for i in range(1, len(p)))]


_CONFLICT = re.compile(r'conflict with "([^"]+)"')


def conflicts(status: Any) -> dict[str, str]:
    """field path -> the field manager it conflicts with, from a 409 apply response (a Status)."""
    details = status.get("details") if isinstance(status, dict) else None
    found = {}
    for cause in (details or {}).get("causes") or []:
        match = _CONFLICT.search(cause.get("message") or "")
        if cause.get("field") and match:
            found[cause["field"]] = match[1]
    return found


def _covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".") or inner.startswith(outer + "[")


def with_owners(diffs: list[Difference], owners: dict[str, str]) -> list[str]:
    """Give each difference the manager of the conflict at, above or below its path; returns the
    conflicts no difference explains (`field (manager)`)."""
    unmatched = []
    for path, manager in sorted(owners.items()):
        matched = [d for d in diffs if _covers(path, d.path) or _covers(d.path, path)]
        for diff in matched:
            diff.owner = diff.owner or manager
        if not matched:
            unmatched.append(f"{path} ({manager})")
    return unmatched


def replaced_on(kind: str, diffs: Sequence[Difference]) -> list[str]:
    """The differences on which the provider replaces an object of this kind."""
    return [d.path for d in diffs if any(_covers(f, d.path) for f in REPLACED_ON.get(kind, ()))]


# --- the config that would keep the live values ------------------------------------------------

_CONTAINER = '.spec.template.spec.containers[name="kube-multus"]'
_INIT = '.spec.template.spec.initContainers[name="install-multus-binary"]'
_AMOUNTS = {"cpu", "memory"}


def _container(daemonset: dict, which: str, name: str) -> Optional[dict]:
    spec = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
    return next((c for c in spec.get(which) or [] if c.get("name") == name), None)


def _split_image(image: str) -> Optional[dict[str, str]]:
    """`repository/name:tag` as `multus.image` holds it; None for a digest or a missing tag."""
    if "@" in image or "/" not in image:
        return None
    repository, _, rest = image.rpartition("/")
    name, colon, tag = rest.partition(":")
    if not colon:
        return None
    return {"repository": repository, "name": name, "tag": tag}


def _resources(value: Any) -> Optional[dict]:
    if not isinstance(value, dict) or not set(value) <= {"requests", "limits"}:
        return None
    if not all(isinstance(v, dict) and set(v) <= _AMOUNTS for v in value.values()):
        return None
    return {k: dict(v) for k, v in value.items()}


def hints(cfg: MultusConfig, live: dict, diffs: Sequence[Difference]) -> list[tuple[tuple, Any]]:
    """(`multus` sub-path, value) that would render the DaemonSet's differing fields as the live
    object has them, for the fields MultusConfig models (image, thin args, resources, maxUnavailable,
    minReadySeconds);
    only those a re-render with them proves."""
    paths = [d.path for d in diffs]

    def differs(prefix: str) -> bool:
        return any(p == prefix or p.startswith(prefix + ".") for p in paths)

    main, init = _container(live, "containers", "kube-multus"), _container(live, "initContainers", "install-multus-binary")
    found: dict[tuple, Any] = {}
    if main and (differs(_CONTAINER + ".image") or differs(_INIT + ".image")):
        images = {c.get("image") for c in (main, init) if c}
        image = _split_image(main.get("image") or "") if len(images) == 1 else None
        if image:
            current = {"repository": cfg.image.repository, "name": cfg.image.name, "tag": cfg.tag}
            found |= {("image", k): v for k, v in image.items() if current[k] != v}
    if main and differs(_CONTAINER + ".args") and cfg.layout != "thick" and cfg.readinessIndicatorFile is None:
        found[("daemonset", "args")] = list(main.get("args") or [])
    for prefix, container, key in ((_CONTAINER, main, "daemon"), (_INIT, init, "init")):
        if container and differs(prefix + ".resources"):
            amounts = _resources(container.get("resources") or {})
            if amounts is not None:
                found[("resources", key)] = amounts
    strategy = ((live.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    if differs(".spec.updateStrategy") and "maxUnavailable" in strategy:
        found[("maxUnavailable",)] = strategy["maxUnavailable"]
    if differs(".spec.minReadySeconds"):
        found[("minReadySeconds",)] = (live.get("spec") or {}).get("minReadySeconds") or 0
    return _proven(cfg, live, found)


# The fields each hinted `multus` key renders.
_KEEPS = {
    ("image",): (_CONTAINER + ".image", _INIT + ".image"),
    ("daemonset",): (_CONTAINER + ".args",),
    ("resources", "daemon"): (_CONTAINER + ".resources",),
    ("resources", "init"): (_INIT + ".resources",),
    ("maxUnavailable",): (".spec.updateStrategy",),
    ("minReadySeconds",): (".spec.minReadySeconds",),
}


def kept_by(found: Sequence[tuple[str, Any]]) -> list[str]:
    """The DaemonSet fields the hinted keys (`<project>:multus.<key>`) set."""
    prefixes = []
    for key, _ in found:
        parts = tuple(key.split(":", 1)[1].split(".")[1:])
        prefixes += [p for keys, paths in _KEEPS.items() if parts[:len(keys)] == keys for p in paths]
    return prefixes


def _proven(cfg: MultusConfig, live: dict, found: dict[tuple, Any]) -> list[tuple[tuple, Any]]:
    """The hints, when the config with them is valid and renders the live values; else none."""
    if not found:
        return []
    merged = cfg.model_dump(mode="json", exclude_unset=True)
    for keys, value in found.items():
        node = merged
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    try:
        rendered = manifests.daemonset(MultusConfig.model_validate(merged))
    except ValueError:
        return []
    checks = {
        ("image",): lambda ds: [c.get("image") for c in _containers(ds)],
        ("daemonset",): lambda ds: (_container(ds, "containers", "kube-multus") or {}).get("args"),
        ("resources", "daemon"): lambda ds: (_container(ds, "containers", "kube-multus") or {}).get("resources"),
        ("resources", "init"): lambda ds: (_container(ds, "initContainers", "install-multus-binary") or {}).get("resources"),
        ("maxUnavailable",): lambda ds: ds["spec"]["updateStrategy"].get("rollingUpdate", {}).get("maxUnavailable"),
        ("minReadySeconds",): lambda ds: ds["spec"].get("minReadySeconds") or 0,
    }
    for keys in {k[:2] if k[0] == "resources" else k[:1] for k in found}:
        if checks[keys](rendered) != checks[keys](live):
            return []
    return sorted(found.items())


def _containers(daemonset: dict) -> list[dict]:
    spec = daemonset["spec"]["template"]["spec"]
    return [*spec.get("containers", []), *spec.get("initContainers", [])]


# --- one object, one row -------------------------------------------------------------------------

@dataclass
class Item:
    kind: str
    name: str
    namespace: Optional[str]
    resource: str  # its Pulumi resource name
    action: str
    adopt_key: Optional[str] = None  # the config key that adopts it; None when nothing can
    protected: bool = False
    differences: list[Difference] = field(default_factory=list)
    unmatched_conflicts: list[str] = field(default_factory=list)
    replaced_on: list[str] = field(default_factory=list)
    problem: Optional[str] = None  # the API server refused the dry-run
    hints: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    @property
    def ready(self) -> bool:
        if self.action in (CREATE, IN_STACK):
            return True
        return self.action == IMPORT and not self.differences and not self.problem and not self.replaced_on

    def note(self) -> str:
        if self.action == IMPORT:
            if self.problem:
                return f"the API server refuses the update: {self.problem}"
            if self.replaced_on:
                what = "protected, so the preview fails" if self.protected else "deleted and created again"
                return f"the provider replaces it ({', '.join(self.replaced_on)} differs): {what}"
            return f"adopted by {self.adopt_key}" + (f"; the first `pulumi up` changes it (below)" if self.differences else "")
        if self.action == EXISTS:
            if self.adopt_key is None:
                return ("the cluster already has it and no key of this config adopts it: `pulumi up` refuses to create it; "
                        "rename it, or remove the cluster's object")
            rename = "" if self.adopt_key.endswith(("multus.adopt",)) else ", or rename it"
            return f"the cluster already has it: set {self.adopt_key}: true to import it{rename}"
        if self.action == MISSING:
            return (f"{self.adopt_key} is set, but the cluster has no such object: the import fails and `pulumi up` "
                    f"stops; unset {self.adopt_key} to create it instead")
        if self.action == IN_STACK:
            return "the stack's state has it: `pulumi preview` shows what changes"
        return ""

    def as_json(self) -> dict:
        return {
            "kind": self.kind, "name": self.name, "namespace": self.namespace, "resource": self.resource,
            "action": self.action, "ready": self.ready, "adoptKey": self.adopt_key, "protected": self.protected,
            "differences": [{k: v for k, v in (("path", d.path), ("live", d.live), ("rendered", d.rendered), ("owner", d.owner))
                             if v is not ABSENT} for d in self.differences],
            "conflicts": self.unmatched_conflicts, "replacedOn": self.replaced_on, "problem": self.problem,
            "config": [{"key": k, "value": v} for k, v in self.hints], "note": self.note(),
        }


def exit_code(items: Sequence[Item]) -> int:
    """0: ready (imports without differences, creates, what the stack has); 1: anything else."""
    return 0 if all(item.ready for item in items) else 1


def _value(value: Any) -> str:
    return "(absent)" if value is ABSENT else json.dumps(value, ensure_ascii=False)


def table(items: Sequence[Item], header: str) -> str:
    rows = [["OBJECT", "ACTION", "CHANGES", "NOTE"]]
    rows += [[item.title, item.action, str(len(item.differences)) if item.action in (IMPORT, EXISTS) else "-", item.note()]
             for item in items]
    lines = [header, *aligned(rows)]
    for item in items:
        if not item.differences and not item.unmatched_conflicts:
            continue
        lines += ["", f"{item.title}: live -> after the first `pulumi up`"
                  + ("" if item.action == IMPORT else " (if it were adopted)")]
        for diff in item.differences:
            owner = f"   (owned by {diff.owner})" if diff.owner else ""
            lines.append(f"  {diff.path}: {_value(diff.live)} -> {_value(diff.rendered)}{owner}")
        lines += [f"  conflict: {path}" for path in item.unmatched_conflicts]
        if item.hints:
            lines.append("  to keep the live values instead, set:")
            lines += [f"    {key}: {_value(value)}" for key, value in item.hints]
        kept = kept_by(item.hints)
        others = [d.path for d in item.differences if not any(_covers(prefix, d.path) for prefix in kept)]
        if item.kind == "DaemonSet" and item.adopt_key and others and item.hints:
            lines.append(f"  no config key keeps the others ({len(others)})")
    return "\n".join(lines) + "\n"


def as_json(stack: str, items: Sequence[Item]) -> str:
    """Sorted keys, two-space indent, fixed separators: the same plan gives the same bytes."""
    document = {"stack": stack, "ready": exit_code(items) == 0, "objects": [item.as_json() for item in items]}
    return json.dumps(document, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"


# --- the cluster ----------------------------------------------------------------------------------

class ApiServer:
    """The reads and dry-runs the plan needs, on the decommission command's REST client."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    def _url(self, manifest: dict) -> str:
        meta = manifest["metadata"]
        return api_path(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"])

    def get(self, manifest: dict) -> Optional[dict]:
        meta = manifest["metadata"]
        return self.cluster.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))

    def apply(self, manifest: dict, force: bool) -> tuple[int, Any]:
        query = [("dryRun", "All"), ("fieldManager", FIELD_MANAGER), ("force", "true" if force else "false")]
        return self.cluster.call("PATCH", self._url(manifest), f"dry-run apply of {manifest['kind']} {manifest['metadata']['name']}",
                                 body=manifest, query=query, content_type="application/apply-patch+yaml")

    def update(self, obj: dict) -> tuple[int, Any]:
        query = [("dryRun", "All"), ("fieldManager", FIELD_MANAGER)]
        return self.cluster.call("PUT", self._url(obj), f"dry-run update of {obj['kind']} {obj['metadata']['name']}",
                                 body=obj, query=query)


def after_first_up(api: ApiServer, manifest: dict, live: dict, takeover: bool,
                   attempts: int = 3) -> tuple[Optional[dict], dict[str, str], Optional[str]]:
    """(the object as the first `pulumi up` leaves it, conflicting field -> owner, the API server's refusal)."""
    status, plain = api.apply(manifest, force=False)
    owners = conflicts(plain) if status == 409 else {}
    for _ in range(attempts):
        status, forced = api.apply(manifest, force=True)
        if status >= 400:
            return None, owners, f"{status} {failure_reason(forced)}"
        drop = dropped_paths(forced["metadata"].get("managedFields") or [], FIELD_MANAGER) if takeover else []
        if not drop:
            return forced, owners, None
        body = managed_fields.without(forced, drop)
        body["metadata"].pop("managedFields", None)  # the update keeps the object's own
        status, updated = api.update(body)  # at the forced result's resourceVersion
        if status != 409:  # 409: a controller wrote the object meanwhile (its status); apply again
            break
    if status >= 400:
        return None, owners, f"{status} {failure_reason(updated)}"
    return updated, owners, None


# --- the plan ---------------------------------------------------------------------------------------

@dataclass
class Planned:
    """One object the program registers, as `pulumi up` would."""
    manifest: dict
    type: str
    resource: str
    adopt: bool
    protected: bool
    adopt_key: Optional[str]
    multus: Optional[MultusConfig]  # the config that renders it, for the hints (Multus' objects only)

    @property
    def id(self) -> str:
        return kube.object_id(self.manifest)


def planned(run_: Any, stack: StackConfig, project: str) -> list[Planned]:
    """The Kubernetes objects of a program run, in apply order, with their import flag and adopting key."""
    from .render import ordered

    regs = ordered(run_)
    by_urn = {r.urn: r for r in regs}
    networks = {(n.namespace, n.name): i for i, n in enumerate(stack.networks)}

    def ancestor(reg, type_: str):
        while reg.parent in by_urn:
            reg = by_urn[reg.parent]
            if reg.type == type_:
                return reg
        return None

    out = []
    for reg in regs:
        if not (reg.custom and reg.type.startswith("kubernetes:") and "apiVersion" in reg.inputs):
            continue
        manifest = {k: v for k, v in reg.inputs.items()}
        key, multus = None, None
        if ancestor(reg, MULTUS_TYPE) is not None:
            key, multus = config_path(project, "multus", "adopt"), stack.multus
        elif ancestor(reg, NAD_COMPONENT_TYPE) is not None:
            meta = manifest["metadata"]
            index = networks.get((meta.get("namespace"), meta.get("name")))
            if index is not None:
                key = config_path(project, *stack.network_loc(index), "adopt")
        out.append(Planned(manifest, reg.type, reg.name, bool(reg.request.importId), reg.protect, key, multus))
    return out


def judge(obj: Planned, api: ApiServer, in_state: set[tuple[str, str]], project: str) -> Item:
    meta = obj.manifest["metadata"]
    item = Item(obj.manifest["kind"], meta["name"], meta.get("namespace"), obj.resource, CREATE, obj.adopt_key, obj.protected)
    if (obj.type, obj.id) in in_state:
        item.action = IN_STACK
        return item
    live = api.get(obj.manifest)
    if live is None:
        item.action = MISSING if obj.adopt else CREATE
        return item
    item.action = IMPORT if obj.adopt else EXISTS
    after, owners, item.problem = after_first_up(api, obj.manifest, live, takeover=obj.adopt)
    if after is not None:
        item.differences = differences(live, after)
        item.unmatched_conflicts = with_owners(item.differences, owners)
        item.replaced_on = replaced_on(item.kind, item.differences)
        if obj.multus is not None and item.kind == "DaemonSet" and item.differences:
            item.hints = [(config_path(project, "multus", *keys), value)
                          for keys, value in hints(obj.multus, live, item.differences)]
    return item



def stack_state(project_dir: Path, stack: str, run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> tuple[set[tuple[str, str]], bool]:
    """((type, id) of every resource the stack's state holds, whether the backend has the stack)."""
    command = ["pulumi", "stack", "export", "--stack", stack, "--non-interactive"]
    try:
        done = run(command, cwd=project_dir, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise AdoptError("the Pulumi CLI (`pulumi`) is not on PATH; it reads the stack's state (or pass --no-state)") from None
    except subprocess.TimeoutExpired:
        raise AdoptError("`pulumi stack export` did not finish in 5 minutes") from None
    if done.returncode:
        said = (done.stderr or done.stdout).strip()
        if "no stack named" in said:
            return set(), False
        raise AdoptError(f"`pulumi stack export --stack {stack}` failed: {one_line(said.splitlines()[-1] if said else '')}")
    try:
        resources = (json.loads(done.stdout).get("deployment") or {}).get("resources") or []
    except (ValueError, AttributeError):
        raise AdoptError("`pulumi stack export` did not print a stack's state") from None
    return {(r.get("type"), r.get("id")) for r in resources if r.get("id")}, True


# --- the command -----------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)
    cluster_options(parser, "kubeconfig context (default: the stack's kubernetes:context, else the current one)")
    parser.add_argument("--no-state", action="store_true",
                        help="do not read the stack's state (`pulumi stack export`): take the stack as never deployed")
    parser.add_argument("--summary-json", type=Path, metavar="FILE", help="also write the plan as JSON")


def command(args: argparse.Namespace) -> int:
    from .render import run_program

    name, path = stackfile.resolve(args.stack, args.stack_file, args.project_dir)
    project = stackfile.project_name(args.project_dir)
    config = stackfile.load_config(path, project)
    stackfile.check_config_size(config, path)
    stack = load_stack_config(config, project, args.project_dir)
    context = args.context or _plain(config.get("kubernetes:context"))
    try:
        cluster = Cluster(args.kubeconfig, context)
        in_state, known = (set(), False) if args.no_state else stack_state(args.project_dir, name)
        result = run_program(args.project_dir, project, name, config)
        api = ApiServer(cluster)
        items = [judge(obj, api, in_state, project) for obj in planned(result, stack, project)]
    except (ClusterError, AdoptError) as exc:
        print(f"adopt-plan: {one_line(str(exc))}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    state = "state not read" if args.no_state else (f"{len(in_state)} resources in its state" if known else "not in the backend yet")
    header = f"stack {name} ({state}), cluster {cluster.host}" + (f" (context {context})" if context else "")
    sys.stdout.write(table(items, header))
    code = exit_code(items)
    if args.summary_json:
        try:
            args.summary_json.write_text(as_json(name, items))
        except OSError as exc:
            print(f"adopt-plan: --summary-json {args.summary_json}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return code


def _plain(value: Optional[str]) -> Optional[str]:
    """A config value the stack file holds as plain text (a secret reads as its placeholder)."""
    return value if value and value != "[secret]" else None
