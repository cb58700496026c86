"""Training loops and what they share.

* :mod:`~qvit_lib.training.checkpoint` — one checkpoint format for every loop: atomic writes,
  checks on reading, the run a checkpoint belongs to, the interrupt message;
* :mod:`~qvit_lib.training.classifier` — the paper's loop for the classifiers;
* :mod:`~qvit_lib.training.gan` — the shower GAN's loop;
* :mod:`~qvit_lib.training.process` — data-parallel groups and the process's memory.

The classifier loop's names are re-exported here: ``from qvit_lib.training import train``.
"""

from qvit_lib.training.classifier import (
    CHECKPOINT_KEYS,
    TrainingDiverged,
    TrainingInterrupted,
    TrainResult,
    evaluate,
    load_checkpoint,
    predict_logits,
    train,
)

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
