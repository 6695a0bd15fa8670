"""The GitHub workflows cannot run here: check they are valid (SchemaStore's schemas, vendored
in check-jsonschema) and say what they must (triggers, pulumi/actions inputs, approval, policy),
and run the one shell step whose output drives the matrices."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from multus_cni_cli.__main__ import parser
from multus_cni_cli.fleet import shard

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
    ("vendor.github-actions", sorted(GITHUB.glob("actions/*/action.yml"))),
], ids=["workflows", "composite-actions"])
def test_files_match_the_github_schemas(schema, paths):
    assert len(paths) >= 2
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


SHARD = yaml.safe_load((GITHUB / "actions" / "fleet-shard" / "action.yml").read_text())["runs"]


def fleet_step(job: dict) -> argparse.Namespace:
    """The job's `multus-cni fleet` command (the fleet-shard action's, with the job's inputs),
    parsed by the CLI's own parser, for shard 1/2 of the matrix."""
    (uses,) = steps_using(job, "./.github/actions/fleet-shard")
    inputs = {"args": "", **uses["with"], "shard": "1/2"}
    (step,) = [s for s in SHARD["steps"] if s.get("name") == "fleet"]
    line = re.sub(r"\$\{\{ inputs\.(\w+) \}\}", lambda m: inputs[m.group(1)], step["run"])
    words = shlex.split(line)
    assert words[:3] == [".venv/bin/python", "-m", "multus_cni_cli"]
    return parser().parse_args(words[3:])


SHARDED = [("preview.yml", "preview", "pull_request"), ("up.yml", "up", "push"), ("drift.yml", "drift", "schedule")]


@pytest.mark.parametrize("name, action, trigger", SHARDED)
def test_each_job_runs_the_fleet_on_one_shard_of_the_stack_files_with_the_cli_of_the_sdk(name, action, trigger):
    workflow = load(name)
    assert trigger in triggers(workflow)
    assert workflow["jobs"]["stacks"]["uses"] == "./.github/workflows/stacks.yml"
    job = workflow["jobs"][action]
    assert job["needs"] == "stacks" and job["if"] == "needs.stacks.outputs.shards != '[]'"
    assert job["strategy"] == {"fail-fast": False, "matrix": {"shard": "${{ fromJSON(needs.stacks.outputs.shards) }}"}}
    assert set(job["env"]) == {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND_URL"}
    (uses,) = steps_using(job, "./.github/actions/fleet-shard")
    assert uses["with"]["kubeconfig"] == "${{ secrets.KUBECONFIG }}" and uses["with"]["org"] == "${{ vars.PULUMI_ORG }}"
    assert uses["with"]["shard"] == "${{ matrix.shard }}" and uses["with"]["artifact"] == "fleet-shard-${{ strategy.job-index }}"
    args = fleet_step(job)
    assert (args.command, args.action, args.stack_files, args.shard) == ("fleet", action, True, (1, 2))
    assert args.yes is (action == "up")
    report = workflow["jobs"]["report"]
    assert report["needs"] == ["stacks", action] and report["if"].startswith("always() && ")
    assert steps_using(report, "./.github/actions/fleet-report")[0]["with"]["action"] == action


@pytest.mark.parametrize("name, action", [("preview.yml", "preview"), ("up.yml", "up")])
def test_preview_and_up_run_the_policy_pack_and_show_the_diff(name, action):
    args = fleet_step(load(name)["jobs"][action])
    assert args.policy_pack == ["policy"] and (ROOT / "policy" / "PulumiPolicy.yaml").is_file()
    assert len(args.policy_pack_config) == 1 and json.loads((ROOT / args.policy_pack_config[0]).read_text())
    assert args.log_dir is not None  # each stack's output with --diff, for the report


def test_preview_comments_on_the_pull_request_with_the_report():
    workflow = load("preview.yml")
    assert steps_using(workflow["jobs"]["report"], "./.github/actions/fleet-report")[0]["with"]["comment"] == "true"
    assert workflow["permissions"]["pull-requests"] == "write"
    (comment,) = steps_using(REPORT, "marocchino/sticky-pull-request-comment")
    assert comment["with"]["path"] == "fleet.md" and "github.event_name == 'pull_request'" in comment["if"]
    assert all("comment" not in str(job.get("with", "")) for name in ("up.yml", "drift.yml")
               for job in load(name)["jobs"]["report"]["steps"])


def test_up_waits_for_approval_on_main_one_run_at_a_time():
    workflow = load("up.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    assert workflow["jobs"]["up"]["environment"] == documented_environment()
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_a_shard_job_installs_the_cli_of_the_sdk_and_uploads_what_the_report_reads():
    steps = SHARD["steps"]
    assert steps[0]["uses"] == "./.github/actions/stack-setup"
    (cli,) = [s for s in steps if s.get("uses", "").startswith("pulumi/actions@")]
    assert re.fullmatch(r"pulumi/actions@v\d+", cli["uses"])  # a released major, never a branch
    assert cli["with"] == {"pulumi-version": sdk_version()}  # no command: the CLI of the SDK the program pins
    (upload,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["name"] == "${{ inputs.artifact }}"
    args = fleet_step({"steps": [{"uses": "./.github/actions/fleet-shard", "with": {"action": "preview"}}]})
    artifact = Path(upload["with"]["path"])
    assert artifact in args.summary_json.parents and artifact in args.log_dir.parents
    (download,) = [s for s in REPORT["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"]["pattern"] == "fleet-shard-*"


def test_setup_installs_the_program_and_the_pack_on_python_311():
    action = yaml.safe_load(SETUP.read_text())
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@") and steps[0]["with"]["python-version"] == "3.11"
    script = steps[1]["run"]
    assert "pip install -r requirements.txt" in script and "pip install -r policy/requirements.txt" in script


def checkout(tmp_path: Path, stacks: list[str]) -> Path:
    """A repository as a job sees it: the CLI's packages, the virtualenv, the stack files."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("multus_cni_cli", "components", ".venv", "Pulumi.yaml"):
        (repo / name).symlink_to(ROOT / name)
    for stack in stacks:
        (repo / f"Pulumi.{stack}.yaml").write_text("")
    (repo / "README.md").write_text("")
    return repo


def run_step(script: str, repo: Path, **files: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", **{name: str(path) for name, path in files.items()}}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=repo, capture_output=True, text=True,
                          timeout=120, env=env)


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_the_stack_list_step_emits_the_shards_of_every_stack_file(tmp_path):
    (step,) = [s for s in load("stacks.yml")["jobs"]["list"]["steps"] if s.get("id") == "list"]
    stacks = [f"cluster-{i:03d}" for i in range(20)]
    repo = checkout(tmp_path, stacks)
    done = run_step(step["run"], repo, GITHUB_OUTPUT=tmp_path / "out")
    assert done.returncode == 0, done.stderr
    shards = json.loads(outputs(tmp_path / "out")["shards"])
    assert shards and all(entry.endswith("/3") for entry in shards)  # 20 stacks, 8 a job
    assert sorted(s for entry in shards for s in shard.select(stacks, *shard.parse(entry))) == stacks


REPORT = yaml.safe_load((GITHUB / "actions" / "fleet-report" / "action.yml").read_text())["runs"]


@pytest.mark.parametrize("reported, code", [(["a", "b"], "0"), (["a"], "1")])
def test_the_report_step_joins_the_shards_into_the_job_summary_and_keeps_the_exit_code(tmp_path, reported, code):
    """The action's own join step, with the real CLI, on shards as download-artifact lays them out."""
    from multus_cni_cli.fleet.report import Row, as_json

    (step,) = [s for s in REPORT["steps"] if s.get("id") == "join"]
    repo = checkout(tmp_path, ["a", "b"])
    for index, stack in enumerate(reported):
        (repo / "shards" / f"fleet-shard-{index}" / "logs").mkdir(parents=True)
        (repo / "shards" / f"fleet-shard-{index}" / "fleet.json").write_text(as_json("preview", [Row(stack, "succeeded")]))
    script = step["run"].replace("${{ inputs.action }}", "preview")
    done = run_step(script, repo, GITHUB_OUTPUT=tmp_path / "out", GITHUB_STEP_SUMMARY=tmp_path / "summary.md")
    assert done.returncode == 0, done.stderr  # the step records the code; the last step fails with it
    assert outputs(tmp_path / "out") == {"code": code}
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## fleet preview: 2 stacks, ")
    assert ("no result: the job of its shard reported nothing" in summary) is (code == "1")
    assert json.loads((repo / "fleet.json").read_text())["succeeded"] is (code == "0")
    assert REPORT["steps"][-1]["run"] == 'exit "${{ steps.join.outputs.code }}"'


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


def test_drift_runs_nightly_and_by_hand_and_reads_only():
    workflow = load("drift.yml")
    on = triggers(workflow)
    assert set(on) == {"schedule", "workflow_dispatch"} and len(on["schedule"]) == 1
    assert workflow["permissions"] == {"contents": "read"}
    assert fleet_step(workflow["jobs"]["drift"]).policy_pack == []  # a refresh runs no policies
