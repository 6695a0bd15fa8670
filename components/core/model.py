"""The base every configuration model shares: frozen, and unknown keys are errors."""

from __future__ import annotations

import functools
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")  # used with fullmatch: `$` would pass "name\n"


class Model(BaseModel):
    """Frozen, alias-aware, and strict about keys (a typo must never be silently ignored)."""

    # Attribute docstrings become field descriptions: the package schema's (components/package).
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid", use_attribute_docstrings=True)

    @classmethod
    def known_keys(cls) -> frozenset[str]:
        return _known_keys(cls)


def ref_of(key: tuple[str, str]) -> str:
    """`namespace/name`, the way Multus and kubectl name a namespaced object."""
    return f"{key[0]}/{key[1]}"


class Named:
    """Identity of a namespaced object: `(namespace, name)` for lookups, `namespace/name` for people."""

    name: str
    namespace: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def ref(self) -> str:
        return ref_of(self.key)


@functools.cache
def _known_keys(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def _dns1123_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid Kubernetes name: use at most 63 lower-case letters, digits "
            "and '-', starting and ending with a letter or digit (DNS-1123 label)"
        )
    return value


#: A Kubernetes object or namespace name as the network plumbing spec requires for NADs (§3.3).
DnsLabel = Annotated[str, AfterValidator(_dns1123_label)]

# Kubernetes apimachinery validation: IsQualifiedName and ValidateAnnotations.
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
ANNOTATIONS_LIMIT = 256 * 1024  # TotalAnnotationSizeLimitB: the bytes of every key and value together


def annotation_problems(annotations: dict[str, str]) -> list[tuple[tuple, str]]:
    """What the API server refuses in `metadata.annotations`: keys are qualified names (checked
    lower-cased, as Kubernetes does), and keys and values total at most 256 KiB."""
    problems: list[tuple[tuple, str]] = []
    for key in annotations:
        prefix, slash, name = key.lower().rpartition("/")
        if not (_QUALIFIED_NAME.fullmatch(name) and len(name) <= 63) or (slash and not (
                len(prefix) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(prefix))):
            problems.append(((key,), (
                f"{key!r} is not an annotation key Kubernetes accepts: an optional DNS subdomain prefix and '/', then "
                "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit")))
    total = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if total > ANNOTATIONS_LIMIT:
        problems.append(((), f"annotations total {total} bytes; Kubernetes accepts at most {ANNOTATIONS_LIMIT} (256 KiB)"))
    return problems
