"""Multus CNI as Pulumi components: the install, network attachments, sample workloads, and the
optional reference plugins and whereabouts IPAM on the nodes."""

from .cni_plugins import CniPlugins
from .config import ConfigError, MultusConfig, NetworkConfig, StackConfig, WorkloadConfig
from .multus import Multus
from .network_attachment import NetworkAttachment
from .sample_workload import SampleWorkload
from .whereabouts import Whereabouts

__all__ = [
    "CniPlugins",
    "ConfigError",
    "Multus",
    "MultusConfig",
    "NetworkAttachment",
    "NetworkConfig",
    "SampleWorkload",
    "StackConfig",
    "Whereabouts",
    "WorkloadConfig",
]
