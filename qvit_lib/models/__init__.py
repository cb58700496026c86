"""The networks, written like the paper's equations.

* :mod:`~qvit_lib.models.vit` — the variant names and :class:`~qvit_lib.models.vit.ViTConfig`,
  parameter formulas, the encoder layers and the vision transformer;
* :mod:`~qvit_lib.models.attention` — classical and hybrid multi-head self-attention;
* :mod:`~qvit_lib.models.feedforward` — the quantum feed-forward (the value circuit on a token);
* :mod:`~qvit_lib.models.integrators` — Runge–Kutta steps for the encoder layers;
* :mod:`~qvit_lib.models.gan` — the shower GAN's generator and discriminator.

The vision transformer's names are re-exported here: ``from qvit_lib.models import build_model``.
"""

from qvit_lib.models import vit
from qvit_lib.models.vit import *  # noqa: F403 - the vision transformer's names, re-exported: one list, the module's

__all__ = list(vit.__all__)
