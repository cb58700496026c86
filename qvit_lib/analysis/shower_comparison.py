"""How close are generated showers to simulated ones? The fast-simulation community's checks.

The CaloChallenge 2022 (Krause et al., arXiv:2410.21611) compares a generator with its
reference simulation by (i) the histograms of physics features, each summarised by the
*separation power* ½ Σ_bins (h₁ − h₂)² / (h₁ + h₂) of the two normalised histograms (0 for
identical, 1 for disjoint), (ii) a *classifier two-sample test* — a fresh classifier trained to
tell generated from reference showers, reported as its test ROC AUC (0.5: it cannot) — and
(iii) Fréchet-type distances between feature vectors. Here the features are the shower
shapes of :mod:`qvit_lib.data.shapes` and the number of crystals above a threshold; every
distance is also reported for two independent simulated samples, the floor that a perfect
generator would reach with samples of that size.

Energies are in the files' unit, GeV/50, per event as simulated (not normalised).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from qvit_lib.core.errors import DataError
from qvit_lib.data.shapes import CENTRE, shower_shapes

__all__ = [
    "THRESHOLD",
    "SHAPES",
    "shape_table",
    "CONDITIONAL_FEATURES",
    "conditional_table",
    "common_bins",
    "separation_power",
    "wasserstein",
    "frechet_distance",
    "mean_image_distance",
    "two_sample_auc",
    "compare_showers",
]


THRESHOLD = 0.002  #: GeV/50 = 0.1 GeV per crystal, 2.5 times the 40 MeV electronics noise
SHAPES = ("e_sum", "e1_e9", "e9_e25", "eta_width", "phi_width", "n_above_threshold")


def shape_table(energy: np.ndarray) -> dict[str, np.ndarray]:
    """Per event: the shower shapes of :func:`~qvit_lib.data.shapes.shower_shapes` used here, and
    the number of crystals above :data:`THRESHOLD`."""
    energy = np.asarray(energy, dtype=np.float64)
    shapes = shower_shapes(energy)
    table = {name: shapes[name] for name in SHAPES if name in shapes}
    table["n_above_threshold"] = (energy > THRESHOLD).sum(axis=(1, 2)).astype(np.float64)
    return table


CONDITIONAL_FEATURES = ("response", "e1_e9", "e9_e25", "eta_width", "phi_width", "n_above_threshold", "t_rms")
"""What a conditional generator is judged on: the response E_total/E₀ in place of the total
energy (E₀ differs from shower to shower), the shapes, and the spread of the hit times."""


def conditional_table(energy: np.ndarray, time: np.ndarray, incident: np.ndarray) -> dict[str, np.ndarray]:
    """Per event: :data:`CONDITIONAL_FEATURES` of energy and time images (N, 32, 32) and incident energies (N,).

    ``incident`` in the energy's unit; ``t_rms`` is the RMS hit time (time's unit) over the
    crystals that read energy.
    """
    energy, time = np.asarray(energy, np.float64), np.asarray(time, np.float64)
    table = shape_table(energy)
    table["response"] = table.pop("e_sum") / np.asarray(incident, np.float64)
    hits = energy > 0
    table["t_rms"] = np.sqrt((np.where(hits, time, 0.0) ** 2).sum((1, 2)) / np.maximum(hits.sum((1, 2)), 1))
    return {name: table[name] for name in CONDITIONAL_FEATURES}


def common_bins(a: np.ndarray, b: np.ndarray, bins: int = 40) -> np.ndarray:
    """Bin edges over the central 99 % of both samples together: the same bins for both."""
    both = np.concatenate([a, b])
    low, high = np.quantile(both, [0.005, 0.995])
    if high <= low:
        high = low + 1.0
    return np.linspace(low, high, bins + 1)


def separation_power(a: np.ndarray, b: np.ndarray, bins: int = 40) -> float:
    """½ Σ (h₁ − h₂)² / (h₁ + h₂) of the normalised histograms on common bins (CaloChallenge)."""
    edges = common_bins(a, b, bins)
    h1 = np.histogram(np.clip(a, edges[0], edges[-1]), edges)[0].astype(np.float64)
    h2 = np.histogram(np.clip(b, edges[0], edges[-1]), edges)[0].astype(np.float64)
    h1, h2 = h1 / h1.sum(), h2 / h2.sum()
    both = h1 + h2
    return float(0.5 * np.sum(np.divide((h1 - h2) ** 2, both, out=np.zeros_like(both), where=both > 0)))


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between two samples of one feature, in the feature's unit."""
    # lazy: loads SciPy; importing this module does not
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))


def frechet_distance(table_a: dict[str, np.ndarray], table_b: dict[str, np.ndarray]) -> float:
    """Fréchet distance of the shower-shape vectors, each feature standardised by sample b.

    ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½): zero for identical Gaussians, as the FID of
    images but on physics features (the CaloChallenge's Fréchet physics distance).
    """
    # lazy: loads SciPy; importing this module does not
    from scipy.linalg import sqrtm

    names = sorted(set(table_a) & set(table_b))
    b = np.stack([table_b[n] for n in names], axis=1)
    centre, scale = b.mean(0), b.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    a = (np.stack([table_a[n] for n in names], axis=1) - centre) / scale
    b = (b - centre) / scale
    mu = a.mean(0) - b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = sqrtm(cov_a @ cov_b)
    return float(mu @ mu + np.trace(cov_a + cov_b - 2 * np.real(root)))


def mean_image_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Σ |⟨E_a⟩ − ⟨E_b⟩| / Σ ⟨E_b⟩ over crystals: the relative L1 distance of the mean images."""
    mean_a, mean_b = np.asarray(a, np.float64).mean(0), np.asarray(b, np.float64).mean(0)
    return float(np.abs(mean_a - mean_b).sum() / max(mean_b.sum(), 1e-12))


def _classifier_features(energy: np.ndarray) -> np.ndarray:
    """log(1 + E/threshold) of the central 11 × 11 crystals, and the shower shapes."""
    energy = np.asarray(energy, dtype=np.float64)
    window = energy[:, CENTRE - 5 : CENTRE + 6, CENTRE - 5 : CENTRE + 6].reshape(len(energy), -1)
    shapes = np.stack(list(shape_table(energy).values()), axis=1)
    return np.concatenate([np.log1p(np.clip(window, 0, None) / THRESHOLD), shapes], axis=1)


def two_sample_auc(generated: np.ndarray, reference: np.ndarray, seed: int = 0) -> float:
    """Test ROC AUC of a fresh classifier told to separate generated from reference showers.

    Gradient-boosted trees on the central crystals (log energy) and the shower shapes, fitted
    on half of each sample and tested on the other half. 0.5 means it cannot tell them apart.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.ensemble import HistGradientBoostingClassifier

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.metrics import roc_auc_score

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.model_selection import train_test_split

    if min(len(generated), len(reference)) < 20:
        raise DataError(f"a two-sample test needs at least 20 showers of each kind; got {len(generated)} and "
                        f"{len(reference)}")  # fmt: skip
    features = np.concatenate([_classifier_features(generated), _classifier_features(reference)])
    labels = np.concatenate([np.ones(len(generated)), np.zeros(len(reference))])
    fit, test = train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels, random_state=seed)
    with threadpool_limits(1):  # small fits: OpenMP threads only wait on busy cores
        model = HistGradientBoostingClassifier(random_state=seed, max_iter=100).fit(features[fit], labels[fit])
        return float(roc_auc_score(labels[test], model.predict_proba(features[test])[:, 1]))


def compare_showers(generated: np.ndarray, reference: np.ndarray, seed: int = 0) -> dict[str, object]:
    """Every distance between two samples of energy images (N, 32, 32) of one class.

    Per shower shape: Wasserstein-1 and separation power; over all shapes: the Fréchet
    distance; the relative distance of the mean images; and the two-sample classifier's AUC.
    """
    generated, reference = np.asarray(generated, np.float64), np.asarray(reference, np.float64)
    for name, sample in (("generated", generated), ("reference", reference)):
        if sample.ndim != 3 or sample.shape[1:] != (32, 32):
            raise DataError(f"compare_showers: {name} showers must be energy images (N, 32, 32), got {sample.shape}")
    table_g, table_r = shape_table(generated), shape_table(reference)
    return {
        "shapes": {
            name: {
                "wasserstein": wasserstein(table_g[name], table_r[name]),
                "separation_power": separation_power(table_g[name], table_r[name]),
            }
            for name in SHAPES
        },
        "frechet": frechet_distance(table_g, table_r),
        "mean_image": mean_image_distance(generated, reference),
        "two_sample_auc": two_sample_auc(generated, reference, seed),
    }
