"""One network, end to end: skip or build the node, ADD, check, DEL, check what is left."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from components.config import NetworkConfig
from . import node
from .chain import chain_label, plugin_chain, result_version
from .checks import pod_problems, released_problems, result_ips, result_problems
from .invoke import PluginError, Runtime, with_state_dir
from .node import IFNAME, Node, NodeError
from .plugins import find_plugin_dirs, skip_reason
from .report import FAIL, PASS, SKIP, Result


def check_config(
    config: Mapping[str, Any],
    ref: str = "",
    namespace: str = "default",
    plugin_dirs: Optional[Sequence[Path]] = None,
    like_host: bool = False,
) -> Result:
    """ADD, check, DEL, check for a config exactly as the plugin receives it (its `name` included)."""
    dirs = tuple(plugin_dirs) if plugin_dirs else find_plugin_dirs()
    plugins = plugin_chain(config)
    ref = ref or str(config.get("name"))
    label = chain_label(plugins)
    try:
        reason = skip_reason(plugins, dirs)
    except NodeError as exc:
        return Result(ref, label, FAIL, f"could not ask the kernel: {exc}")
    if reason:
        return Result(ref, label, SKIP, reason)
    try:
        with node.build(plugins, like_host) as stand_in:
            runtime = Runtime(stand_in, dirs, node.unique("container"), namespace)
            return _attach(config, plugins, runtime, ref, label)
    except NodeError as exc:
        return Result(ref, label, FAIL, f"could not build the node: {exc}")


def check_network(network: NetworkConfig, plugin_dirs: Optional[Sequence[Path]] = None, like_host: bool = False) -> Result:
    """A stack network, with the config Multus hands its plugin."""
    return check_config(network.cni_config, network.ref, network.namespace, plugin_dirs, like_host)


def check_stack(networks: Sequence[NetworkConfig], plugin_dirs: Sequence[Path], like_host: bool = True) -> list[Result]:
    """As the operator's command runs it: on a node, stand-ins mirror the node's interfaces."""
    return [check_network(network, plugin_dirs, like_host) for network in networks]


def _attach(config: Mapping[str, Any], plugins: Sequence[Mapping[str, Any]], runtime: Runtime, ref: str, label: str) -> Result:
    """ADD, compare, then DEL and look for leftovers, whatever happened before."""
    stand_in: Node = runtime.node
    version = result_version(config)
    confs = [with_state_dir(p, stand_in.state) for p in plugins]
    problems: list[str] = []
    result: Optional[dict] = None
    attached = False
    add_error = None
    try:
        result = runtime.add(confs)
        attached = node.pod_link(stand_in) is not None
        problems += result_problems(config, result, stand_in.netns)
        problems += pod_problems(stand_in, plugins, result, version)
    except PluginError as exc:
        add_error = exc.error
        problems.append(str(exc))
    except (KeyError, TypeError, ValueError) as exc:  # a result too malformed to compare
        problems.append(f"unreadable ADD result: {exc!r}")
    finally:
        # A runtime calls DEL after a failed ADD too; it must succeed and leave nothing behind.
        for exc in runtime.delete(confs, result, version):
            problems.append(f"DEL {exc.plugin} fails the same way" if exc.error == add_error else str(exc))
        problems += released_problems(stand_in, runtime.container)
    addresses = tuple(str(entry.get("address")) for entry in result_ips(result or {}, version))
    return Result(ref, label, FAIL if problems else PASS, "; ".join(problems), IFNAME if attached else "", addresses, result)
