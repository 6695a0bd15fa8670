"""The Kubernetes API as the commands and the program's ownership check use it: plain REST calls
through the Kubernetes client's kubeconfig handling (no API discovery, which costs seconds; the few
kinds used are known)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import yaml

from components.annotations import NAD_API_VERSION, NAD_KIND

# Kinds whose plural is not lowercase + "s".
_PLURALS = {NAD_KIND: "network-attachment-definitions"}
# Only the objects' metadata, for any kind, CRDs' too (Kubernetes API concepts, "Receiving resources
# as Table / PartialObjectMetadata": `as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`).
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PAGE = 500  # objects per LIST response (`limit`, then `continue`), as kubectl's default chunk size


class ClusterError(Exception):
    """The cluster cannot be reached or refused a request; one line, exit status 2."""


def path(api_version: str, kind: str, namespace: Optional[str] = None, name: Optional[str] = None) -> str:
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{namespace}" if namespace else ""
    plural = _PLURALS.get(kind, kind.lower() + "s")
    return f"{base}{scope}/{plural}" + (f"/{name}" if name else "")


def failure_reason(document: Any) -> str:
    """The API server's message of a failed request (a Status object), else its text, one line."""
    reason = (document.get("message") or json.dumps(document)) if isinstance(document, dict) else str(document)
    return " ".join(str(reason).split())[:300]


class Cluster:
    def __init__(self, kubeconfig: Optional[str], context: Optional[str], kubeconfig_text: Optional[str] = None):
        """`kubeconfig`: a file (None: KUBECONFIG or ~/.kube/config); `kubeconfig_text`: the file's
        content instead, as the Kubernetes provider's `kubeconfig` setting may hold it."""
        from kubernetes import config as kube_config

        try:
            if kubeconfig_text is not None:
                self.client = kube_config.new_client_from_config_dict(yaml.safe_load(kubeconfig_text), context=context)
            else:
                self.client = kube_config.new_client_from_config(config_file=kubeconfig, context=context)
        except (kube_config.ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as exc:
            if kubeconfig_text is not None:  # may be a secret: neither it nor a parser's quote of it is shown
                raise ClusterError("the kubeconfig setting is neither a file that exists nor a kubeconfig's"
                                   f" YAML or JSON ({type(exc).__name__})") from None
            raise ClusterError(f"cannot load a kubeconfig ({kubeconfig or 'KUBECONFIG or ~/.kube/config'}): {exc}") from None
        self.client.configuration.retries = 0
        self.host = self.client.configuration.host

    def request(self, method: str, url: str, what: str, body: Any = None, query: Optional[list] = None,
                accept: str = "application/json") -> Optional[dict]:
        """The response's JSON; None for 404 (also a kind that is not served, e.g. once the CRD is gone)."""
        status, document = self.call(method, url, what, body, query, accept=accept)
        if status == 404:
            return None
        if status >= 400:
            raise ClusterError(f"{what}: {status} {failure_reason(document)}")
        return document

    def call(self, method: str, url: str, what: str, body: Any = None, query: Optional[list] = None,
             content_type: str = "application/json", accept: str = "application/json") -> tuple[int, Any]:
        """(HTTP status, the response's JSON, or its text when it is not JSON), whatever the status."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": accept, "Content-Type": content_type}
        try:
            params = self.client.param_serialize(method, url, query_params=query, header_params=headers, body=body,
                                                 auth_settings=["BearerToken"])
            response = self.client.call_api(*params, _request_timeout=30)
            response.read()
        except ApiException as exc:
            response = exc
        except (HTTPError, OSError) as exc:
            raise ClusterError(f"{what}: cannot reach the cluster at {self.host}: {exc}") from None
        text = (response.data or b"").decode() if isinstance(response.data, bytes) else (response.data or "")
        try:
            return response.status, json.loads(text) if text else {}
        except ValueError:
            return response.status, text

    def get(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None) -> Optional[dict]:
        return self.request("GET", path(api_version, kind, namespace, name), f"get {kind} {name}")

    def list(self, api_version: str, kind: str, namespace: Optional[str] = None, label_selector: Optional[str] = None,
             metadata_only: bool = False) -> list[dict]:
        """Every object, page by page; none for a kind that is not served. `metadata_only`: each
        item is its `metadata` alone (a PartialObjectMetadata), a fraction of the bytes."""
        items: list[dict] = []
        selector = [("labelSelector", label_selector)] if label_selector else []
        token = ""
        while True:
            query = [*selector, ("limit", str(PAGE)), *([("continue", token)] if token else [])]
            found = self.request("GET", path(api_version, kind, namespace), f"list {kind}", query=query,
                                 accept=METADATA_ONLY if metadata_only else "application/json") or {}
            items += found.get("items") or []
            token = (found.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def create(self, manifest: dict) -> None:
        meta = manifest["metadata"]
        self.request("POST", path(manifest["apiVersion"], manifest["kind"], meta.get("namespace")),
                     f"create {manifest['kind']} {meta['name']}", body=manifest)

    def delete(self, manifest: dict) -> bool:
        """Delete (background propagation); False when it was already gone."""
        meta = manifest["metadata"]
        done = self.request("DELETE", path(manifest["apiVersion"], manifest["kind"], meta.get("namespace"), meta["name"]),
                            f"delete {manifest['kind']} {meta['name']}", body={"propagationPolicy": "Background"})
        return done is not None


def of_provider_setting(kubeconfig: Optional[str], context: Optional[str], base: Optional[Path] = None) -> Cluster:
    """The cluster the Kubernetes provider's `kubeconfig` setting names, read as the provider reads it
    (pulumi-kubernetes v4 pkg/provider/util.go `parseKubeconfigString`): `~` expanded, a path that
    exists is a file (relative to `base`, the program's directory), anything else a kubeconfig's text;
    empty: KUBECONFIG, ~/.kube/config."""
    if not kubeconfig:
        return Cluster(None, context)
    if "\n" not in kubeconfig:
        candidate = Path(kubeconfig).expanduser()
        if base is not None and not candidate.is_absolute():
            candidate = base / candidate
        if candidate.is_file():
            return Cluster(str(candidate), context)
    return Cluster(None, context, kubeconfig_text=kubeconfig)
