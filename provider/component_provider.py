"""The component provider: the engine's Construct calls build the same Python components the
program builds, so a TypeScript, Go or YAML user gets the same objects and the same validation.

A bad configuration fails the call with the components' own `<path>: <problem>` lines, as an
InputPropertiesError (the engine prints its message, with no traceback).
"""

from __future__ import annotations

import functools
import json
from typing import Any, Optional

import pulumi
from pulumi.errors import InputPropertiesError
from pulumi.output import Unknown
from pulumi.provider import ConstructResult, Provider
from pulumi.resource import DependencyResource
from pulumi.runtime.rpc import register_resource_module

from components.config import ConfigError, Problem
from components.core.errors import join_path
from components.multus import Multus
from components.network_attachment import NetworkAttachment
from components.sample_workload import SampleWorkload
from .schema import PACKAGE, Component, component_of, output_attributes, package_schema, token


def whole_numbers(value: Any) -> Any:
    """The wire carries every number as a double (google.protobuf.Value): give whole ones back as
    ints, or a CNI config's `mtu: 1500` would reach the NAD as 1500.0, which Go's int fields refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


class _References(pulumi.runtime.ResourceModule):
    """Resource references to this package's components, as Construct inputs: the
    NetworkAttachments built in this process are handed back as themselves (a workload needs
    their configs); anything else as a dependency on its URN."""

    def __init__(self) -> None:
        self.attachments: dict[str, NetworkAttachment] = {}

    def version(self) -> Optional[str]:
        return None

    def construct(self, name: str, typ: str, urn: str) -> pulumi.Resource:
        if typ == token("NetworkAttachment") and name in self.attachments:
            return self.attachments[name]
        return DependencyResource(urn)


_REFERENCES = _References()


@functools.cache
def _register() -> None:
    register_resource_module(PACKAGE, "index", _REFERENCES)


class MultusCniProvider(Provider):
    """Serves the five components (Multus, NetworkAttachment, SampleWorkload, CniPlugins,
    Whereabouts) to any Pulumi language."""

    def __init__(self, version: str) -> None:
        super().__init__(version, json.dumps(package_schema(version), sort_keys=True, separators=(",", ":")))
        # The SDK keeps resource modules per process, as there is one provider per plugin process.
        self.references = _REFERENCES
        self.references.attachments = {}
        _register()

    def construct(self, name: str, resource_type: str, inputs: pulumi.Inputs,
                  options: Optional[pulumi.ResourceOptions] = None) -> ConstructResult:
        try:
            component = self._build(name, resource_type, dict(inputs), options or pulumi.ResourceOptions())
        except ConfigError as error:
            # An empty (not absent) list: the SDK then sends the status the engine prints as is.
            raise InputPropertiesError(str(error), []) from None
        outputs = output_attributes(component_of(resource_type))
        return ConstructResult(component.urn, {key: getattr(component, attribute) for key, (attribute, _) in outputs.items()})

    def _build(self, name: str, resource_type: str, inputs: dict, options: pulumi.ResourceOptions) -> pulumi.ComponentResource:
        if resource_type == token("Multus"):
            # Multus is never deleted (multus-cni#461): protected whatever the caller's options say.
            return Multus(name, self._args(inputs, f"Multus {name}"), opts=pulumi.ResourceOptions.merge(
                options, pulumi.ResourceOptions(protect=True)))
        if resource_type == token("NetworkAttachment"):
            multus = inputs.pop("multus", None)
            attachment = NetworkAttachment(name, self._args(inputs, f"NetworkAttachment {name}"), multus=multus, opts=options)
            self.references.attachments[name] = attachment
            return attachment
        if resource_type == token("SampleWorkload"):
            label = f"SampleWorkload {name}"
            attachments = inputs.pop("attachments", None) or []
            unknown = [Problem(join_path(label, ("attachments", i)), "must be a NetworkAttachment created in this program")
                       for i, a in enumerate(attachments) if not isinstance(a, NetworkAttachment)]
            if unknown:
                raise ConfigError(unknown)
            return SampleWorkload(name, self._args(inputs, label), networks=attachments, opts=options)
        component = component_of(resource_type)
        if component is None:
            raise InputPropertiesError(f"{resource_type}: not a component of the {PACKAGE} package", [])
        # The rest take their model's arguments and nothing else (CniPlugins, Whereabouts).
        return component.cls(name, self._args(inputs, f"{component.cls.__name__} {name}", component), opts=options)

    @staticmethod
    def _args(inputs: dict, label: str, component: Optional[Component] = None) -> dict:
        """The plain arguments the model validates; a value known only after deployment (an
        output of another resource) cannot be checked before it, so it is refused by path, and so
        is a stack-only field (`enabled: false` would still install the part)."""
        stack_only = sorted(component.stack_only & inputs.keys()) if component else []
        problems = [Problem(join_path(label, (key,)), "is stack config only: creating the component is what enables it")
                    for key in stack_only]
        problems += [Problem(join_path(label, loc), "must be a value known before deployment, not another resource's output")
                     for loc in _late(inputs)]
        if problems:
            raise ConfigError(problems)
        return whole_numbers({k: v for k, v in inputs.items() if v is not None})


def _late(value: Any, loc: tuple = ()) -> list[tuple]:
    """Where `value` holds an Output (or a preview's unknown)."""
    if isinstance(value, (pulumi.Output, Unknown)):
        return [loc]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _late(item, (*loc, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _late(item, (*loc, index))]
    return []
