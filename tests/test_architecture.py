"""The import rule of docs/architecture.md, checked: no cycle, and every import goes down.

Each module of the package is given its layer (the table below is the one in
docs/architecture.md); a module may import modules of its own layer or lower ones,
never higher. Imports inside functions count too (a lazy import is still a
dependency), except in the package's ``__init__``, which is the lazy facade over
everything. Subpackages count as one unit: ``rules.parse`` importing
``rules.model`` is inside ``rules``.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import networkx as nx
import pytest

import deficit_engine

PACKAGE = Path(deficit_engine.__file__).resolve().parent

# layer -> the units in it; a unit is a top-level module or subpackage of deficit_engine
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "choices", "labels", "months", "_yaml", "folding", "suggest", "gcpause"),
    ("schema", "ontology", "rollups"),
    ("rules", "models"),
    ("catalogue", "period"),
    ("kb",),
    ("loader", "profile", "profile_plain", "compiler"),
    ("inference", "resolve", "route"),
    ("planner", "tracking"),
    ("workers", "engine", "analysis"),
    (
        "export",
        "synthetic",
        "cohort",
        "spravka",
        "tables",
        "outputs",
        "parts",
        "progressbar",
        "summary_types",
        "store",
    ),
    ("testing", "cli", "cli_progress", "cli_store", "cli_kb", "__main__", "cli_serve", "service"),
)
LAYER_OF = {unit: n for n, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    return module.split(".", 1)[0]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_module(path: Path) -> bool:
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports (relative or absolute)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and node.module.startswith("deficit_engine"):
                target = node.module.removeprefix("deficit_engine").lstrip(".")
            else:
                continue
            if target:
                found.add(target)
            else:  # "from . import x": x is a module of the package, or a name of its facade
                found.update(alias.name for alias in node.names if _is_module(PACKAGE / alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("deficit_engine."):
                    found.add(alias.name.removeprefix("deficit_engine."))
    return found


@functools.cache
def _unit_graph() -> nx.DiGraph:
    graph: nx.DiGraph = nx.DiGraph()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        if not name:  # the package's own __init__: the lazy facade
            continue
        graph.add_node(_unit(name))
        for target in _imports(path):
            if _unit(target) != _unit(name):
                graph.add_edge(_unit(name), _unit(target), where=str(path.relative_to(PACKAGE)))
    return graph


def test_every_unit_has_a_layer() -> None:
    missing = sorted(set(_unit_graph()) - set(LAYER_OF))
    assert not missing, f"give these a layer in docs/architecture.md and here: {missing}"


def test_no_import_cycle() -> None:
    cycles = list(nx.simple_cycles(_unit_graph()))
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("unit", sorted(LAYER_OF))
def test_imports_go_down(unit: str) -> None:
    graph = _unit_graph()
    if unit not in graph:
        pytest.skip(f"{unit} is not in the package")
    upward = [
        f"{data['where']} imports {target} (layer {LAYER_OF.get(target)})"
        for _, target, data in graph.out_edges(unit, data=True)
        if LAYER_OF.get(target, -1) > LAYER_OF[unit]
    ]
    assert not upward, f"{unit} (layer {LAYER_OF[unit]}) imports upward: {upward}"


def test_the_scan_sees_imports() -> None:
    # the checks above pass vacuously if the scan finds nothing: it must see known edges
    graph = _unit_graph()
    assert graph.has_edge("engine", "inference") and graph.has_edge("kb", "catalogue")
