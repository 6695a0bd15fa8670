"""A `pulumi up` interrupted for real: Ctrl-C (SIGINT to the CLI) cancels without a traceback and the
next `up` converges; a CLI killed with SIGKILL leaves none of our processes (language host, program)
running (the upstream provider is not ours, and sometimes runs on); after such a kill `make up` prints
the recovery commands and stops, and those commands, then `pulumi up`, leave no change to preview."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import Stack, Stacks, own_cluster

pytestmark = pytest.mark.live

# Enough networks that the `up` is still registering when the signal comes.
NETWORKS = [{"name": f"int-{i}", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
                                            "ipam": {"type": "host-local", "subnet": f"10.90.{i}.0/24"}}} for i in range(60)]


def start_up(stack: Stack, log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--stack", stack.name, "--non-interactive"],
                            cwd=stack.workdir, env=stack.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(log: Path, text: str, seconds: int = 120) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"never saw {text!r}:\n{log.read_text()}"
        time.sleep(0.2)


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = int(next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("PPid:")))
            if ppid == pid:
                found[int(status.parent.name)] = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return found


def alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_ctrl_c_cancels_without_a_traceback_and_the_next_up_converges(new_stack, tmp_path):
    stack = new_stack("ctrlc", config_from=None)
    stack.set_config("multus-cni:networks", NETWORKS)
    log = tmp_path / "up.log"
    cli = start_up(stack, log)
    wait_for(log, "creating")
    cli.send_signal(signal.SIGINT)
    cli.wait(300)
    output = log.read_text()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    stack.up()
    stack.pulumi("preview", "--expect-no-changes")


@pytest.fixture(scope="module")
def own(toolchain, tmp_path_factory):
    """A cluster of this module's own: a killed run leaves its objects and a locked stack behind."""
    yield from own_cluster(toolchain, tmp_path_factory, "killed")


def test_a_killed_cli_leaves_none_of_our_processes_running(own, tmp_path):
    stacks = Stacks(own, tmp_path)  # not closed: the killed run's stack stays locked; the cluster goes with the module
    stack = stacks("killed", config_from=None)
    stack.set_config("multus-cni:networks", NETWORKS)
    log = tmp_path / "up.log"
    cli = start_up(stack, log)
    wait_for(log, "creating")
    deadline = time.monotonic() + 60
    while not [c for c in children(cli.pid).values() if "pulumi-resource-kubernetes" in c]:
        assert time.monotonic() < deadline, children(cli.pid)
        time.sleep(0.2)
    below = children(cli.pid)
    ours = {pid: cmd for pid, cmd in below.items() if "pulumi-language-python" in cmd or "language_host.py" in cmd}
    providers = [pid for pid, cmd in below.items() if "pulumi-resource-kubernetes" in cmd]
    programs = {pid: cmd for host in ours for pid, cmd in children(host).items()}
    assert ours and programs, below
    cli.kill()
    cli.wait(30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in [*ours, *programs]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [cmd for pid, cmd in {**ours, **programs}.items() if alive(pid)], "still running 10 s after the CLI"
    # The upstream provider is not ours: it sometimes ends by itself, sometimes runs on (docs/toolchain.md).
    for pid in providers:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def pending_in(checkpoint: Path) -> list[dict]:
    """The pending operations of a file backend's checkpoint, read as it is being written."""
    try:
        return json.loads(checkpoint.read_text())["checkpoint"]["latest"].get("pending_operations") or []
    except (OSError, ValueError, KeyError, TypeError):
        return []


def test_after_a_killed_up_make_up_prints_the_recovery_and_following_it_converges(own, tmp_path):
    stacks = Stacks(own, tmp_path)  # not closed: the cluster goes with the module
    stack = stacks("recover", config_from=None)
    stack.set_config("multus-cni:networks", NETWORKS)
    state = Path(stack.env["PULUMI_BACKEND_URL"].removeprefix("file://")) / ".pulumi"
    checkpoint = state / "stacks" / "multus-cni" / "recover.json"
    cli = start_up(stack, tmp_path / "up.log")
    deadline = time.monotonic() + 120
    while not [op for op in pending_in(checkpoint) if op["resource"].get("custom")]:  # a Kubernetes object in flight
        assert time.monotonic() < deadline and cli.poll() is None, (tmp_path / "up.log").read_text()
        time.sleep(0.05)
    below = children(cli.pid)
    cli.kill()
    cli.wait(30)
    for pid, cmd in below.items():  # the upstream provider may run on (above); not this test's subject
        if "pulumi-resource-kubernetes" in cmd and alive(pid):
            os.kill(pid, signal.SIGKILL)
    lock = next((state / "locks").rglob("*.json"))
    assert json.loads(lock.read_text())["pid"] == cli.pid
    pending = pending_in(checkpoint)

    # `make up`, as scripts/up.sh runs it: it finds what the kill left, prints the commands, stops.
    made = subprocess.run(["bash", "scripts/up.sh"], cwd=stack.workdir, env={**stack.env, "STACK": "recover", "YES": "1"},
                          capture_output=True, text=True, timeout=300)
    print(made.stderr)  # shown with -s: what `make up` printed
    assert made.returncode == 1, made.stdout + made.stderr
    assert "Updating (recover)" not in made.stdout and lock.exists()  # no `pulumi up` ran
    lines = made.stderr.splitlines()
    heading = 'Recover it with these commands, in order (docs/operations.md, "When a run was killed"):'
    assert heading in lines, made.stdout + made.stderr
    start = lines.index(heading)
    printed = [line.strip() for line in lines[start + 1:lines.index("Then run `make up STACK=recover` again.")]]
    expected = ['eval "$(make -s toolchain-env)"', "pulumi cancel --yes --stack recover"]
    if pending:  # the kill lands between two saves of the checkpoint: almost always with operations pending
        expected.append("pulumi refresh --clear-pending-creates --yes --skip-preview --stack recover")
    assert [line for line in printed if not line.startswith("rm ")] == expected, made.stderr
    assert f"(pid {cli.pid})" in made.stderr

    # Exactly the printed lines, in one shell, then the ordinary update and a preview without changes.
    done = subprocess.run(["bash", "-euc", "\n".join(printed)], cwd=stack.workdir, env=stack.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not json.loads(stack.pulumi("stack", "export").stdout)["deployment"].get("pending_operations")
    assert not list((state / "locks").rglob("*.json"))
    stack.up()
    stack.pulumi("preview", "--expect-no-changes")
    again = subprocess.run([str(stack.workdir / ".venv" / "bin" / "python"), "-m", "multus_cni_cli.recovery", "--stack", "recover"],
                           cwd=stack.workdir, env=stack.env, capture_output=True, text=True, timeout=120)
    assert (again.returncode, again.stderr) == (0, "")
