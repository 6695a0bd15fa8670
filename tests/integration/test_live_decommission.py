"""`multus-cni decommission` against the kwok cluster: the real Pulumi CLI and engine, the
real API server and RBAC, the real node-cleanup script run as its pod's ServiceAccount on a
temporary node root per kwok node (node_player.py plays the container runtime). One stack, one
test: refused while a foreign pod uses the NAD, stopped when a node never reports, finished by
the rerun, and a third run has nothing left to do."""

from __future__ import annotations

import subprocess
import pytest

from multus_cni_cli.decommission import daemonset

from .conftest import said
from .node_player import KEPT_FILES, MULTUS_FILES, NodePlayer, files_in, node_tree

pytestmark = pytest.mark.live

FOREIGN_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: foreign
  namespace: default
  annotations: {"k8s.v1.cni.cncf.io/networks": "macvlan-conf@net5"}
spec:
  containers: [{name: c, image: "docker.io/library/alpine:3.22"}]
"""


def decommission(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(stack.workdir / ".venv" / "bin" / "python"), "-m", "multus_cni_cli", "decommission",
                           "--stack", stack.name, *args], cwd=stack.workdir, env=stack.env,
                          capture_output=True, text=True, timeout=900)


def exists(cluster, *what: str) -> bool:
    return cluster.kubectl("get", *what, check=False).returncode == 0


def test_decommission_refuses_for_a_foreign_pod_stops_at_a_silent_node_and_the_rerun_finishes(new_stack, cluster, tmp_path):
    stack = new_stack()
    stack.up()
    before = stack.state()
    nodes = sorted(n["metadata"]["name"] for n in cluster.get("nodes")["items"])
    roots = {node: node_tree(tmp_path / "nodes" / node) for node in nodes}

    # Refused, before anything changes, naming the pod; the plan alone changes nothing either.
    subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-f", "-"], input=FOREIGN_POD,
                   env=cluster.env, capture_output=True, text=True, check=True, timeout=60)
    shown = decommission(stack)
    assert shown.returncode == 1, shown.stderr  # the plan says it would be refused
    assert "  pod default/foreign uses default/macvlan-conf" in shown.stdout
    refused = decommission(stack, "--yes", "--confirm", stack.name)
    assert refused.returncode == 1
    assert "  pod default/foreign uses default/macvlan-conf" in refused.stdout
    assert said(refused, "refused (nothing was changed)")
    assert stack.state() == before
    assert exists(cluster, "network-attachment-definition", "-n", "default", "macvlan-conf")
    cluster.kubectl("delete", "pod", "-n", "default", "foreign", "--wait=true")

    # One node never reports: the command stops at the node step with the node named.
    silent, speaking = nodes[-1], nodes[:-1]
    player = NodePlayer(cluster, roots, tmp_path / "play-1", only=speaking)
    try:
        stopped = decommission(stack, "--yes", "--confirm", stack.name, "--node-timeout", "20")
    finally:
        player.close()
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert said(stopped, f"no report after 20s from 1 of {len(nodes)} nodes: {silent} (pod multus-node-cleanup-")
    assert said(stopped, "rerun `multus-cni decommission --stack dev --yes` to finish")
    assert not player.errors, player.errors
    kinds = {r["type"].rsplit(":", 1)[-1] for r in stack.state() if r.get("custom")}
    assert "Pod" not in kinds and "NetworkAttachmentDefinition" not in kinds and "DaemonSet" not in kinds
    assert {"CustomResourceDefinition", "ServiceAccount", "ClusterRole"} <= kinds  # Multus' credentials wait for the nodes
    assert not exists(cluster, "daemonset", "-n", "kube-system", "kube-multus-ds")
    for node in speaking:
        assert files_in(roots[node]) == set(KEPT_FILES)
    assert files_in(roots[silent]) == set(MULTUS_FILES + KEPT_FILES)

    # The rerun finishes: every node reports, then Multus and the cleanup objects go. The silent
    # node comes back once the rerun replaced its pod: playing the first run's pod while the rerun
    # deletes it would remove the files and have its report refused (its token's pod is gone), and
    # the new pod would rightly find nothing left to remove.
    first_run = {p["metadata"]["uid"] for p in cluster.get("pods", "-n", daemonset.NAMESPACE, "-l", f"app={daemonset.NAME}")["items"]}
    assert first_run  # the silent node's pod, at least
    player = NodePlayer(cluster, roots, tmp_path / "play-2", skip=first_run)
    try:
        finished = decommission(stack, "--yes", "--confirm", stack.name, "--node-timeout", "120")
    finally:
        player.close()
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert not player.errors, player.errors
    assert "[1/5] workloads: already done" in finished.stdout and "[2/5] daemonset: already done" in finished.stdout
    for node in nodes:
        assert files_in(roots[node]) == set(KEPT_FILES)
        assert f"    node {node}: " in finished.stdout
    assert (f"    node {silent}: removed /etc/cni/net.d/00-multus.conf, /etc/cni/net.d/00-multus.conflist, "
            "/etc/cni/net.d/multus.d, /opt/cni/bin/multus, /opt/cni/bin/multus-shim, /run/multus") in finished.stdout
    assert stack.state() == []
    for what in (("crd", "network-attachment-definitions.k8s.cni.cncf.io"), ("clusterrole", "multus"),
                 ("clusterrolebinding", "multus"), ("serviceaccount", "-n", "kube-system", "multus"),
                 ("configmap", "-n", "kube-system", "multus-cni-config"), ("daemonset", "-n", "kube-system", "kube-multus-ds")):
        assert not exists(cluster, *what), what
    for obj in daemonset.objects(daemonset.NAMESPACE):
        assert not exists(cluster, obj["kind"].lower(), "-n", daemonset.NAMESPACE, obj["metadata"]["name"]), obj["kind"]

    again = decommission(stack, "--yes", "--confirm", stack.name)
    assert again.returncode == 0 and "Nothing left to do" in again.stdout
