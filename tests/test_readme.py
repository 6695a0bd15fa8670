"""The README's composition example is a program that runs: under Pulumi's mocks it registers the
three components with the caller's provider on every Kubernetes object, and Multus protected as
its comment says."""

from __future__ import annotations

import re

from components import testing
from conftest import MULTUS, NAD, POD, PROJECT, ROOT


def readme_program() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example"
    return blocks[0]


def test_the_readme_composition_example_runs_with_its_provider_on_every_object():
    code = readme_program()
    run = testing.run(lambda: exec(code, {"kubeconfig": "apiVersion: v1\nkind: Config\n"}), PROJECT, "test", {})
    kube = [r for r in run.monitor.registrations if r.custom and r.type.startswith("kubernetes:") and
            r.type != "pulumi:providers:kubernetes"]
    assert [len(run.monitor.by_type(t)) for t in (MULTUS, NAD, POD)] == [1, 1, 1]
    assert kube and all("pulumi:providers:kubernetes::cluster" in r.provider for r in kube)
    multus = run.monitor.by_type(MULTUS)[0]
    children = [r for r in kube if r.parent == multus.urn]
    assert multus.protect and children and all(r.protect for r in children)
