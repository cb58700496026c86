"""The networks, written like the paper's equations.

* :mod:`~qvit_lib.models.variants` — the variant names and :class:`~qvit_lib.models.variants.ViTConfig`,
  with the parameter formula (no torch needed);
* :mod:`~qvit_lib.models.vit` — the encoder layers and the vision transformer built from a config;
* :mod:`~qvit_lib.models.attention` — classical and hybrid multi-head self-attention;
* :mod:`~qvit_lib.models.tiny_attention` — the attention kernel for tiny heads, compiled for
  this machine (C++, built on first use), with PyTorch's kernel as the fallback;
* :mod:`~qvit_lib.models.feedforward` — the quantum feed-forward (the value circuit on a token);
* :mod:`~qvit_lib.models.angles` — the circuits' starting angles;
* :mod:`~qvit_lib.models.integrators` — Runge–Kutta steps for the encoder layers;
* :mod:`~qvit_lib.models.gan` — the shower GAN's generator and discriminator.

The variants' and the vision transformer's names are re-exported here:
``from qvit_lib.models import ViTConfig, build_model``. The transformer's load torch on first
use, so that reading or checking a configuration does not.
"""

import ast
import importlib
from pathlib import Path

from qvit_lib.models import variants
from qvit_lib.models.variants import *  # noqa: F403 - the variants' names, re-exported: one list, the module's


def _declared_names(module: str) -> list[str]:
    """A sibling module's ``__all__``, read from its source without importing it."""
    tree = ast.parse(Path(__file__).with_name(f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise ImportError(f"qvit_lib.models.{module} declares no __all__")


_NETWORK_NAMES = _declared_names("vit")
__all__ = [*variants.__all__, *_NETWORK_NAMES]


def __getattr__(name: str) -> object:
    """The vision transformer's names, imported with torch when first asked for."""
    if name in _NETWORK_NAMES:
        return getattr(importlib.import_module("qvit_lib.models.vit"), name)
    raise AttributeError(f"module 'qvit_lib.models' has no attribute {name!r}")
