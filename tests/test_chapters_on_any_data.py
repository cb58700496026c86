"""Every chapter runs on data that is not our simulation (``QVIT_DATA``), in quick mode.

The directory holds CMS-layout files under the real files' names, made by a different
shower model (:mod:`tests.foreign_data`) and without simulator attributes: a chapter that
passes here checks only what holds for any data, and its simulation-only claims are
skipped, as the chapters say.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .foreign_data import write_foreign_cms_directory

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(p.name for p in BOOK.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def foreign_dir(tmp_path_factory) -> Path:
    return write_foreign_cms_directory(tmp_path_factory.mktemp("foreign-cms"), n_per_class=3000)


@pytest.mark.notebook
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_on_foreign_cms_layout_data(chapter, foreign_dir):
    env = {**os.environ, "QVIT_DATA": str(foreign_dir), "QVIT_QUICK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider", str(BOOK / chapter)],
        capture_output=True,
        text=True,
        env=env,
        cwd=BOOK.parent,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:]
