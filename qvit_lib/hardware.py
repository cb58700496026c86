"""The trained hybrids on a quantum computer (chapter 10): shots, noise, and what it would cost.

* :func:`emulate` runs every hybrid attention head of a model as a device would — finite
  shots, depolarising gate noise, readout errors (:mod:`qvit_lib.fused.noise`) — and
  :func:`device_metrics` evaluates a model that way, seeded.
* :func:`circuit_budget` counts circuit executions per event for inference and for one
  training step with parameter-shift gradients, for every hybrid variant of the book.
"""

from __future__ import annotations

import contextlib
import dataclasses
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


SHOTS_SCAN = (10, 30, 100, 300, 1_000, 3_000, 10_000, 100_000)  # shots per circuit and token
DEPOLARIZING_SCAN = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)  # p after every gate
READOUT_SCAN = (0.003, 0.01, 0.03, 0.1)  # bit-flip probability per measured qubit


def robustness_scan(
    model: nn.Module,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    *,
    shots: tuple[int, ...] = SHOTS_SCAN,
    depolarizing: tuple[float, ...] = DEPOLARIZING_SCAN,
    readout: tuple[float, ...] = READOUT_SCAN,
    seeds: tuple[int, ...] = (0, 1, 2),
    progress: bool | None = None,
) -> dict[str, object]:
    """Test metrics of a trained hybrid against shots, gate noise and readout error, one at a time.

    Every setting is evaluated with each sampling seed in ``seeds`` (noise without shots is
    exact, so it needs one); ``exact`` is the reference every row is compared with.
    """
    from tqdm.auto import tqdm

    settings = [("shots", Execution(shots=s, seed=seed)) for s in shots for seed in seeds]
    settings += [("depolarizing", Execution(depolarizing=p)) for p in depolarizing]
    settings += [("readout", Execution(readout=r)) for r in readout]
    rows = []
    for knob, execution in tqdm(settings, desc="device settings", disable=progress is False, leave=False):
        metrics = device_metrics(model, tokens, labels, execution)
        rows.append({"knob": knob, **dataclasses.asdict(execution), **metrics})
    return {"events": len(labels), "exact": device_metrics(model, tokens, labels, Execution()), "rows": rows}


def fine_tune_with_shots(
    model: nn.Module,
    train_set: tuple[torch.Tensor, torch.Tensor],
    val_set: tuple[torch.Tensor, torch.Tensor],
    *,
    shots: int,
    epochs: int,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, object]:
    """Go on training a trained hybrid with ``shots`` in the loop (a straight-through estimator).

    The forward pass sees sampled ⟨Z⟩ estimates, as on a device; the gradient is that of the
    exact expectations (a device would estimate it too, by the parameter-shift rule, with
    shot noise of its own). Validation runs with the same shots, so the best epoch is
    chosen as a device would choose it. Returns the training history and best epoch.
    """
    from .training import train

    with emulate(model, Execution(shots=shots, seed=seed)):
        result = train(model, train_set, val_set, epochs=epochs, lr=lr, seed=seed, progress=progress)
    return {"history": result.history, "best_epoch": result.best_epoch}


def circuit_budget(variant: str, shots: int = 1_000) -> dict[str, object]:
    """Circuit executions and shots per event of a variant: inference, and one training step.

    Per token and encoder layer a hybrid head runs a query, a key and a value circuit per head;
    a quantum feed-forward one circuit, a layer of quantum projections four; a Runge–Kutta
    layer of order k all of them k times. A training step needs the gradient of every circuit
    with respect to its P angles and its d inputs (which depend on earlier parameters): by
    the parameter-shift rule two more executions per angle and per input.
    """
    from .ansatz import query_key_parameter_count, value_parameter_count
    from .models import ATTENTION_LOADERS, ViTConfig

    config = ViTConfig.from_variant(variant)
    per_token: list[tuple[str, int, int, int]] = []  # (circuit, count, angles, inputs) per token and layer
    if config.attention in ATTENTION_LOADERS:
        d = config.d_head
        per_token += [("query/key", 2 * config.n_heads, query_key_parameter_count(d), d)]
        per_token += [("value", config.n_heads, value_parameter_count(d), d)]
    elif config.attention == "qproj":
        per_token += [("projection", 4, config.projection_layers * config.d_token, config.d_token)]
    if config.feed_forward == "qmlp":
        per_token += [("feed-forward", 1, value_parameter_count(config.d_token), config.d_token)]
    repeats = config.n_tokens * config.encoder_layers * config.rk_order
    inference = repeats * sum(count for _, count, _, _ in per_token)
    gradient = repeats * sum(count * 2 * (angles + inputs) for _, count, angles, inputs in per_token)
    return {
        "variant": variant,
        "circuits": [
            {"circuit": name, "per_token_and_layer": count, "angles": angles, "inputs": inputs}
            for name, count, angles, inputs in per_token
        ],
        "executions_inference": inference,
        "executions_training_step": inference + gradient,
        "shots_inference": inference * shots,
        "shots_training_step": (inference + gradient) * shots,
    }
