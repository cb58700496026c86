"""The library reference appendix: docstrings as the reader meets them in the chapters.

* Each public name's entry ends with the chapter that introduces it, as d2l does: the
  first chapter (in reading order) whose code imports or uses the name; for a name the
  chapters never call, the first chapter that uses its module. The lookup reads the
  chapters' code cells with ``ast``, so a renamed function or a chapter that stops using
  it moves the note.
* The docstrings write bras and kets (|ψ⟩, ⟨x|) and absolute values (|x|);
  reStructuredText would read ``|…|`` as a substitution, so a bar outside a literal is
  escaped.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from sphinx.application import Sphinx

BOOK = Path(__file__).resolve().parent.parent
LITERAL = re.compile(r"(``.*?``)")


def escape_bars(line: str) -> str:
    """``line`` with every ``|`` outside a double-backquoted literal escaped."""
    parts = LITERAL.split(line)
    return "".join(p if i % 2 else p.replace("|", r"\|") for i, p in enumerate(parts))


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    sources = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
    ]
    return [
        "\n".join(
            line for line in s.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for s, c in zip(sources, cells)
        if c["cell_type"] == "code"
    ]


def _import(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def chapter_uses(book: Path = BOOK) -> tuple[dict[int, str], dict[str, str]]:
    """(id of each library object → first chapter using it, module → first chapter)."""
    objects: dict[int, str] = {}
    modules: dict[str, str] = {}

    def note(obj: Any, docname: str) -> None:
        if isinstance(obj, ModuleType):
            modules.setdefault(obj.__name__, docname)
        elif obj is not None:
            objects.setdefault(id(obj), docname)
            home = getattr(obj, "__module__", None)
            if isinstance(home, str) and home.startswith("qvit_lib"):
                modules.setdefault(home, docname)

    for notebook in sorted(book.glob("[0-9][0-9]_*.ipynb")):
        docname = f"book/{notebook.stem}"
        aliases: dict[str, ModuleType] = {}
        for source in _code_cells(notebook):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "qvit_lib"
                ):
                    module = _import(node.module)
                    note(module, docname)
                    for alias in node.names:
                        obj = getattr(module, alias.name, None) or _import(
                            f"{node.module}.{alias.name}"
                        )
                        if isinstance(obj, ModuleType):
                            aliases[alias.asname or alias.name] = obj
                        note(obj, docname)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.startswith("qvit_lib") and (
                            module := _import(alias.name)
                        ):
                            aliases[alias.asname or alias.name] = module
                            note(module, docname)
                elif isinstance(node, ast.Attribute) and isinstance(
                    node.value, ast.Name
                ):
                    if node.value.id in aliases:
                        note(getattr(aliases[node.value.id], node.attr, None), docname)
    return objects, modules


def _title(docname: str) -> str:
    number = Path(docname).name.split("_")[0]
    return f"chapter {int(number)}" if number.isdigit() else "the appendix"


def introducing_chapter(
    name: str, obj: Any, uses: tuple[dict[int, str], dict[str, str]]
) -> tuple[str, bool] | None:
    """(docname, True): the chapter using ``obj``; (docname, False): its module's."""
    objects, modules = uses
    if id(obj) in objects:
        return objects[id(obj)], True
    module = name.rpartition(".")[0]
    while module:
        if module in modules:
            return modules[module], False
        module = module.rpartition(".")[0]
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    uses: list[tuple[dict[int, str], dict[str, str]]] = []

    def process(
        app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
    ) -> None:
        lines[:] = [escape_bars(line) for line in lines]
        parent = _import(name.rpartition(".")[0])
        if what not in ("function", "class", "exception", "data") or parent is None:
            return  # methods and attributes belong to their class's entry
        if not uses:
            uses.append(chapter_uses())
        found = introducing_chapter(name, obj, uses[0])
        if found is None:
            lines += [
                "",
                "Used by the command line: "
                ":doc:`the appendix on reproducing the runs </book/reproducing>`.",
            ]
            return
        docname, direct = found
        ref = f":doc:`{_title(docname)} </{docname}>`"
        lines += [
            "",
            f"Introduced in {ref}."
            if direct
            else f"Its module is introduced in {ref}.",
        ]

    app.connect("autodoc-process-docstring", process)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
