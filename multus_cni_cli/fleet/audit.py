"""`fleet audit`: audit-ipam on every stack, each against its own cluster.

A stack's cluster is its default Kubernetes provider's, read from the backend as `pulumi up` would
get it: the stack's `kubernetes:kubeconfig` (a path, relative to the project, or a kubeconfig's
text, a secret too: never shown) and `kubernetes:context`; without them KUBECONFIG or
~/.kube/config on this machine. No engine runs and nothing is written: the stack's config is read
(one `pulumi config` call), then the cluster's pods and whereabouts objects.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pulumi import automation as auto

from components.config import ConfigError
from components.kubeapi import ClusterError, of_provider_setting

from .. import stackfile
from ..audit import findings, reader
from .report import Row
from .stack_run import last_line, stack_config

#: The provider settings that say which cluster a stack deploys to.
KUBECONFIG, CONTEXT = "kubernetes:kubeconfig", "kubernetes:context"


class AuditRun:
    def __init__(self, name: str, workspace: auto.LocalWorkspace, stop: threading.Event,
                 threshold: float = findings.DEFAULT_THRESHOLD):
        self.name, self.workspace, self.stop, self.threshold = name, workspace, stop, threshold
        self.root = Path(workspace.work_dir)

    def __call__(self) -> Row:
        start = time.monotonic()
        status, error, found = self._audit()
        return Row(self.name, status, seconds=time.monotonic() - start, error=error, findings=found)

    def _audit(self) -> tuple[str, str, tuple[findings.Finding, ...]]:
        if self.stop.is_set():
            return "cancelled", "cancelled before it started", ()
        try:
            stack = stack_config(self.name, self.root)
            settings = self.workspace.get_all_config(self.name)
            cluster = of_provider_setting(_value(settings, KUBECONFIG), _value(settings, CONTEXT), self.root)
            result = findings.audit(stack, reader.snapshot(cluster), self.threshold)
        except ConfigError as exc:
            return "failed", "; ".join(str(problem) for problem in exc.problems), ()
        except (stackfile.StackFileError, ClusterError) as exc:
            return "failed", str(exc), ()
        except auto.CommandError as exc:  # no such stack in the backend, or its secrets cannot be opened
            return "failed", last_line(exc), ()
        return ("findings" if result.findings else "succeeded"), "", tuple(result.findings)


def _value(settings: dict[str, auto.ConfigValue], key: str) -> str | None:
    setting = settings.get(key)
    return setting.value if setting is not None and setting.value else None
