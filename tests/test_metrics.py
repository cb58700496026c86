"""Figures of merit beyond scikit-learn's: DeLong's paired test of two AUCs on the same events,
and the background rejection at a working point."""

from __future__ import annotations

import numpy as np
import pytest

from qvit_lib.core.errors import DataError


def _delong_by_definition(a, b, labels):
    """The O(n²) textbook form: structural components from every electron–photon pair."""
    out = []
    for s in (a, b):
        pos, neg = s[labels == 1], s[labels == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        out.append((psi.mean(), psi.mean(1), psi.mean(0)))
    (auc_a, v10a, v01a), (auc_b, v10b, v01b) = out
    s10, s01 = np.cov(np.stack([v10a, v10b])), np.cov(np.stack([v01a, v01b]))
    m, n = len(v10a), len(v01a)
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return auc_a - auc_b, np.sqrt(var)


def test_delong_equals_its_definition_and_the_bootstrap():
    from qvit_lib.analysis.metrics import delong_test, roc_auc

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 300)
    shared = rng.normal(size=600) + labels
    a = shared + 0.5 * rng.normal(size=600)
    b = np.round(shared + 0.8 * rng.normal(size=600), 1)  # ties too
    result = delong_test(a, b, labels)
    difference, error = _delong_by_definition(a, b, labels)
    assert result["difference"] == pytest.approx(difference, abs=1e-12)
    assert result["standard_error"] == pytest.approx(error, rel=1e-9)
    assert result["auc_a"] == pytest.approx(roc_auc(a, labels), abs=1e-12)
    boot = []
    for _ in range(300):
        i = np.concatenate([rng.choice(300, 300), 300 + rng.choice(300, 300)])  # resample within each class
        boot.append(roc_auc(a[i], labels[i]) - roc_auc(b[i], labels[i]))
    assert result["standard_error"] == pytest.approx(np.std(boot), rel=0.2)
    same = delong_test(a, a, labels)
    assert same["difference"] == 0 and same["p_value"] == 1.0
    assert delong_test(a, -a, labels)["p_value"] < 1e-10  # a real difference is found


def test_rejection_at_a_working_point_on_known_cases():
    """Gaussian scores, electrons N(1, 1) and photons N(0, 1): at ε_e = 0.5 the threshold is 1,
    so ε_γ = 1 − Φ(1) and the rejection is 1/0.1587 = 6.30; identical classes give 1/ε_e."""
    from scipy.stats import norm

    from qvit_lib.analysis.metrics import rejection_at

    rng = np.random.default_rng(0)
    n = 400_000
    labels = np.r_[np.ones(n), np.zeros(n)]
    scores = np.r_[rng.normal(1, 1, n), rng.normal(0, 1, n)]
    for efficiency in (0.5, 0.8):
        expected = 1 / norm.sf(norm.isf(efficiency) + 1)  # threshold t: P(N(1,1) > t) = ε_e
        assert rejection_at(scores, labels, efficiency) == pytest.approx(expected, rel=0.02)
    same = np.r_[rng.normal(0, 1, n), rng.normal(0, 1, n)]
    assert rejection_at(same, labels, 0.5) == pytest.approx(2.0, rel=0.02)
    assert rejection_at(np.r_[np.ones(10), np.zeros(10)], np.r_[np.ones(10), np.zeros(10)], 0.8) == float("inf")
    with pytest.raises(DataError, match="efficiency must be in"):
        rejection_at(scores, labels, 1.5)
