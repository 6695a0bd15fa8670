"""`multus-cni fleet preview|up|drift|audit`: every stack of this project, in parallel, one table.

Through Pulumi's Automation API on this directory (a local workspace), so each stack runs the
real engine exactly as `pulumi preview` / `pulumi up` would; `up` never runs a stack whose
preview would delete or replace a protected (Multus) object, and the fleet never destroys.
`audit` runs no engine: audit-ipam on the cluster each stack's provider settings name.
"""

from .cli import HELP, add_arguments, command

__all__ = ["HELP", "add_arguments", "command"]
