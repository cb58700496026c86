"""JupyterLab for real: run the circuit-explorer chapter in a live JupyterLab in headless
Chromium, move an input slider of each explorer, and read the displayed ⟨Z⟩ values.

With the angle loader they change; with the paper's loader (H then RX) they must not.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from qvit_lib.config import REPO_ROOT

from .browser import free_port
from .test_browser import drag_first_input, page  # noqa: F401  (page: a fixture)

pytestmark = pytest.mark.browser

CHAPTER = "04_quantum_circuits.ipynb"


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with token auth and a temporary home; yields its URL and token."""
    home, root = tmp_path / "home", tmp_path / "notebooks"
    home.mkdir()
    root.mkdir()
    shutil.copy(REPO_ROOT / "book" / CHAPTER, root / CHAPTER)  # a copy: autosave must not touch the book
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / ".ipython"),
        "QVIT_QUICK": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _explorer(tab, loader: str):
    return tab.locator(f".qvit-explorer[data-loader='{loader}']").first


def _nudge_first_input(tab, explorer) -> tuple[str, str]:
    """Drag slider x0 with the mouse, as a reader would; return its displayed value before and after."""
    readout = explorer.locator(".qx-readout").first
    before = readout.inner_text()
    drag_first_input(tab, explorer)
    tab.wait_for_function("([el, old]) => el.innerText !== old", arg=[readout.element_handle(), before], timeout=10_000)
    return before, readout.inner_text()


def test_sliders_move_the_expectations_only_for_the_angle_loader(page, jupyterlab):  # noqa: F811
    url, token = jupyterlab
    page.set_default_timeout(60_000)
    page.goto(f"{url}/lab/tree/{CHAPTER}?token={token}")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
        "window.jupyterapp.shell.currentWidget.sessionContext",
        timeout=120_000,
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'", timeout=120_000
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector("table.qvit-expvals", timeout=300_000)
    page.wait_for_function("() => document.querySelectorAll('table.qvit-expvals').length >= 2", timeout=300_000)

    angle = _explorer(page, "angle")
    angle.scroll_into_view_if_needed()
    readout = angle.locator("table.qvit-expvals")
    shown = readout.inner_text()
    moved = _nudge_first_input(page, angle)
    assert moved[0] != moved[1]
    page.wait_for_function("([el, old]) => el.innerText !== old", arg=[readout.element_handle(), shown], timeout=20_000)
    assert readout.inner_text() != shown  # angle encoding: the input changes ⟨Z⟩

    paper = _explorer(page, "hadamard")
    paper.scroll_into_view_if_needed()
    readout = paper.locator("table.qvit-expvals")
    shown = readout.inner_text()
    moved = _nudge_first_input(page, paper)
    assert moved[0] != moved[1]  # the slider did move ...
    time.sleep(1)  # ... and the page recomputed (it does at once: the front end simulates the circuit)
    assert readout.inner_text() == shown  # the paper's loader: ⟨Z⟩ does not depend on the input
