"""`multus-cni:multus`: the Tanzu package values shape, plus how we install it.

The Tanzu guide's `multus-cni-values.yaml` body (namespace, image, daemonset.args) is valid
here verbatim; `mode`, `flavor` and `package` are our additions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal, Optional, Union

from pydantic import AfterValidator, Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from ..images import is_moving_tag
from ..core.errors import fail
from ..core.model import DnsLabel, Model
from .multus_health import MultusResources, NodePath, refresh_problem, thin_flags

# Upstream release we install by default: multus-cni v4.3.0 (2026-05-29), images pushed by
# .github/workflows/image-push-release.yml as :<tag> (thin) and :<tag>-thick.
UPSTREAM_REPOSITORY = "ghcr.io/k8snetworkplumbingwg"
UPSTREAM_IMAGE_NAME = "multus-cni"
UPSTREAM_VERSION = "v4.3.0"
# The Tanzu package version installed by default: the TCE package's 3.7.1 (vmware-tanzu/community-edition
# addons/packages/multus-cni/3.7.1), which the guide's values file targets; TKG's 3.7.1+vmware.N-tkg.N
# builds carry the same version (build metadata does not count in semver).
PACKAGE_VERSION = "3.7.1"
_SEMVER = re.compile(r"v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
                     r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?")


@dataclass(frozen=True)
class Semver:
    """One semantic version, as kapp-controller parses a single-version constraint."""

    major: int
    minor: int
    patch: int
    pre: Optional[str]

    @classmethod
    def parse(cls, text: str) -> Optional["Semver"]:
        match = _SEMVER.fullmatch(text.strip())
        if match is None:
            return None
        return cls(int(match["major"]), int(match["minor"]), int(match["patch"]), match["pre"])

def _matching(pattern: str, what: str, example: str) -> AfterValidator:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):  # not match with `$`, which passes a trailing newline
            raise ValueError(f"{value!r} is not {what} such as {example!r}")
        return value

    return AfterValidator(check)


Repository = Annotated[str, _matching(r"[a-z0-9]+([._:-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*", "an image repository", UPSTREAM_REPOSITORY)]
ImageName = Annotated[str, _matching(r"[a-z0-9]+([._/-][a-z0-9]+)*", "an image name", UPSTREAM_IMAGE_NAME)]
#: A share of the nodes, as the DaemonSet's rollingUpdate takes it (intstr percent: 1% to 100%).
Percent = Annotated[str, _matching(r"(100|[1-9][0-9]?)%", "a percentage of the nodes", "25%")]
Tag = Annotated[str, _matching(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", "an image tag", UPSTREAM_VERSION)]


class ImageConfig(Model):
    repository: Repository = UPSTREAM_REPOSITORY
    name: ImageName = UPSTREAM_IMAGE_NAME
    tag: Optional[Tag] = None


class DaemonSetConfig(Model):
    """The thin DaemonSet's container arguments (the Tanzu values file's daemonset.args)."""

    args: Optional[tuple[str, ...]] = None
    """The thin plugin's arguments; unset: upstream's plus `--cleanup-config-on-exit=true`, so the node's
    kubeconfig follows the rotated ServiceAccount token."""

    @field_validator("args")
    @classmethod
    def _args(cls, value: Optional[tuple[str, ...]]) -> Optional[tuple[str, ...]]:
        for arg in value or ():
            if not arg.strip():
                raise ValueError("arguments must not be empty")
        return value


class PackageConfig(Model):
    """What `tanzu package install multus-cni --package P --version V -n NS` names."""

    installName: DnsLabel = "multus-cni"
    namespace: DnsLabel = "default"  # what `tanzu package install` uses without -n
    refName: str = Field("multus-cni.tanzu.vmware.com", min_length=1)
    # A kapp-controller version constraint. `tanzu package install --version V` pins one version;
    # a range lets kapp-controller move Multus to any newer match, 4.x included, with no Pulumi diff.
    version: str = Field(PACKAGE_VERSION, min_length=1)
    @property
    def exact_version(self) -> Optional[Semver]:
        """The version when `version` names one (kapp-controller's versions.NewSemver), else None."""
        return Semver.parse(self.version)

    # How long `pulumi up` waits for kapp-controller to report ReconcileSucceeded before it fails
    # (the provider's `pulumi.com/timeoutSeconds`); unset: the provider's default of 10 minutes.
    reconcileTimeoutSeconds: Optional[int] = Field(None, ge=1, le=86400)


#: "v3": images/multus-daemonset.yml up to v3.8; "v3.9": deployments/multus-daemonset.yml of v3.9.x,
#: which adds the NoExecute toleration and an init container copying the binary.
Layout = Literal["v3", "v3.9", "thin", "thick"]
_V3_MINOR = re.compile(r"v3\.(\d+)(?:[.-].*)?")


class MultusConfig(Model):
    namespace: DnsLabel = "kube-system"
    """Where the Multus DaemonSet, its ServiceAccount and ConfigMap go."""
    image: ImageConfig = ImageConfig()
    """The Multus image; without a tag, the release this version installs (thin or -thick)."""
    daemonset: DaemonSetConfig = DaemonSetConfig()
    mode: Literal["manifest", "tanzu-package"] = "manifest"
    """`manifest`: upstream's DaemonSet manifest; `tanzu-package`: a kapp-controller PackageInstall, as `tanzu package install` does."""
    flavor: Literal["thin", "thick"] = "thin"
    """`thin`: the multus binary on each node; `thick`: the multus-daemon per node and the multus-shim."""
    package: PackageConfig = PackageConfig()
    """The Tanzu package to install in `tanzu-package` mode."""
    resources: MultusResources = MultusResources()
    """CPU and memory of the DaemonSet's `daemon` and `init` containers; the defaults give Guaranteed QoS."""
    maxUnavailable: Union[PositiveInt, Percent] = 1
    """How many nodes at a time lose their Multus pod in a rolling update of the DaemonSet (a number,
    or a percentage of the nodes such as '10%'); pods created on such a node meanwhile wait for it."""
    minReadySeconds: NonNegativeInt = 5
    """How long a Multus pod is Ready before it counts as available (what `pulumi up` waits for before
    the networks and workloads): upstream ships no readiness probe, so Ready comes a moment before the
    node's 00-multus.conf is written, and a pod created in between gets only the primary network. 0 is
    upstream's."""
    adopt: bool = False
    """Take over the Multus the cluster already runs: the first `pulumi up` imports each object this
    config renders (same names and namespace) instead of creating it, which is refused for an object
    someone else manages (components/ownership.py). Imports nothing once imported; check first with
    `multus-cni adopt-plan`."""
    readinessIndicatorFile: Optional[NodePath] = None
    """A file on the node whose existence says the primary CNI is ready; Multus waits for it before
    attaching a pod. Off by default: the path depends on the primary CNI (docs/operations.md)."""

    @model_validator(mode="after")
    def _consistent(self) -> "MultusConfig":
        if self.mode == "manifest" and self.tag_flavor and "flavor" in self.model_fields_set and not self.is_legacy_image \
                and self.tag_flavor != self.flavor:
            fail([(("image", "tag"), self._flavor_mismatch())])
        if self.mode == "manifest" and self.runs == "thick" and self.is_legacy_image:
            raise ValueError(
                f"flavor 'thick' needs a Multus v4 image, but {self.image_ref!r} is a v3 image "
                f"(use tag {UPSTREAM_VERSION}-thick)"
            )
        if self.mode == "manifest" and self.runs == "thick" and self.daemonset.args is not None:
            raise ValueError(
                "daemonset.args is for the thin plugin; the thick daemon takes no arguments and "
                "reads its settings from daemon-config.json"
            )
        fail(self._health_problems())
        return self

    def _health_problems(self) -> list[tuple[tuple, str]]:
        """resources and readinessIndicatorFile reach only the DaemonSets this project renders, and the
        indicator only a config thin_entrypoint generates."""
        found: list[tuple[tuple, str]] = []
        set_here = [k for k in ("resources", "readinessIndicatorFile", "maxUnavailable", "minReadySeconds")
                    if k in self.model_fields_set]
        if self.mode == "tanzu-package":
            found += [((key,), "is not used in tanzu-package mode: the package's bundle renders the DaemonSet; "
                               "use mode 'manifest'") for key in set_here]
            return found
        if self.readinessIndicatorFile is not None and self.is_legacy_image:
            found.append((("readinessIndicatorFile",), (
                f"needs a Multus v4 image (thin_entrypoint's --readiness-indicator-file or the thick daemon's "
                f"readinessindicatorfile); {self.image_ref!r} is a v3 image")))
        elif self.readinessIndicatorFile is not None and self.layout == "thin" and self.daemonset.args is not None:
            flags = thin_flags(self.daemonset.args)
            if "readiness-indicator-file" in flags:
                found.append((("readinessIndicatorFile",), (
                    "daemonset.args already sets --readiness-indicator-file; set the file in one place")))
            elif flags.get("multus-conf-file", "auto") != "auto":
                found.append((("readinessIndicatorFile",), (
                    f"thin_entrypoint uses --readiness-indicator-file only with --multus-conf-file=auto, and daemonset.args "
                    f"sets '--multus-conf-file={flags['multus-conf-file']}'; put readinessindicatorfile in that file instead")))
        return found

    def _flavor_mismatch(self) -> str:
        tag = self.image.tag
        if self.tag_flavor == "thick":
            return (f"{tag!r} names a thick image, but flavor is 'thin': the thin DaemonSet runs /thin_entrypoint and "
                    "/install_multus, which thick images do not have (images/Dockerfile.thick), so its pods cannot start "
                    f"on any node; use tag {tag.replace('-thick', '')!r} or flavor 'thick'")
        return (f"{tag!r} names a thin image, but flavor is 'thick': upstream builds the thick daemon's image as "
                f"'<tag>-thick' (images/Dockerfile.thick); use tag {tag + '-thick'!r} or flavor 'thin'")

    @property
    def tag_flavor(self) -> Optional[Literal["thin", "thick"]]:
        """The flavor the image tag names, None without a tag: upstream pushes thick images as
        `<tag>-thick` and `stable-thick` (.github/workflows/image-push-release.yml)."""
        if self.image.tag is None:
            return None
        return "thick" if "thick" in self.image.tag.split("-") else "thin"

    @property
    def runs(self) -> Literal["thin", "thick"]:
        """The flavor rendered: `flavor` when given, else the one the tag names."""
        if "flavor" not in self.model_fields_set and self.tag_flavor is not None and not self.is_legacy_image:
            return self.tag_flavor
        return self.flavor

    @property
    def tag(self) -> str:
        if self.image.tag is not None:
            return self.image.tag
        return f"{UPSTREAM_VERSION}-thick" if self.runs == "thick" else UPSTREAM_VERSION

    @property
    def image_ref(self) -> str:
        return f"{self.image.repository}/{self.image.name}:{self.tag}"

    @property
    def is_nfvpe_image(self) -> bool:
        return "nfvpe" in self.image.repository.split("/")

    @property
    def is_legacy_image(self) -> bool:
        """v3 images run `/entrypoint.sh`; v4.0.0 replaced it with `/thin_entrypoint`."""
        return self.is_nfvpe_image or self.tag.startswith("v3.")

    @property
    def layout(self) -> Layout:
        if not self.is_legacy_image:
            return self.runs
        minor = _V3_MINOR.fullmatch(self.tag)
        return "v3.9" if minor and int(minor[1]) >= 9 else "v3"

    @property
    def is_moving_tag(self) -> bool:
        return is_moving_tag(self.tag)

    @property
    def cni_version_pin(self) -> Optional[str]:
        for arg in self.daemonset.args or ():
            if arg.startswith("--cni-version"):
                return arg
        return None

    def _health_warnings(self) -> list[tuple[tuple, str]]:
        if self.mode != "manifest":
            return []
        found = []
        if self.layout == "thin" and self.daemonset.args is not None:
            problem = refresh_problem(self.daemonset.args)
            if problem:
                found.append((("daemonset", "args"), problem))
        for key, container in (("daemon", self.resources.daemon), ("init", self.resources.init)):
            if container is not None and not container.guaranteed:
                found.append((("resources", key), (
                    "is not requests == limits for both cpu and memory, so the Multus pod is not Guaranteed QoS: under "
                    "node pressure it is killed or evicted before the workloads whose networks it sets up (multus-cni#1160)")))
        return found

    def _package_warnings(self) -> list[tuple[tuple, str]]:
        found = []
        if self.namespace != "kube-system":
            # vmware-tanzu/community-edition addons/packages/multus-cni/*/bundle/config/overlays/overlay-multus-cni.yaml
            found.append((("namespace",), (
                f"the Tanzu package's overlay moves only the DaemonSet to {self.namespace!r}; its ServiceAccount 'multus', "
                "ConfigMap and the binding's subject stay in kube-system, so unless a ServiceAccount 'multus' exists in "
                f"{self.namespace!r} the DaemonSet's pods cannot be created; keep kube-system")))
        return found + self._version_warnings()

    def _version_warnings(self) -> list[tuple[tuple, str]]:
        version = self.package.exact_version
        if version is None:
            return [(("package", "version"), (
                f"{self.package.version!r} is a range: kapp-controller installs the newest matching package and moves to "
                "every newer one it finds (prereleases and Multus 4.x included) with no Pulumi diff; pin one version "
                f"as `tanzu package install --version` does, for example {PACKAGE_VERSION!r}"))]
        if version.pre:
            return [(("package", "version"), (
                f"{self.package.version!r} is a prerelease; kapp-controller installs it, but pin a release for a cluster "
                "you keep"))]
        return []

    def warnings(self) -> list[tuple[tuple, str]]:
        """(config sub-path, message) for values we accept but would not recommend."""
        found = []
        if self.is_moving_tag:
            found.append((("image", "tag"), (
                f"image tag {self.tag!r} moves with every upstream push, so nodes can run different "
                f"Multus builds; pin a release such as {UPSTREAM_VERSION!r}"
            )))
        if self.is_nfvpe_image:
            found.append((("image", "repository"), (
                f"{self.image.repository!r} holds the retired Multus v3 images (last referenced upstream "
                f"in v3.7.1, 2021); use {UPSTREAM_REPOSITORY!r} with tag {UPSTREAM_VERSION!r}"
            )))
        if self.cni_version_pin:
            found.append((("daemonset", "args"), (
                f"{self.cni_version_pin!r} pins the Multus CNI version; Multus v4 then crash-loops when "
                "the primary CNI's config has another cniVersion (multus-cni#1060); drop it so Multus "
                "inherits the primary CNI's version"
            )))
        found += self._health_warnings()
        if self.mode == "tanzu-package":
            found += self._package_warnings()
        elif self.runs != self.flavor:
            found.append((("flavor",), (
                f"is not set and image tag {self.image.tag!r} names a {self.runs} image, so the {self.runs} DaemonSet is "
                f"rendered; write flavor: {self.runs} to say so")))
        if self.mode == "tanzu-package" and "flavor" in self.model_fields_set:
            found.append((("flavor",), (
                "flavor is ignored in tanzu-package mode: the package's bundle decides what runs"
            )))
        return found
