"""The networks, written like the paper's equations.

* :mod:`~qvit_lib.models.vit` — the variant names and :class:`~qvit_lib.models.vit.ViTConfig`,
  parameter formulas, the encoder layers and the vision transformer;
* :mod:`~qvit_lib.models.attention` — classical and hybrid multi-head self-attention;
* :mod:`~qvit_lib.models.feedforward` — the quantum feed-forward (the value circuit on a token);
* :mod:`~qvit_lib.models.integrators` — Runge–Kutta steps for the encoder layers;
* :mod:`~qvit_lib.models.gan` — the shower GAN's generator and discriminator.

The vision transformer's names are re-exported here: ``from qvit_lib.models import build_model``.
"""

from qvit_lib.models.vit import (
    ATTENTION_LOADERS,
    ATTENTIONS,
    FEED_FORWARDS,
    N_TOKENS,
    PAPER_ATTENTIONS,
    POOLINGS,
    POSITIONAL,
    RK_ORDERS,
    ClassicalEncoderLayer,
    HybridEncoderLayer,
    VisionTransformer,
    ViTConfig,
    all_variants,
    build_model,
    constant_encoding,
    count_parameters,
    encoder_layer,
    every_variant,
    feed_forward,
    parameter_formula,
    parameter_table,
    sinusoidal_encoding,
)

__all__ = [
    "N_TOKENS",
    "PAPER_ATTENTIONS",
    "ATTENTIONS",
    "ATTENTION_LOADERS",
    "POOLINGS",
    "POSITIONAL",
    "FEED_FORWARDS",
    "RK_ORDERS",
    "all_variants",
    "every_variant",
    "ViTConfig",
    "parameter_formula",
    "parameter_table",
    "sinusoidal_encoding",
    "constant_encoding",
    "feed_forward",
    "ClassicalEncoderLayer",
    "HybridEncoderLayer",
    "encoder_layer",
    "VisionTransformer",
    "count_parameters",
    "build_model",
]
