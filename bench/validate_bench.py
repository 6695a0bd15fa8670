"""Benchmark: validating a stack of 10,000 networks (not a test; prints figures and ratios).

    .venv/bin/python bench/validate_bench.py [--networks N] [--repeat R]

Measures `load_stack_config` (JSON decode, typed catalog, IP math, cross-network checks)
against two baselines in the same process and run: decoding the same JSON text only, and a
schema-less pydantic model that accepts any config dict (the cost of no checking at all).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import BaseModel  # noqa: E402

from components.cni import addresses  # noqa: E402
from components.config import load_stack_config  # noqa: E402


def network(i: int) -> dict[str, Any]:
    """A realistic mix: macvlan + host-local ranges, whereabouts, static conflists with tuning, bridges."""
    a, b = divmod(i, 250)
    net = f"10.{a % 250}.{b}"
    kind = i % 4
    if kind == 0:
        config = {"cniVersion": "0.3.1", "type": "macvlan", "master": f"eth{i % 8}", "mode": "bridge", "ipam": {
            "type": "host-local", "ranges": [[{"subnet": f"{net}.0/24", "rangeStart": f"{net}.10", "rangeEnd": f"{net}.200",
                                               "gateway": f"{net}.1"}]], "routes": [{"dst": "0.0.0.0/0"}]}}
    elif kind == 1:
        config = {"cniVersion": "0.3.1", "type": "macvlan", "master": f"eth{i % 8}", "ipam": {
            "type": "whereabouts", "range": f"{net}.0/24", "exclude": [f"{net}.0/28"]}}
    elif kind == 2:
        config = {"cniVersion": "0.4.0", "plugins": [
            {"type": "macvlan", "master": f"bond{i % 8}", "capabilities": {"ips": True}, "ipam": {
                "type": "static", "addresses": [{"address": f"{net}.5/24", "gateway": f"{net}.1"}]}},
            {"type": "tuning", "capabilities": {"mac": True}, "sysctl": {"net.ipv4.conf.IFNAME.arp_filter": "1"}}]}
    else:
        config = {"cniVersion": "0.3.1", "type": "bridge", "bridge": f"br{i % 64}", "isGateway": True,
                  "ipam": {"type": "host-local", "subnet": f"{net}.0/24"}}
    return {"name": f"net-{i}", "namespace": f"team-{i % 20}", "config": config}


class Untyped(BaseModel):
    name: str
    namespace: str = "default"
    config: dict[str, Any]


def untyped(text: str) -> None:
    for item in json.loads(text):
        Untyped.model_validate(item)


def median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    text = json.dumps([network(i) for i in range(args.networks)])
    config = {"multus-cni:networks": text}
    load_stack_config(config)  # warm imports once, as every run of a program would

    def ours_cold() -> None:
        addresses.ip.cache_clear()  # every run parses its addresses afresh, as `pulumi up` does
        addresses.network.cache_clear()
        load_stack_config(config)

    ours = median_seconds(ours_cold, args.repeat)
    decode = median_seconds(lambda: json.loads(text), args.repeat)
    loose = median_seconds(lambda: untyped(text), args.repeat)

    print(f"validating {args.networks:,} networks, median of {args.repeat} runs")
    print(f"{'what':<44}{'seconds':>10}{'per network':>14}{'ours / it':>11}")
    for label, seconds in (("load_stack_config (typed catalog + checks)", ours),
                           ("baseline: json.loads only", decode),
                           ("baseline: untyped pydantic model", loose)):
        print(f"{label:<44}{seconds:>10.3f}{seconds / args.networks * 1e6:>12.1f}us{ours / seconds:>10.2f}x")


if __name__ == "__main__":
    main()
