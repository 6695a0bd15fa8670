"""Arguments the command-line tools share, so a bad flag is one argparse line, never a traceback."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number of at least 1")
    return int(text)


def fraction(text: str) -> float:
    """A share such as 0.9: more than 0, at most 1."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a fraction above 0 and at most 1, such as 0.9")
    return value


def stack_options(parser: argparse.ArgumentParser) -> None:
    """`--stack NAME` or `--stack-file PATH`, for the commands that read a stack file."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stack", help="stack name: reads Pulumi.<NAME>.yaml beside Pulumi.yaml (default: dev)")
    group.add_argument("--stack-file", help="path of a Pulumi.<stack>.yaml to read instead")


def cluster_options(parser: argparse.ArgumentParser, context_help: str = "kubeconfig context to use") -> None:
    """`--kubeconfig FILE` and `--context NAME`, for the commands that read the cluster."""
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help=context_help)
