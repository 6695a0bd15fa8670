"""`multus-cni:cniPlugins`: the DaemonSet that copies the reference plugins onto every node, its
config errors, and the warnings for plugins the nodes are not known to have."""

from __future__ import annotations

import subprocess

import pytest

from components.cni_plugins import CniPlugins, manifests
from components.config import ConfigError, load_stack_config
from components.config.addons import DEFAULT_PLUGINS
from conftest import DAEMONSET, NAD, children_of, config_of, only

CNI_PLUGINS = "multus-cni:index:CniPlugins"
MACVLAN = {"name": "mv", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
                                    "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"}}}
CHAIN = {"name": "br", "config": {"cniVersion": "0.4.0", "plugins": [
    {"type": "bridge", "bridge": "br0", "ipam": {"type": "host-local", "subnet": "10.2.0.0/24"}},
    {"type": "tuning", "sysctl": {"net.ipv4.conf.all.log_martians": "1"}}]}}


def _problems(**keys) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_config(config_of(**keys))
    return [str(p) for p in caught.value.problems]


def _plugin_warnings(run_) -> list[str]:
    return [w for w in run_.warnings if w.startswith("multus-cni:cniPlugins:")]


def test_off_by_default_creates_nothing(run_stack):
    run_ = run_stack(networks=[MACVLAN])
    assert run_.monitor.by_type(CNI_PLUGINS) == []
    assert [r.inputs["metadata"]["name"] for r in run_.monitor.by_type(DAEMONSET)] == ["kube-multus-ds"]
    assert "cniPluginsDaemonSet" not in run_.outputs


def test_off_warns_once_per_plugin_type_naming_every_network_using_it(run_stack):
    other = {"name": "mv2", "config": {**MACVLAN["config"], "master": "eth1", "ipam": {"type": "host-local", "subnet": "10.3.0.0/24"}}}
    run_ = run_stack(networks=[MACVLAN, CHAIN, other])
    warned = _plugin_warnings(run_)
    types = [w.split("'")[1] for w in warned]
    assert types == ["bridge", "host-local", "macvlan", "tuning"]  # sorted, each once
    host_local = next(w for w in warned if "'host-local'" in w)
    assert "(used by networks[0], networks[1], networks[2])" in host_local
    assert "set cniPlugins.enabled: true" in host_local


def test_preinstalled_plugins_are_not_warned_about(run_stack):
    run_ = run_stack(networks=[MACVLAN], cniPlugins={"preinstalled": ["macvlan"]})
    assert [w.split("'")[1] for w in _plugin_warnings(run_)] == ["host-local"]


def test_enabled_installs_the_pinned_image_with_the_plugin_list(run_stack):
    run_ = run_stack(networks=[MACVLAN], cniPlugins={"enabled": True})
    component = only(run_, CNI_PLUGINS)
    assert not component.protect
    [daemonset] = children_of(run_, component.urn)
    assert daemonset.name == "cni-plugins-daemonset" and not daemonset.protect
    spec = daemonset.inputs["spec"]["template"]["spec"]
    [init] = spec["initContainers"]
    # the pinned images docs/addons.md names (a changed pin must change the docs too)
    assert init["image"] == "docker.io/rancher/hardened-cni-plugins:v1.9.1-build20260717"
    assert init["securityContext"] == {"privileged": True}
    assert init["command"][4:] == list(DEFAULT_PLUGINS)
    assert {"macvlan", "host-local", "bridge", "static", "tuning"} <= set(init["command"][4:])
    assert init["volumeMounts"] == [{"name": "cnibin", "mountPath": "/host/opt/cni/bin"}]
    assert spec["volumes"][0]["hostPath"]["path"] == "/opt/cni/bin"
    assert spec["hostNetwork"] is True  # starts before the pod network, takes no address from it
    [pause] = spec["containers"]
    assert pause["image"] == "registry.k8s.io/pause:3.10.2" and "volumeMounts" not in pause
    assert pause["securityContext"]["runAsNonRoot"] and not pause["securityContext"]["allowPrivilegeEscalation"]
    assert _plugin_warnings(run_) == []
    assert run_.outputs["cniPluginsDaemonSet"] == "cni-plugins"


def test_every_nad_waits_for_the_plugins_when_enabled(run_stack):
    run_ = run_stack(networks=[MACVLAN, CHAIN], cniPlugins={"enabled": True})
    [daemonset] = children_of(run_, only(run_, CNI_PLUGINS).urn)
    for nad in run_.monitor.by_type(NAD):
        assert daemonset.urn in nad.dependencies or only(run_, CNI_PLUGINS).urn in nad.dependencies, nad.name


def test_a_plugin_left_out_of_the_list_is_warned_about(run_stack):
    run_ = run_stack(networks=[MACVLAN, CHAIN], cniPlugins={"enabled": True, "plugins": ["macvlan", "host-local"]})
    warned = _plugin_warnings(run_)
    assert [w.split("'")[1] for w in warned] == ["bridge", "tuning"]
    assert all("list it in cniPlugins.plugins" in w for w in warned)


def test_the_copy_is_atomic_and_copies_exactly_the_listed_plugins(tmp_path):
    """The init container's script, run by a real sh on fake directories."""
    cfg = load_stack_config(config_of(cniPlugins={"enabled": True, "plugins": ["macvlan", "static"]})).cniPlugins
    command = manifests.daemonset(cfg)["spec"]["template"]["spec"]["initContainers"][0]["command"]
    image_bin, host_bin = tmp_path / "image", tmp_path / "host"
    image_bin.mkdir(), host_bin.mkdir()
    for name in ("macvlan", "static", "bridge"):
        (image_bin / name).write_text(f"#!/bin/sh\necho {name}\n")
    (host_bin / "macvlan").write_text("old")
    script = command[2].replace(manifests.HOST_BIN, str(host_bin)).replace(manifests.IMAGE_BIN, str(image_bin))  # host first: it contains the other
    done = subprocess.run(["sh", "-c", script, *command[3:]], capture_output=True, text=True, check=True)
    assert sorted(p.name for p in host_bin.iterdir()) == ["macvlan", "static"]  # no temp file left, no bridge
    assert (host_bin / "macvlan").read_text() == "#!/bin/sh\necho macvlan\n"
    assert done.stdout.splitlines() == ["installed macvlan", "installed static"]


@pytest.mark.parametrize("keys, expected", [
    ({"image": "docker.io/rancher/hardened-cni-plugins"}, "multus-cni:cniPlugins.image: image 'docker.io/rancher/hardened-cni-plugins' has no tag"),
    ({"image": "docker.io/rancher/hardened-cni-plugins:latest"}, "uses the moving tag 'latest'"),
    ({"pauseImage": "Not An Image"}, "multus-cni:cniPlugins.pauseImage:"),
    ({"plugins": []}, "multus-cni:cniPlugins.plugins: must list at least one plugin"),
    ({"plugins": ["macvlan", "macvlan"]}, "multus-cni:cniPlugins.plugins[1]: 'macvlan' is listed twice"),
    ({"plugins": ["../../bin/sh"]}, "multus-cni:cniPlugins.plugins[0]: '../../bin/sh' is not a plugin file name"),
    ({"plugins": ["macvlan", "whereabouts"]}, "multus-cni:cniPlugins.plugins[1]: 'whereabouts' is not in docker.io/rancher/hardened-cni-plugins"),
    ({"preinstalled": ["sriov", "a b"]}, "multus-cni:cniPlugins.preinstalled[1]: 'a b' is not a plugin file name"),
    ({"enabeld": True}, "multus-cni:cniPlugins.enabeld:"),
])
def test_config_errors_name_the_key(keys, expected):
    problems = _problems(cniPlugins=keys)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("multus-cni:cniPlugins") for p in problems)


def test_another_image_may_hold_other_plugins(run_stack):
    run_ = run_stack(cniPlugins={"enabled": True, "image": "registry.example.com/cni/plugins:1.2.3", "plugins": ["sriov"]})
    [daemonset] = children_of(run_, only(run_, CNI_PLUGINS).urn)
    assert daemonset.inputs["spec"]["template"]["spec"]["initContainers"][0]["command"][4:] == ["sriov"]


def test_component_from_python_with_a_bad_argument_names_it(run_components):
    with pytest.raises(ConfigError) as caught:
        run_components(lambda: CniPlugins("p", {"plugins": "macvlan"}))
    assert str(caught.value.problems[0]).startswith("CniPlugins p.plugins:")


def test_a_warning_names_five_networks_then_counts_the_rest():
    networks = [{"name": f"n{i}", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": f"eth{i}", "ipam": {}}}
                for i in range(8)]
    [(loc, message)] = load_stack_config(config_of(networks=networks)).addon_warnings()
    assert loc == ("cniPlugins",)
    assert "(used by networks[0], networks[1], networks[2], networks[3], networks[4] and 3 more)" in message
