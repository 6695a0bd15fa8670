"""`multus-cni conformance`: run each network of a stack through the real CNI plugins.

A NAD's config is only proven once a plugin binary accepts it. This does what a node does when
Multus attaches `net1`, with throw-away network namespaces instead of a node (`node`): the chain
runs as libcni runs it (`invoke`), the CNI result and the interface are checked against the config,
then DEL runs and must undo everything (`checks`); `attach` does that for one network. What this
machine lacks is a skip, never a failure (`plugins`). Needs root, iproute2 and the reference
plugins (Debian/Ubuntu `containernetworking-plugins`, or a node's /opt/cni/bin).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from .. import stackfile
from ..cli_types import stack_options
from . import node
from .attach import check_config, check_network, check_stack
from .checks import result_problems
from .node import IFNAME, NETNS_DIR, NETNS_PREFIX, EnvironmentProblem
from .plugins import DEFAULT_PLUGIN_DIRS, dirs_text, find_plugin_dirs, require_binaries
from .report import FAIL, PASS, SKIP, Result, format_table

__all__ = [
    "DEFAULT_PLUGIN_DIRS", "FAIL", "IFNAME", "NETNS_DIR", "NETNS_PREFIX", "PASS", "SKIP",
    "HELP", "EnvironmentProblem", "Result", "add_arguments", "check_config", "check_network", "check_stack", "command",
    "find_plugin_dirs", "format_table", "preflight", "result_problems",
]


def preflight(dirs: Sequence[Path]) -> None:
    """Raise EnvironmentProblem unless this process can build a node and has plugins to run."""
    node.require_tools()
    require_binaries(dirs)
    node.require_namespaces()


HELP = "run each network through the real CNI plugin binaries (root)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack_options(parser)


def command(args: argparse.Namespace) -> int:
    """0 when no network failed (skips allowed), 1 when one did, 2 when nothing could run."""
    stack, config = stackfile.load_stack(args.stack, args.stack_file, args.project_dir)
    try:
        dirs = find_plugin_dirs()
        preflight(dirs)
    except EnvironmentProblem as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    print(f"stack {stack}: plugins from {dirs_text(dirs)}, kernel {os.uname().release}")
    if not config.networks:
        print("no networks under multus-cni:networks: nothing to check")
        return 0
    results = check_stack(config.networks, dirs)
    sys.stdout.write(format_table(results))
    return 1 if any(r.verdict == FAIL for r in results) else 0
