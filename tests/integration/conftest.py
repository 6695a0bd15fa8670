"""The live suite: the real Pulumi CLI against a real cluster. Skips, saying why, without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _kubeconfig() -> str | None:
    path = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")).split(os.pathsep)[0]
    return path if Path(path).is_file() and Path(path).stat().st_size else None


@pytest.fixture(scope="session")
def live_env(tmp_path_factory) -> dict[str, str]:
    if shutil.which("pulumi") is None:
        pytest.skip("the Pulumi CLI is not installed (the hosted e2e workflow installs it)")
    if _kubeconfig() is None:
        pytest.skip("no kubeconfig: set KUBECONFIG or create ~/.kube/config for a cluster (the e2e workflow uses kind)")
    env = dict(os.environ)
    env.setdefault("PULUMI_BACKEND_URL", "file://" + str(tmp_path_factory.mktemp("pulumi-state")))
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", "")
    return env


@pytest.fixture(scope="session")
def pulumi(live_env):
    def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=ROOT, env=live_env,
                              capture_output=True, text=True, timeout=1800)
        if check and done.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    return _run


@pytest.fixture(scope="session")
def deployed(pulumi) -> dict:
    """`pulumi up` of the dev stack once for the whole live suite; its outputs."""
    pulumi("stack", "select", "--create", "dev")
    pulumi("preview", "--stack", "dev", "--diff")
    pulumi("up", "--stack", "dev", "--yes", "--skip-preview")
    return json.loads(pulumi("stack", "output", "--stack", "dev", "--json").stdout)
