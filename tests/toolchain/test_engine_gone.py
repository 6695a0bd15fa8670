"""Both language hosts end once the engine that started them is gone (a `pulumi` CLI killed with
SIGKILL never stops its plugins): started under a stand-in parent that is then SIGKILLed. The whole
run (CLI, host, program) killed live: tests/integration/test_live_interrupt.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for whoever adopted it to reap it."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


@pytest.mark.parametrize("host", ["language_host.py", "nodejs_host.py"])
def test_the_host_exits_when_its_engine_is_killed(host):
    script = ROOT / "toolchain" / "hosts" / host
    # The parent starts the host as the engine does and prints its pid, then waits like the engine.
    parent = subprocess.Popen(["bash", "-c", f'"{sys.executable}" "{script}" 127.0.0.1:1 >/dev/null & echo $!; wait'],
                              stdout=subprocess.PIPE, text=True, start_new_session=True,
                              env={**os.environ, "PULUMI_LANGUAGE_HOST_VERSION": "9.9.9"})
    host_pid = int(parent.stdout.readline())
    # Python runs the host (not the forked shell before its exec), then it settles; under load the
    # kill may still come while it imports, after it read which engine started it (ENGINE_PID).
    deadline = time.monotonic() + 10
    while host not in Path(f"/proc/{host_pid}/cmdline").read_bytes().decode(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)
    assert alive(host_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while alive(host_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(host_pid), f"{host} still runs 10 s after its engine was killed"
