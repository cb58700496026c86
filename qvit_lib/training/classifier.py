"""Training and evaluation, the paper's way.

Adam (lr 5·10⁻³), binary cross-entropy on logits, batches of 512, and the best epoch chosen
by validation accuracy (paper §5). Metrics (:mod:`qvit_lib.analysis.metrics`): accuracy, BCE and ROC
AUC. Everything is seeded: the same seed gives the same result on the same CPU.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from qvit_lib.analysis.metrics import classifier_metrics
from qvit_lib.core import paper
from qvit_lib.core.config import progress_enabled
from qvit_lib.core.errors import CheckpointError, ConfigError, DataError, TrainingDiverged, TrainingInterrupted
from qvit_lib.training import checkpoint as checkpoints
from qvit_lib.training.checkpoint import RunIdentity, check_identity, check_state_fits, save_atomically
from qvit_lib.training.compiled import compiled_forward
from qvit_lib.training.process import distributed_rank, keep_freed_memory

__all__ = [
    "CHECKPOINT_KEYS",
    "TrainResult",
    "TrainingDiverged",
    "TrainingInterrupted",
    "evaluate",
    "load_checkpoint",
    "predict_logits",
    "train",
]

CHECKPOINT_KEYS = frozenset({"epoch", "model", "optimiser", "generator", "history", "best_epoch", "best_state"})


@torch.no_grad()
def predict_logits(model: nn.Module, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Logits for every event, in evaluation mode, in batches."""
    model.eval()
    return torch.cat([model(tokens[i : i + batch_size]) for i in range(0, len(tokens), batch_size)])


def evaluate(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy (threshold 0.5), BCE and ROC AUC of a model on a labelled set."""
    return classifier_metrics(predict_logits(model, tokens), labels)


@dataclass
class TrainResult:
    """Per-epoch history, the best epoch (by validation accuracy) and its weights."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_state: dict[str, torch.Tensor] | None = None

    def curve(self, key: str) -> list[float]:
        return [record[key] for record in self.history]


def load_checkpoint(path: str | os.PathLike[str]) -> dict:
    """A training checkpoint written by :func:`train`, with a clear error if it is not one."""
    return checkpoints.load_checkpoint(path, CHECKPOINT_KEYS, "training")


def _check_labelled_set(name: str, labelled: tuple[torch.Tensor, torch.Tensor]) -> None:
    """(tokens, labels) of equal length, with at least one photon and one electron."""
    tokens, labels = labelled
    if len(tokens) != len(labels):
        raise DataError(f"{name}: {len(tokens)} token sets but {len(labels)} labels; expected one label per event")
    electrons = int((labels == 1).sum())
    if electrons == 0 or electrons == len(labels):
        raise DataError(
            f"{name}: {len(labels)} events ({electrons} electrons, {len(labels) - electrons} photons); "
            "expected at least one event of each class (is the split empty? a data set of 5 events per class has no "
            "validation events)"
        )


def train(
    model: nn.Module,
    train_set: tuple[torch.Tensor, torch.Tensor],
    val_set: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int = paper.BATCH_SIZE,
    lr: float = paper.LEARNING_RATE,
    weight_decay: float = 0.0,
    warmup_epochs: float = 0.0,
    seed: int = 0,
    progress: bool | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    on_epoch_end: Callable[[dict[str, float]], None] | None = None,
    run: RunIdentity | None = None,
) -> TrainResult:
    """Train with Adam on BCE, keep the epoch with the best validation accuracy.

    ``weight_decay``: decoupled weight decay (AdamW's); ``warmup_epochs``: the learning rate
    rises linearly from 0 to ``lr`` over this many epochs, batch by batch. The defaults (0, 0)
    are the paper's plain Adam; chapter 7's equal tuning searches both.

    ``train_set`` and ``val_set`` are (tokens, labels) tensors on the model's device. The model
    ends with the best epoch's weights. ``progress`` shows a tqdm bar with live loss and
    accuracy (default: on, except when the environment variable ``CI`` is set).

    ``checkpoint``: a file written after every epoch with everything needed to go on — weights,
    optimiser, shuffling generator, history and best epoch. With ``resume=True`` training
    continues from it and ends with exactly the numbers of an uninterrupted run. A NaN or
    infinite loss raises :class:`TrainingDiverged` and leaves the last good checkpoint alone;
    Ctrl-C raises :class:`TrainingInterrupted`, whose message says which checkpoint is kept.
    ``on_epoch_end`` is called with each epoch's record (for live plots). ``run`` names the
    run the checkpoint belongs to: resuming another run's checkpoint is refused, and the
    interrupt message gives the command that resumes this one.

    Process-wide side effect: :func:`~qvit_lib.training.process.keep_freed_memory` changes glibc's malloc thresholds
    (large temporaries are kept in the heap and reused).

    Inside an initialised ``torch.distributed`` group (e.g. under ``torchrun``) the run is
    data-parallel: each process computes every ``world``-th event of each batch of
    ``batch_size``, gradients are averaged (DistributedDataParallel), and the optimisation is
    the single-process one up to rounding. Only rank 0 writes the checkpoint.
    """

    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if resume and checkpoint is None:
        raise ConfigError("resume=True needs a checkpoint path")
    if not (lr > 0 and weight_decay >= 0 and warmup_epochs >= 0):
        raise ConfigError(
            f"lr must be > 0, weight_decay and warmup_epochs >= 0; got lr={lr}, weight_decay={weight_decay}, "
            f"warmup_epochs={warmup_epochs}"
        )
    _check_labelled_set("train_set", train_set)
    _check_labelled_set("val_set", val_set)
    tokens, labels = train_set
    keep_freed_memory()
    rank, world = distributed_rank()
    network, _ = compiled_forward(model, distributed=world > 1)  # torch.compile only if asked for
    if world > 1:
        device = next(model.parameters()).device
        network = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, decoupled_weight_decay=True)
    result = TrainResult()
    best_accuracy, first_epoch = -1.0, 0
    path = Path(checkpoint) if checkpoint is not None else None
    if resume and path.exists():
        state = load_checkpoint(path)
        check_identity(state, run, path)
        check_state_fits(model, state["model"], path)
        model.load_state_dict(state["model"])
        try:
            optimiser.load_state_dict(state["optimiser"])
        except (ValueError, KeyError) as err:
            raise CheckpointError(f"{path}: its optimiser state does not fit this model ({err})") from None
        generator.set_state(state["generator"])
        result.history, result.best_epoch, result.best_state = (
            state["history"],
            state["best_epoch"],
            state["best_state"],
        )
        best_accuracy, first_epoch = result.history[result.best_epoch - 1]["val_accuracy"], state["epoch"]
    n_batches = -(-len(tokens) // batch_size)
    warmup_steps = warmup_epochs * n_batches  # the learning rate at step t is lr · min(1, t / warmup_steps)
    # At most one refresh a second: a notebook bar sends kernel messages on every refresh, and
    # a flood of them can overflow the kernel's output queue (nbval then loses the cell's end).
    bar = tqdm(
        total=epochs * n_batches,
        initial=first_epoch * n_batches,
        desc="training",
        unit="batch",
        mininterval=1.0,
        disable=not progress_enabled(progress) or rank != 0,
    )
    epoch, batch_index, saved_epoch = first_epoch, 0, first_epoch
    try:
        for epoch in range(first_epoch, epochs):
            model.train()
            start = time.perf_counter()
            order = torch.randperm(len(tokens), generator=generator).to(tokens.device)
            loss_sum, correct = 0.0, 0.0
            for i in range(0, len(tokens), batch_size):
                batch_index = i // batch_size
                batch = order[i : i + batch_size]
                mine = batch[rank::world]  # this process's share of the batch
                logits = network(tokens[mine])
                if world == 1:
                    loss = F.binary_cross_entropy_with_logits(logits, labels[mine])
                    batch_loss, batch_correct = (
                        loss.item(),
                        float(((logits.detach() > 0).float() == labels[mine]).sum()),
                    )
                else:
                    # My share's sum, scaled so that averaging over processes gives the batch mean.
                    loss = F.binary_cross_entropy_with_logits(logits, labels[mine], reduction="sum") * (
                        world / len(batch)
                    )
                    stats = torch.stack(
                        [loss.detach() / world, ((logits.detach() > 0).float() == labels[mine]).sum().float()]
                    )
                    dist.all_reduce(stats)
                    batch_loss, batch_correct = stats[0].item(), stats[1].item()
                if not math.isfinite(batch_loss):
                    bar.close()
                    kept = (
                        f"the last good checkpoint (epoch {epoch}) is kept in {path}"
                        if path is not None and epoch > 0
                        else "no checkpoint was written"
                    )
                    raise TrainingDiverged(
                        f"loss is {batch_loss} at epoch {epoch + 1}, batch {i // batch_size + 1}; stopped, {kept}. "
                        f"Try a smaller learning rate (lr={lr})."
                    )
                if warmup_steps > 0:  # from the step count alone, so a resumed run continues the same ramp
                    step = epoch * n_batches + batch_index + 1
                    for group in optimiser.param_groups:
                        group["lr"] = lr * min(1.0, step / warmup_steps)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                loss_sum += batch_loss * len(batch)
                correct += batch_correct
                bar.set_postfix(
                    epoch=epoch + 1,
                    loss=f"{loss_sum / (i + len(batch)):.4f}",
                    acc=f"{correct / (i + len(batch)):.3f}",
                    refresh=False,
                )
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
            if path is not None and rank == 0:
                save_atomically(
                    {
                        "epoch": epoch + 1,
                        "model": model.state_dict(),
                        "optimiser": optimiser.state_dict(),
                        "generator": generator.get_state(),
                        "history": result.history,
                        "best_epoch": result.best_epoch,
                        "best_state": result.best_state,
                        **({"run": run.as_record()} if run is not None else {}),
                    },
                    path,
                )
                saved_epoch = epoch + 1
            if world > 1:
                dist.barrier()
            if on_epoch_end is not None:
                on_epoch_end(record)
    except KeyboardInterrupt:
        bar.close()
        where = f"stopped in epoch {epoch + 1}, batch {batch_index + 1} of {n_batches}"
        kept = checkpoints.interrupted_message(where, path if rank == 0 else None, saved_epoch, "epoch")
        raise TrainingInterrupted(kept) from None
    bar.close()
    model.load_state_dict(result.best_state)
    return result
