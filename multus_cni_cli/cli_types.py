"""Arguments the command-line tools share, so a bad flag is one argparse line, never a traceback."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number of at least 1")
    return int(text)


def stack_options(parser: argparse.ArgumentParser) -> None:
    """`--stack NAME` or `--stack-file PATH`, for the commands that read a stack file."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stack", help="stack name: reads Pulumi.<NAME>.yaml beside Pulumi.yaml (default: dev)")
    group.add_argument("--stack-file", help="path of a Pulumi.<stack>.yaml to read instead")
