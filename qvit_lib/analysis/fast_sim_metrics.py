"""How the fast-simulation community judges a generator against its reference simulation.

Three summaries, each computed on per-event feature vectors (N, d) that the caller chooses
(:func:`low_level_features`: the log energies of the central crystals; :func:`high_level_features`:
the shower shapes of :mod:`~qvit_lib.analysis.shower_comparison`):

* the **Fréchet physics distance** (FPD, Kansal et al., arXiv:2211.10295): the Fréchet distance
  ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½) between Gaussians fitted to the two samples. Its
  estimate from N events is biased upwards by O(1/N), so it is measured at several N and
  extrapolated linearly in 1/N to N → ∞, as ``jetnet.evaluation.fpd`` (jetnet 0.2.5) does;
* the **kernel physics distance** (KPD, same paper): the unbiased estimator of the squared
  maximum mean discrepancy with a polynomial kernel, over random batches, as ``jetnet.evaluation.kpd``;
* the **classifier test** of the CaloChallenge 2022 (Krause et al., arXiv:2410.21611): a fresh
  neural network trained to tell generated from reference events, reported as its held-out ROC
  AUC (0.5: it cannot) and as the Jensen–Shannon divergence that its calibrated cross entropy
  estimates.

Per shower shape, :func:`separation_powers` adds bootstrap intervals to the separation powers of
:mod:`~qvit_lib.analysis.shower_comparison`, so that the floor of two finite samples can be told
from a real difference. These are *basic* (bias-corrected) intervals, not percentile ones: the
separation power of two finite samples is biased upwards, resampling adds that bias once more, and
a percentile interval then lies wholly above the point value and misses the true value (on two
Gaussian samples of 500 events its 68 % interval covered the true separation power in 0–5 % of
repetitions, the basic one in 62–88 %).

Conventions checked against jetnet 0.2.5 (``jetnet/evaluation/gen_metrics.py``) and the
CaloChallenge's ``code/evaluate.py`` (the code behind arXiv:2410.21611), and where this module differs:

* FPD: jetnet's defaults (min_samples 20 000, max_samples 50 000, num_batches 20, num_points 10);
  sizes evenly spaced in 1/N; batches drawn with replacement; covariances with ddof = 1; the line
  fitted by least squares with intercept ≥ 0 and slope ≥ 0 (``curve_fit`` with bounds), the error
  being the intercept's standard error scaled by the residuals (``curve_fit``'s default). The
  CaloChallenge called it with min_samples = 10 000 on about 10⁵ events.
* KPD: jetnet's defaults (num_batches 10, batch_size 5 000; the CaloChallenge used 10 000);
  value = median over batches, error = half the 16.275–83.725 percentile range (±1σ for a
  Gaussian spread), both as jetnet. The kernel is (x·y/d + 1)⁴, degree 4, as in jetnet 0.2.5 (where
  it is hard-coded) and so the CaloChallenge, and as Kansal et al. recommend: the cubic kernel of the
  kernel inception distance missed differences between Gaussian mixtures in their tests.
* Scaling: jetnet (and so the CaloChallenge) divides every feature by the reference sample's
  maximum |value| before both distances, inside ``fpd``/``kpd``; here nothing is scaled inside, and
  :func:`standardise` offers both the mean/std standardisation (default) and jetnet's max-abs scaling.
* Classifier: the CaloChallenge trains a 2 × 2048 ReLU network (Adam, lr 2·10⁻⁴, 50 epochs, the
  epoch chosen on a test split), calibrates its output by isotonic regression on that split and
  reports AUC and JSD = 1 − BCE/ln 2 on a third split. Here: a smaller scikit-learn network with
  early stopping on a validation share of the training part, and the held-out part split in two to
  calibrate on one half and score the other (both ways round), so that every held-out event counts.

Whether jetnet itself can be used: ``pip install jetnet`` (0.2.5) in this environment resolves to
a numpy downgrade (2.4.6 → 1.26.4, from Wasserstein 1.1.0's ``numpy<2`` via EnergyFlow) plus about
35 packages (coffea, awkward, uproot, …); with numpy pinned it falls back to building Wasserstein
1.0.1 from source. So it is not a dependency: these definitions are written here and checked
against jetnet's source and unit tests (its cases are in this module's tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from qvit_lib.analysis.metrics import roc_auc
from qvit_lib.analysis.shower_comparison import SHAPES, THRESHOLD, separation_power, shape_table
from qvit_lib.core.errors import ConfigError, DataError
from qvit_lib.data.shapes import CENTRE

__all__ = [
    "MIN_EVENTS",
    "standardise",
    "gaussian_frechet_distance",
    "frechet_physics_distance",
    "polynomial_mmd2",
    "kernel_physics_distance",
    "classifier_test",
    "low_level_features",
    "high_level_features",
    "bootstrap_interval",
    "separation_powers",
]


MIN_EVENTS = 20  #: fewest events per sample that any of these comparisons accepts


def _features(name: str, array: np.ndarray, min_events: int = MIN_EVENTS) -> np.ndarray:
    """The argument as float64 features (N, d), or a DataError naming it and what was expected."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise DataError(f"{name} must be features of shape (N events, d features), got shape {array.shape}")
    if len(array) < min_events:
        raise DataError(f"{name} needs at least {min_events} events, got {len(array)}")
    if array.shape[1] < 1:
        raise DataError(f"{name} needs at least one feature, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=1).sum())
        raise DataError(f"{name} must be finite; {bad} of {len(array)} events hold NaN or infinity")
    return array


def _pair(real: np.ndarray, generated: np.ndarray, min_events: int = MIN_EVENTS) -> tuple[np.ndarray, np.ndarray]:
    """Both samples checked, with the same number of features."""
    real, generated = _features("real", real, min_events), _features("generated", generated, min_events)
    if real.shape[1] != generated.shape[1]:
        raise DataError(f"generated has {generated.shape[1]} features per event but real has {real.shape[1]}; "
                        "both must hold the same features")  # fmt: skip
    return real, generated


def _images(name: str, energy: np.ndarray) -> np.ndarray:
    energy = np.asarray(energy, dtype=np.float64)
    if energy.ndim != 3 or energy.shape[1:] != (32, 32):
        raise DataError(f"{name} must be energy images of shape (N, 32, 32), got {energy.shape}")
    if not np.isfinite(energy).all():
        raise DataError(f"{name} must be finite energies; it holds NaN or infinity")
    return energy


def standardise(reference: np.ndarray, *others: np.ndarray, method: str = "std") -> tuple[np.ndarray, ...]:
    """Every sample scaled feature by feature with the reference's statistics, reference first.

    ``"std"``: (x − mean) / std of the reference, the usual standardisation; ``"max"``: x / max |x| of
    the reference, what jetnet's ``fpd``/``kpd`` (and hence the CaloChallenge) do. Both distances
    depend on the scale of each feature, so all samples must share the reference's scaling; a
    constant feature keeps scale 1.
    """
    ref = _features("reference", reference, min_events=2)
    rest = [_features(f"others[{i}]", other, min_events=1) for i, other in enumerate(others)]
    for i, other in enumerate(rest):
        if other.shape[1] != ref.shape[1]:
            raise DataError(f"others[{i}] has {other.shape[1]} features but reference has {ref.shape[1]}")
    if method == "std":
        centre, scale = ref.mean(axis=0), ref.std(axis=0)
    elif method == "max":
        centre, scale = np.zeros(ref.shape[1]), np.abs(ref).max(axis=0)
    else:
        raise ConfigError(f"standardise: method must be 'std' or 'max', got {method!r}")
    scale = np.where(scale > 0, scale, 1.0)
    return tuple((x - centre) / scale for x in (ref, *rest))


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Tr (Σ_a Σ_b)^½ via the symmetric Σ_a^½ Σ_b Σ_a^½, whose eigenvalues are those of Σ_a Σ_b."""
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    return float(np.sqrt(np.clip(inner, 0, None)).sum())


def gaussian_frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature samples (N, d): no extrapolation.

    ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½), covariances with ddof = 1. Biased upwards by
    O(d²/N) for finite samples; :func:`frechet_physics_distance` removes that bias.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = a.mean(axis=0) - b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * _trace_sqrt_product(cov_a, cov_b))


def _extrapolate(inverse_n: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Intercept and its error of values ≈ c + s/N fitted with c ≥ 0, s ≥ 0 (as jetnet's curve_fit).

    The bounded least-squares optimum is the unconstrained one if feasible, else the best point on
    a bound; the error is √(s² [(JᵀJ)⁻¹]₀₀) with s² the residual variance, as ``curve_fit`` reports.
    """
    x, y = np.asarray(inverse_n, np.float64), np.asarray(values, np.float64)
    design = np.stack([np.ones_like(x), x], axis=1)
    free = np.linalg.lstsq(design, y, rcond=None)[0]
    through_origin = max(float(x @ y / (x @ x)), 0.0)
    candidates = [free] if (free >= 0).all() else []
    candidates += [np.array([0.0, through_origin]), np.array([max(float(y.mean()), 0.0), 0.0])]
    best = min(candidates, key=lambda p: float(np.sum((design @ p - y) ** 2)))
    residual_variance = float(np.sum((design @ best - y) ** 2)) / (len(y) - 2)
    error = np.sqrt(residual_variance * np.linalg.inv(design.T @ design)[0, 0])
    return float(best[0]), float(error)


def frechet_physics_distance(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    min_samples: int = 20_000,
    max_samples: int = 50_000,
    num_batches: int = 20,
    num_points: int = 10,
    replace: bool = True,
    seed: int = 0,
) -> tuple[float, float]:
    """FPD and its error: the Gaussian Fréchet distance extrapolated to infinitely many events.

    At ``num_points`` batch sizes N evenly spaced in 1/N between ``min_samples`` and
    ``max_samples``, the mean over ``num_batches`` random batches of :func:`gaussian_frechet_distance`;
    then the intercept at 1/N = 0 of a line fitted with intercept and slope ≥ 0, and its standard
    error (jetnet's definition and defaults). Features are used as given: scale them first with
    :func:`standardise`. With ``replace`` (jetnet's way) batches may exceed the samples, and the
    extrapolation then reaches the distance between the two finite samples, whose own O(1/n) bias
    remains; ``replace=False`` needs ``max_samples`` ≤ both sample sizes. For two samples of 2 000
    standardised events of one 6-d Gaussian: 0.0146 ± 0.0004 with jetnet's defaults (the floor of the
    finite samples, "significant"), 0.000 ± 0.005 with ``replace=False`` and sizes 200–2 000.
    """
    real, generated = _pair(real, generated)
    if not 2 <= min_samples < max_samples:
        raise ConfigError(f"frechet_physics_distance: need 2 ≤ min_samples < max_samples, got {min_samples} "
                          f"and {max_samples}")  # fmt: skip
    if num_points < 3 or num_batches < 1:
        raise ConfigError(f"frechet_physics_distance: need num_points ≥ 3 (a line and its error) and num_batches "
                          f"≥ 1, got {num_points} and {num_batches}")  # fmt: skip
    if not replace and max_samples > min(len(real), len(generated)):
        raise ConfigError(f"frechet_physics_distance: max_samples {max_samples} exceeds the smaller sample "
                          f"({min(len(real), len(generated))} events) and replace is False")  # fmt: skip
    sizes = (1 / np.linspace(1 / min_samples, 1 / max_samples, num_points)).astype(np.int64)
    rng = np.random.default_rng(seed)
    means = []
    for size in sizes:
        values = [
            gaussian_frechet_distance(
                real[rng.choice(len(real), size, replace=replace)],
                generated[rng.choice(len(generated), size, replace=replace)],
            )
            for _ in range(num_batches)
        ]
        means.append(np.mean(values))
    return _extrapolate(1 / sizes, np.asarray(means))


_TENSOR_LIMIT = 4096  # d^degree up to which kernel sums go through tensor powers instead of Gram matrices


def _tensor_power_sum(x: np.ndarray, power: int, chunk: int = 1024) -> np.ndarray:
    """Σ_i x_i^⊗power, flattened (d^power entries)."""
    total = np.zeros(x.shape[1] ** power)
    for start in range(0, len(x), chunk):
        block = x[start : start + chunk]
        product = np.ones((len(block), 1))
        for _ in range(power):
            product = (product[:, :, None] * block[:, None, :]).reshape(len(block), -1)
        total += product.sum(axis=0)
    return total


def _kernel_sum(x: np.ndarray, y: np.ndarray, degree: int, chunk: int = 1024) -> float:
    """Σ_ij (x_i·y_j/d + 1)^degree over all pairs.

    Few features: by the binomial expansion, Σ_k C(degree, k) d⁻ᵏ ⟨Σ_i x_i^⊗k, Σ_j y_j^⊗k⟩, linear in the
    numbers of events (jetnet's batches of 5 000 in a fraction of a second). Many features: the Gram
    matrix in row blocks, so that no full matrix is held.
    """
    # lazy: loads SciPy; importing this module does not
    from scipy.special import comb

    d = x.shape[1]
    if d**degree <= _TENSOR_LIMIT:
        return float(
            sum(
                comb(degree, k, exact=True) / d**k * (_tensor_power_sum(x, k) @ _tensor_power_sum(y, k))
                for k in range(degree + 1)
            )
        )
    return float(sum(np.sum((x[i : i + chunk] @ y.T / d + 1.0) ** degree) for i in range(0, len(x), chunk)))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, *, degree: int = 4) -> float:
    """Unbiased estimate of MMD² with the kernel k(a, b) = (a·b/d + 1)^degree (Gretton et al.'s U-statistic).

    Σ_{i≠j} k(x_i, x_j)/(m(m−1)) + Σ_{i≠j} k(y_i, y_j)/(n(n−1)) − 2 Σ_ij k(x_i, y_j)/(mn): its mean
    over independent samples of one distribution is exactly zero, so single values can be negative.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    m, n, d = len(x), len(y), x.shape[1]
    diag_x = np.sum((np.einsum("ij,ij->i", x, x) / d + 1.0) ** degree)
    diag_y = np.sum((np.einsum("ij,ij->i", y, y) / d + 1.0) ** degree)
    xx = (_kernel_sum(x, x, degree) - diag_x) / (m * (m - 1))
    yy = (_kernel_sum(y, y, degree) - diag_y) / (n * (n - 1))
    return float(xx + yy - 2 * _kernel_sum(x, y, degree) / (m * n))


def kernel_physics_distance(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    num_batches: int = 10,
    batch_size: int = 5_000,
    degree: int = 4,
    replace: bool = True,
    seed: int = 0,
) -> tuple[float, float]:
    """KPD: median over random batches of :func:`polynomial_mmd2`, and its error.

    The error is half the 16.275–83.725 percentile range of the batch values (±1σ for a
    Gaussian spread), not a standard error of the median: the spread of one batch's estimate,
    as jetnet reports. Batches are drawn with replacement as jetnet does (they may exceed the
    samples; the expectation is then the MMD² between the two finite samples, O(1/n) above the
    population's); ``replace=False`` draws distinct events, each batch then exactly unbiased.
    Features are used as given: scale them first with :func:`standardise`.
    """
    real, generated = _pair(real, generated)
    if num_batches < 1 or batch_size < 2 or degree < 1:
        raise ConfigError(f"kernel_physics_distance: need num_batches ≥ 1, batch_size ≥ 2 and degree ≥ 1, got "
                          f"{num_batches}, {batch_size} and {degree}")  # fmt: skip
    if not replace and batch_size > min(len(real), len(generated)):
        raise ConfigError(f"kernel_physics_distance: batch_size {batch_size} exceeds the smaller sample "
                          f"({min(len(real), len(generated))} events) and replace is False")  # fmt: skip
    rng = np.random.default_rng(seed)
    values = np.array(
        [
            polynomial_mmd2(
                real[rng.choice(len(real), batch_size, replace=replace)],
                generated[rng.choice(len(generated), batch_size, replace=replace)],
                degree=degree,
            )
            for _ in range(num_batches)
        ]
    )
    low, high = np.percentile(values, [16.275, 83.725])
    return float(np.median(values)), float((high - low) / 2)


def bootstrap_interval(
    statistic: Callable[..., float],
    *samples: np.ndarray,
    n_bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.68,
    method: str = "percentile",
) -> tuple[float, float]:
    """Central ``level`` bootstrap interval of ``statistic(*samples)``.

    Each sample is resampled with replacement on its own (along its first axis, its size kept) and
    the statistic recomputed ``n_bootstrap`` times; q_lo, q_hi are the (1 − level)/2 and (1 + level)/2
    quantiles of those values. ``"percentile"``: [q_lo, q_hi], right for a statistic without
    finite-sample bias (an AUC). ``"basic"``: [2θ̂ − q_hi, 2θ̂ − q_lo] with θ̂ the statistic on the
    samples themselves, which takes the bias off: resampling adds the same bias again, so a
    percentile interval of a statistic biased upwards (a separation power) lies above θ̂ and misses
    the true value. The interval contains θ̂ under both methods iff q_lo ≤ θ̂ ≤ q_hi.
    """
    if n_bootstrap < 2 or not 0 < level < 1:
        raise ConfigError(f"bootstrap_interval: need n_bootstrap ≥ 2 and 0 < level < 1, got {n_bootstrap} and {level}")
    if method not in ("percentile", "basic"):
        raise ConfigError(f"bootstrap_interval: method must be 'percentile' or 'basic', got {method!r}")
    if not samples:
        raise ConfigError("bootstrap_interval: give at least one sample")
    arrays = [np.asarray(s) for s in samples]
    for i, a in enumerate(arrays):
        if a.ndim == 0 or len(a) < 2:
            raise DataError(f"bootstrap_interval: samples[{i}] needs at least 2 entries, got shape {a.shape}")
    rng = np.random.default_rng(seed)
    values = [statistic(*(a[rng.integers(0, len(a), len(a))] for a in arrays)) for _ in range(n_bootstrap)]
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    if method == "basic":
        point = statistic(*arrays)
        low, high = 2 * point - high, 2 * point - low
    return float(low), float(high)


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """ROC AUC of scores of positives against negatives (:func:`~qvit_lib.analysis.metrics.roc_auc`)."""
    labels = np.concatenate([np.ones(len(positive)), np.zeros(len(negative))])
    return roc_auc(np.concatenate([positive, negative]), labels)


def _cross_calibrated_bce(scores: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Binary cross entropy of isotonically calibrated scores, calibrated on one half, scored on the other.

    Both ways round, so that every event is scored once by a calibration it did not take part in;
    probabilities clipped to [10⁻⁶, 1 − 10⁻⁶] as the CaloChallenge does.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.isotonic import IsotonicRegression

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.model_selection import train_test_split

    first, second = train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels, random_state=seed)
    losses = np.empty(len(labels))
    for fit, score in ((first, second), (second, first)):
        calibrator = IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6)
        p = calibrator.fit(scores[fit], labels[fit]).predict(scores[score])
        losses[score] = -(labels[score] * np.log(p) + (1 - labels[score]) * np.log1p(-p))
    return float(losses.mean())


def classifier_test(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    hidden: Sequence[int] = (64, 64),
    seed: int = 0,
    test_fraction: float = 0.3,
    n_bootstrap: int = 200,
    max_epochs: int = 200,
) -> dict[str, object]:
    """The CaloChallenge's classifier metric: can a fresh network tell generated from real events?

    The larger sample is subsampled to the smaller (the metric assumes equal classes); a
    standardise-then-MLP pipeline (ReLU, Adam, early stopping on 20 % of the training part) is
    fitted on ``1 − test_fraction`` of the events and scored on the rest. Returns ``auc`` (held-out
    ROC AUC of the raw output; 0.5: indistinguishable, 1: fully separable), ``auc_interval``: the
    central 68 % bootstrap interval of that AUC over the held-out events (each class resampled; the
    spread from the finite test set, not from retraining), ``jsd``: 1 − BCE/ln 2 of the held-out
    output after isotonic calibration (the CaloChallenge's JSD, in units of ln 2: 0 identical, 1
    disjoint; the BCE of the ideal classifier p/(p + q) is ln 2 − JSD, so a real classifier gives a
    lower bound), ``epochs`` and ``max_epochs``, ``validation_accuracy`` (the early-stopping score),
    and the ``events`` used. The JSD needs thousands of held-out events: isotonic calibration on a
    few hundred over-fits, its clipped extremes cost log 10⁶ each, and for two samples of one
    8-d Gaussian, 800 events each, it came out between −0.23 and −0.01 over eight seeds (AUC
    0.48–0.52); read the AUC for small samples.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.model_selection import train_test_split

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.neural_network import MLPClassifier

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.pipeline import make_pipeline

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.preprocessing import StandardScaler

    real, generated = _pair(real, generated)
    if not 0.1 <= test_fraction <= 0.9:
        raise ConfigError(f"classifier_test: test_fraction must lie in [0.1, 0.9], got {test_fraction}")
    if not hidden or any(int(h) < 1 for h in hidden) or max_epochs < 1:
        raise ConfigError(f"classifier_test: need hidden sizes ≥ 1 and max_epochs ≥ 1, got {hidden} and {max_epochs}")
    rng = np.random.default_rng(seed)
    n = min(len(real), len(generated))
    real_used = real[np.sort(rng.choice(len(real), n, replace=False))]
    generated_used = generated[np.sort(rng.choice(len(generated), n, replace=False))]
    features = np.concatenate([generated_used, real_used])
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    train, test = train_test_split(np.arange(2 * n), test_size=test_fraction, stratify=labels, random_state=seed)
    network = MLPClassifier(
        hidden_layer_sizes=tuple(int(h) for h in hidden),
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=10,
        max_iter=max_epochs,
        random_state=seed,
    )
    model = make_pipeline(StandardScaler(), network)
    with threadpool_limits(1):  # small fits: BLAS threads only wait on busy cores
        model.fit(features[train], labels[train])
        scores = model.predict_proba(features[test])[:, 1]
    truth = labels[test]
    positive, negative = scores[truth == 1], scores[truth == 0]
    return {
        "auc": _auc(positive, negative),
        "auc_interval": list(bootstrap_interval(_auc, positive, negative, n_bootstrap=n_bootstrap, seed=seed)),
        "jsd": float(1.0 - _cross_calibrated_bce(scores, truth, seed) / np.log(2.0)),
        "epochs": int(network.n_iter_),
        "max_epochs": int(max_epochs),
        "validation_accuracy": float(network.best_validation_score_),
        "events": {
            "real": len(real),
            "generated": len(generated),
            "per_class_used": n,
            "train": len(train),  # of which 20 % held for early stopping
            "test": len(test),
        },
    }


def low_level_features(energy: np.ndarray, window: int = 11) -> np.ndarray:
    """log(1 + E/THRESHOLD) of the central ``window`` × ``window`` crystals, flattened: (N, window²).

    Energies (N, 32, 32) in GeV/50; negative energies count as 0. The logarithm keeps the
    classifier from seeing only the hottest crystal, as the CaloChallenge's log voxels do.
    """
    energy = _images("energy", energy)
    if window < 1 or window % 2 == 0 or window > 2 * (32 - CENTRE) - 1:
        raise ConfigError(f"low_level_features: window must be odd and between 1 and {2 * (32 - CENTRE) - 1}, "
                          f"got {window}")  # fmt: skip
    half = window // 2
    crop = energy[:, CENTRE - half : CENTRE + half + 1, CENTRE - half : CENTRE + half + 1]
    return np.log1p(np.clip(crop, 0, None) / THRESHOLD).reshape(len(energy), -1)


def high_level_features(energy: np.ndarray) -> np.ndarray:
    """Per event the shower shapes of :mod:`~qvit_lib.analysis.shower_comparison`, in its ``SHAPES`` order: (N, 6)."""
    table = shape_table(_images("energy", energy))
    return np.stack([table[name] for name in SHAPES], axis=1)


def separation_powers(
    generated: np.ndarray,
    reference: np.ndarray,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.68,
    bins: int = 40,
) -> dict[str, dict[str, object]]:
    """Per shower shape: the separation power of generated against reference showers, with an interval.

    ``value``: :func:`~qvit_lib.analysis.shower_comparison.separation_power` of the two samples, as
    the CaloChallenge reports it; biased upwards by the histograms' noise (for two samples of one
    distribution, of order bins / events). ``interval``: the central ``level`` *basic* bootstrap
    interval (:func:`bootstrap_interval`, both samples resampled), an interval for the separation
    power of the underlying distributions: it lies below ``value`` by about that bias, and reaches
    below 0 where ``value`` is all noise. A percentile interval would lie above ``value`` instead
    and, near the floor, would not cover the true separation power at all.
    """
    generated, reference = _images("generated", generated), _images("reference", reference)
    for name, sample in (("generated", generated), ("reference", reference)):
        if len(sample) < MIN_EVENTS:
            raise DataError(f"{name} needs at least {MIN_EVENTS} showers, got {len(sample)}")
    table_g, table_r = shape_table(generated), shape_table(reference)
    statistic = lambda a, b: separation_power(a, b, bins)
    options = {"n_bootstrap": n_bootstrap, "seed": seed, "level": level, "method": "basic"}
    return {
        name: {
            "value": separation_power(table_g[name], table_r[name], bins),
            "interval": list(bootstrap_interval(statistic, table_g[name], table_r[name], **options)),
        }
        for name in SHAPES
    }
