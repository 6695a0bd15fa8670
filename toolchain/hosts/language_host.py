"""pulumi-language-python for the live toolchain.

The Go module proxy serves the Pulumi CLI but no version of its Python language host
(github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 is refused, and sdk/v3 stopped
carrying it when it became its own module). This host speaks the same LanguageRuntime gRPC
protocol with the stubs that ship in the `pulumi` wheel, and runs a program the way the Go host
does (sdk/python/cmd/pulumi-language-python/main.go, Run): the project's virtualenv Python runs
the SDK's own `pulumi-language-python-exec` with the engine's arguments and PULUMI_CONFIG. Policy
packs and Python plugins start through RunPlugin as there (`python -u -m pulumi.policy ARGS DIR`).

Started by the engine as `pulumi-language-python [-tracing ADDR] ENGINE_ADDRESS`; prints its port.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The engine that started this host, read before the imports below take their time (a second
# under load): an engine killed meanwhile has already handed its children to another parent.
ENGINE_PID = os.getppid()

import grpc
import sdk_stubs  # noqa: F401  (first: the SDK's stubs without the SDK)
from pulumi.runtime.proto import language_pb2, plugin_pb2

from langhost import LanguageHost, go_json, plugin_version, program_options, run_response, serve

# Packages that ship no resource plugin of their own (Go host: packagesWithoutPlugins).
NOT_PLUGINS = {"pulumi", "pulumi-policy"}
# Run inside the program's Python: every installed distribution with its pulumi-plugin.json (a
# file `<package>/pulumi-plugin.json` its RECORD lists). Reading every RECORD is most of the cost, so
# only a distribution that may hold one is read: one named like a top-level directory that has the
# file, and every other only if some such directory is still unclaimed (the result is the same).
LIST_PACKAGES = r"""
import importlib.metadata as md, json, os, sys
def plugin_of(dist):
    for f in dist.files or ():
        if f.name == "pulumi-plugin.json" and len(f.parts) == 2:
            try:
                return f.parts[0], json.loads(f.read_text())
            except (OSError, ValueError):
                return f.parts[0], None
    return None, None
holders = set()
for entry in sys.path:
    try:
        names = os.listdir(entry or ".")
    except OSError:
        continue
    holders.update(n for n in names if os.path.isfile(os.path.join(entry or ".", n, "pulumi-plugin.json")))
dists = list(md.distributions())
plugins, unread = {}, []
for dist in dists:
    if dist.metadata["Name"].lower().replace("-", "_").replace(".", "_") in holders:
        top, plugins[id(dist)] = plugin_of(dist)
        holders.discard(top)
    else:
        unread.append(dist)
for dist in unread if holders else ():
    plugins[id(dist)] = plugin_of(dist)[1]
json.dump([{"name": d.metadata["Name"], "version": d.version, "plugin": plugins.get(id(d))} for d in dists], sys.stdout)
"""


def venv_python(info: language_pb2.ProgramInfo, plugin: bool = False) -> Path:
    """The Python of the project's `virtualenv` option (plugins default to `venv`, as upstream)."""
    options = program_options(info)
    venv = options.get("virtualenv") or ("venv" if plugin else "")
    if not venv:  # no virtualenv: the Python on PATH, as upstream (PULUMI_PYTHON_CMD overrides)
        return Path(shutil.which(os.environ.get("PULUMI_PYTHON_CMD", "python3")) or "python3")
    root = Path(info.root_directory or info.program_directory or ".")
    path = Path(venv) if Path(venv).is_absolute() else root / venv
    return path / "bin" / "python"


def venv_env(python: Path) -> dict[str, str]:
    """The environment with the virtualenv activated, as the Go toolchain's ActivateVirtualEnv does."""
    env = dict(os.environ)
    bindir = python.parent
    if (bindir.parent / "pyvenv.cfg").exists():
        env["VIRTUAL_ENV"] = str(bindir.parent)
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONHOME", None)
    return env


def missing_venv(python: Path) -> str | None:
    if python.exists():
        return None
    venv = python.parent.parent
    return (f"The virtual environment {venv} does not exist. Create it and install the "
            f"requirements (`make venv`, or `pulumi install`) and run this command again.")


def existing_python(info: language_pb2.ProgramInfo, context, plugin: bool = False) -> Path:
    """The virtualenv's Python, or the call fails saying how to create it."""
    python = venv_python(info, plugin)
    if (problem := missing_venv(python)) is not None:
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, problem)
    return python


def installed_packages(python: Path) -> list[dict]:
    out = subprocess.run([str(python), "-c", LIST_PACKAGES], capture_output=True, text=True,
                         env=venv_env(python), check=True)
    return json.loads(out.stdout)


def package_dependency(package: dict) -> plugin_pb2.PackageDependency | None:
    """A resource plugin the program needs, from its pulumi-plugin.json (Go host: same rules)."""
    plugin = package.get("plugin")
    if package["name"] in NOT_PLUGINS or not plugin or not plugin.get("resource"):
        return None
    return plugin_pb2.PackageDependency(
        name=plugin.get("name") or package["name"].removeprefix("pulumi-"), kind="resource",
        version=plugin_version(plugin.get("version") or package["version"]), server=plugin.get("server", ""))


class PythonLanguageHost(LanguageHost):
    def __init__(self, engine_address: str, tracing: str):
        super().__init__(engine_address, tracing)
        self.exec_script = Path(__file__).resolve().with_name("pulumi-language-python-exec")

    def GetRequiredPackages(self, request, context):
        python = existing_python(request.info, context)
        deps = [dep for pkg in installed_packages(python) if (dep := package_dependency(pkg))]
        return language_pb2.GetRequiredPackagesResponse(packages=sorted(deps, key=lambda d: d.name))

    def GetProgramDependencies(self, request, context):
        python = existing_python(request.info, context)
        return language_pb2.GetProgramDependenciesResponse(dependencies=[
            language_pb2.DependencyInfo(name=p["name"], version=p["version"])
            for p in sorted(installed_packages(python), key=lambda p: p["name"].lower())])

    def About(self, request, context):
        python = venv_python(request.info)
        version = subprocess.run([str(python), "--version"], capture_output=True, text=True).stdout
        return language_pb2.AboutResponse(executable=str(python), version=version.split()[-1])

    def Run(self, request, context):
        python = venv_python(request.info)
        if (problem := missing_venv(python)) is not None:
            return language_pb2.RunResponse(error=problem)
        args = [str(python), "-u", str(self.exec_script)]
        for flag, value in (("monitor", request.monitor_address), ("engine", self.engine_address),
                            ("project", request.project), ("root_directory", request.info.root_directory),
                            ("stack", request.stack), ("pwd", request.pwd),
                            ("dry_run", str(request.dryRun).lower()), ("parallel", str(request.parallel)),
                            ("tracing", self.tracing), ("organization", request.organization)):
            if value:
                args += [f"--{flag}", value]
        args += [request.info.entry_point or ".", *request.args]
        env = venv_env(python)
        env["PULUMI_CONFIG"] = go_json(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        return run_response(self.wait(self.spawn(args, env=env, cwd=request.pwd or None)))

    def RunPlugin(self, request, context):
        analyzer = request.kind == "analyzer"
        python = existing_python(request.info, context, plugin=not analyzer)
        program_dir = request.info.program_directory
        if analyzer:  # policy packs take their directory last and run from it (Go host: same)
            args, cwd = [str(python), "-u", "-m", "pulumi.policy", *request.args, program_dir], program_dir
        else:
            args, cwd = [str(python), "-u", program_dir, *request.args], request.pwd or program_dir
        env = venv_env(python)
        env.update(item.split("=", 1) for item in request.env if "=" in item)
        child = self.spawn(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        yield from self.stream(child, language_pb2.RunPluginResponse, exit_field="exitcode")

    def InstallDependencies(self, request, context):
        """`pulumi install`: create the virtualenv and install requirements.txt into it."""
        python = venv_python(request.info, plugin=request.is_plugin)
        directory = Path(request.info.program_directory or request.directory)
        steps = []
        if not python.exists():
            steps.append([sys.executable, "-m", "venv", str(python.parent.parent)])
        if (directory / "requirements.txt").exists():
            steps.append([str(python), "-m", "pip", "install", "-r", "requirements.txt"])
        yield from self.run_steps(steps, directory, context, language_pb2.InstallDependenciesResponse)


if __name__ == "__main__":
    serve(PythonLanguageHost, sys.argv[1:], ENGINE_PID)
