"""`render`: the stack's program under Pulumi's mocks (components.testing), as documents.

This is `helm template` for the stack: what `pulumi up` would register, as the Kubernetes
manifests (YAML) or every registration with its options (JSON), in a stable order.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from components.testing import Registration, Run, run_file

from . import stackfile
from .cli_types import stack_options

HELP = "print what `pulumi up` would register, offline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")


def command(args: argparse.Namespace) -> int:
    stack, path = stackfile.resolve(args.stack, args.stack_file, args.project_dir)
    project = stackfile.project_name(args.project_dir)
    config = stackfile.load_config(path, project)
    stackfile.check_config_size(config, path)
    result = run_program(args.project_dir, project, stack, config)
    if args.format == "json":
        sys.stdout.write(as_json(result, project, stack))  # warnings are part of the document
    else:
        sys.stdout.write(as_yaml(result))
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def run_program(project_dir: Path, project: str, stack: str, config: dict[str, str]) -> Run:
    """The project's `__main__.py` under fresh mocks."""
    return run_file(project_dir / "__main__.py", project, stack, config)


# --- documents -----------------------------------------------------------------------------

# Apply order among objects that do not depend on each other (as Helm and kapp order kinds).
_KIND_ORDER = [
    "Namespace", "CustomResourceDefinition", "ServiceAccount", "Secret", "ConfigMap", "ClusterRole",
    "ClusterRoleBinding", "Role", "RoleBinding", "DaemonSet", "Deployment", "PackageInstall",
    "NetworkAttachmentDefinition", "Pod",
]


def resource_id(reg: Registration) -> str:
    return f"{reg.type}::{reg.name}"


def ordered(run_: Run) -> list[Registration]:
    """Every registration except the root stack, parents and dependencies first, ties by kind then id."""
    regs = [r for r in run_.monitor.registrations if r.type != "pulumi:pulumi:Stack"]
    by_urn = {r.urn: r for r in regs}
    after: dict[str, set[str]] = {r.urn: {d for d in r.dependencies if d in by_urn} for r in regs}
    for r in regs:
        if r.parent in by_urn:
            after[r.urn].add(r.parent)

    def rank(r: Registration) -> tuple:
        kind = r.type.rsplit(":", 1)[-1]
        return (_KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER), resource_id(r))

    out: list[Registration] = []
    done: set[str] = set()
    pending = sorted(regs, key=rank)
    while pending:
        ready = next((r for r in pending if after[r.urn] <= done), None)
        if ready is None:  # a cycle cannot happen in Pulumi; keep going rather than hang
            ready = pending[0]
        out.append(ready)
        done.add(ready.urn)
        pending.remove(ready)
    return out


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def as_json(run_: Run, project: str, stack: str) -> str:
    regs = ordered(run_)
    ids = {r.urn: resource_id(r) for r in regs}
    resources = [{
        "id": ids[r.urn],
        "type": r.type,
        "name": r.name,
        "parent": ids.get(r.parent),
        "protect": r.protect,
        "dependsOn": sorted(ids[d] for d in r.dependencies if d in ids),
        "inputs": r.inputs,
    } for r in regs]
    document = {"project": project, "stack": stack, "resources": resources, "outputs": run_.outputs, "warnings": run_.warnings}
    return json.dumps(document, sort_keys=True, indent=2, separators=(",", ": "), ensure_ascii=False) + "\n"


def kubernetes_objects(run_: Run) -> list[dict]:
    """The manifests `pulumi up` would apply, in dependency order."""
    objects = []
    for reg in ordered(run_):
        if reg.custom and reg.type.startswith("kubernetes:") and "apiVersion" in reg.inputs:
            head = {k: reg.inputs[k] for k in ("apiVersion", "kind", "metadata") if k in reg.inputs}
            rest = {k: v for k, v in reg.inputs.items() if k not in head}
            objects.append({**_sorted(head), **_sorted(rest)})
    return objects


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (ConfigMap data, values.yaml) as readable literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def as_yaml(run_: Run) -> str:
    return "".join(
        "---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
        for obj in kubernetes_objects(run_)
    )
