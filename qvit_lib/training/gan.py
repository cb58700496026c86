"""Training the shower GAN of :mod:`qvit_lib.models.gan`: hinge loss, two learning rates, checkpoints.

Each step trains the discriminator once and the generator once on a batch of real showers
and as many generated ones of the same classes:

    L_D = E[max(0, 1 − D(x, c))] + E[max(0, 1 + D(G(z, c), c))],     L_G = −E[D(G(z, c), c)].

Adam with β = (0, 0.9) and the same learning rate for both networks. Every
``validate_every`` steps a validation metric (smaller is better, given by the caller: the runs
use a distance to the validation split) scores the generator, and the weights with the best
score are kept: the run ends with those, not with the last step's. Every ``checkpoint_every``
steps the whole state is written — both networks, both optimisers, the random generator that
draws the batches and the noise, the history, the best weights so far — so that an
interrupted run resumes with exactly the numbers of an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from qvit_lib.core.config import progress_enabled
from qvit_lib.core.errors import ConfigError, TrainingDiverged, TrainingInterrupted
from qvit_lib.training import checkpoint as checkpoints
from qvit_lib.training.checkpoint import RunIdentity, check_identity, check_state_fits, save_atomically

__all__ = ["CHECKPOINT_KEYS", "GANSchedule", "GANHistory", "Showers", "train_gan"]


class Showers(NamedTuple):
    """Real showers to learn from: energy (GeV/50) and time (ns/50) images (N, 32, 32), classes and η (N,)."""

    energy: torch.Tensor
    time: torch.Tensor
    labels: torch.Tensor
    eta: torch.Tensor


@dataclass(frozen=True)
class GANSchedule:
    """How long and how a GAN trains."""

    steps: int
    batch_size: int = 128
    lr_generator: float = 2e-4
    lr_discriminator: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.9)
    log_every: int = 50  # steps per history record
    checkpoint_every: int = 250
    validate_every: int = 250  # steps between validation scores (best weights kept)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "checkpoint_every", "validate_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass
class GANHistory:
    """One record per ``log_every`` steps (mean losses, discriminator outputs, seconds), the
    validation scores, and the step whose weights were kept."""

    records: list[dict[str, float]] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    best_step: int = 0


CHECKPOINT_KEYS = frozenset(
    {
        "step",
        "generator",
        "discriminator",
        "optimiser_g",
        "optimiser_d",
        "random",
        "history",
        "validation",
        "best",
        "sums",
    }
)


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    showers: Showers,
    schedule: GANSchedule,
    *,
    validate: Callable[[nn.Module], float] | None = None,
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    run: RunIdentity | None = None,
) -> GANHistory:
    """Train both networks on real showers; end with the generator weights ``validate`` scores best.

    ``validate(generator)`` returns a distance to held-out showers (smaller is better); without
    it the last step's weights are kept. ``resume`` continues from ``checkpoint`` if it exists.
    Ctrl-C keeps the last checkpoint and says so; a non-finite loss stops with the last good
    checkpoint kept. ``run`` names the run the checkpoint belongs to (:mod:`qvit_lib.training.checkpoint`).
    """

    energy, time_, labels, eta = showers
    n = len(energy)
    if (
        energy.ndim != 3
        or energy.shape[1:] != (32, 32)
        or time_.shape != energy.shape
        or len(labels) != n
        or len(eta) != n
    ):
        raise ConfigError(
            "train_gan needs energy and time images (N, 32, 32), N labels and N values of η; got "
            f"{tuple(energy.shape)}, {tuple(time_.shape)}, {len(labels)} and {len(eta)}"
        )
    random = torch.Generator().manual_seed(seed)
    optimiser_g = torch.optim.Adam(generator.parameters(), lr=schedule.lr_generator, betas=schedule.betas)
    optimiser_d = torch.optim.Adam(discriminator.parameters(), lr=schedule.lr_discriminator, betas=schedule.betas)
    history, first = GANHistory(), 0
    best: dict[str, object] = {"step": 0, "score": float("inf"), "generator": None}
    sums = torch.zeros(4)  # the running sums of the history record being gathered
    path = Path(checkpoint) if checkpoint is not None else None
    if resume and path is not None and path.exists():
        state = checkpoints.load_checkpoint(path, CHECKPOINT_KEYS, "GAN")
        check_identity(state, run, path)
        for module, key in ((generator, "generator"), (discriminator, "discriminator")):
            check_state_fits(module, state[key], path)
            module.load_state_dict(state[key])
        optimiser_g.load_state_dict(state["optimiser_g"])
        optimiser_d.load_state_dict(state["optimiser_d"])
        random.set_state(state["random"])
        history.records, first, sums = state["history"], state["step"], state["sums"]
        history.validation, best = state["validation"], state["best"]

    saved = first if resume and first else None  # the step of the checkpoint on disk

    def save(step: int) -> None:
        nonlocal saved
        if path is None:
            return
        saved = step
        save_atomically(
            {
                "step": step,
                "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(),
                "optimiser_g": optimiser_g.state_dict(),
                "optimiser_d": optimiser_d.state_dict(),
                "random": random.get_state(),
                "history": history.records,
                "validation": history.validation,
                "best": best,
                "sums": sums.clone(),
                **({"run": run.as_record()} if run is not None else {}),
            },
            path,
        )

    device = next(generator.parameters()).device
    generator.train()
    discriminator.train()
    bar = tqdm(
        total=schedule.steps,
        initial=first,
        desc="GAN",
        unit="step",
        mininterval=1.0,
        disable=not progress_enabled(progress),
    )
    start = time.perf_counter()
    step = first
    try:
        for step in range(first, schedule.steps):
            batch = torch.randint(n, (schedule.batch_size,), generator=random)
            real_e, real_t = energy[batch].to(device), time_[batch].to(device)
            classes, etas = labels[batch].to(device), eta[batch].to(device)
            fake_e, fake_t = generator(generator.noise(len(batch), random), classes, etas)
            d_real = discriminator(real_e, real_t, classes, etas)
            d_fake = discriminator(fake_e.detach(), fake_t.detach(), classes, etas)
            loss_d = nn.functional.relu(1 - d_real).mean() + nn.functional.relu(1 + d_fake).mean()
            optimiser_d.zero_grad()
            loss_d.backward()
            optimiser_d.step()
            fake_e, fake_t = generator(generator.noise(len(batch), random), classes, etas)
            loss_g = -discriminator(fake_e, fake_t, classes, etas).mean()
            optimiser_g.zero_grad()
            loss_g.backward()
            optimiser_g.step()
            values = torch.stack([loss_d.detach(), loss_g.detach(), d_real.mean().detach(), d_fake.mean().detach()])
            if not bool(torch.isfinite(values).all()):
                kept = f"the checkpoint of step {saved} is kept in {path}" if saved else "no checkpoint was written"
                raise TrainingDiverged(f"GAN losses are not finite at step {step + 1}; {kept}")
            sums += values.cpu()
            bar.update()
            if (step + 1) % schedule.log_every == 0:
                mean = (sums / schedule.log_every).tolist()
                history.records.append(
                    {
                        "step": step + 1,
                        "loss_d": mean[0],
                        "loss_g": mean[1],
                        "d_real": mean[2],
                        "d_fake": mean[3],
                        "seconds": time.perf_counter() - start,
                    }
                )
                bar.set_postfix(loss_d=f"{mean[0]:.3f}", loss_g=f"{mean[1]:.3f}", refresh=False)
                sums.zero_()
                start = time.perf_counter()
            if validate is not None and (step + 1) % schedule.validate_every == 0:
                generator.eval()
                score = float(validate(generator))
                generator.train()
                history.validation.append({"step": step + 1, "score": score})
                if score < best["score"]:
                    best = {"step": step + 1, "score": score, "generator": _copy(generator.state_dict())}
            if (step + 1) % schedule.checkpoint_every == 0:
                save(step + 1)
    except KeyboardInterrupt:
        bar.close()
        where = f"GAN training stopped at step {step + 1}"
        raise TrainingInterrupted(checkpoints.interrupted_message(where, path, saved or 0, "step")) from None
    bar.close()
    save(schedule.steps)
    if best["generator"] is not None:
        generator.load_state_dict(best["generator"])
        history.best_step = int(best["step"])
    else:
        history.best_step = schedule.steps
    generator.eval()
    discriminator.eval()
    return history


def _copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in state.items()}
