"""The library's shape: imports point one way, with no cycle at module or function level."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qvit_lib"

# Lower layers never import higher ones: models ← training ← experiments ← cli, with the
# benchmarks, plots and widgets on top. A new module must be given its place here.
LAYERS = {
    "errors": 0,
    "config": 0,
    "paper": 0,
    "provenance": 0,
    "data": 1,
    "ansatz": 1,
    "metrics": 1,
    "integrators": 1,
    "simulation": 2,
    "showers": 2,
    "shower_comparison": 2,
    "fused": 2,
    "fused.statevector": 2,
    "fused.fourier": 2,
    "fused.quadratic": 2,
    "fused.pauli": 2,
    "fused.noise": 2,
    "fused.chain": 2,
    "circuits": 3,
    "attention": 3,
    "feedforward": 3,
    "models": 4,
    "gan": 4,
    "training": 5,
    "gan_training": 5,
    "experiments": 6,
    "hardware": 6,
    "fastsim": 6,
    "scores": 6,
    "cli": 7,
    "bench": 7,
    "plots": 7,
    "widgets": 7,
    "__main__": 8,
    "__init__": 0,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every qvit_lib module and the qvit_lib modules it imports anywhere (module or function level)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
        if path.name == "__init__.py" and name == "__init__":
            package = []
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                    stem = ".".join([*base, *(node.module.split(".") if node.module else [])])
                elif node.module and node.module.startswith("qvit_lib"):
                    stem = node.module.removeprefix("qvit_lib").lstrip(".")
                else:
                    continue
                for alias in node.names:  # `from . import paper` imports the module paper
                    candidate = f"{stem}.{alias.name}".lstrip(".")
                    where = PACKAGE / candidate.replace(".", "/")
                    is_module = where.with_suffix(".py").exists() or (where / "__init__.py").exists()
                    targets.add(candidate if is_module else stem or "__init__")
            elif isinstance(node, ast.Import):
                targets.update(a.name.removeprefix("qvit_lib.") for a in node.names if a.name.startswith("qvit_lib."))
        graph[name] = {t for t in targets if t and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_has_a_layer():
    assert set(import_graph()) <= set(LAYERS), set(import_graph()) - set(LAYERS)


def test_there_is_no_import_cycle():
    assert _cycle(import_graph()) is None, " → ".join(_cycle(import_graph()) or [])


def test_imports_point_down_the_layers():
    wrong = [(a, b) for a, targets in import_graph().items() for b in targets if LAYERS[b] > LAYERS[a]]
    assert not wrong, wrong


def test_the_cycle_check_can_fail():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", ["experiments", "data", "bench", "circuits"])
def test_the_graph_sees_function_level_imports(module):
    graph = import_graph()
    expected = {"experiments": "training", "data": "errors", "bench": "models", "circuits": "fused"}[module]
    assert expected in graph[module]
