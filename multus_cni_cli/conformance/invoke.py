"""Running a chain's ADD and DEL as libcni does (AddNetworkList / DelNetworkList).

ADD runs the plugins in order, each given the previous one's result; DEL runs them in reverse,
from CNI 0.4.0 on with the cached ADD result. Stateful plugins keep their state in the node's
temp dir, never in /var/lib/cni of the machine running the check.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from . import node
from .chain import LEGACY_RESULTS, ipam_of
from .node import IFNAME, TIMEOUT, Node
from .plugins import dirs_text, find_plugin

POD_NAME = "conformance-probe"
# Plugins that keep state in `dataDir` (default /var/lib/cni/networks, /run/cni/tuning): redirected.
STATEFUL = ("host-local", "tuning")


class PluginError(Exception):
    """A plugin call failed; `error` is the plugin's own message."""

    def __init__(self, command: str, plugin: str, error: str):
        super().__init__(f"{command} {plugin}: {error}")
        self.command, self.plugin, self.error = command, plugin, error


def with_state_dir(plugin: Mapping[str, Any], state: Path) -> dict[str, Any]:
    """Point `dataDir` of stateful plugins and IPAMs at the node's temp dir, never /var/lib/cni."""
    conf = dict(plugin)
    if conf.get("type") in STATEFUL:
        conf["dataDir"] = str(state / str(conf["type"]))
    ipam = ipam_of(conf)
    if ipam.get("type") in STATEFUL:
        conf["ipam"] = {**ipam, "dataDir": str(state / str(ipam["type"]))}
    return conf


@dataclass(frozen=True)
class Runtime:
    """What the runtime and Multus hand every plugin of one attachment."""

    node: Node
    dirs: tuple[Path, ...]
    container: str
    namespace: str

    def add(self, confs: Sequence[Mapping[str, Any]]) -> dict:
        result: Optional[dict] = None
        for conf in confs:
            result = self.call("ADD", conf if result is None else {**conf, "prevResult": result})
        return result or {}

    def delete(self, confs: Sequence[Mapping[str, Any]], cached: Optional[dict], version: str) -> list[PluginError]:
        """DEL in reverse order, every plugin even after one fails; the failures are returned."""
        with_prev = cached is not None and version not in LEGACY_RESULTS + ("0.3.0", "0.3.1")
        failures = []
        for conf in reversed(confs):
            try:
                self.call("DEL", {**conf, "prevResult": cached} if with_prev else conf)
            except PluginError as exc:
                failures.append(exc)
        return failures

    def call(self, command: str, conf: Mapping[str, Any]) -> dict:
        """One plugin binary run in the host namespace, as the spec invokes it (env + stdin)."""
        plugin = str(conf.get("type"))
        env = {
            **os.environ,
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": self.container,
            "CNI_NETNS": self.node.netns,
            "CNI_IFNAME": IFNAME,
            "CNI_PATH": dirs_text(self.dirs),
            # What Multus passes its delegates.
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={self.namespace};K8S_POD_NAME={POD_NAME};"
                        f"K8S_POD_INFRA_CONTAINER_ID={self.container}",
        }
        try:
            proc = node.run_in(self.node.host, [str(find_plugin(plugin, self.dirs))], input=json.dumps(conf), env=env)
        except subprocess.TimeoutExpired:
            raise PluginError(command, plugin, f"no answer within {TIMEOUT}s") from None
        if proc.returncode:
            raise PluginError(command, plugin, _plugin_error(proc))
        try:
            return json.loads(proc.stdout) if proc.stdout.strip() else {}
        except json.JSONDecodeError:
            raise PluginError(command, plugin, f"output is not JSON: {proc.stdout.strip()[:200]}") from None


def _plugin_error(proc: subprocess.CompletedProcess) -> str:
    """The spec's error object (`msg`, `details`, `code`), else whatever the plugin printed."""
    try:
        error = json.loads(proc.stdout)
        text = str(error["msg"]) + (f": {error['details']}" if error.get("details") else "")
        return f"{text} (code {error.get('code')})"
    except (json.JSONDecodeError, KeyError, TypeError):
        return (proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}")[:500]
