"""Reading `metadata.managedFields`: which paths a field manager owns (FieldsV1), and finding or
removing those paths in an object (Kubernetes structured-merge-diff's FieldsV1 format:
`f:<field>`, `k:<key object>`, `v:<value>`, `i:<index>`, and `.` for a node owned as a whole)."""

from __future__ import annotations

import json
from typing import Any, Iterable, Optional, Sequence


def owned_paths(fields: dict, prefix: tuple = ()) -> set[tuple]:
    """The paths a managedFields entry's FieldsV1 owns (`f:name`, `k:{...}`, `v:...`, `i:N` elements;
    `.` marks a node owned as a whole), every ancestor included."""
    found = {prefix}
    for key, sub in fields.items():
        if key == ".":
            continue
        found |= owned_paths(sub, (*prefix, key)) if sub else {(*prefix, key)}
    return found


def leaves(fields: dict, prefix: tuple = ()) -> set[tuple]:
    found = set()
    for key, sub in fields.items():
        if key == ".":
            found.add(prefix)
        elif sub:
            found |= leaves(sub, (*prefix, key))
        else:
            found.add((*prefix, key))
    return found


def matches(element: Any, key: str) -> bool:
    kind, _, text = key.partition(":")
    value = json.loads(text)
    if kind == "k":
        return isinstance(element, dict) and all(element.get(k) == v for k, v in value.items())
    return element == value  # "v": a set's value


def without(obj: Any, paths: Iterable[tuple]) -> Any:
    """A copy of `obj` without the fields the FieldsV1 paths name (a path it does not have is skipped)."""
    obj = json.loads(json.dumps(obj))
    for parts in paths:
        node, ok = resolve(obj, parts[:-1])
        if ok:
            _remove(node, parts[-1])
    return obj


def step(node: Any, key: str) -> tuple[Any, bool]:
    if key.startswith("f:") and isinstance(node, dict) and key[2:] in node:
        return node[key[2:]], True
    if key[:2] in ("k:", "v:") and isinstance(node, list):
        found = [e for e in node if matches(e, key)]
        return (found[0], True) if found else (None, False)
    if key.startswith("i:") and isinstance(node, list) and int(key[2:]) < len(node):
        return node[int(key[2:])], True
    return None, False


def _remove(node: Any, key: str) -> None:
    if key.startswith("f:") and isinstance(node, dict):
        node.pop(key[2:], None)
    elif key[:2] in ("k:", "v:") and isinstance(node, list):
        node[:] = [e for e in node if not matches(e, key)]
    elif key.startswith("i:") and isinstance(node, list) and int(key[2:]) < len(node):
        del node[int(key[2:])]


def resolve(obj: Any, parts: Sequence[str]) -> tuple[Any, bool]:
    """The value at a FieldsV1 path, and whether `obj` has it."""
    node = obj
    for key in parts:
        node, ok = step(node, key)
        if not ok:
            return None, False
    return node, True


def field_path(parts: Sequence[str]) -> str:
    """A FieldsV1 path in the API server's notation: `.spec.template.spec.containers[name="kube-multus"].image`."""
    out = []
    for key in parts:
        kind, _, text = key.partition(":")
        if kind == "f":
            out.append(f".{text}")
        elif kind == "k":
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(text).items()) + "]")
        elif kind == "v":
            out.append(f"[{text}]")
        elif kind == "i":
            out.append(f"[{text}]")
    return "".join(out)


def managers(entries: Optional[Sequence[dict]]) -> list[str]:
    """The field managers of an object's main resource (not its status), in the order listed."""
    seen: list[str] = []
    for entry in entries or []:
        name = entry.get("manager") or ""
        if name and not entry.get("subresource") and name not in seen:
            seen.append(name)
    return seen
