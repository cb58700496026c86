"""The figures published on the CMS files: each cites a bibliography entry, and the rows chapter 1 reads exist."""

from __future__ import annotations

import re

import pytest

from qvit_lib.core.config import REPO_ROOT
from qvit_lib.core.published import CMS_FIGURES, figures_for


def test_every_figure_cites_an_entry_of_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (REPO_ROOT / "book" / "references.bib").read_text(), re.M))
    assert {f.source for f in CMS_FIGURES} <= keys
    assert all(0.5 < f.auc < 1 and f.where and f.setup for f in CMS_FIGURES)


def test_the_rows_of_chapter_one_and_a_clear_error_for_others():
    assert [f.auc for f in figures_for("ResNet-15, time channel")] == [0.6665]
    assert len(figures_for("ResNet-15, energy channel")) == 1
    with pytest.raises(KeyError, match="no published figure for 'ResNet-50'; rows: "):
        figures_for("ResNet-50")
