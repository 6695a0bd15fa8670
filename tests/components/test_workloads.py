"""Workloads: selection objects, cross-checks against the networks, Deployments, annotations."""

from __future__ import annotations

import json

import pytest

from components.annotations import DEFAULT_NETWORK, NETWORKS
from components.config import ConfigError, WorkloadConfig, load_stack_config
from components.config.attachments import attachment_findings
from components.sample_workload import DIGEST_ANNOTATION
from conftest import POD, config_of, only

STATIC = {"cniVersion": "0.3.1", "plugins": [
    {"type": "macvlan", "master": "eth0", "capabilities": {"ips": True}, "ipam": {"type": "static"}},
    {"type": "tuning", "capabilities": {"mac": True}}]}
HOST_LOCAL_IPS = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth1", "capabilities": {"ips": True},
                  "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.5.0.0/24", "rangeStart": "10.5.0.100", "rangeEnd": "10.5.0.150"}]]}}
PLAIN = {"cniVersion": "0.3.1", "type": "bridge", "ipam": {}}
PTP = {"cniVersion": "0.3.1", "type": "ptp", "ipam": {"type": "host-local", "subnet": "10.9.0.0/24"}}
NETWORKS_ = [{"name": "static-net", "config": STATIC}, {"name": "hl-net", "config": HOST_LOCAL_IPS}, {"name": "plain", "config": PLAIN},
             {"name": "ptp-net", "config": PTP}]


def _problems(*workloads, external=None):
    keys = {"networks": NETWORKS_, "workloads": list(workloads)}
    if external:
        keys["externalNetworks"] = external
    with pytest.raises(ConfigError) as caught:
        load_stack_config(config_of(**keys))
    return [str(p) for p in caught.value.problems]


W = "multus-cni:workloads[0]"
BAD = [
    ("ips without capability", {"networks": [{"name": "plain", "ips": ["10.0.0.5/24"]}]}, f"{W}.networks[0].ips",
     "does not declare the 'ips' capability"),
    ("mac without capability on a chain that ignores MAC=", {"networks": [{"name": "ptp-net", "mac": "02:00:00:00:00:01"}]},
     f"{W}.networks[0].mac", "does not declare the 'mac' capability, and no plugin of its chain (ptp) reads the MAC="),
    ("port mappings without capability", {"networks": [{"name": "plain", "portMappings": [{"hostPort": 8080, "containerPort": 80}]}]},
     f"{W}.networks[0].portMappings", "'portMappings' capability"),
    ("bandwidth without capability", {"networks": [{"name": "plain", "bandwidth": {"ingressRate": 1000, "ingressBurst": 2000}}]},
     f"{W}.networks[0].bandwidth", "'bandwidth' capability"),
    ("bandwidth request with a rate and no burst", {"networks": [{"name": "plain", "bandwidth": {"egressRate": 1000}}]},
     f"{W}.networks[0].bandwidth.egressRate", "needs egressBurst too"),
    ("requested ip outside the range", {"networks": [{"name": "hl-net", "ips": ["10.5.0.20/24"]}]}, f"{W}.networks[0].ips[0]",
     "10.5.0.20/24 is outside the addresses of network default/hl-net (10.5.0.100-10.5.0.150)"),
    ("requested ip not an IP", {"networks": [{"name": "static-net", "ips": ["10.5.0.500"]}]}, f"{W}.networks[0].ips[0]",
     "is not an IP address"),
    ("interface too long", {"networks": [{"name": "plain", "interface": "a-very-long-ifname"}]}, f"{W}.networks[0].interface",
     "1 to 15 characters"),
    ("interface eth0", {"networks": "plain@eth0"}, f"{W}.networks[0].interface", "taken by the pod's default network"),
    ("interface twice", {"networks": "plain@data,static-net@data"}, f"{W}.networks[1].interface", "already used by networks[0]"),
    ("requested name collides with a generated one", {"networks": "plain@net2,static-net"}, f"{W}.networks[1].interface",
     "interface 'net2' is already used by networks[0]"),
    ("two default routes", {"networks": [{"name": "plain", "default-route": ["10.0.0.1"]}, {"name": "hl-net", "default-route": ["10.5.0.1"]}]},
     f"{W}.networks[1].default-route", "only one network may set default-route"),
    ("default route not an IP", {"networks": [{"name": "plain", "default-route": ["gw"]}]}, f"{W}.networks[0].default-route[0]",
     "is not an IP address"),
    ("unknown selection key", {"networks": [{"name": "plain", "interfce": "x"}]}, f"{W}.networks[0].interfce",
     "did you mean 'interface'?"),
    ("replicas on a Pod", {"networks": "plain", "replicas": 3}, f"{W}.replicas", "use kind: Deployment"),
    ("replicas with fixed ips", {"kind": "Deployment", "replicas": 2, "networks": [{"name": "static-net", "ips": ["10.1.1.5/24"]}]},
     f"{W}.replicas", "2 replicas would all request the same ips"),
    ("unknown kind", {"kind": "StatefulSet", "networks": "plain"}, f"{W}.kind", "must be 'Pod' or 'Deployment'"),
    ("default network undefined", {"networks": "plain", "defaultNetwork": "infra/fabric"}, f"{W}.defaultNetwork",
     "network infra/fabric is not defined"),
    ("default network with interface", {"networks": "plain", "defaultNetwork": "fabric@eth9"}, f"{W}.defaultNetwork",
     "write name or namespace/name"),
    ("port out of range", {"networks": [{"name": "plain", "portMappings": [{"hostPort": 70000, "containerPort": 80}]}]},
     f"{W}.networks[0].portMappings[0].hostPort", "less than or equal to 65535"),
]


@pytest.mark.parametrize("case, workload, path, words", BAD, ids=[b[0] for b in BAD])
def test_bad_workloads_are_rejected_at_their_path(case, workload, path, words):
    problems = _problems(workload)
    assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems


def test_external_networks_may_be_referenced():
    stack = load_stack_config(config_of(networks=NETWORKS_, externalNetworks=["infra/fabric", {"name": "shared"}],
                                        workloads=[{"networks": "plain,shared,infra/fabric", "defaultNetwork": "infra/fabric"}]))
    assert stack.networks_of(stack.workloads[0])[1:] == [None, None]


def test_annotation_uses_the_json_form_only_when_needed(run_stack):
    simple = run_stack(networks=NETWORKS_, workloads=[{"networks": [{"name": "plain", "interface": "data0"}, "infra/x"]}],
                       externalNetworks=["infra/x"])
    assert only(simple, POD).inputs["metadata"]["annotations"][NETWORKS] == "plain@data0,infra/x"
    rich = run_stack(networks=NETWORKS_, workloads=[{"networks": [
        {"name": "static-net", "ips": ["10.1.1.12/24"], "mac": "c2:b0:57:49:47:f1"}, {"name": "plain", "default-route": ["10.0.0.1"]}]}])
    annotation = only(rich, POD).inputs["metadata"]["annotations"][NETWORKS]
    assert json.loads(annotation) == [
        {"name": "static-net", "ips": ["10.1.1.12/24"], "mac": "c2:b0:57:49:47:f1"}, {"name": "plain", "default-route": ["10.0.0.1"]}]
    assert annotation == json.dumps(json.loads(annotation), sort_keys=True, separators=(",", ":"))


def test_default_network_annotation(run_stack):
    run_ = run_stack(networks=NETWORKS_, externalNetworks=["infra/fabric"],
                     workloads=[{"networks": "plain", "defaultNetwork": "infra/fabric"}])
    assert only(run_, POD).inputs["metadata"]["annotations"][DEFAULT_NETWORK] == "infra/fabric"


def _deployment(run_stack, mode):
    bridge = {"cniVersion": "0.3.1", "type": "bridge", "mtu": mode, "ipam": {"type": "whereabouts", "range": "10.7.0.0/24"}}
    run_ = run_stack(networks=[{"name": "net-a", "config": bridge}],
                     workloads=[{"name": "web", "kind": "Deployment", "replicas": 3, "networks": "net-a"}])
    return only(run_, "kubernetes:apps/v1:Deployment")


def test_deployment_rolls_when_a_network_config_changes(run_stack):
    first, same, other = _deployment(run_stack, 1500), _deployment(run_stack, 1500), _deployment(run_stack, 9000)
    spec = first.inputs["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    template = spec["template"]["metadata"]["annotations"]
    assert template[NETWORKS] == "net-a"
    assert template[DIGEST_ANNOTATION] == same.inputs["spec"]["template"]["metadata"]["annotations"][DIGEST_ANNOTATION]
    assert template[DIGEST_ANNOTATION] != other.inputs["spec"]["template"]["metadata"]["annotations"][DIGEST_ANNOTATION]


def test_host_local_warning_counts_replicas():
    hl = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "ipam": {"type": "host-local", "subnet": "10.3.0.0/24"}}
    one = load_stack_config(config_of(networks=[{"name": "net-a", "config": hl}], workloads=[{"networks": "net-a"}]))
    many = load_stack_config(config_of(networks=[{"name": "net-a", "config": hl}],
                                       workloads=[{"kind": "Deployment", "replicas": 2, "networks": "net-a"}]))
    twice = load_stack_config(config_of(networks=[{"name": "net-a", "config": hl}], workloads=[{"networks": "net-a,net-a@data0"}]))
    assert one.warnings() == [] and twice.warnings() == []
    assert "2 pods use this network" in many.warnings()[0][1]


def _pod_trigger(run_stack, workload, **keys):
    run_ = run_stack(networks=NETWORKS_, workloads=[workload], **keys)
    return only(run_, POD).request.replacement_trigger.string_value, run_


def test_pod_is_replaced_when_its_selection_changes(run_stack):
    plain, _ = _pod_trigger(run_stack, {"networks": "plain"})
    again, _ = _pod_trigger(run_stack, {"networks": "plain"})
    renamed, _ = _pod_trigger(run_stack, {"networks": "plain@data0"})
    with_ips, _ = _pod_trigger(run_stack, {"networks": [{"name": "static-net", "ips": ["10.1.1.5/24"]}]})
    with_other_ips, _ = _pod_trigger(run_stack, {"networks": [{"name": "static-net", "ips": ["10.1.1.6/24"]}]})
    assert plain == again
    assert len({plain, renamed, with_ips, with_other_ips}) == 4


def test_a_replaced_pod_is_deleted_before_its_replacement_is_created(run_stack):
    """Same name, same object: create-before-delete would apply onto the old pod, then delete it."""
    _, pod_run = _pod_trigger(run_stack, {"networks": "plain"})
    deployment_run = run_stack(networks=NETWORKS_, workloads=[{"networks": "plain", "kind": "Deployment"}])
    assert only(pod_run, POD).request.deleteBeforeReplace is True
    deployment = only(deployment_run, "kubernetes:apps/v1:Deployment")
    assert deployment.request.deleteBeforeReplace is False  # rolled in place, never replaced by us


def test_default_network_dependency_and_trigger(run_stack):
    fabric = {"name": "fabric", "config": {"cniVersion": "0.3.1", "type": "bridge", "bridge": "fab0", "ipam": {}}}

    def render(net):
        run_ = run_stack(networks=[*NETWORKS_, net], workloads=[{"networks": "plain", "defaultNetwork": "fabric"}])
        pod = only(run_, POD)
        nads = {r.inputs["metadata"]["name"]: r.urn for r in run_.monitor.by_type("kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition")}
        return pod, nads

    pod, nads = render(fabric)
    assert {nads["fabric"], nads["plain"]} <= set(pod.dependencies)
    assert nads["static-net"] not in pod.dependencies
    changed, _ = render({**fabric, "config": {**fabric["config"], "mtu": 9000}})
    assert pod.request.replacement_trigger.string_value != changed.request.replacement_trigger.string_value


def test_a_bare_sample_workload_runs_the_same_attachment_checks(run_components):
    from components import NetworkAttachment, SampleWorkload

    def build(selection):
        def program():
            net = NetworkAttachment("plain", {"name": "plain", "config": PLAIN})
            SampleWorkload("probe", {"networks": selection}, networks=[net])
        return program

    with pytest.raises(ConfigError) as caught:
        run_components(build([{"name": "plain", "interface": "eth0", "ips": ["10.0.0.5/24"]}]))
    assert sorted(p.path for p in caught.value.problems) == [
        "SampleWorkload probe.networks[0].interface", "SampleWorkload probe.networks[0].ips"]
    run_components(build("plain,infra/created-elsewhere"))  # a NAD not passed in is someone else's


# niloysh/open5gs-k8s networks5g/network-attachments.yaml: static macvlan NADs without the ips
# capability; its network functions request their addresses with `ips` in the pod annotation.
OPEN5GS_N3 = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge", "ipam": {"type": "static"}}


def _findings(workload, network):
    stack = load_stack_config(config_of(networks=[{"name": "n3network", "config": network}]))
    return attachment_findings(WorkloadConfig.model_validate(workload), {n.key: n for n in stack.networks}, set(), "multus-cni")


def test_open5gs_static_network_without_the_ips_capability_is_accepted_with_a_warning():
    problems, warnings = _findings({"networks": [{"name": "n3network", "interface": "n3", "ips": ["10.10.3.1/24"]}]}, OPEN5GS_N3)
    assert problems == []
    [(loc, message)] = warnings
    assert loc == ("networks", 0, "ips")
    assert "passes the request as IP= in CNI_ARGS and its static IPAM reads it" in message


def test_open5gs_ips_warning_reaches_the_preview_on_the_workload(run_stack):
    run_ = run_stack(networks=[{"name": "n3network", "config": OPEN5GS_N3}],
                     workloads=[{"name": "upf", "networks": [{"name": "n3network", "interface": "n3", "ips": ["10.10.3.1/24"]}]}])
    assert any(w.startswith("multus-cni:workloads[0].networks[0].ips: network default/n3network does not declare") for w in run_.warnings)


def test_mac_request_on_macvlan_without_the_capability_warns():
    problems, warnings = _findings({"networks": [{"name": "n3network", "ips": ["10.10.3.1/24"], "mac": "02:00:00:00:00:01"}]}, OPEN5GS_N3)
    assert problems == []
    assert [loc for loc, _ in warnings] == [("networks", 0, "ips"), ("networks", 0, "mac")]
    assert "its macvlan plugin reads it" in warnings[1][1]


@pytest.mark.parametrize("ipam, ips, words", [
    ({"type": "whereabouts", "range": "10.10.3.0/24"}, ["10.10.3.5/24"], "its whereabouts IPAM does not read the IP="),
    ({"type": "dhcp"}, ["10.10.3.5/24"], "its dhcp IPAM does not read the IP="),
])
def test_ips_without_the_capability_stays_an_error_where_cni_args_cannot_carry_it(ipam, ips, words):
    problems, warnings = _findings({"networks": [{"name": "n3network", "ips": ips}]}, {**OPEN5GS_N3, "ipam": ipam})
    assert [loc for loc, _ in problems] == [("networks", 0, "ips")] and warnings == []
    assert words in problems[0][1]


def test_static_ipam_without_addresses_needs_an_ips_request_from_the_pod():
    """The real ADD fails with "IPAM plugin returned missing IP config" (test_conformance runs it)."""
    problems = _problems({"networks": "static-net"})
    assert problems == [
        "multus-cni:workloads[0].networks[0]: network default/static-net uses static IPAM without addresses, so ADD fails "
        "with \"IPAM plugin returned missing IP config\" unless the pod asks for one: request it here (ips: [<address>/<prefix>]) "
        "or give the network's ipam addresses"]
    load_stack_config(config_of(networks=NETWORKS_, workloads=[{"networks": [{"name": "static-net", "ips": ["10.1.1.5/24"]}]}]))
    load_stack_config(config_of(networks=NETWORKS_, workloads=[{"networks": [{"name": "static-net", "cni-args": {"ips": ["10.1.1.5/24"]}}]}]))


def test_open5gs_static_network_used_without_ips_names_the_capability_too():
    problems, _ = _findings({"networks": "n3network"}, OPEN5GS_N3)
    assert [loc for loc, _ in problems] == [("networks", 0)]
    assert "(ips: [<address>/<prefix>], and declare the ips capability)" in problems[0][1]


def test_static_ipam_without_addresses_cannot_be_a_default_network_override():
    problems = _problems({"networks": "plain", "defaultNetwork": "static-net"})
    assert [p.split(": ")[0] for p in problems] == ["multus-cni:workloads[0].defaultNetwork"]
    assert "takes no ips request" in problems[0]


def test_static_ipam_with_addresses_in_its_config_args_needs_no_request():
    args = {**STATIC, "plugins": [{**STATIC["plugins"][0], "args": {"cni": {"ips": ["10.1.1.9/24"]}}}, STATIC["plugins"][1]]}
    stack = load_stack_config(config_of(networks=[{"name": "static-net", "config": args}], workloads=[{"networks": "static-net"}]))
    assert not stack.networks[0].summary.addresses_from_pod
    assert [w for w in stack.warnings() if "ips" in w[1]] == []


@pytest.mark.parametrize("capabilities", [{}, {"ips": True}], ids=["without", "with"])
def test_static_requests_need_a_prefix_length_with_or_without_the_capability(capabilities):
    problems, _ = _findings({"networks": [{"name": "n3network", "ips": ["10.10.3.1"]}]}, {**OPEN5GS_N3, "capabilities": capabilities})
    assert [loc for loc, _ in problems] == [("networks", 0, "ips", 0)]
    assert "static IPAM takes addresses in CIDR form only" in problems[0][1]


@pytest.mark.parametrize("capabilities", [{}, {"ips": True}], ids=["without", "with"])
def test_dual_stack_host_local_cannot_take_two_requested_addresses_through_multus(capabilities):
    """Multus passes IP=a,b in CNI_ARGS; real host-local: "invalid IP address 10.1.0.5/24,10.2.0.5/24"."""
    ranges = {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64"}]]}
    problems, _ = _findings({"networks": [{"name": "n3network", "ips": ["10.1.0.5/24", "fd00::5/64"]}]},
                            {**OPEN5GS_N3, "capabilities": capabilities, "ipam": ranges})
    assert [loc for loc, _ in problems] == [("networks", 0, "ips")]
    assert "IP=10.1.0.5/24,fd00::5/64" in problems[0][1]


# --- the Python API: a wrong argument is a ConfigError naming it, never an AttributeError ---------

def _api_problems(run_components, build):
    with pytest.raises(ConfigError) as caught:
        run_components(build)
    return [str(p) for p in caught.value.problems]


def test_library_callers_get_config_errors_for_wrong_argument_types(run_components):
    from components import Multus, NetworkAttachment, SampleWorkload

    assert _api_problems(run_components, lambda: SampleWorkload("probe", {"networks": "plain"}, networks=[5])) == [
        "SampleWorkload probe.networks[0]: must be a NetworkAttachment, not the number 5"]
    assert _api_problems(run_components, lambda: SampleWorkload("probe", {"networks": "plain"}, networks="plain")) == [
        "SampleWorkload probe.networks: must be a list of NetworkAttachment components, not the text 'plain'"]
    assert _api_problems(run_components, lambda: NetworkAttachment("plain", {"name": "plain", "config": PLAIN}, multus="x")) == [
        "NetworkAttachment plain.multus: must be the Multus component (or another Pulumi resource) the NAD waits for, "
        "not the text 'x'"]
    assert _api_problems(run_components, lambda: Multus("", {})) == ["Multus name: must be non-empty text, not the text ''"]
    assert _api_problems(run_components, lambda: NetworkAttachment(None, {"name": "plain", "config": PLAIN})) == [
        "NetworkAttachment name: must be non-empty text, not null"]
    assert _api_problems(run_components, lambda: Multus("multus", "x")) == [
        "Multus multus: must be an object (key: value mapping), not the text 'x'"]


def test_a_local_image_runs_if_not_present_and_the_configured_one_keeps_the_api_default(run_components):
    from components import NetworkAttachment, SampleWorkload

    def pods(image):
        def program():
            net = NetworkAttachment("plain", {"name": "plain", "config": PLAIN})
            SampleWorkload("probe", {"name": "probe", "image": "docker.io/library/alpine:3.22", "networks": "plain"},
                           networks=[net], image=image)
        return [c["spec"]["containers"] for c in (r.inputs for r in run_components(program).monitor.by_type(POD))]

    (local,) = pods("localhost/multus-cni/sample:b1")
    assert [(c["image"], c["imagePullPolicy"]) for c in local] == [("localhost/multus-cni/sample:b1", "IfNotPresent")]
    (configured,) = pods(None)
    assert [c["image"] for c in configured] == ["docker.io/library/alpine:3.22"]
    assert "imagePullPolicy" not in configured[0]
