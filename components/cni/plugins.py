"""The CNI plugins a Multus secondary network uses, as typed models (one union on `type`).

Sources: cni.dev `content/plugins/current/main/{macvlan,ipvlan,vlan,bridge,ptp,host-device}.md` and
`meta/{tuning,sbr,portmap,bandwidth}.md`, containernetworking/plugins v1.9 (fields the code
accepts beyond the docs), k8snetworkplumbingwg/sriov-cni `docs/configuration-reference.md`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional

from pydantic import Field, model_validator

from ..core.errors import fail
from .common import CIDR, MAC, MTU, CniModel, Count, GoInt, IfName, Plugin, VlanId, by_type


IpamNeed = Literal["optional", "required", "unless-chained"]


class InterfacePlugin(Plugin):
    """A plugin that creates the pod's interface and takes an IPAM section."""

    ipam: Optional[dict[str, Any]] = None  # checked by the catalog, which dispatches on its type
    #: Whether ADD works without an IPAM type. "optional": the plugin skips IPAM when
    #: `ipam.type` is empty (`isLayer3 := n.IPAM.Type != ""` in containernetworking/plugins
    #: bridge.go and macvlan.go; host-device.go and sriov-cni likewise), so the interface
    #: comes up without an address. "required": ADD always runs the IPAM plugin (ptp.go,
    #: vlan.go), and an empty type fails with "no plugin name provided". "unless-chained":
    #: ipvlan.go takes the addresses of a previous plugin's result instead.
    IPAM: ClassVar[IpamNeed] = "required"

    def link(self) -> Optional[str]:
        """The host link this network rides on, for cross-network checks (None: its own)."""
        return None


class MasterPlugin(InterfacePlugin):
    """A plugin that enslaves a host interface (the default route's when `master` is unset)."""

    master: Optional[str] = None

    def link(self) -> Optional[str]:
        return f"master {self.master or '(default route interface)'}"


class Macvlan(MasterPlugin):
    IPAM: ClassVar[IpamNeed] = "optional"
    mode: Optional[Literal["bridge", "private", "vepa", "passthru", ""]] = None
    mtu: Optional[MTU] = None
    mac: Optional[MAC] = None
    linkInContainer: Optional[bool] = None
    bcqueuelen: Optional[Count] = None


class Ipvlan(MasterPlugin):
    IPAM: ClassVar[IpamNeed] = "unless-chained"
    mode: Optional[Literal["l2", "l3", "l3s"]] = None
    mtu: Optional[MTU] = None
    linkInContainer: Optional[bool] = None


class Vlan(InterfacePlugin):
    # vlan.go loadConf: "\"master\" field is required"; unlike macvlan, no default route fallback.
    master: str = Field(min_length=1)
    vlanId: VlanId
    mtu: Optional[MTU] = None
    linkInContainer: Optional[bool] = None

    def link(self) -> Optional[str]:
        return f"master {self.master} vlan {self.vlanId}"


class Ptp(InterfacePlugin):
    mtu: Optional[MTU] = None


class VlanTrunk(CniModel):
    """One `vlanTrunk` entry: an `id`, or a `minID`-`maxID` span (bridge.go collectVlanTrunk)."""

    minID: Optional[GoInt] = None
    maxID: Optional[GoInt] = None
    id: Optional[GoInt] = None

    @model_validator(mode="after")
    def _ids(self) -> "VlanTrunk":
        problems = [((key,), f"VLAN {value} is out of range: use 1 to 4094")
                    for key, value in (("minID", self.minID), ("maxID", self.maxID), ("id", self.id))
                    if value is not None and not 1 <= value <= 4094]
        if (self.minID is None) != (self.maxID is None):
            given, missing = ("minID", "maxID") if self.maxID is None else ("maxID", "minID")
            problems.append(((given,), f"needs {missing} too: a span takes both"))
        elif self.minID is not None and self.maxID is not None and self.minID > self.maxID:
            problems.append((("maxID",), f"{self.maxID} is below minID {self.minID}"))
        fail(problems)
        return self


class Bridge(InterfacePlugin):
    bridge: Optional[IfName] = None
    isGateway: Optional[bool] = None
    isDefaultGateway: Optional[bool] = None
    forceAddress: Optional[bool] = None
    ipMasqBackend: Optional[Literal["iptables", "nftables"]] = None
    mtu: Optional[MTU] = None
    hairpinMode: Optional[bool] = None
    promiscMode: Optional[bool] = None
    vlan: Optional[VlanId] = None
    vlanTrunk: Optional[list[VlanTrunk]] = None
    preserveDefaultVlan: Optional[bool] = None
    enabledad: Optional[bool] = None
    macspoofchk: Optional[bool] = None
    disableContainerInterface: Optional[bool] = None
    portIsolation: Optional[bool] = None
    mac: Optional[MAC] = None
    IPAM: ClassVar[IpamNeed] = "optional"

    def link(self) -> Optional[str]:
        return f"bridge {self.bridge or 'cni0'}"

    @model_validator(mode="after")
    def _container_interface(self) -> "Bridge":
        """containernetworking/plugins bridge.go cmdAdd (v1.5.0+): "cannot use IPAM when
        DisableContainerInterface flag is set"; older releases ignore the flag."""
        if self.disableContainerInterface and (self.ipam or {}).get("type"):
            fail([(("ipam",), "bridge refuses IPAM when disableContainerInterface is true (the pod's interface stays "
                              "down, so it cannot carry an address); remove the ipam section or write ipam: {}")])
        if self.hairpinMode and self.promiscMode:
            # bridge.go cmdAdd: "cannot set hairpin mode and promiscuous mode at the same time"
            fail([(("promiscMode",), "cannot be true together with hairpinMode: the bridge plugin refuses both")])
        return self


class HostDevice(InterfacePlugin):
    """Moves a host device into the pod; exactly one selector names it."""

    device: Optional[IfName] = None
    hwaddr: Optional[MAC] = None
    # host-device.go getLink: "kernel device path %q must be absolute and begin with /sys/devices/"
    kernelpath: Optional[Annotated[str, Field(pattern=r"^/sys/devices/")]] = None
    pciBusID: Optional[str] = None
    IPAM: ClassVar[IpamNeed] = "optional"

    @model_validator(mode="after")
    def _one_selector(self) -> "HostDevice":
        given = [k for k in ("device", "hwaddr", "kernelpath", "pciBusID") if getattr(self, k) is not None]
        if len(given) > 1:
            fail([((given[1],), f"give exactly one of device, hwaddr, kernelpath, pciBusID (also got {given[0]})")])
        return self


class Sriov(InterfacePlugin):
    deviceID: Optional[str] = None  # normally injected by Multus from the device plugin
    vlan: Optional[VlanId] = None
    vlanQoS: Optional[int] = Field(None, ge=0, le=7)
    vlanProto: Optional[Literal["802.1q", "802.1Q", "802.1ad", "802.1AD"]] = None
    mac: Optional[MAC] = None
    spoofchk: Optional[Literal["on", "off"]] = None
    trust: Optional[Literal["on", "off"]] = None
    link_state: Optional[Literal["auto", "enable", "disable"]] = None
    min_tx_rate: Optional[Count] = None
    max_tx_rate: Optional[Count] = None
    logLevel: Optional[Literal["panic", "error", "warning", "info", "debug"]] = None
    logFile: Optional[str] = None
    IPAM: ClassVar[IpamNeed] = "optional"

    @model_validator(mode="after")
    def _vlan_options(self) -> "Sriov":
        problems = []
        if self.vlanQoS and not self.vlan:
            problems.append((("vlanQoS",), "needs a non-zero vlan"))
        if self.vlanProto and not self.vlan:
            problems.append((("vlanProto",), "needs a non-zero vlan"))
        if self.min_tx_rate and self.max_tx_rate and self.min_tx_rate > self.max_tx_rate:
            problems.append((("min_tx_rate",), f"{self.min_tx_rate} exceeds max_tx_rate {self.max_tx_rate}"))
        fail(problems)
        return self


class Tuning(Plugin):
    mac: Optional[MAC] = None
    mtu: Optional[MTU] = None
    promisc: Optional[bool] = None
    allmulti: Optional[bool] = None
    txQLen: Optional[Count] = None
    sysctl: Optional[dict[str, str]] = None


class Sbr(Plugin):
    table: Optional[Count] = None


class Portmap(Plugin):
    snat: Optional[bool] = None
    masqAll: Optional[bool] = None
    markMasqBit: Optional[int] = Field(None, ge=0, le=31)
    externalSetMarkChain: Optional[str] = None
    conditionsV4: Optional[list[str]] = None
    conditionsV6: Optional[list[str]] = None
    backend: Optional[Literal["iptables", "nftables"]] = None

    @model_validator(mode="after")
    def _mark(self) -> "Portmap":
        if self.markMasqBit is not None and self.externalSetMarkChain is not None:
            fail([(("markMasqBit",), "cannot be set together with externalSetMarkChain")])
        return self


def rate_burst_problems(shaping: Any) -> list:
    """The bandwidth plugin's validateRateAndBurst (plugins/meta/bandwidth/main.go), for its own
    config and for a pod's `bandwidth` request alike: a rate needs its burst and a burst its rate,
    and a burst stays under 4 GB."""
    problems = []
    for way in ("ingress", "egress"):
        rate, burst = getattr(shaping, f"{way}Rate") or 0, getattr(shaping, f"{way}Burst") or 0
        if rate and not burst:
            problems.append(((f"{way}Rate",), f"needs {way}Burst too: the bandwidth plugin refuses a rate without a burst"))
        elif burst and not rate:
            problems.append(((f"{way}Burst",), f"needs {way}Rate too: the bandwidth plugin refuses a burst without a rate"))
        elif burst // 8 >= 2**32 - 1:
            problems.append(((f"{way}Burst",), f"{burst} bits is 4 GB or more, which the bandwidth plugin refuses"))
    return problems


class Bandwidth(Plugin):
    ingressRate: Optional[int] = Field(None, ge=0)
    ingressBurst: Optional[int] = Field(None, ge=0)
    egressRate: Optional[int] = Field(None, ge=0)
    egressBurst: Optional[int] = Field(None, ge=0)
    unshapedSubnets: Optional[list[CIDR]] = None
    shapedSubnets: Optional[list[CIDR]] = None

    @model_validator(mode="after")
    def _shaping(self) -> "Bandwidth":
        fail(rate_burst_problems(self))
        return self


#: The catalog: each plugin type (the binary's name) and its model.
PLUGINS: dict[str, type[Plugin]] = {
    "macvlan": Macvlan, "ipvlan": Ipvlan, "vlan": Vlan, "bridge": Bridge, "ptp": Ptp, "host-device": HostDevice,
    "sriov": Sriov, "tuning": Tuning, "sbr": Sbr, "portmap": Portmap, "bandwidth": Bandwidth,
}
#: Validates any catalog plugin, dispatching on its `type`.
PLUGIN = by_type(PLUGINS, "plugin")
