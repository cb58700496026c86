"""How hard the simulated task is, measured on the committed default sample.

The figures are what the book reports (chapter 1): a logistic regression on three
shower shapes and gradient-boosted trees on the central crystals. The second is the one
to compare with the real data (AUC ≈ 0.8 for CNNs on the CMS files).
"""

from __future__ import annotations

import pytest

from qvit_lib.core.config import DEFAULT_DATA_DIR
from qvit_lib.data import EcalDataset
from qvit_lib.data.shapes import pixel_separability_auc, separability_auc


@pytest.fixture(scope="module")
def sample():
    with EcalDataset(DEFAULT_DATA_DIR) as ds:
        return ds.load("train", 16_000, normalise=False)


def test_shower_shape_logistic_regression(sample):
    energy, labels = sample
    assert 0.60 <= separability_auc(energy, labels) <= 0.70


def test_pixel_trees_match_the_real_data_difficulty(sample):
    energy, labels = sample
    assert 0.75 <= pixel_separability_auc(energy, labels) <= 0.85
