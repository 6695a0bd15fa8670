"""Bursts of pod creation on one node for the data path harness: K pods selecting one network, K
concurrent ADDs, and a memory cgroup the node's Multus daemon runs in (its CNI plugins inherit it, as
in the DaemonSet's container). Used by test_live_health.py and bench/multus_memory_bench.py."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .datapath import DataPath, HarnessError

NETWORK = {"name": "burst-net", "config": {
    "cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
    "ipam": {"type": "host-local", "subnet": "10.128.0.0/16"}}}
MIB = 2**20


class Cgroup:
    """A memory cgroup for one daemon: v2 (memory.peak) when this machine has it, else v1."""

    def __init__(self, name: str):
        v2 = Path("/sys/fs/cgroup")
        if (v2 / "cgroup.controllers").exists():
            self.path, self.v2 = v2 / name, True
        else:
            self.path, self.v2 = Path("/sys/fs/cgroup/memory") / name, False
        self.path.mkdir()

    @property
    def join(self) -> tuple[str, ...]:
        """The command prefix that moves a process into this cgroup before it execs the daemon."""
        return ("sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.path))

    def _read(self, name: str) -> int:
        return int((self.path / name).read_text().split()[0])

    def _stat(self) -> dict[str, int]:
        return self._fields("memory.stat")

    def usage(self) -> int:
        return self._read("memory.current" if self.v2 else "memory.usage_in_bytes")

    def working_set(self) -> int:
        """Usage less inactive file pages, as the kubelet (cadvisor) computes a container's working set."""
        stat = self._stat()
        inactive = stat.get("inactive_file" if self.v2 else "total_inactive_file", 0)
        return max(0, self.usage() - inactive)

    def processes_rss(self) -> int:
        """The resident memory of every process in the cgroup, summed (the daemon and the plugins it
        runs; file pages such as the binaries' text count here even when another cgroup was charged
        for them first, and a page shared by two processes counts twice)."""
        total = 0
        for pid in (self.path / "cgroup.procs").read_text().split():
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError):
                pass  # the process ended between the two reads
        return total

    def peak(self) -> int:
        return self._read("memory.peak" if self.v2 else "memory.max_usage_in_bytes")

    def limit(self, amount: int) -> None:
        """The memory limit the kubelet sets for a container (`resources.limits.memory`)."""
        (self.path / ("memory.max" if self.v2 else "memory.limit_in_bytes")).write_text(str(amount))

    def oom_kills(self) -> int:
        """How many processes the kernel killed for this cgroup's limit."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        return self._fields(name).get("oom_kill", 0)

    def _fields(self, name: str) -> dict[str, int]:
        return {k: int(v) for k, v in (line.split() for line in (self.path / name).read_text().splitlines())}

    def unlimit(self) -> None:
        (self.path / ("memory.max" if self.v2 else "memory.limit_in_bytes")).write_text("max" if self.v2 else "-1")

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


LABEL = "multus-cni-burst"  # on every pod a burst creates, so they all go afterwards


@contextmanager
def burst_pods(cluster, node: str, count: int, workdir: Path) -> Iterator[list[dict]]:
    """`count` pods bound to `node`, each selecting the burst network, once kwok says Running; deleted
    at the end, also on failure (the session's cluster is shared: later tests attach every Running pod)."""
    items = [{"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": f"burst-{i:03d}", "namespace": "default", "labels": {LABEL: "true"},
                           "annotations": {"k8s.v1.cni.cncf.io/networks": NETWORK["name"]}},
              "spec": {"nodeName": node, "containers": [{"name": "c", "image": "docker.io/library/alpine:3.22"}]}}
             for i in range(count)]
    path = workdir / "burst-pods.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    try:
        cluster.kubectl("apply", "-f", str(path))
        deadline = time.monotonic() + 600
        while True:
            pods = cluster.get("pods", "-n", "default", "-l", LABEL)["items"]
            if len(pods) == count and all(p["status"].get("phase") == "Running" for p in pods):
                break
            if time.monotonic() > deadline:
                raise HarnessError(f"{count} burst pods were not Running after 10 minutes")
            time.sleep(1)
        yield sorted(pods, key=lambda p: p["metadata"]["name"])
    finally:
        cluster.kubectl("delete", "pods", "-n", "default", "-l", LABEL, "--grace-period=0", "--force", "--wait=true",
                        check=False)


def add_all(dp: DataPath, pods: list[dict]) -> list[str]:
    """ADD for every pod at once, as a runtime does when they land together; what each failure said
    (its first line and Multus' message)."""
    failures: list[str] = []

    def add(pod: dict) -> None:
        try:
            dp.attach(pod)
        except HarnessError as exc:
            lines = str(exc).splitlines()
            said = next((line.strip() for line in lines if '"msg"' in line), lines[-1] if lines else "")
            failures.append(f"{lines[0] if lines else ''} {said}")

    with ThreadPoolExecutor(max_workers=len(pods)) as pool:
        list(pool.map(add, pods))
    return failures
