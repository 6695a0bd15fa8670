"""The conformance result checks on hand-made results: no root, namespaces or plugins needed.

tests/test_conformance.py proves them against the real plugins; these pin the address semantics
taken from the catalog's IPAM models, and what happens when the catalog cannot read an IPAM.
"""

from __future__ import annotations

from multus_cni_cli import conformance
from multus_cni_cli.conformance.chain import MTU_SETTERS

NETNS = "/var/run/netns/cni-conformance-test-pod"


def result(*addresses: str, routes: tuple[str, ...] = (), version: str = "0.3.1") -> dict:
    return {
        "cniVersion": version,
        "interfaces": [{"name": "net1", "sandbox": NETNS}],
        "ips": [{"address": a, "interface": 0} for a in addresses],
        "routes": [{"dst": d} for d in routes],
    }


def macvlan(ipam: dict) -> dict:
    return {"cniVersion": "0.3.1", "name": "n", "type": "macvlan", "master": "eth0", "ipam": ipam}


def problems(ipam: dict, *addresses: str, routes: tuple[str, ...] = ()) -> list[str]:
    return conformance.result_problems(macvlan(ipam), result(*addresses, routes=routes), NETNS)


LEGACY = {"type": "host-local", "subnet": "10.1.2.0/24", "rangeStart": "10.1.2.10", "rangeEnd": "10.1.2.20", "gateway": "10.1.2.15"}
RANGE_SETS = {
    "type": "host-local",
    "ranges": [
        [{"subnet": "10.10.0.0/16", "rangeStart": "10.10.1.20", "rangeEnd": "10.10.3.50"}, {"subnet": "172.16.5.0/24"}],
        [{"subnet": "3ffe:ffff:0:01ff::/64", "rangeStart": "3ffe:ffff:0:01ff::0010", "rangeEnd": "3ffe:ffff:0:01ff::0020"}],
    ],
}


def test_host_local_address_inside_the_range_passes():
    assert problems(LEGACY, "10.1.2.10/24") == []


def test_host_local_never_hands_out_the_gateway_nor_another_prefix():
    assert problems(LEGACY, "10.1.2.15/24") == ["10.1.2.15/24 is outside every configured host-local range"]
    assert problems(LEGACY, "10.1.2.11/16") == ["10.1.2.11/16 is outside every configured host-local range"]
    assert problems(LEGACY, "10.1.2.21/24") == ["10.1.2.21/24 is outside every configured host-local range"]


def test_host_local_default_range_leaves_out_the_network_and_broadcast_addresses():
    subnet = {"type": "host-local", "subnet": "10.1.2.0/24"}
    assert problems(subnet, "10.1.2.254/24") == []
    for address in ("10.1.2.0/24", "10.1.2.255/24"):
        assert problems(subnet, address) == [f"{address} is outside every configured host-local range"]


def test_host_local_gives_one_address_per_range_set_from_any_of_its_ranges():
    assert problems(RANGE_SETS, "172.16.5.9/24", "3ffe:ffff:0:1ff::20/64") == []
    assert problems(RANGE_SETS, "10.10.1.20/16") == [
        "host-local has 2 range set(s) but the result has 1 address(es): 10.10.1.20/16"
    ]


def test_keys_the_catalog_does_not_know_are_ignored_as_the_plugin_ignores_them():
    assert problems({**LEGACY, "vendorKey": True}, "10.1.3.10/24") == ["10.1.3.10/24 is outside every configured host-local range"]


def test_configured_routes_must_be_in_the_result():
    ipam = {**LEGACY, "routes": [{"dst": "0.0.0.0/0"}, {"dst": "192.168.0.0/16"}]}
    assert problems(ipam, "10.1.2.10/24", routes=("0.0.0.0/0", "192.168.0.0/16")) == []
    assert problems(ipam, "10.1.2.10/24", routes=("0.0.0.0/0",)) == ["configured route 192.168.0.0/16 is missing from the result"]


def test_static_addresses_must_match_exactly():
    ipam = {"type": "static", "addresses": [{"address": "10.10.0.1/24"}, {"address": "3ffe:ffff:0:1ff::1/64"}]}
    assert problems(ipam, "3ffe:ffff:0:1ff::1/64", "10.10.0.1/24") == []
    assert problems(ipam, "10.10.0.1/24") == [
        "result addresses 10.10.0.1/24 are not the static addresses 10.10.0.1/24, 3ffe:ffff:0:1ff::1/64"
    ]


def test_an_ipam_the_catalog_cannot_read_has_no_range_to_compare():
    """A /33 is run on purpose so the plugin's refusal proves it wrong: the checks must not crash."""
    for bad in ({"type": "host-local", "subnet": "10.1.2.0/33"}, {"type": "host-local", "ranges": "nope"},
                {"type": "static", "addresses": [{"address": "not-an-address"}]}):
        assert problems(bad, "10.1.2.2/24") == []
    wrong_version = conformance.result_problems(macvlan({"type": "host-local", "subnet": "10.1.2.0/33"}), result(version="0.4.0"), NETNS)
    assert wrong_version == ["result cniVersion is '0.4.0', the config asks for '0.3.1'"]


def test_mtu_setters_are_the_catalog_plugins_that_take_an_mtu():
    assert MTU_SETTERS == {"macvlan", "ipvlan", "bridge", "ptp", "vlan", "tap", "tuning"}
