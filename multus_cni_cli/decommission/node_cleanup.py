"""Removes what Multus leaves on a node, then reports it: the script each pod of the cleanup
DaemonSet runs (standard library only: it is shipped in a ConfigMap and run by the pinned Python
image, see `daemonset.IMAGE`).

    python3 node_cleanup.py [--root /host] [--no-report] [--stay]

What it removes, below `--root` (where the DaemonSet mounts the node's directories):
- `etc/cni/net.d/00-multus.conf*`: the config `thin_entrypoint` or the thick daemon writes
  (`.conf` or `.conflist`, and temp files of that name); left there, no pod can be created or
  deleted on the node (multus-cni#461);
- `etc/cni/net.d/multus.d`: thin's kubeconfig (a token of the deleted ServiceAccount);
- `opt/cni/bin/multus*`: `multus`, `multus-shim` (and install_multus' `*.temp` files);
- `run/multus`: the thick daemon's socket dir (`socketDir: /host/run/multus/` with `/host/run` the
  host's `/run`; k8snetworkplumbingwg/multus-cni v4.3.0 deployments/multus-daemonset-thick.yml).
Nothing else: other CNI configs and plugins stay. A symlink is removed, never followed.

The report: one key, the node's name, in the ConfigMap `REPORT_CONFIGMAP` of `REPORT_NAMESPACE`,
set with a JSON merge patch as the pod's ServiceAccount (the only right it has: `patch` on that one
ConfigMap). Its value is JSON: the node, the pod, the paths removed and any errors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# (directory, name pattern) below the root; a pattern ending in "*" is a prefix.
TARGETS = (
    ("etc/cni/net.d", "00-multus.conf*"),
    ("etc/cni/net.d", "multus.d"),
    ("opt/cni/bin", "multus*"),
    ("run", "multus"),
)
SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def _matches(name: str, pattern: str) -> bool:
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def _remove(path: Path) -> bool:
    """Remove a file, link or tree; whether there was anything to remove. A mount point (the pod
    mounts /run/multus alone, never all of /run) cannot go: it is emptied, and the node keeps the
    empty directory until its next boot (/run is a tmpfs)."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return True
    if not os.path.ismount(path):
        shutil.rmtree(path)
        return True
    children = sorted(path.iterdir())
    for child in children:
        _remove(child)
    return bool(children)


def clean(root: Path) -> tuple[list[str], list[str]]:
    """Remove the targets below `root`; (paths removed, errors), paths as seen on the node.
    Idempotent: a second run removes nothing and reports no error."""
    removed, errors = [], []
    for directory, pattern in TARGETS:
        parent = root / directory
        try:
            names = sorted(os.listdir(parent))
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(f"/{directory}: {exc.strerror}")
            continue
        for name in names:
            if not _matches(name, pattern):
                continue
            path = parent / name
            try:
                if not _remove(path):
                    continue
            except FileNotFoundError:
                continue
            except OSError as exc:
                errors.append(f"/{directory}/{name}: {exc.strerror or exc}")
                continue
            removed.append(f"/{directory}/{name}")
    return removed, errors


def report(node: str, payload: dict, namespace: str, configmap: str, account: Path, attempts: int = 5) -> None:
    """Set this node's key of the report ConfigMap (in-cluster credentials of the pod)."""
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
    host = f"[{host}]" if ":" in host else host
    url = f"https://{host}:{port}/api/v1/namespaces/{namespace}/configmaps/{configmap}"
    body = json.dumps({"data": {node: json.dumps(payload, sort_keys=True)}}).encode()
    context = ssl.create_default_context(cafile=str(account / "ca.crt"))
    for attempt in range(1, attempts + 1):
        token = (account / "token").read_text().strip()  # re-read: the kubelet rotates it
        request = urllib.request.Request(url, data=body, method="PATCH", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=15):
                return
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403, 404) or attempt == attempts:
                raise SystemExit(f"node-cleanup: report for {node} refused: {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt == attempts:
                raise SystemExit(f"node-cleanup: cannot report for {node}: {exc}") from None
        time.sleep(2 * attempt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/host", help="where the node's directories are mounted")
    parser.add_argument("--no-report", action="store_true", help="only clean and print the result")
    parser.add_argument("--stay", action="store_true", help="then wait for SIGTERM (a DaemonSet pod must keep running)")
    args = parser.parse_args(argv)

    removed, errors = clean(Path(args.root))
    node = os.environ.get("NODE_NAME", "")
    payload = {"node": node, "pod": os.environ.get("POD_NAME", ""), "removed": removed, "errors": errors}
    print(json.dumps(payload, sort_keys=True), flush=True)
    if not args.no_report:
        report(node, payload, os.environ["REPORT_NAMESPACE"], os.environ["REPORT_CONFIGMAP"],
               Path(os.environ.get("SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT)))
    if args.stay:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            signal.pause()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
