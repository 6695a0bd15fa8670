"""The CNI plugin catalog: typed models of every common plugin and IPAM, and the checks on them."""

from .catalog import Summary, check
from .ipam import IPAMS, Pool
from .plugins import PLUGINS

__all__ = ["IPAMS", "PLUGINS", "Pool", "Summary", "check"]
