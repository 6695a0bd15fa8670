"""pulumi-language-nodejs for the live toolchain.

The Go module proxy serves no version of upstream's Node.js language host
(github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 is refused; sdk/v3 last carried
it long before the CLI we build). This host speaks the same LanguageRuntime protocol (toolchain/
langhost.py) and does what upstream's does (sdk/nodejs/cmd/pulumi-language-nodejs/main.go) for
the calls the CLI makes on a TypeScript project:

- Run: `node [nodeargs] <@pulumi/pulumi/cmd/run> --monitor ... PROGRAM`, the SDK's own runner resolved
  from the program's directory, with PULUMI_CONFIG (keys as `ns:config:name`), the secret keys,
  and PULUMI_NODEJS_TYPESCRIPT / PULUMI_NODEJS_TSCONFIG_PATH from Pulumi.yaml's options;
- GetRequiredPackages: the resource plugins named by the `pulumi` section of every package.json
  under a node_modules directory of the program (policy packs skipped);
- InstallDependencies (`npm install`), About, GetProgramDependencies (package-lock.json), Cancel;
- GeneratePackage and Link (`pulumi package add`): Pulumi's own Go codegen for TypeScript does the
  generation (toolchain/nodejs_codegen, the `pulumi-nodejs-codegen` binary), then Link records the
  SDK in package.json as upstream's npm support does.

Started by the engine as `pulumi-language-nodejs [-tracing ADDR] ENGINE_ADDRESS`; prints its port.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The engine that started this host, read before the imports below take their time (a second
# under load): an engine killed meanwhile has already handed its children to another parent.
ENGINE_PID = os.getppid()

import grpc
from google.protobuf import json_format
from pulumi.runtime.proto import language_pb2, plugin_pb2

from langhost import LanguageHost, go_json, plugin_version, program_options, run_response, serve

RUN_MODULE = "@pulumi/pulumi/cmd/run"
# How the Go host finds a module: node's own resolution, from the program's directory.
LOCATE = ("try { console.log(require.resolve(%s)); } catch (error) { console.error(error.code === "
          "'MODULE_NOT_FOUND' ? 'It looks like the Pulumi SDK has not been installed. Have you run "
          "pulumi install?' : error.message); process.exit(1); }")
POLICY_PACK_FILES = ("PulumiPolicy.yaml", "PulumiPolicy.yml")


@dataclass(frozen=True)
class NodeOptions:
    """Pulumi.yaml's `runtime.options` for nodejs, with upstream's defaults and type checks."""

    typescript: bool = True
    tsconfig: str = ""
    nodeargs: str = ""
    packagemanager: str = "auto"
    production: bool = False

    @classmethod
    def of(cls, info: language_pb2.ProgramInfo) -> NodeOptions:
        options, values = program_options(info), {}
        for field, kind in (("typescript", bool), ("tsconfig", str), ("nodeargs", str),
                            ("packagemanager", str), ("production", bool)):
            if field in options:
                if not isinstance(options[field], kind):
                    raise ValueError(f"{field} option must be a {'boolean' if kind is bool else 'string'}")
                values[field] = options[field]
        if values.get("packagemanager", "auto") not in ("auto", "npm"):
            raise ValueError(f"packagemanager {values['packagemanager']!r}: this toolchain's Node.js host "
                             "installs with npm only (set it to npm or auto)")
        return cls(**values)


def options_or_abort(info: language_pb2.ProgramInfo, context) -> NodeOptions:
    try:
        return NodeOptions.of(info)
    except ValueError as error:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))


def config_env(config: dict[str, str]) -> str:
    """PULUMI_CONFIG as the Go host passes it: `project:key` keys as `project:config:key`."""
    out = {}
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        out[f"{namespace}:config:{name.removeprefix('config:')}"] = value
    return go_json(out)


def package_dependency(manifest: dict) -> plugin_pb2.PackageDependency | None:
    """The resource plugin a package.json's `pulumi` section names (Go host: getPackageInfo)."""
    section = manifest.get("pulumi") or {}
    if not section.get("resource"):
        return None
    name = section.get("name") or ""
    if not name:
        if not str(manifest.get("name", "")).startswith("@pulumi/"):
            raise ValueError(f"the third-party plugin {manifest.get('name')!r} needs a `pulumi.name` in its package.json")
        name = manifest["name"].split("/", 1)[1]
    version = section.get("version") or manifest.get("version") or ""
    if not version:
        raise ValueError(f"{manifest.get('name')!r} has no version")
    dep = plugin_pb2.PackageDependency(name=name, kind="resource", server=section.get("server", ""),
                                       version=plugin_version(version))
    if (param := section.get("parameterization")) is not None:
        dep.parameterization.CopyFrom(json_format.ParseDict(param, plugin_pb2.PackageParameterization()))
    return dep


def plugin_packages(directory: Path) -> list[plugin_pb2.PackageDependency]:
    """Every package under a node_modules directory of `directory` that ships a resource plugin,
    following links once each and skipping nested policy packs (Go host: getPackagesFromDir)."""
    found: list[plugin_pb2.PackageDependency] = []
    visited: set[Path] = set()

    def walk(folder: Path, in_node_modules: bool) -> None:
        folder = folder.resolve()
        if folder in visited:
            return
        visited.add(folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            path = Path(entry.path)
            if entry.is_dir():
                if not any((path / name).exists() for name in POLICY_PACK_FILES):
                    walk(path, in_node_modules or folder.name == "node_modules")
            elif in_node_modules and entry.name == "package.json":
                try:
                    dep = package_dependency(json.loads(path.read_text()))
                except (OSError, ValueError) as error:
                    print(f"{path}: {error}", file=sys.stderr)
                    continue
                if dep is not None:
                    found.append(dep)

    walk(directory, False)
    return found


def search_up(directory: Path, name: str) -> Path | None:
    for folder in (directory, *directory.parents):
        if (folder / name).exists():
            return folder / name
    return None


def locked_packages(directory: Path, transitive: bool) -> list[language_pb2.DependencyInfo]:
    """The packages package-lock.json pins, or only those package.json names (Go host: npm ListPackages)."""
    lock = search_up(directory, "package-lock.json")
    if lock is None:
        raise FileNotFoundError(f"no package-lock.json found (searching upwards from {directory})")
    pinned = {path.rpartition("node_modules/")[2]: entry.get("version", "")
              for path, entry in json.loads(lock.read_text()).get("packages", {}).items() if path}
    if not transitive:
        manifest = json.loads((lock.parent / "package.json").read_text())
        direct = {*manifest.get("dependencies", {}), *manifest.get("devDependencies", {})}
        pinned = {name: version for name, version in pinned.items() if name in direct}
    return [language_pb2.DependencyInfo(name=name, version=version) for name, version in sorted(pinned.items())]


def command_output(args: list[str], cwd: Path | None = None) -> str:
    """A short command's stdout, or "" when it cannot say (About reports what it can)."""
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


class NodejsLanguageHost(LanguageHost):
    def __init__(self, engine_address: str, tracing: str):
        super().__init__(engine_address, tracing)
        self.codegen = os.environ.get("PULUMI_NODEJS_CODEGEN") or shutil.which("pulumi-nodejs-codegen") or ""

    def GetRequiredPackages(self, request, context):
        deps = plugin_packages(Path(request.info.program_directory))
        return language_pb2.GetRequiredPackagesResponse(packages=sorted(deps, key=lambda d: (d.name, d.version)))

    def GetProgramDependencies(self, request, context):
        try:
            deps = locked_packages(Path(request.info.program_directory), request.transitiveDependencies)
        except (OSError, ValueError) as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"failed to get node dependencies: {error}")
        return language_pb2.GetProgramDependenciesResponse(dependencies=deps)

    def About(self, request, context):
        node, directory = shutil.which("node") or "", Path(request.info.program_directory or ".")
        metadata = {"packagemanager": "npm", "packagemanagerVersion": command_output(["npm", "--version"])}
        if typescript := command_output([node, "-e", "console.log(require('typescript/package.json').version)"],
                                        cwd=directory) if node else "":
            metadata["typescriptVersion"] = typescript
        return language_pb2.AboutResponse(executable=node, version=command_output([node, "--version"]) if node else "",
                                          metadata=metadata)

    def Run(self, request, context):
        info = request.info
        try:
            options = NodeOptions.of(info)
        except ValueError as error:
            return language_pb2.RunResponse(error=str(error))
        node = shutil.which("node")
        if node is None:
            return language_pb2.RunResponse(error="could not find node on the $PATH")
        module = os.environ.get("PULUMI_LANGUAGE_NODEJS_RUN_PATH", RUN_MODULE)
        located = subprocess.run([node, "-e", LOCATE % json.dumps(module)], cwd=info.program_directory or None,
                                 capture_output=True, text=True)
        if located.returncode:
            return language_pb2.RunResponse(error=located.stderr.strip())
        # The engine's monitor directly: upstream's host puts a proxy in between that forwards every
        # call untouched, and a --sync file channel that nothing in @pulumi/pulumi 3.260.0 reads.
        args = [node, *shlex.split(options.nodeargs), located.stdout.strip()]
        for flag, value in (("monitor", request.monitor_address), ("engine", self.engine_address),
                            ("organization", request.organization), ("project", request.project),
                            ("root-directory", info.root_directory), ("stack", request.stack),
                            ("pwd", info.program_directory)):
            if value:
                args += [f"--{flag}", value]
        if request.dryRun:
            args.append("--dry-run")
        args += ["--parallel", str(request.parallel)]
        if self.tracing:
            args += ["--tracing", self.tracing]
        args += [info.entry_point, *request.args]
        env = dict(os.environ, PULUMI_CONFIG=config_env(dict(request.config)),
                   PULUMI_CONFIG_SECRET_KEYS=json.dumps(list(request.configSecretKeys)))
        if options.typescript:
            env["PULUMI_NODEJS_TYPESCRIPT"] = "true"
        if options.tsconfig:
            env["PULUMI_NODEJS_TSCONFIG_PATH"] = options.tsconfig
        return run_response(self.wait(self.spawn(args, env=env, cwd=info.program_directory or None)))

    def InstallDependencies(self, request, context):
        """`pulumi install` (and `pulumi package add`): npm install in the program's directory."""
        options = options_or_abort(request.info, context)
        directory = request.info.program_directory or request.directory
        yield language_pb2.InstallDependenciesResponse(stdout=b"Installing dependencies...\n\n")
        step = ["npm", "install", "--loglevel=error", *(["--production"] if options.production else [])]
        yield from self.run_steps([step], directory, context, language_pb2.InstallDependenciesResponse)
        yield language_pb2.InstallDependenciesResponse(stdout=b"Finished installing dependencies\n\n")

    def GeneratePackage(self, request, context):
        return self.delegate("generate-package", request, language_pb2.GeneratePackageResponse(), context)

    def Link(self, request, context):
        """Each generated SDK becomes a `file:` dependency in package.json whose install scripts npm
        may run (they compile the SDK); `pulumi package add` then installs (Go host: npm Link)."""
        options = options_or_abort(request.info, context)
        directory = Path(request.info.program_directory)
        names = json.loads(self.delegate("link-names", request, None, context))["packages"]
        typescript = options.typescript or bool(options.tsconfig) or search_up(directory, "tsconfig.json") is not None
        manifest = search_up(directory, "package.json")
        modules = typescript or (manifest is not None and json.loads(manifest.read_text()).get("type") == "module")
        lines = []
        for dep, name in zip(request.packages, names):
            spec = f"file:{dep.path}"
            self.npm(["pkg", "set", f"dependencies[{name['package']}]={spec}"], directory, context)
            allowed = self.npm(["pkg", "get", "allowScripts"], directory, context)
            allow = json.loads(allowed) if allowed.startswith("{") else {}
            self.npm(["pkg", "set", "--json", f"allowScripts={json.dumps({**allow, spec: True})}"], directory, context)
            lines.append(f"  import * as {name['import']} from \"{name['package']}\";" if modules
                         else f"  const {name['import']} = require(\"{name['package']}\");")
        language = "TypeScript" if typescript else "JavaScript"
        return language_pb2.LinkResponse(
            import_instructions=f"You can import the SDK in your {language} code with:\n\n" + "\n".join(lines) + "\n")

    def npm(self, args: list[str], directory: Path, context) -> str:
        done = subprocess.run(["npm", *args], cwd=directory, capture_output=True, text=True)
        if done.returncode:
            context.abort(grpc.StatusCode.UNKNOWN, f"npm {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout.strip()

    def delegate(self, command: str, request, response, context):
        """Run pulumi-nodejs-codegen on the request; its answer parsed into `response` (or as text)."""
        if not self.codegen:
            context.abort(grpc.StatusCode.UNIMPLEMENTED,
                          "pulumi-nodejs-codegen is not on PATH: run `bash toolchain/build.sh nodejs_host`")
        done = subprocess.run([self.codegen, command], input=json_format.MessageToJson(request),
                              capture_output=True, text=True)
        if done.returncode:
            context.abort(grpc.StatusCode.UNKNOWN, f"{command}: {done.stderr.strip()}")
        return done.stdout if response is None else json_format.Parse(done.stdout, response)


if __name__ == "__main__":
    serve(NodejsLanguageHost, sys.argv[1:], ENGINE_PID)
