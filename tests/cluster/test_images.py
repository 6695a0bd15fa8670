"""cluster/images.py: docker-save tarballs that `ctr images import` takes, laid out as upstream's images.

Built from small fixture trees (a toolchain of stand-in binaries and a pause Makefile of our own),
so they depend on neither the built toolchain nor the checkout; the real busybox-static goes into a
throw-away containerd, as root, when one is installed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from cluster import images
from components.config import MultusConfig
from components.config.addons import CNI_PLUGINS_IMAGE, WHEREABOUTS_IMAGE
from conftest import ROOT

SCRIPT = ROOT / "cluster" / "images.py"
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc (apt-get install gcc libc6-dev)")


def _busybox_missing() -> str:
    try:
        images.busybox_version()
    except images.InputError as error:
        return str(error)
    return ""


needs_busybox = pytest.mark.skipif(bool(_busybox_missing()), reason=_busybox_missing() or "-")

# Upstream's build/pause/Makefile lines the build reads (k8s.io/kubernetes build/pause/Makefile).
PAUSE_MAKEFILE = """\
TAG ?= 9.9.9
REV = $(shell git describe --contains --always --match='v*')
CFLAGS = -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV)
"""
# Prints its VERSION define as pause.c's `-v` does, so the test sees the Makefile's CFLAGS applied.
PAUSE_C = """\
#include <stdio.h>
#define STRINGIFY(x) #x
#define VERSION_STRING(x) STRINGIFY(x)
int main(void) { printf("%s\\n", VERSION_STRING(VERSION)); return 0; }
"""


@pytest.fixture
def toolchain(tmp_path, monkeypatch) -> images.Toolchain:
    """A toolchain cache laid out as toolchain/build.sh leaves it, at the pinned versions, with
    stand-in binaries; MULTUS_TOOLCHAIN_DIR points the command at it too."""
    monkeypatch.setenv("MULTUS_TOOLCHAIN_DIR", str(tmp_path / "tc"))
    tc = images.Toolchain.from_lib()
    assert tc.root == tmp_path / "tc"
    tc.bin.mkdir(parents=True)
    for name in images.MULTUS_REQUIRED:
        (tc.bin / name).write_bytes(f"#!stand-in {name}\n".encode())
    tc.multus_module.mkdir(parents=True)
    (tc.multus_module / "LICENSE").write_text("Apache License 2.0\n")
    (tc.pause_dir / "linux").mkdir(parents=True)
    (tc.pause_dir / "Makefile").write_text(PAUSE_MAKEFILE)
    (tc.pause_dir / "linux/pause.c").write_text(PAUSE_C)
    return tc


def read_image(path: Path) -> tuple[dict, dict, dict[str, tarfile.TarInfo], dict[str, bytes]]:
    """(manifest entry, config, layer members, layer file contents), checking the digests that tie them."""
    with tarfile.open(path) as outer:
        (manifest,) = json.load(outer.extractfile("manifest.json"))
        config_bytes = outer.extractfile(manifest["Config"]).read()
        (layer_name,) = manifest["Layers"]
        layer_bytes = outer.extractfile(layer_name).read()
    assert manifest["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    config = json.loads(config_bytes)
    layer_sha = hashlib.sha256(layer_bytes).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [f"sha256:{layer_sha}"]}
    assert layer_name == f"{layer_sha}/layer.tar"
    with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as layer:
        members = {"/" + m.name.rstrip("/"): m for m in layer.getmembers()}
        files = {name: layer.extractfile(m).read() for name, m in members.items() if m.isfile()}
    return manifest, config, members, files


def build(image: images.Image, out: Path) -> Path:
    return images.write_image(image, out / "image.tar")


def test_a_tarball_is_docker_save_with_owner_root_and_no_timestamps(toolchain, tmp_path):
    manifest, config, members, _ = read_image(build(images.multus(toolchain), tmp_path / "out"))
    assert manifest["RepoTags"] == [images.multus_ref(toolchain)]
    assert config["os"] == "linux" and config["architecture"] == {"x86_64": "amd64", "aarch64": "arm64"}[os.uname().machine]
    assert "created" not in config and "history" not in config
    assert {(m.uid, m.gid, m.mtime) for m in members.values()} == {(0, 0, 0)}
    names = [m.name for m in members.values()]
    assert names == sorted(names)
    # Every parent directory is an entry of its own.
    assert {"/usr", "/usr/src", "/usr/src/multus-cni", "/usr/src/multus-cni/bin"} <= {n for n, m in members.items() if m.isdir()}


def test_the_thin_image_is_laid_out_as_upstreams_dockerfile(toolchain, tmp_path):
    """images/Dockerfile (v4.3.0): bin/ and LICENSE under /usr/src/multus-cni, install_multus and
    thin_entrypoint also at /, ENTRYPOINT ["/thin_entrypoint"], WORKDIR /; distroless' passwd and /tmp."""
    image = images.multus(toolchain)
    _, config, members, files = read_image(build(image, tmp_path / "out"))
    assert config["config"]["Entrypoint"] == ["/thin_entrypoint"] and config["config"]["WorkingDir"] == "/"
    for name in images.MULTUS_REQUIRED:
        assert files[f"/usr/src/multus-cni/bin/{name}"] == (toolchain.bin / name).read_bytes()
        assert members[f"/usr/src/multus-cni/bin/{name}"].mode == 0o755
    assert files["/install_multus"] == files["/usr/src/multus-cni/bin/install_multus"]
    assert files["/thin_entrypoint"] == files["/usr/src/multus-cni/bin/thin_entrypoint"]
    assert files["/usr/src/multus-cni/LICENSE"] == b"Apache License 2.0\n"
    assert files["/etc/passwd"].startswith(b"root:x:0:0:") and files["/etc/group"] == b"root:x:0:\n"
    assert members["/tmp"].isdir() and members["/tmp"].mode == 0o1777
    assert not any(name.startswith("/bin") for name in members)  # no shell: nothing runs one
    assert any("kubeconfig_generator, cert-approver" in note for note in image.notes)


def test_the_thick_image_is_laid_out_as_upstreams_dockerfile_thick(toolchain, tmp_path):
    """images/Dockerfile.thick: the same bin/ and LICENSE, cert-approver (when built) at /, and the daemon as entrypoint."""
    (toolchain.bin / "cert-approver").write_bytes(b"#!stand-in cert-approver\n")
    (toolchain.bin / "kubeconfig_generator").write_bytes(b"#!stand-in kubeconfig_generator\n")
    _, config, members, files = read_image(build(images.multus_thick(toolchain), tmp_path / "thick"))
    assert config["config"]["Entrypoint"] == ["/usr/src/multus-cni/bin/multus-daemon"]
    assert images.multus_thick(toolchain).ref == images.multus_ref(toolchain, thick=True)
    assert files["/cert-approver"] == files["/usr/src/multus-cni/bin/cert-approver"]
    assert "/usr/src/multus-cni/bin/kubeconfig_generator" in files
    assert not {"/thin_entrypoint", "/install_multus", "/kubeconfig_generator"} & set(members)
    # The thin image takes both, as images/Dockerfile copies them to / too.
    _, _, thin, _ = read_image(build(images.multus(toolchain), tmp_path / "thin"))
    assert {"/cert-approver", "/kubeconfig_generator"} <= set(thin)


def test_a_missing_install_multus_says_who_builds_it(toolchain, tmp_path):
    (toolchain.bin / "install_multus").unlink()
    with pytest.raises(images.InputError, match="install_multus.*build_multus must build cmd/install_multus"):
        images.multus(toolchain)
    done = subprocess.run([sys.executable, "-S", str(SCRIPT), "build", "--out", str(tmp_path / "out"), "--only", "multus"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert "install_multus" in done.stderr
    assert not (tmp_path / "out" / "multus.tar").exists()


@needs_gcc
def test_pause_is_built_with_the_makefiles_cflags_and_tagged_with_its_tag(toolchain, tmp_path):
    """build/pause/Makefile: `TAG ?=` is the tag; CFLAGS' -DVERSION=v$(TAG)-$(REV) is compiled in."""
    image = images.pause(toolchain)
    assert image.ref == images.pause_ref(toolchain) == "registry.k8s.io/pause:9.9.9"
    _, config, members, files = read_image(build(image, tmp_path / "out"))
    # build/pause/Dockerfile: ENTRYPOINT ["/pause"], USER 65535:65535, FROM scratch: nothing else.
    assert config["config"]["Entrypoint"] == ["/pause"] and config["config"]["User"] == "65535:65535"
    assert set(members) == {"/pause"}
    binary = tmp_path / "pause"
    binary.write_bytes(files["/pause"])
    binary.chmod(0o755)
    assert subprocess.run([binary], capture_output=True, text=True, check=True).stdout == f"v9.9.9-{toolchain.kube_version}\n"


def test_a_pause_makefile_without_a_tag_is_an_input_error(toolchain):
    (toolchain.pause_dir / "Makefile").write_text("CFLAGS = -Os\n")
    with pytest.raises(images.InputError, match="sets no TAG"):
        images.pause_ref(toolchain)


def test_the_same_inputs_give_byte_identical_tarballs(toolchain, tmp_path):
    """Whatever the sources' mtimes and modes, and wherever the tarball is written."""
    first = build(images.multus(toolchain), tmp_path / "a").read_bytes()
    for path in toolchain.bin.iterdir():
        path.chmod(0o700)
        os.utime(path, (time.time() + 3600,) * 2)
    second = build(images.multus(toolchain), tmp_path / "b").read_bytes()
    assert first == second
    (toolchain.bin / "multus").write_bytes(b"#!another build\n")
    assert build(images.multus(toolchain), tmp_path / "c").read_bytes() != first


@needs_gcc
def test_pause_builds_byte_identical_tarballs(toolchain, tmp_path):
    assert build(images.pause(toolchain), tmp_path / "a").read_bytes() == build(images.pause(toolchain), tmp_path / "b").read_bytes()


def test_the_multus_refs_are_the_components_default_images(toolchain):
    """The node must hold exactly what the DaemonSets the component renders ask for."""
    assert images.multus_ref(toolchain) == MultusConfig().image_ref
    assert images.multus_ref(toolchain, thick=True) == MultusConfig(flavor="thick").image_ref


def test_the_sample_tag_is_the_debian_version_made_tag_safe():
    assert images.sample_ref("1:1.35.0-4+deb12u1+b1") == "localhost/multus-cni/sample:busybox-1-1.35.0-4-deb12u1-b1"
    assert images.tag_safe("1.36.1~rc1") == "1.36.1-rc1"


@needs_busybox
def test_the_sample_image_is_busybox_static_with_its_applets(tmp_path):
    image = images.sample()
    assert image.ref == images.sample_ref()
    _, config, members, files = read_image(build(image, tmp_path / "out"))
    assert files["/bin/busybox"] == images.BUSYBOX.read_bytes()
    for applet in ("/bin/sh", "/bin/ash", "/bin/sleep", "/sbin/ip", "/bin/cat", "/bin/ls"):
        assert members[applet].issym() and members[applet].linkname == "/bin/busybox"
    assert config["config"]["Env"] == [images.PATH_ENV]


@needs_busybox
def test_the_command_prints_the_names_and_builds_what_only_names(toolchain, tmp_path):
    """`-S`: no site-packages, as under the system python3 before any virtualenv."""
    names = subprocess.run([sys.executable, "-S", str(SCRIPT), "names"], capture_output=True, text=True, check=True, timeout=60)
    assert names.stdout.splitlines() == ["registry.k8s.io/pause:9.9.9", images.multus_ref(toolchain),
                                         images.multus_ref(toolchain, thick=True), images.sample_ref(),
                                         WHEREABOUTS_IMAGE, CNI_PLUGINS_IMAGE]
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-S", str(SCRIPT), "build", "--out", str(out), "--only", "sample,multus-thick"],
                          capture_output=True, text=True, check=True, timeout=60)
    lines = [line.split("  ") for line in done.stdout.splitlines()]
    assert lines == [[images.sample_ref(), str(out / "sample.tar"), str((out / "sample.tar").stat().st_size)],
                     [images.multus_ref(toolchain, thick=True), str(out / "multus-thick.tar"),
                      str((out / "multus-thick.tar").stat().st_size)]]
    assert sorted(p.name for p in out.iterdir()) == ["multus-thick.tar", "sample.tar"]


def add_ons(tc: images.Toolchain) -> None:
    """Stand-ins for what the whereabouts and cni_plugins parts leave: binaries and the module's scripts."""
    for name in images.WHEREABOUTS_BINARIES:
        (tc.bin / name).write_bytes(f"#!stand-in {name}\n".encode())
    (tc.whereabouts_module / "script").mkdir(parents=True)
    for name in images.WHEREABOUTS_SCRIPTS:
        (tc.whereabouts_module / "script" / name).write_text(f"#!/bin/sh\n# {name}\n")
    (tc.bin / "cni").mkdir()
    for name in ("macvlan", "host-local", "tuning"):
        (tc.bin / "cni" / name).write_bytes(f"#!stand-in {name}\n".encode())


def test_the_add_on_refs_are_the_components_default_images(toolchain):
    assert images.whereabouts_ref(toolchain) == WHEREABOUTS_IMAGE
    assert images.CNI_PLUGINS_REF == CNI_PLUGINS_IMAGE


@needs_busybox
def test_the_whereabouts_image_is_laid_out_as_upstreams_dockerfile(toolchain, tmp_path):
    add_ons(toolchain)
    image = images.whereabouts(toolchain)
    _, config, members, files = read_image(build(image, tmp_path / "out"))
    for name in (*images.WHEREABOUTS_BINARIES, *images.WHEREABOUTS_SCRIPTS):
        assert members[f"/{name}"].mode == 0o755
    assert files["/ip-control-loop"] == (toolchain.bin / "ip-control-loop").read_bytes()
    assert files["/token-watcher.sh"] == (toolchain.whereabouts_module / "script/token-watcher.sh").read_bytes()
    assert members["/bin/sh"].linkname == "/bin/busybox"  # the scripts' #!/bin/sh
    assert config["config"]["Cmd"] == ["/install-cni.sh"]
    assert image.notes == (f"upstream's image also has node-slice-controller: not built in {toolchain.bin}, left out",)


@needs_busybox
def test_the_cni_plugins_image_has_the_built_plugins_where_the_daemonset_copies_from(toolchain, tmp_path):
    from components.cni_plugins.manifests import IMAGE_BIN

    add_ons(toolchain)
    _, _, members, files = read_image(build(images.cni_plugins(toolchain), tmp_path / "out"))
    assert sorted(name for name in files if name.startswith(IMAGE_BIN + "/")) == [
        f"{IMAGE_BIN}/{name}" for name in ("host-local", "macvlan", "tuning")]
    for applet in ("/bin/sh", "/bin/cp", "/bin/mv"):  # what the init container's script runs
        assert members[applet].issym()


def test_missing_add_on_inputs_name_the_part_that_builds_them(toolchain):
    with pytest.raises(images.InputError, match="bash toolchain/build.sh cni_plugins"):
        images.cni_plugins(toolchain)
    with pytest.raises(images.InputError, match="bash toolchain/build.sh whereabouts"):
        images.whereabouts(toolchain)


@needs_busybox
def test_build_available_skips_the_add_ons_it_cannot_build_and_says_so(toolchain, tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-S", str(SCRIPT), "build", "--out", str(out), "--only", "sample,cni-plugins"]
    strict = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert strict.returncode == 1 and "bash toolchain/build.sh cni_plugins" in strict.stderr
    done = subprocess.run([*argv, "--available"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("images: cni-plugins: not built (the reference CNI plugins are missing")
    assert sorted(p.name for p in out.iterdir()) == ["sample.tar"]


# -- a real import ----------------------------------------------------------------------------------

CONTAINERD_CONFIG = """\
version = 2
root = "{dir}/root"
state = "{dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{dir}/containerd.sock"
[ttrpc]
  address = "{dir}/containerd.sock.ttrpc"
[debug]
  address = "{dir}/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{dir}/opt"
"""


@pytest.fixture
def containerd(tmp_path):
    """A containerd of its own (root, state and socket under tmp_path; no CRI), as `ctr` with its address."""
    if os.geteuid() != 0:
        pytest.skip("a containerd of its own needs root")
    missing = [tool for tool in ("containerd", "ctr") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no {', '.join(missing)} (apt-get install containerd)")
    state = tmp_path / "containerd"
    state.mkdir()
    (state / "config.toml").write_text(CONTAINERD_CONFIG.format(dir=state))
    sock = state / "containerd.sock"
    with open(state / "log", "wb") as log:
        process = subprocess.Popen(["containerd", "--config", str(state / "config.toml")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            assert process.poll() is None and time.monotonic() < deadline, (state / "log").read_text()[-2000:]
            time.sleep(0.1)
        yield lambda *argv, **kw: subprocess.run(["ctr", "--address", str(sock), "-n", "k8s.io", *argv],
                                                 capture_output=True, text=True, timeout=60, **kw)
    finally:
        process.terminate()
        process.wait(20)


def _runc_refusal(ctr, tmp_path: Path) -> str:
    """Why containers cannot run here (a sandbox without cgroups, no runc), tried on a plain directory
    rootfs, so that a fault of the image itself is never taken for it."""
    if shutil.which("runc") is None:
        return "no runc (apt-get install runc)"
    rootfs = tmp_path / "probe-rootfs"
    rootfs.mkdir()
    shutil.copy(images.BUSYBOX, rootfs / "busybox")
    probe = ctr("run", "--rm", "--rootfs", str(rootfs), "probe", "/busybox", "true")
    return "" if probe.returncode == 0 else f"runc cannot run a container here: {probe.stderr.strip()[-300:]}"


@needs_busybox
def test_the_sample_image_imports_into_containerd_and_runs_ash(containerd, tmp_path):
    path = images.write_image(images.sample(), tmp_path / "sample.tar")
    imported = containerd("images", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    listed = containerd("images", "ls", "-q")
    assert images.sample_ref() in listed.stdout.split()
    refusal = _runc_refusal(containerd, tmp_path)
    if refusal:
        pytest.skip(refusal)
    ran = containerd("run", "--rm", images.sample_ref(), "sample-ok", "/bin/ash", "-c", "echo ok")
    assert (ran.returncode, ran.stdout) == (0, "ok\n"), ran.stderr
