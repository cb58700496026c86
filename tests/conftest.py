"""Shared fixtures: small simulated samples in both layouts, and a file writer."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from qvit_lib.core.config import CHECKPOINTS_ENV
from qvit_lib.data.simulation import write_dataset

from .browser import CHROMIUM_ARGS, find_chromium

# Each test process (and the chapters and commands it starts) keeps run checkpoints in a
# folder of its own: parallel workers (make test runs pytest -n) that train the same quick
# run never resume or delete each other's checkpoints, and a reader's own are never touched.
TEST_CHECKPOINTS = tempfile.mkdtemp(prefix="qvit-test-checkpoints-")
os.environ[CHECKPOINTS_ENV] = TEST_CHECKPOINTS
atexit.register(shutil.rmtree, TEST_CHECKPOINTS, True)


@pytest.fixture(scope="session")
def pair_dir(tmp_path_factory) -> Path:
    """A simulated photon/electron pair, 200 events per class."""
    out = tmp_path_factory.mktemp("pair")
    write_dataset(out, 400, seed=11)
    return out


@pytest.fixture(scope="session")
def mixed_file(tmp_path_factory) -> Path:
    """One mixed, shuffled simulated file, 200 events per class."""
    out = tmp_path_factory.mktemp("mixed") / "mixed.h5"
    write_dataset(out, 400, seed=11)
    return out


def write_h5(path: Path, **datasets: np.ndarray) -> Path:
    """Write arbitrary datasets to an HDF5 file (for bad-input cases)."""
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            f.create_dataset(name, data=value)
    return path


def valid_arrays(n: int = 20, label: float | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Small well-formed X, y: a peak at the centre, half photons and half electrons."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 32, 32, 2), np.float32)
    X[:, 16, 16, 0] = rng.uniform(0.5, 1.5, n)
    X[:, 16, 17, 0] = rng.uniform(0.0, 0.2, n)
    if label is None:
        y = (np.arange(n) % 2).astype(np.float32)
    else:
        y = np.full(n, label, np.float32)
    return X, y


IN_CI = bool(os.environ.get("CI"))


def unavailable(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (CI must have it: .ci/run installs chromium and builds the book first)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium, driven by Playwright (never a downloaded browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    chromium = find_chromium()
    if chromium is None:
        unavailable("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
