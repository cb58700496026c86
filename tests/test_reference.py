"""The library reference appendix: every module on one page, and the chapter notes it adds."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import qvit_reference  # noqa: E402


def documented_modules() -> list[str]:
    pages = sorted((ROOT / "book" / "reference").glob("*.md"))
    return [m for page in pages for m in re.findall(r"\.\. automodule:: (\S+)", page.read_text())]


def library_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "qvit_lib").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__" or parts == ("qvit_lib", "__init__"):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_is_on_one_reference_page():
    documented = documented_modules()
    assert len(documented) == len(set(documented)), "a module documented twice"
    assert sorted(documented) == sorted(library_modules())


def test_every_reference_page_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for page in sorted((ROOT / "book" / "reference").glob("*.md")):
        assert f"book/reference/{page.stem}" in toc


def test_bars_are_escaped_outside_literals():
    assert qvit_reference.escape_bars("|ψ⟩ and ``a|b``") == r"\|ψ⟩ and ``a|b``"


def test_the_chapter_of_a_name_is_the_first_that_uses_it():
    uses = qvit_reference.chapter_uses()
    from qvit_lib.models import variants
    from qvit_lib.quantum import circuits, qnodes

    assert qvit_reference.introducing_chapter("x.make_qnode", qnodes.make_qnode, uses) == (
        "book/04_quantum_circuits",
        True,
    )
    assert qvit_reference.introducing_chapter("x.ViTConfig", variants.ViTConfig, uses)[0] == "book/03_classical_vit"
    # a name no chapter calls gets its module's chapter
    found = qvit_reference.introducing_chapter(
        "qvit_lib.quantum.circuits.entangler_ring", circuits.entangler_ring, uses
    )
    assert found == ("book/04_quantum_circuits", False)


def test_public_names_have_docstrings():
    """A reference entry without a docstring would be an empty line: every public function and class has one."""
    missing = []
    for name in library_modules():
        module = importlib.import_module(name)
        for public in getattr(module, "__all__", []):
            obj = getattr(module, public)
            if callable(obj) and getattr(obj, "__module__", "") == name and not (obj.__doc__ or "").strip():
                missing.append(f"{name}.{public}")
    assert not missing, missing
