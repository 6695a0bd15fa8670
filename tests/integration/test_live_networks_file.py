"""A stack whose networks are beyond the 128 KiB PULUMI_CONFIG limit when inline: the real engine
cannot start the program (what render's check says first), and the same networks in a
`multus-cni:networksFile` preview cleanly."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from multus_cni_cli import stackfile

from .conftest import ROOT, said

pytestmark = pytest.mark.live


def networks(count: int) -> list[dict]:
    """Networks written like the guide's (the config a pretty-printed JSON text), each on its own subnet."""
    return [{"name": f"net-{i:04}", "config": json.dumps({
        "cniVersion": "0.3.1", "type": "macvlan", "master": "eth1", "mode": "bridge",
        "ipam": {"type": "host-local", "subnet": f"10.{i // 256}.{i % 256}.0/24", "routes": [{"dst": "0.0.0.0/0"}]},
    }, indent=2)} for i in range(count)]


def write_config(stack, config: dict) -> None:
    (stack.workdir / f"Pulumi.{stack.name}.yaml").write_text(yaml.safe_dump({"config": config}))


def test_networks_beyond_the_limit_inline_fail_and_preview_from_a_networks_file(new_stack):
    nets = networks(340)
    stack = new_stack("many", config_from=None)
    write_config(stack, {"multus-cni:networks": nets})
    stack_file = stack.workdir / "Pulumi.many.yaml"
    assert stackfile.config_env_size(stackfile.load_config(stack_file)) > stackfile.ENV_STRING_LIMIT

    render = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "render", "--stack-file",
                             str(stack_file)], cwd=stack.workdir, capture_output=True, text=True, timeout=120)
    assert render.returncode == 2 and "multus-cni:networksFile" in render.stderr
    inline = stack.pulumi("preview", check=False, timeout=300)
    # This project's Python host: "[Errno 7] Argument list too long"; Go hosts: "fork/exec ...: argument list too long".
    assert inline.returncode != 0 and said(inline, "rgument list too long"), inline.stdout + inline.stderr

    (stack.workdir / "networks").mkdir()
    (stack.workdir / "networks" / "many.yaml").write_text(yaml.safe_dump(nets))
    write_config(stack, {"multus-cni:networksFile": "networks/many.yaml"})
    preview = stack.pulumi("preview", "--json", timeout=600)
    steps = json.loads(preview.stdout)["steps"]
    created = sorted(s["newState"]["inputs"]["metadata"]["name"] for s in steps
                     if s["op"] == "create" and s["urn"].split("::")[2].endswith("NetworkAttachmentDefinition"))
    assert created == [n["name"] for n in nets]
