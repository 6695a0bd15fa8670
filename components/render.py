"""Evaluate the program under Pulumi's own unit-test mocks and record what it registers.

This is `helm template` for the stack: the real SDK and the real pulumi_kubernetes classes
build every resource; only the engine's answers come from `pulumi.runtime.Mocks`, which
echo the inputs back (no cluster, so no live status).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi
import yaml
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from .stackfile import ROOT

PROGRAM = ROOT / "__main__.py"


class EchoMocks(mocks.Mocks):
    """The engine's answers: a resource's state is its inputs; ids are its name."""

    def new_resource(self, args: mocks.MockResourceArgs):
        return f"{args.name}_id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs):
        return {}, None


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    protect: bool
    dependencies: list[str]
    provider: str
    inputs: dict[str, Any]
    request: Any = field(repr=False)


_worker_loops: set[asyncio.AbstractEventLoop] = set()


class RecordingMonitor(mocks.MockMonitor):
    """Keeps every RegisterResource request (type, parent, protect, dependencies, inputs)."""

    def __init__(self, mock: mocks.Mocks):
        super().__init__(mock)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        _worker_loops.add(_ensure_event_loop())  # the loop the SDK made for this executor thread
        inputs = rpc.deserialize_properties(request.object) if request.type != "pulumi:pulumi:Stack" else {}
        self.registrations.append(Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=request.custom,
            protect=request.protect if request.HasField("protect") else False,
            dependencies=list(request.dependencies),
            provider=request.provider,
            inputs=_plain(inputs),
            request=request,
        ))
        return response

    def by_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]



class _WarningLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.messages.append(record.getMessage())


@dataclass
class Run:
    monitor: RecordingMonitor
    outputs: dict[str, Any]
    warnings: list[str]


def install_mocks(project: str, stack: str, config: dict[str, str], preview: bool = False) -> tuple[RecordingMonitor, _WarningLog]:
    """Fresh mocks, a fresh root stack and the given config: one per run or test, never shared."""
    settings.ROOT.set(None)
    monitor = RecordingMonitor(EchoMocks())
    log = _WarningLog()
    logger = logging.getLogger(f"multus-cni.render.{id(log)}")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.addHandler(log)
    mocks.set_mocks(EchoMocks(), project=project, stack=stack, preview=preview, logger=logger, monitor=monitor)
    set_all_config(dict(config))
    return monitor, log


def run(program: Callable[[], None], project: str, stack: str, config: dict[str, str]) -> Run:
    """Run `program` like the language host does, wait for every registration, collect outputs."""
    monitor, log = install_mocks(project, stack, config)
    _sync_await(run_pulumi_func(program))
    root = settings.get_root_resource()
    outputs = _sync_await(pulumi.Output.from_input(getattr(root, "outputs", {})).future()) or {}
    return Run(monitor=monitor, outputs=_plain(outputs), warnings=sorted(set(log.messages)))


def close_event_loops() -> None:
    """Close the loops the SDK ran on, once, before the process exits.

    The mock monitor answers on executor threads and the SDK gives each its own loop; left to
    interpreter shutdown, some of them were torn down half-way and printed 'Exception ignored in
    BaseEventLoop.__del__' on a successful render.
    """
    loop = asyncio.get_event_loop_policy().get_event_loop()
    if not loop.is_closed():
        loop.run_until_complete(loop.shutdown_default_executor())
    for worker_loop in [*_worker_loops, loop]:
        if not worker_loop.is_closed():
            worker_loop.close()
    _worker_loops.clear()


def run_program(project: str, stack: str, config: dict[str, str], program: Optional[Path] = None) -> Run:
    """Run a program file as `__main__`, as `runpy.run_path(path, run_name="__main__")` does, with
    `exec` handed to the SDK directly. The SDK records the Python stack under every resource it
    registers (for source positions), so each frame between it and the program is paid once per
    registration: runpy's were four of the twenty under a NAD."""
    path = str(program or PROGRAM)
    code = compile(Path(path).read_bytes(), path, "exec")
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __cached__=None, __loader__=None, __package__="", __spec__=None)
    saved = sys.modules["__main__"], sys.argv[0]
    sys.modules["__main__"], sys.argv[0] = main, path
    try:
        return run(functools.partial(exec, code, main.__dict__), project, stack, config)
    finally:
        sys.modules["__main__"], sys.argv[0] = saved


def _plain(value: Any) -> Any:
    """Output types are dicts with extras, secrets are wrapped; keep JSON-able plain data only.

    Secrets are unwrapped: a render is the manifests as they would be applied (like
    `helm template`), and this program puts nothing secret into them.
    """
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return _plain(value.get("value"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


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
