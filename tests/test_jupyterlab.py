"""JupyterLab for real: run the circuit-explorer chapters in a live JupyterLab in headless
Chromium, move sliders as a reader would, and read what the explorers display.

Chapter 4: with the angle loader ⟨Z⟩ changes; with the paper's loader (H then RX) it must not.
Chapter 10: the shots slider resamples, with smaller errors for more shots.
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

from qvit_lib.core.config import REPO_ROOT

from .browser import free_port
from .test_browser import chapter_10_explorer, drag_first_input, drag_slider, page, shown_estimates  # noqa: F401

pytestmark = pytest.mark.browser

CHAPTER = "04_quantum_circuits.ipynb"
SHOTS_CHAPTER = "10_quantum_hardware.ipynb"


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with token auth and a temporary home; yields its URL and token."""
    home, root = tmp_path / "home", tmp_path / "notebooks"
    home.mkdir()
    root.mkdir()
    for chapter in (CHAPTER, SHOTS_CHAPTER):  # copies: autosave must not touch the book
        shutil.copy(REPO_ROOT / "book" / chapter, root / chapter)
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


def _run_all(tab, url: str, token: str, chapter: str) -> None:
    """Open a chapter in JupyterLab, wait for its kernel, and run every cell."""
    tab.set_default_timeout(60_000)
    tab.goto(f"{url}/lab/tree/{chapter}?token={token}")
    tab.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
        "window.jupyterapp.shell.currentWidget.sessionContext",
        timeout=120_000,
    )
    tab.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'", timeout=120_000
    )
    tab.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def test_sliders_move_the_expectations_only_for_the_angle_loader(page, jupyterlab):  # noqa: F811
    url, token = jupyterlab
    _run_all(page, url, token, CHAPTER)
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


def test_the_shots_slider_resamples_in_jupyterlab(page, jupyterlab):  # noqa: F811
    from qvit_lib.display.widgets import SHOT_CHOICES

    url, token = jupyterlab
    _run_all(page, url, token, SHOTS_CHAPTER)
    page.wait_for_selector(".qvit-explorer .qx-estimate", timeout=300_000)
    explorer, shots = chapter_10_explorer(page)
    before = shown_estimates(explorer)
    assert len(before) == 8  # four value outputs, each with its error
    drag_slider(page, shots, 0.0)  # to the left end: exact expectations, no estimates
    page.wait_for_function("e => e.querySelectorAll('.qx-estimate').length === 0", arg=explorer.element_handle())
    drag_slider(page, shots, 0.9)
    page.wait_for_function("e => e.querySelectorAll('.qx-estimate').length === 4", arg=explorer.element_handle())
    stop = SHOT_CHOICES[int(shots.input_value())]
    after = shown_estimates(explorer)
    assert stop >= 10_000 and after != before
    means = after[0::2]
    assert after[1::2] == pytest.approx([((1 - m * m) / stop) ** 0.5 for m in means], abs=1e-9)
