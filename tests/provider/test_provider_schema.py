"""The component package: its schema is derived from the config models, and its provider builds the
same components with the same validation (under Pulumi's mocks; the live suite runs it for real)."""

from __future__ import annotations

import json
import tomllib
import typing

import pytest
from pulumi.errors import InputPropertiesError

from components import cni_plugins, network_attachment, sample_workload, whereabouts
from components import multus as multus_module
from components.config import MultusConfig, NetworkConfig, WorkloadConfig
from components.config.addons import CniPluginsConfig, WhereaboutsConfig
from components.config.workload import NetworkSelection, PortMapping
from provider import version
from provider.component_provider import MultusCniProvider, whole_numbers
from provider.schema import package_schema
from conftest import DAEMONSET, MULTUS, NAD, POD, ROOT, children_of, only

SCHEMA = package_schema("9.9.9")
RESOURCES = SCHEMA["resources"]
TYPES = SCHEMA["types"]
MULTUS_T, NAD_T, WORKLOAD_T = "multus-cni:index:Multus", "multus-cni:index:NetworkAttachment", "multus-cni:index:SampleWorkload"
PLUGINS_T, WHEREABOUTS_T = "multus-cni:index:CniPlugins", "multus-cni:index:Whereabouts"
MODELS = {MULTUS_T: MultusConfig, NAD_T: NetworkConfig, WORKLOAD_T: WorkloadConfig,
          PLUGINS_T: CniPluginsConfig, WHEREABOUTS_T: WhereaboutsConfig}


def _ref(spec: dict) -> dict:
    """The type a `$ref` names."""
    return TYPES[spec["$ref"].removeprefix("#/types/")]


def test_the_resources_are_the_components_with_their_own_type_tokens():
    assert sorted(RESOURCES) == sorted([multus_module.TYPE, network_attachment.TYPE, sample_workload.TYPE,
                                        cni_plugins.TYPE, whereabouts.TYPE])
    assert all(r["isComponent"] for r in RESOURCES.values())
    assert SCHEMA["name"] == "multus-cni" and SCHEMA["version"] == "9.9.9"


@pytest.mark.parametrize("token, model", MODELS.items())
def test_every_model_field_is_an_input_required_exactly_when_the_model_requires_it(token, model):
    # `enabled` switches an optional part on in stack config; a package user creates the component.
    fields = {f.alias or name: f for name, f in model.model_fields.items() if name != "enabled"}
    inputs = RESOURCES[token]["inputProperties"]
    assert set(fields) <= set(inputs)
    assert RESOURCES[token].get("requiredInputs", []) == sorted(k for k, f in fields.items() if f.is_required())


def test_required_inputs_are_the_ones_a_user_must_write():
    assert "requiredInputs" not in RESOURCES[MULTUS_T]
    assert RESOURCES[NAD_T]["requiredInputs"] == ["config", "name"]
    assert RESOURCES[WORKLOAD_T]["requiredInputs"] == ["networks"]
    assert TYPES["multus-cni:index:NetworkSelection"]["required"] == ["name"]


def test_json_types_follow_the_annotations():
    nad = RESOURCES[NAD_T]["inputProperties"]
    workload = RESOURCES[WORKLOAD_T]["inputProperties"]
    assert nad["name"]["type"] == "string" and nad["raw"]["type"] == "boolean"
    assert nad["annotations"] == {**nad["annotations"], "type": "object", "additionalProperties": {"type": "string"}}
    assert nad["config"]["additionalProperties"] == {"$ref": "pulumi.json#/Any"}
    assert workload["replicas"]["type"] == "integer"
    assert workload["command"]["items"] == {"type": "string"}
    assert workload["networks"]["items"] == {"$ref": "#/types/multus-cni:index:NetworkSelection"}
    selection = TYPES["multus-cni:index:NetworkSelection"]["properties"]
    # The annotation's own keys (field aliases), not Python names.
    assert {"default-route", "cni-args", "portMappings"} <= set(selection)
    assert _ref(selection["portMappings"]["items"])["required"] == ["containerPort", "hostPort"]
    assert _ref(RESOURCES[MULTUS_T]["inputProperties"]["image"])["properties"]["tag"] == {"type": "string"}


def test_references_to_other_components_are_resource_refs():
    assert RESOURCES[NAD_T]["inputProperties"]["multus"]["$ref"] == f"#/resources/{MULTUS_T}"
    attachments = RESOURCES[WORKLOAD_T]["inputProperties"]["attachments"]
    assert attachments["type"] == "array" and attachments["items"] == {"$ref": f"#/resources/{NAD_T}"}


@pytest.mark.parametrize("token, field, enum", [
    (MULTUS_T, "mode", "multus-cni:index:MultusMode"),
    (MULTUS_T, "flavor", "multus-cni:index:MultusFlavor"),
    (WORKLOAD_T, "kind", "multus-cni:index:WorkloadKind"),
])
def test_literals_are_enums_with_the_models_values(token, field, enum):
    model = MODELS[token]
    assert RESOURCES[token]["inputProperties"][field]["$ref"] == f"#/types/{enum}"
    values = [v["value"] for v in TYPES[enum]["enum"]]
    assert values == list(typing.get_args(model.model_fields[field].annotation))


def test_enum_names_are_identifiers_for_every_language():
    names = {v["value"]: v["name"] for v in TYPES["multus-cni:index:MultusMode"]["enum"]}
    assert names == {"manifest": "Manifest", "tanzu-package": "TanzuPackage"}
    protocol = TYPES["multus-cni:index:PortMappingProtocol"]["enum"]
    assert [v["value"] for v in protocol] == list(typing.get_args(typing.get_args(PortMapping.model_fields["protocol"].annotation)[0]))
    assert len({v["name"] for v in protocol}) == len(protocol)


def test_outputs_are_documented_and_typed():
    outputs = {t: RESOURCES[t]["properties"] for t in RESOURCES}
    assert sorted(outputs[MULTUS_T]) == ["crdName", "daemonsetName", "namespace"]
    assert sorted(outputs[NAD_T]) == ["nadName", "nadNamespace"]
    assert RESOURCES[PLUGINS_T]["required"] == sorted(outputs[PLUGINS_T]) == ["daemonsetName", "namespace"]
    assert RESOURCES[WHEREABOUTS_T]["required"] == sorted(outputs[WHEREABOUTS_T]) == [
        "daemonsetName", "namespace", "serviceAccountName"]
    assert outputs[WORKLOAD_T]["networkStatus"]["$ref"] == "pulumi.json#/Any"
    assert RESOURCES[MULTUS_T]["required"] == ["crdName", "daemonsetName", "namespace"]
    assert "required" not in RESOURCES[WORKLOAD_T]  # null until Multus writes it
    assert all(spec["description"] for o in outputs.values() for spec in o.values())


def test_descriptions_come_from_the_models_and_defaults_are_described_not_sent():
    flavor = RESOURCES[MULTUS_T]["inputProperties"]["flavor"]
    assert flavor["description"].startswith(MultusConfig.model_fields["flavor"].description)
    assert flavor["description"].endswith('Default: `"thin"`.')
    assert RESOURCES[NAD_T]["inputProperties"]["config"]["description"] == NetworkConfig.model_fields["config"].description
    assert TYPES["multus-cni:index:NetworkSelection"]["description"] == NetworkSelection.__doc__
    # A sent default would count as set: MultusConfig derives the flavor from the tag only when unset.
    assert '"default"' not in json.dumps(SCHEMA)
    assert RESOURCES[MULTUS_T]["description"] == multus_module.__doc__.strip()


def test_the_version_is_pyprojects():
    assert version() == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert json.loads(MultusCniProvider(version()).schema)["version"] == version()


def test_the_served_schema_is_deterministic():
    assert MultusCniProvider("1.0.0").schema == MultusCniProvider("1.0.0").schema
    assert MultusCniProvider("1.0.0").schema == json.dumps(package_schema("1.0.0"), sort_keys=True, separators=(",", ":"))


def test_whole_numbers_come_back_as_ints():
    assert whole_numbers({"mtu": 1500.0, "ipam": {"ranges": [[{"x": 2.0}]]}, "rate": 1.5}) == {
        "mtu": 1500, "ipam": {"ranges": [[{"x": 2}]]}, "rate": 1.5}


MACVLAN = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0", "mode": "bridge", "mtu": 1500.0,
           "ipam": {"type": "host-local", "subnet": "192.168.1.0/24"}}


def test_construct_builds_the_components_the_program_builds(run_components):
    provider = MultusCniProvider("1.0.0")

    def program():
        multus = provider.construct("multus", MULTUS_T, {})
        provider.construct("macvlan-conf", NAD_T, {"name": "macvlan-conf", "config": MACVLAN, "multus": None})
        attachment = provider.references.construct("macvlan-conf", NAD_T, "urn:unused")
        provider.construct("sample-pod", WORKLOAD_T, {"networks": [{"name": "macvlan-conf"}], "attachments": [attachment],
                                                      "replicas": 1.0})
        assert set(multus.state) == {"namespace", "daemonsetName", "crdName"}

    run = run_components(program)
    multus = only(run, MULTUS)
    # Multus is protected whatever the caller's options say (multus-cni#461).
    children = children_of(run, multus.urn)
    assert children and all(child.protect for child in children)
    nad = only(run, NAD)
    assert json.loads(nad.inputs["spec"]["config"])["mtu"] == 1500
    assert '"mtu":1500,' in nad.inputs["spec"]["config"]  # an int, as Go's int field needs
    pod = only(run, POD)
    # The workload got the attachment itself (the reference rehydrated): it waits for its NAD.
    assert nad.urn in pod.dependencies


def test_a_bad_config_fails_construct_with_its_path_lines(run_components):
    provider = MultusCniProvider("1.0.0")
    with pytest.raises(InputPropertiesError) as caught:
        run_components(lambda: provider.construct("bad", NAD_T, {"name": "bad", "config": {**MACVLAN, "mode": "bridgee"}}))
    assert "NetworkAttachment bad.config.mode: must be 'bridge'" in caught.value.message
    assert caught.value.errors == []


def test_a_workload_refuses_attachments_it_cannot_check(run_components):
    provider = MultusCniProvider("1.0.0")
    stranger = provider.references.construct("elsewhere", NAD_T, "urn:pulumi:s::p::multus-cni:index:NetworkAttachment::elsewhere")
    with pytest.raises(InputPropertiesError) as caught:
        run_components(lambda: provider.construct("w", WORKLOAD_T, {"networks": [{"name": "n"}], "attachments": [stranger]}))
    assert "SampleWorkload w.attachments[0]: must be a NetworkAttachment created in this program" in caught.value.message


def _yaml_blocks(path) -> list[dict]:
    """A YAML file's document, or the ```yaml blocks of a Markdown one."""
    import yaml

    text = path.read_text()
    if path.suffix == ".yaml":
        return [yaml.safe_load(text)]
    return [yaml.safe_load(block.split("```", 1)[0]) for block in text.split("```yaml\n")[1:]]


@pytest.mark.parametrize("doc", ["docs/package.md", "examples/yaml-stack/Pulumi.yaml"])
def test_the_documented_yaml_examples_use_the_schema_and_pass_the_models(doc):
    programs = [b for b in _yaml_blocks(ROOT / doc) if isinstance(b, dict) and "resources" in b]
    assert programs
    for program in programs:
        for name, resource in program["resources"].items():
            token = resource["type"].replace("multus-cni:", "multus-cni:index:")
            spec = RESOURCES[token]
            properties = resource.get("properties", {})
            assert set(properties) <= set(spec["inputProperties"]), name
            assert set(spec.get("requiredInputs", [])) <= set(properties), name
            MODELS[token].model_validate({k: v for k, v in properties.items() if k not in ("multus", "attachments")})


def test_a_value_known_only_after_deployment_is_refused_by_its_path(run_components):
    import pulumi

    provider = MultusCniProvider("1.0.0")
    late = {**MACVLAN, "master": pulumi.Output.from_input("eth0")}
    with pytest.raises(InputPropertiesError) as caught:
        run_components(lambda: provider.construct("late", NAD_T, {"name": "late", "config": late}))
    assert caught.value.message.splitlines()[1:] == [
        "  NetworkAttachment late.config.master: must be a value known before deployment, not another resource's output"]


def test_go_gets_the_container_types_a_list_of_components_needs():
    lists_of_resources = [name for r in RESOURCES.values() for name, spec in r["inputProperties"].items()
                          if spec.get("items", {}).get("$ref", "").startswith("#/resources/")]
    assert lists_of_resources == ["attachments"]
    assert SCHEMA["language"]["go"]["generateResourceContainerTypes"] is True


def test_the_optional_parts_need_no_input_and_have_no_enabled_switch():
    for token in (PLUGINS_T, WHEREABOUTS_T):
        assert "requiredInputs" not in RESOURCES[token]
        assert "enabled" not in RESOURCES[token]["inputProperties"]
    assert RESOURCES[PLUGINS_T]["inputProperties"]["plugins"]["items"] == {"type": "string"}
    assert RESOURCES[WHEREABOUTS_T]["description"] == whereabouts.__doc__.strip()


def test_construct_builds_the_optional_parts_the_program_builds(run_components):
    provider = MultusCniProvider("1.0.0")

    def program():
        plugins = provider.construct("cni-plugins", PLUGINS_T, {"plugins": ["macvlan", "host-local"]})
        ipam = provider.construct("whereabouts", WHEREABOUTS_T, {"namespace": "ipam"})
        assert set(plugins.state) == {"namespace", "daemonsetName"}
        assert set(ipam.state) == {"namespace", "daemonsetName", "serviceAccountName"}

    run = run_components(program)
    daemonsets = {d.name: d for d in run.monitor.by_type(DAEMONSET)}
    assert set(daemonsets) == {"cni-plugins-daemonset", "whereabouts-daemonset"}
    copier = daemonsets["cni-plugins-daemonset"].inputs["spec"]["template"]["spec"]["initContainers"][0]
    assert copier["command"][-2:] == ["macvlan", "host-local"]  # the plugins given, not the defaults
    assert daemonsets["whereabouts-daemonset"].inputs["metadata"]["namespace"] == "ipam"
    component = only(run, WHEREABOUTS_T)
    crds = [c for c in children_of(run, component.urn) if c.type.endswith("CustomResourceDefinition")]
    assert len(crds) == 3 and all(c.request.retainOnDelete for c in crds)  # the IPPools outlive it
    assert not any(r.protect for r in run.monitor.registrations)  # neither is protected, unlike Multus


@pytest.mark.parametrize("token, inputs, line", [
    (WHEREABOUTS_T, {"reconcilerSchedule": "@daily"}, "Whereabouts w.reconcilerSchedule: '@daily' is not a five-field cron"),
    (PLUGINS_T, {"plugins": ["macvlan", "macvlan"]}, "CniPlugins w.plugins[1]: 'macvlan' is listed twice"),
    (PLUGINS_T, {"enabled": False}, "CniPlugins w.enabled: is stack config only: creating the component is what enables it"),
])
def test_a_bad_optional_part_fails_construct_with_its_path_lines(run_components, token, inputs, line):
    provider = MultusCniProvider("1.0.0")
    with pytest.raises(InputPropertiesError) as caught:
        run_components(lambda: provider.construct("w", token, inputs))
    assert line in caught.value.message
