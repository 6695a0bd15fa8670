"""The live suite: the real Pulumi CLI, provider and a real control plane (kwok's simulated nodes).

One cluster per test session, started from the built toolchain and deleted at the end (also on
failure). Each test gets a copy of the project, a file state backend of its own and its own stack;
whatever it deployed is deleted at teardown (teardown.py). Without the
toolchain the suite skips, saying why; with REQUIRE_LIVE=1 that is a failure instead.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from . import teardown

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("pulumi", "python_host", "provider", "kube", "etcd", "kwok", "multus")
# What a copy of the project needs to run: the program, its stack files, the pack, the examples.
PROJECT_FILES = ("__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml", "requirements.txt", "requirements-dev.txt",
                 "pyproject.toml", "Makefile")
PROJECT_DIRS = ("components", "multus_cni_cli", "policy", "examples", "scripts", "toolchain", "cluster")


def _bash(script: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout


def toolchain_env() -> tuple[dict[str, str] | None, str]:
    """The environment with the built toolchain on it, or None and why not."""
    missing = _bash(". toolchain/lib.sh; for p in " + " ".join(PARTS) + "; do usable $p || echo $p; done").split()
    if missing:
        return None, f"the live toolchain is not built ({', '.join(missing)} missing): run `make toolchain`"
    env = json.loads(_bash('eval "$(bash toolchain/env.sh)"; python3 -c "import json,os;print(json.dumps(dict(os.environ)))"'))
    # Proves that nothing is downloaded: a plugin the cache lacks is an error, not a fetch.
    env.update(PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="1", PULUMI_SKIP_UPDATE_CHECK="1",
               PULUMI_CONFIG_PASSPHRASE="", PULUMI_SKIP_CONFIRMATIONS="1")
    for key in ("KUBECONFIG", "PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN"):
        env.pop(key, None)
    return env, ""


@pytest.fixture(scope="session")
def toolchain() -> dict[str, str]:
    env, reason = toolchain_env()
    if env is None:
        if os.environ.get("REQUIRE_LIVE") == "1":
            pytest.fail(f"REQUIRE_LIVE=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    # The suite is CPU-bound on 2 cores and most of its processes are Go (the CLI, the provider, each
    # cluster's API server, etcd and controllers, which inherit it through kwokctl): collecting garbage
    # at 5x the live heap instead of 2x spends less of that CPU on the collector (the API server's
    # profile: a fifth of its CPU in GC), for memory the machine has. Only here: the benches measure
    # with Go's default. A setting of the caller wins.
    env.setdefault("GOGC", "400")
    return env


@dataclass
class Cluster:
    name: str
    kubeconfig: Path
    env: dict[str, str]

    def kubectl(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
                input_text: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], env={**self.env, **(env or {})},
                              input=input_text, capture_output=True, text=True, timeout=120)
        if check and done.returncode:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def api(self):
        """A Kubernetes Python client on this cluster (the dynamic client reads any kind)."""
        from kubernetes import config, dynamic
        from kubernetes.client import api_client

        return dynamic.DynamicClient(api_client.ApiClient(config.new_client_from_config(str(self.kubeconfig)).configuration))


def start_cluster(env: dict[str, str], workdir: Path, name: str, real_node: bool = False) -> Cluster:
    """Simulated nodes only unless `real_node` (cluster/node.sh: one per test module that needs it)."""
    cluster_env = {**env, "CLUSTER_WORKDIR": str(workdir), "REAL_NODE": "1" if real_node else "0"}
    done = subprocess.run(["bash", "cluster/kwok.sh", "up", name], cwd=ROOT, env=cluster_env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        stop_cluster(cluster_env, name)
        raise AssertionError(f"cluster/kwok.sh up {name} failed:\n{done.stdout}\n{done.stderr}")
    return Cluster(name, Path(done.stdout.strip().splitlines()[-1]), cluster_env)


def stop_cluster(env: dict[str, str], name: str) -> None:
    subprocess.run(["bash", "cluster/kwok.sh", "down", name], cwd=ROOT, env=env, capture_output=True, timeout=300)


def own_cluster(toolchain: dict[str, str], tmp_path_factory, prefix: str) -> Iterator[Cluster]:
    """A fixture body: a kwok cluster of its own, deleted when the fixture ends."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    started = start_cluster(toolchain, tmp_path_factory.mktemp("kwok"), name)
    try:
        yield started
    finally:
        stop_cluster(started.env, name)


@pytest.fixture(scope="session")
def cluster(toolchain, tmp_path_factory) -> Iterator[Cluster]:
    yield from own_cluster(toolchain, tmp_path_factory, "live")


# The guide's macvlan-conf range (Pulumi.dev.yaml).
GUIDE_RANGE = (ipaddress.ip_address("192.168.1.200"), ipaddress.ip_address("192.168.1.216"))


def network_status(cluster: Cluster, pod: str, timeout: float = 90) -> tuple[dict[str, Any], list[dict]]:
    """The pod, Running on the real node, and the network-status Multus wrote on it."""
    deadline = time.monotonic() + timeout
    while True:
        live = cluster.get("pod", "-n", "default", pod)
        text = (live["metadata"].get("annotations") or {}).get("k8s.v1.cni.cncf.io/network-status")
        if text and live["status"].get("phase") == "Running":
            return live, json.loads(text)
        if time.monotonic() > deadline:
            events = cluster.kubectl("get", "events", "-n", "default", "--field-selector", f"involvedObject.name={pod}").stdout
            raise AssertionError(f"{pod}: phase {live['status'].get('phase')}, network-status {text!r}\n{events}")
        time.sleep(2)


def macvlan_address(status: list[dict]) -> str:
    net1 = [entry for entry in status if entry.get("interface") == "net1"]
    assert len(net1) == 1, status
    assert net1[0]["name"] == "default/macvlan-conf"
    (address,) = net1[0]["ips"]
    assert GUIDE_RANGE[0] <= ipaddress.ip_address(address) <= GUIDE_RANGE[1]
    return address


def verify_stack(workdir: Path, env: dict[str, str], stack: str) -> subprocess.CompletedProcess:
    """`multus-cni verify`: every workload's live network-status against the stack's config."""
    return subprocess.run([str(ROOT / ".venv" / "bin" / "multus-cni"), "verify", "--stack", stack],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


def without_salt(stack_file_text: str) -> list[str]:
    """A stack file's lines but the `encryptionsalt:` of its passphrase secrets provider."""
    return [line for line in stack_file_text.splitlines(keepends=True) if not line.startswith("encryptionsalt: ")]


def copy_project(dest: Path) -> Path:
    """The project as a user checks it out, with the already-installed .venv linked in."""
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    # Without the salt a user's own `make up` wrote into the checkout's stack file: a fresh checkout
    # has none, and with another passphrase that salt would not open the copy's new backend.
    stack_file = dest / "Pulumi.dev.yaml"
    stack_file.write_text("".join(without_salt(stack_file.read_text())))
    ignore = shutil.ignore_patterns("__pycache__", "venv", ".venv", "*.pyc")
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    (dest / "policy" / "venv").symlink_to(ROOT / ".venv")  # requirements-dev has pulumi-policy
    return dest


@dataclass
class Stack:
    """One stack of a project copy, on its own file backend, deployed to the session's cluster."""

    name: str
    workdir: Path
    env: dict[str, str]

    def pulumi(self, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
        command = ["pulumi", *args, "--stack", self.name, "--non-interactive"]
        done = subprocess.run(command, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode:
            raise AssertionError(f"pulumi {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def up(self, *args: str) -> subprocess.CompletedProcess:
        return self.pulumi("up", "--yes", "--skip-preview", *args)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json", "--show-secrets").stdout)

    def set_config(self, key: str, value: Any) -> None:
        """A `multus-cni:` key, structured values as the stack file holds them."""
        path = self.workdir / f"Pulumi.{self.name}.yaml"
        document = yaml.safe_load(path.read_text()) if path.exists() else {}
        document.setdefault("config", {})[key] = value
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def state(self) -> list[dict[str, Any]]:
        exported = json.loads(self.pulumi("stack", "export").stdout)
        return exported["deployment"].get("resources") or []

    def decommission(self) -> None:
        """Test teardown: the state's objects deleted through the API (`teardown.py`), else
        unprotect everything and destroy (no node cleanup: kwok nodes hold no files). The stack
        itself is not removed: its backend is the test's temporary directory."""
        backend = Path(self.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
        project = yaml.safe_load((self.workdir / "Pulumi.yaml").read_text())["name"]
        deployment = teardown.checkpoint(backend, project, self.name)
        objects = None if deployment is None else teardown.objects_to_delete(deployment)
        if objects is not None and teardown.delete(objects, self.env):
            return
        self.pulumi("state", "unprotect", "--all", "--yes", check=False)
        self.pulumi("destroy", "--yes", "--skip-preview", check=False)


_scratch: list[Path] = []


def scratch() -> Path:
    """This process's TMPDIR for the engines it starts, removed when it exits: pulumi-kubernetes
    v4.25 writes the cluster's kubeconfig to a new $TMPDIR/kubeconfigNNN at each provider start
    and never removes it (provider/pkg/provider/util.go `writeKubeconfigToFile`). Short, beside
    /tmp's other entries; not the cluster's TMPDIR, under which cluster/kwok.sh keeps the lock all
    workers share."""
    if not _scratch:
        path = Path(tempfile.mkdtemp(prefix="multus-cni-live-"))
        atexit.register(shutil.rmtree, path, True)
        _scratch.append(path)
    return _scratch[0]


class Stacks:
    """Stacks of one fresh project copy on one file backend; `close` decommissions them all."""

    def __init__(self, cluster: Cluster, base: Path):
        state = base / "state"
        state.mkdir()
        self.env = {**cluster.env, "KUBECONFIG": str(cluster.kubeconfig), "PULUMI_BACKEND_URL": f"file://{state}",
                    "TMPDIR": str(scratch())}
        self.workdir = copy_project(base / "project")
        self.made: list[Stack] = []

    def __call__(self, name: str = "dev", config_from: str | None = "dev", project_dir: Path | None = None) -> Stack:
        """A new stack (default `dev`, with the checkout's Pulumi.dev.yaml); `project_dir` for another project."""
        where = project_dir or self.workdir
        if config_from and config_from != name:
            shutil.copy2(self.workdir / f"Pulumi.{config_from}.yaml", where / f"Pulumi.{name}.yaml")
        stack = Stack(name, where, self.env)
        subprocess.run(["pulumi", "stack", "init", name, "--non-interactive"], cwd=where, env=self.env,
                       capture_output=True, text=True, check=True, timeout=120)
        self.made.append(stack)
        return stack

    def close(self) -> None:
        for stack in reversed(self.made):
            stack.decommission()


@pytest.fixture
def new_stack(cluster, tmp_path) -> Iterator[Stacks]:
    stacks = Stacks(cluster, tmp_path)
    try:
        yield stacks
    finally:
        stacks.close()


@pytest.fixture(scope="module")
def module_stacks(cluster, tmp_path_factory) -> Iterator[Stacks]:
    stacks = Stacks(cluster, tmp_path_factory.mktemp("stacks"))
    try:
        yield stacks
    finally:
        stacks.close()


def said(done: subprocess.CompletedProcess, text: str) -> bool:
    """Whether a command printed `text`, however the CLI wrapped its lines."""
    return " ".join(text.split()) in " ".join((done.stdout + done.stderr).split())


def rendered_objects(workdir: Path, stack_file: Path) -> list[dict[str, Any]]:
    """What `multus-cni render` says the stack creates (the objects pulumi up applies)."""
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "render",
                           "--stack-file", str(stack_file)], cwd=workdir, capture_output=True, text=True,
                          check=True, timeout=300)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def with_package(workdir: Path) -> Path:
    """The component package's plugin (provider/) in a project copy, its virtualenv the
    checkout's installed one (its requirements are the project's): programs in any language
    add it by path. Returns the plugin directory."""
    plugin = workdir / "provider"
    shutil.copytree(ROOT / "provider", plugin, ignore=shutil.ignore_patterns("__pycache__", "venv", "*.pyc"))
    (plugin / "venv").symlink_to(ROOT / ".venv")
    return plugin
