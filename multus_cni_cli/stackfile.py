"""Read a stack's `Pulumi.<stack>.yaml` into config as the Pulumi CLI hands it to a program.

Every function takes the project directory (the one holding `Pulumi.yaml`, `--project-dir`), never
a path derived from this package's location: installed with pip, the tools run on any project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml

from components.core.data import DataError, load_yaml, one_line
from components.core.errors import describe

if TYPE_CHECKING:
    from components.config import StackConfig

class StackFileError(Exception):
    """The stack file cannot be read as config; the message is one line naming the file."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


def resolve(stack: Optional[str], stack_file: Optional[str], root: Path) -> tuple[str, Path]:
    """(stack name, file) from `--stack NAME` (beside root's Pulumi.yaml) or `--stack-file PATH`;
    `dev` when neither."""
    if stack_file:
        path = Path(stack_file)
        name = path.stem
        return name[len("Pulumi."):] if name.startswith("Pulumi.") else name, path
    name = stack or "dev"
    return name, root / f"Pulumi.{name}.yaml"


def project_name(root: Path) -> str:
    """The `name:` of root's Pulumi.yaml, as one line naming the file when it cannot be read."""
    path = root / "Pulumi.yaml"
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, DataError) as exc:
        raise StackFileError(f"{path}: not a Pulumi project file ({exc}); "
                             "run in the project directory or name it with --project-dir") from None
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise StackFileError(f"{path}: expected a mapping with a 'name:' string")
    return document["name"]


def load_config(path: Path, project: str = "<project>") -> dict[str, str]:
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
                                 f"(for example {one_line(repr(project + ':' + (name or namespace)))})")
    return {key: _as_config_text(value) for key, value in config.items()}


def load_stack(stack: Optional[str], stack_file: Optional[str], root: Path) -> tuple[str, "StackConfig"]:
    """(stack name, validated config) for the commands that read a stack without running it."""
    from components.config import load_stack_config

    name, path = resolve(stack, stack_file, root)
    project = project_name(root)
    return name, load_stack_config(load_config(path, project), project, root)


def _as_config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        return "[secret]"  # encrypted with the stack's key; render never decrypts
    # YAML dates and other non-JSON scalars reach the program as their text, as Pulumi passes them.
    return json.dumps(value, default=str)


# --- the size of the config as the engine hands it over ----------------------------------------

# Linux refuses to start a process with an environment string longer than MAX_ARG_STRLEN, 32 pages
# (include/uapi/linux/binfmts.h), counting its terminating NUL; the engine passes the whole config as
# one: PULUMI_CONFIG=<JSON object> (pulumi/pulumi#8680; policy packs: #20402).
ENV_STRING_LIMIT = 32 * 4096
_ENV_NAME = "PULUMI_CONFIG="


def engine_json(config: dict[str, str]) -> str:
    """The config as the engine encodes it: Go's json.Marshal of a map[string]string keyed `ns:key`
    (pulumi v3.260.0 sdk/go/common/resource/plugin/analyzer_plugin.go `constructConfig` for policy
    packs; the Python language host marshals the RunRequest's config the same way): sorted keys,
    no spaces, UTF-8, with <, >, &, U+2028 and U+2029 escaped as Go's HTML-safe encoder does."""
    text = json.dumps(dict(sorted(config.items())), separators=(",", ":"), ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def config_env_size(config: dict[str, str]) -> int:
    """Bytes of `PULUMI_CONFIG=<config>` and its NUL, as the engine would start the program."""
    return len(_ENV_NAME) + len(engine_json(config).encode("utf-8")) + 1


def check_config_size(config: dict[str, str], path: Path) -> None:
    """StackFileError when the engine could not start the program with this config."""
    size = config_env_size(config)
    if size > ENV_STRING_LIMIT:
        raise StackFileError(
            f"{path}: the config is {size:,} bytes as PULUMI_CONFIG, beyond Linux's {ENV_STRING_LIMIT:,} for one "
            "environment string (128 KiB), so the engine could not start the program ('argument list too long'); "
            "move networks to a file of the project and name it in multus-cni:networksFile (docs/configuration.md)")
