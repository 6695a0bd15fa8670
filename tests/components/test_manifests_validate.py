"""Every object a render produces is valid Kubernetes for each supported minor, and every NAD is
valid for the CRD this project installs. Custom resources have no built-in schema: the test says
which ones it checks another way, and any other kind without a schema fails."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError

from components import testing

from multus_cni_cli import render, stackfile
from components.annotations import NAD_API_VERSION, NAD_KIND
from components.multus.manifests import nad_schema
from components.multus.tanzu import PACKAGE_API_VERSION
from conftest import PROGRAM, PROJECT, ROOT, config_of

# The three newest minors kubernetes-validate 1.37.0 ships schemas for (it has 1.25 to 1.37).
KUBERNETES_VERSIONS = ("1.35", "1.36", "1.37")
# Custom resources: NADs are checked against the CRD's own schema; PackageInstall belongs to
# kapp-controller, whose CRD this project neither ships nor installs.
NAD = (NAD_API_VERSION, NAD_KIND)
NOT_CHECKED = {(PACKAGE_API_VERSION, "PackageInstall")}

BRIDGE = {"cniVersion": "0.3.1", "type": "bridge", "bridge": "br-data", "ipam": {"type": "host-local", "subnet": "10.10.0.0/24"}}
CONFIGS = {
    "dev": None,  # Pulumi.dev.yaml
    "thick": {"multus": {"flavor": "thick"}},
    "tanzu-package": {"multus": {"mode": "tanzu-package", "image": {"tag": "v4.3.0"}}},
    "legacy-v3": {"multus": {"image": {"repository": "docker.io/nfvpe", "name": "multus", "tag": "v3.7.1"}}},
    "multi-network": {
        "networks": [
            {"name": "macvlan-a", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                             "ipam": {"type": "static", "addresses": [{"address": "192.168.5.10/24"}]}}},
            {"name": "bridge-b", "namespace": "team", "config": BRIDGE,
             "annotations": {"k8s.v1.cni.cncf.io/resourceName": "example.com/bridge"}},
            {"name": "chain-c", "namespace": "team", "config": {"cniVersion": "0.4.0", "plugins": [
                {**BRIDGE, "bridge": "br-chain", "ipam": {"type": "host-local", "subnet": "10.11.0.0/24"}},
                {"type": "tuning", "sysctl": {"net.ipv4.conf.all.log_martians": "1"}}]}},
        ],
        "workloads": [
            {"name": "probe-a", "networks": "macvlan-a,team/bridge-b@data0"},
            {"name": "probe-b", "namespace": "team", "networks": ["bridge-b", "chain-c"], "image": "docker.io/library/busybox:1.37"},
        ],
    },
    "addons": {  # cniPlugins and whereabouts: their DaemonSets, RBAC, ConfigMap and CRDs
        "cniPlugins": {"enabled": True},
        "whereabouts": {"enabled": True},
        "networks": [{"name": "wa", "config": {**BRIDGE, "ipam": {"type": "whereabouts", "range": "10.13.0.0/24"}}}],
    },
    "deployment-json-annotation": {
        "networks": [
            {"name": "static-s", "config": {"cniVersion": "0.3.1", "plugins": [
                {"type": "macvlan", "master": "eth1", "capabilities": {"ips": True}, "ipam": {"type": "static"}},
                {"type": "tuning", "capabilities": {"mac": True}}]}},
            {"name": "fabric", "config": {**BRIDGE, "bridge": "br-fabric", "ipam": {"type": "whereabouts", "range": "10.12.0.0/24"}}},
        ],
        "workloads": [
            {"name": "pinned", "networks": [{"name": "static-s", "ips": ["10.20.0.5/24"], "mac": "c2:b0:57:49:47:f1",
                                             "default-route": ["10.20.0.1"]}], "defaultNetwork": "fabric"},
            {"name": "web", "kind": "Deployment", "replicas": 3, "networks": "fabric@data0"},
        ],
    },
}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def rendered(request) -> tuple[str, list[dict]]:
    """(config name, the manifests `multus-cni render` prints for it)."""
    keys = CONFIGS[request.param]
    config = stackfile.load_config(ROOT / "Pulumi.dev.yaml") if keys is None else config_of(**keys)
    run_ = testing.run_file(PROGRAM, PROJECT, request.param, config)
    return request.param, render.kubernetes_objects(run_)


def _label(obj: dict) -> str:
    meta = obj.get("metadata", {})
    return f"{obj['kind']} {meta.get('namespace', '')}/{meta.get('name')}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_kubernetes(rendered, version):
    name, objects = rendered
    validated, custom = [], []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
            validated.append(obj)
        except SchemaNotFoundError:
            key = (obj["apiVersion"], obj["kind"])
            assert key == NAD or key in NOT_CHECKED, f"{name}: no schema for {_label(obj)} and no other check"
            custom.append(obj)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {_label(obj)} is not valid for Kubernetes {version}: {exc.message} at {list(exc.path)}")
    assert any(o["kind"] in ("DaemonSet", "PackageInstall") for o in objects), "no Multus install rendered"
    assert validated, "nothing was validated"


def test_every_nad_matches_the_crd_schema(rendered):
    name, objects = rendered
    validator = jsonschema.Draft7Validator(nad_schema())
    nads = [o for o in objects if (o["apiVersion"], o["kind"]) == NAD]
    for nad in nads:
        errors = [e.message for e in validator.iter_errors(nad)]
        assert errors == [], f"{name}: {_label(nad)}: {errors}"
    if CONFIGS[name] is None or "networks" in CONFIGS[name]:
        assert nads, f"{name}: no NAD rendered"


def test_an_invalid_object_is_caught():
    """The schemas really bite: an unknown field (strict) and a wrong type are both rejected."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    kubernetes_validate.validate(pod, KUBERNETES_VERSIONS[0], strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**pod, "spec": {**pod["spec"], "hostNetwerk": True}}, KUBERNETES_VERSIONS[0], strict=True)
    bad_nad = {"apiVersion": NAD_API_VERSION, "kind": NAD_KIND, "metadata": {"name": "n"}, "spec": {"config": {"type": "bridge"}}}
    assert list(jsonschema.Draft7Validator(nad_schema()).iter_errors(bad_nad))
