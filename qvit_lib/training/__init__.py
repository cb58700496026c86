"""Training loops and what they share.

* :mod:`~qvit_lib.training.checkpoint` — one checkpoint format for every loop: atomic writes,
  checks on reading, the run a checkpoint belongs to, the interrupt message;
* :mod:`~qvit_lib.training.classifier` — the paper's loop for the classifiers;
* :mod:`~qvit_lib.training.compiled` — the training step through ``torch.compile``, on request;
* :mod:`~qvit_lib.training.gan` — the shower GAN's loop;
* :mod:`~qvit_lib.training.process` — data-parallel groups and the process's memory.

The classifier loop's names are re-exported here: ``from qvit_lib.training import train``.
"""

from qvit_lib.training import classifier
from qvit_lib.training.classifier import *  # noqa: F403 - the classifier loop's names, re-exported: one list, the module's

__all__ = list(classifier.__all__)
