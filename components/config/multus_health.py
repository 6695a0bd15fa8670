"""What keeps a Multus install working long after day 1: credentials that refresh, memory that
fits, and waiting for the primary CNI (docs/operations.md "Keeping Multus healthy").

The thin arguments are read here the way `thin_entrypoint` reads them (spf13/pflag), so the config
warning and the policy pack judge the same arguments the same way.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Optional, Sequence

from pydantic import AfterValidator, BeforeValidator, model_validator

from ..core.model import Model

# The refresh flag. Multus v4.3.0 cmd/thin_entrypoint/main.go: the kubeconfig is rewritten from the
# pod's ServiceAccount token only inside the watch loop, and
#   watchChanges := opt.CleanupConfigOnExit && opt.MultusConfFile == "auto" && !opt.SkipMultusConfWatch
REFRESH_FLAG = "--cleanup-config-on-exit=true"
# thin_entrypoint's boolean flags (fs.BoolVar in addFlags): `--flag` alone means true, and a bool flag
# never takes the next argument as its value (pflag's NoOptDefVal).
_BOOL_FLAGS = frozenset({
    "skip-multus-binary-copy", "namespace-isolation", "multus-log-to-stderr", "override-network-name",
    "cleanup-config-on-exit", "skip-config-watch", "rename-conf-file", "skip-tls-verify", "force-cni-version",
})
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # strconv.ParseBool, which pflag uses


def thin_flags(args: Sequence[str]) -> dict[str, str]:
    """`--name=value`, `--name value` and bare boolean `--name`, last one wins, as pflag parses them."""
    flags: dict[str, str] = {}
    items = iter(args)
    for arg in items:
        if not arg.startswith("--") or arg == "--":
            continue
        name, eq, value = arg[2:].partition("=")
        if not eq:
            value = "true" if name in _BOOL_FLAGS else next(items, "")
        flags[name] = value
    return flags


def refresh_problem(args: Sequence[str]) -> Optional[str]:
    """Why these `thin_entrypoint` arguments never refresh the node's kubeconfig, or None."""
    flags = thin_flags(args)
    if flags.get("cleanup-config-on-exit") not in _TRUE:
        why = f"they lack {REFRESH_FLAG!r}"
    elif flags.get("multus-conf-file", "auto") != "auto":
        why = f"'--multus-conf-file={flags['multus-conf-file']}' is not 'auto'"
    elif flags.get("skip-config-watch") in _TRUE:
        why = "'--skip-config-watch' turns the loop off"
    else:
        return None
    return (f"these arguments never refresh the node's Multus kubeconfig: {why}, and thin_entrypoint (Multus v4.3.0, "
            "cmd/thin_entrypoint/main.go) rewrites it from the pod's rotated ServiceAccount token only in its watch "
            f"loop, which needs {REFRESH_FLAG!r} with '--multus-conf-file=auto' and no '--skip-config-watch'; once the "
            "token it started with is invalid (a year by default, an hour on hardened API servers, at once when its "
            "pod object is gone) every new pod on the node fails with 'Unauthorized' (multus-cni#852); add "
            f"{REFRESH_FLAG!r}")


# --- readiness --------------------------------------------------------------------------------

def _node_path(value: str) -> str:
    if not value.startswith("/") or any(c in value for c in "\0\n\r"):
        raise ValueError(f"{value!r} is not an absolute path on the node such as '/run/flannel/subnet.env'")
    if ".." in value.split("/") or "//" in value or (value.endswith("/") and value != "/"):
        raise ValueError(f"{value!r} must be a plain absolute file path (no '..', '//' or trailing '/')")
    return value


#: A file path as the node sees it (Multus calls filepath.Abs on it, so a relative path would depend
#: on the working directory of whichever process reads it).
NodePath = Annotated[str, AfterValidator(_node_path)]

# --- resources ----------------------------------------------------------------------------------

# k8s.io/apimachinery pkg/api/resource/quantity.go: <signedNumber><suffix>, suffix a binary SI
# (Ki..Ei), a decimal SI (n u m "" k M G T P E) or a decimal exponent (e3, E-2).
_QUANTITY = re.compile(r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal(10**3),
            "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}


def quantity_value(text: str) -> Decimal:
    """The amount a Kubernetes quantity names (`100m` -> 0.1, `50Mi` -> 52428800)."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(text)
    number, suffix = Decimal(match["number"]), match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    return number * (Decimal(10) ** int(suffix[1:])) if suffix else number


def _quantity(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # YAML `cpu: 1` or `cpu: 0.5`, which Kubernetes accepts too
    if isinstance(value, str):
        try:
            amount = quantity_value(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a Kubernetes quantity such as '100m' (CPU) or '64Mi' (memory)") from None
        if amount < 0:
            raise ValueError(f"{value!r} is negative")
    return value


Quantity = Annotated[str, BeforeValidator(_quantity)]


class Amounts(Model):
    """One `requests` or `limits` object (the Kubernetes shape, CPU and memory)."""

    cpu: Optional[Quantity] = None
    memory: Optional[Quantity] = None

    def as_manifest(self) -> dict[str, str]:
        return {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v is not None}


class ContainerResources(Model):
    """A container's `resources`: `requests` and `limits`, as Kubernetes writes them."""

    requests: Amounts = Amounts()
    limits: Amounts = Amounts()

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "ContainerResources":
        for key in ("cpu", "memory"):
            asked, most = getattr(self.requests, key), getattr(self.limits, key)
            if asked is not None and most is not None and quantity_value(asked) > quantity_value(most):
                # The API server refuses the pod: "must be less than or equal to ... limit".
                raise ValueError(f"requests.{key} {asked!r} is above limits.{key} {most!r}; Kubernetes refuses that pod")
        return self

    def as_manifest(self) -> dict[str, dict[str, str]]:
        out = {"requests": self.requests.as_manifest(), "limits": self.limits.as_manifest()}
        return {k: v for k, v in out.items() if v}

    @property
    def guaranteed(self) -> bool:
        """Guaranteed QoS for this container: CPU and memory limits set, requests equal to them (or unset,
        which Kubernetes defaults to the limits)."""
        return all(getattr(self.limits, k) is not None and (
            getattr(self.requests, k) is None
            or quantity_value(getattr(self.requests, k)) == quantity_value(getattr(self.limits, k)))
            for k in ("cpu", "memory"))


def _both(cpu: str, memory: str) -> ContainerResources:
    amounts = Amounts(cpu=cpu, memory=memory)
    return ContainerResources(requests=amounts, limits=amounts)


MIB = 2**20
# The thick daemon's memory in a burst of K concurrent ADDs, measured by bench/multus_memory_bench.py
# (docs/performance.md "Multus daemon memory", 2026-12-01, two runs): the larger peak cgroup charge
# of the two runs, in MiB, the CNI plugins the daemon starts included, one network per pod.
THICK_PEAK_MIB = ((10, 25.4), (50, 75.5), (100, 122.6), (200, 276.1))
# The daemon's own file pages (its binary's text), charged to another cgroup in the bench because an
# earlier run had read them, but to the container on a node: idle RSS less idle working set.
THICK_FILE_PAGES_MIB = 34
#: kubelet's default --max-pods: how many pods a node restart can bring back at once.
DEFAULT_PODS_PER_NODE = 110


def thick_memory_needed(pods: int) -> Decimal:
    """Bytes the thick daemon's container needs when `pods` pods get their networks at once: the
    measured peak, linear between the measured bursts and beyond the last two."""
    points = THICK_PEAK_MIB
    (k0, m0), (k1, m1) = next(((a, b) for a, b in zip(points, points[1:]) if pods <= b[0]), points[-2:])
    peak = Decimal(str(m0)) + (Decimal(str(m1)) - Decimal(str(m0))) * (pods - k0) / (k1 - k0)
    return max(peak, Decimal(str(points[0][1]))) * MIB + THICK_FILE_PAGES_MIB * MIB


# The daemon's defaults, requests == limits. thin: upstream's (v4.3.0 deployments/multus-daemonset.yml,
# 100m/50Mi); thin_entrypoint only writes files once a second. thick: upstream's 100m CPU, but not its
# 50Mi, at which the daemon is OOM-killed under bursts of pod creation (multus-cni#1346, #1416; the
# bench's 50 concurrent ADDs peak at 56 to 76 MiB): 256Mi holds the measured need of a node restart
# with the default 110 pods (thick_memory_needed(110), about 172 MiB) with about 50% headroom.
DAEMON_RESOURCES = {"thin": _both("100m", "50Mi"), "thick": _both("100m", "256Mi")}


class MultusResources(Model):
    """`multus.resources`: the DaemonSet pod's containers. Unset keys take the defaults, which make the
    pod Guaranteed QoS (requests == limits in every container, the init container included), so node
    pressure evicts it last (multus-cni#1160)."""

    daemon: Optional[ContainerResources] = None
    """The `kube-multus` container; unset: the flavor's default (thin 100m/50Mi, thick 100m/256Mi)."""
    init: Optional[ContainerResources] = None
    """The `install-multus-binary` init container; unset: the same as the daemon. A pod's request is the
    larger of its init containers' and the sum of its containers', so this costs no scheduling room."""

    def daemon_for(self, flavor: str) -> ContainerResources:
        return self.daemon if self.daemon is not None else DAEMON_RESOURCES[flavor]

    def init_for(self, flavor: str) -> ContainerResources:
        return self.init if self.init is not None else self.daemon_for(flavor)
