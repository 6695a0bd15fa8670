"""whereabouts: the IPAM config validated as the v0.9.2 plugin reads it (pkg/config, pkg/iphelpers,
pkg/allocate), the Whereabouts component's upstream objects, its dependencies and warnings."""

from __future__ import annotations

import pytest

from components.config import ConfigError, load_stack_config
from components.config.addons import WHEREABOUTS_IMAGE
from components.whereabouts import Whereabouts, manifests
from conftest import DAEMONSET, NAD, children_of, config_of, only

WHEREABOUTS = "multus-cni:index:Whereabouts"
P = "multus-cni:networks[0].config.ipam"


def _network(ipam: dict, name: str = "wa", master: str = "eth0") -> dict:
    return {"name": name, "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": master, "ipam": {"type": "whereabouts", **ipam}}}


def _problems(ipam: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_config(config_of(networks=[_network(ipam)]))
    return [str(p) for p in caught.value.problems]


BAD = [
    # LoadIPAMConfig: the subnet comes from the end and the prefix; the start must be inside it.
    ("span start outside the end's subnet", {"range": "10.0.0.10-10.0.1.5/24"}, f"{P}.range", "(10.0.1.0/24, from the end address"),
    ("span end before start", {"range": "10.0.0.20-10.0.0.10/24"}, f"{P}.range", "must lie, in order, inside the prefix"),
    ("span with range_start", {"range": "10.0.0.10-10.0.0.20/24", "range_start": "10.0.0.12"}, f"{P}.range_start",
     "is ignored when range names its own start and end"),
    # iphelpers.HasUsableIPs: a /31 or /32 (/127, /128) has no usable address.
    ("a /31", {"range": "10.0.0.0/31"}, f"{P}.range", "has no address whereabouts hands out"),
    ("a /128", {"range": "fd00::1/128"}, f"{P}.range", "has no address whereabouts hands out"),
    ("ipRanges entry /32", {"ipRanges": [{"range": "10.0.0.0/24"}, {"range": "10.1.0.7/32"}]}, f"{P}.ipRanges[1].range",
     "has no address"),
    # iphelpers.GetIPRange ignores a range_start or range_end outside the usable addresses, silently.
    ("range_start is the network address", {"range": "10.0.0.0/24", "range_start": "10.0.0.0"}, f"{P}.range_start",
     "its usable addresses are 10.0.0.1-10.0.0.254); whereabouts would silently ignore it"),
    ("range_end is the broadcast", {"range": "10.0.0.0/24", "range_end": "10.0.0.255"}, f"{P}.range_end", "silently ignore"),
    ("range_end before range_start", {"range": "10.0.0.0/24", "range_start": "10.0.0.50", "range_end": "10.0.0.40"},
     f"{P}.range_end", "comes before range_start 10.0.0.50"),
    ("ipRanges range_start outside", {"ipRanges": [{"range": "fd00::/64", "range_start": "fd01::1"}]}, f"{P}.ipRanges[0].range_start",
     "is outside the range fd00::/64"),
    # allocate.parseExcludedRange: a CIDR or one address.
    ("exclude not an address", {"range": "10.0.0.0/24", "exclude": ["10.0.0.x/30"]}, f"{P}.exclude[0]", "could not parse exclude range"),
    ("exclude of the other family", {"range": "10.0.0.0/24", "exclude": ["fd00::/64"]}, f"{P}.exclude[0]", "excludes nothing"),
    ("exclude everything", {"range": "10.0.0.0/29", "exclude": ["10.0.0.0/30", "10.0.0.4/30"]}, f"{P}.exclude",
     "leaves no address of 10.0.0.1-10.0.0.6"),
    ("exclude every address of range_start..range_end", {"range": "10.0.0.0/24", "range_start": "10.0.0.8", "range_end": "10.0.0.9",
     "exclude": ["10.0.0.8", "10.0.0.9/32"]}, f"{P}.exclude", "leaves no address of 10.0.0.8-10.0.0.9"),
    # LoadIPAMConfig copies the top-level exclude into `range` only.
    ("top-level exclude with ipRanges only", {"ipRanges": [{"range": "10.0.0.0/24"}], "exclude": ["10.0.0.0/28"]}, f"{P}.exclude",
     "is ignored without range"),
    # iphelpers.DivideRangeBySize: the slice is no larger than the range.
    ("node_slice_size larger than the range", {"range": "10.0.0.0/24", "node_slice_size": "/20"}, f"{P}.node_slice_size",
     "does not fit the range 10.0.0.0/24"),
]


@pytest.mark.parametrize("case, ipam, path, words", BAD, ids=[b[0] for b in BAD])
def test_what_the_plugin_refuses_or_ignores_is_an_error_at_its_path(case, ipam, path, words):
    problems = _problems(ipam)
    assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems


@pytest.mark.parametrize("ipam", [
    {"range": "10.0.0.0/24", "exclude": ["10.0.0.8", "10.0.0.0/29"]},  # a single address is a /32
    {"range": "10.0.0.5/24"},  # host bits: ParseCIDRSloppy masks them
    {"range": "10.0.0.10-10.0.0.20/24"},
    {"range": "10.0.0.0/30"},  # two usable addresses
    {"range": "10.0.0.0/24", "range_start": "10.0.0.1", "range_end": "10.0.0.254", "exclude": ["10.0.0.1/32"]},
    {"ipRanges": [{"range": "10.0.0.0/24", "exclude": ["10.0.0.0/28"]}, {"range": "fd00::/64", "range_end": "fd00::ffff"}]},
    {"range": "10.0.0.0/16", "node_slice_size": "/24"},
])
def test_what_the_plugin_reads_as_meant_is_accepted(ipam):
    [network] = load_stack_config(config_of(networks=[_network(ipam)])).networks
    assert network.summary.ipam == "whereabouts"


def test_pools_are_whereabouts_usable_addresses():
    [network] = load_stack_config(config_of(networks=[_network({"ipRanges": [
        {"range": "fd00::/120"}, {"range": "10.0.0.10-10.0.0.20/24"}]})])).networks
    assert [str(p) for p in network.summary.pools] == ["fd00::1-fd00::fe", "10.0.0.10-10.0.0.20"]


# --- the component -----------------------------------------------------------------------------

UPSTREAM = {  # doc/crds/ at v0.9.2: the three CRDs and daemonset-install.yaml
    ("CustomResourceDefinition", "ippools.whereabouts.cni.cncf.io"),
    ("CustomResourceDefinition", "overlappingrangeipreservations.whereabouts.cni.cncf.io"),
    ("CustomResourceDefinition", "nodeslicepools.whereabouts.cni.cncf.io"),
    ("ServiceAccount", "whereabouts"),
    ("ClusterRole", "whereabouts-cni"),
    ("ClusterRoleBinding", "whereabouts"),
    ("ConfigMap", "whereabouts-config"),
    ("DaemonSet", "whereabouts"),
}


def test_off_by_default_and_a_whereabouts_network_is_warned_about_once(run_stack):
    run_ = run_stack(networks=[_network({"range": "10.0.0.0/24"}), _network({"range": "10.1.0.0/24"}, "wb", "eth1")])
    assert run_.monitor.by_type(WHEREABOUTS) == []
    [warning] = [w for w in run_.warnings if "whereabouts" in w]
    assert warning.startswith("multus-cni:whereabouts.enabled: networks[0], networks[1] use whereabouts IPAM, which this stack does not install")


def test_enabled_creates_upstreams_objects_pinned_and_nads_wait_for_them(run_stack):
    run_ = run_stack(whereabouts={"enabled": True},
                     networks=[_network({"range": "10.0.0.0/24"}), {"name": "hl", "config": {
                         "cniVersion": "0.3.1", "type": "macvlan", "master": "eth1", "ipam": {"type": "host-local", "subnet": "10.5.0.0/24"}}}])
    component = only(run_, WHEREABOUTS)
    children = children_of(run_, component.urn)
    assert {(c.inputs["kind"], c.inputs["metadata"]["name"]) for c in children} == UPSTREAM
    assert all(not c.protect for c in children)
    crds = [c for c in children if c.inputs["kind"] == "CustomResourceDefinition"]
    assert all(c.request.retainOnDelete for c in crds) and not any(c.request.retainOnDelete for c in children if c not in crds)
    [daemonset] = [c for c in children if c.type == DAEMONSET]
    [container] = daemonset.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == WHEREABOUTS_IMAGE == "ghcr.io/k8snetworkplumbingwg/whereabouts:v0.9.2"
    assert daemonset.inputs["spec"]["template"]["spec"]["serviceAccountName"] == "whereabouts"
    nads = {n.inputs["metadata"]["name"]: n for n in run_.monitor.by_type(NAD)}
    assert {c.urn for c in children} <= set(nads["wa"].dependencies) or component.urn in nads["wa"].dependencies
    assert not ({c.urn for c in children} | {component.urn}) & set(nads["hl"].dependencies)
    assert not [w for w in run_.warnings if "whereabouts IPAM" in w]
    assert run_.outputs["whereaboutsDaemonSet"] == "whereabouts"


def test_the_cluster_role_is_upstreams_least_privilege():
    role = manifests.cluster_role()
    assert role["rules"][0] == {"apiGroups": ["whereabouts.cni.cncf.io"],
                                "resources": ["ippools", "overlappingrangeipreservations", "nodeslicepools"],
                                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}
    assert all("*" not in r["resources"] for r in role["rules"])


def test_namespace_and_schedule_reach_every_object(run_stack):
    run_ = run_stack(whereabouts={"enabled": True, "namespace": "ipam", "reconcilerSchedule": "*/30 * * * *"})
    children = children_of(run_, only(run_, WHEREABOUTS).urn)
    namespaced = [c for c in children if c.inputs["kind"] in ("ServiceAccount", "ConfigMap", "DaemonSet")]
    assert {c.inputs["metadata"]["namespace"] for c in namespaced} == {"ipam"}
    [binding] = [c for c in children if c.inputs["kind"] == "ClusterRoleBinding"]
    assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "whereabouts", "namespace": "ipam"}]
    [config] = [c for c in children if c.inputs["kind"] == "ConfigMap"]
    assert config.inputs["data"] == {"cron-expression": "*/30 * * * *"}


@pytest.mark.parametrize("keys, expected", [
    ({"image": "ghcr.io/k8snetworkplumbingwg/whereabouts:latest"}, "multus-cni:whereabouts.image: image 'ghcr.io/k8snetworkplumbingwg/whereabouts:latest' uses the moving tag"),
    ({"reconcilerSchedule": "daily"}, "multus-cni:whereabouts.reconcilerSchedule: 'daily' is not a five-field cron expression"),
    ({"namespace": "Kube_System"}, "multus-cni:whereabouts.namespace:"),
])
def test_config_errors_name_the_key(keys, expected):
    with pytest.raises(ConfigError) as caught:
        load_stack_config(config_of(whereabouts=keys))
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value.problems


def test_component_from_python(run_components):
    run_ = run_components(lambda: Whereabouts("w", {"namespace": "ipam"}))
    assert len(children_of(run_, only(run_, WHEREABOUTS).urn)) == len(UPSTREAM)


def test_node_slices_are_warned_about_as_this_stack_lacks_their_controller(run_stack):
    sliced = _network({"range": "10.0.0.0/16", "node_slice_size": "/24"})
    run_ = run_stack(whereabouts={"enabled": True}, networks=[sliced, _network({"range": "10.1.0.0/24"}, "plain", "eth1")])
    [warning] = [w for w in run_.warnings if "node_slice_size" in w]
    assert warning.startswith("multus-cni:whereabouts: networks[0] set node_slice_size, which needs whereabouts' node-slice controller")
    assert not [w for w in run_stack(whereabouts={"enabled": True}, networks=[_network({"range": "10.1.0.0/24"})]).warnings
                if "node_slice_size" in w]
