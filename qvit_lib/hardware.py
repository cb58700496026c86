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


HARDWARE_RESULTS = "hardware"  # data/results/hardware/: the scans and fine-tuning runs of chapter 10
SCAN_EVENTS = 4_000  # test events per setting: the first of the protocol's test split


def _record(**fields: object) -> dict[str, object]:
    """A results record with what produced it: code, versions, machine, time."""
    import datetime

    from .provenance import code_version, run_machine, versions

    return {
        **fields,
        "machine": run_machine("cpu"),
        "versions": versions(),
        "code": code_version(),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _write(record: dict[str, object], name: str, results_dir=None):
    import json
    import os

    from .experiments import RESULTS_DIR

    path = (results_dir or RESULTS_DIR) / HARDWARE_RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def _test_events(protocol: str, n_events: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n_events`` of a protocol's test split: events its runs were tested on."""
    from .data import EcalDataset
    from .experiments import data_location, get_protocol

    with EcalDataset(data_location(get_protocol(protocol))) as dataset:
        return dataset.tokens("test", n_events)


def run_device_scan(
    variant: str, protocol: str = "cpu", seed: int = 0, n_events: int = SCAN_EVENTS, results_dir=None, **scan
) -> dict[str, object]:
    """:func:`robustness_scan` of a committed run, written to ``data/results/hardware/<run>.json``."""
    import time

    from .experiments import load_trained, run_name

    model, _ = load_trained(variant, protocol, seed)
    tokens, labels = _test_events(protocol, n_events)
    start = time.perf_counter()
    result = robustness_scan(model, tokens, labels, **scan)
    record = _record(
        variant=variant, protocol=protocol, seed=seed, **result, wall_seconds=round(time.perf_counter() - start, 1)
    )
    _write(record, run_name(variant, seed), results_dir)
    return record


def run_shot_fine_tuning(
    variant: str = "hybrid-angle-cmx-pe",
    protocol: str = "cpu",
    *,
    shots: int = 100,
    epochs: int = 2,
    n_train: int = 20_000,
    n_events: int = SCAN_EVENTS,
    sampling_seeds: tuple[int, ...] = (0, 1, 2),
    results_dir=None,
    progress: bool | None = None,
) -> dict[str, object]:
    """Does training with shot noise make a model robust to it? Two arms from the same committed run.

    Both go on training the committed seed-0 model for ``epochs`` on the first ``n_train``
    training events, validated on the first ``n_events`` of the validation split: one with
    exact expectations, one with ``shots`` in the loop (validation too). Both are then
    tested exactly and at ``shots`` (several sampling seeds), beside the committed model.
    """
    import time

    from .data import EcalDataset
    from .experiments import data_location, get_protocol, load_trained
    from .training import train

    tokens, labels = _test_events(protocol, n_events)
    with EcalDataset(data_location(get_protocol(protocol))) as dataset:
        train_set, val_set = dataset.tokens("train", n_train), dataset.tokens("val", n_events)

    def tested(model: nn.Module) -> dict[str, object]:
        return {
            "exact": device_metrics(model, tokens, labels, Execution()),
            "shots": [device_metrics(model, tokens, labels, Execution(shots=shots, seed=s)) for s in sampling_seeds],
        }

    start = time.perf_counter()
    arms: dict[str, object] = {"committed": tested(load_trained(variant, protocol).model)}
    for arm in ("exact", "shots"):
        model = load_trained(variant, protocol).model.train()
        if arm == "shots":
            run = fine_tune_with_shots(model, train_set, val_set, shots=shots, epochs=epochs, progress=progress)
        else:
            result = train(model, train_set, val_set, epochs=epochs, lr=1e-3, seed=0, progress=progress)
            run = {"history": result.history, "best_epoch": result.best_epoch}
        arms[f"tuned {arm}"] = {**run, **tested(model.eval())}
    record = _record(
        variant=variant,
        protocol=protocol,
        shots=shots,
        epochs=epochs,
        n_train=n_train,
        events=n_events,
        sampling_seeds=list(sampling_seeds),
        arms=arms,
        wall_seconds=round(time.perf_counter() - start, 1),
    )
    _write(record, f"{variant}-finetune-shots{shots}", results_dir)
    return record
