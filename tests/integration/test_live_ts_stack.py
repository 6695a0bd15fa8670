"""examples/ts-stack, the guide in TypeScript through the component package, on the real engine with
the toolchain's Node.js language host: `pulumi package add` generates the typed SDK, `pulumi up`
deploys Multus, macvlan-conf, sample-pod, the CNI plugins and whereabouts to the session's cluster,
a second preview has nothing to do, and `pulumi destroy` is refused by Multus's protection.

One project copy and one stack for the module (the steps build on each other, in file order):
npm installs take the longest part, so they are paid once.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import Stack, _bash, said, with_package

PACKAGE_NAME = "@pulumi/multus-cni"


@pytest.fixture(scope="module")
def ts_parts(toolchain):
    """The Node.js parts of the toolchain (not every live test needs them)."""
    missing = _bash(". toolchain/lib.sh; for p in node nodejs_host; do present $p || echo $p; done").split()
    if missing:
        reason = f"the live toolchain has no {', '.join(missing)}: run `bash toolchain/build.sh {' '.join(missing)}`"
        if os.environ.get("REQUIRE_LIVE") == "1":
            pytest.fail(f"REQUIRE_LIVE=1 but {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def project(ts_parts, module_stacks) -> Path:
    with_package(module_stacks.workdir)
    return module_stacks.workdir / "examples" / "ts-stack"


@pytest.fixture(scope="module")
def added(project, module_stacks) -> subprocess.CompletedProcess:
    """`pulumi package add ../../provider`, as the example's README says (SDK, link, npm install)."""
    return subprocess.run(["pulumi", "package", "add", "../../provider", "--non-interactive"], cwd=project,
                          env=module_stacks.env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def stack(added, project, module_stacks) -> Stack:
    assert added.returncode == 0, f"pulumi package add failed:\n{added.stdout}\n{added.stderr}"
    return module_stacks("ts", config_from=None, project_dir=project)


def tsc(project: Path, env: dict[str, str], *files: str) -> subprocess.CompletedProcess:
    return subprocess.run(["npx", "tsc", "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022",
                           "--module", "commonjs", "--moduleResolution", "node", *files],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_package_add_generates_a_typed_sdk_and_links_it(added, project, module_stacks):
    assert added.returncode == 0, f"pulumi package add failed:\n{added.stdout}\n{added.stderr}"
    sdk = json.loads((project / "sdks/multus-cni/package.json").read_text())
    assert (sdk["name"], sdk["pulumi"]["name"], sdk["pulumi"]["resource"]) == (PACKAGE_NAME, "multus-cni", True)
    assert json.loads((project / "package.json").read_text())["dependencies"][PACKAGE_NAME] == "file:sdks/multus-cni"
    assert yaml.safe_load((project / "Pulumi.yaml").read_text())["packages"] == {"multus-cni": "../../provider"}
    assert said(added, f'import * as multusCni from "{PACKAGE_NAME}";')
    # Typed: the example compiles against the SDK, and a wrong argument type does not (one tsc run).
    (project / "wrong.ts").write_text(
        f'import * as m from "{PACKAGE_NAME}";\nnew m.NetworkAttachment("x", {{ name: 7, config: {{}} }});\n')
    checked = tsc(project, module_stacks.env, "index.ts", "wrong.ts")
    (project / "wrong.ts").unlink()
    errors = [line for line in checked.stdout.splitlines() if ": error TS" in line]
    assert checked.returncode != 0 and len(errors) == 1, checked.stdout
    assert errors[0].startswith("wrong.ts(2,") and "'number' is not assignable to type 'Input<string>'" in errors[0]


def test_up_deploys_multus_the_guides_network_and_its_pod(stack, cluster):
    stack.up()
    assert stack.outputs() == {"multusNamespace": "kube-system", "multusDaemonSet": "kube-multus-ds",
                               "network": "default/macvlan-conf", "cniPluginsDaemonSet": "cni-plugins",
                               "whereaboutsServiceAccount": "whereabouts"}
    daemonset = cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")
    assert daemonset["status"]["numberReady"] == daemonset["status"]["desiredNumberScheduled"] == 2
    nad = cluster.get("network-attachment-definitions.k8s.cni.cncf.io", "-n", "default", "macvlan-conf")
    config = json.loads(nad["spec"]["config"])
    assert (config["type"], config["master"], config["ipam"]["rangeStart"]) == ("macvlan", "eth0", "192.168.1.200")
    pod = cluster.get("pod", "-n", "default", "sample-pod")
    assert "macvlan-conf" in pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]
    assert pod["status"]["phase"] == "Running"


def test_up_installs_the_optional_parts(stack, cluster):
    plugins = cluster.get("daemonset", "-n", "kube-system", "cni-plugins")["spec"]["template"]["spec"]
    assert plugins["initContainers"][0]["command"][-2:] == ["macvlan", "host-local"]
    binding = cluster.get("clusterrolebinding", "whereabouts")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "whereabouts", "namespace": "kube-system"}]
    crds = {c["metadata"]["name"] for c in cluster.get("crd")["items"]}
    assert {f"{p}.whereabouts.cni.cncf.io" for p in ("ippools", "overlappingrangeipreservations", "nodeslicepools")} <= crds
    # Neither is protected (unlike Multus): the state says so, as the components do.
    parts = [r for r in stack.state() if r["type"] in ("multus-cni:index:CniPlugins", "multus-cni:index:Whereabouts")]
    assert len(parts) == 2 and not any(r.get("protect") for r in parts)


def test_a_second_preview_has_nothing_to_do(stack):
    preview = stack.pulumi("preview", "--expect-no-changes", check=False)
    assert preview.returncode == 0, preview.stdout + preview.stderr


def test_destroy_is_refused_by_multus_protection(stack, cluster):
    done = stack.pulumi("destroy", "--yes", "--skip-preview", check=False)
    assert done.returncode != 0 and said(done, "cannot be deleted because it is protected")
    assert cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")["metadata"]["name"] == "kube-multus-ds"
    assert "multus-cni:index:Multus" in [r["type"] for r in stack.state()]
