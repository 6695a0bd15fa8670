"""`python -m components render|...`: the stack's tools that need no Pulumi CLI."""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError


def _stack_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stack", help="stack name: reads Pulumi.<NAME>.yaml beside Pulumi.yaml (default: dev)")
    group.add_argument("--stack-file", help="path of a Pulumi.<stack>.yaml to read instead")


def _render(args: argparse.Namespace) -> int:
    from . import render, stackfile

    stack, path = stackfile.resolve(args.stack, args.stack_file)
    project = stackfile.project_name()
    config = stackfile.load_config(path)
    stackfile.check_config_size(config, path)
    result = render.run_program(project, stack, config)
    if args.format == "json":
        sys.stdout.write(render.as_json(result, project, stack))  # warnings are part of the document
    else:
        sys.stdout.write(render.as_yaml(result))
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _conformance(args: argparse.Namespace) -> int:
    from . import conformance

    return conformance.command(args)


def _verify(args: argparse.Namespace) -> int:
    from . import verify

    return verify.command(args)


def _decommission(args: argparse.Namespace) -> int:
    from . import decommission

    return decommission.command(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render_cmd = commands.add_parser("render", help="print what `pulumi up` would register, offline")
    _stack_options(render_cmd)
    render_cmd.add_argument("--format", choices=("yaml", "json"), default="yaml")
    render_cmd.set_defaults(func=_render)

    conformance_cmd = commands.add_parser("conformance", help="run each network through the real CNI plugin binaries (root)")
    _stack_options(conformance_cmd)
    conformance_cmd.set_defaults(func=_conformance)

    verify_cmd = commands.add_parser("verify", help="check the workloads' live network-status against the config")
    _stack_options(verify_cmd)
    verify_cmd.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    verify_cmd.add_argument("--context", help="kubeconfig context to use")
    verify_cmd.add_argument("--workload", help="offline: the workload (name or namespace/name) a recorded status belongs to")
    verify_cmd.add_argument("--network-status-file", help="offline: a file holding the annotation value, or the whole pod")
    verify_cmd.set_defaults(func=_verify)

    decommission_cmd = commands.add_parser("decommission", help="show the plan to remove the stack and Multus; --yes: do it")
    from .decommission import add_arguments as decommission_arguments

    decommission_arguments(decommission_cmd)
    decommission_cmd.set_defaults(func=_decommission)

    from .fleet import add_parser as add_fleet_parser

    add_fleet_parser(commands)
    args = parser.parse_args(argv)

    from .stackfile import StackFileError

    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except StackFileError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    status = main()
    if "components.render" in sys.modules:
        sys.modules["components.render"].close_event_loops()
    sys.exit(status)
