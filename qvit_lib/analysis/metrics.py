"""The classifier's figures of merit: accuracy, binary cross-entropy, ROC AUC and ROC curve,
and the background rejection at a fixed signal efficiency (a working point).

AUC and the ROC curve come from scikit-learn; the curve is stored compactly, at score
quantiles, as the committed result files keep it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from qvit_lib.core.errors import DataError

__all__ = ["roc_auc", "classifier_metrics", "compact_roc", "rejection_at", "delong_test"]


def _both_classes(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels).astype(bool)
    positives = int(labels.sum())
    if positives == 0 or positives == len(labels):
        raise DataError(
            f"ROC AUC needs both classes among the labels; got {positives} electrons and {len(labels) - positives} "
            "photons"
        )
    return labels


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random electron outscores a random photon."""
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(_both_classes(labels), np.asarray(scores, dtype=np.float64)))


def classifier_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy (threshold 0.5), BCE and ROC AUC of logits for labels (1 = electron)."""
    logits, labels = logits.detach().cpu(), labels.cpu()
    return {
        "accuracy": float(((logits > 0).float() == labels).float().mean()),
        "bce": float(F.binary_cross_entropy_with_logits(logits, labels)),
        "auc": roc_auc(logits.numpy(), labels.numpy()),
    }


def compact_roc(scores: np.ndarray, labels: np.ndarray, points: int = 101) -> dict[str, list[float]]:
    """The ROC curve (photon efficiency vs electron efficiency) at about ``points`` thresholds.

    scikit-learn's curve, read at thresholds that are quantiles of the scores, from the
    loosest (both efficiencies 1) to past the tightest (both 0): small enough to commit.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.metrics import roc_curve

    scores, labels = np.asarray(scores, dtype=np.float64), _both_classes(labels)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)  # thresholds decreasing
    chosen = np.unique(np.quantile(scores, np.linspace(0, 1, points)))  # increasing
    # At threshold t the efficiencies are those of the last sklearn threshold >= t.
    index = np.searchsorted(-thresholds, -chosen, side="right") - 1
    fpr_at, tpr_at = fpr[index], tpr[index]
    return {
        "false_positive_rate": [round(float(x), 5) for x in fpr_at] + [0.0],
        "true_positive_rate": [round(float(x), 5) for x in tpr_at] + [0.0],
    }


def rejection_at(scores: np.ndarray, labels: np.ndarray, efficiency: float) -> float:
    """Photon rejection 1/ε_γ at electron efficiency ε_e = ``efficiency``: a working point.

    The threshold keeps the fraction ``efficiency`` of the electrons (label 1, the signal);
    ε_γ is the fraction of photons it keeps too, read off scikit-learn's ROC curve by linear
    interpolation in ε_e. Infinite where no photon passes.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.metrics import roc_curve

    if not 0 < efficiency <= 1:
        raise DataError(f"efficiency must be in (0, 1], got {efficiency}")
    fpr, tpr, _ = roc_curve(_both_classes(labels), np.asarray(scores, dtype=np.float64))
    photons = float(np.interp(efficiency, tpr, fpr))
    return float("inf") if photons == 0 else 1 / photons


def _midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1 … n with ties sharing their mean rank."""
    # lazy: loads SciPy; importing this module does not
    from scipy.stats import rankdata

    return rankdata(values, method="average")


def delong_test(scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """DeLong's test of two correlated ROC AUCs on the same events (DeLong et al. 1988).

    Both classifiers score the same events, so their AUCs are correlated; the test uses the
    covariance of their structural components, computed in O(n log n) from midranks
    (Sun and Xu 2014). Returns both AUCs, their difference a − b, its standard error, z and
    the two-sided p-value.
    """
    # lazy: loads SciPy; importing this module does not
    from scipy.stats import norm

    labels = _both_classes(labels)
    scores = np.stack([np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)])
    if scores.shape[1] != len(labels):
        raise DataError(f"delong_test: {scores.shape[1]} scores for {len(labels)} labels")
    positives, negatives = scores[:, labels], scores[:, ~labels]
    m, n = positives.shape[1], negatives.shape[1]
    v10, v01, aucs = [], [], []
    for pos, neg in zip(positives, negatives):
        both = _midranks(np.concatenate([pos, neg]))
        pos_rank, neg_rank = both[:m], both[m:]
        auc = (pos_rank.sum() - m * (m + 1) / 2) / (m * n)
        v10.append((pos_rank - _midranks(pos)) / n)  # per electron: the fraction of photons below it
        v01.append(1 - (neg_rank - _midranks(neg)) / m)  # per photon: the fraction of electrons above it
        aucs.append(auc)
    covariance = np.cov(np.array(v10)) / m + np.cov(np.array(v01)) / n
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = aucs[0] - aucs[1]
    error = float(np.sqrt(max(variance, 0.0)))
    z = difference / error if error > 0 else 0.0
    return {
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": float(difference),
        "standard_error": error,
        "z": float(z),
        "p_value": float(2 * norm.sf(abs(z))) if error > 0 else 1.0,
    }
