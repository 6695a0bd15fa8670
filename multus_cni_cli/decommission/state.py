"""What a stack's state (`pulumi stack export`) says is left to decommission.

Read from the state, not from config, so whatever the stack really holds (any component, today's
or a later one) is covered: the Multus objects are the resources below a `Multus` component;
everything else is the rest of the stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from components.annotations import NAD_API_VERSION, NAD_KIND
from components.multus import TYPE as MULTUS_TYPE

NAD_TYPE = f"kubernetes:{NAD_API_VERSION}:{NAD_KIND}"
DAEMONSET_TYPE = "kubernetes:apps/v1:DaemonSet"
PACKAGE_INSTALL_KIND = "PackageInstall"


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    custom: bool
    protect: bool
    parent: Optional[str]
    outputs: dict

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def kind(self) -> str:
        return self.outputs.get("kind") or self.type.rsplit(":", 1)[-1]

    @property
    def namespace(self) -> Optional[str]:
        return (self.outputs.get("metadata") or {}).get("namespace")

    @property
    def object_name(self) -> str:
        return (self.outputs.get("metadata") or {}).get("name") or self.name

    @property
    def ref(self) -> str:
        """`Kind namespace/name` (or `Kind name` for a cluster-scoped object)."""
        where = f"{self.namespace}/{self.object_name}" if self.namespace else self.object_name
        return f"{self.kind} {where}"

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")


class StackState:
    def __init__(self, exported: dict[str, Any]):
        deployment = exported.get("deployment") or {}
        self.resources = [Resource(r["urn"], r["type"], bool(r.get("custom")), bool(r.get("protect")),
                                   r.get("parent"), r.get("outputs") or {})
                          for r in deployment.get("resources") or []]
        by_urn = {r.urn: r for r in self.resources}
        multus = {r.urn for r in self.resources if r.type == MULTUS_TYPE}

        def under_multus(r: Resource) -> bool:
            seen = set()
            while r.parent and r.parent not in seen:
                if r.parent in multus:
                    return True
                seen.add(r.parent)
                if r.parent not in by_urn:
                    return False
                r = by_urn[r.parent]
            return False

        objects = [r for r in self.resources if r.custom and not r.is_provider]
        self.multus_objects = [r for r in objects if under_multus(r)]
        others = [r for r in objects if not under_multus(r)]
        # Step 1: workloads, NADs and anything else unprotected outside Multus (any component's).
        self.workloads = [r for r in others if not r.protect]
        # Protected objects outside Multus go with the Multus objects, at the end.
        self.protected_others = [r for r in others if r.protect]
        self.nads = [r for r in objects if r.type == NAD_TYPE]
        self.multus_daemonsets = [r for r in self.multus_objects if r.type == DAEMONSET_TYPE]
        self.package_installs = [r for r in self.multus_objects if r.kind == PACKAGE_INSTALL_KIND]

    @property
    def empty(self) -> bool:
        return not self.resources

    def multus_namespace(self) -> Optional[str]:
        """Where Multus runs (its DaemonSet's, else its ServiceAccount's namespace)."""
        for r in self.multus_daemonsets + [r for r in self.multus_objects if r.kind == "ServiceAccount"]:
            if r.namespace:
                return r.namespace
        return None

    def flavor(self) -> str:
        """thin or thick, from the Multus DaemonSet's container command (unknown once it is gone)."""
        for r in self.multus_daemonsets:
            containers = (((r.outputs.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
            command = " ".join(" ".join(c.get("command") or []) for c in containers)
            return "thick" if "multus-daemon" in command else "thin"
        return "unknown"

    def owns(self, kind: str, namespace: Optional[str], name: str) -> bool:
        """Whether this stack created the object (`kind`, `namespace`, `name`)."""
        return any(r.kind == kind and r.namespace == namespace and r.object_name == name for r in self.resources if r.custom)

    def nad_refs(self) -> set[tuple[str, str]]:
        return {(r.namespace or "default", r.object_name) for r in self.nads}
