"""The stack-file reader: libyaml reads, PyYAML's pure-Python parser words every refusal."""

import datetime

import pytest
import yaml

from components.core import data

pytestmark = pytest.mark.skipif(data._FastLoader is None, reason="PyYAML built without libyaml")

DOCUMENTS = [
    "config:\n  multus-cni:networks:\n    - name: net-a\n      config: {cniVersion: 0.3.1, type: macvlan}\n",
    "base: &b {type: macvlan, mode: bridge}\nnets:\n  - <<: *b\n    master: eth1\n  - *b\n",
    "when: 2024-01-01\nat: 2024-01-01T10:00:00Z\nn: [1, -2, 0x1f, 1.5, .inf, ~, yes, 'no']\n",
    "text: |\n  {\n    \"cniVersion\": \"0.3.0\"\n  }\nfolded: >-\n  a\n  b\nuni: \"caf\\u00e9 \\U0001F600\"\n",
    "",
    "just text\n",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_libyaml_reads_the_same_data_as_the_reference(text):
    fast = data._load_yaml(text, yaml.CSafeLoader, data._FastLoader)
    reference = data._load_yaml(text, yaml.SafeLoader, data._Loader)
    assert fast == reference
    assert repr(fast) == repr(reference)  # the same types too (dates, floats, None)


def test_valid_text_is_read_by_libyaml(monkeypatch):
    class Unused(data._Loader):
        def __init__(self, *args):
            raise AssertionError("the pure-Python loader read valid text")

    monkeypatch.setattr(data, "_Loader", Unused)
    assert data.load_yaml("at: 2024-01-01\n") == {"at": datetime.date(2024, 1, 1)}


@pytest.mark.parametrize("text, reference_words, libyaml_words", [
    ("config:\n  multus-cni:networks: [\n", "expected the node content", "did not find expected node content"),
    ("a: b: c\n", "mapping values are not allowed here", "mapping values are not allowed in this context"),
])
def test_refusals_are_worded_by_the_reference_parser(text, reference_words, libyaml_words):
    with pytest.raises(yaml.YAMLError) as by_libyaml:
        yaml.load(text, Loader=yaml.CSafeLoader)
    assert libyaml_words in str(by_libyaml.value)  # libyaml words it otherwise...
    with pytest.raises(data.YamlSyntaxError) as refused:
        data.load_yaml(text)
    assert reference_words in str(refused.value) and libyaml_words not in str(refused.value)  # ...but is not heard


def test_a_key_twice_is_refused_at_its_position_either_way():
    text = "config:\n  multus-cni:multus: {mode: manifest, mode: tanzu-package}\n"
    with pytest.raises(data.DataError, match="line 2 column 39: the key 'mode' appears twice"):
        data._load_yaml(text, yaml.CSafeLoader, data._FastLoader)
    with pytest.raises(data.DataError, match="line 2 column 39: the key 'mode' appears twice"):
        data.load_yaml(text)
