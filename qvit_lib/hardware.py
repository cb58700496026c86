"""The trained hybrids on a quantum computer (chapter 10): shots, noise, and what it would cost.

* :func:`emulate` runs every hybrid attention head of a model as a device would — finite
  shots, depolarising gate noise, readout errors (:mod:`qvit_lib.fused.noise`) — and
  :func:`device_metrics` evaluates a model that way, seeded.
* :func:`circuit_budget` counts circuit executions per event for inference and for one
  training step with parameter-shift gradients, for every hybrid variant of the book.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from .attention import HybridMultiHeadAttention
from .fused.noise import Execution
from .metrics import classifier_metrics
from .training import predict_logits

EVALUATION_BATCH = 256  # events per forward pass: the shot sampler's tensors stay small


def hybrid_heads(model: nn.Module) -> list[HybridMultiHeadAttention]:
    """The hybrid attention layers of a model, in order."""
    return [m for m in model.modules() if isinstance(m, HybridMultiHeadAttention)]


@contextlib.contextmanager
def emulate(model: nn.Module, execution: Execution) -> Iterator[nn.Module]:
    """Within the block, the model's hybrid heads return what a device would (one seeded sampler)."""
    heads = hybrid_heads(model)
    if not heads and not execution.exact:
        raise ValueError(f"{type(model).__name__} has no hybrid attention to run on a device")
    generator = torch.Generator().manual_seed(execution.seed)
    for head in heads:
        head.run_as(execution, generator)
    try:
        yield model
    finally:
        for head in heads:
            head.run_as(None)


def device_metrics(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor, execution: Execution) -> dict:
    """Accuracy, BCE and ROC AUC of a model whose circuits run as ``execution`` says."""
    with emulate(model, execution), torch.no_grad():
        logits = predict_logits(model, tokens, batch_size=EVALUATION_BATCH)
    return classifier_metrics(logits, labels)
