"""Shared test helpers. Pulumi mocks are installed per test by `components.testing.run`, never at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from components import testing

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GUIDE = FIXTURES / "guide"
PROJECT = "multus-cni"


def language_host(script: Path, **env: str) -> Iterator[Any]:
    """A fixture body: one of toolchain/'s language hosts started the way the engine starts it (the
    port is the first line it prints), as a gRPC stub."""
    import grpc
    from pulumi.runtime.proto import language_pb2_grpc

    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PULUMI_LANGUAGE_HOST_VERSION": "9.9.9", **env})
    try:
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield language_pb2_grpc.LanguageRuntimeStub(channel)
    finally:
        process.terminate()
        process.wait(10)


def config_of(**keys: Any) -> dict[str, str]:
    """Stack config as Pulumi passes it: `multus-cni:<key>` -> JSON text."""
    return {f"{PROJECT}:{k}": json.dumps(v) for k, v in keys.items()}


def closed_kubeconfig(path: Path) -> Path:
    """A kubeconfig whose server listens nowhere (port 1 of the loopback): `cannot reach the cluster`."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "closed",
        "clusters": [{"name": "closed", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "closed", "context": {"cluster": "closed", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    return path


def guide_values() -> dict:
    return yaml.safe_load(GUIDE.joinpath("multus-cni-values.yaml").read_text())


def guide_nad() -> dict:
    return yaml.safe_load(GUIDE.joinpath("multus-cni-crd.yaml").read_text())


def guide_pod() -> dict:
    return yaml.safe_load(GUIDE.joinpath("my-multi-cni-pod.yaml").read_text())


@pytest.fixture
def run_stack() -> Callable[..., testing.Run]:
    """Evaluate __main__.py under fresh mocks with the given config keys."""

    def _run(stack: str = "test", **keys: Any) -> testing.Run:
        return testing.run_file(PROGRAM, PROJECT, stack, config_of(**keys))

    return _run


@pytest.fixture
def run_components() -> Callable[..., testing.Run]:
    """Run a function that builds components, under fresh mocks."""

    def _run(build: Callable[[], None]) -> testing.Run:
        return testing.run(build, PROJECT, "test", {})

    return _run


def children_of(run_: testing.Run, parent_urn: str) -> list[testing.Registration]:
    return [r for r in run_.monitor.registrations if r.parent == parent_urn]


def only(run_: testing.Run, type_: str) -> testing.Registration:
    found = run_.monitor.by_type(type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


MULTUS = "multus-cni:index:Multus"
NAD = "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition"
POD = "kubernetes:core/v1:Pod"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"


# The live modules that take longest, first: `make test` hands whole modules to its workers in
# collection order (`--dist loadfile`), so one that starts last decides when the suite ends
# (measured per test with `--durations=0`; `docs/testing.md`).
SLOWEST_FIRST = ("test_live_health", "test_live_upgrade_datapath", "test_live_adopt", "test_live_upgrade",
                 "test_live_audit_ipam", "test_live_decommission", "test_live_stack", "test_live_ownership",
                 "test_live_fleet", "test_live_make_up", "test_live_fleet_shards", "test_live_interrupt",
                 "test_live_datapath", "test_live_real_node", "test_live_lifecycle")


def pytest_collection_modifyitems(items):
    order = {name: rank for rank, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: order.get(item.path.stem, len(order)))
