"""Read a stack's `Pulumi.<stack>.yaml` into config as the Pulumi CLI hands it to a program."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml

if TYPE_CHECKING:
    from .config import StackConfig

ROOT = Path(__file__).resolve().parent.parent


class StackFileError(Exception):
    pass


def resolve(stack: Optional[str], stack_file: Optional[str]) -> tuple[str, Path]:
    """(stack name, file) from `--stack NAME` or `--stack-file PATH`; `dev` when neither."""
    if stack_file:
        path = Path(stack_file)
        name = path.stem
        return name[len("Pulumi."):] if name.startswith("Pulumi.") else name, path
    name = stack or "dev"
    return name, ROOT / f"Pulumi.{name}.yaml"


def project_name(root: Path = ROOT) -> str:
    return yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]


def load_config(path: Path) -> dict[str, str]:
    """Structured values become JSON text and scalars strings, as `pulumi up` passes them."""
    if not path.is_file():
        raise StackFileError(f"{path}: no such stack file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise StackFileError(f"{path}: expected a mapping with a 'config:' mapping")
    return {str(key): _as_config_text(value) for key, value in (document.get("config") or {}).items()}


def load_stack(stack: Optional[str], stack_file: Optional[str]) -> tuple[str, "StackConfig"]:
    """(stack name, validated config) for the commands that read a stack without running it."""
    from .config import load_stack_config

    name, path = resolve(stack, stack_file)
    return name, load_stack_config(load_config(path), project_name())


def _as_config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"  # encrypted with the stack's key; render never decrypts
    # YAML dates and other non-JSON scalars reach the program as their text, as Pulumi passes them.
    return json.dumps(value, default=str)
