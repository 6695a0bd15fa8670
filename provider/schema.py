"""The Pulumi package schema, derived from the components' pydantic models (never written by hand).

Each model field becomes an input property: its JSON type from the annotation, required when the
model requires it, its description from the field's docstring, a `Literal` as an enum type.
Defaults stay in the models and are only described: an SDK that sent a default would change what
the model sees as set (MultusConfig tells `flavor` given from `flavor` derived from the tag).
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from typing import Any, Literal, Optional, Union

import pulumi
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from components.cni_plugins import CniPlugins
from components.multus import Multus
from components.network_attachment import NetworkAttachment
from components.sample_workload import SampleWorkload
from components.whereabouts import Whereabouts
from components.config import MultusConfig, NetworkConfig, WorkloadConfig
from components.config.addons import CniPluginsConfig, WhereaboutsConfig

PACKAGE = "multus-cni"
ANY = {"$ref": "pulumi.json#/Any"}
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


class Component(typing.NamedTuple):
    """One component as the package serves it: its class, the model of its arguments, the
    resource references it takes besides them, what its outputs mean, and the model fields that
    mean something only in stack config (`enabled`: a package user switches a part on by creating it)."""

    cls: type[pulumi.ComponentResource]
    model: type[BaseModel]
    references: dict[str, tuple[str, bool, str]]  # input -> (component type token, is a list, description)
    outputs: dict[str, str]  # output (schema name) -> description
    stack_only: frozenset[str] = frozenset()


COMPONENTS = (
    Component(Multus, MultusConfig, {}, {
        "namespace": "The namespace the Multus DaemonSet runs in.",
        "daemonsetName": "The name of the Multus DaemonSet.",
        "crdName": "The NetworkAttachmentDefinition CRD's name.",
    }),
    Component(NetworkAttachment, NetworkConfig, {
        "multus": ("multus-cni:index:Multus", False, "The Multus install the NAD waits for, so its CRD exists first."),
    }, {
        "nadName": "The NetworkAttachmentDefinition's name.",
        "nadNamespace": "The NetworkAttachmentDefinition's namespace.",
    }),
    Component(SampleWorkload, WorkloadConfig, {
        "attachments": ("multus-cni:index:NetworkAttachment", True,
                        "The NetworkAttachments of this program the workload selects (its default-network override "
                        "included): it waits for them, is checked against their configs, and is replaced when they "
                        "change, since Multus reads a NAD only when a pod is created."),
    }, {
        "networkStatus": "The pod's parsed k8s.v1.cni.cncf.io/network-status annotation; null until Multus has "
                         "written it, and for a Deployment (read its pods with `verify`).",
    }),
    Component(CniPlugins, CniPluginsConfig, {}, {
        "namespace": "The namespace the CNI plugins' DaemonSet runs in.",
        "daemonsetName": "The name of the DaemonSet that copies the plugins onto every node.",
    }, frozenset({"enabled"})),
    Component(Whereabouts, WhereaboutsConfig, {}, {
        "namespace": "The namespace whereabouts' DaemonSet runs in.",
        "daemonsetName": "The name of whereabouts' DaemonSet (the plugin installer and ip-reconciler).",
        "serviceAccountName": "The ServiceAccount whereabouts runs as.",
    }, frozenset({"enabled"})),
)


def token(name: str) -> str:
    return f"{PACKAGE}:index:{name}"


def type_name(model: type[BaseModel]) -> str:
    """`MultusConfig` -> `Multus`: an enum is named after what it configures (`MultusFlavor`)."""
    name = model.__name__
    return name[: -len("Config")] if name.endswith("Config") and name != "Config" else name


def own_doc(obj: Any) -> Optional[str]:
    """A docstring the object itself declares (not one inherited from a base such as Model)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if doc else None


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", "_").replace(".", "_").split("_") if part)


class _Builder:
    """Walks models into the schema's `types`, each model and enum once."""

    def __init__(self) -> None:
        self.types: dict[str, dict] = {}

    def enum(self, owner: str, field: str, values: tuple) -> dict:
        names = [_pascal(str(v)) or "Value" for v in values]
        if len(set(names)) != len(names) or not all(isinstance(v, str) for v in values):
            # Values that differ only in case (a port's "TCP"/"tcp") make no valid enum names.
            return {"type": "string"}
        ref = token(f"{owner}{_pascal(field)}")
        self.types.setdefault(ref, {"type": "string", "enum": [{"name": n, "value": v} for n, v in zip(names, values)]})
        return {"$ref": f"#/types/{ref}"}

    def model(self, model: type[BaseModel]) -> dict:
        ref = token(model.__name__)
        if ref not in self.types:
            self.types[ref] = {}  # reserved first: a model may (indirectly) refer to itself
            properties, required = self.properties(model)
            self.types[ref] = {"type": "object", "properties": properties,
                               **({"required": required} if required else {}),
                               **({"description": own_doc(model)} if own_doc(model) else {})}
        return {"$ref": f"#/types/{ref}"}

    def properties(self, model: type[BaseModel], omit: frozenset[str] = frozenset()) -> tuple[dict[str, dict], list[str]]:
        properties, required = {}, []
        for name, field in model.model_fields.items():
            key = field.alias or name
            if key in omit:
                continue
            spec = self.annotation(field.annotation, type_name(model), key)
            description = describe_field(field)
            if description:
                spec = {**spec, "description": description}
            properties[key] = spec
            if field.is_required():
                required.append(key)
        return properties, sorted(required)

    def annotation(self, annotation: Any, owner: str, field: str) -> dict:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            return self.annotation(args[0], owner, field)
        if origin in (Union, types.UnionType):
            present = [a for a in args if a is not type(None)]
            return self.annotation(present[0], owner, field) if len(present) == 1 else ANY
        if origin is Literal:
            return self.enum(owner, field, args)
        if origin in (tuple, list, set, frozenset):
            return {"type": "array", "items": self.annotation(args[0], owner, field) if args else ANY}
        if origin is dict:
            value = args[1] if len(args) == 2 else Any
            return {"type": "object", "additionalProperties": self.annotation(value, owner, field)}
        if annotation in _SCALARS:
            return {"type": _SCALARS[annotation]}
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            return self.model(annotation)
        return ANY


def describe_field(field: FieldInfo) -> Optional[str]:
    """The field's docstring, and its default when it has a plain one (described, not sent)."""
    parts = [field.description] if field.description else []
    default = field.default
    if field.default_factory is None and isinstance(default, (str, int, float, bool, tuple)):
        parts.append(f"Default: `{json.dumps(default)}`.")
    return " ".join(parts) or None


def output_attributes(component: Component) -> dict[str, tuple[str, Any]]:
    """schema name -> (attribute, value type) of each documented output, from the component's
    `pulumi.Output[...]` attribute annotations."""
    hints = inspect.get_annotations(component.cls, eval_str=True)  # its own, not ComponentResource's
    return {_camel(attribute): (attribute, typing.get_args(hint)[0]) for attribute, hint in hints.items()
            if typing.get_origin(hint) is pulumi.Output and _camel(attribute) in component.outputs}


def output_properties(component: Component) -> dict[str, dict]:
    builder = _Builder()
    return {key: {**builder.annotation(hint, type_name(component.model), key), "description": component.outputs[key]}
            for key, (_, hint) in output_attributes(component).items()}


def component_of(resource_type: str) -> Optional[Component]:
    return next((c for c in COMPONENTS if token(c.cls.__name__) == resource_type), None)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def package_schema(version: str) -> dict:
    """The whole package schema for `version`, deterministic (sorted keys when serialized)."""
    builder = _Builder()
    resources = {}
    for component in COMPONENTS:
        inputs, required = builder.properties(component.model, component.stack_only)
        for key, (target, many, description) in component.references.items():
            ref = {"$ref": f"#/resources/{target}"}
            inputs[key] = {**({"type": "array", "items": ref} if many else ref), "description": description}
        outputs = output_properties(component)
        required_outputs = sorted(k for k, spec in outputs.items() if spec.get("$ref") != ANY["$ref"])
        resources[token(component.cls.__name__)] = {  # no empty lists: the CLI's own form of a schema
            "isComponent": True,
            "description": own_doc(sys.modules[component.cls.__module__]) or "",
            "inputProperties": inputs,
            **({"requiredInputs": required} if required else {}),
            "properties": outputs,
            **({"required": required_outputs} if required_outputs else {}),
        }
    return {
        "name": PACKAGE,
        "displayName": "Multus CNI",
        "version": version,
        "description": "Multus CNI as Pulumi components: the install (protected), NetworkAttachmentDefinitions, sample workloads, and the optional CNI plugins and whereabouts IPAM, validated by the same models as the Python program.",
        "keywords": ["kubernetes", "multus", "cni", "category/network", "kind/component"],
        "resources": resources,
        "types": builder.types,
        # Go: SampleWorkload's `attachments` is a list of resources, whose Go types (NetworkAttachmentArray)
        # exist only with container types.
        "language": {"python": {"respectSchemaVersion": True}, "nodejs": {"respectSchemaVersion": True},
                     "go": {"respectSchemaVersion": True, "generateResourceContainerTypes": True}},
    }
