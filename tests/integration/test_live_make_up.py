"""The Quick start for real: `make up` on a machine with no kubeconfig starts the local cluster and
runs `pulumi up` into it; `make render-dir` lets the provider write the manifests instead."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import (ROOT, copy_project, macvlan_address, network_status, rendered_objects, start_cluster,
                       stop_cluster, verify_stack, without_salt)

pytestmark = pytest.mark.live


@pytest.fixture
def fresh_user(toolchain, tmp_path):
    """A user with the toolchain built but no kubeconfig, no Pulumi login and no cluster running."""
    home = tmp_path / "home"
    home.mkdir()
    toolchain_dir = subprocess.run(["bash", "-c", ". toolchain/lib.sh; echo $TC"], cwd=Path(__file__).parents[2],
                                   env=toolchain, capture_output=True, text=True, check=True).stdout.strip()
    # Not on PATH, no PULUMI_HOME: `make up` must find the toolchain in its cache by itself.
    path = [p for p in toolchain["PATH"].split(":") if not p.startswith(toolchain_dir)]
    env = {**{k: v for k, v in toolchain.items() if k != "PULUMI_HOME"}, "PATH": ":".join(path),
           "HOME": str(home), "MULTUS_TOOLCHAIN_DIR": toolchain_dir, "YES": "1",
           "CLUSTER_WORKDIR": str(tmp_path / "kwok")}
    workdir = copy_project(tmp_path / "checkout")
    yield workdir, env
    # No destroy: the cluster goes with its node, the state and the rendered files with tmp_path.
    stop_cluster(env, "multus-cni")


def make(workdir: Path, env: dict, target: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["make", target], cwd=workdir, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"make {target}:\n{done.stdout}\n{done.stderr}"
    return done


def test_make_up_without_a_kubeconfig_deploys_to_the_local_cluster(fresh_user):
    workdir, env = fresh_user
    done = make(workdir, env, "up")
    assert "starting the local kwok control plane" in done.stdout
    kubeconfig = next(line.split("KUBECONFIG=")[1].split()[0] for line in done.stdout.splitlines() if "KUBECONFIG=" in line)
    assert f"\n  export KUBECONFIG={kubeconfig}\n" in done.stdout  # how to look, at the same cluster
    assert "\n  kubectl get net-attach-def,pods -A\n" in done.stdout
    cluster = start_cluster(env, Path(env["CLUSTER_WORKDIR"]), "multus-cni")  # a no-op: it runs already
    assert str(cluster.kubeconfig) == kubeconfig
    why_not = subprocess.run(["bash", "cluster/node.sh", "why-not"], cwd=ROOT, capture_output=True, text=True)
    if why_not.returncode:  # simulated nodes only: kwok says the pod runs, nothing writes its network-status
        assert f"no real node, simulated nodes only: {why_not.stdout.strip()}" in done.stderr
        assert cluster.get("pod", "-n", "default", "sample-pod")["status"]["phase"] == "Running"
    else:  # the guide's last step, for real: the real Multus wrote net1 on the real node
        assert "1 real node, 'real-node'" in done.stdout
        image = subprocess.run(["python3", "cluster/images.py", "names", "sample"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        assert f"\n  export MULTUS_CNI_SAMPLE_IMAGE={image}\n" in done.stdout  # what the later preview needs
        assert cluster.get("pod", "-n", "default", "sample-pod")["spec"]["containers"][0]["image"] == image
        pod, status = network_status(cluster, "sample-pod")
        assert pod["spec"]["nodeName"] == "real-node"
        macvlan_address(status)
        assert "  kubectl describe pod -n default -l app.kubernetes.io/name=sample-pod\n  .venv/bin/multus-cni verify --stack dev" in done.stdout
        checked = verify_stack(workdir, {**env, "KUBECONFIG": kubeconfig}, "dev")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # The guide's own stack says nothing about plugins its node image has (cniPlugins.preinstalled).
        assert "cniPlugins.preinstalled" not in done.stdout + done.stderr
    assert (workdir / ".pulumi-state").is_dir()  # the file backend inside the checkout
    # The stack file is left as it was but for the salt of the passphrase secrets provider.
    written = (workdir / "Pulumi.dev.yaml").read_text()
    assert "\nencryptionsalt: " in written
    assert without_salt(written) == without_salt((ROOT / "Pulumi.dev.yaml").read_text())


def test_make_render_dir_writes_the_manifests_through_the_provider(fresh_user):
    workdir, env = fresh_user
    make(workdir, env, "render-dir")
    written = [doc for path in sorted((workdir / "rendered").rglob("*.yaml"))
               for doc in yaml.safe_load_all(path.read_text()) if doc]
    expected = rendered_objects(workdir, workdir / "Pulumi.dev.yaml")
    assert sorted((o["kind"], o["metadata"]["name"]) for o in written) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in expected)
