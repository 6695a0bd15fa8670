"""The CNI plugins a Multus secondary network uses, as typed models (one union on `type`).

Sources: cni.dev `content/plugins/current/main/{macvlan,ipvlan,vlan,bridge,ptp,host-device}.md` and
`meta/{tuning,sbr,portmap,bandwidth}.md`, containernetworking/plugins v1.9 (fields the code
accepts beyond the docs), k8snetworkplumbingwg/sriov-cni `docs/configuration-reference.md`.
The rest of the reference family (`dummy`, `tap`, `loopback`, `firewall`, `vrf`) is modelled on
its v1.9.0 source, cited per model; `plugins/main/windows` (win-bridge, win-overlay) runs on
Windows nodes only, where Multus does not, so no NAD names it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional

from pydantic import Field, model_validator

from ..core.errors import fail
from .common import CIDR, MAC, MTU, CniModel, Count, GoInt, IfName, Plugin, UInt32, VlanId, by_type


IpamNeed = Literal["optional", "required", "unless-chained"]


class MetaPlugin(Plugin):
    """A plugin that only changes what an earlier plugin made: its cmdAdd needs that plugin's
    result (`prevResult`), so it fails as the first or only plugin. `PREV_RESULT_ERROR` is what
    its ADD answers then (containernetworking/plugins v1.9.0, plugins/meta/*, cmdAdd)."""

    PREV_RESULT_ERROR: ClassVar[str] = "Required prevResult missing"


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
    #: What ADD answers when a "required" IPAM has no type.
    NO_IPAM_ERROR: ClassVar[str] = "no plugin name provided"

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


class Tuning(MetaPlugin):
    # plugins/meta/tuning/tuning.go cmdAdd: "Required prevResult missing"
    mac: Optional[MAC] = None
    mtu: Optional[MTU] = None
    promisc: Optional[bool] = None
    allmulti: Optional[bool] = None
    txQLen: Optional[Count] = None
    sysctl: Optional[dict[str, str]] = None


class Sbr(MetaPlugin):
    PREV_RESULT_ERROR: ClassVar[str] = "This plugin must be called as chained plugin"  # plugins/meta/sbr/main.go cmdAdd
    table: Optional[Count] = None


class Portmap(MetaPlugin):
    PREV_RESULT_ERROR: ClassVar[str] = "must be called as chained plugin"  # plugins/meta/portmap/main.go cmdAdd
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


class Bandwidth(MetaPlugin):
    # plugins/meta/bandwidth/main.go: cmdAdd "must be called as chained plugin";
    # main: version.VersionsStartingFrom("0.3.0") (v0.9.1: PluginSupports("0.3.0", ...)).
    PREV_RESULT_ERROR: ClassVar[str] = "must be called as chained plugin"
    MIN_CNI_VERSION: ClassVar[Optional[str]] = "0.3.0"
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


class Dummy(InterfacePlugin):
    """A dummy interface carrying the IPAM's addresses (plugins/main/dummy/dummy.go v1.9.0):
    parseNetConf reads only the common keys, and cmdAdd refuses an empty IPAM type with
    "dummy interface requires an IPAM configuration"."""

    NO_IPAM_ERROR: ClassVar[str] = "dummy interface requires an IPAM configuration"


class Tap(InterfacePlugin):
    """A tap device in the pod, for VMs (plugins/main/tap/tap.go v1.9.0, NetConf and loadConf);
    like bridge, no IPAM type means layer 2 only (`isLayer3 := n.IPAM.Type != ""`)."""

    multiQueue: Optional[bool] = None
    mtu: Optional[MTU] = None
    mac: Optional[MAC] = None  # createLinkWithNetlink: net.ParseMAC, "invalid args ... for MAC addr"
    owner: Optional[UInt32] = None
    group: Optional[UInt32] = None
    selinuxContext: Optional[str] = None
    bridge: Optional[IfName] = None  # a bridge inside the pod that the tap joins (LinkByName in the netns)
    IPAM: ClassVar[IpamNeed] = "optional"


class Loopback(Plugin):
    """Brings the pod's `lo` up whatever the interface name (plugins/main/loopback/loopback.go
    v1.9.0: parseNetConf reads only the common keys; cmdAdd sets `args.IfName = "lo"`)."""

    WARNING: ClassVar[Optional[str]] = (
        "loopback ignores the interface name Multus asks for and only brings up the pod's lo, which the pod's "
        "runtime already did: the pod gets no interface of its own from this network")


class Firewall(MetaPlugin):
    """Opens the pod's addresses in iptables or firewalld (plugins/meta/firewall/firewall.go v1.9.0,
    FirewallNetConf and parseConf). main: version.VersionsStartingFrom("0.4.0"); cmdAdd: "missing
    prevResult from earlier plugin"."""

    PREV_RESULT_ERROR: ClassVar[str] = "missing prevResult from earlier plugin"
    MIN_CNI_VERSION: ClassVar[Optional[str]] = "0.4.0"
    # getBackend: "iptables" or "firewalld"; any other value is silently the default (firewalld
    # when it runs, else iptables), so a misspelt backend would pick the other one unnoticed.
    backend: Optional[Literal["iptables", "firewalld", ""]] = None
    iptablesAdminChainName: Optional[str] = None
    firewalldZone: Optional[str] = None
    # ingresspolicy.go setupIngressPolicy: anything else fails ADD with "unknown ingress policy".
    ingressPolicy: Optional[Literal["open", "same-bridge", "isolated", ""]] = None


class Vrf(MetaPlugin):
    """Moves the pod's interface into a VRF (plugins/meta/vrf/main.go v1.9.0, VRFNetConf and
    parseConf: "configuration is expected to have a valid vrf name"). main:
    version.VersionsStartingFrom("0.3.1"); cmdAdd: "missing prevResult from earlier plugin"."""

    PREV_RESULT_ERROR: ClassVar[str] = "missing prevResult from earlier plugin"
    MIN_CNI_VERSION: ClassVar[Optional[str]] = "0.3.1"
    vrfname: IfName  # the VRF device the plugin creates in the pod
    table: Optional[UInt32] = None  # 0 or absent: the plugin picks a free table


#: The catalog: each plugin type (the binary's name) and its model. With the IPAM catalog it holds
#: the whole containernetworking/plugins family a Linux NAD can name (plugins/{main,meta,ipam}).
PLUGINS: dict[str, type[Plugin]] = {
    "macvlan": Macvlan, "ipvlan": Ipvlan, "vlan": Vlan, "bridge": Bridge, "ptp": Ptp, "host-device": HostDevice,
    "dummy": Dummy, "tap": Tap, "loopback": Loopback,
    "sriov": Sriov, "tuning": Tuning, "sbr": Sbr, "portmap": Portmap, "bandwidth": Bandwidth,
    "firewall": Firewall, "vrf": Vrf,
}
#: Validates any catalog plugin, dispatching on its `type`.
PLUGIN = by_type(PLUGINS, "plugin")
