"""Where conformance looks for the plugin binaries when CNI_PATH is unset."""

from __future__ import annotations

import pytest

from multus_cni_cli.conformance import plugins
from multus_cni_cli.conformance.node import EnvironmentProblem


@pytest.fixture
def defaults(tmp_path, monkeypatch):
    """A node's directory and Debian's, in that order, as DEFAULT_PLUGIN_DIRS has them."""
    node, debian = tmp_path / "opt-cni-bin", tmp_path / "usr-lib-cni"
    monkeypatch.setattr(plugins, "DEFAULT_PLUGIN_DIRS", (node, debian))
    monkeypatch.delenv("CNI_PATH", raising=False)
    return node, debian


def plugin_in(directory):
    directory.mkdir(exist_ok=True)
    binary = directory / "macvlan"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)


def test_a_node_directory_with_plugins_comes_first(defaults):
    node, debian = defaults
    plugin_in(node)
    plugin_in(debian)
    assert plugins.find_plugin_dirs() == (node,)


def test_an_empty_node_directory_does_not_hide_debians_plugins(defaults):
    node, debian = defaults
    node.mkdir()  # what a real node's mount point leaves on the machine while it runs
    plugin_in(debian)
    assert plugins.find_plugin_dirs() == (debian,)


def test_empty_directories_only_are_reported_as_empty(defaults):
    node, _ = defaults
    node.mkdir()
    assert plugins.find_plugin_dirs() == (node,)
    with pytest.raises(EnvironmentProblem, match="holds no plugin binaries"):
        plugins.require_binaries(plugins.find_plugin_dirs())


def test_no_directory_at_all_says_what_to_install(defaults):
    with pytest.raises(EnvironmentProblem, match="apt-get install containernetworking-plugins"):
        plugins.find_plugin_dirs()
