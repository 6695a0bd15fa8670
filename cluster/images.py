#!/usr/bin/env python3
"""Container images for the local cluster's real node, built from files: no Docker, no registry.

Each image is a docker-save tarball (manifest.json, the image config, one uncompressed layer), the
format `ctr -n k8s.io images import FILE.tar` reads, and the same input files give the same bytes
(sorted entries, mtime 0, owner 0:0, fixed modes, no `created`), so a rebuild changes no digest.
  python3 cluster/images.py build --out DIR [--only pause,multus,...] [--available]
  python3 cluster/images.py names
Standard library only: it runs with the system python3 before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

ROOT = Path(__file__).resolve().parent.parent
LIB_SH = ROOT / "toolchain" / "lib.sh"

# What the images' bases set and our trees stand in for: PATH as distroless and debian:stable-slim
# set it, and as BuildKit sets it for an image FROM scratch (the pause image).
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Where upstream pushes Multus (.github/workflows/image-push-release.yml at v4.3.0); the component's
# default image (components/config/multus.py, UPSTREAM_REPOSITORY/UPSTREAM_IMAGE_NAME), which
# this module cannot import (pydantic): tests/cluster/test_images.py checks that they agree.
MULTUS_REPOSITORY = "ghcr.io/k8snetworkplumbingwg/multus-cni"
MULTUS_SOURCE_LABEL = {"org.opencontainers.image.source": "https://github.com/k8snetworkplumbingwg/multus-cni"}
# The binaries upstream's images/Dockerfile copies into /usr/src/multus-cni/bin: what
# hack/build-go.sh builds (v4.3.0), in its order. The toolchain's `multus` part builds these
# (toolchain/lib.sh parts_of): both DaemonSets' init container runs install_multus, which copies
# multus and passthru onto the node (cmd/install_multus/main.go).
MULTUS_REQUIRED = ("multus", "multus-daemon", "multus-shim", "thin_entrypoint", "install_multus", "passthru")
MULTUS_OPTIONAL = ("kubeconfig_generator", "cert-approver")
SAMPLE_REPOSITORY = "localhost/multus-cni/sample"
# The add-ons' default images (components/config/addons.py CNI_PLUGINS_IMAGE, WHEREABOUTS_IMAGE; the
# tests check they agree): whereabouts as its release workflow pushes it, tagged WHEREABOUTS_VERSION;
# the reference plugins as Rancher's hardened build of CNI_PLUGINS_VERSION, whose tag this is.
WHEREABOUTS_REPOSITORY = "ghcr.io/k8snetworkplumbingwg/whereabouts"
CNI_PLUGINS_REF = "docker.io/rancher/hardened-cni-plugins:v1.9.1-build20260717"
# What whereabouts' Dockerfile copies to / (v0.9.2): the binaries hack/build-go.sh builds, then script/.
WHEREABOUTS_BINARIES = ("whereabouts", "ip-control-loop")
WHEREABOUTS_OPTIONAL = ("node-slice-controller",)
WHEREABOUTS_SCRIPTS = ("install-cni.sh", "lib.sh", "token-watcher.sh")


class InputError(Exception):
    """An input an image is built from is missing or unusable; the message names what to install or build."""


@dataclass(frozen=True)
class File:
    """A regular file: its bytes come from a host file (streamed: Multus' binaries are ~50 MB each) or are given."""

    mode: int
    source: Union[Path, None] = None
    data: Union[bytes, None] = None


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755


@dataclass(frozen=True)
class Link:
    """A symbolic link, as busybox's applets are installed."""

    target: str


Entry = Union[File, Dir, Link]
Tree = dict[str, Entry]  # absolute path in the image -> entry; parent directories are implied (0755)


@dataclass(frozen=True)
class Image:
    ref: str
    tree: Tree
    config: dict  # the image config's `config`: Entrypoint, Cmd, Env, WorkingDir, User, Labels
    notes: tuple[str, ...] = ()  # what differs from upstream's image, said when it is built


@dataclass(frozen=True)
class Toolchain:
    """Where the inputs live: the toolchain cache ($TC) and the pins, as toolchain/lib.sh has them."""

    root: Path
    kube_version: str
    multus_version: str
    whereabouts_version: str = ""
    cni_plugins_version: str = ""

    @classmethod
    def from_lib(cls) -> "Toolchain":
        """Sourced in bash, so MULTUS_TOOLCHAIN_DIR and XDG_CACHE_HOME mean what they mean to build.sh."""
        script = ('. "$1" && printf "%s\\0" "$TC" "$KUBE_VERSION" "$MULTUS_VERSION" "$WHEREABOUTS_VERSION" '
                  '"$CNI_PLUGINS_VERSION"')
        out = subprocess.run(["bash", "-c", script, "_", str(LIB_SH)], capture_output=True, text=True, check=True)
        root, kube, multus, whereabouts, cni_plugins = out.stdout.split("\0")[:5]
        return cls(Path(root), kube, multus, whereabouts, cni_plugins)

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def pause_dir(self) -> Path:
        """Kubernetes' build/pause at the control plane's version, from the Go module cache."""
        return self.root / "go/pkg/mod" / f"k8s.io/kubernetes@{self.kube_version}" / "build/pause"

    @property
    def multus_module(self) -> Path:
        return self.root / "go/pkg/mod" / f"gopkg.in/k8snetworkplumbingwg/multus-cni.v4@{self.multus_version}"

    @property
    def whereabouts_module(self) -> Path:
        return self.root / "go/pkg/mod" / f"github.com/k8snetworkplumbingwg/whereabouts@{self.whereabouts_version}"


def architecture() -> str:
    """The image config's architecture: the node runs images of its own."""
    machine = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine)
    if arch is None:
        raise InputError(f"no image architecture for machine {machine!r} (amd64 and arm64 only)")
    return arch


def _need(path: Path, what: str, fix: str) -> Path:
    if not path.exists():
        raise InputError(f"{what} is missing ({path}): {fix}")
    return path


def _run(argv: list[str], fix: str, **kwargs) -> str:
    """A build tool's output; its absence or failure becomes one line that says what to do."""
    if shutil.which(argv[0]) is None:
        raise InputError(f"{argv[0]} is not installed: {fix}")
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise InputError(f"`{' '.join(argv)}` failed: {last} ({fix})")
    return done.stdout


# -- the base trees ---------------------------------------------------------------------------------

def root_user_tree() -> Tree:
    """What distroless/base gives a static Go binary and our trees keep: root in /etc/passwd and
    /etc/group (user lookups), /root, and a world-writable /tmp (os.TempDir)."""
    return {
        "/etc/passwd": File(0o644, data=b"root:x:0:0:root:/root:/sbin/nologin\n"),
        "/etc/group": File(0o644, data=b"root:x:0:\n"),
        "/root": Dir(0o700),
        "/tmp": Dir(0o1777),
    }


# -- pause ------------------------------------------------------------------------------------------

def _pause_makefile(tc: Toolchain) -> str:
    return _need(tc.pause_dir / "Makefile", f"k8s.io/kubernetes@{tc.kube_version}'s build/pause/Makefile",
                 "bash toolchain/build.sh kube").read_text()


def _make_variable(makefile: str, name: str) -> str:
    match = re.search(rf"^{name}\s*\??=\s*(.*?)\s*$", makefile, re.M)
    if match is None:
        raise InputError(f"build/pause/Makefile sets no {name}")
    return match.group(1)


def pause_ref(tc: Toolchain) -> str:
    """The tag the kubelet and containerd's CRI ask for is upstream's own (build/pause/Makefile `TAG ?=`)."""
    return f"registry.k8s.io/pause:{_make_variable(_pause_makefile(tc), 'TAG')}"


def pause_binary(tc: Toolchain) -> bytes:
    """Kubernetes' pause.c built as upstream builds it (build/pause/Makefile at KUBE_VERSION:
    `$(TRIPLE)-gcc $(CFLAGS) -o $@ linux/pause.c` then `$(TRIPLE)-strip`, CFLAGS =
    `-Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV)`). REV is `git describe --contains` of a
    kubernetes checkout; the module cache has no git, so its version stands in."""
    makefile = _pause_makefile(tc)
    _need(tc.pause_dir / "linux/pause.c", "build/pause/linux/pause.c", "bash toolchain/build.sh kube")
    cflags = (_make_variable(makefile, "CFLAGS").replace("$(TAG)", _make_variable(makefile, "TAG"))
              .replace("$(REV)", tc.kube_version).split())
    fix = "apt-get install gcc libc6-dev (a static libc)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pause"
        _run(["gcc", *cflags, "-o", str(out), "linux/pause.c"], fix, cwd=tc.pause_dir)
        _run(["strip", str(out)], "apt-get install binutils")
        return out.read_bytes()


def pause(tc: Toolchain) -> Image:
    """The sandbox container of every pod: containerd's CRI runs it first, so a node without it starts no pod."""
    tree: Tree = {"/pause": File(0o755, data=pause_binary(tc))}
    # build/pause/Dockerfile: FROM scratch, ADD /pause, USER 65535:65535, ENTRYPOINT ["/pause"].
    config = {"Entrypoint": ["/pause"], "Env": [PATH_ENV], "User": "65535:65535", "WorkingDir": "/"}
    return Image(pause_ref(tc), tree, config)


# -- Multus -----------------------------------------------------------------------------------------

def multus_ref(tc: Toolchain, thick: bool = False) -> str:
    """The refs upstream pushes a release as, `<tag>` and `<tag>-thick`: the component's default image."""
    return f"{MULTUS_REPOSITORY}:{tc.multus_version}{'-thick' if thick else ''}"


def multus_files(tc: Toolchain) -> tuple[Tree, tuple[str, ...]]:
    """What both Dockerfiles copy from the build stage: bin/ to /usr/src/multus-cni/bin and the
    LICENSE (images/Dockerfile{,.thick} at MULTUS_VERSION); and a note for each binary of
    hack/build-go.sh that the toolchain does not build, which is left out."""
    tree = root_user_tree()
    for name in MULTUS_REQUIRED:
        fix = ("toolchain/build.sh's build_multus must build cmd/install_multus" if name == "install_multus"
               else "bash toolchain/build.sh multus")
        tree[f"/usr/src/multus-cni/bin/{name}"] = File(0o755, _need(tc.bin / name, f"the Multus binary {name}", fix))
    absent = []
    for name in MULTUS_OPTIONAL:
        if (tc.bin / name).exists():
            tree[f"/usr/src/multus-cni/bin/{name}"] = File(0o755, tc.bin / name)
        else:
            absent.append(name)
    license_ = _need(tc.multus_module / "LICENSE", f"multus-cni {tc.multus_version}'s LICENSE", "bash toolchain/build.sh multus")
    tree["/usr/src/multus-cni/LICENSE"] = File(0o644, license_)
    notes = (f"upstream's image also has {', '.join(absent)}: not built in {tc.bin}, left out",) if absent else ()
    return tree, notes


def _at_root(tree: Tree, names: tuple[str, ...]) -> None:
    """The Dockerfiles' `COPY --from=build /usr/src/multus-cni/bin/NAME /`, for the binaries that are there."""
    for name in names:
        entry = tree.get(f"/usr/src/multus-cni/bin/{name}")
        if entry is not None:
            tree[f"/{name}"] = entry


def multus(tc: Toolchain) -> Image:
    """The thin DaemonSet's image: /install_multus (init) and /thin_entrypoint (the daemon) at the root.
    Upstream's base is distroless/base-debian12; the binaries are static Go, so only its
    passwd/group and /tmp are kept (no glibc, no CA bundle, so no SSL_CERT_FILE)."""
    tree, notes = multus_files(tc)
    _at_root(tree, ("install_multus", "thin_entrypoint", "kubeconfig_generator", "cert-approver"))
    config = {"Entrypoint": ["/thin_entrypoint"], "Env": [PATH_ENV], "Labels": MULTUS_SOURCE_LABEL, "WorkingDir": "/"}
    return Image(multus_ref(tc), tree, config, notes)


def multus_thick(tc: Toolchain) -> Image:
    """The thick DaemonSet's image (images/Dockerfile.thick): the daemon and shim under /usr/src/multus-cni/bin.
    Upstream's base is debian:stable-slim; ours is the same minimal tree as the thin image, with no
    shell: deployments/multus-daemonset-thick.yml (and components/multus/manifests.py) run
    multus-daemon and install_multus directly, and the daemon runs the delegate plugins chrooted
    into the host (daemon-config chrootDir /hostroot), so they need no libc of the image's."""
    tree, notes = multus_files(tc)
    _at_root(tree, ("cert-approver",))
    config = {"Entrypoint": ["/usr/src/multus-cni/bin/multus-daemon"], "Env": [PATH_ENV],
              "Labels": MULTUS_SOURCE_LABEL, "WorkingDir": "/"}
    return Image(multus_ref(tc, thick=True), tree, config, notes)


# -- sample -----------------------------------------------------------------------------------------

BUSYBOX = Path("/bin/busybox")  # busybox-static's path (dpkg -L busybox-static)


def busybox_version() -> str:
    """The installed busybox-static's Debian version: the sample tag changes when the binary does."""
    fix = "apt-get install busybox-static"
    status = _run(["dpkg-query", "-W", "-f=${Status}|${Version}", "busybox-static"], fix)
    state, _, version = status.partition("|")
    if state != "install ok installed" or not BUSYBOX.exists():
        raise InputError(f"busybox-static is not installed: {fix}")
    return version


def tag_safe(text: str) -> str:
    """A Debian version as a tag: characters outside [A-Za-z0-9_.-] (`:` of an epoch, `+`, `~`) become `-`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def sample_ref(version: Union[str, None] = None) -> str:
    """The sample pods' image (localhost/: never pulled, only imported), pinned to busybox-static's version."""
    return f"{SAMPLE_REPOSITORY}:busybox-{tag_safe(version or busybox_version())}"


def busybox_tree() -> Tree:
    """busybox-static, one static binary with sh, sleep, ip, cat, cp, sed...: each applet a link where
    `busybox --list-full` (what `busybox --install` does) puts it. The shell the images' scripts need."""
    busybox_version()
    tree = root_user_tree()
    tree["/bin/busybox"] = File(0o755, BUSYBOX)
    for applet in _run([str(BUSYBOX), "--list-full"], "apt-get install busybox-static").split():
        tree.setdefault("/" + applet, Link("/bin/busybox"))
    return tree


def sample(tc: Union[Toolchain, None] = None) -> Image:
    """The sample pods' image: their command is the guide's `/bin/ash -c "trap : TERM INT; sleep infinity & wait"`
    (components/config/workload.py GUIDE_COMMAND)."""
    # docker-library/busybox's Dockerfile: CMD ["sh"].
    return Image(sample_ref(busybox_version()), busybox_tree(), {"Cmd": ["sh"], "Env": [PATH_ENV], "WorkingDir": "/"})


# -- the add-ons ------------------------------------------------------------------------------------

def whereabouts_ref(tc: Toolchain) -> str:
    return f"{WHEREABOUTS_REPOSITORY}:{tc.whereabouts_version}"


def whereabouts(tc: Toolchain) -> Image:
    """The Whereabouts DaemonSet's image, as its Dockerfile lays it out (v0.9.2): the binaries and
    script/{install-cni,lib,token-watcher}.sh at the root, CMD /install-cni.sh. Upstream's base is
    alpine; busybox gives the scripts the same sh and tools."""
    tree = busybox_tree()
    fix = "bash toolchain/build.sh whereabouts"
    for name in WHEREABOUTS_BINARIES:
        tree[f"/{name}"] = File(0o755, _need(tc.bin / name, f"the whereabouts binary {name}", fix))
    for name in WHEREABOUTS_SCRIPTS:
        script = _need(tc.whereabouts_module / "script" / name, f"whereabouts {tc.whereabouts_version}'s script/{name}", fix)
        tree[f"/{name}"] = File(0o755, script)
    notes = tuple(f"upstream's image also has {name}: not built in {tc.bin}, left out"
                  for name in WHEREABOUTS_OPTIONAL if not (tc.bin / name).exists())
    tree.update({f"/{name}": File(0o755, tc.bin / name) for name in WHEREABOUTS_OPTIONAL if (tc.bin / name).exists()})
    return Image(whereabouts_ref(tc), tree, {"Cmd": ["/install-cni.sh"], "Env": [PATH_ENV], "WorkingDir": "/"}, notes)


def cni_plugins(tc: Toolchain) -> Image:
    """The CniPlugins DaemonSet's image: the reference plugins in /opt/cni/bin, where Rancher's image
    keeps them, and the sh, cp and mv its init container's script runs (components/cni_plugins).
    Built from containernetworking/plugins at the image's release; Rancher's image also has flannel
    and bond, which are not built here."""
    plugins = sorted((tc.bin / "cni").glob("*")) if (tc.bin / "cni").is_dir() else []
    if not plugins:
        raise InputError(f"the reference CNI plugins are missing ({tc.bin / 'cni'}): bash toolchain/build.sh cni_plugins")
    tree = busybox_tree()
    tree.update({f"/opt/cni/bin/{path.name}": File(0o755, path) for path in plugins})
    notes = ("Rancher's image also has flannel and bond: not built here, left out",)
    return Image(CNI_PLUGINS_REF, tree, {"Env": [PATH_ENV], "WorkingDir": "/"}, notes)


# -- the docker-save tarball ------------------------------------------------------------------------

def _tarinfo(name: str, kind: bytes, mode: int, size: int = 0, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, target
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def _with_parents(tree: Tree) -> Tree:
    """Every parent directory as an entry of its own, so runc finds them at fixed modes."""
    full: Tree = {}
    for path in tree:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            full.setdefault("/" + "/".join(parts[:depth]), Dir())
    full.update(tree)
    return full


def write_layer(tree: Tree, out) -> None:
    """The root filesystem as a plain tar, entries sorted by path: a parent comes before its children."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, entry in sorted(_with_parents(tree).items()):
            name = path.lstrip("/")
            if isinstance(entry, Dir):
                tar.addfile(_tarinfo(name, tarfile.DIRTYPE, entry.mode))
            elif isinstance(entry, Link):
                tar.addfile(_tarinfo(name, tarfile.SYMTYPE, 0o777, target=entry.target))
            elif entry.data is not None:
                tar.addfile(_tarinfo(name, tarfile.REGTYPE, entry.mode, len(entry.data)), io.BytesIO(entry.data))
            else:
                with open(entry.source, "rb") as source:
                    size = os.fstat(source.fileno()).st_size
                    tar.addfile(_tarinfo(name, tarfile.REGTYPE, entry.mode, size), source)


def _json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_image(image: Image, path: Path) -> Path:
    """`path` as a docker-save tarball of `image`: `<config sha256>.json`, `<layer sha256>/layer.tar`
    and manifest.json, with the layer's sha256 as the config's diff_id. Written beside and renamed,
    so an interrupted build leaves no half tarball to import."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=path.parent) as layer:
        write_layer(image.tree, layer)
        layer_size = layer.tell()
        layer.seek(0)
        layer_hex = hashlib.file_digest(layer, "sha256").hexdigest()
        config = _json({"architecture": architecture(), "os": "linux", "config": image.config,
                        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_hex}"]}})
        config_name = f"{hashlib.sha256(config).hexdigest()}.json"
        manifest = _json([{"Config": config_name, "RepoTags": [image.ref], "Layers": [f"{layer_hex}/layer.tar"]}])
        partial = path.with_name(path.name + ".partial")
        with tarfile.open(partial, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            tar.addfile(_tarinfo(config_name, tarfile.REGTYPE, 0o644, len(config)), io.BytesIO(config))
            tar.addfile(_tarinfo(layer_hex, tarfile.DIRTYPE, 0o755))
            layer.seek(0)
            tar.addfile(_tarinfo(f"{layer_hex}/layer.tar", tarfile.REGTYPE, 0o644, layer_size), layer)
            tar.addfile(_tarinfo("manifest.json", tarfile.REGTYPE, 0o644, len(manifest)), io.BytesIO(manifest))
        partial.replace(path)
    return path


# -- the command ------------------------------------------------------------------------------------

IMAGES: dict[str, Callable[[Toolchain], Image]] = {
    "pause": pause, "multus": multus, "multus-thick": multus_thick, "sample": sample,
    "whereabouts": whereabouts, "cni-plugins": cni_plugins,
}
#: Built by `build --available` only when their toolchain parts are: a stack may not enable the add-ons.
ADD_ONS = ("whereabouts", "cni-plugins")


def names(tc: Toolchain) -> dict[str, str]:
    """Every image's ref without building it, for whatever must name the images (manifests, a node's setup)."""
    return {"pause": pause_ref(tc), "multus": multus_ref(tc), "multus-thick": multus_ref(tc, thick=True),
            "sample": sample_ref(), "whereabouts": whereabouts_ref(tc), "cni-plugins": CNI_PLUGINS_REF}


def _only(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(IMAGES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"images are {', '.join(IMAGES)}; not {', '.join(unknown) or 'none'}")
    return chosen


def main(argv: Union[list[str], None] = None) -> int:
    parser = argparse.ArgumentParser(prog="cluster/images.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write one <image>.tar per image into --out")
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--only", type=_only, default=list(IMAGES), help=f"comma-separated: {','.join(IMAGES)}")
    build.add_argument("--available", action="store_true",
                       help=f"skip, with one line each, the add-ons ({', '.join(ADD_ONS)}) whose inputs are not built")
    named = commands.add_parser("names", help="print the image refs (or one: names sample)")
    named.add_argument("image", nargs="?", choices=list(IMAGES))
    args = parser.parse_args(argv)
    try:
        tc = Toolchain.from_lib()
        if args.command == "names":
            refs = names(tc)
            print(refs[args.image] if args.image else "\n".join(refs.values()))
            return 0
        for key in args.only:
            try:
                image = IMAGES[key](tc)
            except InputError as error:
                if not (args.available and key in ADD_ONS):
                    raise
                print(f"images: {key}: not built ({error})", file=sys.stderr)
                continue
            for note in image.notes:
                print(f"images: {key}: {note}", file=sys.stderr)
            path = write_image(image, args.out / f"{key}.tar")
            print(f"{image.ref}  {path}  {path.stat().st_size}", flush=True)
    except InputError as error:
        print(f"images: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
