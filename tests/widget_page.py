"""A page that shows widgets from their saved state, as the built book does, for browser tests.

It loads the same vendored scripts in the same order as the book (``_config.yml``), so a
widget that works here works in the static HTML: require.js, ``qvit-widgets.js``, and the
ipywidgets HTML manager, with no kernel behind it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from qvit_lib.core.config import REPO_ROOT

SCRIPTS = ("vendor/requirejs-2.3.7/require.js", "qvit-widgets.js", "vendor/html-manager-1.0.11/embed-amd.js")


def write_widget_page(widgets: list, directory: Path) -> Path:
    """``directory/index.html`` showing ``widgets``, with the book's static files beside it."""
    from ipywidgets.embed import embed_data

    shutil.copytree(REPO_ROOT / "book" / "_static", directory / "_static", dirs_exist_ok=True)
    data = embed_data(views=widgets, drop_defaults=False)  # as a kernel saves it in a notebook
    views = "\n".join(
        f'<div class="cell"><script type="application/vnd.jupyter.widget-view+json">{json.dumps(view)}</script></div>'
        for view in data["view_specs"]
    )
    scripts = "\n".join(f'<script src="_static/{name}"></script>' for name in SCRIPTS)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>widgets</title>
{scripts}
<script type="application/vnd.jupyter.widget-state+json">{json.dumps(data["manager_state"])}</script>
</head><body style="width: 690px">
{views}
</body></html>"""
    path = directory / "index.html"
    path.write_text(page)
    return path
