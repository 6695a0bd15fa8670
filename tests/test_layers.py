"""The packages' imports point one way: core <- cni <- config <- the components and commands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

COMPONENTS = ROOT / "components"
# What each package may import from the project (besides itself).
ALLOWED = {"core": set(), "cni": {"core"}}


def _project_imports(path: Path) -> set[str]:
    """The top-level `components` packages a module imports, resolving relative imports."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]  # e.g. ("components", "cni")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            parts = base + (node.module.split(".") if node.module else [])
            names = [parts + [alias.name] for alias in node.names] if len(parts) == 1 else [parts]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        else:
            continue
        found |= {n[1] for n in names if len(n) > 1 and n[0] == "components"}
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_cni_and_core_never_import_the_config_layer_above_them(package):
    wrong = {str(path.relative_to(ROOT)): sorted(_project_imports(path) - ALLOWED[package] - {package})
             for path in sorted((COMPONENTS / package).glob("*.py"))}
    assert {module: imports for module, imports in wrong.items() if imports} == {}


# What a Pulumi program imports never pulls in the tools, the provider's glue or the build toolchain.
OUTSIDE = {"multus_cni_cli", "provider", "toolchain", "langhost", "language_host", "nodejs_host", "kube_replaces"}


def _top_level_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found


def test_the_library_never_imports_the_tools_the_provider_or_the_toolchain():
    wrong = {str(path.relative_to(ROOT)): sorted(_top_level_imports(path) & OUTSIDE)
             for path in sorted(COMPONENTS.rglob("*.py"))}
    assert {module: imports for module, imports in wrong.items() if imports} == {}


def test_the_check_sees_an_import_of_the_tools(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from multus_cni_cli.render import as_yaml\n    import provider.schema\n")
    assert _top_level_imports(module) & OUTSIDE == {"multus_cni_cli", "provider"}


def test_the_library_holds_no_command_line_module():
    """`python -m components` is gone: the tools are `multus-cni` (multus_cni_cli)."""
    assert not (COMPONENTS / "__main__.py").exists()
