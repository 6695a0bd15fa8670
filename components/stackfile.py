"""Read a stack's `Pulumi.<stack>.yaml` into config as the Pulumi CLI hands it to a program."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml

from .core.data import DataError, load_yaml, one_line
from .core.errors import describe

if TYPE_CHECKING:
    from .config import StackConfig

ROOT = Path(__file__).resolve().parent.parent


class StackFileError(Exception):
    """The stack file cannot be read as config; the message is one line naming the file."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


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
    """Structured values become JSON text and scalars strings, as `pulumi up` passes them.

    The file is read as the Pulumi CLI reads it, refusing what the CLI refuses (a document that
    is not a mapping, a config key without a `namespace:`) and what cannot become config text
    (see core.data.load_yaml), each as one line naming the file and the position or key.
    """
    if not path.is_file():
        raise StackFileError(f"{path}: no such stack file")
    try:
        document = load_yaml(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except DataError as exc:
        raise StackFileError(f"{path}: {exc}") from None
    if document is None:  # an empty stack file: no config, as for the Pulumi CLI
        return {}
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: expected a mapping with a 'config:' mapping, not {describe(document)}")
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: expected a mapping with a 'config:' mapping, but 'config:' is {describe(config)}")
    for key in config:
        namespace, colon, name = key.partition(":")
        if not (colon and namespace and name):
            raise StackFileError(f"{path}: config key {one_line(repr(key))} needs a namespace, as the Pulumi CLI requires "
                                 f"(for example {one_line(repr(project_name() + ':' + (name or namespace)))})")
    return {key: _as_config_text(value) for key, value in config.items()}
def load_stack(stack: Optional[str], stack_file: Optional[str]) -> tuple[str, "StackConfig"]:
    """(stack name, validated config) for the commands that read a stack without running it."""
    from .config import load_stack_config

    name, path = resolve(stack, stack_file)
    return name, load_stack_config(load_config(path), project_name(), ROOT)


def _as_config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"  # encrypted with the stack's key; render never decrypts
    # YAML dates and other non-JSON scalars reach the program as their text, as Pulumi passes them.
    return json.dumps(value, default=str)


# --- the size of the config as the engine hands it over ----------------------------------------

# Linux refuses to start a process with an environment string longer than MAX_ARG_STRLEN, 32 pages
# (include/uapi/linux/binfmts.h), counting its terminating NUL; the engine's language hosts pass the
# whole config as one: PULUMI_CONFIG=<JSON object> (pulumi/pulumi#8680; policy packs: #20402).
ENV_STRING_LIMIT = 32 * 4096
_ENV_NAME = "PULUMI_CONFIG="


def config_env_size(config: dict[str, str]) -> int:
    """Bytes of `PULUMI_CONFIG=<config>` and its NUL, in the largest of the hosts' forms: Go's
    json.Marshal (compact, sorted, UTF-8, <>& escaped) with keys as `ns:config:key` (the Node.js
    hosts' form), and this project's Python host's json.dumps (toolchain/language_host.py:
    `ns:key`, ", " separators, non-ASCII escaped)."""
    legacy = {key.replace(":", ":config:", 1): value for key, value in sorted(config.items())}
    go = json.dumps(legacy, separators=(",", ":"), ensure_ascii=False)
    go = go.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    python = json.dumps(config)
    return len(_ENV_NAME) + max(len(go.encode("utf-8")), len(python.encode("utf-8"))) + 1


def check_config_size(config: dict[str, str], path: Path) -> None:
    """StackFileError when the engine could not start the program with this config."""
    size = config_env_size(config)
    if size > ENV_STRING_LIMIT:
        raise StackFileError(
            f"{path}: the config is {size:,} bytes as PULUMI_CONFIG, beyond Linux's {ENV_STRING_LIMIT:,} for one "
            "environment string (128 KiB), so the engine could not start the program ('argument list too long'); "
            "move networks to a file of the project and name it in multus-cni:networksFile (docs/configuration.md)")
