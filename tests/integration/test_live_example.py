"""examples/cluster-stack on the real engine: its provider is built from another stack's output
through a StackReference, with default providers disabled, so nothing reaches the cluster any
other way."""

from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.live

CLUSTER_PROGRAM = '''\
"""Stands in for a platform's cluster stack: it exports the cluster's kubeconfig."""
from pathlib import Path

import pulumi

pulumi.export("kubeconfig", pulumi.Output.secret(Path(pulumi.Config().require("kubeconfigFile")).read_text()))
'''


def test_the_example_deploys_through_the_provider_of_the_stack_reference(new_stack, cluster):
    platform = new_stack.workdir.parent / "platform"
    platform.mkdir()
    (platform / "__main__.py").write_text(CLUSTER_PROGRAM)
    (platform / "Pulumi.yaml").write_text(textwrap.dedent("""\
        name: platform
        runtime: {name: python, options: {toolchain: pip, virtualenv: venv}}
        """))
    (platform / "venv").symlink_to(new_stack.workdir / ".venv")
    cluster_stack = new_stack("prod", config_from=None, project_dir=platform)
    cluster_stack.pulumi("config", "set", "kubeconfigFile", str(cluster.kubeconfig))
    cluster_stack.up()

    example_dir = new_stack.workdir / "examples" / "cluster-stack"
    (example_dir / "venv").symlink_to(new_stack.workdir / ".venv")
    example = new_stack("prod", config_from=None, project_dir=example_dir)
    # The components come from the checkout, as the example's requirements.txt offers (-e ../..).
    example.env = {**example.env, "PYTHONPATH": str(new_stack.workdir)}
    example.env.pop("KUBECONFIG")  # no ambient cluster: only the StackReference's kubeconfig
    example.pulumi("config", "set", "clusterStack", "organization/platform/prod")
    example.pulumi("config", "set", "--path", "pulumi:disable-default-providers[0]", "kubernetes")
    example.up()

    assert cluster.get("network-attachment-definition", "-n", "default", "storage")["spec"]["config"]
    assert cluster.get("pod", "-n", "default", "storage-probe")["status"]["phase"] == "Running"
    providers = [r for r in example.state() if r["type"] == "pulumi:providers:kubernetes"]
    assert [p["urn"].rsplit("::", 1)[-1] for p in providers] == ["cluster"]
    kubernetes_objects = [r for r in example.state() if r["type"].startswith("kubernetes:")]
    assert kubernetes_objects and all(r["provider"].startswith(providers[0]["urn"] + "::") for r in kubernetes_objects)
    example.pulumi("preview", "--expect-no-changes")
