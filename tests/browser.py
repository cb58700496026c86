"""Helpers for the browser tests: a local web server and a page checker on headless Chromium.

Debian's ``chromium`` is driven through Playwright with ``executable_path``: no browser is
ever downloaded. Everything is served from 127.0.0.1; a request anywhere else is a failure
(the book must work offline).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
MIN_FONT_POINTS = 9.0  # qvit_lib.display.plots.MIN_FONT_POINTS: the smallest text a book figure is drawn with
MIN_TEXT_PIXELS = 9.0  # ... and the smallest it may be shown at
# Notes and paths that are not for readers: the team's background file (named in two parts,
# so that a search of the sources for it finds only pages that show it), temp paths, debug prints.
NOTES_FILE = "REFER" + "ENCE"
MAX_BLOCK_PIXELS = 1500  # a table or output taller than this must be collapsed
FORBIDDEN_TEXT = (
    NOTES_FILE,
    r"/tmp/",
    r"quick mode: (True|False)",
    # development-log residue: sessions, processors, revision hashes, missed targets, progress bars
    r"first session",
    r"same processor name",
    r"\b[0-9a-f]{40}\b",
    r"target \(missed\)",
    r"\d+%\|[█▏▎▍▌▋▊▉ ]*\|",
)
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """The system Chromium, or None."""
    explicit = os.environ.get("QVIT_CHROMIUM")
    if explicit:
        return explicit
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageReport:
    """What went wrong on one page, and what it holds."""

    url: str
    js_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    math_elements: int = 0
    math_rendered: int = 0
    sliders: int = 0
    widget_errors: int = 0
    raw_tables: int = 0
    overflowing: list[str] = field(default_factory=list)
    shrunk_figures: list[str] = field(default_factory=list)
    forbidden_text: list[str] = field(default_factory=list)
    tall_blocks: list[str] = field(default_factory=list)
    assert_lines: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = [f"JavaScript error: {e}" for e in self.js_errors]
        out += [f"failed request: {r}" for r in self.failed_requests]
        out += [f"request leaves the machine: {r}" for r in self.external_requests]
        out += [f"image does not load: {i}" for i in self.broken_images]
        if self.math_elements and self.math_rendered < self.math_elements:
            out.append(f"math not rendered: {self.math_rendered} of {self.math_elements} formulas")
        if self.raw_tables:
            out.append(f"{self.raw_tables} Markdown table(s) shown as plain text")
        if self.widget_errors:
            out.append(f"{self.widget_errors} widget(s) failed to render")
        out += [f"wider than the column (cut off or scrolling): {o}" for o in self.overflowing]
        out += [f"figure text rendered below {MIN_TEXT_PIXELS} px: {f}" for f in self.shrunk_figures]
        out += [f"page shows {t!r}" for t in self.forbidden_text]
        out += [f"taller than {MAX_BLOCK_PIXELS} px and not collapsed: {b}" for b in self.tall_blocks]
        out += [f"shows a check to the reader: {a}" for a in self.assert_lines]
        return out


_INSPECT = """() => {
  const images = [...document.images];
  const math = document.querySelectorAll('div.math, span.math');
  return {
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
    math: math.length,
    rendered: [...math].filter(m => m.querySelector('mjx-container')).length,
    sliders: document.querySelectorAll('.widget-slider, .qvit-explorer input[type=range]').length,
    widgetErrors: document.querySelectorAll('.jupyter-widgets-error-widget, .widget-error').length,
    rawTables: [...document.querySelectorAll('p')]
      .filter(p => p.innerText.trim().startsWith('|') && (p.innerText.includes('|---') || p.innerText.includes('|—')))
      .length,
    views: document.querySelectorAll("script[type='application/vnd.jupyter.widget-view+json']").length,
    rendered_views: document.querySelectorAll('.widget-subarea').length,
    // Content wider than its box: a code line or output cut off (or scrolling), a formula or a
    // table sticking out of the column.
    overflowing: [...document.querySelectorAll(
        ['pre', 'div.math', 'table', '.cell_output'].map(s => 'article.bd-article ' + s).join(', '))]
      .filter(e => e.scrollWidth > e.clientWidth + 2 || e.getBoundingClientRect().right >
                   document.querySelector('article.bd-article').getBoundingClientRect().right + 2)
      .map(e => e.tagName.toLowerCase() + ': ' + e.innerText.trim().split('\\n')[0].slice(0, 80)),
    // A figure shown smaller than it was drawn shrinks its text: the book's figures are drawn
    // with text of at least MIN_FONT_POINTS at 100 dpi.
    figures: [...document.querySelectorAll('article.bd-article .cell_output img, article.bd-article figure img')]
      .filter(i => i.naturalWidth > 0)
      .map(i => [i.getAttribute('src'), i.clientWidth / i.naturalWidth]),
    text: document.body.innerText,
    // A table or an output block the reader must scroll past: collapsed ones have no height.
    tall: [...document.querySelectorAll('article.bd-article table:not(.indextable), article.bd-article .cell_output')]
      .filter(e => e.getBoundingClientRect().height > MAX_BLOCK_PIXELS)
      .map(e => `${e.tagName.toLowerCase()} of ${Math.round(e.getBoundingClientRect().height)} px: ` +
                e.innerText.trim().split('\\n')[0].slice(0, 60)),
    // Checks belong in hidden cells: no visible code line starts with assert.
    asserts: [...document.querySelectorAll('article.bd-article .cell_input pre, article.bd-article div.highlight pre')]
      .filter(e => e.getBoundingClientRect().height > 0)
      .flatMap(e => e.innerText.split('\\n'))
      .filter(line => /^\\s*assert\\b/.test(line))
      .map(line => line.trim().slice(0, 80)),
  };
}""".replace("MAX_BLOCK_PIXELS", str(MAX_BLOCK_PIXELS))


def check_page(page, url: str, screenshot: Path | None = None) -> PageReport:
    """Load ``url`` in ``page`` and report JS errors, failed or external requests, images, math, widgets."""
    report = PageReport(url)
    origin = urlparse(url).netloc

    def on_console(message) -> None:
        if message.type == "error":
            report.js_errors.append(message.text)

    def route(route) -> None:  # nothing leaves the machine: record and refuse
        parsed = urlparse(route.request.url)
        if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != origin:
            report.external_requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def on_response(response) -> None:
        if response.status >= 400:
            report.failed_requests.append(f"{response.status} {response.url}")

    def on_failed(request) -> None:
        if urlparse(request.url).netloc == origin:  # external ones are refused on purpose
            report.failed_requests.append(f"{request.failure} {request.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: report.js_errors.append(str(error)))
    page.route("**/*", route)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    try:
        page.goto(url, wait_until="load")
        # MathJax typesets after load; wait until it says it is done (or is absent).
        page.wait_for_function(
            "() => !window.MathJax || !window.MathJax.startup || window.MathJax.startup.promise.then(() => true)",
            timeout=30_000,
        )
        page.evaluate("() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null")
        page.wait_for_load_state("networkidle")
        # Widgets render after the page loads: the manager puts one .widget-subarea per view.
        views = "document.querySelectorAll(\"script[type='application/vnd.jupyter.widget-view+json']\").length"
        try:
            page.wait_for_function(
                f"() => document.querySelectorAll('.widget-subarea').length >= {views}", timeout=30_000
            )
        except Exception:  # reported below as widgets that did not render
            pass
        try:  # an anywidget fills its subarea only once its front end has loaded: wait for that too
            empty = "() => document.querySelectorAll('.widget-subarea:empty').length === 0"
            page.wait_for_function(empty, timeout=15_000)
        except Exception:  # an empty view is reported below by what it lacks (sliders, readouts)
            pass
        found = page.evaluate(_INSPECT)
        report.widget_errors += max(0, found["views"] - found["rendered_views"])
        report.images, report.broken_images = found["images"], found["broken"]
        report.math_elements, report.math_rendered = found["math"], found["rendered"]
        report.sliders = found["sliders"]
        report.raw_tables = found["rawTables"]
        report.widget_errors += found["widgetErrors"]
        report.overflowing = found["overflowing"]
        smallest = MIN_FONT_POINTS * 100 / 72  # pixels, at the scale the figure was drawn
        report.shrunk_figures = [
            f"{src} (shown at {scale:.0%}, text {smallest * scale:.1f} px)"
            for src, scale in found["figures"]
            if smallest * scale < MIN_TEXT_PIXELS
        ]
        report.forbidden_text = [t for t in FORBIDDEN_TEXT if re.search(t, found["text"])]
        report.tall_blocks, report.assert_lines = found["tall"], found["asserts"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.unroute("**/*")
        for event, handler in (("console", on_console), ("response", on_response), ("requestfailed", on_failed)):
            page.remove_listener(event, handler)
    return report
