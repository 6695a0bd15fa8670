"""The live toolchain's own pieces that need no build: pins that must agree, the generated
replace list for k8s.io/kubernetes, and the Python language host over its real gRPC protocol."""

from __future__ import annotations

import re
import sys

import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import language_pb2

from components.config import MultusConfig
from components.config.addons import CniPluginsConfig, WhereaboutsConfig
from conftest import ROOT
from conftest import language_host as started_host

TOOLCHAIN = ROOT / "toolchain"
HOSTS = TOOLCHAIN / "hosts"
sys.path[:0] = [str(TOOLCHAIN), str(HOSTS)]
import kube_replaces  # noqa: E402


def pins() -> dict[str, str]:
    text = (TOOLCHAIN / "versions.env").read_text()
    return dict(re.findall(r"^([A-Z_]+)=(\S+)$", text, re.M))


def pip_pins() -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))


def test_the_cli_and_the_provider_are_built_at_the_versions_pip_installs():
    assert pins()["PULUMI_VERSION"] == pip_pins()["pulumi"]
    assert pins()["KUBERNETES_PROVIDER_VERSION"] == pip_pins()["pulumi-kubernetes"]


def _tag(image: str) -> str:
    return image.split("@", 1)[0].rsplit(":", 1)[1]


def test_the_multus_whereabouts_and_plugins_built_are_the_releases_the_components_install():
    """The live suite runs the binaries built here under the objects the components render from
    their images' release: one version, or the proof is of another release's code."""
    assert _tag(MultusConfig().image_ref) == pins()["MULTUS_VERSION"]
    assert _tag(MultusConfig(flavor="thick").image_ref) == pins()["MULTUS_VERSION"] + "-thick"
    assert _tag(WhereaboutsConfig().image) == pins()["WHEREABOUTS_VERSION"]
    assert _tag(CniPluginsConfig().image).startswith(pins()["CNI_PLUGINS_VERSION"] + "-build")  # Rancher's build of it


def test_staging_modules_are_pinned_to_the_published_version_and_other_replaces_kept():
    gomod = (
        "module k8s.io/kubernetes\n\n"
        "replace (\n"
        "\tk8s.io/api => ./staging/src/k8s.io/api\n"
        "\tk8s.io/client-go => ./staging/src/k8s.io/client-go // comment\n"
        "\tgithub.com/example/fork v1.0.0 => github.com/other/fork v1.2.3\n"
        ")\n"
        "replace k8s.io/kms => ./staging/src/k8s.io/kms\n"
    )
    assert kube_replaces.replaces(gomod, "v0.36.3") == [
        "-replace=k8s.io/api=k8s.io/api@v0.36.3",
        "-replace=k8s.io/client-go=k8s.io/client-go@v0.36.3",
        "-replace=github.com/example/fork@v1.0.0=github.com/other/fork@v1.2.3",
        "-replace=k8s.io/kms=k8s.io/kms@v0.36.3",
    ]


@pytest.fixture
def language_host():
    yield from started_host(HOSTS / "language_host.py")


def program_info(virtualenv: str) -> language_pb2.ProgramInfo:
    options = struct_pb2.Struct()
    options.update({"toolchain": "pip", "virtualenv": virtualenv})
    return language_pb2.ProgramInfo(root_directory=str(ROOT), program_directory=str(ROOT), entry_point=".",
                                    options=options)


def test_the_host_reports_the_provider_the_program_needs(language_host):
    assert language_host.GetPluginInfo(empty_pb2.Empty()).version == "9.9.9"
    response = language_host.GetRequiredPackages(language_pb2.GetRequiredPackagesRequest(info=program_info(".venv")))
    assert [(p.name, p.kind, p.version) for p in response.packages] == [
        ("kubernetes", "resource", "v" + pip_pins()["pulumi-kubernetes"])]


def test_a_missing_virtualenv_is_an_error_that_says_what_to_run(language_host):
    response = language_host.Run(language_pb2.RunRequest(project="p", stack="s", info=program_info("no-such-venv")))
    assert "no-such-venv does not exist" in response.error and "make venv" in response.error


def test_a_stopping_host_ends_its_children_and_starts_no_new_one():
    """The engine kills the host's process group a few seconds after stopping it; a program the host
    started after that would be an orphan the engine waits for."""
    import signal

    from langhost import LanguageHost

    host = LanguageHost("127.0.0.1:0", "")
    running = host.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    host.signal_children(signal.SIGTERM, stop=True)
    assert host.wait(running) == -signal.SIGTERM
    with pytest.raises(RuntimeError, match="stopping"):
        host.spawn([sys.executable, "-c", "pass"])
    assert not host.children


def test_our_hosts_encode_pulumi_config_as_the_size_check_measures_it():
    """render's 128 KiB check counts the engine's encoding; our hosts must send those very bytes."""
    from langhost import go_json

    from multus_cni_cli import stackfile

    config = {"multus-cni:z": "é<>&\u2028\u2029 \"q\"\n", "kubernetes:context": "kind", "multus-cni:a": "[1, 2]"}
    assert go_json(config) == stackfile.engine_json(config)
