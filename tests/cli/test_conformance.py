"""Every plugin type through the real binaries, in throw-away network namespaces (root only).

Configs come from upstream documentation, cited per config; the engine is components/conformance/.
Each test builds and removes its own namespaces; an autouse fixture checks none is left behind.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from multus_cni_cli import conformance
from multus_cni_cli.__main__ import main
from components.config import NetworkConfig
from conftest import guide_nad

# The plugins these tests exercise: a directory holding all of them (Debian's, or a node's).
REFERENCE = ("macvlan", "bridge", "host-device", "host-local", "static", "tuning")
PLUGIN_DIR = next(
    (d for d in conformance.DEFAULT_PLUGIN_DIRS if all((d / p).is_file() for p in REFERENCE)), None
)

if os.geteuid() != 0:
    pytest.skip("conformance needs root (network namespaces); CI runs it as root", allow_module_level=True)
if shutil.which("ip") is None:
    pytest.skip("conformance needs `ip` (apt-get install iproute2)", allow_module_level=True)
if PLUGIN_DIR is None:
    pytest.skip(
        f"no directory among {', '.join(map(str, conformance.DEFAULT_PLUGIN_DIRS))} holds {', '.join(REFERENCE)} "
        "(apt-get install containernetworking-plugins)",
        allow_module_level=True,
    )

DIRS = (PLUGIN_DIR,)

# https://www.cni.dev/plugins/current/main/macvlan/ (containernetworking/cni.dev
# content/plugins/current/main/macvlan.md), "Example configuration".
MACVLAN_DOC = {"name": "mynet", "type": "macvlan", "master": "eth0", "linkInContainer": False, "ipam": {"type": "dhcp"}}

# https://www.cni.dev/plugins/current/ipam/host-local/ (content/plugins/current/ipam/host-local.md),
# the first example: two range sets, so two addresses.
HOST_LOCAL_RANGES_DOC = {
    "type": "host-local",
    "ranges": [
        [
            {"subnet": "10.10.0.0/16", "rangeStart": "10.10.1.20", "rangeEnd": "10.10.3.50", "gateway": "10.10.0.254"},
            {"subnet": "172.16.5.0/24"},
        ],
        [{"subnet": "3ffe:ffff:0:01ff::/64", "rangeStart": "3ffe:ffff:0:01ff::0010", "rangeEnd": "3ffe:ffff:0:01ff::0020"}],
    ],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}, {"dst": "3ffe:ffff:0:01ff::1/64"}],
    "dataDir": "/run/my-orchestrator/container-ipam-state",
}
# Same page, the deprecated top-level range.
HOST_LOCAL_LEGACY_DOC = {
    "type": "host-local",
    "subnet": "3ffe:ffff:0:01ff::/64",
    "rangeStart": "3ffe:ffff:0:01ff::0010",
    "rangeEnd": "3ffe:ffff:0:01ff::0020",
    "routes": [{"dst": "3ffe:ffff:0:01ff::1/64"}],
    "resolvConf": "/etc/resolv.conf",
}

# https://www.cni.dev/plugins/v0.9/ipam/static/ (content/plugins/v0.9/ipam/static.md; the plugins
# repo's README points there), "Example configuration".
STATIC_DOC = {
    "type": "static",
    "addresses": [
        {"address": "10.10.0.1/24", "gateway": "10.10.0.254"},
        {"address": "3ffe:ffff:0:01ff::1/64", "gateway": "3ffe:ffff:0::1"},
    ],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16", "gw": "10.10.5.1"}, {"dst": "3ffe:ffff:0:01ff::1/64"}],
    "dns": {"nameservers": ["8.8.8.8"], "domain": "example.com", "search": ["example.com"]},
}

# https://www.cni.dev/plugins/v1.1/main/bridge/ (content/plugins/v1.1/main/bridge.md): the example and
# the L2-only example (v1.1 is the release Debian packages).
BRIDGE_DOC = {
    "cniVersion": "0.3.1", "name": "mynet", "type": "bridge", "bridge": "mynet0", "isDefaultGateway": True,
    "forceAddress": False, "ipMasq": True, "hairpinMode": True,
    "ipam": {"type": "host-local", "subnet": "10.10.0.0/16"},
}
BRIDGE_L2_DOC = {"cniVersion": "0.3.1", "name": "mynet", "type": "bridge", "bridge": "mynet0", "ipam": {}}

# https://www.cni.dev/plugins/v1.1/main/host-device/ (content/plugins/v1.1/main/host-device.md): the
# `device` and `pciBusID` samples (they carry no name; Multus would inject the NAD's).
HOST_DEVICE_DOC = {"cniVersion": "0.3.1", "type": "host-device", "device": "enp0s1"}
HOST_DEVICE_PCI_DOC = {"cniVersion": "0.3.1", "type": "host-device", "pciBusID": "0000:3d:00.1"}

# https://www.cni.dev/plugins/current/meta/tuning/ (content/plugins/current/meta/tuning.md): the
# "System Controls" and "Interface Attribute" examples, chained after a main plugin as tuning must be.
TUNING_SYSCTL_DOC = {"name": "mytuning", "type": "tuning", "sysctl": {"net.core.somaxconn": "500", "net.ipv4.conf.IFNAME.arp_filter": "1"}}
TUNING_ATTRIBUTES_DOC = {"name": "mytuning", "type": "tuning", "mac": "c2:b0:57:49:47:f1", "mtu": 1454, "promisc": True, "allmulti": True}

# https://www.cni.dev/plugins/current/main/ipvlan/ (content/plugins/current/main/ipvlan.md).
IPVLAN_DOC = {"name": "mynet", "type": "ipvlan", "master": "eth0", "linkInContainer": False, "ipam": {"type": "host-local", "subnet": "10.1.2.0/24"}}

# k8snetworkplumbingwg/whereabouts README.md, "An example configuration using a NetworkAttachmentDefinition".
WHEREABOUTS_DOC = {"cniVersion": "0.3.0", "name": "whereaboutsexample", "type": "macvlan", "master": "eth0", "mode": "bridge", "ipam": {"type": "whereabouts", "range": "192.168.2.225/28"}}

# k8snetworkplumbingwg/sriov-cni README.md, "Configuration with IPAM".
SRIOV_DOC = {
    "cniVersion": "0.3.1", "name": "sriov-net", "type": "sriov", "deviceID": "0000:03:02.0", "vlan": 2222,
    "ipam": {"type": "host-local", "subnet": "10.56.217.0/24", "rangeStart": "10.56.217.171", "rangeEnd": "10.56.217.181",
             "routes": [{"dst": "0.0.0.0/0"}], "gateway": "10.56.217.1"},
}


def guide_network(**changes) -> NetworkConfig:
    """The Tanzu guide's macvlan-conf NAD (tests/fixtures/guide/multus-cni-crd.yaml) as a stack network."""
    nad = guide_nad()
    config = {**json.loads(nad["spec"]["config"]), **changes}
    return NetworkConfig(name=nad["metadata"]["name"], config=config)


def check(config: dict, name: str = "conformance-test") -> conformance.Result:
    """A config as the plugin receives it: the network name injected as Multus does."""
    return conformance.check_config({"name": name, **config}, plugin_dirs=DIRS)


def macvlan_with(ipam: dict, **changes) -> dict:
    return {**MACVLAN_DOC, "cniVersion": "0.3.1", "ipam": ipam, **changes}


def conflist(*plugins: dict, version: str = "0.4.0") -> dict:
    return {"cniVersion": version, "name": "mytuning", "plugins": list(plugins)}


def in_range(address: str, first: str, last: str, prefix: int) -> bool:
    iface = ipaddress.ip_interface(address)
    return iface.network.prefixlen == prefix and ipaddress.ip_address(first) <= iface.ip <= ipaddress.ip_address(last)


def netns_names() -> set[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


def own_netns() -> set[str]:
    """This process's namespaces (conformance names them with its pid): other test workers run too."""
    return {n for n in netns_names() if n.startswith(f"{conformance.NETNS_PREFIX}{os.getpid()}-")}


@pytest.fixture(autouse=True)
def no_namespace_left_behind():
    before = own_netns()
    yield
    assert own_netns() == before


# --- the guide and the dev stack ----------------------------------------------------------------


def test_guide_macvlan_conf_attaches_net1_inside_its_range():
    result = conformance.check_network(guide_network(), plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    assert (result.network, result.plugins, result.interface) == ("default/macvlan-conf", "macvlan(host-local)", "net1")
    [address] = result.addresses
    assert in_range(address, "192.168.1.200", "192.168.1.216", 24)
    assert result.cni_result["cniVersion"] == "0.3.0"
    [iface] = result.cni_result["interfaces"]
    assert iface["name"] == "net1" and iface["sandbox"].startswith(str(conformance.NETNS_DIR) + "/")


@pytest.mark.parametrize("mode", ["bridge", "private", "vepa", "passthru"])
def test_macvlan_every_mode_the_plugin_accepts(mode):
    result = conformance.check_network(guide_network(mode=mode), plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    assert result.interface == "net1"


def test_cli_checks_the_dev_stack(capsys):
    assert main(["conformance", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "default/macvlan-conf  macvlan(host-local)  net1   192.168.1.2" in out
    assert out.rstrip().endswith("1 network(s): 1 passed, 0 failed, 0 skipped")


def stack_file(tmp_path: Path, *configs: dict) -> str:
    networks = [{"name": f"net-{i}", "config": config} for i, config in enumerate(configs)]
    path = tmp_path / "Pulumi.node.yaml"
    path.write_text(yaml.safe_dump({"config": {"multus-cni:networks": networks}}))
    return str(path)


def test_cli_fails_a_stack_whose_network_the_plugin_refuses(tmp_path, capsys):
    # A valid config, but macvlan's MTU may not exceed its master's, and no Ethernet master has 65535.
    too_big = {**json.loads(guide_nad()["spec"]["config"]), "mtu": 65535}
    assert main(["conformance", "--stack-file", stack_file(tmp_path, too_big, WHEREABOUTS_DOC)]) == 1
    out = capsys.readouterr().out
    assert "default/net-0" in out and "fail: ADD macvlan: invalid MTU 65535" in out
    assert "default/net-1" in out and "skip: whereabouts" in out
    assert "2 network(s): 0 passed, 1 failed, 1 skipped" in out


def test_cli_passes_a_stack_with_only_skips(tmp_path, capsys):
    assert main(["conformance", "--stack-file", stack_file(tmp_path, WHEREABOUTS_DOC)]) == 0
    assert "0 passed, 0 failed, 1 skipped" in capsys.readouterr().out


def test_cli_exits_2_when_not_root(monkeypatch, capsys):
    monkeypatch.setattr(conformance.os, "geteuid", lambda: 1000)
    assert main(["conformance", "--stack", "dev"]) == 2
    assert "needs root" in capsys.readouterr().err


def test_cli_exits_2_without_plugins(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNI_PATH", str(tmp_path))
    assert main(["conformance", "--stack", "dev"]) == 2
    assert f"{tmp_path} holds no plugin binaries" in capsys.readouterr().err


# --- each plugin type ---------------------------------------------------------------------------


def test_host_local_range_sets_give_one_address_each():
    result = check(macvlan_with(HOST_LOCAL_RANGES_DOC))
    assert result.verdict == conformance.PASS, result.reason
    v4, v6 = sorted(result.addresses, key=lambda a: ipaddress.ip_interface(a).version)
    assert in_range(v4, "10.10.1.20", "10.10.3.50", 16) or in_range(v4, "172.16.5.1", "172.16.5.254", 24)
    assert in_range(v6, "3ffe:ffff:0:1ff::10", "3ffe:ffff:0:1ff::20", 64)


def test_host_local_state_never_lands_in_the_configured_or_default_data_dir():
    name = f"conformance-state-{os.getpid()}"
    assert check(macvlan_with(HOST_LOCAL_RANGES_DOC), name=name).verdict == conformance.PASS
    assert not Path(HOST_LOCAL_RANGES_DOC["dataDir"], name).exists()
    assert not Path("/var/lib/cni/networks", name).exists()


def test_host_local_legacy_top_level_range():
    result = check(macvlan_with(HOST_LOCAL_LEGACY_DOC))
    assert result.verdict == conformance.PASS, result.reason
    [address] = result.addresses
    assert in_range(address, "3ffe:ffff:0:1ff::10", "3ffe:ffff:0:1ff::20", 64)


def test_static_addresses_are_assigned_verbatim():
    # The page's addresses and default route; its other routes are refused (next test).
    result = check(macvlan_with({**STATIC_DOC, "routes": [{"dst": "0.0.0.0/0"}]}, cniVersion="1.0.0"))
    assert result.verdict == conformance.PASS, result.reason
    assert set(result.addresses) == {"10.10.0.1/24", "3ffe:ffff:0:1ff::1/64"}


def test_static_docs_example_is_refused_by_the_real_plugin():
    # 192.168.0.0/16 via 10.10.5.1 needs a gateway on the /24 link: the page's example cannot work.
    result = check(macvlan_with(STATIC_DOC))
    assert result.verdict == conformance.FAIL
    assert "ADD macvlan: failed to add route" in result.reason and "network is unreachable" in result.reason


def test_bridge_with_gateway_and_masquerade():
    result = conformance.check_config(BRIDGE_DOC, plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    [address] = result.addresses
    assert in_range(address, "10.10.0.2", "10.10.255.254", 16)
    names = [i["name"] for i in result.cni_result["interfaces"]]
    assert (names[0], names[-1]) == ("mynet0", "net1")  # the bridge, its host veth, net1


def test_bridge_l2_only_has_no_address():
    result = conformance.check_config(BRIDGE_L2_DOC, plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    assert (result.interface, result.addresses) == ("net1", ())


@pytest.mark.parametrize("config", [
    {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge"},  # Kube-OVN's macvlan without IPAM
    {"cniVersion": "0.3.1", "type": "bridge", "mtu": 1300},  # KubeVirt's layer-2 bridge
], ids=["kube-ovn-macvlan", "kubevirt-bridge-mtu"])
def test_layer2_networks_without_ipam_pass_the_catalog_and_the_real_plugin(config):
    result = conformance.check_network(NetworkConfig(name="layer2", config=config), plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    assert (result.interface, result.addresses) == ("net1", ())


def test_host_device_moves_the_device_in_and_back():
    result = check(HOST_DEVICE_DOC)
    assert result.verdict == conformance.PASS, result.reason  # includes "enp0s1 is back after DEL"
    assert result.interface == "net1"


def test_host_device_by_pci_address_is_skipped():
    result = check(HOST_DEVICE_PCI_DOC)
    assert result.verdict == conformance.SKIP
    assert "pciBusID" in result.reason


def test_tuning_sysctls_in_a_conflist():
    bridge = {"type": "bridge", "bridge": "tun0", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}
    result = conformance.check_config(conflist(bridge, TUNING_SYSCTL_DOC), plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    assert result.plugins == "bridge(host-local),tuning"


def test_tuning_interface_attributes_in_a_conflist():
    macvlan = {"type": "macvlan", "master": "eth0", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}
    result = conformance.check_config(conflist(macvlan, TUNING_ATTRIBUTES_DOC, version="1.0.0"), plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    [net1] = [i for i in result.cni_result["interfaces"] if i["name"] == "net1"]
    assert net1["mac"] == "c2:b0:57:49:47:f1"


@pytest.fixture
def host_interface():
    """A veth in this machine's own namespace, MTU 1300: what `like_host` must mirror."""
    name = f"cfmtu{os.getpid()}"
    subprocess.run(["ip", "link", "add", name, "mtu", "1300", "type", "veth", "peer", "name", f"{name}p"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "delete", name], check=True)


def test_like_host_mirrors_the_masters_mtu(host_interface):
    config = macvlan_with({"type": "host-local", "subnet": "10.1.2.0/24"}, master=host_interface, mtu=1400)
    assert check(config).verdict == conformance.PASS  # a fresh veth stand-in: MTU 1500
    mirrored = conformance.check_config({"name": "conformance-test", **config}, plugin_dirs=DIRS, like_host=True)
    assert mirrored.verdict == conformance.FAIL
    assert "ADD macvlan: invalid MTU 1400, must be [0, master MTU(1300)]" in mirrored.reason


# --- what must fail -----------------------------------------------------------------------------


def test_macvlan_bogus_mode_fails():
    result = conformance.check_network(guide_network(), plugin_dirs=DIRS)  # the same config passes
    assert result.verdict == conformance.PASS
    bogus = check({**json.loads(guide_nad()["spec"]["config"]), "mode": "bogus"})
    assert bogus.verdict == conformance.FAIL
    assert 'ADD macvlan: unknown macvlan mode: "bogus"' in bogus.reason
    assert bogus.interface == ""


def test_host_local_subnet_33_fails():
    result = check(macvlan_with({"type": "host-local", "subnet": "10.1.2.0/33"}))
    assert result.verdict == conformance.FAIL
    assert "ADD macvlan: invalid CIDR address: 10.1.2.0/33" in result.reason


def test_a_cni_version_newer_than_the_plugins_fails():
    result = check(macvlan_with({"type": "host-local", "subnet": "10.1.2.0/24"}, cniVersion="1.1.0"))
    assert result.verdict == conformance.FAIL
    assert 'incompatible CNI versions: config is "1.1.0"' in result.reason


def test_namespaces_are_removed_when_add_fails():
    result = check(macvlan_with({"type": "host-local", "subnet": "10.1.2.0/24"}, mode="bogus"))
    assert result.verdict == conformance.FAIL
    assert own_netns() == set()


def test_namespaces_are_removed_when_the_node_cannot_be_built():
    result = check(macvlan_with({}, master="an-interface-name-too-long"))
    assert result.verdict == conformance.FAIL
    assert result.reason.startswith("could not build the node: ")
    assert own_netns() == set()


def test_result_checks_reject_a_wrong_result():
    """The checks compare, rather than accept: a real result, altered, is refused point by point."""
    network = guide_network()
    real = conformance.check_network(network, plugin_dirs=DIRS)
    netns = real.cni_result["interfaces"][0]["sandbox"]
    assert conformance.result_problems(network.cni_config, real.cni_result, netns) == []
    wrong = json.loads(json.dumps(real.cni_result))
    wrong["cniVersion"] = "0.4.0"
    wrong["ips"][0]["address"] = "192.168.1.100/24"
    wrong["interfaces"][0]["sandbox"] = "/proc/1/ns/net"
    wrong["routes"] = []
    problems = conformance.result_problems(network.cni_config, wrong, netns)
    assert len(problems) == 4, problems
    assert "192.168.1.100/24 is outside every configured host-local range" in problems


# --- what cannot run here -----------------------------------------------------------------------


def kernel_has_ipvlan() -> bool:
    """Asked independently of the engine: can this kernel create an ipvlan link at all?"""
    name = f"ipvlan-probe-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "lower0", "type", "veth", "peer", "name", "lower1"], check=True)
        return subprocess.run(["ip", "-n", name, "link", "add", "ipv0", "link", "lower0", "type", "ipvlan"], capture_output=True).returncode == 0
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def test_ipvlan_runs_or_is_skipped_with_the_kernels_reason():
    result = check(IPVLAN_DOC)
    if kernel_has_ipvlan():
        assert result.verdict == conformance.PASS, result.reason
    else:
        assert result.verdict == conformance.SKIP
        assert "cannot create the link ipvlan needs" in result.reason and "Unknown device type" in result.reason


@pytest.mark.parametrize(
    ("config", "because"),
    [
        (WHEREABOUTS_DOC, "whereabouts keeps its IP pools in the Kubernetes API"),
        (SRIOV_DOC, "sriov needs an SR-IOV virtual function"),
        (MACVLAN_DOC, "dhcp IPAM needs the `dhcp daemon`"),
    ],
    ids=["whereabouts", "sriov", "dhcp"],
)
def test_plugins_that_need_more_than_a_node_are_skipped(config, because):
    result = conformance.check_config(config, plugin_dirs=DIRS)
    assert result.verdict == conformance.SKIP
    assert because in result.reason


def test_a_missing_plugin_binary_is_skipped_naming_it():
    result = check({"cniVersion": "0.3.1", "type": "no-such-plugin"})
    assert result.verdict == conformance.SKIP
    assert result.reason == f"plugin binary 'no-such-plugin' is not in {PLUGIN_DIR}"


def test_static_without_addresses_and_no_request_is_refused_by_the_real_plugin():
    """Why the catalog rejects a workload using such a network without ips (test_workloads)."""
    result = check(macvlan_with({"type": "static"}))
    assert result.verdict == conformance.FAIL
    assert "IPAM plugin returned missing IP config" in result.reason


@pytest.mark.parametrize("config, words", [
    ({"cniVersion": "0.3.1", "type": "ptp", "ipam": {}}, "no plugin name provided"),
    ({"cniVersion": "0.3.1", "type": "bridge", "hairpinMode": True, "promiscMode": True}, "cannot set hairpin mode and promiscuous mode"),
], ids=["ptp-empty-ipam", "bridge-hairpin-promisc"])
def test_configs_the_catalog_now_rejects_are_refused_by_the_real_plugin(config, words):
    result = check(config)
    assert result.verdict == conformance.FAIL
    assert words in result.reason


# --- the rest of the reference family: firewall, vrf, and the chained-only rule -------------------
# Debian's containernetworking-plugins (1.1.1) ships firewall, vrf and loopback, not dummy or tap.

MACVLAN_HOST_LOCAL = {"type": "macvlan", "master": "eth0", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}


def catalog_problems(config: dict) -> list[str]:
    from components.config import ConfigError, validate

    with pytest.raises(ConfigError) as caught:
        validate(NetworkConfig, {"name": "conformance-test", "config": config}, "net")
    return [str(p) for p in caught.value.problems]


def test_firewall_chained_after_macvlan_passes_the_catalog_and_the_real_plugin():
    """cni.dev content/plugins/current/meta/firewall.md: the iptables backend, after a main plugin."""
    config = conflist(MACVLAN_HOST_LOCAL, {"type": "firewall", "backend": "iptables"})
    NetworkConfig(name="conformance-test", config=config)
    result = conformance.check_config(config, plugin_dirs=DIRS)
    assert result.verdict == conformance.PASS, result.reason
    assert result.plugins == "macvlan(host-local),firewall"


@pytest.mark.parametrize("config, words, path", [
    # plugins/meta/tuning/tuning.go cmdAdd
    ({"cniVersion": "0.4.0", **TUNING_SYSCTL_DOC}, "Required prevResult missing", "net.config.type"),
    # plugins/meta/vrf/main.go cmdAdd
    ({"cniVersion": "0.4.0", "type": "vrf", "vrfname": "blue"}, "missing prevResult from earlier plugin", "net.config.type"),
    # plugins/meta/firewall/firewall.go main: version.VersionsStartingFrom("0.4.0")
    (conflist(MACVLAN_HOST_LOCAL, {"type": "firewall", "backend": "iptables"}, version="0.3.1"),
     'incompatible CNI versions: config is "0.3.1"', "net.config.cniVersion"),
    # plugins/meta/vrf/main.go main: version.VersionsStartingFrom("0.3.1")
    (conflist(MACVLAN_HOST_LOCAL, {"type": "vrf", "vrfname": "blue"}, version="0.3.0"),
     'incompatible CNI versions: config is "0.3.0"', "net.config.cniVersion"),
    # plugins/meta/vrf/main.go parseConf
    (conflist(MACVLAN_HOST_LOCAL, {"type": "vrf"}), "configuration is expected to have a valid vrf name",
     "net.config.plugins[1].vrfname"),
    # plugins/meta/firewall/ingresspolicy.go setupIngressPolicy
    (conflist(MACVLAN_HOST_LOCAL, {"type": "firewall", "backend": "iptables", "ingressPolicy": "bogus"}),
     'unknown ingress policy: "bogus"', "net.config.plugins[1].ingressPolicy"),
], ids=["tuning-alone", "vrf-alone", "firewall-0.3.1", "vrf-0.3.0", "vrf-without-vrfname", "firewall-ingress-policy"])
def test_family_configs_the_catalog_rejects_are_refused_by_the_real_plugin(config, words, path):
    result = check(config)
    assert result.verdict == conformance.FAIL
    assert words in result.reason
    assert [p.split(": ")[0] for p in catalog_problems(config)] == [path]


def test_loopback_brings_up_lo_and_gives_the_pod_no_interface_of_its_own():
    """plugins/main/loopback/loopback.go cmdAdd: `args.IfName = "lo"`; why the catalog warns."""
    result = check({"cniVersion": "0.4.0", "type": "loopback"})
    assert "result lists no interface net1: ['lo']" in result.reason
    network = NetworkConfig(name="conformance-test", config={"cniVersion": "0.4.0", "type": "loopback"})
    assert "no interface of its own" in dict(network.warnings())[("config", "type")]
