"""Checkpoints, one way for every training loop: write atomically, read with checks, say what was kept.

A checkpoint is a dict saved with ``torch.save`` after every epoch (classifier) or every few
hundred steps (GAN). It carries the identity of its run (:class:`RunIdentity`: name, seed and
protocol), so that resuming another run's file is refused instead of silently continuing it.
Ctrl-C ends a loop with :func:`interrupted_message`: where it stopped and which checkpoint is
kept (the command line adds the command that resumes it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from qvit_lib.core.errors import CheckpointError

__all__ = [
    "RunIdentity",
    "save_atomically",
    "load_checkpoint",
    "check_identity",
    "check_state_fits",
    "interrupted_message",
]


@dataclass(frozen=True)
class RunIdentity:
    """Which run a checkpoint belongs to."""

    name: str
    seed: int
    protocol: str

    def as_record(self) -> dict[str, object]:
        return {"name": self.name, "seed": self.seed, "protocol": self.protocol}


def save_atomically(state: dict, path: Path) -> None:
    """Write to a temporary file, then rename: an interruption never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str], keys: frozenset[str] | set[str], kind: str = "training") -> dict:
    """A checkpoint holding ``keys``, with a clear error if the file is missing, empty, truncated or another kind."""
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
            f"{path}: not a readable {kind} checkpoint ({type(err).__name__}: {first}); it may be truncated"
        ) from None
    missing = set(keys) - set(state if isinstance(state, dict) else ())
    if missing:
        raise CheckpointError(f"{path}: not a {kind} checkpoint of qvit_lib (missing {', '.join(sorted(missing))})")
    return state


def check_identity(state: dict, identity: RunIdentity | None, path: Path) -> None:
    """Refuse a checkpoint written for another run (name, seed or protocol differ)."""
    written = state.get("run")
    if identity is None or written is None:
        return
    expected = identity.as_record()
    wrong = [
        f"{key} {written.get(key)!r}, not {value!r}" for key, value in expected.items() if written.get(key) != value
    ]
    if wrong:
        raise CheckpointError(
            f"{path}: this checkpoint belongs to another run ({'; '.join(wrong)}); delete it or train without resuming"
        )


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


def interrupted_message(where: str, path: Path | None, saved: int, unit: str) -> str:
    """What Ctrl-C left behind: where the loop stopped and which checkpoint is kept.

    ``saved`` is the epoch or step (``unit``) of the checkpoint on disk, 0 if none was written.
    """
    if path is None:
        return f"{where}; no checkpoint file was given, so nothing was kept"
    if saved == 0:
        return f"{where}; no {unit} had finished, so no checkpoint was written ({path})"
    return f"{where}; the checkpoint after {unit} {saved} is kept in {path}: resume to continue from there"
