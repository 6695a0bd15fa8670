"""The engine bench's baseline: every Kubernetes object the multus-cni program registers for a
config, created directly with its pulumi_kubernetes class: no components, no validation.

With `multus-cni-plain:tree` true ("tree" in the bench), each object is the child of a bare
`ComponentResource` of the type and name of its component in ours (one per NAD, per workload,
the Multus install), those whose component in ours registers outputs ending with
`register_outputs({})`, as ours does (one state write each): the floor of a design with one
component per network on the same engine, so that the design's cost and our code's are two figures.

The objects come from `multus-cni-plain:plan`, a JSON file written by bench/engine_bench.py from a
render of the same config (bench/render_bench.py `baseline_plan`): each manifest, its protection,
its replacement options and the objects it waits for, so both programs ask the engine for the same
objects in the same order, and replace the same ones when a network's config changes.
"""

import importlib
import json
import re
from pathlib import Path

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource


def resource_class(api_version: str, kind: str):
    """pulumi_kubernetes.<group>.<version>.<Kind> (core for the empty group), or None for a custom resource."""
    group, _, version = api_version.rpartition("/")
    try:
        return getattr(importlib.import_module(f"pulumi_kubernetes.{group.split('.')[0] or 'core'}.{version}"), kind)
    except (ImportError, AttributeError):
        return None


def keyword(field: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()  # roleRef -> role_ref


def create(item: dict, created: dict[str, pulumi.Resource], parent: pulumi.Resource | None = None) -> pulumi.Resource:
    manifest = dict(item["manifest"])
    api_version, kind = manifest.pop("apiVersion"), manifest.pop("kind")
    opts = pulumi.ResourceOptions(protect=item["protect"], parent=parent,
                                  depends_on=[created[d] for d in item["dependsOn"]] or None,
                                  delete_before_replace=item.get("deleteBeforeReplace") or None,
                                  replacement_trigger=item.get("replacementTrigger"))
    cls = resource_class(api_version, kind)
    if cls is None:
        return CustomResource(item["name"], api_version=api_version, kind=kind, opts=opts, **manifest)
    return cls(item["name"], opts=opts, **{keyword(k): v for k, v in manifest.items()})


def main() -> None:
    config = pulumi.Config()
    tree = config.get_bool("tree") or False
    created: dict[str, pulumi.Resource] = {}
    components: dict[tuple[str, str], pulumi.ComponentResource] = {}
    plan = json.loads(Path(config.require("plan")).read_text())
    for item in plan:
        parent = None
        if tree and item.get("parent"):
            key = tuple(item["parent"])
            parent = components.get(key) or components.setdefault(key, pulumi.ComponentResource(*key))
        created[item["name"]] = create(item, created, parent)
    for key in {tuple(item["parent"]) for item in plan if tree and item.get("parent") and item["parentOutputs"]}:
        components[key].register_outputs({})


if __name__ == "__main__":  # as the language host runs a program
    main()
