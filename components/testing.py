"""A test kit for Pulumi programs that use these components: Pulumi's own unit-test mocks, with a
monitor that records every registration.

The real SDK builds every resource (as components.kube registers it); only the engine's answers
come from `pulumi.runtime.Mocks`, which echo the inputs back (no cluster, so no live status). Each
`run` installs fresh mocks and a fresh root stack, so tests stay independent:

    from components.testing import run
    result = run(my_program, "my-project", "dev", {"my-project:key": "value"})
    assert result.monitor.by_type("kubernetes:apps/v1:DaemonSet")
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pulumi
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await


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
    """Keeps every RegisterResource request (type, parent, protect, dependencies, inputs) and the
    URNs whose outputs were registered (each such call is one more state write on a real engine)."""

    def __init__(self, mock: mocks.Mocks):
        super().__init__(mock)
        self.registrations: list[Registration] = []
        self.outputs_registered: list[str] = []

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

    def RegisterResourceOutputs(self, request):
        self.outputs_registered.append(request.urn)
        return super().RegisterResourceOutputs(request)

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
    # The language host's own entry (pulumi-language-python-exec): a new root stack, the program,
    # then its async entrypoint (`pulumi.run`, components/program.py); the mocks' finished stack
    # would refuse that entrypoint.
    settings.ROOT.set(None)
    roots: list[Any] = []  # the stack is the run's own (a context variable set in its task)

    def body() -> None:
        roots.append(settings.get_root_resource())
        program()

    _sync_await(run_in_stack(body))
    root = roots[0] if roots else None
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


def run_file(program: Path, project: str, stack: str, config: dict[str, str]) -> Run:
    """Run a program file as `__main__`, as `runpy.run_path(path, run_name="__main__")` does, with
    `exec` handed to the SDK directly. The SDK records the Python stack under every resource it
    registers (for source positions), so each frame between it and the program is paid once per
    registration: runpy's were four of the twenty under a NAD."""
    path = str(program)
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
