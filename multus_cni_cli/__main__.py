"""`multus-cni <command>` (or `python -m multus_cni_cli`): the tools for a project whose program
uses the components: render, conformance, verify, audit-ipam, decommission, adopt-plan, upgrade, fleet, fleet-join. Each command
module (its name with `_` for `-`) has HELP, add_arguments(parser) and command(args) -> exit code."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from components.config import ConfigError

from .stackfile import StackFileError

COMMANDS = ("render", "conformance", "verify", "audit-ipam", "decommission", "adopt-plan", "upgrade", "fleet", "fleet-join")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="multus-cni", description="Tools for a Pulumi project that uses the multus-cni components.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project-dir", type=Path, default=Path("."), metavar="DIR",
                        help="the Pulumi project (the directory of Pulumi.yaml; default: the current one)")
    commands = top.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__package__}.{name.replace('-', '_')}")
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP, parents=[common])
        module.add_arguments(sub)
        sub.set_defaults(func=module.command)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except StackFileError as exc:
        print(exc, file=sys.stderr)
        return 2


def entry_point() -> None:
    """`[project.scripts] multus-cni`: main, then the SDK's event loops closed once before exit."""
    status = main()
    if "components.testing" in sys.modules:
        sys.modules["components.testing"].close_event_loops()
    sys.exit(status)


if __name__ == "__main__":
    entry_point()
