"""The rendered book in a real browser: every page loads offline, without JavaScript errors,
failed requests or broken images; math and widgets render. Screenshots go to
``_build/screenshots``. Needs the built book (``make book``) and Debian's ``chromium``."""

from __future__ import annotations

import re

import pytest
import yaml

from qvit_lib.core.config import REPO_ROOT

from .browser import NOTES_FILE, check_page, serve
from .conftest import unavailable

pytestmark = pytest.mark.browser

HTML = REPO_ROOT / "_build" / "html"
SCREENSHOTS = REPO_ROOT / "_build" / "screenshots"


def _entries(entries: list[dict]) -> list[str]:
    """The files of toc entries and of their sections, in reading order."""
    return [f for e in entries for f in [e["file"], *_entries(e.get("sections", []))]]


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    parts = toc.get("parts", [toc])  # chapters grouped in parts, or one flat list
    files = [toc["root"]] + [f for part in parts for f in _entries(part.get("chapters", []))]
    assert len(files) > 10, "the table of contents lists too few pages"
    return [f"{f}.html" for f in files] + ["genindex.html", "search.html"]


PAGES = _toc_pages()
MATH_PAGES = {
    "book/02_self_attention.html",
    "book/04_quantum_circuits.html",
    "book/06_training.html",
    "book/09_design_space.html",
    "book/10_quantum_hardware.html",
}


@pytest.fixture(scope="module")
def site():
    if not (HTML / "book" / "intro.html").exists():
        unavailable(f"the book is not built ({HTML}); run `make book` first")
    with serve(HTML) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_offline_without_errors(page, site, path):
    report = check_page(
        page, f"{site}/{path}", screenshot=SCREENSHOTS / path.replace("/", "_").replace(".html", ".png")
    )
    assert report.problems == [], f"{path}: " + "; ".join(report.problems)
    if path in MATH_PAGES:
        assert report.math_elements > 0 and report.math_rendered == report.math_elements
    if re.match(r"book/\d\d_", path):
        assert report.images > 0, f"{path}: a chapter without a single figure"
        notebook = path.removeprefix("book/").replace(".html", ".ipynb")
        launch = page.locator(f"a[href$='lab/tree/book/{notebook}']")
        assert launch.count() >= 1, f"{path}: no button that opens the chapter in JupyterLab"


def drag_first_input(page, explorer) -> None:
    """Drag slider x0 by its thumb with the mouse, as a reader would."""
    slider = explorer.locator("input[type=range]").first
    box = slider.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()


def test_circuit_explorers_compute_in_the_built_page(page, site):
    """No kernel here: dragging x0 must change ⟨Z⟩ for angle encoding, and not for the paper's loader."""
    report = check_page(page, f"{site}/book/04_quantum_circuits.html")
    assert report.sliders == 2 * (4 + 13), report  # two explorers: 4 inputs and 13 angles each
    readouts = page.locator("table.qvit-expvals")
    assert readouts.count() == 2 and "⟨Z" in readouts.first.inner_text()
    for loader, responds in (("angle", True), ("hadamard", False)):
        explorer = page.locator(f".qvit-explorer[data-loader='{loader}']").first
        explorer.scroll_into_view_if_needed()
        value = explorer.locator(".qx-value").first
        slider_before = explorer.locator(".qx-readout").first.inner_text()
        before = value.get_attribute("data-value")
        drag_first_input(page, explorer)
        assert explorer.locator(".qx-readout").first.inner_text() != slider_before, "the slider did not move"
        after = value.get_attribute("data-value")
        assert (abs(float(after) - float(before)) > 1e-6) is responds, (loader, before, after)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".qvit-explorer[data-loader='angle']").first.screenshot(
        path=str(SCREENSHOTS / "circuit_explorer_widget.png")
    )


def drag_slider(page, slider, fraction: float) -> None:
    """Drag a range input's thumb to ``fraction`` of its track with the mouse."""
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * float(slider.input_value()) / float(slider.get_attribute("max")), y)
    page.mouse.down()
    page.mouse.move(box["x"] + fraction * box["width"], y, steps=8)
    page.mouse.up()


def shown_estimates(explorer) -> list[float]:
    """The explorer's ⟨Z⟩ estimates and their errors as shown: mean, error, mean, error, …"""
    return explorer.evaluate(
        "e => [...e.querySelectorAll('.qx-estimate')].flatMap(c => [+c.dataset.value, +c.dataset.error])"
    )


def chapter_10_explorer(page):
    explorer = page.locator(".qvit-explorer:has(.qx-shots)").first
    explorer.scroll_into_view_if_needed()
    return explorer, explorer.locator(".qx-shots input[type=range]")


def test_the_shots_slider_samples_in_the_built_chapter(page, site):
    """No kernel: chapter 10's saved explorer shows Python's sample, and dragging the shots slider resamples."""
    from qvit_lib.display.widgets import SHOT_CHOICES, CircuitExplorer

    check_page(page, f"{site}/book/10_quantum_hardware.html")
    explorer, shots = chapter_10_explorer(page)
    python = CircuitExplorer("angle", "value", seed=5, shots=100)  # the chapter's explorer, as its last cell left it
    assert SHOT_CHOICES[int(shots.input_value())] == 100
    assert shown_estimates(explorer) == pytest.approx([v for pair in python.estimates for v in pair], abs=1e-12)
    drag_slider(page, shots, 0.9)
    python.shots = SHOT_CHOICES[int(shots.input_value())]
    assert python.shots >= 10_000, "the slider did not move"
    shown = shown_estimates(explorer)
    assert shown == pytest.approx([v for pair in python.estimates for v in pair], abs=1e-12)
    assert max(shown[1::2]) < 0.011  # errors of at most 1/sqrt(S)


def test_a_dead_widget_would_be_caught(page, tmp_path):
    """Planted failure: an explorer whose page has no front end shows nothing to drag."""
    from qvit_lib.display.widgets import CircuitExplorer

    from .widget_page import write_widget_page

    write_widget_page([CircuitExplorer("angle", seed=1)], tmp_path)
    (tmp_path / "_static" / "vendor" / "anywidget-0.11.0" / "index.js").write_text("throw new Error('no front end')")
    with serve(tmp_path) as url:
        report = check_page(page, f"{url}/index.html")
    assert report.sliders == 0 and report.problems


def checked(page, folder, body: str, head: str = "", article: bool = False):
    """The checker's report on a page made of ``body`` (inside a 690 px book article if asked)."""
    if article:
        body = f"<article class='bd-article' style='width: 690px'>{body}</article>"
    (folder / "planted.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>{head}</head>"
        f"<body>{body}</body></html>"
    )
    with serve(folder) as url:
        return check_page(page, f"{url}/planted.html")


def test_the_checker_catches_a_planted_js_error_missing_image_and_cdn_script(page, tmp_path):
    report = checked(
        page,
        tmp_path,
        "<p>planted</p><img src='missing.png' alt='missing'><p>| a | b |\n|---|---|\n| 1 | 2 |</p>"
        "<script>throw new Error('planted failure')</script>",
        head="<script src='https://cdn.example.org/library.js'></script>",
    )
    problems = "\n".join(report.problems)
    assert "planted failure" in problems
    assert "image does not load: missing.png" in problems
    assert "404" in problems and "missing.png" in problems
    assert "request leaves the machine: https://cdn.example.org/library.js" in problems
    assert "1 Markdown table(s) shown as plain text" in problems


def test_the_checker_catches_overflow_shrunk_figures_and_notes(page, tmp_path):
    """Planted failures: a code line wider than the column, a figure drawn too wide, a note and a temp path."""
    from PIL import Image

    Image.new("RGB", (2000, 300), "white").save(tmp_path / "wide.png")
    Image.new("RGB", (600, 300), "white").save(tmp_path / "fits.png")
    long_line = "x = " + " + ".join(["value"] * 40)
    report = checked(
        page,
        tmp_path,
        f"<pre style='overflow-x: auto'>{long_line}</pre>"
        "<div class='cell_output'><img src='wide.png' style='max-width: 100%'></div>"
        "<div class='cell_output'><img src='fits.png' style='max-width: 100%'></div>"
        f"<p>see {NOTES_FILE} §3; written to /tmp/x</p>",
        article=True,
    )
    problems = "\n".join(report.problems)
    assert "wider than the column (cut off or scrolling): pre: x = value" in problems
    assert "wide.png (shown at 34%" in problems and "fits.png" not in problems
    assert f"page shows '{NOTES_FILE}'" in problems and "page shows '/tmp/'" in problems


def test_the_checker_catches_tall_blocks_visible_asserts_and_residue(page, tmp_path):
    """Planted failures: a 60-row table, an output block 2 000 px tall, a visible assert, a
    progress bar and a revision hash; a collapsed tall block and a hidden assert pass."""
    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(60))
    report = checked(
        page,
        tmp_path,
        f"<table style='line-height: 30px'>{rows}</table>"
        "<div class='cell_output' style='height: 2000px'>tall output</div>"
        "<details><summary>more</summary><div class='cell_output' style='height: 2000px'>hidden</div></details>"
        "<div class='cell_input'><pre>x = 1\nassert x == 1</pre></div>"
        "<div class='cell_input' style='display: none'><pre>assert hidden</pre></div>"
        "<pre>100%|██████████| 40/40 [00:01&lt;00:00]</pre>"
        f"<p>code {'ab12' * 10}</p>",
        article=True,
    )
    problems = "\n".join(report.problems)
    assert "taller than 1500 px and not collapsed: table of" in problems
    assert "cell_output" not in problems and "div of 2000 px: tall output" in problems and "hidden" not in problems
    assert "shows a check to the reader: assert x == 1" in problems and "assert hidden" not in problems
    from .browser import FORBIDDEN_TEXT

    assert set(report.forbidden_text) == {FORBIDDEN_TEXT[-1], FORBIDDEN_TEXT[-3]}  # the bar and the hash


def test_a_clean_page_passes_the_checker(page, tmp_path):
    assert checked(page, tmp_path, "<p>fine</p>").problems == []
