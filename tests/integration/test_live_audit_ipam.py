"""`multus-cni audit-ipam` against what the real binaries leave: the data-path harness attaches
the pods of a real `pulumi up` with the real Multus, macvlan, whereabouts (v0.9.2, its IPPool and
OverlappingRangeIPReservations in the API server) and host-local; then faults are made the ways
users report them, and the audit reads the cluster after each."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import ROOT
from .test_live_datapath import bare, datapath, network_status  # noqa: F401 (fixture)

pytestmark = pytest.mark.live

WA_RANGE = "10.62.0.0/29"  # 6 usable addresses: a few pods fill it
WA = {"name": "wa-net", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                   "ipam": {"type": "whereabouts", "range": WA_RANGE}}}
HL = {"name": "hl-net", "config": {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge",
                                   "ipam": {"type": "host-local", "subnet": "10.63.0.0/24"}}}
WA_WEB = {"name": "wa-web", "kind": "Deployment", "replicas": 2, "networks": "wa-net", "image": "docker.io/library/alpine:3.22"}
HL_WEB = {"name": "hl-web", "kind": "Deployment", "replicas": 2, "networks": "hl-net", "image": "docker.io/library/alpine:3.22"}


def audit(stack, cluster, *args: str) -> tuple[int, dict, str]:
    summary = stack.workdir / "audit.json"
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "audit-ipam",
                           "--stack", stack.name, "--kubeconfig", str(cluster.kubeconfig), "--summary-json", str(summary), *args],
                          cwd=stack.workdir, capture_output=True, text=True, timeout=120)
    print(f"audit-ipam {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(summary.read_text()) if done.returncode in (0, 1) else {}, done.stdout


def fleet_audit(stack, *names: str) -> tuple[int, dict, str]:
    """`fleet audit` of `names`, each stack's cluster from its own provider settings (else KUBECONFIG)."""
    summary = stack.workdir / "fleet-audit.json"
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "fleet", "audit",
                           "--stacks", ",".join(names), "--summary-json", str(summary)],
                          cwd=stack.workdir, env=stack.env, capture_output=True, text=True, timeout=120)
    print(f"fleet audit: exit {done.returncode}\n{done.stdout}{done.stderr}")
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(summary.read_text()), done.stdout


def found(document: dict) -> list[tuple[str, str, str]]:
    return sorted((f["kind"], f["network"], f["address"]) for f in document["findings"])


@pytest.fixture
def bare_pod(cluster):
    """Makes pods of the test's own on wa-net (no stack owns them: the teardown's destroy would leave
    them to the next test on this cluster), and deletes them at teardown."""
    made: list[str] = []

    def make(name: str, node: str) -> dict:
        made.append(name)
        return _bare_pod(cluster, name, node)

    yield make
    if made:
        cluster.kubectl("delete", "pod", "-n", "default", *dict.fromkeys(made), "--ignore-not-found", "--wait=true",
                        check=False)


def _bare_pod(cluster, name: str, node: str) -> dict:
    """A pod of its own on wa-net, bound to `node`, once Running."""
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                "annotations": {"k8s.v1.cni.cncf.io/networks": "wa-net"}},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "docker.io/library/alpine:3.22"}]}}
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(manifest))
    cluster.kubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod", "-n", "default", name, "--timeout=60s")
    return cluster.get("pod", "-n", "default", name)


def net1_address(cluster, att) -> str:
    [net1] = [e for e in network_status(cluster, att) if e.interface == "net1"]
    return bare(net1.ips[0])


def test_the_audit_finds_exactly_the_faults_made_and_nothing_on_a_clean_cluster(new_stack, cluster, datapath, bare_pod):
    stack = new_stack("audit", config_from=None)
    stack.set_config("multus-cni:whereabouts", {"enabled": True})
    stack.set_config("multus-cni:cniPlugins", {"enabled": True})
    stack.set_config("multus-cni:networks", [WA])
    stack.set_config("multus-cni:workloads", [WA_WEB])
    stack.up()
    dp = datapath(multus_namespace=stack.outputs()["multusNamespace"], whereabouts="kube-system")
    first = dp.attach_running()
    assert len(first) == 2 and len({net1_address(cluster, a) for a in first}) == 2

    # Clean: two pods, two addresses, the IPPool and the reservations saying the same.
    code, document, _ = audit(stack, cluster)
    assert (code, found(document)) == (0, [])
    assert document["pools"] == [{"allocated": 2, "name": "10.62.0.0-29", "namespace": "kube-system",
                                  "network": "default/wa-net", "range": WA_RANGE, "usable": 6}]

    # A pod deleted with no DEL (its node lost, the runtime never called CNI): its address stays
    # allocated in the IPPool and reserved; the Deployment's new pod runs without an attachment yet.
    gone = first[0]
    gone_address = net1_address(cluster, gone)
    cluster.kubectl("delete", "pod", "-n", gone.namespace, gone.name, "--wait=true")
    cluster.kubectl("rollout", "status", "deployment", "-n", "default", "wa-web", "--timeout=60s")
    code, document, table = audit(stack, cluster)
    assert code == 1
    assert found(document) == [("leak", "default/wa-net", gone_address), ("leak", "default/wa-net", gone_address),
                               ("missing", "default/wa-net", "-")]
    assert {f["what"].split(" ", 1)[0] for f in document["findings"] if f["kind"] == "leak"} == {
        "IPPool", "OverlappingRangeIPReservation"}
    assert all(f"{gone.ref}, which does not exist" in f["what"] for f in document["findings"] if f["kind"] == "leak")
    assert gone_address in table

    # The fleet's view of it: the same findings on this stack's row; a stack whose provider names
    # this cluster by a project-relative kubeconfig, with a network no pod uses, is clean; one whose
    # kubeconfig setting is a path that does not exist fails alone, in one line.
    other = new_stack("other", config_from=None)
    (other.workdir / "other-kubeconfig").write_text(cluster.kubeconfig.read_text())
    other.set_config("kubernetes:kubeconfig", "other-kubeconfig")
    # (a range of its own: whereabouts keeps one IPPool per range, so wa-net's range would be wa-net's pool)
    idle = {**WA["config"], "ipam": {"type": "whereabouts", "range": "10.64.0.0/29"}}
    other.set_config("multus-cni:networks", [{"name": "wa-idle", "config": idle}])
    broken = new_stack("broken", config_from=None)
    broken.set_config("kubernetes:kubeconfig", str(other.workdir / "no-such-kubeconfig"))
    broken.set_config("multus-cni:networks", [WA])
    code, fleet, fleet_table = fleet_audit(stack, "audit", "other", "broken")
    rows = {row["stack"]: row for row in fleet["stacks"]}
    assert code == 1 and {name: row["status"] for name, row in rows.items()} == {
        "audit": "findings", "broken": "failed", "other": "succeeded"}
    assert rows["audit"]["findings"] == document["findings"]  # audit-ipam's own, a moment before
    assert rows["broken"]["error"].startswith("the kubeconfig setting is neither a file that exists")
    assert gone_address in fleet_table
    for made in (other, broken):  # never deployed: nothing for the teardown to destroy
        new_stack.made.remove(made)
        made.pulumi("stack", "rm", "--yes")

    # The new pod attached: it gets another address (the leaked one is still taken), and only the leak stays.
    [replacement] = [p for p in dp.running_pods() if p["metadata"]["name"].startswith("wa-web")
                     and p["metadata"]["name"] not in {a.name for a in first}]
    added = dp.attach(replacement)
    assert net1_address(cluster, added) != gone_address
    code, document, _ = audit(stack, cluster)
    assert [kind for kind, _, _ in found(document)] == ["leak", "leak"]
    assert document["pools"][0]["allocated"] == 3

    # Half the pool taken: exhausted at a threshold of one half, not at the default nine tenths.
    code, document, _ = audit(stack, cluster, "--pool-threshold", "0.5")
    assert ("exhausted", "default/wa-net", WA_RANGE) in found(document)
    assert "3 of 6 usable addresses allocated (50%" in next(f["what"] for f in document["findings"] if f["kind"] == "exhausted")

    # A late DEL (the runtime's garbage collection) frees it: whereabouts releases by container id.
    dp.detach(gone)
    code, document, _ = audit(stack, cluster)
    assert (code, found(document)) == (0, [])

    # An ADD killed half-way, with no DEL (the runtime timed out, the node agent restarted): whereabouts
    # allocated and reserved an address and macvlan configured it, but Multus never wrote network-status.
    pod = bare_pod("wa-k0", "node-000000")
    killed = dp.attach_killed(pod, after="macvlan")
    code, document, _ = audit(stack, cluster)
    [(_, _, lost), *_] = found(document)
    assert found(document) == [("leak", "default/wa-net", lost), ("leak", "default/wa-net", lost),
                               ("missing", "default/wa-net", "-")]
    assert all("default/wa-k0, which holds no address on it" in f["what"] for f in document["findings"] if f["kind"] == "leak")
    # The runtime's retry, a new sandbox: whereabouts v0.9.2 gives the same pod the address it
    # allocated half-way (by podref, seen here), so the pod holds it and nothing is found.
    retried = dp.attach(cluster.get("pod", "-n", "default", "wa-k0"))
    assert net1_address(cluster, retried) == lost
    code, document, _ = audit(stack, cluster)
    assert (code, found(document), document["pools"][0]["allocated"]) == (0, [], 3)
    # Both sandboxes' DELs and the pod gone: the address is free again.
    dp.detach(killed)
    dp.detach(retried)
    cluster.kubectl("delete", "pod", "-n", "default", "wa-k0", "--wait=true")
    code, document, _ = audit(stack, cluster)
    assert (code, found(document), document["pools"][0]["allocated"]) == (0, [], 2)

    # Concurrent ADDs on two nodes: whereabouts serialises them on its lease; two addresses, nothing found.
    a, b = (bare_pod(f"wa-c{i}", f"node-00000{i}") for i in (0, 1))
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(dp.attach, (a, b)))
    assert len({net1_address(cluster, att) for att in both}) == 2
    code, document, _ = audit(stack, cluster)
    assert (code, found(document), document["pools"][0]["allocated"]) == (0, [], 4)

    # A pod recreated under the same name on another node with no DEL (a StatefulSet's pod after its node
    # was lost): whereabouts v0.9.2 gives the same pod name its address again (seen here), so the old
    # sandbox's allocation is the new pod's and nothing is lost or found.
    old = dp.attach(bare_pod("wa-sts-0", "node-000000"))
    old_address = net1_address(cluster, old)
    cluster.kubectl("delete", "pod", "-n", "default", "wa-sts-0", "--wait=true")
    new = dp.attach(bare_pod("wa-sts-0", "node-000001"))
    assert net1_address(cluster, new) == old_address and new.node.name != old.node.name
    code, document, _ = audit(stack, cluster)
    assert (code, found(document), document["pools"][0]["allocated"]) == (0, [], 5)

    # host-local on two nodes: each node allocates alone, so both replicas get the same first address.
    stack.set_config("multus-cni:networks", [WA, HL])
    stack.set_config("multus-cni:workloads", [WA_WEB, HL_WEB])
    stack.up()
    hl = [dp.attach(p) for p in dp.running_pods() if p["metadata"]["name"].startswith("hl-web")]
    assert len({a.node.name for a in hl}) == 2
    same = {net1_address(cluster, a) for a in hl}
    assert len(same) == 1
    code, document, _ = audit(stack, cluster)
    assert (code, found(document)) == (1, [("duplicate", "default/hl-net", same.pop())])
    assert "host-local allocates per node" in document["findings"][0]["what"]
