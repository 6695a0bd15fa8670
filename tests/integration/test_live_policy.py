"""The CrossGuard pack under the real engine: `pulumi preview --policy-pack policy`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.live

PACK = ("--policy-pack", "policy", "--policy-pack-config", "policy/config.json")


def test_the_dev_stack_passes_the_policy_pack(new_stack):
    done = new_stack().pulumi("preview", *PACK)
    assert "multus-cni" in done.stdout  # the pack ran: the CLI lists it under "Policies"


def test_an_image_the_pack_does_not_allow_fails_the_preview_with_the_policys_message(new_stack):
    stack = new_stack("moving-tag")
    stack.set_config("multus-cni:workloads", [{"name": "sample-pod", "networks": "macvlan-conf",
                                               "image": "docker.io/library/alpine:latest"}])
    done = stack.pulumi("preview", *PACK, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "images-pinned" in output
    assert "docker.io/library/alpine:latest" in output and "pin a release tag or a digest" in output
