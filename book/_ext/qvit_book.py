"""Small Sphinx additions for the QViT book (a local extension, see _config.yml).

* Every script appears once per page: sphinx-thebe 0.3.1 under Sphinx 7.4 adds its
  configuration script twice, and the second copy is a JavaScript error
  ("Identifier 'THEBE_JS_URL' has already been declared").
* Every chapter written as a notebook gets a header button that opens it in a local
  JupyterLab (``qvit_jupyterlab_url``, default http://localhost:8888/lab/tree/), the way
  readers run the book: ``jupyter lab`` in the repository root.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx


def remove_duplicate_scripts(html: str) -> str:
    """Drop every ``<script>`` line of the page head that repeats an earlier one "
    "exactly."""
    head_end = html.find("</head>")
    if head_end < 0:
        return html
    seen: set[str] = set()
    kept = []
    for line in html[:head_end].splitlines(keepends=True):
        tag = line.strip()
        if tag.startswith("<script") and tag.endswith("</script>"):
            if tag in seen:
                continue
            seen.add(tag)
        kept.append(line)
    return "".join(kept) + html[head_end:]


def _deduplicate_scripts_in_output(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        cleaned = remove_duplicate_scripts(text)
        if cleaned != text:
            page.write_text(cleaned, encoding="utf-8")


def _add_jupyterlab_button(app: Sphinx, pagename: str, context: dict[str, Any]) -> None:
    source = (
        app.env.doc2path(pagename, base=False) if pagename in app.env.all_docs else None
    )
    if source is None or not str(source).endswith(".ipynb"):
        return
    url = (
        app.config.qvit_jupyterlab_url.rstrip("/")
        + "/"
        + str(source).replace("\\", "/")
    )
    context.setdefault("header_buttons", []).insert(
        0,
        {
            "type": "link",
            "url": url,
            "tooltip": "Open this chapter in JupyterLab (start `jupyter lab` in the "
            "repository first)",
            "icon": "fas fa-rocket",
            "label": "open-in-jupyterlab-button",
        },
    )


def _on_page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    _add_jupyterlab_button(app, pagename, context)


# The ipywidgets HTML manager (AMD build) resolves its icon fonts relative to the page,
# under these two paths, whatever its assets path says; serve the vendored fonts there.
_WIDGET_FONT_DIRS = ("@jupyter-widgets/html-manager/dist", "@jupyter-widgets")
_WIDGET_FONTS = "_static/vendor/html-manager-1.0.11"


def _copy_widget_fonts(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    fonts = [
        f
        for f in (out / _WIDGET_FONTS).iterdir()
        if f.suffix in (".woff", ".woff2", ".ttf")
    ]
    for page_dir in {p.parent for p in out.rglob("*.html")}:
        for sub in _WIDGET_FONT_DIRS:
            target = page_dir / sub
            target.mkdir(parents=True, exist_ok=True)
            for font in fonts:
                shutil.copyfile(font, target / font.name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value(
        "qvit_jupyterlab_url", "http://localhost:8888/lab/tree/", "html"
    )
    # After sphinx-book-theme has built its header buttons (priority 501), before
    # rendering.
    app.connect("html-page-context", _on_page_context, priority=900)
    # The duplicate scripts are added by extensions after the page context is final,
    # so they are removed from the written pages.
    app.connect("build-finished", _deduplicate_scripts_in_output)
    app.connect("build-finished", _copy_widget_fonts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
