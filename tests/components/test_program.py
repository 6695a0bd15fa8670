"""components/program.py: by the time the SDK starts waiting for the engine, every registration of
the program has started, so it waits on them one by one and not on every pending Output after each
completion (the live count: docs/performance.md "The program's wait for the engine")."""

from __future__ import annotations

import pulumi.runtime.stack as sdk_stack
from pulumi.runtime import settings

from components import testing
from conftest import PROGRAM, PROJECT, config_of

NETWORKS = [{"name": f"net-{i}", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0",
                                            "ipam": {"type": "host-local", "subnet": f"10.0.{i}.0/24"}}}
            for i in range(20)]


def test_every_registration_has_started_when_the_sdk_begins_to_wait(monkeypatch):
    started: list[int] = []
    wait = sdk_stack.wait_for_rpcs

    async def counting(*args, **kwargs):
        started.append(len(settings._get_rpc_manager().rpcs))
        return await wait(*args, **kwargs)

    monkeypatch.setattr(sdk_stack, "wait_for_rpcs", counting)
    run_ = testing.run_file(PROGRAM, PROJECT, "dev", config_of(networks=NETWORKS))
    registrations = len(run_.monitor.registrations)
    assert registrations > 2 * len(NETWORKS)
    # Each resource's registration is one RPC begun (the component outputs' RPCs may follow).
    assert started and started[0] >= registrations - 1, (started, registrations)


def test_only_the_stacks_single_components_register_outputs():
    """A leaf's register_outputs would be one more whole-state write per network and per workload on
    the real engine (components/network_attachment.py says why they have none); the components a
    stack has one of keep theirs, and the stack's outputs are unchanged."""
    from components import cni_plugins, multus, network_attachment, sample_workload, whereabouts

    run_ = testing.run_file(PROGRAM, PROJECT, "dev", config_of(
        networks=NETWORKS, cniPlugins={"enabled": True}, whereabouts={"enabled": True},
        workloads=[{"name": f"pod-{i}", "networks": [f"net-{i}"]} for i in range(3)]))
    types = {r.urn: r.type for r in run_.monitor.registrations}
    registered = {types.get(urn, urn.rsplit("::", 2)[-2]) for urn in run_.monitor.outputs_registered}
    assert registered == {"pulumi:pulumi:Stack", multus.TYPE, cni_plugins.TYPE, whereabouts.TYPE}
    assert len(run_.monitor.by_type(network_attachment.TYPE)) == len(NETWORKS)
    assert len(run_.monitor.by_type(sample_workload.TYPE)) == 3
    assert run_.outputs["networks"] == sorted(f"default/net-{i}" for i in range(len(NETWORKS)))
    assert run_.outputs["networkStatus"] == {f"default/pod-{i}": None for i in range(3)}
