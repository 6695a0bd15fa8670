"""`multus-cni:networks[]`: one NetworkAttachmentDefinition each.

`config` is the CNI configuration, written as a YAML/JSON object or pasted as the JSON string
of a NAD's `spec.config` (as in the Tanzu guide).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator

from ..canonical import canonical_json
from ..cni import Summary, check
from ..cni.common import CNI_VERSIONS
from ..annotations import RESOURCE_NAME
from ..core.model import DnsLabel, Model, Named, annotation_problems
from ..core.data import DataError, decode_json
from ..core.data import problems as plain_problems
from ..core.errors import describe, fail

# CNI SPEC.md: a network name starts with an alphanumeric, then [A-Za-z0-9_.-].
_CNI_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def parse_json_object(value: Any) -> Any:
    """Accept the JSON string a NAD carries; leave objects (from YAML) alone. The text is held
    to what Go's decoder reads faithfully (core.data): a key twice, NaN, a lone surrogate or an
    integer beyond 64 bits is an error at its path."""
    if isinstance(value, str):
        try:
            value = decode_json(value)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        fail(plain_problems(value))
    if not isinstance(value, dict):
        raise ValueError(f"must be a CNI configuration object, not {describe(value)}")
    return value


def structure_problems(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    """What makes a CNI config or conflist unusable, as (sub-path, message) pairs."""
    problems: list[tuple[tuple, str]] = []
    version = config.get("cniVersion")
    if "cniVersion" in config and not isinstance(version, str):
        problems.append((("cniVersion",), f"must be text such as '0.3.1', not {describe(version)}"))
    elif version is not None and version not in CNI_VERSIONS:
        problems.append((("cniVersion",), f"{version!r} is not a CNI spec version; use one of {', '.join(CNI_VERSIONS)}"))
    name = config.get("name")
    if "name" in config and not isinstance(name, str):
        problems.append((("name",), f"must be text, not {describe(name)}"))
    elif "name" in config and not _CNI_NAME.fullmatch(name):
        problems.append((("name",), f"{name!r} is not a CNI network name (a letter or digit, then letters, digits, '_', '.', '-')"))
    if "plugins" in config:
        plugins = config["plugins"]
        if not isinstance(plugins, list) or not plugins:
            problems.append((("plugins",), "must be a non-empty list of plugin configurations"))
            return problems
        if "type" in config:
            problems.append((("type",), "a conflist names each plugin's type under plugins[]; remove the top-level type"))
        for index, plugin in enumerate(plugins):
            if not isinstance(plugin, dict):
                problems.append((("plugins", index), "must be a plugin configuration object"))
            elif not isinstance(plugin.get("type"), str) or not plugin.get("type"):
                problems.append((("plugins", index, "type"), "is required: the name of the CNI plugin binary"))
    elif not isinstance(config.get("type"), str) or not config.get("type"):
        problems.append((("type",), "is required: the name of the CNI plugin binary (or give a plugins list for a conflist)"))
    return problems


class NetworkConfig(Named, Model):
    name: DnsLabel
    """The NetworkAttachmentDefinition's name, which pods select."""
    namespace: DnsLabel = "default"
    """The NAD's namespace: Multus finds an unqualified selection in the pod's namespace."""
    config: dict[str, Any]
    """The CNI configuration (one plugin, or a conflist with plugins), as an object or as the JSON text of a NAD's spec.config."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations of the NAD (k8s.v1.cni.cncf.io/resourceName for device plugins)."""
    raw: bool = False
    """Allow plugin and IPAM types outside the catalog (their settings are passed unchecked)."""
    adopt: bool = False
    """The NAD already exists in the cluster: the first `pulumi up` imports it instead of refusing to
    create it (components/ownership.py)."""

    _summary: Summary = PrivateAttr(default_factory=Summary)
    _catalog_warnings: list = PrivateAttr(default_factory=list)

    @field_validator("config", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return parse_json_object(value)

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, value: dict[str, str]) -> dict[str, str]:
        fail(annotation_problems(value))
        return value

    @field_validator("config")
    @classmethod
    def _structure(cls, value: dict[str, Any]) -> dict[str, Any]:
        fail(structure_problems(value))
        return value

    @model_validator(mode="after")
    def _catalog(self) -> "NetworkConfig":
        summary, problems, warnings = check(self.config, raw=self.raw)
        fail([(("config", *loc), message) for loc, message in problems])
        self._summary = summary
        self._catalog_warnings = [(("config", *loc), message) for loc, message in warnings]
        return self

    @property
    def summary(self) -> Summary:
        """The plugin chain, IPAM, address pools and host links this network attaches."""
        return self._summary

    @property
    def cni_config(self) -> dict[str, Any]:
        """The config Multus hands the plugin: the NAD name injected when absent (multi-net-spec §3.4.2)."""
        if "name" in self.config:
            return self.config
        return {**self.config, "name": self.name}

    @property
    def config_json(self) -> str:
        return canonical_json(self.cni_config)

    def _plugins(self) -> list[tuple[tuple, dict[str, Any]]]:
        """(location, plugin) of each plugin, for a single config or a conflist."""
        if "plugins" in self.config:
            return [(("plugins", i), p) for i, p in enumerate(self.config["plugins"])]
        return [((), self.config)]

    def warnings(self) -> list[tuple[tuple, str]]:
        found = list(self._catalog_warnings)
        if "cniVersion" not in self.config:
            found.append((("config", "cniVersion"), (
                "is not set; plugins then assume 0.1.0 or fail; set it to the version your plugins "
                "support (0.3.1 and 0.4.0 work everywhere, 1.0.0 needs plugins v1.0+)"
            )))
        name = self.config.get("name")
        if name is not None and name != self.name:
            found.append((("config", "name"), (
                f"{name!r} differs from the NAD name {self.name!r}; it is kept, but the network plumbing "
                "spec recommends they match (multi-net-spec v1.3 §3.4.3)"
            )))
        if self.config.get("cniVersion", "0") >= "1.0.0" and not self.summary.is_conflist:
            found.append((("config",), (
                "CNI 1.0.0 removed single-plugin configurations; libcni still converts them, but write "
                "it as a conflist: {cniVersion, name, plugins: [...]}"
            )))
        for loc, plugin in self._plugins():
            if isinstance(plugin.get("ipam"), dict) and "etcd_password" in plugin["ipam"]:
                found.append((("config", *loc, "ipam", "etcd_password"), (
                    "a password in a NAD is readable by everyone who can read NADs, and lands in Pulumi "
                    "state and previews; use whereabouts' Kubernetes datastore instead of etcd"
                )))
        if "sriov" in self.summary.chain and RESOURCE_NAME not in self.annotations:
            found.append((("annotations",), (
                f"an sriov network needs the {RESOURCE_NAME} annotation naming the device-plugin "
                "resource (for example intel.com/intel_sriov_netdevice), or Multus injects no VF"
            )))
        return found
