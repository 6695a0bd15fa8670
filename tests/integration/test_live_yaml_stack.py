"""The component package on the real engine, from Pulumi YAML: examples/yaml-stack deploys Multus,
the guide's macvlan-conf and sample-pod, the CNI plugins and whereabouts through the Python plugin
(provider/), a second preview
is empty, `pulumi destroy` is refused by the protection, and a bad network fails the preview
with its path, not a traceback. One project copy and one deployed stack for the module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from provider import version
from provider.schema import package_schema
from .conftest import Stacks, rendered_objects, said, with_package

pytestmark = pytest.mark.live

BAD_NETWORK = """\
name: multus-yaml-bad
runtime: yaml
packages:
  multus-cni: ../../provider
resources:
  bad-net:
    type: multus-cni:NetworkAttachment
    properties:
      name: bad-net
      config: {cniVersion: 0.3.1, type: macvlan, master: eth0, mode: bridgee}
"""


@pytest.fixture(scope="module")
def project(toolchain, module_stacks) -> Stacks:
    if shutil.which("pulumi-language-yaml", path=toolchain["PATH"]) is None:
        reason = "the YAML language host is not built: run `bash toolchain/build.sh yaml_host`"
        if os.environ.get("REQUIRE_LIVE") == "1":
            pytest.fail(f"REQUIRE_LIVE=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    with_package(module_stacks.workdir)
    return module_stacks


@pytest.fixture(scope="module")
def example(project):
    stack = project("dev", config_from=None, project_dir=project.workdir / "examples" / "yaml-stack")
    stack.up()
    return stack


def _pulumi(stacks: Stacks, where: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=where, env=stacks.env, capture_output=True,
                          text=True, timeout=300)


def test_the_plugin_serves_the_schema_derived_from_the_models(project):
    done = _pulumi(project, project.workdir, "package", "get-schema", "./provider")
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout)
    assert served.pop("config") == {}  # the CLI's own (empty) provider config section
    assert served == package_schema(version())


def test_package_add_writes_the_yaml_package_declaration(project):
    """`pulumi package add` generates YAML's package declaration (name, pyproject's version);
    the YAML host v1.25.0 has no Link, so the `packages:` entry it would then record is written
    in examples/yaml-stack/Pulumi.yaml (docs/package.md)."""
    where = project.workdir / "examples" / "added"
    where.mkdir()
    (where / "Pulumi.yaml").write_text("name: added\nruntime: yaml\n")
    done = _pulumi(project, where, "package", "add", "../../provider")
    declaration = yaml.safe_load((where / "sdks" / "multus-cni" / f"multus-cni-{version()}.yaml").read_text())
    assert declaration == {"packageDeclarationVersion": 1, "name": "multus-cni", "version": version()}
    assert done.returncode != 0 and said(done, "linking package: method Link not implemented"), done.stderr


def test_the_yaml_example_deploys_what_the_python_program_deploys(example, project, cluster):
    nad = cluster.get("network-attachment-definition", "-n", "default", "macvlan-conf")
    pod = cluster.get("pod", "-n", "default", "sample-pod")
    daemonset = cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")
    assert pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == "macvlan-conf"
    assert pod["status"]["phase"] == "Running"
    # The same components: the Python program's dev stack (the same guide) renders the same NAD
    # and DaemonSet.
    python = {(o["kind"], o["metadata"]["name"]): o for o in rendered_objects(project.workdir, project.workdir / "Pulumi.dev.yaml")}
    assert json.loads(nad["spec"]["config"]) == json.loads(python["NetworkAttachmentDefinition", "macvlan-conf"]["spec"]["config"])
    assert nad["spec"]["config"] == python["NetworkAttachmentDefinition", "macvlan-conf"]["spec"]["config"]
    containers = lambda d: [(c["name"], c["image"]) for c in d["spec"]["template"]["spec"]["containers"]]  # noqa: E731
    assert containers(daemonset) == containers(python["DaemonSet", "kube-multus-ds"])
    assert example.outputs() == {"multusNamespace": "kube-system", "multusDaemonSet": "kube-multus-ds",
                                 "network": "default/macvlan-conf", "networkStatus": None,  # kwok runs no Multus
                                 "cniPluginsDaemonSet": "cni-plugins", "whereaboutsDaemonSet": "whereabouts"}


def test_the_yaml_example_installs_the_optional_parts_with_its_properties(example, cluster):
    copier = cluster.get("daemonset", "-n", "kube-system", "cni-plugins")["spec"]["template"]["spec"]["initContainers"][0]
    assert copier["command"][-2:] == ["macvlan", "host-local"]  # the example's list, not the default one
    assert cluster.get("configmap", "-n", "kube-system", "whereabouts-config")["data"] == {"cron-expression": "0 3 * * *"}
    ippools = cluster.get("crd", "ippools.whereabouts.cni.cncf.io")
    assert ippools["status"]["acceptedNames"]["kind"] == "IPPool"
    ready = cluster.get("daemonset", "-n", "kube-system", "whereabouts")["status"]
    assert ready["numberReady"] == ready["desiredNumberScheduled"] > 0


def test_a_second_preview_shows_no_changes(example):
    done = example.pulumi("preview", "--expect-no-changes", "--json")
    summary = json.loads(done.stdout)["changeSummary"]
    resources = [r for r in example.state() if not r["type"].startswith("pulumi:providers:")]
    assert summary == {"same": len(resources)}, summary  # every resource, the components' children included


def test_destroy_is_refused_by_the_protection(example, cluster):
    done = example.pulumi("destroy", "--yes", check=False)
    assert done.returncode != 0
    assert said(done, "cannot be deleted because it is protected")
    protected = {r["urn"].rsplit("::", 1)[-1] for r in example.state() if r.get("protect")}
    assert {"multus", "multus-daemonset", "multus-crd", "multus-cluster-role"} <= protected
    assert cluster.get("daemonset", "-n", "kube-system", "kube-multus-ds")
    assert cluster.get("network-attachment-definition", "-n", "default", "macvlan-conf")  # the preview stopped it all


def test_a_bad_network_fails_the_preview_with_its_path(project, cluster):
    where = project.workdir / "examples" / "bad-network"
    where.mkdir()
    (where / "Pulumi.yaml").write_text(BAD_NETWORK)
    stack = project("bad", config_from=None, project_dir=where)
    done = stack.pulumi("preview", check=False)
    assert done.returncode != 0
    assert said(done, "NetworkAttachment bad-net.config.mode: must be 'bridge', 'private', 'vepa', 'passthru' or '', "
                      "not the text 'bridgee'")
    assert "Traceback" not in done.stdout + done.stderr and 'File "' not in done.stdout + done.stderr
    assert cluster.kubectl("get", "network-attachment-definition", "-n", "default", "bad-net", check=False).returncode
