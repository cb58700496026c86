"""Offline link check of the built book: every internal link and anchor resolves."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from qvit_lib.core.config import REPO_ROOT

HTML = REPO_ROOT / "_build" / "html"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name"):
            if values.get(key):
                self.ids.add(values[key])
        for key in ("href", "src"):
            if values.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(values[key])


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def broken_links(root: Path) -> list[str]:
    """Internal links (files and #anchors) of every page under ``root`` that do not resolve."""
    pages = {p: _parse(p) for p in root.rglob("*.html") if "_static" not in p.parts and "reports" not in p.parts}
    broken = []
    for page, parsed in pages.items():
        for link in parsed.links:
            url = urlparse(link)
            if url.scheme or url.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # external links are not followed offline (the browser tests forbid loading them)
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(root)}: {link} (no such file)")
                continue
            if url.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{page.relative_to(root)}: {link} (no anchor #{url.fragment})")
    return broken


def test_every_internal_link_and_anchor_resolves():
    if not (HTML / "book" / "intro.html").exists():
        if os.environ.get("CI"):
            pytest.fail(f"the book is not built ({HTML}); .ci/run builds it before the tests")
        pytest.skip("the book is not built; run `make book` first")
    assert broken_links(HTML) == []


def test_the_link_check_catches_a_missing_page_and_anchor(tmp_path):
    (tmp_path / "a.html").write_text(
        "<html><body><h1 id='top'>A</h1><a href='b.html'>b</a><a href='a.html#nowhere'>x</a><a "
        "href='#top'>t</a></body></html>"
    )
    assert broken_links(tmp_path) == ["a.html: b.html (no such file)", "a.html: a.html#nowhere (no anchor #nowhere)"]
