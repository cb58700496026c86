"""The rendered book in a real browser: every page loads offline, without JavaScript errors,
failed requests or broken images; math and widgets render. Screenshots go to
``_build/screenshots``. Needs the built book (``make book``) and Debian's ``chromium``."""

from __future__ import annotations

import os

import pytest
import yaml

from qvit_lib.config import REPO_ROOT

from .browser import CHROMIUM_ARGS, check_page, find_chromium, serve

pytestmark = pytest.mark.browser

HTML = REPO_ROOT / "_build" / "html"
SCREENSHOTS = REPO_ROOT / "_build" / "screenshots"
IN_CI = bool(os.environ.get("CI"))


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for part in [toc] for entry in part.get("chapters", [])]
    return [f"{f}.html" for f in files] + ["genindex.html", "search.html"]


PAGES = _toc_pages()
MATH_PAGES = {"book/02_self_attention.html", "book/04_quantum_circuits.html", "book/06_training.html"}


def _unavailable(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (CI must have it: .ci/run installs chromium and builds the book first)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    chromium = find_chromium()
    if chromium is None:
        _unavailable("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site():
    if not (HTML / "book" / "intro.html").exists():
        _unavailable(f"the book is not built ({HTML}); run `make book` first")
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
    if path.startswith("book/0"):
        assert report.images > 0, f"{path}: a chapter without a single figure"
        notebook = path.removeprefix("book/").replace(".html", ".ipynb")
        launch = page.locator(f"a[href$='lab/tree/book/{notebook}']")
        assert launch.count() >= 1, f"{path}: no button that opens the chapter in JupyterLab"


def test_circuit_explorer_widgets_render_with_sliders(page, site):
    report = check_page(page, f"{site}/book/04_quantum_circuits.html")
    # two explorers, each with 4 input sliders and 13 angle sliders
    assert report.sliders == 2 * (4 + 13), report
    readouts = page.locator("table.qvit-expvals")
    assert readouts.count() == 2 and "⟨Z" in readouts.first.inner_text()
    explorer = page.locator(".widget-vbox", has_text="angle data loader").first
    explorer.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    explorer.screenshot(path=str(SCREENSHOTS / "circuit_explorer_widget.png"))


def test_the_checker_catches_a_planted_js_error_missing_image_and_cdn_script(page, tmp_path):
    (tmp_path / "planted.html").write_text(
        "<!doctype html><html><head><link rel='icon' href='data:,'>"
        "<script src='https://cdn.example.org/library.js'></script></head><body><p>planted</p>"
        "<img src='missing.png' alt='missing'><p>| a | b |\n|---|---|\n| 1 | 2 |</p>"
        "<script>throw new Error('planted failure')</script></body></html>"
    )
    with serve(tmp_path) as url:
        report = check_page(page, f"{url}/planted.html")
    problems = "\n".join(report.problems)
    assert "planted failure" in problems
    assert "image does not load: missing.png" in problems
    assert "404" in problems and "missing.png" in problems
    assert "request leaves the machine: https://cdn.example.org/library.js" in problems
    assert "1 Markdown table(s) shown as plain text" in problems


def test_a_clean_page_passes_the_checker(page, tmp_path):
    (tmp_path / "clean.html").write_text(
        "<!doctype html><html><head><link rel='icon' href='data:,'></head><body><p>fine</p></body></html>"
    )
    with serve(tmp_path) as url:
        assert check_page(page, f"{url}/clean.html").problems == []
