"""The whole stack's configuration, its cross-checks, and reading it from Pulumi config."""

from __future__ import annotations

import contextlib
import gc
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional

from pydantic import PrivateAttr, ValidationInfo, model_validator

from ..core.data import DataError, JsonSyntaxError, decode_json
from ..core.data import problems as plain_problems
from .attachments import attachment_problems
from ..core.model import DnsLabel, Model, Named
from ..core.errors import ConfigError, Problem, did_you_mean, fail, join_path, validate
from .multus import MultusConfig
from .addons import CniPluginsConfig, WhereaboutsConfig, addon_warnings
from . import networks_file
from .network import NetworkConfig
from .topology import host_local_warnings, overlapping_pools, shared_master_warnings
from .workload import WorkloadConfig

PROJECT = "multus-cni"


class ExternalNetwork(Named, Model):
    """A NAD this stack does not create (another stack's, or the platform's) that workloads may use."""

    name: DnsLabel
    namespace: DnsLabel = "default"

    @model_validator(mode="before")
    @classmethod
    def _text_form(cls, value: Any) -> Any:
        if isinstance(value, str) and "/" in value:
            namespace, _, name = value.rpartition("/")
            return {"name": name, "namespace": namespace}
        return {"name": value} if isinstance(value, str) else value



class StackConfig(Model):
    multus: MultusConfig = MultusConfig()
    networks: tuple[NetworkConfig, ...] = ()
    externalNetworks: tuple[ExternalNetwork, ...] = ()
    workloads: tuple[WorkloadConfig, ...] = ()
    # Optional parts, off by default (config/addons.py).
    cniPlugins: CniPluginsConfig = CniPluginsConfig()
    whereabouts: WhereaboutsConfig = WhereaboutsConfig()
    # `networksFile` is no field: the loader reads it into `networks` and keeps where it begins.
    _networks_file: Optional[networks_file.NetworksFile] = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> "StackConfig":
        project = (info.context or {}).get("project", PROJECT)
        problems = []
        problems += _duplicates(self.networks, ("networks",), "network")
        problems += _duplicates(self.workloads, ("workloads",), "workload")
        by_key = {n.key: n for n in self.networks}
        external = {e.key for e in self.externalNetworks}
        for index, workload in enumerate(self.workloads):
            problems += [(("workloads", index, *loc), m) for loc, m in attachment_problems(workload, by_key, external, project)]
        problems += overlapping_pools(self.networks)
        fail(problems)
        return self

    def warnings(self) -> list[tuple[tuple, str]]:
        """Stack-wide advice; each network's and workload's own warnings come from its component."""
        users: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
        for workload in self.workloads:
            for key in dict.fromkeys(workload.attachment_keys()):  # a pod attached twice is still one pod
                users[key].append((workload.ref, workload.replicas))  # one entry per workload, not per replica
        return self._located(shared_master_warnings(self.networks) + host_local_warnings(self.networks, users))

    def addon_warnings(self) -> list[tuple[tuple, str]]:
        """Plugins the networks run that the nodes are not known to have (config/addons.py)."""
        return self._located(addon_warnings(self.networks, self.cniPlugins, self.whereabouts))

    def network_loc(self, index: int) -> tuple:
        """Where network `index` is configured: `networks[i]`, or `networksFile(<file>)[j]`."""
        return self._networks_file.loc(index) if self._networks_file else ("networks", index)

    def _located(self, found: list[tuple[tuple, str]]) -> list[tuple[tuple, str]]:
        return self._networks_file.found(found) if self._networks_file else found

    def networks_of(self, workload: WorkloadConfig) -> list[Optional[NetworkConfig]]:
        """The stack's network for each selection; None for external networks."""
        by_key = {n.key: n for n in self.networks}
        return [by_key.get(k) for k in workload.network_keys()]


def _duplicates(items: Iterable[Any], loc: tuple, what: str) -> list[tuple[tuple, str]]:
    seen: dict[tuple[str, str], int] = {}
    problems = []
    for index, item in enumerate(items):
        if item.key in seen:
            problems.append(((*loc, index, "name"), (
                f"{what} {item.key[0]}/{item.key[1]} is already defined at {loc[0]}[{seen[item.key]}]"
            )))
        seen.setdefault(item.key, index)
    return problems


def load_stack_config(values: Mapping[str, Any], project: str = PROJECT, root: Optional[Path] = None) -> StackConfig:
    """Validate raw Pulumi config (`{"multus-cni:networks": "<json>", ...}`).

    Pulumi hands structured values to the program as JSON text; plain strings stay strings.
    Every problem is reported at once, each under its config key path. A `networksFile` is read
    from `root`, the project directory (default: the working directory).
    """
    with _cyclic_gc_paused():
        if f"{project}:{networks_file.KEY}" in values:
            return _load_with_file(values, project, root or Path.cwd())
        return _load(values, project)


def _load_with_file(values: Mapping[str, Any], project: str, root: Path) -> StackConfig:
    """The file's networks after the inline ones, validated together (so duplicates across them
    are found); problems of file networks are reported at `networksFile(<file>)[j]`."""
    prefix, file_key, inline_key = f"{project}:", f"{project}:{networks_file.KEY}", f"{project}:networks"
    name = _decode(values[file_key])
    from_file = networks_file.read(name, root, prefix)
    rest = {k: v for k, v in values.items() if k != file_key}
    inline = _decode(rest.get(inline_key, "[]"))
    if not isinstance(inline, list):  # `networks` itself is wrong, and says so
        return _load(rest, project)
    rest[inline_key] = [*inline, *from_file]
    located = networks_file.NetworksFile(name, len(inline))
    try:
        config = _load(rest, project)
    except ConfigError as exc:
        raise ConfigError(located.problem(p, prefix) for p in exc.problems) from None
    config._networks_file = located
    return config


def _load(values: Mapping[str, Any], project: str) -> StackConfig:
    prefix = f"{project}:"
    data: dict[str, Any] = {}
    problems: list[Problem] = []
    known = StackConfig.known_keys() | {networks_file.KEY}
    for full_key, raw in sorted((str(k), v) for k, v in values.items()):
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        if key not in known:
            problems.append(Problem(full_key, "unknown configuration key" + did_you_mean(key, known)))
            continue
        try:
            value = _decode(raw)
        except DataError as exc:
            problems.append(Problem(full_key, str(exc)))
            continue
        found = plain_problems(value, (key,))
        if found:  # the models never see what Go, Kubernetes or UTF-8 could not carry
            problems += [Problem(join_path(prefix, loc), message) for loc, message in found]
            continue
        data[key] = value
    try:
        config = validate(StackConfig, data, prefix, context={"project": project}, plain=True)
    except ConfigError as exc:
        problems += exc.problems
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return config


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Validation allocates many small acyclic objects; on large stacks the cyclic collector
    rescanning them took about half the time. Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decode(raw: Any) -> Any:
    """Pulumi passes structured values as JSON text; text that is no JSON is a plain string."""
    if not isinstance(raw, str):
        return raw
    try:
        return decode_json(raw)
    except JsonSyntaxError:
        return raw  # a plain string; the model says what it should have been


def load_from_pulumi(project: Optional[str] = None) -> StackConfig:
    """Read this project's keys from the running Pulumi program's configuration; a networksFile
    from the project directory the engine names (the working directory under mocks)."""
    from pulumi.runtime import config as runtime_config
    import pulumi

    project = project or pulumi.get_project()
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    root = Path(pulumi.get_root_directory() or "")  # mocks name it "root_directory": no directory at all
    return load_stack_config({k: runtime_config.get_config(k) for k in keys}, project, root if root.is_absolute() else None)


def config_path(project: str, *loc: Any) -> str:
    return join_path(f"{project}:", loc)
