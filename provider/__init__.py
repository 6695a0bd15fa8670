"""The components as a Pulumi package: a schema derived from their models, and the provider
that serves them to TypeScript, Go, YAML (and Python) programs (provider/ is its plugin)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def version() -> str:
    """The package version: pyproject.toml's, the one place it is written (the installed
    distribution's metadata when the checkout is not there)."""
    if PYPROJECT.exists():
        return tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    return importlib.metadata.version("multus-cni-components")
