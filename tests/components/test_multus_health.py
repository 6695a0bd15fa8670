"""Keeping Multus healthy: credentials that refresh, Guaranteed QoS with typed resources, and the
readiness indicator, in the rendered objects, the config warnings and the policy pack."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from components.config import ConfigError, MultusConfig, validate
from components.config.multus_health import (
    DEFAULT_PODS_PER_NODE, quantity_value, refresh_problem, thick_memory_needed, thin_flags,
)
from components.multus import manifests
from conftest import DAEMONSET, guide_values, only
from policy import multus_policies as mp
from test_policy import violations

# Multus v4.3.0 deployments/multus-daemonset.yml, the thin container's args.
UPSTREAM_ARGS = ["--multus-conf-file=auto", "--multus-autoconfig-dir=/host/etc/cni/net.d", "--cni-conf-dir=/host/etc/cni/net.d"]
REFRESH = "--cleanup-config-on-exit=true"


def _pod_spec(run_) -> dict:
    return only(run_, DAEMONSET).inputs["spec"]["template"]["spec"]


def _warnings_at(run_, key: str) -> list[str]:
    return [w for w in run_.warnings if w.startswith(f"multus-cni:multus.{key}:")]


def _problems(multus: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        validate(MultusConfig, multus, "multus-cni:multus")
    return [str(p) for p in caught.value.problems]


def qos_class(spec: dict) -> str:
    """Kubernetes' QoS class of a pod spec (pkg/apis/core/helper/qos/qos.go, without the pod-level
    resources of 1.34+): Guaranteed when every container, init containers included, limits CPU and memory
    and requests the same (an unset request defaults to the limit); BestEffort with none at all."""
    containers = spec.get("initContainers", []) + spec["containers"]
    if not any(c.get("resources") for c in containers):
        return "BestEffort"
    for c in containers:
        limits, requests = c.get("resources", {}).get("limits", {}), c.get("resources", {}).get("requests", {})
        for key in ("cpu", "memory"):
            if key not in limits or quantity_value(requests.get(key, limits[key])) != quantity_value(limits[key]):
                return "Burstable"
    return "Guaranteed"


# --- credentials ---------------------------------------------------------------------------------

def test_default_thin_args_are_upstreams_plus_the_refresh_flag(run_stack):
    run_ = run_stack()
    args = _pod_spec(run_)["containers"][0]["args"]
    assert args == [*UPSTREAM_ARGS, REFRESH]
    assert refresh_problem(args) is None
    assert refresh_problem(UPSTREAM_ARGS) is not None  # upstream's own args cannot refresh
    assert _warnings_at(run_, "daemonset.args") == []


def test_user_args_that_cannot_refresh_warn_naming_the_flag(run_stack):
    run_ = run_stack(multus={"daemonset": {"args": UPSTREAM_ARGS}})
    assert _pod_spec(run_)["containers"][0]["args"] == UPSTREAM_ARGS  # used verbatim, as before
    [warning] = _warnings_at(run_, "daemonset.args")
    assert "they lack '--cleanup-config-on-exit=true'" in warning
    assert "'Unauthorized'" in warning and warning.endswith("add '--cleanup-config-on-exit=true'")


@pytest.mark.parametrize("extra, why", [
    (["--cleanup-config-on-exit"], None),  # a bare bool flag is true for pflag
    (["--cleanup-config-on-exit=1"], None),
    (["--cleanup-config-on-exit=false"], "they lack"),
    ([REFRESH, "--cleanup-config-on-exit=false"], "they lack"),  # the last one wins
    ([REFRESH, "--skip-config-watch"], "'--skip-config-watch' turns the loop off"),
    ([REFRESH, "--skip-config-watch=false"], None),
    ([REFRESH, "--multus-conf-file", "/tmp/multus-conf/70-multus.conf"], "'--multus-conf-file=/tmp/multus-conf/70-multus.conf' is not 'auto'"),
])
def test_refresh_reads_the_args_as_pflag_does(extra, why):
    problem = refresh_problem([*UPSTREAM_ARGS, *extra])
    assert problem is None if why is None else why in problem


def test_a_string_flag_takes_the_next_argument_a_bool_flag_does_not():
    assert thin_flags(["--cleanup-config-on-exit", "--multus-conf-file", "x.conf", "stray"]) == {
        "cleanup-config-on-exit": "true", "multus-conf-file": "x.conf"}


def test_v3_and_thick_layouts_have_no_thin_entrypoint_to_warn_about(run_stack):
    """v3 images run /entrypoint.sh, whose flags differ; thick takes no args."""
    v3 = _warnings_at(run_stack(multus=guide_values()), "daemonset.args")
    assert v3 and not any("never refresh" in w for w in v3)  # only the --cni-version warning
    assert _warnings_at(run_stack(multus={"flavor": "thick"}), "daemonset.args") == []


def test_the_pack_flags_a_thin_daemonset_whose_args_cannot_refresh(run_stack):
    assert violations(mp.multus_credentials_refresh, run_stack()) == {}
    assert violations(mp.multus_credentials_refresh, run_stack(multus={"flavor": "thick"})) == {}
    found = violations(mp.multus_credentials_refresh, run_stack(multus={"daemonset": {"args": UPSTREAM_ARGS}}))
    [message] = found["multus-daemonset"]
    assert message.startswith("spec.template.spec.containers[0].args: these arguments never refresh")
    assert "--cleanup-config-on-exit=true" in message


# --- resources -----------------------------------------------------------------------------------

@pytest.mark.parametrize("multus", [{}, {"flavor": "thick"}, {"image": {"tag": "v3.9.3"}}], ids=["thin", "thick", "v3.9"])
def test_defaults_make_the_multus_pod_guaranteed(run_stack, multus):
    spec = _pod_spec(run_stack(multus=multus))
    assert spec.get("initContainers"), "every layout here has an init container"
    assert qos_class(spec) == "Guaranteed"


def test_default_amounts_thin_upstreams_thick_raised_from_50Mi(run_stack):
    thin = _pod_spec(run_stack())["containers"][0]["resources"]
    thick = _pod_spec(run_stack(multus={"flavor": "thick"}))["containers"][0]["resources"]
    assert thin["limits"] == {"cpu": "100m", "memory": "50Mi"}  # v4.3.0 deployments/multus-daemonset.yml
    assert quantity_value(thick["limits"]["memory"]) > quantity_value("50Mi")  # OOM-killed at 50Mi: multus-cni#1346
    assert quantity_value(thick["limits"]["memory"]) >= thick_memory_needed(DEFAULT_PODS_PER_NODE)  # bench/, measured


def test_the_init_container_follows_the_daemon_unless_set(run_stack):
    amounts = {"cpu": "250m", "memory": "300Mi"}
    spec = _pod_spec(run_stack(multus={"flavor": "thick", "resources": {"daemon": {"requests": amounts, "limits": amounts}}}))
    assert spec["containers"][0]["resources"] == {"requests": amounts, "limits": amounts}
    assert spec["initContainers"][0]["resources"] == {"requests": amounts, "limits": amounts}
    assert qos_class(spec) == "Guaranteed"
    small = {"cpu": "10m", "memory": "15Mi"}
    spec = _pod_spec(run_stack(multus={"resources": {"init": {"requests": small, "limits": small}}}))
    assert spec["initContainers"][0]["resources"]["limits"] == small
    assert spec["containers"][0]["resources"]["limits"] == {"cpu": "100m", "memory": "50Mi"}


def test_resources_that_are_not_guaranteed_warn_and_the_pack_flags_them(run_stack):
    run_ = run_stack(multus={"resources": {"init": {"requests": {"cpu": "10m", "memory": "15Mi"}}}})
    spec = _pod_spec(run_)
    assert qos_class(spec) == "Burstable"
    [warning] = _warnings_at(run_, "resources.init")
    assert "not Guaranteed QoS" in warning and "multus-cni#1160" in warning
    [message] = violations(mp.multus_guaranteed, run_)["multus-daemonset"]
    assert "initContainers[0] (install-multus-binary) has no cpu limit" in message
    assert violations(mp.multus_guaranteed, run_stack()) == {}


def _thick_memory(run_, pods=None) -> dict[str, list[str]]:
    return violations(mp.multus_thick_memory, run_, None if pods is None else {"podsPerNode": pods})


def test_the_thick_default_holds_the_measured_burst_of_a_full_node_and_upstreams_50Mi_does_not(run_stack):
    assert _thick_memory(run_stack(multus={"flavor": "thick"})) == {}
    amounts = {"cpu": "100m", "memory": "50Mi"}  # upstream's v4.3.0 multus-daemonset-thick.yml
    upstream = run_stack(multus={"flavor": "thick", "resources": {"daemon": {"requests": amounts, "limits": amounts}}})
    [message] = _thick_memory(upstream)["multus-daemonset"]
    assert message.startswith("spec.template.spec.containers[0].resources.limits.memory '50Mi' is below the 172Mi")
    assert "for 110 pods" in message
    # A node of 300 pods needs more than the default; 10 pods fit in far less (measured: 25 MiB + the binary).
    assert _thick_memory(run_stack(multus={"flavor": "thick"}), pods=300)
    assert violations(mp.multus_thick_memory, upstream, {"podsPerNode": 1}) != {}  # 59Mi even when idle
    assert _thick_memory(run_stack()) == {}  # thin runs no daemon of that kind


@pytest.mark.parametrize("resources, expected", [
    ({"daemon": {"limits": {"memory": "50MB"}}},
     "multus-cni:multus.resources.daemon.limits.memory: '50MB' is not a Kubernetes quantity such as '100m' (CPU) or '64Mi' (memory)"),
    ({"init": {"requests": {"cpu": "-1"}}}, "multus-cni:multus.resources.init.requests.cpu: '-1' is negative"),
    ({"daemon": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}},
     "multus-cni:multus.resources.daemon: requests.memory '1Gi' is above limits.memory '512Mi'; Kubernetes refuses that pod"),
])
def test_resources_are_validated_as_quantities_in_the_users_words(resources, expected):
    assert _problems({"resources": resources}) == [expected]


def test_an_unknown_resources_key_is_an_error():
    [problem] = _problems({"resources": {"deamon": {}}})
    assert problem.startswith("multus-cni:multus.resources.deamon:") and "'daemon'" in problem


@pytest.mark.parametrize("text, amount", [("100m", Decimal("0.1")), ("50Mi", 50 * 2**20), ("1", 1), ("1.5", Decimal("1.5")),
                                          ("2k", 2000), ("1e3", 1000), ("128974848", 128974848)])
def test_quantities_mean_what_kubernetes_says(text, amount):
    assert quantity_value(text) == amount


def test_a_yaml_number_is_a_quantity_too(run_stack):
    amounts = {"cpu": 1, "memory": "100Mi"}
    spec = _pod_spec(run_stack(multus={"resources": {"daemon": {"requests": amounts, "limits": amounts}}}))
    assert spec["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "100Mi"}


# --- readiness ----------------------------------------------------------------------------------

def test_the_readiness_indicator_is_off_by_default(run_stack):
    assert not any(a.startswith("--readiness-indicator-file") for a in _pod_spec(run_stack())["containers"][0]["args"])
    daemon = json.loads(manifests.config_map(MultusConfig(flavor="thick"))["data"]["daemon-config.json"])
    assert "readinessindicatorfile" not in daemon


def test_thin_passes_the_node_path_to_thin_entrypoint(run_stack):
    args = _pod_spec(run_stack(multus={"readinessIndicatorFile": "/run/flannel/subnet.env"}))["containers"][0]["args"]
    assert args == [*UPSTREAM_ARGS, REFRESH, "--readiness-indicator-file=/run/flannel/subnet.env"]
    user = _pod_spec(run_stack(multus={"readinessIndicatorFile": "/run/flannel/subnet.env",
                                       "daemonset": {"args": [*UPSTREAM_ARGS, REFRESH]}}))["containers"][0]["args"]
    assert user[-1] == "--readiness-indicator-file=/run/flannel/subnet.env"


def test_thick_reads_the_node_file_through_its_hostroot_mount(run_stack):
    run_ = run_stack(multus={"flavor": "thick", "readinessIndicatorFile": "/run/flannel/subnet.env"})
    config_map = next(r.inputs for r in run_.monitor.registrations if r.inputs.get("kind") == "ConfigMap")
    daemon = json.loads(config_map["data"]["daemon-config.json"])
    assert daemon["readinessindicatorfile"] == "/hostroot/run/flannel/subnet.env"
    hostroot = next(v for v in _pod_spec(run_)["volumes"] if v["name"] == "hostroot")
    assert hostroot["hostPath"]["path"] == "/"
    mount = next(m for m in _pod_spec(run_)["containers"][0]["volumeMounts"] if m["name"] == "hostroot")
    assert mount["mountPath"] == "/hostroot"


@pytest.mark.parametrize("multus, expected", [
    ({"readinessIndicatorFile": "run/flannel/subnet.env"},
     "multus-cni:multus.readinessIndicatorFile: 'run/flannel/subnet.env' is not an absolute path on the node such as '/run/flannel/subnet.env'"),
    ({"readinessIndicatorFile": "/run/../etc/x"},
     "multus-cni:multus.readinessIndicatorFile: '/run/../etc/x' must be a plain absolute file path (no '..', '//' or trailing '/')"),
    ({"readinessIndicatorFile": "/a", "daemonset": {"args": ["--readiness-indicator-file=/b", REFRESH]}},
     "multus-cni:multus.readinessIndicatorFile: daemonset.args already sets --readiness-indicator-file; set the file in one place"),
    ({"readinessIndicatorFile": "/a", "image": {"tag": "v3.9.3"}},
     "multus-cni:multus.readinessIndicatorFile: needs a Multus v4 image (thin_entrypoint's --readiness-indicator-file or the "
     "thick daemon's readinessindicatorfile); 'ghcr.io/k8snetworkplumbingwg/multus-cni:v3.9.3' is a v3 image"),
    ({"readinessIndicatorFile": "/a", "mode": "tanzu-package"},
     "multus-cni:multus.readinessIndicatorFile: is not used in tanzu-package mode: the package's bundle renders the DaemonSet; use mode 'manifest'"),
])
def test_readiness_indicator_errors_name_the_key(multus, expected):
    assert _problems(multus) == [expected]
