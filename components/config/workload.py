"""`multus-cni:workloads[]`: sample pods that attach to networks, as in the Tanzu guide."""

from __future__ import annotations

import re
from typing import Any, Optional

from pydantic import Field, field_validator

from ..images import pinning_problem
from .base import DnsLabel, Model
from .errors import fail

# The guide's sample pod command. Its image (an internal proxy of Docker Hub's alpine, untagged)
# is replaced by the same image pinned, so a default never pulls a moving tag.
GUIDE_COMMAND = ("/bin/ash", "-c", "trap : TERM INT; sleep infinity & wait")
DEFAULT_IMAGE = "docker.io/library/alpine:3.22"

# Multus pkg/k8sclient parsePodNetworkObjectName: `[namespace/]name[@interface]`.
_SELECTION = re.compile(r"^(?:(?P<namespace>[^/@]+)/)?(?P<name>[^/@]+)(?:@(?P<interface>[^/@]*))?$")
IFNAMSIZ = 15  # Linux interface names are at most 15 characters (IFNAMSIZ - 1)


class NetworkSelection(Model):
    """One entry of the `k8s.v1.cni.cncf.io/networks` annotation."""

    name: DnsLabel
    namespace: Optional[DnsLabel] = None
    interface: Optional[str] = None

    @field_validator("interface")
    @classmethod
    def _interface(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and (not value or len(value) > IFNAMSIZ or re.search(r"[\s/:]", value)):
            raise ValueError(f"{value!r} is not a Linux interface name (1 to {IFNAMSIZ} characters, no spaces, '/' or ':')")
        return value

    @staticmethod
    def parse(text: str) -> Optional[dict[str, str]]:
        """The comma form's `[namespace/]name[@interface]` as fields, or None when malformed."""
        match = _SELECTION.match(text.strip())
        return {k: v for k, v in match.groupdict().items() if v is not None} if match else None

    def text(self) -> str:
        out = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{out}@{self.interface}" if self.interface else out


class WorkloadConfig(Model):
    name: DnsLabel = "sample-pod"
    namespace: DnsLabel = "default"
    networks: tuple[NetworkSelection, ...] = Field(min_length=1)
    image: str = Field(DEFAULT_IMAGE, min_length=1)
    command: tuple[str, ...] = GUIDE_COMMAND

    @field_validator("networks", mode="before")
    @classmethod
    def _comma_form(cls, value: Any) -> Any:
        """The annotation's comma form, or a list of names; both as the guide writes them."""
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            return value
        parsed, problems = [], []
        for index, item in enumerate(value):
            if isinstance(item, str):
                fields = NetworkSelection.parse(item)
                if fields is None:
                    problems.append(((index,), f"{item!r} is not a network reference; write name, namespace/name or name@interface"))
                item = fields
            parsed.append(item)
        fail(problems)
        return parsed

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def network_keys(self) -> list[tuple[str, str]]:
        """(namespace, name) of each selected NAD; Multus looks unqualified names up in the pod's namespace."""
        return [(s.namespace or self.namespace, s.name) for s in self.networks]

    def warnings(self) -> list[tuple[tuple, str]]:
        problem = pinning_problem(self.image)
        return [(("image",), f"{problem}; pin a release tag such as {DEFAULT_IMAGE!r}")] if problem else []

    def annotation(self) -> str:
        return ",".join(s.text() for s in self.networks)
