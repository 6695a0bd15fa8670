"""The thick Multus daemon's memory under bursts of pod creation (a bench, never run in CI).

On a kwok cluster of its own it deploys this project's thick flavor with the real engine (the live
suite's functions), creates K pods on one node, each attached to one macvlan + host-local network,
then per K starts a fresh real `multus-daemon` for that node (tests/integration/datapath.py, the
component's own daemon-config ConfigMap and ServiceAccount) and fires K concurrent real `multus-shim`
ADDs at it, as a node's runtime does when K pods land at once (a node reboot, a drain elsewhere).

The daemon runs in a memory cgroup of its own, which the CNI plugins it starts inherit, as they do in
the DaemonSet's container: the cgroup's peak charge (`memory.max_usage_in_bytes` on cgroup v1,
`memory.peak` on v2, page cache included) and the peak working set sampled every 20 ms (the charge
less inactive file pages: what the kubelet compares with the limit) are what a memory limit has to
hold. File pages another cgroup read first (the binaries, cached by earlier runs) are charged there,
not here, so the summed RSS of the cgroup's processes (sampled too; shared pages count twice) and the
daemon's own peak RSS (VmHWM) are reported beside them. Figures are printed as a table; they depend
on the machine (2 shared cores here) and are reported, not asserted.

    sudo python bench/multus_memory_bench.py [--bursts 10,50,100,200] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine_bench import fresh_cluster, machine  # noqa: E402  (BENCH is on sys.path as the script's dir)
from tests.integration.conftest import Stacks, toolchain_env  # noqa: E402  the live suite's cluster and stacks
from tests.integration.burst import MIB, NETWORK, Cgroup, add_all, burst_pods  # noqa: E402  bursts of pods
from tests.integration.datapath import DataPath  # noqa: E402  the data path harness

def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def burst(cluster, namespace: str, pods: list[dict]) -> dict[str, Any]:
    """One fresh daemon, len(pods) concurrent ADDs; its peak memory and how the ADDs went."""
    cgroup = Cgroup(f"multus-bench-{os.getpid()}-{len(pods)}")
    dp: Optional[DataPath] = None
    try:
        dp = DataPath(cluster, multus_namespace=namespace, flavor="thick", daemon_prefix=cgroup.join)
        node = dp.node(pods[0]["spec"]["nodeName"])
        idle, idle_rss = cgroup.working_set(), cgroup.processes_rss()
        peak_ws, peak_rss, done = [idle], [idle_rss], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak_ws.append(cgroup.working_set())
                peak_rss.append(cgroup.processes_rss())
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.monotonic()
        failures = add_all(dp, pods)
        took = time.monotonic() - start
        done.set()
        sampler.join()
        return {"pods": len(pods), "seconds": round(took, 1), "failed": len(failures), "first_failure": failures[:1],
                "idle_working_set_mib": round(idle / MIB, 1), "peak_working_set_mib": round(max(peak_ws) / MIB, 1),
                "peak_charge_mib": round(cgroup.peak() / MIB, 1), "idle_rss_mib": round(idle_rss / MIB, 1),
                "peak_rss_mib": round(max(peak_rss) / MIB, 1), "daemon_vmhwm_mib": round(vm_hwm(node.daemon.pid) / MIB, 1),
                "cgroup": "v2" if cgroup.v2 else "v1"}
    finally:
        if dp is not None:
            dp.close()
        cgroup.remove()


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| concurrent ADDs | wall time | failed | cgroup working set idle / peak | cgroup peak charge | "
             "processes' RSS idle / peak | daemon peak RSS |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['pods']} | {r['seconds']} s | {r['failed']} | {r['idle_working_set_mib']} / "
                     f"{r['peak_working_set_mib']} MiB | {r['peak_charge_mib']} MiB | {r['idle_rss_mib']} / "
                     f"{r['peak_rss_mib']} MiB | {r['daemon_vmhwm_mib']} MiB |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", default="10,50,100,200", help="concurrent ADDs per run, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    bursts = [int(k) for k in args.bursts.split(",")]
    if os.geteuid() != 0:
        raise SystemExit("the data path harness creates network namespaces and cgroups: run as root")
    env, reason = toolchain_env()
    if env is None:
        raise SystemExit(reason)
    rows = []
    with tempfile.TemporaryDirectory(prefix="multus-memory-bench-") as tmp:
        base = Path(tmp)
        with fresh_cluster(env, base) as cluster:
            stacks = Stacks(cluster, base)
            try:
                stack = stacks("bench", config_from=None)
                stack.set_config("multus-cni:multus", {"flavor": "thick"})
                stack.set_config("multus-cni:networks", [NETWORK])
                stack.up()
                namespace = stack.outputs()["multusNamespace"]
                node = cluster.get("nodes")["items"][0]["metadata"]["name"]
                with burst_pods(cluster, node, max(bursts), base) as pods:
                    for k in bursts:
                        row = burst(cluster, namespace, pods[:k])
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
            finally:
                stacks.close()
    meta = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "machine": machine(),
            "command": "python bench/multus_memory_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    print(f"{meta['date']}, {meta['machine']['cpus']} CPUs, {meta['machine']['memory_gib']} GiB, Multus v4.3.0 thick, "
          f"one node, one macvlan + host-local network per pod\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
