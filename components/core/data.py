"""Untrusted text made plain data, or refused with a reason a person can act on.

Stack files, Pulumi config values, NAD configs and network-status files arrive as YAML or JSON
text. Whatever reaches a model is a tree of dicts with text keys, lists, text, booleans, null and
numbers, no deeper than MAX_DEPTH, with no value that UTF-8, Go's JSON decoder or Kubernetes
cannot carry: no lone surrogates, no NaN or infinities, no integers beyond 64 bits, no key twice
in one object (Go keeps the last one silently). Everything here runs in time and memory bounded
by the input's size: YAML aliases are counted before they are expanded.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator, Optional

import yaml

MAX_DEPTH = 100  # far beyond any real config (a conflist's IPAM range is about 12 levels down)
MAX_NODES = 2_000_000  # values after YAML aliases are expanded: 10,000 networks take about 300,000
MAX_DIGITS = 40  # any integer Go can hold has at most 20 digits; longer ones are refused unread
INT_MIN, UINT_MAX = -(2**63), 2**64 - 1  # Go's int64 and uint64

Loc = tuple


class DataError(ValueError):
    """Text that cannot become plain data; the message says why, on one line."""


class JsonSyntaxError(DataError):
    """The text is not JSON; `detail` says where."""

    def __init__(self, detail: str):
        super().__init__(f"is not valid JSON: {detail}")
        self.detail = detail


class YamlSyntaxError(DataError):
    """The text is not YAML at all (as opposed to YAML that cannot become plain data)."""


def one_line(text: str) -> str:
    """`text` safe to print on one line: control characters, line separators and lone
    surrogates escaped (user text is quoted where it is embedded; this is the safety net)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def _escape(char: str) -> str:
    """Python's own escape: \\n, \\x85, \\u2028, \\ud800."""
    return char.encode("unicode_escape").decode("ascii")


# --- JSON ---------------------------------------------------------------------------------------


class _Duplicated(dict):
    """An object in which some key appeared more than once (the last value kept, as Go does)."""

    duplicates: tuple[str, ...] = ()


class _Oversized:
    """An integer literal too long to read as a number (Python refuses past 4,300 digits)."""

    def __init__(self, text: str):
        self.digits = len(text.lstrip("-"))


def _object(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    duplicated = _Duplicated(result)
    duplicated.duplicates = tuple(sorted({k for k, _ in pairs if k in seen or seen.add(k)}))
    return duplicated


def _integer(text: str) -> Any:
    return _Oversized(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_int=_integer)


def decode_json(text: str) -> Any:
    """JSON text as data; what the data holds is judged by `problems`. Raises DataError."""
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonSyntaxError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise DataError(f"is not readable JSON: it nests deeper than {MAX_DEPTH} levels") from None


# --- what plain data may hold -------------------------------------------------------------------


def problems(value: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """(location, message) of everything in `value` that is not plain, portable data. It
    descends at most MAX_DEPTH levels, so its recursion is bounded whatever the input."""
    found: list[tuple[Loc, str]] = []
    _walk(value, loc, 0, found)
    return found


def _walk(item: Any, where: Loc, depth: int, found: list[tuple[Loc, str]]) -> None:
    if not isinstance(item, (dict, list, tuple)):
        message = _leaf_problem(item)
        if message:
            found.append((where, message))
        return
    if depth >= MAX_DEPTH:
        found.append((where, f"nests deeper than {MAX_DEPTH} levels"))
        return
    if isinstance(item, dict):
        for key in getattr(item, "duplicates", ()):
            found.append(((*where, key), "appears twice in this object; Go would keep the last value silently, so write it once"))
        for key, child in item.items():
            if type(key) is not str:
                found.append((where, f"has the key {key!r}, which is not text (quote it)"))
            elif not key.isascii() and _text_problem(key):
                found.append((where, f"has a key that {_text_problem(key)}"))
            elif not _plain_leaf(child):
                _walk(child, (*where, key), depth + 1, found)
    else:
        for index, child in enumerate(item):
            if not _plain_leaf(child):
                _walk(child, (*where, index), depth + 1, found)


def _plain_leaf(item: Any) -> bool:
    """The common case, decided without building the item's location: ASCII text, a boolean,
    null or a 64-bit integer (most of a stack's values)."""
    kind = type(item)
    return ((kind is str and item.isascii()) or kind is bool or item is None
            or (kind is int and INT_MIN <= item <= UINT_MAX))


def _leaf_problem(item: Any) -> Optional[str]:
    """What makes a value that holds no others unfit for Go or Kubernetes, or None."""
    if item is None or isinstance(item, bool):
        return None
    if isinstance(item, str):
        return None if item.isascii() else _text_problem(item)
    if isinstance(item, int):
        if not INT_MIN <= item <= UINT_MAX:
            return f"{_number_text(item)} is beyond the 64-bit integers Go reads"
        return None
    if isinstance(item, float):
        return None if math.isfinite(item) else f"{item} is not a number JSON or Go can carry"
    if isinstance(item, _Oversized):
        return f"is an integer of {item.digits} digits, beyond the 64-bit integers Go reads"
    if isinstance(item, bytes):
        return "is binary data (!!binary); write text"
    return f"is a {type(item).__name__}, not text, a number, true/false, a list or an object"


def _number_text(number: int) -> str:
    digits = len(str(abs(number)))
    return str(number) if digits <= 24 else f"an integer of {digits} digits"


def _text_problem(text: str) -> Optional[str]:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds a lone surrogate ({_escape(text[exc.start])}), which is not Unicode text"
    return None


# --- YAML ---------------------------------------------------------------------------------------


def _mark(node_or_event: Any) -> str:
    mark = node_or_event.start_mark
    return f"line {mark.line + 1} column {mark.column + 1}"


class _Refusals:
    """Refuse what a SafeLoader would silently lose: a key twice in one mapping, a key that is
    not text, binary values."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)  # merge keys (<<) may be overridden, as YAML says
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise DataError(f"{_mark(key_node)}: the key {one_line(repr(key_node.value))} is not text "
                                f"(YAML read it as {type(key).__name__}); quote it")
            if key in seen:
                raise DataError(f"{_mark(key_node)}: the key {one_line(repr(key))} appears twice in one mapping; "
                                "the last one would win silently, so write it once")
            seen[key] = True
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_binary(self, node: yaml.ScalarNode) -> bytes:
        raise DataError(f"{_mark(node)}: binary data (!!binary) is not text")


class _Loader(_Refusals, yaml.SafeLoader):
    """PyYAML's pure-Python loader: the reference, which words every refusal."""


_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_yaml_binary)

#: libyaml's parser under the same constructor, when PyYAML was built with it: about ten times
#: faster, which a stack file of a thousand networks needs (1.6 s in pure Python, twice over).
_C_PARSER: Optional[type] = getattr(yaml, "CSafeLoader", None)
_FastLoader: Optional[type] = None
if _C_PARSER is not None:
    class _FastLoader(_Refusals, _C_PARSER):  # type: ignore[no-redef]
        """libyaml's parser with the same refusals."""

    _FastLoader.add_constructor("tag:yaml.org,2002:binary", _FastLoader.construct_yaml_binary)

_INT_TAG = "tag:yaml.org,2002:int"


def load_yaml(text: str) -> Any:
    """One YAML document as data, or DataError with the position. Depth, alias expansion and
    number length are measured on the parser's events before anything is built.

    libyaml reads it when it can; whatever it does not take (or takes with a refusal) is read
    again by the pure-Python parser, so every message stays that parser's own words."""
    if _FastLoader is not None:
        try:
            return _load_yaml(text, _C_PARSER, _FastLoader)
        except Exception:  # noqa: BLE001 - any failure is judged and worded by the reference parser below
            pass
    try:
        return _load_yaml(text, yaml.SafeLoader, _Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlSyntaxError(f"{where}not valid YAML: {one_line(what)}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {one_line(str(exc))}") from None
    except RecursionError:  # the measure bounds depth; this is the last resort
        raise DataError(f"not readable YAML: it nests deeper than {MAX_DEPTH} levels") from None


def _load_yaml(text: str, parser: type, loader: type) -> Any:
    _measure(yaml.parse(text, Loader=parser))
    return yaml.load(text, Loader=loader)


def _measure(events: Iterator[yaml.Event]) -> None:
    """Refuse depth beyond MAX_DEPTH, more than MAX_NODES values once aliases are expanded
    (a 1 KB "billion laughs" file), aliases to an enclosing node, and integers too long to read."""
    resolver = yaml.resolver.Resolver()
    sizes: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    open_: list[list] = []  # [anchor, values so far] of each open collection
    total = 0
    for event in events:
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(open_) >= MAX_DEPTH:
                raise DataError(f"{_mark(event)}: nests deeper than {MAX_DEPTH} levels")
            open_.append([event.anchor, 1])
            continue
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = open_.pop()
            if anchor is not None:
                sizes[anchor] = size
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag if event.tag not in (None, "!") else resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == _INT_TAG and len(event.value) > MAX_DIGITS:
                raise DataError(f"{_mark(event)}: an integer of {len(event.value)} characters is beyond the 64-bit "
                                "integers Go reads")
            size = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes:
                raise DataError(f"{_mark(event)}: the alias *{one_line(event.anchor)} refers to a node that contains it, "
                                "so the value would be infinite")
            size = sizes[event.anchor]
        else:
            continue
        total += size
        if total > MAX_NODES:
            raise DataError(f"{_mark(event)}: expands to more than {MAX_NODES:,} values once its aliases are "
                            "resolved; refused before expanding")
        if open_:
            open_[-1][1] += size
