"""`multus-cni audit-ipam`: duplicate, leaked, missing and exhausted addresses on one stack's
secondary networks, from the live pods' network-status and whereabouts' IPPools and
OverlappingRangeIPReservations (docs/operations.md#auditing-ip-addresses)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.core.data import one_line

from . import stackfile
from .audit import findings, reader, report
from .cli_types import cluster_options, fraction, stack_options

class AuditError(Exception):
    """The audit cannot run (no networks, an unwritable --summary-json); exit status 2."""


HELP = "find duplicate, leaked, missing and exhausted IP addresses on the stack's networks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)
    cluster_options(parser)
    parser.add_argument("--pool-threshold", type=fraction, default=findings.DEFAULT_THRESHOLD, metavar="FRACTION",
                        help="report a whereabouts pool this full or fuller (default: 0.9)")
    parser.add_argument("--summary-json", type=Path, metavar="FILE", help="also write the findings as JSON")


def command(args: argparse.Namespace) -> int:
    stack_name, stack = stackfile.load_stack(args.stack, args.stack_file, args.project_dir)
    try:
        if not stack.networks:
            raise AuditError(f"stack {stack_name!r} has no networks to audit")
        result = findings.audit(stack, reader.snapshot(reader.Cluster(args.kubeconfig, args.context)), args.pool_threshold)
        if args.summary_json:
            try:
                args.summary_json.write_text(report.as_json(stack_name, result, args.pool_threshold), encoding="utf-8")
            except OSError as exc:
                raise AuditError(f"{args.summary_json}: {exc.strerror}") from None
    except (AuditError, reader.ClusterError) as exc:
        print(f"audit-ipam: {one_line(str(exc))}", file=sys.stderr)
        return 2
    for line in report.table(result):
        print(line)
    print(report.summary(stack_name, result))
    return 1 if result.findings else 0
