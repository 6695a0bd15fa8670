"""Typed, validated configuration: the single source of truth for every component."""

from ..core.errors import ConfigError, Problem, validate
from .multus import MultusConfig
from .network import NetworkConfig
from .stack import PROJECT, StackConfig, config_path, load_from_pulumi, load_stack_config
from .workload import WorkloadConfig

__all__ = [
    "PROJECT",
    "ConfigError",
    "MultusConfig",
    "NetworkConfig",
    "Problem",
    "StackConfig",
    "WorkloadConfig",
    "config_path",
    "load_from_pulumi",
    "load_stack_config",
    "validate",
]
