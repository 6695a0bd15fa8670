"""The network catalog: upstream example configs pass unchanged; bad ones fail at the right path."""

from __future__ import annotations

import json

import pytest

from components.config import ConfigError, NetworkConfig, load_stack_config, validate
from conftest import config_of, guide_nad

# Each config is an upstream example, verbatim apart from JSON syntax fixes (trailing commas).
UPSTREAM = {
    # cni.dev content/plugins/current/main/macvlan.md "Example configuration"
    "macvlan-dhcp": {"name": "mynet", "type": "macvlan", "master": "eth0", "linkInContainer": False, "ipam": {"type": "dhcp"}},
    # cni.dev content/plugins/current/main/ipvlan.md "Example configuration"
    "ipvlan": {"name": "mynet", "type": "ipvlan", "master": "eth0", "linkInContainer": False,
               "ipam": {"type": "host-local", "subnet": "10.1.2.0/24"}},
    # cni.dev content/plugins/current/main/bridge.md "Example configuration"
    "bridge": {"cniVersion": "0.3.1", "name": "mynet", "type": "bridge", "bridge": "mynet0", "isDefaultGateway": True,
               "forceAddress": False, "ipMasq": True, "hairpinMode": True, "ipam": {"type": "host-local", "subnet": "10.10.0.0/16"}},
    # cni.dev content/plugins/current/main/bridge.md "Example L2-only configuration"
    "bridge-l2": {"cniVersion": "0.3.1", "name": "mynet", "type": "bridge", "bridge": "mynet0", "ipam": {}},
    # cni.dev content/plugins/current/main/host-device.md example
    "host-device": {"cniVersion": "0.3.1", "type": "host-device", "device": "enp0s1"},
    # cni.dev content/plugins/current/ipam/host-local.md: two range sets, dual stack, routes, dataDir
    "host-local-ranges": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.10.0.0/16", "rangeStart": "10.10.1.20", "rangeEnd": "10.10.3.50", "gateway": "10.10.0.254"},
                    {"subnet": "172.16.5.0/24"}],
                   [{"subnet": "3ffe:ffff:0:01ff::/64", "rangeStart": "3ffe:ffff:0:01ff::0010", "rangeEnd": "3ffe:ffff:0:01ff::0020"}]],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}, {"dst": "3ffe:ffff:0:01ff::1/64"}],
        "dataDir": "/run/my-orchestrator/container-ipam-state"}},
    # cni.dev content/plugins/current/ipam/host-local.md: the deprecated top-level form
    "host-local-legacy": {"cniVersion": "0.3.1", "type": "bridge", "ipam": {
        "type": "host-local", "subnet": "3ffe:ffff:0:01ff::/64", "rangeStart": "3ffe:ffff:0:01ff::0010",
        "rangeEnd": "3ffe:ffff:0:01ff::0020", "routes": [{"dst": "3ffe:ffff:0:01ff::1/64"}], "resolvConf": "/etc/resolv.conf"}},
    # cni.dev content/plugins/current/ipam/static.md addresses and dns, with only the default route
    # (the page's other routes use gateways off these subnets; see the test below)
    "static": {"cniVersion": "0.4.0", "type": "macvlan", "master": "eth0", "ipam": {
        "type": "static",
        "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}, {"address": "3ffe:ffff:0:01ff::1/64", "gateway": "3ffe:ffff:0:01ff::2"}],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {"nameservers": ["8.8.8.8"], "domain": "example.com", "search": ["example.com"]}}},
    # cni.dev content/plugins/current/ipam/dhcp.md: request and provide options
    "dhcp-options": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "ipam": {
        "type": "dhcp", "daemonSocketPath": "/run/cni/dhcp.sock",
        "request": [{"skipDefault": False, "option": "classless-static-routes"}],
        "provide": [{"option": "host-name", "fromArg": "K8S_POD_NAME"}]}},
    # k8snetworkplumbingwg/whereabouts README.md "Example configuration"
    "whereabouts": {"cniVersion": "0.3.0", "name": "whereaboutsexample", "type": "macvlan", "master": "eth0", "mode": "bridge",
                    "ipam": {"type": "whereabouts", "range": "192.168.2.225/28", "exclude": ["192.168.2.229/30", "192.168.2.236/32"]}},
    # k8snetworkplumbingwg/whereabouts README.md: range with a start and end inside the prefix
    "whereabouts-span": {"cniVersion": "0.3.0", "type": "macvlan", "master": "eth1", "mode": "bridge",
                         "ipam": {"type": "whereabouts", "range": "192.168.2.225-192.168.2.230/28"}},
    # k8snetworkplumbingwg/whereabouts README.md "Fast IPAM Configuration" with a slice that fits (/26 of the /24)
    "whereabouts-node-slices": {"cniVersion": "0.3.0", "name": "whereaboutsexample", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                "ipam": {"type": "whereabouts", "range": "192.168.2.0/24", "node_slice_size": "/26"}},
    # k8snetworkplumbingwg/whereabouts doc/extended-configuration.md: dual stack with ipRanges
    "whereabouts-dual": {"cniVersion": "0.3.0", "type": "macvlan", "master": "eth2", "ipam": {
        "type": "whereabouts", "ipRanges": [{"range": "192.168.10.0/24"}, {"range": "abcd::/64"}]}},
    # k8snetworkplumbingwg/sriov-cni docs/configuration-reference.md "Advanced configuration"
    "sriov": {"cniVersion": "0.3.1", "name": "sriov-advanced", "type": "sriov", "vlan": 1000, "vlanQoS": 4, "vlanProto": "802.1ad",
              "spoofchk": "off", "trust": "on", "link_state": "enable", "min_tx_rate": 100, "max_tx_rate": 200,
              "ipam": {"type": "host-local", "subnet": "10.56.217.0/24", "rangeStart": "10.56.217.171",
                       "rangeEnd": "10.56.217.181", "routes": [{"dst": "0.0.0.0/0"}], "gateway": "10.56.217.1"}},
    # k8snetworkplumbingwg/multus-cni docs/how-to-use.md: static IPAM and mac through capabilities, chained tuning
    "multus-ips-mac": {"cniVersion": "0.3.1", "plugins": [
        {"type": "macvlan", "capabilities": {"ips": True}, "master": "eth0", "mode": "bridge", "ipam": {"type": "static"}},
        {"type": "tuning", "capabilities": {"mac": True}}]},
    # cni.dev content/plugins/current/meta/tuning.md: sysctls, and interface attributes
    "tuning-sysctl": {"cniVersion": "0.3.1", "plugins": [
        {"type": "bridge", "ipam": {}},
        {"name": "mytuning", "type": "tuning", "sysctl": {"net.core.somaxconn": "500", "net.ipv4.conf.IFNAME.arp_filter": "1"}},
        {"name": "mytuning", "type": "tuning", "mac": "c2:b0:57:49:47:f1", "mtu": 1454, "promisc": True, "allmulti": True}]},
    # cni.dev content/plugins/current/meta/portmap.md "A configuration file with all options set" (after ptp)
    "portmap": {"cniVersion": "0.3.1", "name": "mynet", "plugins": [
        {"type": "ptp", "ipMasq": True, "ipam": {"type": "host-local", "subnet": "172.16.30.0/24", "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "backend": "iptables", "capabilities": {"portMappings": True}, "snat": True, "markMasqBit": 13,
         "conditionsV4": ["!", "-d", "192.0.2.0/24"], "conditionsV6": ["!", "-d", "fc00::/7"]}]},
    # cni.dev content/plugins/current/meta/bandwidth.md example conflist
    "bandwidth": {"cniVersion": "0.3.1", "name": "mynet", "plugins": [
        {"type": "ptp", "ipMasq": True, "mtu": 512, "ipam": {"type": "host-local", "subnet": "10.0.0.0/24"}, "dns": {"nameservers": ["10.1.0.1"]}},
        {"name": "slowdown", "type": "bandwidth", "ingressRate": 123, "ingressBurst": 456, "egressRate": 123, "egressBurst": 456}]},
    # cni.dev content/plugins/current/meta/sbr.md, chained after a main plugin
    "sbr": {"name": "macvlan-sbr", "cniVersion": "0.3.0", "plugins": [
        {"type": "macvlan", "master": "eth3", "ipam": {"type": "dhcp"}}, {"type": "sbr"}]},
    # cni.dev content/plugins/current/main/vlan.md example
    "vlan": {"name": "mynet", "cniVersion": "0.3.1", "type": "vlan", "master": "eth0", "mtu": 1500, "vlanId": 5,
             "linkInContainer": False, "ipam": {"type": "host-local", "subnet": "10.1.1.0/24"}, "dns": {"nameservers": ["10.1.1.1", "8.8.8.8"]}},
}


def _network(config, **extra):
    return NetworkConfig.model_validate({"name": "net-a", "config": config, **extra})


@pytest.mark.parametrize("case", sorted(UPSTREAM))
def test_upstream_examples_pass_and_come_out_unchanged(case):
    config = UPSTREAM[case]
    network = _network(config)
    emitted = json.loads(network.config_json)
    assert emitted == {**config, "name": config.get("name", "net-a")}


# Layer-2 networks without an address: bridge and macvlan skip IPAM when `ipam.type` is empty
# (containernetworking/plugins bridge.go and macvlan.go, `isLayer3 := n.IPAM.Type != ""`).
LAYER2 = {
    # KubeVirt user guide, interfaces and networks: a bridge on a VLAN, no ipam
    "kubevirt-bridge-vlan": {"cniVersion": "0.3.1", "type": "bridge", "bridge": "br1", "vlan": 10},
    # KubeVirt user guide: a bridge with only an MTU
    "kubevirt-bridge-mtu": {"cniVersion": "0.3.1", "type": "bridge", "mtu": 1300},
    # openshift-docs modules/virt-creating-linux-bridge-nad-cli.adoc (OpenShift Virtualization), with
    # the placeholder bridge name "bridge-interface" (16 bytes, longer than Linux allows) set to br1
    "openshift-virt-bridge": {"cniVersion": "0.3.1", "name": "bridge-network", "type": "bridge", "bridge": "br1",
                              "macspoofchk": False, "vlan": 100, "disableContainerInterface": True, "preserveDefaultVlan": False},
    # Kube-OVN's macvlan attachment without IPAM
    "kube-ovn-macvlan": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge"},
}


def test_chained_ipvlan_takes_the_previous_results_addresses_without_ipam():
    """ipvlan.go cmdAdd: with no IPAM type and a prevResult holding addresses, it uses those."""
    network = _network({"cniVersion": "0.4.0", "plugins": [
        {"type": "bridge", "ipam": {"type": "host-local", "subnet": "10.3.0.0/24"}}, {"type": "ipvlan", "master": "eth0"}]})
    assert network.summary.chain == ("bridge", "ipvlan")


@pytest.mark.parametrize("case", sorted(LAYER2))
def test_kubevirt_and_kube_ovn_layer2_networks_without_ipam_are_accepted(case):
    network = _network(LAYER2[case])
    assert network.summary.ipam is None
    assert network.summary.pools == ()


def test_openshift_virt_bridge_refuses_ipam_with_disable_container_interface():
    """bridge.go cmdAdd (v1.5.0+): "cannot use IPAM when DisableContainerInterface flag is set"."""
    config = {**LAYER2["openshift-virt-bridge"], "ipam": {"type": "whereabouts", "range": "10.0.0.0/24"}}
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "bridge-network", "config": config}, "net")
    assert [p.path for p in caught.value.problems] == ["net.config.ipam"]
    assert "disableContainerInterface" in caught.value.problems[0].message
    assert _network({**LAYER2["openshift-virt-bridge"], "ipam": {}}).summary.ipam == "none"  # no IPAM type: fine


# StarlingX docs, "Create Network Attachment Definitions" (net3): an SR-IOV VF addressed by
# calico-ipam, which reads `kubernetes` and `datastore_type` beside the sriov plugin's own keys.
STARLINGX_SRIOV_CALICO = {
    "cniVersion": "0.3.0", "type": "sriov",
    "ipam": {"type": "calico-ipam", "assign_ipv4": "true", "ipv4_pools": ["mypool"]},
    "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"},
    "datastore_type": "kubernetes",
}
RESOURCE = {"k8s.v1.cni.cncf.io/resourceName": "intel.com/pci_sriov_net_datanet_b"}


def test_starlingx_sriov_with_calico_ipam_keys_is_accepted_with_warnings_naming_sriov():
    network = _network(STARLINGX_SRIOV_CALICO, raw=True, annotations=RESOURCE)
    warned = dict(network.warnings())
    assert sorted(loc for loc in warned if "ignores this key" in warned[loc]) == [("config", "datastore_type"), ("config", "kubernetes")]
    assert warned[("config", "kubernetes")].startswith("the sriov plugin ignores this key")
    assert json.loads(network.config_json)["datastore_type"] == "kubernetes"  # kept as written


def test_unknown_keys_that_are_no_typo_are_not_errors_without_raw_either():
    """Only calico-ipam (outside the catalog) needs raw: true; the keys beside it are no error."""
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "net3", "config": STARLINGX_SRIOV_CALICO, "annotations": RESOURCE}, "net")
    assert [p.path for p in caught.value.problems] == ["net.config.ipam.type"]


@pytest.mark.parametrize("key, meant", [("mastr", "master"), ("mdoe", "mode"), ("Master", "master"), ("modes", "mode")])
def test_a_key_one_edit_from_a_known_one_stays_an_error(key, meant):
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "net-a", "config": {**_macvlan(), key: "x"}}, "net")
    assert [str(p) for p in caught.value.problems] == [f"net.config.{key}: unknown key; did you mean {meant!r}?"]


def test_a_typo_is_reported_beside_the_other_problems_of_its_plugin():
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "net-a", "config": {**_macvlan(), "mastr": "x", "mtu": 40}}, "net")
    assert [p.path for p in caught.value.problems] == ["net.config.mastr", "net.config.mtu"]


def test_raw_does_not_hide_the_plugins_own_checks_behind_a_typo():
    """A raw network's typo is a warning; the plugin is still checked without it (bandwidth refuses a rate without a burst)."""
    config = {"cniVersion": "0.3.1", "plugins": [{"type": "bridge"}, {"type": "bandwidth", "ingressRate": 10, "ingressburst": 5}]}
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "net-a", "config": config, "raw": True}, "net")
    assert [str(p) for p in caught.value.problems] == [
        "net.config.plugins[1].ingressRate: needs ingressBurst too: the bandwidth plugin refuses a rate without a burst"]


def test_raw_turns_a_typo_on_a_catalog_plugin_into_a_warning():
    network = _network({**_macvlan(), "mastr": "eth1"}, raw=True)
    assert dict(network.warnings())[("config", "mastr")].startswith("unknown key; did you mean 'master'?")


def test_unknown_nested_ipam_key_warns_and_the_range_is_still_checked():
    config = _macvlan({"type": "host-local", "ranges": [[{"subnet": "10.0.0.0/24", "comment": "lab"}]]})
    network = _network(config)
    assert dict(network.warnings())[("config", "ipam", "ranges", 0, 0, "comment")].startswith("the host-local IPAM plugin ignores")
    assert [str(p) for p in network.summary.pools] == ["10.0.0.1-10.0.0.254"]


def test_unknown_conflist_key_warns_but_a_setting_its_plugin_then_lacks_stays_an_error():
    plugins = [{"type": "macvlan", "ipam": {}}]
    network = _network({"cniVersion": "0.3.1", "description": "lab", "plugins": plugins})
    assert "libcni and Multus ignore this key" in dict(network.warnings())[("config", "description")]
    for key, words in (("master", "plugins[0] (macvlan) runs without it; move it into that plugin"),
                       ("cniVersoin", "did you mean 'cniVersion'?"), ("plugin", "did you mean 'plugins'?")):
        with pytest.raises(ConfigError) as caught:
            validate(NetworkConfig, {"name": "net-a", "config": {"cniVersion": "0.3.1", key: "x", "plugins": plugins}}, "net")
        assert words in str(caught.value.problems[0])


# A running network's conflist shown in a Red Hat post: `capabilities` at the top level, next to
# the one inside the plugin that uses it. libcni reads neither cniVersion's siblings nor this key
# (libcni/conf.go NetworkConfFromBytes), so the network works: a warning, with raw or without.
CAPABILITIES_BESIDE_PLUGINS = {
    "cniVersion": "0.3.1", "name": "macvlan-static", "capabilities": {"ips": True},
    "plugins": [{"type": "macvlan", "master": "eth0", "capabilities": {"ips": True}, "ipam": {"type": "static"}},
                {"type": "tuning", "capabilities": {"mac": True}}],
}


@pytest.mark.parametrize("raw", [False, True])
def test_capabilities_at_a_conflists_top_level_beside_the_plugins_own_is_a_warning(raw):
    network = _network(CAPABILITIES_BESIDE_PLUGINS, raw=raw)
    assert "libcni ignores this key at a conflist's top level" in dict(network.warnings())[("config", "capabilities")]
    assert network.summary.capabilities == {"ips", "mac"}
    master_beside_bridge = {"cniVersion": "0.3.1", "master": "eth0", "plugins": [{"type": "bridge", "ipam": {}}]}
    assert ("config", "master") in dict(_network(master_beside_bridge).warnings())  # bridge reads no master


def test_capabilities_only_at_the_top_level_is_an_error_naming_the_plugin_that_lacks_them():
    config = {**CAPABILITIES_BESIDE_PLUGINS, "plugins": [{"type": "macvlan", "master": "eth0", "ipam": {"type": "static"}},
                                                         {"type": "tuning", "capabilities": {"mac": True}}]}
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "net-a", "config": config}, "net")
    assert [str(p) for p in caught.value.problems] == [
        "net.config.capabilities: libcni ignores plugin settings at a conflist's top level, so plugins[0] (macvlan) runs "
        "without it; move it into that plugin"]


def test_unknown_key_warnings_reach_the_preview(run_stack):
    run_ = run_stack(networks=[{"name": "net3", "config": STARLINGX_SRIOV_CALICO, "raw": True, "annotations": RESOURCE}])
    assert any(w.startswith("multus-cni:networks[0].config.datastore_type: the sriov plugin ignores this key") for w in run_.warnings)


def test_cni_dev_static_example_is_rejected_for_its_unreachable_gateway():
    """cni.dev's static.md example: route gw 10.10.5.1 is off 10.10.0.1/24, and the real static
    plugin fails ADD with "network is unreachable" (the conformance suite runs it)."""
    config = {"cniVersion": "0.4.0", "type": "macvlan", "master": "eth0", "ipam": {
        "type": "static",
        "addresses": [{"address": "10.10.0.1/24", "gateway": "10.10.0.254"}, {"address": "3ffe:ffff:0:01ff::1/64", "gateway": "3ffe:ffff:0::1"}],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}, {"dst": "3ffe:ffff:0:01ff::1/64"}]}}
    def problems(config):
        with pytest.raises(ConfigError) as caught:
            validate(NetworkConfig, {"name": "net-a", "config": config}, "net")
        return [str(p) for p in caught.value.problems]

    assert problems(config) == [
        "net.config.ipam.addresses[1].gateway: 3ffe:ffff:0::1 is not on 3ffe:ffff:0:1ff::/64, the subnet of 3ffe:ffff:0:01ff::1/64"]
    config["ipam"]["addresses"][1]["gateway"] = "3ffe:ffff:0:01ff::2"
    assert problems(config) == [
        "net.config.ipam.routes[1].gw: 10.10.5.1 is not on the interface's subnets (10.10.0.0/24), so the plugin cannot add this route"]


def test_the_guide_nad_passes_with_its_pool():
    network = _network(guide_nad()["spec"]["config"])
    assert network.summary.chain == ("macvlan",)
    assert network.summary.ipam == "host-local"
    assert [str(p) for p in network.summary.pools] == ["192.168.1.200-192.168.1.216"]
    assert network.summary.links == (("macvlan", "master eth0"),)


def test_summary_lists_chain_capabilities_and_pools():
    summary = _network(UPSTREAM["multus-ips-mac"]).summary
    assert summary.chain == ("macvlan", "tuning")
    assert summary.capabilities == {"ips", "mac"}
    assert summary.is_conflist
    dual = _network(UPSTREAM["host-local-ranges"]).summary
    assert [str(p) for p in dual.pools] == ["10.10.1.20-10.10.3.50", "172.16.5.1-172.16.5.254", "3ffe:ffff:0:1ff::10-3ffe:ffff:0:1ff::20"]


def test_raw_passes_a_third_party_plugin_and_still_checks_known_ones():
    config = {"cniVersion": "0.3.1", "plugins": [
        {"type": "macvlan", "master": "eth0", "ipam": {"type": "whereabouts", "range": "10.9.0.0/24"}},
        {"type": "route-override", "flushroutes": True, "addroutes": [{"dst": "10.0.0.0/8"}]}]}
    assert json.loads(_network(config, raw=True).config_json)["plugins"][1]["type"] == "route-override"
    bad = {**config, "plugins": [{**config["plugins"][0], "mode": "bogus"}, config["plugins"][1]]}
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "net-a", "config": bad, "raw": True}, "net")
    assert [p.path for p in caught.value.problems] == ["net.config.plugins[0].mode"]


def _problems(networks, workloads=None):
    keys = {"networks": networks}
    if workloads:
        keys["workloads"] = workloads
    with pytest.raises(ConfigError) as caught:
        load_stack_config(config_of(**keys))
    return [str(p) for p in caught.value.problems]


def _macvlan(ipam=None, **fields):
    return {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", **fields, "ipam": ipam if ipam is not None else {}}


def _host_local(**fields):
    return _macvlan({"type": "host-local", **fields})


P = "multus-cni:networks[0].config"
BAD = [
    ("unknown plugin type", {"cniVersion": "0.3.1", "type": "macvlna", "ipam": {}}, f"{P}.type", "unknown plugin type 'macvlna'; did you mean 'macvlan'?"),
    ("unknown IPAM type", _macvlan({"type": "host-locl"}), f"{P}.ipam.type", "did you mean 'host-local'?"),
    ("misspelt plugin key", _macvlan(mastr="eth0"), f"{P}.mastr", "unknown key; did you mean 'master'?"),
    ("misspelt IPAM key", _host_local(subnet="10.0.0.0/24", rangestart="10.0.0.5"), f"{P}.ipam.rangestart", "did you mean 'rangeStart'?"),
    ("misspelt range key", _host_local(ranges=[[{"subnet": "10.0.0.0/24", "gatway": "10.0.0.1"}]]), f"{P}.ipam.ranges[0][0].gatway",
     "did you mean 'gateway'?"),
    ("macvlan mode", _macvlan(mode="bogus"), f"{P}.mode", "must be 'bridge', 'private', 'vepa', 'passthru'"),
    ("ipvlan mode", {"cniVersion": "0.3.1", "type": "ipvlan", "mode": "l4", "ipam": {}}, f"{P}.mode", "must be 'l2', 'l3' or 'l3s'"),
    ("mtu too small", _macvlan(mtu=40), f"{P}.mtu", "MTU 40 is out of range"),
    ("mtu not a number", _macvlan(mtu="jumbo"), f"{P}.mtu", "must be a whole number"),
    ("bad mac", _macvlan(mac="zz:00:00:00:00:00"), f"{P}.mac", "is not a MAC address"),
    ("ptp without ipam", {"cniVersion": "0.3.1", "type": "ptp"}, f"{P}.ipam", "ptp needs an ipam section"),
    # containernetworking/plugins ptp.go, vlan.go, ipvlan.go run IPAM on every ADD ("no plugin name provided")
    ("ptp with an empty ipam", {"cniVersion": "0.3.1", "type": "ptp", "ipam": {}}, f"{P}.ipam.type",
     "ptp runs the IPAM plugin on every ADD, and without a type that fails with \"no plugin name provided\""),
    ("vlan with an empty ipam", {"cniVersion": "0.3.1", "type": "vlan", "master": "eth0", "vlanId": 5, "ipam": {}}, f"{P}.ipam.type",
     "vlan runs the IPAM plugin"),
    ("chained vlan without ipam", {"cniVersion": "0.3.1", "plugins": [{"type": "bridge"}, {"type": "vlan", "master": "eth0", "vlanId": 5}]},
     f"{P}.plugins[1].ipam", "vlan needs an ipam section"),
    ("ipvlan first with an empty ipam", {"cniVersion": "0.3.1", "type": "ipvlan", "master": "eth0", "ipam": {}}, f"{P}.ipam.type",
     "ipvlan runs the IPAM plugin"),
    # vlan.go loadConf: "\"master\" field is required"
    ("vlan without master", {"cniVersion": "0.3.1", "type": "vlan", "vlanId": 5, "ipam": {"type": "dhcp"}}, f"{P}.master", "is required"),
    # bridge.go cmdAdd: "cannot set hairpin mode and promiscuous mode at the same time"
    ("bridge hairpin and promiscuous", {"cniVersion": "0.3.1", "type": "bridge", "hairpinMode": True, "promiscMode": True},
     f"{P}.promiscMode", "cannot be true together with hairpinMode"),
    # bridge.go collectVlanTrunk
    ("bridge trunk span without maxID", {"cniVersion": "0.3.1", "type": "bridge", "vlanTrunk": [{"minID": 10}]},
     f"{P}.vlanTrunk[0].minID", "needs maxID too"),
    ("bridge trunk span reversed", {"cniVersion": "0.3.1", "type": "bridge", "vlanTrunk": [{"minID": 20, "maxID": 10}]},
     f"{P}.vlanTrunk[0].maxID", "is below minID 20"),
    ("bridge trunk id 0", {"cniVersion": "0.3.1", "type": "bridge", "vlanTrunk": [{"id": 0}]}, f"{P}.vlanTrunk[0].id",
     "VLAN 0 is out of range"),
    # host-device.go: "kernel device path %q must be absolute and begin with /sys/devices/"
    ("host-device relative kernelpath", {"cniVersion": "0.3.1", "type": "host-device", "kernelpath": "pci0000:00/net"},
     f"{P}.kernelpath", "should match pattern '^/sys/devices/'"),
    ("subnet /33", _host_local(subnet="10.0.0.0/33"), f"{P}.ipam.subnet", "is not a subnet in CIDR form"),
    ("subnet without prefix", _host_local(subnet="10.0.0.0"), f"{P}.ipam.subnet", "needs a prefix length"),
    ("range start outside subnet", _host_local(subnet="10.0.0.0/24", rangeStart="10.0.1.5"), f"{P}.ipam.rangeStart",
     "10.0.1.5 is outside the subnet 10.0.0.0/24"),
    ("range end before start", _host_local(ranges=[[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.50", "rangeEnd": "10.0.0.10"}]]),
     f"{P}.ipam.ranges[0][0].rangeEnd", "comes before rangeStart"),
    ("gateway outside subnet", _host_local(ranges=[[{"subnet": "10.0.0.0/24", "gateway": "10.1.0.1"}]]), f"{P}.ipam.ranges[0][0].gateway",
     "is outside the subnet"),
    ("IPv6 start in IPv4 subnet", _host_local(subnet="10.0.0.0/24", rangeStart="fd00::5"), f"{P}.ipam.rangeStart", "is outside the subnet"),
    ("host-local without ranges", _host_local(), f"{P}.ipam", "host-local needs ranges"),
    ("both host-local forms", _host_local(subnet="10.0.0.0/24", ranges=[[{"subnet": "10.0.0.0/24"}]]), f"{P}.ipam.subnet",
     "use either ranges or the legacy"),
    ("empty range set", _host_local(ranges=[[]]), f"{P}.ipam.ranges[0]", "at least one range"),
    ("route dst not CIDR", _host_local(subnet="10.0.0.0/24", routes=[{"dst": "default"}]), f"{P}.ipam.routes[0].dst", "is not a subnet"),
    ("route gw not an IP", _host_local(subnet="10.0.0.0/24", routes=[{"dst": "0.0.0.0/0", "gw": "10.0.0.300"}]),
     f"{P}.ipam.routes[0].gw", "is not an IP address"),
    ("static address without prefix", _macvlan({"type": "static", "addresses": [{"address": "10.1.1.5"}]}),
     f"{P}.ipam.addresses[0].address", "needs a prefix length"),
    ("static gateway off its subnet", _macvlan({"type": "static", "addresses": [{"address": "fd00:1::5/64", "gateway": "fd00:2::1"}]}),
     f"{P}.ipam.addresses[0].gateway", "is not on fd00:1::/64"),
    ("static dns server", _macvlan({"type": "static", "dns": {"nameservers": ["dns.example"]}}), f"{P}.ipam.dns.nameservers[0]",
     "is not an IP address"),
    ("whereabouts without range", _macvlan({"type": "whereabouts"}), f"{P}.ipam.range", "whereabouts needs a range"),
    ("whereabouts bad span", _macvlan({"type": "whereabouts", "range": "10.0.0.20-10.0.0.10/24"}), f"{P}.ipam.range",
     "must lie, in order, inside the prefix"),
    ("whereabouts start outside", _macvlan({"type": "whereabouts", "range": "10.0.0.0/24", "range_start": "10.0.9.1"}),
     f"{P}.ipam.range_start", "is outside the range"),
    ("whereabouts start and end in two families", _macvlan({"type": "whereabouts", "range": "10.0.0.0/24", "range_start": "10.0.0.5",
     "range_end": "fd00::9"}), f"{P}.ipam.range_end", "is outside the range"),
    ("whereabouts span across families", _macvlan({"type": "whereabouts", "range": "10.0.0.1-fd00::9/24"}), f"{P}.ipam.range",
     "must lie, in order, inside the prefix"),
    # k8snetworkplumbingwg/whereabouts README.md "Fast IPAM Configuration", verbatim: a /22 slice of a /24
    ("whereabouts README fast IPAM slice larger than its range",
     _macvlan({"type": "whereabouts", "range": "192.168.2.0/24", "node_slice_size": "/22"}), f"{P}.ipam.node_slice_size",
     "'/22' does not fit the range 192.168.2.0/24 (a /22 slice of a /24), so whereabouts never allocates a node slice"),
    ("whereabouts node slice not a number", _macvlan({"type": "whereabouts", "range": "10.0.0.0/16", "node_slice_size": "24s"}),
     f"{P}.ipam.node_slice_size", "is not a prefix length"),
    ("whereabouts node slice of an IPv6 range", _macvlan({"type": "whereabouts", "range": "fd00::/64", "node_slice_size": "/80"}),
     f"{P}.ipam.node_slice_size", "IPv4 ranges only"),
    ("whereabouts node slice of the first ipRange", _macvlan({"type": "whereabouts", "ipRanges": [{"range": "10.0.0.0/26"}],
     "node_slice_size": "24"}), f"{P}.ipam.node_slice_size", "(a /24 slice of a /26)"),
    ("whereabouts exclude outside", _macvlan({"type": "whereabouts", "range": "10.0.0.0/24", "exclude": ["10.9.0.0/28"]}),
     f"{P}.ipam.exclude[0]", "excludes nothing"),
    ("bridge vlan out of range", {"cniVersion": "0.3.1", "type": "bridge", "vlan": 4095}, f"{P}.vlan",
     "must be less than or equal to 4094"),
    ("sriov QoS without vlan", {"cniVersion": "0.3.1", "type": "sriov", "vlanQoS": 3}, f"{P}.vlanQoS", "needs a non-zero vlan"),
    ("sriov QoS out of range", {"cniVersion": "0.3.1", "type": "sriov", "vlan": 10, "vlanQoS": 9}, f"{P}.vlanQoS",
     "must be less than or equal to 7"),
    ("sriov spoofchk", {"cniVersion": "0.3.1", "type": "sriov", "spoofchk": "yes"}, f"{P}.spoofchk", "must be 'on' or 'off'"),
    ("host-device two selectors", {"cniVersion": "0.3.1", "type": "host-device", "device": "eth1", "hwaddr": "02:00:00:00:00:01"},
     f"{P}.hwaddr", "give exactly one of device"),
    ("portmap mark bit and chain", {"cniVersion": "0.3.1", "plugins": [{"type": "bridge", "ipam": {}},
     {"type": "portmap", "markMasqBit": 13, "externalSetMarkChain": "X"}]}, f"{P}.plugins[1].markMasqBit", "cannot be set together"),
    # containernetworking/plugins plugins/meta/bandwidth/main.go validateRateAndBurst
    ("bandwidth rate without burst", {"cniVersion": "0.3.1", "plugins": [{"type": "bridge"}, {"type": "bandwidth", "ingressRate": 1000}]},
     f"{P}.plugins[1].ingressRate", "needs ingressBurst too"),
    ("bandwidth burst of 4 GB", {"cniVersion": "0.3.1", "plugins": [{"type": "bridge"}, {"type": "bandwidth", "egressRate": 1000,
     "egressBurst": 8 * (2**32 - 1)}]}, f"{P}.plugins[1].egressBurst", "4 GB or more"),
    ("conflist key outside plugins", {"cniVersion": "0.3.1", "master": "eth0", "plugins": [{"type": "macvlan", "ipam": {}}]},
     f"{P}.master", "plugins[0] (macvlan) runs without it"),
    # plugins/main/tap/tap.go createLinkWithNetlink: net.ParseMAC; NetConf.Owner *uint32
    ("tap bad mac", {"cniVersion": "1.0.0", "type": "tap", "mac": "02:00:00:00:01"}, f"{P}.mac", "is not a MAC address"),
    ("tap negative owner", {"cniVersion": "1.0.0", "type": "tap", "owner": -1}, f"{P}.owner", "greater than or equal to 0"),
    # plugins/main/dummy/dummy.go cmdAdd
    ("dummy with an empty ipam", {"cniVersion": "1.0.0", "type": "dummy", "ipam": {}}, f"{P}.ipam.type",
     "dummy interface requires an IPAM configuration"),
    ("dummy without ipam", {"cniVersion": "1.0.0", "type": "dummy"}, f"{P}.ipam", "dummy needs an ipam section"),
    # plugins/meta/vrf/main.go parseConf; plugins/meta/firewall/firewall.go getBackend, ingresspolicy.go
    ("vrf without vrfname", {"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}, {"type": "vrf"}]}, f"{P}.plugins[1].vrfname",
     "is required"),
    ("firewall backend", {"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}, {"type": "firewall", "backend": "nftables"}]},
     f"{P}.plugins[1].backend", "must be 'iptables', 'firewalld'"),
    ("firewall ingress policy", {"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}, {"type": "firewall", "ingressPolicy": "closed"}]},
     f"{P}.plugins[1].ingressPolicy", "must be 'open', 'same-bridge', 'isolated'"),
    ("capabilities not booleans", _macvlan(capabilities={"ips": "yes"}), f"{P}.capabilities.ips", "must be true or false"),
    ("tuning sysctl values", {"cniVersion": "0.3.1", "plugins": [{"type": "bridge", "ipam": {}}, {"type": "tuning", "sysctl": {"a": 1}}]},
     f"{P}.plugins[1].sysctl.a", "must be text"),
]


@pytest.mark.parametrize("case, config, path, words", BAD, ids=[b[0] for b in BAD])
def test_bad_plugin_configs_are_rejected_at_their_path(case, config, path, words):
    problems = _problems([{"name": "net-a", "config": config}])
    assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems


def test_every_problem_of_one_ipam_section_is_reported():
    problems = _problems([{"name": "net-a", "config": _host_local(subnet="10.0.0.0/24", rangeStart="10.9.0.1", gateway="10.8.0.1",
                                                                  routes=[{"dst": "bogus"}])}])
    assert [p.split(": ")[0] for p in problems] == [f"{P}.ipam.routes[0].dst"]  # field errors first, as pydantic reports
    problems = _problems([{"name": "net-a", "config": _host_local(subnet="10.0.0.0/24", rangeStart="10.9.0.1", gateway="10.8.0.1")}])
    assert [p.split(": ")[0] for p in problems] == [f"{P}.ipam.gateway", f"{P}.ipam.rangeStart"]
    where = _macvlan({"type": "whereabouts", "range": "10.0.0.0/24", "range_start": "10.7.0.1", "exclude": ["10.9.0.0/28"]})
    assert [p.split(": ")[0] for p in _problems([{"name": "net-a", "config": where}])] == [
        f"{P}.ipam.exclude[0]", f"{P}.ipam.range_start"]


def test_overlapping_ranges_on_one_master_are_rejected():
    problems = _problems([
        {"name": "net-a", "config": _host_local(subnet="10.0.0.0/24")},
        {"name": "net-b", "config": _host_local(ranges=[[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.100"}]])},
    ])
    assert problems == [
        "multus-cni:networks[1].config: addresses 10.0.0.100-10.0.0.254 overlap 10.0.0.1-10.0.0.254 of network default/net-a "
        "(networks[0]) on master eth0; networks sharing a link must not hand out the same addresses (both whereabouts with "
        "enable_overlapping_ranges is the exception)"
    ]


def test_same_range_on_other_masters_or_families_is_fine():
    stack = load_stack_config(config_of(networks=[
        {"name": "net-a", "config": _host_local(subnet="10.0.0.0/24")},
        {"name": "net-b", "config": {**_host_local(subnet="10.0.0.0/24"), "master": "eth1"}},
        {"name": "net-c", "config": _host_local(subnet="fd00::/64")},
        {"name": "net-d", "config": _host_local(ranges=[[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.255"}]])},
    ]))
    assert [(n.summary.links[0][1], [str(p) for p in n.summary.pools]) for n in stack.networks] == [
        ("master eth0", ["10.0.0.1-10.0.0.254"]), ("master eth1", ["10.0.0.1-10.0.0.254"]),
        ("master eth0", ["fd00::1-fd00::ffff:ffff:ffff:ffff"]), ("master eth0", ["10.0.0.255-10.0.0.254"])]  # the last is empty
    assert stack.warnings() == []


def test_whereabouts_with_overlapping_ranges_enabled_may_overlap():
    where = _macvlan({"type": "whereabouts", "range": "10.0.0.0/24"})
    stack = load_stack_config(config_of(networks=[{"name": "net-a", "config": where}, {"name": "net-b", "config": where}]))
    assert [(n.summary.overlapping_allowed, [str(p) for p in n.summary.pools]) for n in stack.networks] == [
        (True, ["10.0.0.1-10.0.0.254"]), (True, ["10.0.0.1-10.0.0.254"])]
    strict = _macvlan({"type": "whereabouts", "range": "10.0.0.0/24", "enable_overlapping_ranges": False})
    assert _problems([{"name": "net-a", "config": where}, {"name": "net-b", "config": strict}])


def test_overlap_check_finds_each_overlap_among_many_networks():
    networks = [{"name": f"net-{i}", "config": _host_local(subnet=f"10.{i}.0.0/24")} for i in range(200)]
    networks[150]["config"] = _host_local(subnet="10.42.0.128/25")
    problems = _problems(networks)
    assert len(problems) == 1 and "networks[42]" in problems[0] and problems[0].startswith("multus-cni:networks[150].config")


def _warnings(networks, workloads=()):
    return [(loc, message) for loc, message in load_stack_config(config_of(networks=networks, workloads=list(workloads))).warnings()]


def test_host_local_shared_by_several_pods_warns():
    net = {"name": "net-a", "config": _host_local(subnet="10.0.0.0/24")}
    assert _warnings([net], [{"name": "one", "networks": "net-a"}]) == []
    found = _warnings([net], [{"name": "one", "networks": "net-a"}, {"name": "two", "networks": "net-a"}])
    assert [loc for loc, _ in found] == [("networks", 0, "config", "ipam")]
    assert "multus-cni#144" in found[0][1]


def test_ipvlan_and_macvlan_on_one_master_warns():
    found = _warnings([
        {"name": "net-a", "config": _macvlan()},
        {"name": "net-b", "config": {"cniVersion": "0.3.1", "type": "ipvlan", "master": "eth0", "ipam": {"type": "dhcp"}}},
    ])
    assert [loc for loc, _ in found] == [("networks", 1, "config")]


def test_network_warnings_cover_versions_names_and_sriov():
    def warned(config, **extra):
        return {loc: message for loc, message in _network(config, **extra).warnings()}

    assert ("config", "cniVersion") in warned({"type": "bridge", "ipam": {}})
    assert ("config",) in warned({"cniVersion": "1.0.0", "type": "bridge", "ipam": {}})
    assert ("config", "name") in warned({"cniVersion": "0.3.1", "name": "other", "type": "bridge", "ipam": {}})
    sriov = {"cniVersion": "0.3.1", "type": "sriov", "vlan": 5}
    assert ("annotations",) in warned(sriov)
    assert ("annotations",) not in warned(sriov, annotations={"k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov"})
    etcd = {"cniVersion": "0.3.1", "plugins": [_macvlan({"type": "whereabouts", "range": "10.0.0.0/24", "etcd_host": "etcd:2379",
                                                         "etcd_password": "s3cret"})]}
    assert ("config", "plugins", 0, "ipam", "etcd_password") in warned(etcd)
    assert all("s3cret" not in message for message in warned(etcd).values())
    assert warned(UPSTREAM["bridge"]) == {("config", "name"): warned(UPSTREAM["bridge"])[("config", "name")]}


# --- the whole containernetworking/plugins family (v1.9.0 plugins/{main,meta,ipam}) ---------------
# Configs shaped on each plugin's NetConf (file cited in components/cni/plugins.py).
FAMILY = {
    "tap": {"cniVersion": "1.0.0", "name": "tap-net", "plugins": [
        {"type": "tap", "multiQueue": True, "mtu": 1500, "mac": "02:00:00:00:00:01", "owner": 107, "group": 107,
         "selinuxContext": "system_u:system_r:container_t:s0", "ipam": {"type": "host-local", "subnet": "10.1.1.0/24"}}]},
    "tap-l2": {"cniVersion": "1.0.0", "plugins": [{"type": "tap"}]},
    "dummy": {"cniVersion": "1.0.0", "plugins": [{"type": "dummy", "ipam": {"type": "static", "addresses": [{"address": "10.2.0.5/24"}]}}]},
    "firewall": {"cniVersion": "0.4.0", "name": "bridge-firewalld", "plugins": [
        {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
         "ipam": {"type": "host-local", "subnet": "10.88.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "firewall", "backend": "iptables", "ingressPolicy": "same-bridge", "iptablesAdminChainName": "CNI-ADMIN"}]},
    "vrf": {"cniVersion": "0.3.1", "name": "macvlan-vrf", "plugins": [
        {"type": "macvlan", "master": "eth1", "ipam": {"type": "dhcp"}}, {"type": "vrf", "vrfname": "blue", "table": 1001}]},
    "loopback": {"cniVersion": "0.4.0", "type": "loopback"},
}


@pytest.mark.parametrize("case", sorted(FAMILY))
def test_reference_family_plugins_are_in_the_catalog(case):
    """Before: `tap`, `dummy`, `firewall`, `vrf` were refused as unknown types with a wrong suggestion."""
    network = _network(FAMILY[case])
    assert json.loads(network.config_json)["cniVersion"] == FAMILY[case]["cniVersion"]
    assert all("ignores this key" not in message for _, message in network.warnings())


def test_every_plugin_cni_plugins_installs_is_in_the_catalog():
    """The cniPlugins component installs the family; a NAD naming any of them is checked, not refused."""
    from components.cni import IPAMS, PLUGINS
    from components.config.addons import DEFAULT_PLUGINS

    assert set(DEFAULT_PLUGINS) - set(PLUGINS) - set(IPAMS) == set()


CHAINED_ONLY = {"tuning": {"mtu": 1400}, "sbr": {}, "portmap": {"capabilities": {"portMappings": True}},
                "bandwidth": {"ingressRate": 1000, "ingressBurst": 2000}, "firewall": {}, "vrf": {"vrfname": "blue"}}


@pytest.mark.parametrize("type_", sorted(CHAINED_ONLY))
def test_a_plugin_that_needs_a_previous_result_is_rejected_alone_and_first(type_):
    """The real ADD fails without prevResult (tuning: "Required prevResult missing"; the conformance
    suite runs tuning and vrf alone)."""
    plugin = {"type": type_, **CHAINED_ONLY[type_]}
    alone = {"cniVersion": "1.0.0", **plugin}
    problems = _problems([{"name": "net-a", "config": alone}])
    assert [p.split(": ")[0] for p in problems] == [f"{P}.type"]
    assert f"{type_} only works chained" in problems[0] and "after an interface plugin" in problems[0]
    first = {"cniVersion": "1.0.0", "plugins": [plugin, {"type": "macvlan", "master": "eth0", "ipam": {}}]}
    assert [p.split(": ")[0] for p in _problems([{"name": "net-a", "config": first}])] == [f"{P}.plugins[0].type"]
    chained = {"cniVersion": "1.0.0", "plugins": [{"type": "macvlan", "master": "eth0", "ipam": {}}, plugin]}
    assert _network(chained).summary.chain == ("macvlan", type_)


@pytest.mark.parametrize("type_, extra, oldest, older", [
    ("bandwidth", {"ingressRate": 1000, "ingressBurst": 2000}, "0.3.0", "0.2.0"),
    ("firewall", {}, "0.4.0", "0.3.1"),
    ("vrf", {"vrfname": "blue"}, "0.3.1", "0.3.0"),
])
def test_the_oldest_cni_version_each_plugin_accepts(type_, extra, oldest, older):
    """skel refuses older versions: "incompatible CNI versions" (VersionsStartingFrom in each main)."""
    def config(version):
        return {"cniVersion": version, "plugins": [{"type": "macvlan", "master": "eth0", "ipam": {}}, {"type": type_, **extra}]}

    assert _network(config(oldest)).summary.chain == ("macvlan", type_)
    problems = _problems([{"name": "net-a", "config": config(older)}])
    assert problems == [f"{P}.cniVersion: is {older}, but {type_} (plugins[1]) supports {oldest} and later: its ADD fails with "
                        f"\"incompatible CNI versions\"; set cniVersion to {oldest} or later"]
    newest = {**config(older), "cniVersions": [older, oldest]}  # libcni runs the highest of cniVersions
    assert _network(newest).summary.chain == ("macvlan", type_)


# --- raw networks: the conventional parts of a third-party plugin are still read ------------------
# Shaped like ovs-cni's README NAD (type ovs, bridge br1), with a third-party IPAM that keeps
# static's `addresses` and the conventional `routes`.
OVS_THIRD_PARTY_IPAM = {"cniVersion": "0.4.0", "type": "ovs", "bridge": "br1", "vlan": 100, "ipam": {
    "type": "vendor-ipam", "pool": "blue", "addresses": [{"address": "10.10.0.5/24", "gateway": "10.10.0.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}, {"dst": "192.168.0.0/16", "gw": "10.20.0.1"}]}}


def test_raw_network_route_gateway_off_its_subnets_is_a_warning_naming_the_key():
    warned = dict(_network(OVS_THIRD_PARTY_IPAM, raw=True).warnings())
    assert warned[("config", "ipam", "routes", 1, "gw")].startswith(
        "10.20.0.1 is not on the interface's subnets (10.10.0.0/24), so the plugin cannot add this route")
    assert "outside the catalog" in warned[("config", "ipam", "routes", 1, "gw")]
    assert ("config", "ipam", "pool") not in warned  # the third-party IPAM's own key passes unchecked


def test_raw_network_conventional_dns_ranges_and_gateway_are_checked_as_warnings():
    config = {"cniVersion": "0.4.0", "plugins": [{"type": "userspace", "dns": {"nameservers": ["dns.example"]}, "ipam": {
        "type": "vendor-ipam", "gateway": "not-an-ip", "ranges": [[{"subnet": "10.0.0.0/24", "rangeStart": "10.0.1.5"}]],
        "dns": {"nameservers": ["10.0.0.300"]}}}]}
    warned = dict(_network(config, raw=True).warnings())
    loc = ("config", "plugins", 0)
    assert {(*loc, "dns", "nameservers", 0), (*loc, "ipam", "gateway"), (*loc, "ipam", "ranges", 0, 0, "rangeStart"),
            (*loc, "ipam", "dns", "nameservers", 0)} <= set(warned)


def test_raw_network_with_a_conventional_ipam_has_no_warning_and_a_catalog_ipam_keeps_its_errors():
    good = {**OVS_THIRD_PARTY_IPAM, "ipam": {**OVS_THIRD_PARTY_IPAM["ipam"], "routes": [{"dst": "0.0.0.0/0", "gw": "10.10.0.1"}]}}
    assert _network(good, raw=True).warnings() == []
    catalog_ipam = {**OVS_THIRD_PARTY_IPAM, "ipam": {"type": "static", **{k: v for k, v in OVS_THIRD_PARTY_IPAM["ipam"].items()
                                                                        if k in ("addresses", "routes")}}}
    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "net-a", "config": catalog_ipam, "raw": True}, "net")
    assert [p.path for p in caught.value.problems] == ["net.config.ipam.routes[1].gw"]
