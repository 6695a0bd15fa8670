"""A `pulumi up` interrupted for real: Ctrl-C (SIGINT to the CLI) cancels without a traceback and the
next `up` converges; a CLI killed with SIGKILL leaves none of our processes (language host, program)
running (the upstream provider is not ours, and sometimes runs on); after such a kill `make up` prints
the recovery commands and stops, and those commands, then `pulumi up`, leave no change to preview;
the same for the bulk path (`make up BULK=1`), whose killed run leaves only its lock."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from components.kube import STACK_ANNOTATION

from .conftest import Stack, Stacks, own_cluster

pytestmark = pytest.mark.live

# Enough networks that the `up` is still registering when the signal comes.
NETWORKS = [{"name": f"int-{i}", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
                                            "ipam": {"type": "host-local", "subnet": f"10.90.{i}.0/24"}}} for i in range(30)]


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


def make_up(stack: Stack, **env: str) -> subprocess.CompletedProcess:
    """`make up` of this stack, as scripts/up.sh runs it (the cluster from the stack's KUBECONFIG)."""
    return subprocess.run(["bash", "scripts/up.sh"], cwd=stack.workdir, env={**stack.env, "STACK": stack.name, "YES": "1", **env},
                          capture_output=True, text=True, timeout=600)


def printed_recovery(made: subprocess.CompletedProcess, stack: str) -> list[str]:
    """The recovery commands `make up` printed, one per line."""
    lines = made.stderr.splitlines()
    heading = 'Recover it with these commands, in order (docs/operations.md, "When a run was killed"):'
    assert made.returncode == 1 and heading in lines, made.stdout + made.stderr
    start = lines.index(heading)
    return [line.strip() for line in lines[start + 1:lines.index(f"Then run `make up STACK={stack}` again.")]]


def run_printed(stack: Stack, printed: list[str]) -> None:
    """Exactly the printed lines, in one shell."""
    done = subprocess.run(["bash", "-euc", "\n".join(printed)], cwd=stack.workdir, env=stack.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def kinds_of(state: dict) -> list[str]:
    """The Kubernetes kinds a state's resources are of."""
    return sorted({r["type"].rsplit(":", 1)[-1] for r in state.get("resources") or [] if r["type"].startswith("kubernetes:")})


# What Multus' DaemonSet waits for (components/multus: it depends on every other object of the component).
BEFORE_THE_DAEMONSET = ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "CustomResourceDefinition", "ServiceAccount"]
# kubectl finds a built-in kind by its lower-case name; a custom resource only by the CRD's names.
RESOURCES = {"NetworkAttachmentDefinition": "network-attachment-definitions"}


def marked(stack: Stack, kinds: list[str]) -> dict[tuple[str, str, str], str]:
    """Every object of these kinds in the cluster that carries this stack's mark: its uid by
    (kind, namespace, name)."""
    mark = f"organization/multus-cni/{stack.name}"
    resources = [RESOURCES.get(kind, kind.lower()) for kind in kinds]
    listed = subprocess.run(["kubectl", "get", ",".join(resources), "-A", "-o", "json"], env=stack.env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    found = {}
    for item in json.loads(listed.stdout)["items"]:
        meta = item["metadata"]
        if (meta.get("annotations") or {}).get(STACK_ANNOTATION) == mark:
            found[(item["kind"], meta.get("namespace", ""), meta["name"])] = meta["uid"]
    return found


def test_a_killed_bulk_up_leaves_its_state_as_backed_up_and_the_rerun_takes_over_what_it_made(own, tmp_path):
    """`make up BULK=1` killed half-way: none of our processes runs on, the state is the backup's, the
    objects it made are in the cluster; the printed recovery and the same command again converge,
    taking those objects over (same uids), with nothing duplicated, nothing lost."""
    stacks = Stacks(own, tmp_path)  # decommissioned after: the next test deploys Multus to this cluster too
    try:
        bulk_up_killed_and_rerun(stacks, tmp_path / "up.log")
    finally:
        stacks.close()


def bulk_up_killed_and_rerun(stacks: Stacks, log: Path) -> None:
    stack = stacks("bulk", config_from=None)
    stack.set_config("multus-cni:networks", NETWORKS)
    with log.open("w") as out:
        script = subprocess.Popen(["bash", "scripts/up.sh"], cwd=stack.workdir, stdout=out, stderr=subprocess.STDOUT,
                                  env={**stack.env, "STACK": "bulk", "YES": "1", "BULK": "1"}, start_new_session=True)
    # Killed once Multus' DaemonSet is being created: everything else of Multus is made by then (the
    # DaemonSet waits for it), and no NAD yet (each waits for the whole component). Counting NADs
    # made instead raced a run this fast: all 30 were there before the kill landed.
    deadline = time.monotonic() + 300
    while not re.search(r"DaemonSet \S+ creating", log.read_text()):
        assert time.monotonic() < deadline and script.poll() is None, log.read_text()
        time.sleep(0.05)
    cli = next(pid for pid, cmd in children(script.pid).items() if cmd.startswith("pulumi up"))
    below = children(cli)
    ours = {pid: cmd for pid, cmd in below.items() if "pulumi-language-python" in cmd or "language_host.py" in cmd}
    programs = {pid: cmd for host in ours for pid, cmd in children(host).items()}
    assert ours and programs, below
    os.kill(cli, signal.SIGKILL)
    assert script.wait(60) == 1, log.read_text()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in [*ours, *programs]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [cmd for pid, cmd in {**ours, **programs}.items() if alive(pid)], "still running 10 s after the CLI"
    for pid, cmd in below.items():  # the upstream provider is not ours: it sometimes runs on (docs/toolchain.md)
        if "pulumi-resource-kubernetes" in cmd and alive(pid):
            os.kill(pid, signal.SIGKILL)

    # The state is the backup's: the run recorded nothing; what it made is in the cluster under the mark.
    backups = sorted((stack.workdir / ".pulumi-backups").glob("bulk-*.json"))
    assert len(backups) == 1 and backups[0].stat().st_mode & 0o777 == 0o600, backups
    assert f"the state before it is in {backups[0].relative_to(stack.workdir)}" in log.read_text()
    backup = json.loads(backups[0].read_text())["deployment"]
    assert not json.loads(stack.pulumi("stack", "export").stdout)["deployment"].get("resources")
    assert not backup.get("resources")
    made_first = marked(stack, [*BEFORE_THE_DAEMONSET, "NetworkAttachmentDefinition"])
    assert {kind for kind, _, _ in made_first} >= set(BEFORE_THE_DAEMONSET), made_first
    assert len([key for key in made_first if key[0] == "NetworkAttachmentDefinition"]) < len(NETWORKS), made_first

    # `make up BULK=1` again: only the stale lock is left (no pending operation was ever written).
    printed = printed_recovery(make_up(stack, BULK="1"), "bulk")
    assert printed == ['eval "$(make -s toolchain-env)"', "pulumi cancel --yes --stack bulk"], printed
    run_printed(stack, printed)
    again = make_up(stack, BULK="1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(list((stack.workdir / ".pulumi-backups").glob("bulk-*.json"))) == 2
    state = json.loads(stack.pulumi("stack", "export").stdout)["deployment"]
    recorded = {(r["type"].rsplit(":", 1)[-1], r["outputs"]["metadata"].get("namespace", ""), r["outputs"]["metadata"]["name"])
                for r in state["resources"] if r["type"].startswith("kubernetes:")}
    live = marked(stack, kinds_of(state))
    assert set(live) == recorded  # nothing the killed run made is left outside the state, nothing lost
    assert len([key for key in recorded if key[0] == "NetworkAttachmentDefinition"]) == len(NETWORKS)
    assert {key: live[key] for key in made_first} == made_first  # taken over, not made again
    stack.pulumi("preview", "--expect-no-changes")


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
    made = make_up(stack)
    print(made.stderr)  # shown with -s: what `make up` printed
    assert "Updating (recover)" not in made.stdout and lock.exists()  # no `pulumi up` ran
    printed = printed_recovery(made, "recover")
    expected = ['eval "$(make -s toolchain-env)"', "pulumi cancel --yes --stack recover"]
    if pending:  # the kill lands between two saves of the checkpoint: almost always with operations pending
        expected.append("pulumi refresh --clear-pending-creates --yes --skip-preview --stack recover")
    assert [line for line in printed if not line.startswith("rm ")] == expected, made.stderr
    assert f"(pid {cli.pid})" in made.stderr

    # Exactly the printed lines, in one shell, then the ordinary update and a preview without changes.
    run_printed(stack, printed)
    assert not json.loads(stack.pulumi("stack", "export").stdout)["deployment"].get("pending_operations")
    assert not list((state / "locks").rglob("*.json"))
    stack.up()
    stack.pulumi("preview", "--expect-no-changes")
    again = subprocess.run([str(stack.workdir / ".venv" / "bin" / "python"), "-m", "multus_cni_cli.recovery", "--stack", "recover"],
                           cwd=stack.workdir, env=stack.env, capture_output=True, text=True, timeout=120)
    assert (again.returncode, again.stderr) == (0, "")
