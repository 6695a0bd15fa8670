"""Multus CNI as Pulumi components: the install, network attachments and sample workloads."""

from .config import ConfigError, MultusConfig, NetworkConfig, StackConfig, WorkloadConfig
from .multus import Multus
from .network_attachment import NetworkAttachment
from .sample_workload import SampleWorkload

__all__ = [
    "ConfigError",
    "Multus",
    "MultusConfig",
    "NetworkAttachment",
    "NetworkConfig",
    "SampleWorkload",
    "StackConfig",
    "WorkloadConfig",
]
