"""`multus-cni decommission --stack NAME`: remove Multus and everything of the stack,
in the order that never leaves a node with 00-multus.conf once Multus' credentials are gone
(multus-cni#461). Without `--yes` it only shows the plan; with `--yes` and the stack name typed
again (or `--confirm NAME`) it carries it out. Docs: docs/operations.md "Decommission".
"""

from __future__ import annotations

import argparse
import sys

from ..cli_types import cluster_options, positive_int
from components.images import pinning_problem
from . import daemonset
from .cluster import Cluster, ClusterError
from .plan import render, steps
from .run import Pulumi, Runner, StepFailed, check_refusal, confirmed, facts


HELP = "show the plan to remove the stack and Multus; --yes: do it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="the stack to decommission (Pulumi.<NAME>.yaml beside Pulumi.yaml)")
    parser.add_argument("--yes", action="store_true", help="carry out the plan (asks for the stack name again)")
    parser.add_argument("--confirm", metavar="NAME", help="the stack name again, for CI (instead of the prompt)")
    cluster_options(parser)
    parser.add_argument("--node-timeout", type=positive_int, default=300, metavar="SECONDS",
                        help="how long to wait for every node's cleanup report (default: 300)")
    parser.add_argument("--cleanup-image", default=daemonset.IMAGE,
                        help=f"image of the node-cleanup pods, with Python 3 (default: {daemonset.IMAGE})")


def command(args: argparse.Namespace) -> int:
    problem = pinning_problem(args.cleanup_image)
    if problem:
        print(f"--cleanup-image: {problem}", file=sys.stderr)
        return 2
    pulumi = Pulumi(args.stack, args.project_dir)
    try:
        cluster = Cluster(args.kubeconfig, args.context)
        state = pulumi.state()
        refused = check_refusal(state, cluster)
        sys.stdout.write(render(args.stack, state, steps(state, facts(cluster), args.node_timeout), refused))
    except (ClusterError, StepFailed) as exc:
        print(f"decommission: {exc}", file=sys.stderr)
        return 2
    if state.package_installs:
        print("decommission: Multus is a Tanzu package here (tanzu-package mode); its PackageInstall has noopDelete, "
              "so deleting it leaves Multus running: use `tanzu package installed delete` and the package's node "
              "cleanup instead", file=sys.stderr)
        return 2
    if not args.yes:
        print("This is the plan only: nothing was changed. Run it with --yes to carry it out.")
        return 1 if refused else 0  # a CI gate on the plan fails while --yes would be refused
    if refused:
        print("decommission: refused (nothing was changed): delete or move the pods and NADs listed above first",
              file=sys.stderr)
        return 1
    if not confirmed(args.stack, args.confirm):
        print(f"\ndecommission: not confirmed (the stack name typed was not {args.stack!r}): nothing was changed",
              file=sys.stderr)
        return 1
    try:
        Runner(pulumi, cluster, args.node_timeout, args.cleanup_image).run(state)
    except (ClusterError, StepFailed) as exc:
        print(f"decommission stopped: {exc}\nThe steps before this one are complete and nothing after it was started; "
              f"rerun `multus-cni decommission --stack {args.stack} --yes` to finish.", file=sys.stderr)
        return 1
    print(f"Stack {args.stack} is decommissioned: its state is empty, Multus is gone from the cluster and from every node.")
    return 0
