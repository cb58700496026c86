"""Training and evaluation, the paper's way.

Adam (lr 5·10⁻³), binary cross-entropy on logits, batches of 512, and the best epoch chosen
by validation accuracy (paper §5). Metrics (:mod:`qvit_lib.metrics`): accuracy, BCE and ROC
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
from torch import nn
from torch.nn import functional as F

from .errors import CheckpointError, ConfigError, DataError, TrainingDiverged, TrainingInterrupted
from .metrics import classifier_metrics

__all__ = ["TrainingDiverged", "TrainingInterrupted", "train", "evaluate", "load_checkpoint"]


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


def _progress_enabled(progress: bool | None) -> bool:
    return (not os.environ.get("CI")) if progress is None else progress


def save_atomically(state: dict, path: Path) -> None:
    """Write to a temporary file, then rename: an interruption never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict:
    """A training checkpoint written by :func:`train`, with a clear error if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint to resume from")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the checkpoint is empty (0 bytes); delete it and train without resuming")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated or not a torch file
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise CheckpointError(
            f"{path}: not a readable training checkpoint ({type(err).__name__}: {first}); it may be truncated"
        ) from None
    missing = {"epoch", "model", "optimiser", "generator", "history", "best_epoch", "best_state"} - set(
        state if isinstance(state, dict) else ()
    )
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint of qvit_lib (missing {', '.join(sorted(missing))})")
    return state


def check_state_fits(model: nn.Module, state: dict[str, torch.Tensor], source: str | os.PathLike[str]) -> None:
    """Refuse weights of another architecture, naming what differs, before torch would."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    reshaped = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or extra or reshaped:
        variant = getattr(getattr(model, "config", None), "variant", type(model).__name__)
        details = "; ".join(
            f"{label}: {', '.join(items[:3])}{' …' if len(items) > 3 else ''}"
            for label, items in (("missing", missing), ("unexpected", extra), ("other shapes", reshaped))
            if items
        )
        raise CheckpointError(f"{source}: weights of another model, not of {variant} ({details})")


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) of this process in an initialised torch.distributed group, else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed_from_env() -> bool:
    """Join the process group that ``torchrun`` describes in the environment (if any).

    NCCL on GPUs, gloo on CPUs. Returns True when training runs data-parallel.
    """
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend)
    return True


def keep_freed_memory(limit_bytes: int = 32 * 2**20, keep_bytes: int = 2**30) -> bool:
    """Let glibc serve blocks up to ``limit_bytes`` from its heap and keep up to ``keep_bytes`` freed.

    A training step allocates and frees the same large temporaries every time: the fused
    engine's Fourier features alone are ~20 MB per layer at batch 512. By default glibc maps
    such blocks fresh from the kernel and unmaps them on free, so each step pays one page
    fault per 4 KiB touched (about 15 000 faults, 25 ms, per hybrid-angle step on the 2-core
    development machine; the classical model's blocks are small and unaffected). Kept in the
    heap, the memory is reused without faults. Process-wide; returns False where it does not
    apply (not glibc) and changes nothing there. 32 MiB is glibc's largest allowed threshold.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, limit_bytes)) and bool(mallopt(m_trim_threshold, keep_bytes))


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


def _kept_message(path: Path | None, saved_epoch: int, epoch: int, batch: int, n_batches: int, rank: int) -> str:
    """What Ctrl-C left behind: where training stopped and which checkpoint is kept."""
    where = f"stopped in epoch {epoch + 1}, batch {batch + 1} of {n_batches}"
    if path is None or rank != 0:
        return f"{where}; no checkpoint file was given, so nothing was kept"
    if saved_epoch == 0:
        return f"{where}; no epoch had finished, so no checkpoint was written ({path})"
    return f"{where}; the checkpoint after epoch {saved_epoch} is kept in {path}: resume to continue from there"


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
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    on_epoch_end: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train with Adam on BCE, keep the epoch with the best validation accuracy.

    ``train_set`` and ``val_set`` are (tokens, labels) tensors on the model's device. The model
    ends with the best epoch's weights. ``progress`` shows a tqdm bar with live loss and
    accuracy (default: on, except when the environment variable ``CI`` is set).

    ``checkpoint``: a file written after every epoch with everything needed to go on — weights,
    optimiser, shuffling generator, history and best epoch. With ``resume=True`` training
    continues from it and ends with exactly the numbers of an uninterrupted run. A NaN or
    infinite loss raises :class:`TrainingDiverged` and leaves the last good checkpoint alone;
    Ctrl-C raises :class:`TrainingInterrupted`, whose message says which checkpoint is kept.
    ``on_epoch_end`` is called with each epoch's record (for live plots).

    Process-wide side effect: :func:`keep_freed_memory` changes glibc's malloc thresholds
    (large temporaries are kept in the heap and reused).

    Inside an initialised ``torch.distributed`` group (e.g. under ``torchrun``) the run is
    data-parallel: each process computes every ``world``-th event of each batch of
    ``batch_size``, gradients are averaged (DistributedDataParallel), and the optimisation is
    the single-process one up to rounding. Only rank 0 writes the checkpoint.
    """
    from tqdm.auto import tqdm

    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if resume and checkpoint is None:
        raise ConfigError("resume=True needs a checkpoint path")
    _check_labelled_set("train_set", train_set)
    _check_labelled_set("val_set", val_set)
    tokens, labels = train_set
    keep_freed_memory()
    rank, world = distributed_rank()
    network = model
    if world > 1:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        device = next(model.parameters()).device
        network = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    result = TrainResult()
    best_accuracy, first_epoch = -1.0, 0
    path = Path(checkpoint) if checkpoint is not None else None
    if resume and path.exists():
        state = load_checkpoint(path)
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
    # At most one refresh a second: a notebook bar sends kernel messages on every refresh, and
    # a flood of them can overflow the kernel's output queue (nbval then loses the cell's end).
    bar = tqdm(
        total=epochs * n_batches,
        initial=first_epoch * n_batches,
        desc="training",
        unit="batch",
        mininterval=1.0,
        disable=not _progress_enabled(progress) or rank != 0,
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
        raise TrainingInterrupted(_kept_message(path, saved_epoch, epoch, batch_index, n_batches, rank)) from None
    bar.close()
    model.load_state_dict(result.best_state)
    return result
