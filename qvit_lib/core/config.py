"""Run-time switches shared by every chapter: quick mode and where things live."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

__all__ = [
    "QUICK_ENV",
    "DATA_ENV",
    "PROGRESS_ENV",
    "COMPILE_ENV",
    "CHECKPOINTS_ENV",
    "REPO_ROOT",
    "DATA_DIR",
    "DEFAULT_DATA_DIR",
    "CACHE_DIR",
    "CHECKPOINT_DIR",
    "checkpoint_root",
    "quick_mode",
    "pick",
    "progress_enabled",
    "compile_enabled",
    "inductor_enabled",
]


T = TypeVar("T")

QUICK_ENV = "QVIT_QUICK"
DATA_ENV = "QVIT_DATA"
PROGRESS_ENV = "QVIT_PROGRESS"  #: 0 turns the progress bars off (the book's build sets it)
COMPILE_ENV = "QVIT_COMPILE"  #: 0: the eager path; inductor: torch.compile the training step too
CHECKPOINTS_ENV = "QVIT_CHECKPOINTS"  #: where interrupted runs keep their checkpoints

#: The repository: two folders above qvit_lib/core/config.py (its value is this machine's path).
#:
#: :meta hide-value:
REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
DEFAULT_DATA_DIR = DATA_DIR / "default"
CACHE_DIR = DATA_DIR / "cache"
#: Where runs keep their checkpoints unless ``QVIT_CHECKPOINTS`` names another folder.
#:
#: :meta hide-value:
CHECKPOINT_DIR = CACHE_DIR / "checkpoints"


def checkpoint_root() -> Path:
    """Where runs keep the checkpoints they resume from: ``$QVIT_CHECKPOINTS``, else ``data/cache/checkpoints``.

    Read at each run, so a process can move its checkpoints away from everyone else's: the
    test suite does, and its parallel workers never resume or delete each other's runs.
    """
    where = os.environ.get(CHECKPOINTS_ENV, "").strip()
    return Path(where) if where else CHECKPOINT_DIR


def quick_mode() -> bool:
    """True when ``QVIT_QUICK`` is set to anything but empty, 0, false or no.

    Quick mode shrinks every chapter's work so the whole book runs in CI in minutes.
    """
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def pick(full: T, quick: T) -> T:
    """``quick`` in quick mode, ``full`` otherwise — for sizes, epochs and sample counts."""
    return quick if quick_mode() else full


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw tqdm bars: as asked, else on unless ``QVIT_PROGRESS`` is 0 or ``CI`` is set.

    ``make book`` sets ``QVIT_PROGRESS=0``, so no bar shows in the rendered pages; in JupyterLab
    and on the command line the bars are on.
    """
    if progress is not None:
        return progress
    off = os.environ.get(PROGRESS_ENV, "").strip().lower() in ("0", "false", "no")
    return not (off or os.environ.get("CI"))


def compile_enabled() -> bool:
    """False when ``QVIT_COMPILE`` is 0, false or no: then nothing is compiled, the eager path runs.

    By default attention runs the C++ kernel built for this machine where it has a compiler
    (:mod:`qvit_lib.models.tiny_attention`) and PyTorch's own kernel where it has none;
    setting the variable to 0 forces that fallback.
    """
    return os.environ.get(COMPILE_ENV, "").strip().lower() not in ("0", "false", "no")


def inductor_enabled() -> bool:
    """True when ``QVIT_COMPILE=inductor``: the training step also goes through ``torch.compile``.

    Off by default: on the book's 2-core CPUs the committed benchmark (``qvit bench --suite
    targets``, chapter 8) finds no gain on top of the attention kernel, for seconds to a minute
    of compilation per model.
    """
    return os.environ.get(COMPILE_ENV, "").strip().lower() == "inductor"
