"""The cluster as the decommission command reads it."""

from __future__ import annotations

from typing import Optional

from components.annotations import NAD_API_VERSION, NAD_KIND
from components.kubeapi import Cluster as Api
from components.kubeapi import ClusterError, failure_reason, path  # noqa: F401  (the command's errors)


class Cluster(Api):
    def nodes(self) -> list[str]:
        return sorted(n["metadata"]["name"] for n in self.list("v1", "Node"))

    def pods(self) -> list[dict]:
        return self.list("v1", "Pod")

    def nads(self) -> list[dict]:
        return self.list(NAD_API_VERSION, NAD_KIND)

    def owner(self, namespace: str, reference: dict) -> Optional[dict]:
        """The object an ownerReference points to (to follow Pod -> ReplicaSet -> Deployment)."""
        return self.get(reference["apiVersion"], reference["kind"], reference["name"], namespace)
