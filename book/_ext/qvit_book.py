"""Small Sphinx additions for the QViT book (a local extension, loaded from _config.yml).

* Every script appears once per page: sphinx-thebe 0.3.1 under Sphinx 7.4 adds its
  configuration script twice, and the second copy is a JavaScript error
  ("Identifier 'THEBE_JS_URL' has already been declared").
* Every chapter written as a notebook gets a header button that opens it in a local
  JupyterLab (``qvit_jupyterlab_url``, default http://localhost:8888/lab/tree/), the way
  readers run the book: ``jupyter lab`` in the repository root.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _deduplicate_scripts(context: dict[str, Any]) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)), tuple(sorted(getattr(script, "attributes", {}).items())))  # not the priority
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _add_jupyterlab_button(app: Sphinx, pagename: str, context: dict[str, Any]) -> None:
    source = app.env.doc2path(pagename, base=False) if pagename in app.env.all_docs else None
    if source is None or not str(source).endswith(".ipynb"):
        return
    url = app.config.qvit_jupyterlab_url.rstrip("/") + "/" + str(source).replace("\\", "/")
    context.setdefault("header_buttons", []).insert(
        0,
        {
            "type": "link",
            "url": url,
            "tooltip": "Open this chapter in JupyterLab (start `jupyter lab` in the repository first)",
            "icon": "fas fa-rocket",
            "label": "open-in-jupyterlab-button",
        },
    )


def _on_page_context(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    _deduplicate_scripts(context)
    _add_jupyterlab_button(app, pagename, context)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("qvit_jupyterlab_url", "http://localhost:8888/lab/tree/", "html")
    # After sphinx-book-theme has built its header buttons (priority 501), before rendering.
    app.connect("html-page-context", _on_page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
