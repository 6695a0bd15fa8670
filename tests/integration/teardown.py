"""Test teardown without the engine: the Kubernetes objects a stack's state records, deleted through
the API server and waited for.

A `pulumi destroy` per stack was 10-21 s of every live test (a quarter of the live suite's time went
to teardowns); this is one `kubectl delete`. It only does what destroy would: objects a resource
keeps on delete (`retainOnDelete`) stay, and a state it cannot read the same way destroy would
(pending operations, a provider aimed at another cluster or at a directory, a patch resource)
returns None, and the caller destroys.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from multus_cni_cli.recovery import read_checkpoint

# Provider settings that send its objects somewhere other than the test cluster's KUBECONFIG.
ELSEWHERE = ("kubeconfig", "context", "cluster", "renderYamlToDirectory")


def checkpoint(backend: Path, project: str, stack: str) -> dict | None:
    """The stack's latest deployment in a file backend, or None."""
    for path in (backend / ".pulumi" / "stacks" / project / f"{stack}.json",
                 backend / ".pulumi" / "stacks" / project / f"{stack}.json.gz"):
        if path.exists():
            return read_checkpoint(path)
    return None


def objects_to_delete(deployment: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Each recorded object as `apiVersion`/`kind`/`metadata`, dependents first (the state lists a
    resource after what it depends on); None when only destroy may say what goes."""
    if deployment.get("pending_operations"):
        return None
    resources = deployment.get("resources") or []
    providers = {f"{r['urn']}::{r.get('id', '')}": r for r in resources if r["type"] == "pulumi:providers:kubernetes"}
    if any(any(r.get("inputs", {}).get(key) for key in ELSEWHERE) for r in providers.values()):
        return None
    found = []
    for resource in resources:
        if not resource["type"].startswith("kubernetes:") or not resource.get("custom"):
            continue
        if resource["type"].endswith("Patch") or resource.get("provider", "") not in providers:
            return None
        if resource.get("retainOnDelete"):
            continue
        outputs = resource.get("outputs") or {}
        metadata = outputs.get("metadata") or {}
        if not (outputs.get("apiVersion") and outputs.get("kind") and metadata.get("name")):
            return None
        found.append({"apiVersion": outputs["apiVersion"], "kind": outputs["kind"],
                      "metadata": {k: metadata[k] for k in ("name", "namespace") if metadata.get(k)}})
    return found[::-1]


def delete(objects: list[dict[str, Any]], env: dict[str, str]) -> bool:
    """Delete them, each after its dependents (foreground), and wait until all are gone."""
    if not objects:
        return True
    done = subprocess.run(["kubectl", "delete", "--ignore-not-found", "--wait", "--cascade=foreground",
                           "--timeout=180s", "-f", "-"], input=yaml.safe_dump_all(objects), env=env,
                          capture_output=True, text=True, timeout=240)
    return done.returncode == 0
