"""The generative checks (chapter 11) on known cases: a sample against itself, two independent
simulated samples (the floor), and samples that are wrong in a known way."""

from __future__ import annotations

import numpy as np
import pytest

from qvit_lib.analysis import shower_comparison as sc
from qvit_lib.data.simulation import ELECTRON, simulate


@pytest.fixture(scope="module")
def two_samples():
    """Two independent simulated samples of electrons, 600 each."""
    samples = []
    for seed in (1, 2):
        X, y = simulate(600, seed=seed)
        samples.append(X[y == ELECTRON][..., 0])
    return samples


def test_a_sample_against_itself_is_at_zero(two_samples):
    a, _ = two_samples
    result = sc.compare_showers(a, a)
    assert all(v["wasserstein"] == 0 and v["separation_power"] == 0 for v in result["shapes"].values())
    assert abs(result["frechet"]) < 1e-8 and result["mean_image"] == 0


def test_independent_samples_give_the_floor_and_a_distorted_one_more(two_samples):
    a, b = two_samples
    floor = sc.compare_showers(a, b)
    assert abs(floor["two_sample_auc"] - 0.5) < 0.08 and floor["frechet"] < 0.1
    assert all(v["separation_power"] < 0.05 for v in floor["shapes"].values())
    wide = np.roll(a, 1, axis=2) * 0.5 + a * 0.5  # every shower smeared by one crystal in φ, same energy
    worse = sc.compare_showers(wide, b)
    assert worse["shapes"]["phi_width"]["wasserstein"] > 5 * floor["shapes"]["phi_width"]["wasserstein"]
    assert worse["shapes"]["phi_width"]["separation_power"] > 0.2
    assert worse["two_sample_auc"] > 0.9 and worse["frechet"] > 10 * floor["frechet"]
    hot = sc.compare_showers(a * 1.2, b)  # 20 % too much energy
    assert hot["shapes"]["e_sum"]["wasserstein"] > 5 * floor["shapes"]["e_sum"]["wasserstein"]
    assert hot["mean_image"] > 0.15 > floor["mean_image"]


def test_separation_power_runs_from_zero_to_one():
    rng = np.random.default_rng(0)
    a = rng.normal(size=2000)
    assert sc.separation_power(a, a) == 0
    assert sc.separation_power(a, a + 100) == pytest.approx(1.0)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match=r"generated showers must be energy images \(N, 32, 32\)"):
        sc.compare_showers(np.zeros((5, 16, 16)), np.zeros((5, 32, 32)))
    with pytest.raises(ValueError, match="at least 20 showers of each kind"):
        sc.two_sample_auc(np.zeros((5, 32, 32)), np.zeros((50, 32, 32)))
