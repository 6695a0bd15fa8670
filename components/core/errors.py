"""Turn validation failures into one line per problem: `<config key path>: <what is wrong>`.

Users write YAML, not Python, so messages speak of keys, lists and objects, never of
pydantic types, and never show a traceback (ConfigError is a pulumi.RunError, which the
Pulumi language host prints without one).
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, TypeVar

import pulumi
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from .data import one_line
from .data import problems as plain_problems

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")  # fullmatch: `$` would pass a trailing newline

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        """One line, whatever user text the path or message carries."""
        return one_line(f"{self.path}: {self.message}")


class ConfigError(pulumi.RunError):
    """Invalid configuration; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(set(problems), key=_problem_order)
        super().__init__("invalid configuration:\n" + "\n".join(f"  {p}" for p in self.problems))


def _problem_order(problem: Problem) -> tuple:
    # Order by path with list indices compared as numbers, so networks[2] precedes networks[10].
    parts = re.split(r"(\d+)", problem.path)
    return tuple(int(p) if p.isdigit() else p for p in parts), problem.message


class Verbatim(str):
    """A path part written as it is, not quoted: a key with its qualifier, `networksFile(<file>)`."""


def join_path(prefix: str, loc: Sequence[Any]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, Verbatim):
            path += f".{part}" if path and not path.endswith(":") else str(part)
        elif isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            path += f".{part}" if path and not path.endswith(":") else str(part)
        else:
            path += f"[{json.dumps(str(part), ensure_ascii=False)}]"  # quoted and escaped: a key may hold anything
    return path


def describe(value: Any) -> str:
    """How a YAML author would name the value they wrote."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def near_miss(word: str, choices: Iterable[str], typo: bool = False) -> Optional[str]:
    """The choice `word` most likely meant: the same ignoring case, else difflib's close match.
    With `typo`, only a choice one edit away counts (a letter added, dropped, changed, or two
    neighbours swapped): for keys that may be unknown on purpose, where a loose match would turn
    a deliberate key into an error."""
    choices = sorted(set(choices))
    lowered = word.lower()
    if typo:
        return next((c for c in choices if c != word and _within_one_edit(lowered, c.lower())), None)
    same = [c for c in choices if c.lower() == lowered]
    return same[-1] if same else next(iter(difflib.get_close_matches(word, choices, n=1, cutoff=0.6)), None)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for a close match (see near_miss), else ''."""
    meant = near_miss(word, choices)
    return f"; did you mean {meant!r}?" if meant else ""


def _within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


_AN_OBJECT = "must be an object (key: value mapping), not {described}"
_WHOLE = "must be a whole number, not {described}"
_TRUE_FALSE = "must be true or false, not {described}"
_A_NUMBER = "must be a number, not {described}"
_A_LIST = "must be a list, not {described}"
#: Our words for pydantic's error types (the documented way: a template per error `type`,
#: formatted with the error's `ctx`, its `input` and `described`, how a YAML author names the
#: input). Types not listed keep pydantic's own message.
MESSAGES = {
    "missing": "is required",
    "string_type": "must be text, not {described}",
    "list_type": _A_LIST, "tuple_type": _A_LIST,
    "dict_type": _AN_OBJECT, "model_type": _AN_OBJECT, "model_attributes_type": _AN_OBJECT,
    "bool_type": _TRUE_FALSE, "bool_parsing": _TRUE_FALSE,
    "int_type": _WHOLE, "int_parsing": _WHOLE, "int_from_float": _WHOLE,
    "float_type": _A_NUMBER, "float_parsing": _A_NUMBER,
    "literal_error": "must be {expected}, not {described}",
    "greater_than_equal": "must be greater than or equal to {ge}, not {input!r}",
    "less_than_equal": "must be less than or equal to {le}, not {input!r}",
    "greater_than": "must be greater than {gt}, not {input!r}",
    "less_than": "must be less than {lt}, not {input!r}",
    "too_short": "must have at least {min_length} item{plural} after validation, not {actual_length}",
    "too_long": "must have at most {max_length} item{plural} after validation, not more",
    "value_error": "{error}",
    "assertion_error": "{error}",
}


def _message(err: dict) -> str:
    template = MESSAGES.get(err["type"])
    if template is None:
        return err["msg"]
    ctx = err.get("ctx") or {}
    length = ctx.get("min_length", ctx.get("max_length"))
    return template.format(**ctx, input=err.get("input"), described=describe(err.get("input")),
                           plural="" if length == 1 else "s")


def _keys_at(model: Any, loc: Sequence[Any]) -> list[str]:
    """The keys the model accepts at `loc`, found by walking field annotations (for suggestions)."""
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None) or {}
        by_key = {f.alias or n: f for n, f in fields.items()}
        if part not in by_key:
            return []
        model = _model_in(by_key[part].annotation)
    fields = getattr(model, "model_fields", None) or {}
    return [f.alias or n for n, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


#: (location below some config key, message) pairs, before a prefix makes them Problems.
Found = list[tuple[tuple, str]]


def flatten(exc: ValidationError, model: Any = None) -> Found:
    """(location, message) of every problem, our grouped ones expanded; `model` is what was
    validated, so that an unknown key gets the close match among its keys."""
    found: Found = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            found.append((loc, "unknown key" + did_you_mean(str(loc[-1]), _keys_at(model, loc[:-1]))))
        elif err["type"] == "problems":
            found += [(loc + tuple(subloc), message) for subloc, message in err["ctx"]["items"]]
        else:
            found.append((loc, _message(err)))
    return found


def problems_from(exc: ValidationError, prefix: str, model: Any = None) -> list[Problem]:
    return [Problem(join_path(prefix, loc), message) for loc, message in flatten(exc, model)]


def fail(items: Sequence[tuple[Sequence[Any], str]]) -> None:
    """Raise several problems from one validator, each at its own path below the field."""
    if items:
        summary = "; ".join(message for _, message in items)
        raise PydanticCustomError("problems", "{summary}", {"items": [(tuple(l), m) for l, m in items], "summary": summary})


def validate(model: type[M], data: Any, prefix: str, context: dict | None = None, plain: bool = False) -> M:
    """Validate `data` as `model`; on failure raise ConfigError with paths under `prefix`.

    `plain`: the caller has already held `data` to core.data.problems (the stack loader has)."""
    if isinstance(data, model):
        return data
    found = [] if plain else plain_problems(data)
    if found:  # what a Python caller passed must be plain data too
        raise ConfigError(Problem(join_path(prefix, loc), message) for loc, message in found)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, prefix, model)) from None
