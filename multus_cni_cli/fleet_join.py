"""`multus-cni fleet-join`: see multus_cni_cli/fleet/join.py (the fleet package's own module)."""

from .fleet.join import HELP, add_arguments, command

__all__ = ["HELP", "add_arguments", "command"]
