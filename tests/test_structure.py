"""The library's shape: imports point one way, with no cycle at module or function level."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qvit_lib"

# The library's layers, one per subpackage; a module may import its own layer and those below.
# core ← data, analysis, quantum ← models ← training ← runs ← display ← cli. A new subpackage
# must be given its place here.
LAYERS = {
    "core": 0,
    "data": 1,
    "analysis": 1,
    "quantum": 1,
    "models": 2,
    "training": 3,
    "runs": 4,
    "display": 5,
    "cli": 6,
    "__main__": 7,
    "__init__": 0,
}


def layer(module: str) -> int:
    """The layer of a module: that of its top-level subpackage."""
    return LAYERS[module.split(".")[0]]


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
    unplaced = {m for m in import_graph() if m.split(".")[0] not in LAYERS}
    assert not unplaced, unplaced


def test_no_module_lives_outside_a_subpackage():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "cli.py"], flat


def test_there_is_no_import_cycle():
    assert _cycle(import_graph()) is None, " → ".join(_cycle(import_graph()) or [])


def test_imports_point_down_the_layers():
    wrong = [(a, b) for a, targets in import_graph().items() for b in targets if layer(b) > layer(a)]
    assert not wrong, wrong


def test_the_layer_check_can_fail():
    assert layer("runs.experiments") > layer("models.vit")
    assert layer("core.errors") < layer("data.dataset") == layer("quantum.exact.pauli")


def test_the_cycle_check_can_fail():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    "module, expected",
    [
        ("runs.experiments", "training.classifier"),
        ("data.dataset", "core.errors"),
        ("runs.bench", "models.vit"),
        ("quantum.qnodes", "quantum.exact"),
    ],
)
def test_the_graph_sees_function_level_imports(module, expected):
    assert expected in import_graph()[module]


def private_imports() -> list[tuple[str, str, str]]:
    """(module, imported module, name) for every ``from qvit_lib.x import _name`` across modules."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qvit_lib"):
                found += [(_module_name(path), node.module, a.name) for a in node.names if a.name.startswith("_")]
    return [f for f in found if f[2] not in ("__version__",)]


def test_no_module_imports_another_modules_private_names():
    assert not private_imports(), private_imports()


def _only_a_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return len(body) == 1 and isinstance(body[0], ast.Expr)


def test_every_module_declares_its_public_names():
    missing = [
        _module_name(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("__main__.py",)
        and not (path.name == "__init__.py" and _only_a_docstring(path))
        and "__all__"
        not in {
            t.id
            for n in ast.parse(path.read_text()).body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
    ]
    assert not missing, missing


def _source_lines(pattern: str, root: Path = PACKAGE) -> list[str]:
    """``module:line`` of every library line (Python or JavaScript) that contains ``pattern``."""
    found = []
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.js")]):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern in line:
                found.append(f"{path.relative_to(root)}:{number}")
    return found


def test_each_circuit_is_written_once():
    """The gate lists live in quantum/circuits.py: PennyLane's gates are named once (the table
    the QNodes apply), and no other module or the explorer's JavaScript writes a CNOT ring."""
    table = _source_lines("_OPERATIONS = {")
    assert len(table) == 1 and table[0].startswith("quantum/qnodes.py")
    for gate in ("qml.RX", "qml.RY", "qml.CNOT", "qml.Hadamard"):
        assert _source_lines(gate) == table, gate
    rings = _source_lines("(q + 1) %")
    assert len(rings) == 1 and rings[0].startswith("quantum/circuits.py"), rings


def test_the_circuit_check_can_fail(tmp_path):
    """Planted failure: a second CNOT ring in another module is found."""
    (tmp_path / "ring.py").write_text("RING = [(q, (q + 1) % 4) for q in range(4)]\n")
    assert _source_lines("(q + 1) %", tmp_path) == ["ring.py:1"]


def unexplained_lazy_imports(root: Path = PACKAGE) -> list[str]:
    """``module:line`` of each import inside a function without a ``# lazy:`` reason on the line above."""
    found = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom) and not lines[node.lineno - 2].strip().startswith(
                    "# lazy:"
                ):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_imports_sit_at_the_top_unless_a_reason_is_given():
    """Imports inside functions only for heavy libraries a module does not otherwise load, each with its reason."""
    assert not unexplained_lazy_imports(), unexplained_lazy_imports()


def test_the_lazy_import_check_can_fail(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n    import json\n    # lazy: loads torch\n    import torch\n")
    assert unexplained_lazy_imports(tmp_path) == ["m.py:2"]


def test_a_configuration_needs_no_torch():
    """Reading and checking a variant (models.variants) and the command line's parser load no torch."""
    import subprocess
    import sys

    code = (
        "import sys; from qvit_lib.models import ViTConfig; import qvit_lib.cli; "
        "ViTConfig.from_variant('hybrid-angle-cmx-pe-qmlp-rk3'); print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
