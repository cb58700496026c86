"""Shower-shape variables: the physicist's hand-made features for e/γ separation.

They measure how compact a shower is and how far it spreads in η and φ. Electrons
radiate bremsstrahlung that the magnetic field fans out in φ, so their showers are wider
in φ but not in η. A logistic regression on three of these features tells how separable
a dataset is, a yardstick for the learned models later in the book.
"""

from __future__ import annotations

import numpy as np

from qvit_lib.core.errors import DataError

__all__ = [
    "CENTRE",
    "shower_shapes",
    "SEPARABILITY_FEATURES",
    "MIN_EVENTS_PER_CLASS",
    "separability_auc",
    "pixel_separability_auc",
    "phi_profile",
    "scan_knob",
]


CENTRE = 16  #: the crops are centred on the most energetic crystal


def _window(energy: np.ndarray, size: int) -> np.ndarray:
    half = size // 2
    return energy[:, CENTRE - half : CENTRE + half + 1, CENTRE - half : CENTRE + half + 1]


def shower_shapes(energy: np.ndarray) -> dict[str, np.ndarray]:
    """Per-event shower shapes of energy images (N, 32, 32), any energy unit.

    Returns arrays of length N:
    ``e_sum`` total energy; ``e1_e9`` = E1×1/E3×3; ``e9_e25`` = E3×3/E5×5;
    ``eta_width`` and ``phi_width``, energy-weighted RMS spread in crystals over the 5×5
    window (the σ_iηiη and σ_iφiφ of CMS, here unlogged); ``phi_asymmetry``, energy on the
    +φ side minus the −φ side over their sum in the 5×5 window.
    """
    energy = np.asarray(energy, dtype=np.float64)
    if energy.ndim != 3 or energy.shape[1:] != (32, 32):
        raise ValueError(f"shower_shapes expects energy images of shape (N, 32, 32), got {energy.shape}")
    e1 = energy[:, CENTRE, CENTRE]
    e9 = _window(energy, 3).sum(axis=(1, 2))
    w25 = _window(energy, 5)
    e25 = w25.sum(axis=(1, 2))
    offsets = np.arange(-2, 3, dtype=np.float64)
    safe = np.where(e25 > 0, e25, 1.0)
    eta_profile, phi_profile = w25.sum(axis=2), w25.sum(axis=1)
    eta_mean = (eta_profile * offsets).sum(axis=1) / safe
    phi_mean = (phi_profile * offsets).sum(axis=1) / safe
    eta_width = np.sqrt(np.clip((eta_profile * offsets**2).sum(axis=1) / safe - eta_mean**2, 0, None))
    phi_width = np.sqrt(np.clip((phi_profile * offsets**2).sum(axis=1) / safe - phi_mean**2, 0, None))
    plus, minus = phi_profile[:, 3:].sum(axis=1), phi_profile[:, :2].sum(axis=1)
    return {
        "e_sum": energy.sum(axis=(1, 2)),
        "e1_e9": e1 / np.where(e9 > 0, e9, 1.0),
        "e9_e25": e9 / safe,
        "eta_width": eta_width,
        "phi_width": phi_width,
        "phi_asymmetry": (plus - minus) / np.where(plus + minus > 0, plus + minus, 1.0),
    }


SEPARABILITY_FEATURES = ("e9_e25", "phi_width", "eta_width")
MIN_EVENTS_PER_CLASS = 10  #: a baseline fitted on fewer is noise


def _halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit and test halves with both classes in each (stratified), or a clear error."""
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.model_selection import train_test_split

    counts = {name: int((labels == value).sum()) for name, value in (("photons", 0), ("electrons", 1))}
    if min(counts.values()) < MIN_EVENTS_PER_CLASS:
        raise DataError(
            f"a separability baseline needs at least {MIN_EVENTS_PER_CLASS} events of each class; "
            f"got {counts['photons']} photons and {counts['electrons']} electrons"
        )
    return train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels, random_state=seed)


def separability_auc(
    energy: np.ndarray, labels: np.ndarray, seed: int = 0, features: tuple[str, ...] = SEPARABILITY_FEATURES
) -> float:
    """Test ROC AUC of a logistic regression on shower shapes (half fit, half test, stratified).

    The standard yardstick of how hard a dataset is: on the real CMS files, hand-made
    features and small networks reach AUC ≈ 0.8.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.linear_model import LogisticRegression

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.metrics import roc_auc_score

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.pipeline import make_pipeline

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.preprocessing import StandardScaler

    shapes = shower_shapes(energy)
    table = np.stack([shapes[name] for name in features], axis=1)
    labels = np.asarray(labels).astype(int)
    train, test = _halves(labels, seed)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(table[train], labels[train])
    return float(roc_auc_score(labels[test], model.predict_proba(table[test])[:, 1]))


def pixel_separability_auc(energy: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Test ROC AUC of gradient-boosted trees on the central 7×11 crystals (η × φ).

    A non-linear yardstick: it sees the fine structure of the φ profile that shower
    widths average away, and comes close to what a good image model can reach.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.ensemble import HistGradientBoostingClassifier

    # lazy: loads scikit-learn; importing this module does not
    from sklearn.metrics import roc_auc_score

    energy = np.asarray(energy, dtype=np.float64)
    centre = energy[:, CENTRE, CENTRE][:, None]
    pixels = energy[:, CENTRE - 3 : CENTRE + 4, CENTRE - 5 : CENTRE + 6].reshape(len(energy), -1) / np.where(
        centre > 0, centre, 1.0
    )
    labels = np.asarray(labels).astype(int)
    train, test = _halves(labels, seed)
    model = HistGradientBoostingClassifier(random_state=seed).fit(pixels[train], labels[train])
    return float(roc_auc_score(labels[test], model.predict_proba(pixels[test])[:, 1]))


def phi_profile(energy: np.ndarray) -> np.ndarray:
    """Mean energy per iφ column over the three central η rows, as a fraction of the total."""
    band = np.asarray(energy, dtype=np.float64)[:, CENTRE - 1 : CENTRE + 2, :].sum(axis=1)
    totals = band.sum(axis=1, keepdims=True)
    return (band / np.where(totals > 0, totals, 1.0)).mean(axis=0)


def scan_knob(knob: str, values, n_per_class: int = 3000, seed: int = 0) -> list[dict[str, object]]:
    """Simulate with one knob of :class:`~qvit_lib.data.simulation.SimulationConfig` at several values.

    Returns, per value, the mean φ profile of each class and both separability figures —
    what a chapter needs to show how a piece of physics shapes the images.
    """
    # lazy: loads SciPy; importing this module does not
    from qvit_lib.data.simulation import ELECTRON, PHOTON, SimulationConfig, simulate

    results = []
    for value in values:
        X, y = simulate(n_per_class, seed=seed, config=SimulationConfig(**{knob: value}))
        energy = X[..., 0]
        results.append(
            {
                "knob": knob,
                "value": value,
                "profiles": {c: phi_profile(energy[y == c]) for c in (PHOTON, ELECTRON)},
                "shape_auc": separability_auc(energy, y, seed=seed),
                "pixel_auc": pixel_separability_auc(energy, y, seed=seed),
            }
        )
    return results
