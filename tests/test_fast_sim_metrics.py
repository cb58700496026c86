"""The fast-simulation metrics (FPD, KPD, classifier test, bootstrap intervals) on cases whose answer is known:
identical distributions, shifted Gaussians, closed forms, jetnet's own unit cases, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from qvit_lib.analysis import fast_sim_metrics as fsm
from qvit_lib.analysis.shower_comparison import SHAPES, THRESHOLD, separation_power, shape_table
from qvit_lib.core.errors import ConfigError, DataError
from qvit_lib.data.simulation import ELECTRON, simulate

FPD_SIZES = {"min_samples": 200, "max_samples": 2000}


def gaussians(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent samples of the standard normal in d dimensions."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d))


# --- Fréchet physics distance ---------------------------------------------------------------------------------


def test_fpd_of_identical_distributions_is_zero_within_its_error():
    a, b = gaussians(20_000, 3, seed=1)
    value, error = fsm.frechet_physics_distance(a, b, **FPD_SIZES)
    assert 0 <= value < 0.01 and value <= 3 * error + 1e-3
    assert 0 < error < 0.01


@pytest.mark.parametrize("shift", [0.5, 1.0])
def test_fpd_of_shifted_1d_gaussians_is_the_shift_squared(shift):
    a, b = gaussians(20_000, 1, seed=2)
    value, error = fsm.frechet_physics_distance(a, b + shift, **FPD_SIZES)
    assert value == pytest.approx(shift**2, abs=0.03 + 3 * error)


def test_fpd_matches_the_closed_form_for_different_covariances():
    # lazy: loads SciPy's matrix square root, an implementation independent of the module's
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(3)
    cov_1 = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 1.0]])
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    cov_2 = rotation @ np.diag([2.0, 0.5, 1.0]) @ rotation.T  # does not commute with cov_1
    mu_2 = np.array([0.5, 0.0, -0.5])
    expected = mu_2 @ mu_2 + np.trace(cov_1 + cov_2 - 2 * np.real(sqrtm(cov_1 @ cov_2)))
    a = rng.multivariate_normal(np.zeros(3), cov_1, 20_000)
    b = rng.multivariate_normal(mu_2, cov_2, 20_000)
    value, error = fsm.frechet_physics_distance(a, b, **FPD_SIZES)
    assert value == pytest.approx(expected, rel=0.05, abs=3 * error)
    assert fsm.gaussian_frechet_distance(a, b) == pytest.approx(expected, rel=0.05)


def test_the_extrapolation_removes_the_finite_sample_bias():
    a, b = gaussians(20_000, 3, seed=4)
    value, error = fsm.frechet_physics_distance(a, b, **FPD_SIZES)
    rng = np.random.default_rng(0)
    raw = np.mean([fsm.gaussian_frechet_distance(a[rng.choice(20_000, 200)], b[rng.choice(20_000, 200)])
                   for _ in range(20)])  # fmt: skip
    assert raw > 0.03 and raw > 5 * value and raw - value > 5 * error


def test_the_extrapolation_is_the_bounded_fit_jetnet_makes():
    """jetnet fits the line with scipy's curve_fit, intercept and slope bounded below by 0."""
    # lazy: loads SciPy's optimiser, what jetnet uses
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(5)
    inverse_n = np.linspace(1 / 200, 1 / 2000, 8)
    cases = [0.05 + 3 * inverse_n, -0.01 + 3 * inverse_n, 0.5 - 10 * inverse_n]  # free, pinned at 0, flat
    for clean in cases:
        values = clean + rng.normal(0, 1e-3, len(inverse_n))
        params, cov = curve_fit(lambda x, c, s: c + s * x, inverse_n, values, bounds=([0, 0], [np.inf, np.inf]))
        value, error = fsm._extrapolate(inverse_n, values)
        assert value == pytest.approx(params[0], abs=1e-6)
        assert error == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-3)


def test_fpd_and_kpd_reproduce_jetnets_unit_cases():
    """jetnet's tests: twos against zeros, scaled by the reference's maximum, give FPD 2 and (degree 4) KPD 15."""
    twos, zeros = np.full((100, 2), 2.0), np.zeros((100, 2))
    ones, zeros_scaled = fsm.standardise(twos, zeros, method="max")
    assert fsm.frechet_physics_distance(ones, zeros_scaled, min_samples=20, max_samples=50) == pytest.approx((2, 0))
    assert fsm.frechet_physics_distance(twos, zeros, min_samples=20, max_samples=50) == pytest.approx((8, 0))
    assert fsm.kernel_physics_distance(ones, zeros_scaled, batch_size=50, degree=4) == pytest.approx((15, 0))
    assert fsm.kernel_physics_distance(twos, zeros, batch_size=50, degree=4) == pytest.approx((624, 0))
    assert fsm.kernel_physics_distance(twos, zeros, batch_size=50) == pytest.approx((624, 0))  # degree 4 by default
    assert fsm.kernel_physics_distance(twos, zeros, batch_size=50, degree=3) == pytest.approx((124, 0))  # 5³ + 1 − 2


def test_standardise_uses_the_references_statistics():
    rng = np.random.default_rng(6)
    reference, other = rng.normal(3, 2, size=(500, 2)), rng.normal(3, 2, size=(50, 2))
    scaled_ref, scaled_other = fsm.standardise(reference, other)
    assert np.allclose(scaled_ref.mean(0), 0) and np.allclose(scaled_ref.std(0), 1)
    assert np.allclose(scaled_other, (other - reference.mean(0)) / reference.std(0))
    constant = fsm.standardise(np.ones((10, 1)))[0]
    assert np.all(constant == 0)  # a constant feature keeps scale 1 instead of dividing by 0


# --- kernel physics distance ----------------------------------------------------------------------------------


def test_kpd_of_identical_distributions_is_zero_within_its_error():
    a, b = gaussians(5000, 3, seed=7)
    value, error = fsm.kernel_physics_distance(a, b, batch_size=500, replace=False)
    assert abs(value) < error < 0.05


def test_kpd_is_positive_and_grows_with_the_shift():
    a, b = gaussians(5000, 3, seed=8)
    results = [fsm.kernel_physics_distance(a, b + shift, batch_size=500, replace=False) for shift in (0.1, 0.3, 0.6)]
    values = [value for value, _ in results]
    assert values[0] < values[1] < values[2]
    assert all(value > 3 * error for value, error in results[1:])


def test_kpd_reports_the_median_and_half_the_central_68_percent_range(monkeypatch):
    """jetnet's summary of the batch values: median, and half the 16.275–83.725 percentile range."""
    batch_values = iter([0.0, 1.0, 2.0, 3.0, 100.0])
    monkeypatch.setattr(fsm, "polynomial_mmd2", lambda x, y, degree: next(batch_values))
    value, error = fsm.kernel_physics_distance(np.zeros((30, 2)), np.zeros((30, 2)), num_batches=5, batch_size=10)
    assert value == 2.0  # the mean would be 21.2
    assert error == pytest.approx((3 + 0.349 * 97 - 0.651) / 2)  # percentiles interpolated at 4 × 0.16275, 4 × 0.83725


def _naive_mmd2(x: np.ndarray, y: np.ndarray, degree: int, unbiased: bool) -> float:
    """MMD² from the full kernel matrices: the U-statistic (diagonals left out) or the plug-in V-statistic."""
    d = x.shape[1]
    kxx, kyy, kxy = ((p @ q.T / d + 1) ** degree for p, q in ((x, x), (y, y), (x, y)))
    m, n = len(x), len(y)
    if unbiased:
        return (
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
        )
    return kxx.mean() + kyy.mean() - 2 * kxy.mean()


def test_the_mmd_estimator_is_unbiased_and_the_plug_in_is_not():
    rng = np.random.default_rng(9)
    for d in (4, 20):  # by tensor powers (4³, 4⁴ ≤ _TENSOR_LIMIT) and by Gram matrices (20³ > _TENSOR_LIMIT)
        x, y = rng.normal(size=(30, d)), rng.normal(1, 1, size=(40, d))
        assert fsm.polynomial_mmd2(x, y, degree=3) == pytest.approx(_naive_mmd2(x, y, 3, unbiased=True), rel=1e-9)
        assert fsm.polynomial_mmd2(x, y) == pytest.approx(_naive_mmd2(x, y, 4, unbiased=True), rel=1e-9)
    unbiased, plug_in = [], []
    for _ in range(300):  # fresh samples of one distribution each time
        x, y = rng.normal(size=(60, 2)), rng.normal(size=(60, 2))
        unbiased.append(fsm.polynomial_mmd2(x, y))
        plug_in.append(_naive_mmd2(x, y, 4, unbiased=False))
    standard_error = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * standard_error
    assert np.mean(plug_in) > 10 * standard_error


# --- classifier test ------------------------------------------------------------------------------------------


def test_the_classifier_finds_a_planted_difference_and_stops_early():
    a, b = gaussians(800, 8, seed=200)
    b[:, 0] += 3.0  # best possible AUC Φ(3/√2) = 0.983, Jensen–Shannon divergence 0.760 bits
    result = fsm.classifier_test(a, b)
    assert 0.95 < result["auc"] and result["auc"] == pytest.approx(0.983, abs=0.03)
    low, high = result["auc_interval"]
    assert low < result["auc"] < high and high - low < 0.03
    assert 0.4 < result["jsd"] < 0.76 + 0.05  # a real classifier's calibrated BCE bounds it from below
    assert result["epochs"] < result["max_epochs"] == 200  # early stopping ended it
    assert 0.85 < result["validation_accuracy"] <= 1
    assert result["events"] == {"real": 800, "generated": 800, "per_class_used": 800, "train": 1120, "test": 480}


def test_the_classifier_cannot_separate_identical_distributions():
    a, b = gaussians(800, 8, seed=100)
    result = fsm.classifier_test(a, b)
    low, high = result["auc_interval"]
    half = (high - low) / 2
    assert abs(result["auc"] - 0.5) < 0.05
    assert low - half <= 0.5 <= high + half  # covers 0.5, or misses it by less than its half-width
    assert result["jsd"] < 0.05


def test_the_classifier_balances_unequal_samples_and_caps_epochs():
    rng = np.random.default_rng(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning: the cap is the point here
        result = fsm.classifier_test(rng.normal(size=(300, 3)), rng.normal(size=(200, 3)), max_epochs=3)
    assert result["epochs"] == 3
    assert result["events"]["per_class_used"] == 200 and result["events"]["train"] + result["events"]["test"] == 400


# --- features and separation powers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def showers():
    """Two independent simulated samples of electron energy images, 400 each."""
    samples = []
    for seed in (1, 2):
        X, y = simulate(400, seed=seed)
        samples.append(X[y == ELECTRON][..., 0].astype(np.float64))
    return samples


def test_features_of_energy_images():
    energy = np.zeros((3, 32, 32))
    energy[:, 16, 16] = [0.0, THRESHOLD, 1.0]
    energy[:, 0, 0] = 5.0  # outside every window
    energy[0, 17, 16] = -1.0  # negative energy counts as 0
    low = fsm.low_level_features(energy)
    assert low.shape == (3, 121)
    assert low[:, 60] == pytest.approx(np.log1p(np.array([0.0, 1.0, 1.0 / THRESHOLD])))
    assert np.count_nonzero(low) == 2 and fsm.low_level_features(energy, window=3).shape == (3, 9)
    high = fsm.high_level_features(energy)
    table = shape_table(energy)
    assert high.shape == (3, len(SHAPES))
    assert all(np.array_equal(high[:, i], table[name]) for i, name in enumerate(SHAPES))


def test_separation_power_intervals_shrink_with_events_and_tell_a_difference_from_the_floor(showers):
    a, b = showers
    floor = fsm.separation_powers(a, b, n_bootstrap=100)
    hot = fsm.separation_powers(a * 1.2, b, n_bootstrap=100)  # 20 % too much energy
    few = fsm.separation_powers(a[:100] * 1.2, b[:100], n_bootstrap=100)
    assert set(hot) == set(SHAPES)
    for name in SHAPES:
        low, high = hot[name]["interval"]
        assert low < high and (high - low) < (few[name]["interval"][1] - few[name]["interval"][0])
    assert hot["e_sum"]["interval"][0] > 3 * floor["e_sum"]["interval"][1]
    assert floor["e_sum"]["interval"][0] < 0.03  # two simulated samples: consistent with no difference


def test_basic_intervals_cover_the_true_separation_power_and_percentile_ones_do_not():
    """Separation power is biased upwards; resampling doubles the bias, so only the basic interval covers the truth."""
    rng = np.random.default_rng(12)
    truth = separation_power(rng.normal(size=1_000_000), rng.normal(0.3, 1, 1_000_000))
    covered = {"basic": 0, "percentile": 0}
    for repetition in range(20):
        a, b = rng.normal(size=500), rng.normal(0.3, 1, 500)
        for method in covered:
            low, high = fsm.bootstrap_interval(separation_power, a, b, n_bootstrap=100, seed=repetition, method=method)
            covered[method] += low <= truth <= high
    assert covered["basic"] >= 8 and covered["percentile"] <= 3  # nominal 68 %: 13.6 of 20


def test_bootstrap_intervals_contain_the_value_when_the_bias_is_small():
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=4000), rng.normal(1.0, 1, 4000)  # a large difference, many events
    value = separation_power(a, b)
    for method in ("percentile", "basic"):
        low, high = fsm.bootstrap_interval(separation_power, a, b, method=method)
        assert low <= value <= high
    sample = rng.normal(size=400)
    low, high = fsm.bootstrap_interval(np.mean, sample)  # 68 % of the mean: ± 1/√400 = ± 0.05
    assert low < sample.mean() < high and (high - low) / 2 == pytest.approx(0.05, rel=0.2)


# --- bad input ------------------------------------------------------------------------------------------------


def test_bad_inputs_are_explained():
    good = np.zeros((50, 4))
    with pytest.raises(DataError, match=r"real must be features of shape \(N events, d features\), got shape \(50,\)"):
        fsm.classifier_test(np.zeros(50), good)
    with pytest.raises(DataError, match="generated has 3 features per event but real has 4"):
        fsm.frechet_physics_distance(good, np.zeros((50, 3)))
    with pytest.raises(DataError, match="generated needs at least 20 events, got 5"):
        fsm.kernel_physics_distance(good, np.zeros((5, 4)))
    bad = good.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="real must be finite; 1 of 50 events hold NaN"):
        fsm.classifier_test(bad, good)
    with pytest.raises(DataError, match=r"generated must be energy images of shape \(N, 32, 32\)"):
        fsm.separation_powers(np.zeros((30, 16, 16)), np.zeros((30, 32, 32)))
    with pytest.raises(DataError, match="reference needs at least 20 showers"):
        fsm.separation_powers(np.zeros((30, 32, 32)), np.zeros((10, 32, 32)))
    with pytest.raises(ConfigError, match="min_samples < max_samples"):
        fsm.frechet_physics_distance(good, good, min_samples=100, max_samples=100)
    with pytest.raises(ConfigError, match="batch_size 100 exceeds the smaller sample"):
        fsm.kernel_physics_distance(good, good, batch_size=100, replace=False)
    with pytest.raises(ConfigError, match="window must be odd"):
        fsm.low_level_features(np.zeros((2, 32, 32)), window=4)
    with pytest.raises(ConfigError, match="method must be 'std' or 'max'"):
        fsm.standardise(good, method="minmax")
