"""The Node.js language host (toolchain/hosts/nodejs_host.py) over its real gRPC protocol, started the way
the engine starts it. Run goes through a stand-in runner (PULUMI_LANGUAGE_NODEJS_RUN_PATH, the
variable upstream's host reads too) that records the command line and environment node got, so the
engine's arguments are checked without an engine; the live suite runs real programs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import language_pb2

from conftest import ROOT, language_host

TOOLCHAIN_BIN = Path(subprocess.run(["bash", "-c", ". toolchain/lib.sh && echo $TC"], cwd=ROOT, capture_output=True,
                                    text=True, check=True).stdout.strip()) / "bin"
# The toolchain's node and codegen first, when built (the host looks them up on PATH).
PATH = f"{TOOLCHAIN_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
NODE = shutil.which("node", path=PATH)
CODEGEN = shutil.which("pulumi-nodejs-codegen", path=PATH)
needs_node = pytest.mark.skipif(NODE is None, reason="no node on PATH (bash toolchain/build.sh node)")

# A runner that writes what it was started with, then exits with the code its last argument names
# (or, for `wait`, runs until it is interrupted).
RECORDING_RUNNER = """
const fs = require("fs");
fs.writeFileSync(process.env.RECORD, JSON.stringify({argv: process.argv.slice(2), env: {
  config: process.env.PULUMI_CONFIG, secrets: process.env.PULUMI_CONFIG_SECRET_KEYS,
  typescript: process.env.PULUMI_NODEJS_TYPESCRIPT ?? null, tsconfig: process.env.PULUMI_NODEJS_TSCONFIG_PATH ?? null}}));
if (process.argv.at(-1) === "wait") { setInterval(() => {}, 1000); } else { process.exit(Number(process.argv.at(-1)) || 0); }
"""


def start_host(**env: str):
    return language_host(ROOT / "toolchain" / "hosts" / "nodejs_host.py", PATH=PATH, **env)


@pytest.fixture(scope="module")
def host():
    yield from start_host()


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """The file the recording runner writes."""
    return tmp_path_factory.mktemp("runner") / "record.json"


@pytest.fixture(scope="module")
def recording_host(runner):
    """A host whose Run starts the recording runner instead of @pulumi/pulumi's."""
    (runner.parent / "runner.js").write_text(RECORDING_RUNNER)
    yield from start_host(PULUMI_LANGUAGE_NODEJS_RUN_PATH=str(runner.parent / "runner.js"), RECORD=str(runner))


def info(directory: Path, **options) -> language_pb2.ProgramInfo:
    struct = struct_pb2.Struct()
    struct.update(options)
    return language_pb2.ProgramInfo(root_directory=str(directory), program_directory=str(directory),
                                    entry_point=".", options=struct)


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def test_the_plugins_are_the_resource_packages_under_node_modules(host, tmp_path):
    modules = tmp_path / "node_modules"
    write_json(modules / "@pulumi/kubernetes/package.json",
               {"name": "@pulumi/kubernetes", "version": "4.25.0", "pulumi": {"resource": True}})
    write_json(modules / "@pulumi/pulumi/package.json", {"name": "@pulumi/pulumi", "version": "3.260.0"})
    write_json(modules / "left-pad/node_modules/@acme/mesh/package.json",
               {"name": "@acme/mesh", "version": "0.1.0", "pulumi": {"resource": True, "name": "mesh", "version": "v2.0.0"}})
    # A nested policy pack's plugins belong to the pack; the program's own package.json is no plugin.
    write_json(tmp_path / "policy/node_modules/@pulumi/random/package.json",
               {"name": "@pulumi/random", "version": "4.0.0", "pulumi": {"resource": True}})
    (tmp_path / "policy/PulumiPolicy.yaml").write_text("runtime: nodejs\n")
    write_json(tmp_path / "package.json", {"name": "app", "version": "1.0.0", "pulumi": {"resource": True}})
    (modules / "loop").symlink_to(tmp_path)  # links are followed once

    assert host.GetPluginInfo(empty_pb2.Empty()).version == "9.9.9"
    response = host.GetRequiredPackages(language_pb2.GetRequiredPackagesRequest(info=info(tmp_path)))
    assert [(p.name, p.kind, p.version) for p in response.packages] == [
        ("kubernetes", "resource", "v4.25.0"), ("mesh", "resource", "v2.0.0")]


def test_program_dependencies_come_from_the_lock_file(host, tmp_path):
    write_json(tmp_path / "package.json", {"dependencies": {"@pulumi/pulumi": "3.260.0"},
                                           "devDependencies": {"typescript": "~5.9.3"}})
    write_json(tmp_path / "package-lock.json", {"packages": {
        "": {"name": "app"}, "node_modules/@pulumi/pulumi": {"version": "3.260.0"},
        "node_modules/typescript": {"version": "5.9.3"}, "node_modules/@pulumi/pulumi/node_modules/semver": {"version": "7.7.2"}}})
    request = language_pb2.GetProgramDependenciesRequest(info=info(tmp_path))
    direct = host.GetProgramDependencies(request).dependencies
    assert [(d.name, d.version) for d in direct] == [("@pulumi/pulumi", "3.260.0"), ("typescript", "5.9.3")]
    request.transitiveDependencies = True
    assert "semver" in [d.name for d in host.GetProgramDependencies(request).dependencies]


def run_request(directory: Path, args=("extra",), **options) -> language_pb2.RunRequest:
    return language_pb2.RunRequest(
        project="proj", stack="dev", monitor_address="127.0.0.1:1111", organization="org", dryRun=True, parallel=4,
        config={"proj:who": "you", "kubernetes:context": "kind"}, configSecretKeys=["proj:who"],
        args=list(args), info=info(directory, **options))


@needs_node
def test_run_starts_the_sdk_runner_with_the_engines_arguments(runner, recording_host, tmp_path):
    recording_host.Handshake(language_pb2.LanguageHandshakeRequest(engine_address="127.0.0.1:2222"))
    response = recording_host.Run(run_request(tmp_path, tsconfig="tsconfig.ci.json"))
    assert response.error == "" and not response.bail
    record = json.loads(runner.read_text())
    assert record["argv"] == [
        "--monitor", "127.0.0.1:1111", "--engine", "127.0.0.1:2222", "--organization", "org", "--project", "proj",
        "--root-directory", str(tmp_path), "--stack", "dev", "--pwd", str(tmp_path), "--dry-run", "--parallel", "4",
        ".", "extra"]
    assert json.loads(record["env"]["config"]) == {"proj:config:who": "you", "kubernetes:config:context": "kind"}
    assert json.loads(record["env"]["secrets"]) == ["proj:who"]
    assert (record["env"]["typescript"], record["env"]["tsconfig"]) == ("true", "tsconfig.ci.json")


@needs_node
@pytest.mark.parametrize(("code", "bail", "error"), [
    ("32", True, ""), ("3", False, "program exited with non-zero exit code: 3")])
def test_a_failing_program_bails_or_reports_its_exit_code(runner, recording_host, tmp_path, code, bail, error):
    response = recording_host.Run(run_request(tmp_path, args=[code], typescript=False))
    assert (response.bail, response.error) == (bail, error)
    assert json.loads(runner.read_text())["env"]["typescript"] is None


@needs_node
def test_cancel_ends_the_running_program(runner, recording_host, tmp_path):
    runner.unlink(missing_ok=True)
    with futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(recording_host.Run, run_request(tmp_path, args=["wait"]), timeout=30)
        deadline = time.monotonic() + 30
        while not runner.exists() and time.monotonic() < deadline:  # the runner has started
            time.sleep(0.05)
        recording_host.Cancel(empty_pb2.Empty())
        response = running.result(timeout=30)
    # SIGTERM: a Python program interrupted with SIGINT prints a KeyboardInterrupt traceback (langhost.Cancel).
    assert response.error == f"program exited with non-zero exit code: {-signal.SIGTERM}"


@needs_node
def test_a_program_without_the_sdk_says_to_install_it(host, tmp_path):
    response = host.Run(run_request(tmp_path))
    assert "Pulumi SDK has not been installed" in response.error and "pulumi install" in response.error


def test_an_unsupported_package_manager_is_named(host, tmp_path):
    response = host.Run(run_request(tmp_path, packagemanager="yarn"))
    assert "packagemanager 'yarn'" in response.error and "npm only" in response.error
    with pytest.raises(grpc.RpcError) as raised:
        list(host.InstallDependencies(language_pb2.InstallDependenciesRequest(info=info(tmp_path, typescript="yes"))))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "typescript option must be a boolean" in raised.value.details()


SCHEMA = {
    "name": "demo", "version": "1.2.3",
    "resources": {"demo:index:Widget": {
        "isComponent": True, "inputProperties": {"size": {"type": "integer"}}, "requiredInputs": ["size"],
        "properties": {"label": {"type": "string"}}, "required": ["label"]}},
    "language": {"nodejs": {"packageName": "@acme/demo"}},
}


@pytest.mark.skipif(CODEGEN is None, reason="pulumi-nodejs-codegen is not built (bash toolchain/build.sh nodejs_host)")
def test_generate_package_writes_the_typescript_sdk_with_pulumis_codegen(host, tmp_path):
    out = tmp_path / "sdk"
    response = host.GeneratePackage(language_pb2.GeneratePackageRequest(
        directory=str(out), schema=json.dumps(SCHEMA), loader_target="127.0.0.1:1", local=True))
    assert not [d for d in response.diagnostics if d.severity == 1]
    manifest = json.loads((out / "package.json").read_text())
    assert (manifest["name"], manifest["pulumi"]["resource"], manifest["pulumi"]["name"]) == ("@acme/demo", True, "demo")
    widget = (out / "widget.ts").read_text()
    assert "export class Widget extends pulumi.ComponentResource" in widget
    assert "export interface WidgetArgs {\n    size: pulumi.Input<number>;\n}" in widget
