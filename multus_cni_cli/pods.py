"""A pod's lifecycle as the tools judge it, from the object `kubectl get pod -o json` prints."""

from __future__ import annotations

from typing import Any

#: Phases after which the kubelet has torn the pod's sandbox down (CNI DEL ran).
FINISHED = ("Succeeded", "Failed")


def terminating(pod: dict[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def live(pod: dict[str, Any]) -> bool:
    """Neither being deleted nor finished: its addresses are in use."""
    return not terminating(pod) and (pod.get("status") or {}).get("phase") not in FINISHED


def ref(pod: dict[str, Any]) -> str:
    """`namespace/name`, the form of whereabouts' podref."""
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace', 'default')}/{metadata.get('name', '')}"
