"""The CrossGuard rules of this project, as plain functions the policy pack wires up.

Each rule takes the pulumi_policy arguments and a `report_violation` callback, so tests call it
directly (the Pulumi CLI, which normally runs the pack, cannot run everywhere). The rules reuse
the project's own definitions (image pinning, annotation keys, the networks syntax) so the pack
and the components never disagree.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from typing import Any, Iterator, Mapping, Optional

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.annotations import NAD_API_VERSION, NAD_KIND, NETWORKS
from components.config.multus_health import DEFAULT_PODS_PER_NODE, MIB, quantity_value, refresh_problem, thick_memory_needed
from components.config.network import parse_json_object
from components.config.workload import selected_networks
from components.images import pinning_problem
from components.multus import TYPE as MULTUS_TYPE

NAD_TYPE = f"kubernetes:{NAD_API_VERSION}:{NAD_KIND}"
SECRET_TYPE = "kubernetes:core/v1:Secret"
DAEMONSET_TYPE = "kubernetes:apps/v1:DaemonSet"
THIN_ENTRYPOINT = "/thin_entrypoint"
THICK_DAEMON = "/usr/src/multus-cni/bin/multus-daemon"

# Where each workload kind keeps its pod spec, and how many pods it asks for.
_POD_SPEC = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_REPLICATED = {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:ReplicaSet", "kubernetes:apps/v1:StatefulSet"}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


# --- reading resources ---------------------------------------------------------------------

def _dig(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _types_in(urn: Optional[str]) -> list[str]:
    """`urn:pulumi:stack::project::a$b$type::name` -> [a, b, type]: a URN spells its ancestors' types."""
    parts = (urn or "").split("::", 3)
    return parts[2].split("$") if len(parts) == 4 else []


def under_multus(resource_type: str, urn: str, parent: Optional[str]) -> bool:
    """The Multus component itself or anything below it, from the URNs alone (the engine gives no
    parent objects to a resource policy; its own URN carries every ancestor type, a parent URN its chain)."""
    return resource_type == MULTUS_TYPE or MULTUS_TYPE in _types_in(urn)[:-1] or MULTUS_TYPE in _types_in(parent)


def container_images(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(`containers[0]`-style location, image) of every container a workload runs."""
    path = _POD_SPEC.get(resource_type)
    spec = _dig(props, *path) if path else None
    for list_name in _CONTAINER_LISTS:
        for index, container in enumerate(_dig(spec, list_name) or []):
            yield f"{'.'.join(path)}.{list_name}[{index}]", _dig(container, "image")


def package_values_image(props: Mapping[str, Any]) -> Optional[str]:
    """The Multus image a Tanzu package values Secret selects, when it sets a tag (without one the
    package's own pinned default is used)."""
    text = _dig(props, "stringData", "values.yaml")
    if not isinstance(text, str):
        return None
    try:
        image = _dig(yaml.safe_load(text), "image")
    except yaml.YAMLError:
        return None
    if not isinstance(image, Mapping) or "tag" not in image:
        return None
    return f"{image.get('repository', '')}/{image.get('name', '')}:{image['tag']}"


def nad_problems(props: Mapping[str, Any]) -> list[str]:
    """What makes a NAD unusable for Multus: no namespace to find it by, or a config it cannot parse."""
    problems = []
    if not _dig(props, "metadata", "namespace"):
        problems.append("metadata.namespace is not set, so the NAD lands in whatever namespace the provider "
                        "defaults to and pods that name it may not find it; set it explicitly")
    config = _dig(props, "spec", "config")
    if not isinstance(config, str):
        problems.append(f"spec.config must be the CNI configuration as a JSON string, not {type(config).__name__}")
    else:
        try:
            parse_json_object(config)
        except ValueError as exc:
            problems.append(f"spec.config {exc}")
    return problems


def uses_host_local(config: Any) -> bool:
    """Whether a NAD's CNI config (or any plugin of a conflist) allocates with host-local IPAM."""
    try:
        parsed = parse_json_object(config)
    except ValueError:
        return False
    plugins = parsed.get("plugins") if isinstance(parsed.get("plugins"), list) else [parsed]
    return any(_dig(plugin, "ipam", "type") == "host-local" for plugin in plugins)


def pods_and_networks(resource_type: str, props: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]]]:
    """How many pods a workload runs (2 stands for "one per node" of a DaemonSet) and the NADs they select."""
    path = _POD_SPEC.get(resource_type)
    if path is None:
        return 0, []
    namespace = _dig(props, "metadata", "namespace") or "default"
    networks = selected_networks(_dig(props, *path[:-1], "metadata", "annotations", NETWORKS), namespace)
    if resource_type == "kubernetes:apps/v1:DaemonSet":
        pods = 2
    elif resource_type in _REPLICATED:
        replicas = _dig(props, "spec", "replicas")
        pods = replicas if isinstance(replicas, int) else 1
    else:
        pods = 1
    return pods, networks


def qos_problems(spec: Any) -> list[str]:
    """Why a pod spec is not Guaranteed QoS (Kubernetes pkg/apis/core/helper/qos: every container, init
    containers included, has CPU and memory limits, and requests, where set, equal them)."""
    problems = []
    for list_name in _CONTAINER_LISTS[:2]:
        for index, container in enumerate(_dig(spec, list_name) or []):
            where = f"{list_name}[{index}] ({_dig(container, 'name')})"
            for key in ("cpu", "memory"):
                limit, request = _dig(container, "resources", "limits", key), _dig(container, "resources", "requests", key)
                if limit is None:
                    problems.append(f"{where} has no {key} limit")
                elif request is not None and _amount(request) != _amount(limit):
                    problems.append(f"{where} requests {key} {request!r} but limits it to {limit!r}")
    return problems


def _amount(value: Any) -> Any:
    try:
        return quantity_value(str(value))
    except ValueError:
        return str(value)


# --- the rules -----------------------------------------------------------------------------

def multus_protected(args: ResourceValidationArgs, report_violation) -> None:
    """Deleting any Multus object leaves 00-multus.conf on the nodes and breaks every pod (multus-cni#461)."""
    if under_multus(args.resource_type, args.urn, args.opts.parent) and not args.opts.protect:
        report_violation(
            f"{args.resource_type} {args.name!r} belongs to the Multus install but is not protected: create the "
            "Multus component with protect=True, since deleting any of its objects breaks pod networking "
            "on every node (multus-cni#461)"
        )


def allowed(image: str, patterns: Any) -> bool:
    return any(isinstance(p, str) and fnmatch.fnmatchcase(image, p) for p in (patterns or []))


def images_pinned(args: ResourceValidationArgs, report_violation) -> None:
    """A moving tag lets nodes run different builds and changes a cluster without a preview."""
    patterns = args.get_config().get("allowedImages")
    found = list(container_images(args.resource_type, args.props))
    if args.resource_type == SECRET_TYPE and under_multus(args.resource_type, args.urn, args.opts.parent):
        found.append(("stringData.values.yaml image", package_values_image(args.props)))
    for where, image in found:
        if not isinstance(image, str):
            continue  # no image at all: the API server rejects the object with a clear message
        problem = pinning_problem(image)
        if problem and not allowed(image, patterns):
            report_violation(f"{where}: {problem}; pin a release tag or a digest, or list the image under "
                             "allowedImages in the policy pack config")


def _multus_pod_spec(args: ResourceValidationArgs) -> Any:
    if args.resource_type == DAEMONSET_TYPE and under_multus(args.resource_type, args.urn, args.opts.parent):
        return _dig(args.props, *_POD_SPEC[DAEMONSET_TYPE])
    return None


def multus_credentials_refresh(args: ResourceValidationArgs, report_violation) -> None:
    """The thin DaemonSet's args must let thin_entrypoint rewrite the node kubeconfig when the token rotates."""
    for index, container in enumerate(_dig(_multus_pod_spec(args), "containers") or []):
        if list(_dig(container, "command") or []) == [THIN_ENTRYPOINT]:  # props are proxies, not lists
            problem = refresh_problem([str(a) for a in _dig(container, "args") or []])
            if problem:
                report_violation(f"spec.template.spec.containers[{index}].args: {problem}")


def multus_guaranteed(args: ResourceValidationArgs, report_violation) -> None:
    """A Multus pod that is not Guaranteed is killed or evicted under node pressure before the pods whose
    networks it sets up (multus-cni#1160)."""
    spec = _multus_pod_spec(args)
    problems = qos_problems(spec) if spec is not None else []
    if problems:
        report_violation("the Multus pod is not Guaranteed QoS: " + "; ".join(problems) + "; set multus.resources "
                         "with requests equal to limits, or keep its defaults")


def multus_thick_memory(args: ResourceValidationArgs, report_violation) -> None:
    """The thick daemon's memory limit holds what bench/multus_memory_bench.py measured for as many
    concurrent ADDs as a node has pods (a node restart brings them back at once)."""
    pods = args.get_config().get("podsPerNode", DEFAULT_PODS_PER_NODE)
    for index, container in enumerate(_dig(_multus_pod_spec(args), "containers") or []):
        if list(_dig(container, "command") or []) != [THICK_DAEMON]:
            continue
        limit = _dig(container, "resources", "limits", "memory")
        needed = thick_memory_needed(int(pods))
        amount = _amount(limit) if limit is not None else None
        if amount is not None and not isinstance(amount, str) and amount < needed:
            report_violation(
                f"spec.template.spec.containers[{index}].resources.limits.memory {limit!r} is below the "
                f"{round(needed / MIB)}Mi the thick daemon was measured to need for {pods} pods getting their "
                "networks at once (a node restart; docs/performance.md); it is OOM-killed there and no new pod on "
                "the node gets its networks (multus-cni#1346); raise it, or set podsPerNode in the pack config")


def nad_valid(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type == NAD_TYPE:
        for problem in nad_problems(args.props):
            report_violation(problem)


def host_local_shared(args: StackValidationArgs, report_violation) -> None:
    """host-local hands out addresses per node from the same range, so two pods on different nodes
    can get the same address on a secondary network."""
    host_local = {}
    for r in args.resources:
        if r.resource_type == NAD_TYPE and uses_host_local(_dig(r.props, "spec", "config")):
            key = (_dig(r.props, "metadata", "namespace") or "default", _dig(r.props, "metadata", "name"))
            host_local[key] = r
    users: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for r in args.resources:
        pods, networks = pods_and_networks(r.resource_type, r.props)
        for key in dict.fromkeys(networks):
            if key in host_local:
                users[key].append((pods, f"{r.resource_type.rsplit(':', 1)[-1]} {r.name}"))
    for key, uses in sorted(users.items()):
        if sum(pods for pods, _ in uses) > 1:
            report_violation(
                f"network {key[0]}/{key[1]} uses host-local IPAM but more than one pod attaches to it "
                f"({', '.join(sorted(who for _, who in uses))}): host-local allocates per node, so pods on "
                "different nodes can get the same address; use whereabouts (cluster-wide) or static IPAM",
                host_local[key].urn,
            )


POLICIES = [
    ResourceValidationPolicy(
        name="multus-protected",
        description="Every resource of the Multus install is protected from deletion.",
        validate=multus_protected,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="images-pinned",
        description="Container images use a fixed tag or a digest (no latest/stable/snapshot, no missing tag).",
        validate=images_pinned,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={
            "allowedImages": {"type": "array", "items": {"type": "string"}, "default": [],
                              "description": "image references (shell-style patterns) accepted even if not pinned"},
        }),
    ),
    ResourceValidationPolicy(
        name="nad-valid",
        description="Every NetworkAttachmentDefinition has a namespace and a spec.config that is a JSON object.",
        validate=nad_valid,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="multus-credentials-refresh",
        description="The thin Multus DaemonSet's args refresh the node kubeconfig when the token rotates (--cleanup-config-on-exit=true).",
        validate=multus_credentials_refresh,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    ResourceValidationPolicy(
        name="multus-guaranteed",
        description="The Multus DaemonSet's pod is Guaranteed QoS (requests equal limits in every container, init included).",
        validate=multus_guaranteed,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
    ResourceValidationPolicy(
        name="multus-thick-memory",
        description="The thick Multus daemon's memory limit is not below the peak measured for podsPerNode concurrent ADDs.",
        validate=multus_thick_memory,
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={
            "podsPerNode": {"type": "integer", "minimum": 1, "default": DEFAULT_PODS_PER_NODE,
                            "description": "the most pods one node runs (kubelet --max-pods)"},
        }),
    ),
    StackValidationPolicy(
        name="host-local-shared",
        description="A network with host-local IPAM is used by at most one pod (host-local is per node).",
        validate=host_local_shared,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
]
