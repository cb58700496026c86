"""Every classifier the run store trains, by variant name: the vision transformers and the CNN baseline.

A variant name says what to build and what it reads: ``classical-cmx-pe`` and its kin are
vision transformers on 32 tokens of 4 × 8 crystals (:class:`~qvit_lib.models.variants.ViTConfig`);
``resnet15-energy``, ``resnet15-time`` and ``resnet15-both`` are the field's CNN on whole
crops of one or both channels (:class:`~qvit_lib.models.cnn.CNNConfig`). Reading a name or a
record's configuration needs no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from qvit_lib.core.errors import ConfigError
from qvit_lib.models.variants import ViTConfig

if TYPE_CHECKING:
    from qvit_lib.models.cnn import CNNConfig

__all__ = [
    "CNN_VARIANTS",
    "INPUTS",
    "build_classifier",
    "config_from_record",
    "config_from_variant",
    "is_cnn_variant",
    "model_inputs",
]

CNN_PREFIX = "resnet15-"
CNN_INPUTS = ("energy", "time", "both")  #: what a CNN variant reads (one name each)
CNN_VARIANTS = tuple(f"{CNN_PREFIX}{inputs}" for inputs in CNN_INPUTS)  #: the CNN baseline's variants
INPUTS = ("tokens", *CNN_INPUTS)  #: what a classifier reads: the ViTs' tokens, or whole crops of a CNN's channels


def is_cnn_variant(name: str) -> bool:
    """Whether ``name`` names a CNN (``resnet15-…``) rather than a vision transformer."""
    return name.startswith(CNN_PREFIX)


def _cnn_config_class():
    # lazy: cnn.py loads torch; reading a ViT name here does not
    return importlib.import_module("qvit_lib.models.cnn").CNNConfig


def config_from_variant(name: str) -> ViTConfig | CNNConfig:
    """The configuration a variant name describes, or a clear error saying what names look like."""
    if not isinstance(name, str):
        raise ConfigError(f"a variant name is a string, got {type(name).__name__}")
    if is_cnn_variant(name):
        return _cnn_config_class().from_variant(name)
    return ViTConfig.from_variant(name)


def config_from_record(config: dict) -> ViTConfig | CNNConfig:
    """The configuration stored in a run record's ``config`` field (a ViT's or a CNN's)."""
    if "inputs" in config:
        fields = dict(config)
        if "widths" in fields:
            fields["widths"] = tuple(fields["widths"])  # JSON keeps a tuple as a list
        return _cnn_config_class()(**fields)
    return ViTConfig(**config)


def model_inputs(config: ViTConfig | CNNConfig) -> str:
    """What a classifier reads: ``tokens`` (the ViTs) or a CNN's channels (``energy``, ``time``, ``both``)."""
    return getattr(config, "inputs", "tokens")


def build_classifier(variant: str | ViTConfig | CNNConfig, seed: int | None = None):
    """The network for a variant name or configuration; ``seed`` fixes its initial weights."""
    config = config_from_variant(variant) if isinstance(variant, str) else variant
    if model_inputs(config) == "tokens":
        # lazy: loads torch; naming a classifier does not
        from qvit_lib.models.vit import build_model

        return build_model(config, seed=seed)
    # lazy: loads torch; naming a classifier does not
    from qvit_lib.models.cnn import build_cnn

    return build_cnn(config, seed=seed)
