"""Training and evaluation, the paper's way.

Adam (lr 5·10⁻³), binary cross-entropy on logits, batches of 512, and the best epoch chosen
by validation accuracy (paper §5). Metrics: accuracy, BCE and ROC AUC. Everything is seeded:
the same seed gives the same result on a CPU.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random electron outscores a random photon.

    Computed from ranks (Mann–Whitney U), ties counted half.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both classes among the labels")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    # Average rank for tied scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def predict_logits(model: nn.Module, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Logits for every event, in evaluation mode, in batches."""
    model.eval()
    return torch.cat([model(tokens[i : i + batch_size]) for i in range(0, len(tokens), batch_size)])


def evaluate(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy (threshold 0.5), BCE and ROC AUC of a model on a labelled set."""
    logits = predict_logits(model, tokens)
    return {
        "accuracy": float(((logits > 0).float() == labels).float().mean()),
        "bce": float(F.binary_cross_entropy_with_logits(logits, labels)),
        "auc": roc_auc(logits.numpy(), labels.numpy()),
    }


@dataclass
class TrainResult:
    """Per-epoch history, the best epoch (by validation accuracy) and its weights."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_state: dict[str, torch.Tensor] | None = None

    def curve(self, key: str) -> list[float]:
        return [record[key] for record in self.history]


def _progress_enabled(progress: bool | None) -> bool:
    return (not os.environ.get("CI")) if progress is None else progress


def train(
    model: nn.Module,
    train_set: tuple[torch.Tensor, torch.Tensor],
    val_set: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int = 512,
    lr: float = 5e-3,
    seed: int = 0,
    progress: bool | None = None,
) -> TrainResult:
    """Train with Adam on BCE, keep the epoch with the best validation accuracy.

    ``train_set`` and ``val_set`` are (tokens, labels) tensors. The model ends with the best
    epoch's weights. ``progress`` shows a tqdm bar with live loss and accuracy (default: on,
    except when the environment variable ``CI`` is set).
    """
    from tqdm.auto import tqdm

    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    tokens, labels = train_set
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    result = TrainResult()
    best_accuracy = -1.0
    n_batches = -(-len(tokens) // batch_size)
    # At most one refresh a second: a notebook bar sends kernel messages on every refresh, and
    # a flood of them can overflow the kernel's output queue (nbval then loses the cell's end).
    bar = tqdm(total=epochs * n_batches, desc="training", unit="batch", mininterval=1.0, disable=not _progress_enabled(progress))
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(tokens), generator=generator)
        loss_sum, correct = 0.0, 0.0
        for i in range(0, len(tokens), batch_size):
            batch = order[i : i + batch_size]
            logits = model(tokens[batch])
            loss = F.binary_cross_entropy_with_logits(logits, labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            loss_sum += loss.item() * len(batch)
            correct += float(((logits.detach() > 0).float() == labels[batch]).sum())
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_sum / (i + len(batch)):.4f}", acc=f"{correct / (i + len(batch)):.3f}", refresh=False)
            bar.update()
        validation = evaluate(model, *val_set)
        record = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / len(tokens),
            "train_accuracy": correct / len(tokens),
            "val_loss": validation["bce"],
            "val_accuracy": validation["accuracy"],
            "val_auc": validation["auc"],
            "seconds": time.perf_counter() - start,
        }
        result.history.append(record)
        if validation["accuracy"] > best_accuracy:
            best_accuracy = validation["accuracy"]
            result.best_epoch = epoch + 1
            result.best_state = copy.deepcopy(model.state_dict())
    bar.close()
    model.load_state_dict(result.best_state)
    return result
