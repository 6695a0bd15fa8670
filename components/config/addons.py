"""`multus-cni:cniPlugins` and `multus-cni:whereabouts`: the optional parts around Multus, off by
default, and what the stack says about networks whose plugins it does not install."""

from __future__ import annotations

import re
from typing import Annotated, Any, Iterable, Sequence

from pydantic import AfterValidator, field_validator, model_validator

from ..core.errors import fail
from ..core.model import DnsLabel, Model
from ..images import pinning_problem

# rancher/hardened-cni-plugins: containernetworking/plugins built by Rancher for RKE2 (amd64 and
# arm64, rancher/image-build-cni-plugins .github/workflows/image-push.yml), the binaries in
# /opt/cni/bin (its Dockerfile). The tag is the one rancher/image-build-calico's Dockerfile pins
# (CNI_IMAGE_VERSION); docs/addons.md says why this image.
CNI_PLUGINS_IMAGE = "docker.io/rancher/hardened-cni-plugins:v1.9.1-build20260717"
# What that image's /opt/cni/bin holds: containernetworking/plugins v1.9.1 plugins/{main,ipam,meta}
# (build_linux.sh builds every directory), plus flannel and bond, which its Dockerfile adds.
IMAGE_PLUGINS = (
    "bandwidth", "bond", "bridge", "dhcp", "dummy", "firewall", "flannel", "host-device", "host-local",
    "ipvlan", "loopback", "macvlan", "portmap", "ptp", "sbr", "static", "tap", "tuning", "vlan", "vrf",
)
# Installed by default: the reference plugins (containernetworking/plugins), not flannel or bond.
DEFAULT_PLUGINS = tuple(p for p in IMAGE_PLUGINS if p not in ("bond", "flannel"))
# The DaemonSet's long-running container only keeps the pod alive: the Kubernetes pause image
# (multi-arch, runs as 65535), the version kubeadm pins at k8s.io/kubernetes v1.36.3 (cmd/kubeadm/app/constants/constants.go PauseVersion).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.2"

# whereabouts v0.9.2 (k8snetworkplumbingwg/whereabouts, tag v0.9.2); image pushed by its release
# workflow as ghcr.io/k8snetworkplumbingwg/whereabouts:<tag>.
WHEREABOUTS_VERSION = "v0.9.2"
WHEREABOUTS_IMAGE = f"ghcr.io/k8snetworkplumbingwg/whereabouts:{WHEREABOUTS_VERSION}"
# doc/crds/daemonset-install.yaml, ConfigMap whereabouts-config: the ip-reconciler's schedule.
RECONCILER_SCHEDULE = "30 4 * * *"

_PLUGIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # a file name in /opt/cni/bin, nothing else
_REFERENCE = re.compile(r"[a-z0-9]+([._:-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?")
_CRON_FIELD = re.compile(r"[0-9*/,\-A-Za-z?]+")


def _pinned_image(value: str) -> str:
    if not _REFERENCE.fullmatch(value):
        raise ValueError(f"{value!r} is not an image reference such as {CNI_PLUGINS_IMAGE!r}")
    problem = pinning_problem(value)
    if problem:
        raise ValueError(f"{problem}: nodes would run different builds; pin a tag or a digest")
    return value


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]


def _plugin_names(names: Sequence[str]) -> list[tuple[tuple, str]]:
    problems: list[tuple[tuple, str]] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        if not _PLUGIN_NAME.fullmatch(name):
            problems.append(((index,), f"{name!r} is not a plugin file name (a letter or digit, then letters, digits, '_', '.', '-')"))
        elif name in seen:
            problems.append(((index,), f"{name!r} is listed twice"))
        seen.add(name)
    return problems


class CniPluginsConfig(Model):
    """A DaemonSet that copies the reference CNI plugins into every node's /opt/cni/bin."""

    enabled: bool = False
    namespace: DnsLabel = "kube-system"
    image: PinnedImage = CNI_PLUGINS_IMAGE
    pauseImage: PinnedImage = PAUSE_IMAGE
    #: What the init container copies; with the default image, names it holds.
    plugins: tuple[str, ...] = DEFAULT_PLUGINS
    #: Plugin types the nodes already have (the node image's, another DaemonSet's): no warning for them.
    preinstalled: tuple[str, ...] = ()

    @field_validator("plugins", "preinstalled")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        fail(_plugin_names(value))
        return value

    @model_validator(mode="after")
    def _in_image(self) -> "CniPluginsConfig":
        if not self.plugins:
            fail([(("plugins",), "must list at least one plugin (or set enabled: false)")])
        if self.image.rsplit(":", 1)[0].split("@")[0] == CNI_PLUGINS_IMAGE.rsplit(":", 1)[0]:
            fail([(("plugins", i), f"{name!r} is not in {self.image} (it has {', '.join(IMAGE_PLUGINS)})")
                  for i, name in enumerate(self.plugins) if name not in IMAGE_PLUGINS])
        return self

    def installs(self) -> frozenset[str]:
        """Plugin types the nodes get from this stack."""
        return frozenset(self.plugins) if self.enabled else frozenset()


def _cron(value: str) -> str:
    fields = value.split()
    if value.startswith("@") or len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(f"{value!r} is not a five-field cron expression such as {RECONCILER_SCHEDULE!r} "
                         "(minute hour day-of-month month day-of-week)")
    return value


class WhereaboutsConfig(Model):
    """whereabouts: its CRDs, RBAC, the DaemonSet that installs the plugin and runs the ip-reconciler."""

    enabled: bool = False
    namespace: DnsLabel = "kube-system"
    image: PinnedImage = WHEREABOUTS_IMAGE
    #: When the ip-reconciler frees the addresses of pods that are gone (the ConfigMap's cron-expression).
    reconcilerSchedule: Annotated[str, AfterValidator(_cron)] = RECONCILER_SCHEDULE


def network_types(summary: Any) -> list[str]:
    """Every plugin binary a network runs: its chain, then its IPAM (`{}` runs none)."""
    types = list(summary.chain)
    if summary.ipam and summary.ipam != "none":
        types.append(summary.ipam)
    return types


def addon_warnings(networks: Iterable[Any], cni_plugins: CniPluginsConfig, whereabouts: WhereaboutsConfig) -> list[tuple[tuple, str]]:
    """One warning per plugin type a network runs that the nodes are not known to have, and one
    when networks use whereabouts IPAM that this stack does not install (the cluster may have it)."""
    known = cni_plugins.installs() | frozenset(cni_plugins.preinstalled) | ({"whereabouts"} if whereabouts.enabled else frozenset())
    networks = list(networks)
    users: dict[str, list[str]] = {}
    for index, network in enumerate(networks):
        for type_ in dict.fromkeys(network_types(network.summary)):
            users.setdefault(type_, []).append(f"networks[{index}]")
    found: list[tuple[tuple, str]] = []
    for type_ in sorted(users):
        if type_ in known:
            continue
        where = _some(users[type_])
        if type_ == "whereabouts":
            found.append((("whereabouts", "enabled"), (
                f"{where} use whereabouts IPAM, which this stack does not install: the cluster needs its CRDs, "
                "RBAC and DaemonSet (and the plugin on every node), or set whereabouts.enabled: true")))
        else:
            found.append((("cniPlugins",), (
                f"plugin {type_!r} (used by {where}) is not known to be in the nodes' /opt/cni/bin, and pods "
                f"attached to it fail to start without it: set cniPlugins.enabled: true"
                f"{' and list it in cniPlugins.plugins' if cni_plugins.enabled else ''}, or add it to "
                "cniPlugins.preinstalled when the node image has it")))
    slices = [f"networks[{i}]" for i, n in enumerate(networks) if whereabouts.enabled and _node_slices(n.config)]
    if slices:
        found.append((("whereabouts",), (
            f"{_some(slices)} set node_slice_size, which needs whereabouts' node-slice controller "
            "(doc/crds/node-slice-controller.yaml); this stack does not install it, and without it no pod gets an address")))
    return found


def _some(places: list[str], most: int = 5) -> str:
    """The first few places, and how many more: a warning stays one readable line on a large stack."""
    shown = ", ".join(places[:most])
    return shown if len(places) <= most else f"{shown} and {len(places) - most} more"


def _node_slices(config: dict) -> bool:
    plugins = config.get("plugins", [config])
    return any(isinstance(p, dict) and isinstance(p.get("ipam"), dict) and "node_slice_size" in p["ipam"] for p in plugins)
