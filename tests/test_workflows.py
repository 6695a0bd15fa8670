"""The GitHub workflows cannot run here: check they are valid (SchemaStore's schemas, vendored
in check-jsonschema) and say what they must (triggers, pulumi/actions inputs, approval, policy),
and run the one shell step whose output drives the matrices."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
SETUP = GITHUB / "actions" / "stack-setup" / "action.yml"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    """`on:` (YAML 1.1 reads the bare key as True)."""
    on = workflow.get("on", workflow.get(True))
    return {on: None} if isinstance(on, str) else on


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def documented_environment() -> str:
    """The approval environment docs/operations.md tells users to create with required reviewers."""
    return re.search(r"environment \*\*`([^`]+)`\*\*", (ROOT / "docs" / "operations.md").read_text()).group(1)


def sdk_version() -> str:
    return re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)


@pytest.mark.parametrize("schema, paths", [
    ("vendor.github-workflows", sorted(WORKFLOWS.glob("*.yml"))),
    ("vendor.github-actions", [SETUP]),
], ids=["workflows", "composite-action"])
def test_files_match_the_github_schemas(schema, paths):
    assert paths
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name, command, trigger", [("preview.yml", "preview", "pull_request"), ("up.yml", "up", "push")])
def test_preview_and_up_run_pulumi_on_every_stack_with_the_policy_pack(name, command, trigger):
    workflow = load(name)
    assert list(triggers(workflow)) == [trigger]
    job = workflow["jobs"][command]
    assert workflow["jobs"]["stacks"]["uses"] == "./.github/workflows/stacks.yml"
    assert job["needs"] == "stacks"
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert steps_using(job, "./.github/actions/stack-setup")[0]["with"]["kubeconfig"] == "${{ secrets.KUBECONFIG }}"
    assert set(job["env"]) == {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}
    (pulumi,) = steps_using(job, "pulumi/actions")
    assert re.fullmatch(r"pulumi/actions@v\d+", pulumi["uses"])  # a released major, never a branch
    inputs = pulumi["with"]
    assert inputs["command"] == command
    assert inputs["stack-name"].endswith("/${{ matrix.stack }}")
    assert inputs["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert inputs["policyPacks"] == "policy" and (ROOT / inputs["policyPacks"] / "PulumiPolicy.yaml").is_file()
    assert json.loads((ROOT / inputs["policyPackConfigs"]).read_text())
    assert inputs["diff"] is True
    assert inputs["pulumi-version"] == sdk_version()  # the CLI of the SDK the program pins


def test_preview_comments_on_the_pull_request():
    workflow = load("preview.yml")
    assert steps_using(workflow["jobs"]["preview"], "pulumi/actions")[0]["with"]["comment-on-pr"] is True
    assert workflow["permissions"]["pull-requests"] == "write"


def test_up_waits_for_approval_on_main_one_run_at_a_time():
    workflow = load("up.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    assert workflow["jobs"]["up"]["environment"] == documented_environment()
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_setup_installs_the_program_and_the_pack_on_python_311():
    action = yaml.safe_load(SETUP.read_text())
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@") and steps[0]["with"]["python-version"] == "3.11"
    script = steps[1]["run"]
    assert "pip install -r requirements.txt" in script and "pip install -r policy/requirements.txt" in script


def test_the_stack_list_step_emits_every_stack_file_as_json(tmp_path):
    (step,) = [s for s in load("stacks.yml")["jobs"]["list"]["steps"] if s.get("id") == "list"]
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.dev.yaml", "Pulumi.eu-west.yaml", "README.md"):
        (tmp_path / name).write_text("")
    output = tmp_path / "github_output"
    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], cwd=tmp_path, check=True, timeout=30,
                   env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin:/usr/local/bin"})
    key, _, value = output.read_text().strip().partition("=")
    assert key == "stacks" and json.loads(value) == ["dev", "eu-west", "prod"]


def test_e2e_deploys_on_kind_then_tears_down_the_documented_way():
    workflow = load("e2e.yml")
    assert set(triggers(workflow)) == {"workflow_dispatch", "pull_request"}
    assert workflow["env"]["PULUMI_BACKEND_URL"] == "file://~"  # what `pulumi login --local` uses
    steps = workflow["jobs"]["kind"]["steps"]
    runs = [s.get("run", "") for s in steps]

    def index(predicate) -> int:
        return next(i for i, s in enumerate(steps) if predicate(s))

    kind = index(lambda s: s.get("uses", "").startswith("helm/kind-action@"))
    plugins = index(lambda s: "containernetworking/plugins/releases" in s.get("run", ""))
    cli = index(lambda s: s.get("uses", "").startswith("pulumi/actions@") and "command" not in s.get("with", {}))
    login = runs.index("pulumi login --local")
    tests = runs.index("make test BUILD_TOOLCHAIN=0")
    up = runs.index("YES=1 make up")
    verify = runs.index(".venv/bin/multus-cni verify --stack dev")
    assert kind < plugins < tests < up < verify and cli < login < up
    assert "sha256sum -c" in runs[plugins] and "tar -xzf" in runs[plugins] and "/opt/cni/bin" in runs[plugins]
    teardown = steps[-1]
    assert teardown["if"] == "always()"
    order = [teardown["run"].index(c) for c in ("pulumi state unprotect --all --yes", "pulumi destroy --yes", "kind delete cluster")]
    assert order == sorted(order)


def test_drift_runs_nightly_and_by_hand_on_every_stack_with_the_cli_of_the_sdk():
    workflow = load("drift.yml")
    on = triggers(workflow)
    assert set(on) == {"schedule", "workflow_dispatch"} and len(on["schedule"]) == 1
    assert workflow["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["drift"]
    assert set(job["env"]) == {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL"}
    assert steps_using(job, "./.github/actions/stack-setup")[0]["with"]["kubeconfig"] == "${{ secrets.KUBECONFIG }}"
    (cli,) = steps_using(job, "pulumi/actions")
    assert "command" not in cli["with"] and cli["with"]["pulumi-version"] == sdk_version()
    (step,) = [s for s in job["steps"] if "fleet drift" in s.get("run", "")]
    assert "fleet drift --all --summary-json drift.json" in step["run"]


@pytest.mark.parametrize("code", [0, 1, 2])
def test_the_drift_step_fails_with_the_table_in_the_job_summary(tmp_path, code):
    """The step's own shell, with `multus-cni` stood in by a script printing a table and exiting `code`."""
    (step,) = [s for s in load("drift.yml")["jobs"]["drift"]["steps"] if "fleet drift" in s.get("run", "")]
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\necho \"STACK STATUS $*\"\nexit {code}\n")
    python.chmod(0o755)
    summary = tmp_path / "summary.md"
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, capture_output=True, text=True, timeout=30,
                          env={"GITHUB_STEP_SUMMARY": str(summary), "PATH": "/usr/bin:/bin"})
    assert done.returncode == code
    table = "STACK STATUS -m multus_cni_cli fleet drift --all --summary-json drift.json"
    assert table in done.stdout
    heading = "## No drift" if code == 0 else f"## Drift (exit {code})"
    assert summary.read_text() == f"{heading}\n```\n{table}\n```\n"
