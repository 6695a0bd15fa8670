"""`multus-cni:workloads[]`: sample pods that attach to networks, as in the Tanzu guide.

A workload's `networks` is the `k8s.v1.cni.cncf.io/networks` annotation: the comma form
(`net-a,other-ns/net-b,net-c@ifname`) or a list of selection objects in the network plumbing
spec's JSON form (multi-net-spec v1.3 §4; Multus `NetworkSelectionElement`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, Field, field_validator, model_validator

from ..canonical import canonical_json
from ..cni.common import IP, MAC, IfName, RequestedAddress
from ..cni.plugins import rate_burst_problems
from ..images import pinning_problem
from ..annotations import DEFAULT_NETWORK, NETWORKS
from ..core.model import DnsLabel, Model, Named, annotation_problems
from ..core.errors import fail

# The guide's sample pod command. Its image (an internal proxy of Docker Hub's alpine, untagged)
# is replaced by the same image pinned, so a default never pulls a moving tag.
GUIDE_COMMAND = ("/bin/ash", "-c", "trap : TERM INT; sleep infinity & wait")
DEFAULT_IMAGE = "docker.io/library/alpine:3.22"

# Multus pkg/k8sclient parsePodNetworkObjectName: `[namespace/]name[@interface]`.
_SELECTION = re.compile(r"(?:(?P<namespace>[^/@]+)/)?(?P<name>[^/@]+)(?:@(?P<interface>[^/@]*))?")


def _image(value: str) -> str:
    # Kubernetes ValidatePodSpec: "must not have leading or trailing whitespace"
    if value != value.strip():
        raise ValueError(f"{value!r} has leading or trailing whitespace, which Kubernetes refuses in an image")
    return value


class PortMapping(Model):
    hostPort: int = Field(ge=1, le=65535)
    containerPort: int = Field(ge=1, le=65535)
    protocol: Optional[Literal["TCP", "UDP", "SCTP", "tcp", "udp", "sctp"]] = None
    hostIP: Optional[IP] = None


class BandwidthRequest(Model):
    ingressRate: Optional[int] = Field(None, ge=0)
    ingressBurst: Optional[int] = Field(None, ge=0)
    egressRate: Optional[int] = Field(None, ge=0)
    egressBurst: Optional[int] = Field(None, ge=0)

    @model_validator(mode="after")
    def _shaping(self) -> "BandwidthRequest":
        fail(rate_burst_problems(self))  # the plugin applies the same rule to the pod's request
        return self


#: Selection keys that need a capability in the network's plugin chain (spec §4.1.2.1).
CAPABILITY_OF = {"ips": "ips", "mac": "mac", "portMappings": "portMappings", "bandwidth": "bandwidth"}


class NetworkSelection(Model):
    """One entry of the `k8s.v1.cni.cncf.io/networks` annotation."""

    name: DnsLabel
    """The NAD's name."""
    namespace: Optional[DnsLabel] = None
    """The NAD's namespace; unset: the pod's."""
    interface: Optional[IfName] = None
    """The interface name in the pod (Multus names them net1, net2 ... otherwise)."""
    ips: Optional[tuple[RequestedAddress, ...]] = None
    """Static addresses to request (needs the ips capability, e.g. static IPAM)."""
    mac: Optional[MAC] = None
    """A MAC address to request (needs the mac capability, e.g. tuning)."""
    default_route: Optional[tuple[IP, ...]] = Field(None, alias="default-route")
    cni_args: Optional[dict[str, Any]] = Field(None, alias="cni-args")
    portMappings: Optional[tuple[PortMapping, ...]] = None
    bandwidth: Optional[BandwidthRequest] = None

    @staticmethod
    def parse(text: str) -> Optional[dict[str, str]]:
        """The comma form's `[namespace/]name[@interface]` as fields, or None when malformed."""
        match = _SELECTION.fullmatch(text.strip())
        return {k: v for k, v in match.groupdict().items() if v is not None} if match else None

    @property
    def is_simple(self) -> bool:
        """Expressible in the comma form: nothing beyond name, namespace and interface."""
        return all(getattr(self, key) is None for key in ("ips", "mac", "default_route", "cni_args", "portMappings", "bandwidth"))

    def requested_capabilities(self) -> list[str]:
        return [cap for key, cap in CAPABILITY_OF.items() if getattr(self, key) is not None]

    def text(self) -> str:
        out = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{out}@{self.interface}" if self.interface else out

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class WorkloadConfig(Named, Model):
    name: DnsLabel = "sample-pod"
    """The Pod's (or Deployment's) name."""
    namespace: DnsLabel = "default"
    kind: Literal["Pod", "Deployment"] = "Pod"
    """A single Pod, as the guide's sample-pod, or a Deployment of `replicas` pods."""
    replicas: int = Field(1, ge=1, le=2**31 - 1)  # a Deployment's spec.replicas is an int32
    """A Deployment's replicas (a Pod is one)."""
    networks: tuple[NetworkSelection, ...] = Field(min_length=1)
    """The k8s.v1.cni.cncf.io/networks annotation, one selection per network (a stack file may also use the comma form `net-a,ns/net-b@eth2`)."""
    defaultNetwork: Optional[str] = None
    """A NAD (`name` or `namespace/name`) replacing the pod's cluster network (v1.multus-cni.io/default-network)."""
    image: Annotated[str, AfterValidator(_image)] = Field(DEFAULT_IMAGE, min_length=1)
    """The container image, pinned (a moving tag is a warning)."""
    command: tuple[str, ...] = GUIDE_COMMAND
    """The container command; by default the guide's sleep."""

    @field_validator("networks", mode="before")
    @classmethod
    def _comma_form(cls, value: Any) -> Any:
        """The annotation's comma form, or a list of names or selection objects."""
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

    @field_validator("defaultNetwork")
    @classmethod
    def _default_network(cls, value: Optional[str]) -> Optional[str]:
        fields = NetworkSelection.parse(value) if value is not None else {}
        if fields is None or "interface" in (fields or {}):
            raise ValueError(f"{value!r} is not a network reference; write name or namespace/name")
        return value

    @model_validator(mode="after")
    def _kind(self) -> "WorkloadConfig":
        if self.kind == "Pod" and self.replicas != 1:
            fail([(("replicas",), "a Pod is one replica; use kind: Deployment for more")])
        # The pod's own annotations (the networks selection, its default network) obey the same limits.
        annotations = {NETWORKS: self.annotation(), **({DEFAULT_NETWORK: self.defaultNetwork} if self.defaultNetwork else {})}
        fail([(("networks",), message) for _, message in annotation_problems(annotations)])
        return self

    def network_keys(self) -> list[tuple[str, str]]:
        """(namespace, name) of each selected NAD; Multus looks unqualified names up in the pod's namespace."""
        return [(s.namespace or self.namespace, s.name) for s in self.networks]

    def default_network_key(self) -> Optional[tuple[str, str]]:
        if self.defaultNetwork is None:
            return None
        namespace, _, name = self.defaultNetwork.rpartition("/")
        return (namespace or self.namespace, name)

    def attachment_keys(self) -> list[tuple[str, str]]:
        """Every NAD the pod needs, the default-network override included, each once, in order."""
        keys = self.network_keys() + ([self.default_network_key()] if self.defaultNetwork else [])
        return list(dict.fromkeys(keys))

    def interfaces(self) -> list[str]:
        """The interface each attachment gets: the requested one, else net<position> (Multus getIfname)."""
        return [s.interface or f"net{index}" for index, s in enumerate(self.networks, start=1)]

    def annotation(self) -> str:
        """The comma form when it can say everything, else the JSON form (canonical)."""
        if all(s.is_simple for s in self.networks):
            return ",".join(s.text() for s in self.networks)
        return canonical_json([s.as_json() for s in self.networks])

    def warnings(self) -> list[tuple[tuple, str]]:
        problem = pinning_problem(self.image)
        return [(("image",), f"{problem}; pin a release tag such as {DEFAULT_IMAGE!r}")] if problem else []
