"""Numbers in the book's prose come from the computation: glued with MyST-NB, never typed.

The scan reads every page's prose (markdown cells of the chapters, the appendices' text),
leaves out what is not prose (code, math, glue roles, links, headings' section numbers), and
reports each number with three or more significant figures that is not on the allow-list
below. A computed number belongs in a ``glue()`` call and a ``{glue:text}`` role instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qvit_lib.core import paper

BOOK = Path(__file__).resolve().parent.parent / "book"


def _paper_figures() -> set[str]:
    """The paper's own figures, which the prose may quote as the paper's (qvit_lib.core.paper)."""
    figures = {f"{m:g}" for row in paper.TABLE1.values() for m in row}
    figures |= {f"{m:.3f}" for row in paper.TABLE1.values() for m in row}
    counts = [*paper.PARAMETERS.values(), 4545]  # 4545: the misprint in Table 1's last row, quoted as such
    figures |= {str(c) for c in counts} | {f"{c // 1000} {c % 1000:03d}" for c in counts}
    return figures


ALLOWED = _paper_figures() | {
    "512",  # the paper's batch size (§5)
    "498 000",  # the paper's number of events (§3)
}
YEAR = re.compile(r"(19|20)\d\d")  # years, in citations and dates

NUMBER = re.compile(r"(?<![\w.,])[−-]?\d{1,3}(?:[  ]\d{3})*(?:\d+)?(?:\.\d+)?(?![\w])")
NOT_PROSE = [
    re.compile(r"```.*?```", re.S),  # code and directive blocks
    re.compile(r":::.*?:::", re.S),
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: glue, doc, cite, numref
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"<[^>\n]+>"),  # HTML tags
    re.compile(r"^#+ [\d.]+", re.M),  # a heading's section number
]


def significant_figures(number: str) -> int:
    digits = re.sub(r"[^\d.]", "", number)
    if "." in digits:
        return len(digits.replace(".", "").lstrip("0"))
    return len(digits.strip("0"))


def prose(path: Path) -> list[str]:
    """The page's text blocks: a notebook's markdown cells, or a markdown file."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return [path.read_text()]


def typed_numbers(text: str) -> list[str]:
    """Numbers of three or more significant figures in ``text``'s prose, not on the allow-list."""
    for pattern in NOT_PROSE:
        text = pattern.sub(" ", text)
    found = []
    for match in NUMBER.finditer(text):
        number = match.group().lstrip("−-").replace(" ", " ")
        if significant_figures(number) >= 3 and number not in ALLOWED and not YEAR.fullmatch(number):
            found.append(number)
    return found


PAGES = sorted([*BOOK.glob("*.ipynb"), *BOOK.glob("*.md")])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_typed_numbers_in_the_prose(page):
    typed = [n for block in prose(page) for n in typed_numbers(block)]
    assert not typed, f"{page.name}: typed numbers {typed}; glue them from the computation"


def test_the_scan_finds_a_planted_number():
    planted = "The hybrid model reaches an AUC of 0.781 after 40 epochs (paper: 0.779)."
    assert typed_numbers(planted) == ["0.781"]
    assert typed_numbers("An AUC of {glue:text}`auc:.3f` in $d = 4$ qubits, `run(512)`, in 2024.") == []
    assert typed_numbers("## 10.4 Shots") == []


GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`((?:[^`:]+::)?[^`:]+)(?::[^`]*)?`")  # page.ipynb::key: another page's
GLUE_CALL = re.compile(r"glue\(\s*f?[\"']([^\"']+)[\"']")


def unglued_roles(code: str, blocks: list[str]) -> list[str]:
    """The keys of glue roles in ``blocks`` that no ``glue()`` call in ``code`` makes."""
    # a key glued in a loop, glue(f"{name}_auc", …), matches every key of that shape
    glued = [re.compile(re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(k)) + "$") for k in GLUE_CALL.findall(code)]
    used = {key for block in blocks for key in GLUE_ROLE.findall(block) if "::" not in key}
    return sorted(key for key in used if not any(p.match(key) for p in glued))


@pytest.mark.parametrize("page", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.name)
def test_every_glue_role_has_its_glue_call(page):
    """A ``{glue:text}`key`` role on a page names a key that a code cell of that page glues."""
    cells = json.loads(page.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    missing = unglued_roles(code, prose(page))
    assert not missing, f"{page.name}: glue roles without a glue() call: {missing}"


def test_the_glue_check_finds_a_role_without_its_call():
    code = 'glue("auc", 0.8, display=False)\nfor k in ks:\n    glue(f"{k}_sd", 0.1, display=False)'
    assert unglued_roles(code, ["{glue:text}`auc:.3f` ± {glue:text}`hybrid_sd:.3f`"]) == []
    assert unglued_roles(code, ["{glue:text}`bce:.3f`"]) == ["bce"]
    assert unglued_roles(code, ["{glue:text}`01_dataset.ipynb::gap:.3f`"]) == []  # glued on that page
