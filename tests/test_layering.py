"""The packages depend on each other one way: cli → flows → labeling → sources → contracts → storage.

Every import counts, including type-only imports and imports inside functions: a back edge hidden in a
function still couples a lower layer to a higher one. Within the code, no module imports itself
through others either, so no import cycle is kept alive by import order.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("cli", "flows", "labeling", "sources", "contracts", "storage")  # each may import those after it


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports anywhere in it, resolved to the most specific module named."""
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import submodule` names the submodule; `from module import name`, the module.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    found.discard(_module_name(path))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def test_every_layer_exists() -> None:
    assert all((ROOT / layer / "__init__.py").is_file() for layer in LAYERS)


def test_no_layer_imports_a_higher_one(graph: dict[str, set[str]]) -> None:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    back = sorted(
        f"{module} → {target}"
        for module, targets in graph.items()
        for target in targets
        if rank[target.split(".")[0]] < rank[module.split(".")[0]]
    )
    assert back == []


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' → '.join(exc.args[1])}")


def test_no_module_shadows_a_package() -> None:
    """Prefect loads a deployment's flow by file path with its folder on ``sys.path``: a module there
    named like a top-level package (``flows/labeling.py``) would be imported in that package's place."""
    clashes = sorted(
        str(path.relative_to(ROOT))
        for layer in LAYERS
        for path in (ROOT / layer).glob("*.py")
        if path.stem in LAYERS
    )
    assert clashes == []
