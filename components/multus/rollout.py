"""A change of the Multus DaemonSet's pods is a rolling update, and never shares a `pulumi up` with
a network change.

Multus reads a NAD only when a pod is created, and while the DaemonSet rolls, nodes run two Multus
versions: a NAD changed in the same run is read by whichever one the node has. The engine calls
these resource hooks before each step, in the preview too and in dependency order (the NADs wait
for the Multus component), so the DaemonSet's hook has seen the roll before any NAD's hook runs:
the preview fails with one line and nothing is applied. The hooks read the step's old and new
inputs, which only the engine has; no program can see its previous state otherwise.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi


def _plain(value: Any) -> Any:
    """Whole numbers as ints: the engine and Pulumi's mocks carry numbers as doubles, a state file as JSON."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _template(inputs: Optional[Mapping[str, Any]]) -> Any:
    return _plain(((inputs or {}).get("spec") or {}).get("template"))


def describe(daemonset_inputs: Optional[Mapping[str, Any]]) -> str:
    """`image (flavor)` of a Multus DaemonSet's inputs."""
    if not daemonset_inputs:
        return "none"
    containers = ((_template(daemonset_inputs) or {}).get("spec") or {}).get("containers") or [{}]
    command = " ".join(containers[0].get("command") or [])
    flavor = "thick" if "multus-daemon" in command else "v3" if "entrypoint.sh" in command else "thin"
    return f"{containers[0].get('image', '?')} ({flavor})"


def max_unavailable(daemonset_inputs: Mapping[str, Any]) -> Any:
    strategy = (daemonset_inputs.get("spec") or {}).get("updateStrategy") or {}
    return _plain((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1))


# Set by the DaemonSet controller on every live DaemonSet, never by this project: old inputs that carry
# it are a live object the engine has just imported (pulumi-kubernetes' import reads the whole object).
_LIVE_MARK = "deprecated.daemonset.template.generation"


def _pruned(live: Any, ours: Any) -> Any:
    """`live` cut to the shape of `ours`, as the provider prunes live state for its diff
    (pulumi-kubernetes provider.go pruneLiveState): what the API server defaulted is not a change."""
    if isinstance(live, Mapping) and isinstance(ours, Mapping):
        return {k: _pruned(live[k], v) for k, v in ours.items() if k in live}
    if isinstance(live, list) and isinstance(ours, list) and len(live) == len(ours):
        return [_pruned(a, b) for a, b in zip(live, ours)]
    return live


def rolls(old: Optional[Mapping[str, Any]], new: Optional[Mapping[str, Any]]) -> bool:
    """Whether the pods change: a new pod template replaces every Multus pod, node by node. Right
    after an import the old inputs are the live object, compared only where ours say something."""
    if not old or not new:
        return False
    before, after = _template(old), _template(new)
    if _LIVE_MARK in ((old.get("metadata") or {}).get("annotations") or {}):
        before = _pruned(before, after)
    return before != after


def what_each_node_does(old: Mapping[str, Any], new: Mapping[str, Any], nodes: Optional[int] = None) -> str:
    where = f"{nodes} nodes" if nodes is not None else "every node"
    return (f"rolling update of the Multus DaemonSet from {describe(old)} to {describe(new)} over {where}, at most "
            f"{max_unavailable(new)} at a time (multus.maxUnavailable): on each node the old Multus pod stops and the new "
            "one starts (its init container installs the new binary, then it writes the node's Multus config); pods "
            "that exist keep their attachments and the new Multus runs their DEL; a pod created on that node meanwhile "
            "waits until Multus is back")


REFUSAL = ("refused: this `pulumi up` would roll the Multus DaemonSet and change networks ({networks}); Multus reads a "
           "NAD only when a pod is created, and while the DaemonSet rolls nodes run two Multus versions: apply the "
           "network change in its own `pulumi up` (with the Multus config as deployed), then the upgrade")


class Guard:
    """The two hooks of one Multus component: its DaemonSet's, and the one every NAD that waits for it binds."""

    def __init__(self, name: str):
        self.rolling: list[str] = []
        self.daemonset: Optional[pulumi.Resource] = None
        options = pulumi.ResourceHookOptions(on_dry_run=True)
        self.daemonset_hook = pulumi.ResourceHook(f"{name}-rollout", self._daemonset_update, options)
        self.network_hook = pulumi.ResourceHook(f"{name}-network-guard", self._network_change, options)

    def _daemonset_update(self, args: pulumi.ResourceHookArgs) -> None:
        if rolls(args.old_inputs, args.new_inputs):
            self.rolling.append(args.name)
            pulumi.log.info(what_each_node_does(args.old_inputs, args.new_inputs), resource=self.daemonset)

    def _network_change(self, args: pulumi.ResourceHookArgs) -> None:
        if self.rolling:
            metadata = (args.new_inputs or args.old_inputs or {}).get("metadata") or {}
            network = f"{metadata.get('namespace', 'default')}/{metadata.get('name', args.name)}"
            raise RuntimeError(REFUSAL.format(networks=network))

    def on_daemonset(self) -> pulumi.ResourceHookBinding:
        return pulumi.ResourceHookBinding(before_update=[self.daemonset_hook])

    def on_network(self) -> pulumi.ResourceHookBinding:
        """Creates and updates only: a removed NAD is read by no one (Multus' DEL uses its cache), and a
        delete hook would make `pulumi destroy` demand `--run-program`."""
        hook = [self.network_hook]
        return pulumi.ResourceHookBinding(before_create=hook, before_update=hook)
