"""Named training protocols, one run per variant, sweeps, and the results they leave behind.

A *protocol* fixes the data (how many events, from where), the epochs and the optimiser
settings, so that every number in the book can say how it was produced:

* ``quick`` — CI: 2 000 events of the committed sample, one epoch;
* ``cpu`` — 100 000 simulated events (or the first 100 000 of ``$QVIT_DATA``), 8 epochs:
  every variant together in about an hour on a 2-core laptop-class CPU;
* ``paper`` — the paper's 498 000 events, 40 epochs, batch 512: for a GPU;
* ``converged`` — the ``cpu`` protocol's events and splits for the paper's 40 epochs, three
  seeds of every variant: training to convergence, with a spread over seeds.

A finished run leaves ``data/results/<protocol>/<name>.json`` (configuration, data, history,
test metrics, ROC curve, wall time, versions, the weights' SHA-256) and ``<name>.pt`` (the
best epoch's weights), through the run store (:mod:`qvit_lib.runs.store`); the name is the
variant, with ``-seed<S>`` for seeds other than 0. While a run trains, its
full state is checkpointed after every epoch under ``data/cache/checkpoints`` so that an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist

from qvit_lib.analysis.metrics import classifier_metrics, compact_roc, delong_test, roc_auc
from qvit_lib.core import config, paper
from qvit_lib.core.config import DATA_ENV, DEFAULT_DATA_DIR, checkpoint_root
from qvit_lib.core.errors import CheckpointError, ConfigError, RecordError, TrainingInterrupted
from qvit_lib.core.provenance import code_version, stamp
from qvit_lib.data.dataset import DataError, EcalDataset, resolve_location, shown_path
from qvit_lib.models.classifiers import (
    CNN_VARIANTS,
    INPUTS,
    build_classifier,
    config_from_record,
    config_from_variant,
    model_inputs,
)
from qvit_lib.models.variants import ViTConfig, all_variants
from qvit_lib.models.vit import count_parameters
from qvit_lib.runs import store
from qvit_lib.runs.store import result_paths, run_name
from qvit_lib.training.checkpoint import RunIdentity
from qvit_lib.training.classifier import predict_logits, train
from qvit_lib.training.process import distributed_rank

__all__ = [
    "RECORD_SCHEMA",
    "read_run_record",
    "CHECKPOINT_DIR",
    "SIMULATION_SEED",
    "TEST_SLICE_EVENTS",
    "Protocol",
    "PROTOCOLS",
    "SEEDED_VARIANTS",
    "SWEEP_SEEDS",
    "DESIGN_RUNS",
    "SWEEP_FAMILIES",
    "EVERY_SEED_PROTOCOLS",
    "TUNING_PROTOCOL",
    "OPTIMISER_DEFAULTS",
    "TUNING_SCHEMA",
    "tuning_path",
    "read_tuning_record",
    "tuned_settings",
    "get_protocol",
    "check_variant",
    "data_location",
    "load_protocol_data",
    "run_variant",
    "TrainedRun",
    "load_trained",
    "DESIGN_FAMILIES",
    "best_of_design_families",
    "best_part_two",
    "tuned_models",
    "sweep_plan",
    "claim_run",
    "run_claimed",
    "sweep",
    "sweep_in_processes",
    "load_results",
    "results_table",
    "history_curves",
    "seed_spread",
    "training_seconds",
    "UNTRAINED_TOLERANCE",
    "never_trained",
    "idle_training_seconds",
    "test_split",
    "variant_inputs",
    "test_scores",
    "paired_comparison",
    "seed_comparison",
    "LATE_FRACTION",
    "seed_table",
]


#: Where checkpoints go by default; ``QVIT_CHECKPOINTS`` moves them (``config.checkpoint_root``).
#:
#: :meta hide-value:
CHECKPOINT_DIR = config.CHECKPOINT_DIR
SIMULATION_SEED = 2024  #: the seed of the committed sample; larger simulated sets use it too
TEST_SLICE_EVENTS = 2000  #: a run records its metrics on the first events of its test split too


@dataclass(frozen=True)
class Protocol:
    """How a variant is trained: data size, epochs, optimiser settings."""

    name: str
    n_events: int  # train + val + test, half photons and half electrons
    epochs: int
    batch_size: int = paper.BATCH_SIZE
    lr: float = paper.LEARNING_RATE
    description: str = ""


#: The training protocols by name (chapter 6).
PROTOCOLS = {
    "quick": Protocol("quick", 2_000, 1, description="CI smoke run: 2 000 events of the committed sample, 1 epoch"),
    "cpu": Protocol(
        "cpu",
        100_000,
        8,
        description="100 000 simulated events (80 000 for training), 8 epochs: every variant on a 2-core CPU",
    ),
    "paper": Protocol(
        "paper",
        498_000,
        paper.EPOCHS,
        description="the paper's protocol: 498 000 events, 40 epochs, batch 512 (for a GPU)",
    ),
    "converged": Protocol(
        "converged",
        100_000,
        paper.EPOCHS,
        description="the cpu protocol's events and splits for the paper's 40 epochs: three seeds of every variant",
    ),
    "tuned": Protocol(
        "tuned",
        100_000,
        paper.EPOCHS,
        description="the converged protocol with each model's own learning rate, weight decay and warm-up, "
        "chosen by the same Ray Tune search (python -m qvit_lib tune)",
    ),
}

SEEDED_VARIANTS = ("classical-cmx-pe", "hybrid-cmx-pe", "hybrid-angle-cmx-pe")  #: run with three seeds
#: The seeds a sweep runs for each variant.
SWEEP_SEEDS = (0, 1, 2)
# Chapter 9's runs (all with pooling cmx and pe), the costliest first so that two workers finish
# together: attention × feed-forward × order 1 and 4, RK2 and RK3 of the classical model, and the
# public code's own hybrid1 layer (blind loader, quantum feed-forward).
#: The design-space runs of chapter 9.
DESIGN_RUNS = (
    "qproj-cmx-pe-qmlp-rk4",
    "qproj-cmx-pe-rk4",
    "hybrid-angle-cmx-pe-qmlp-rk4",
    "classical-cmx-pe-qmlp-rk4",
    "hybrid-angle-cmx-pe-rk4",
    "classical-cmx-pe-rk4",
    "qproj-cmx-pe-qmlp",
    "classical-cmx-pe-rk3",
    "qproj-cmx-pe",
    "hybrid-angle-cmx-pe-qmlp",
    "classical-cmx-pe-rk2",
    "classical-cmx-pe-qmlp",
    "hybrid-cmx-pe-qmlp",
)
#: the paper's 22 variants, chapter 9's runs, the CNN baseline, or the equally tuned models (protocol ``tuned``)
SWEEP_FAMILIES = ("paper", "design", "cnn", "tuned")
TUNING_PROTOCOL = "cpu"  #: the protocol whose validation AUC the equal tuning searches on
OPTIMISER_DEFAULTS = {"weight_decay": 0.0, "warmup_epochs": 0.0}  #: the paper's plain Adam
EVERY_SEED_PROTOCOLS = ("converged",)  #: protocols whose sweep runs every variant with every seed


TUNING_SCHEMA: store.Schema = {
    "variant": str,
    "protocol": str,
    "metric": str,
    "search_space": dict,
    "scheduler": dict,
    "trials": list,
    "chosen": {"lr": float, "weight_decay": float, "warmup_epochs": float},
    "chosen_val_auc": float,
    "wall_seconds": float,
    "machine": dict,
    "versions": dict,
    "code": dict,
    "finished": str,
}
"""An equal-tuning search's record: its space, every trial and the settings it chose."""


def tuning_path(variant: str, protocol: str = TUNING_PROTOCOL, results_dir: Path | None = None) -> Path:
    """Where the tuning record of ``variant`` on ``protocol`` lives (``data/results/tuning/<protocol>/``)."""
    return result_paths(protocol, variant, folder="tuning", results_dir=results_dir).record


def read_tuning_record(path: Path) -> dict[str, object]:
    """A tuning record, checked: schema, and the variant and protocol against the file's name and folder."""

    def names(record: dict[str, object], where: Path) -> None:
        if record["variant"] != where.stem or record["protocol"] != where.parent.name:
            raise RecordError(
                f"{where}: the record tunes {record['variant']} on {record['protocol']}, "
                f"but the file names {where.stem} on {where.parent.name}"
            )

    return store.read_record(path, TUNING_SCHEMA, names)


def tuned_settings(variant: str, results_dir: Path | None = None) -> dict[str, float]:
    """The learning rate, weight decay and warm-up that the equal tuning chose for ``variant``."""
    path = tuning_path(variant, results_dir=results_dir)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no tuning record of {variant}; search first with: python -m qvit_lib tune --variant {variant}"
        )
    return dict(read_tuning_record(path)["chosen"])


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``, or a clear error listing the valid ones."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; valid protocols: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def check_variant(name: str) -> str:
    """``name`` if it is a variant (a ViT's or the CNN's), or a clear error saying what a variant name looks like."""

    config_from_variant(name)
    return name


RECORD_SCHEMA: store.Schema = {
    "variant": str,
    "seed": int,
    "protocol": {"name": str, "n_events": int, "epochs": int, "batch_size": int, "lr": float, "description": str},
    "config": dict,
    "parameters": int,
    "data": dict,
    "history": list,
    "best_epoch": int,
    "test": {"accuracy": float, "bce": float, "auc": float},
    "test_slice": {"events": int, "accuracy": float, "bce": float, "auc": float},
    "roc": {"false_positive_rate": list, "true_positive_rate": list},
    "wall_seconds": float,
    "resumed_from_checkpoint": bool,
    "machine": dict,
    "versions": dict,
    "code": dict,
    "finished": str,
    "weights_sha256?": str,
    "optimiser?": {"lr": float, "weight_decay": float, "warmup_epochs": float},
}
"""A classifier run's record: every field and its type (``?``: may be absent, as in a run still unsaved)."""


def _check_names(record: dict[str, object], path: Path) -> None:
    """The record's variant, configuration, seed and protocol agree with each other and with its file's name."""

    store.check_record_names(record, path, config_from_record, "variant", ("protocol.name", record["protocol"]["name"]))


def read_run_record(path: Path) -> dict[str, object]:
    """A classifier run's record, checked: schema, then names against the file's (:mod:`qvit_lib.runs.store`)."""
    return store.read_record(path, RECORD_SCHEMA, _check_names)


def _names_a_run(stem: str) -> bool:
    """Whether a results file's stem is a run's name: a variant, with ``-seed<S>`` for seeds above 0."""

    try:
        config_from_variant(store.split_run_name(stem)[0])
    except ConfigError:
        return False
    return True


def data_location(protocol: Protocol) -> Path:
    """Where a protocol's events come from: ``$QVIT_DATA`` if set, else simulation.

    Simulated sets larger than the committed sample are generated once and cached.
    """
    # lazy: loads SciPy; importing this module does not
    from qvit_lib.data.simulation import simulated_dataset

    if os.environ.get(DATA_ENV):
        return resolve_location(None)
    if protocol.n_events <= 50_000:
        return DEFAULT_DATA_DIR
    return simulated_dataset(protocol.n_events // 2, seed=SIMULATION_SEED)


def load_protocol_data(
    protocol: Protocol, device: str = "cpu", inputs: str = "tokens"
) -> tuple[dict[str, tuple], dict[str, object]]:
    """Train, validation and test events for a protocol, and a description of the data.

    ``inputs``: what the model reads (:data:`~qvit_lib.models.classifiers.INPUTS`): the ViTs'
    tokens, or whole crops of the ``energy`` channel, the ``time`` channel or ``both`` for the CNN.
    The events are the same for every ``inputs``.
    """
    if inputs not in INPUTS:
        raise ConfigError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")

    with EcalDataset(data_location(protocol)) as dataset:
        available = 2 * dataset.n_per_class
        if available < protocol.n_events and protocol.name != "paper":
            raise DataError(
                f"{dataset.location}: protocol {protocol.name!r} needs {protocol.n_events} events, the data has "
                f"{available}"
            )
        sizes = _split_sizes(protocol, dataset)
        read = dataset.tokens if inputs == "tokens" else lambda split, n: dataset.images(split, n, inputs)
        sets = {split: tuple(t.to(device) for t in read(split, n)) for split, n in sizes.items()}
        description = dataset.describe()
    description["files"] = [shown_path(f) for f in description["files"]]
    description["used_split_sizes"] = sizes
    description["inputs"] = inputs
    return sets, description


def _split_sizes(protocol: Protocol, dataset) -> dict[str, int]:
    """Events of each split a protocol uses: its share of the data's splits."""
    fraction = min(1.0, protocol.n_events / (2 * dataset.n_per_class))
    return {split: int(round(dataset.split_size(split) * fraction)) for split in ("train", "val", "test")}


def run_variant(
    variant: str,
    protocol: str | Protocol,
    *,
    seed: int = 0,
    optimiser: dict[str, float] | None = None,
    resume: bool = False,
    results_dir: Path | None = None,
    checkpoint_dir: Path | None = None,
    device: str | None = None,
    progress: bool | None = None,
    data: tuple[dict[str, tuple], dict[str, object]] | None = None,
) -> dict[str, object]:
    """Train one variant under a protocol, evaluate on the test split, write its results.

    ``resume`` continues from the run's checkpoint if there is one. ``data`` lets a sweep
    load the events once for many variants (:func:`load_protocol_data`, with the inputs the
    variant reads). ``optimiser``: learning rate, weight decay and warm-up epochs instead of the
    protocol's plain Adam at its learning rate; under the ``tuned`` protocol, the variant's
    tuned settings (:func:`tuned_settings`). Inside a torch.distributed group (``torchrun``)
    the training is data-parallel and rank 0 writes. Returns the record written to JSON.
    """

    inputs = model_inputs(config_from_variant(variant))
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    rank, world = distributed_rank()
    if device is None:
        device = f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
    if optimiser is None and protocol.name == "tuned":
        optimiser = tuned_settings(variant, results_dir)
    settings = {"lr": protocol.lr, **OPTIMISER_DEFAULTS, **(optimiser or {})}
    if set(settings) != {"lr", *OPTIMISER_DEFAULTS}:
        raise ConfigError(f"optimiser: unknown settings {sorted(set(settings) - {'lr', *OPTIMISER_DEFAULTS})}")
    if data is not None and data[1].get("inputs", "tokens") != inputs:
        raise ConfigError(f"{variant} reads {inputs}, but the events passed as data are {data[1].get('inputs')}")
    sets, description = data if data is not None else load_protocol_data(protocol, device, inputs)
    files = result_paths(protocol.name, variant, seed, results_dir=results_dir)
    checkpoint = (checkpoint_dir or checkpoint_root()) / protocol.name / f"{run_name(variant, seed)}.ckpt"
    if rank == 0:
        store.check_output_paths(files.record, files.weights, checkpoint)
    if not resume and checkpoint.exists() and rank == 0:
        checkpoint.unlink()
    if world > 1:
        dist.barrier()
    resumed = checkpoint.exists()
    if resume and rank == 0:
        print(
            f"resuming {run_name(variant, seed)} from its checkpoint {checkpoint}"
            if resumed
            else f"no checkpoint at {checkpoint}: training {run_name(variant, seed)} from scratch",
            file=sys.stderr,
            flush=True,
        )

    code_version()  # read now (and kept): the record names the code this run started with
    model = build_classifier(variant, seed=seed).to(device)
    start = time.perf_counter()
    result = train(
        model,
        sets["train"],
        sets["val"],
        epochs=protocol.epochs,
        batch_size=protocol.batch_size,
        **settings,
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
        resume=resume,
        run=RunIdentity(run_name(variant, seed), seed, protocol.name),
    )
    wall = time.perf_counter() - start
    logits = predict_logits(model, sets["test"][0]).cpu()
    test = classifier_metrics(logits, sets["test"][1])
    head = min(TEST_SLICE_EVENTS, len(logits))  # what load_trained's check recomputes
    record = {
        "variant": variant,
        "seed": seed,
        "protocol": dataclasses.asdict(protocol),
        "config": dataclasses.asdict(model.config),
        "parameters": count_parameters(model),
        "data": description,
        "history": result.history,
        "best_epoch": result.best_epoch,
        "test": test,
        "test_slice": {"events": head, **classifier_metrics(logits[:head], sets["test"][1][:head])},
        "roc": compact_roc(logits.numpy(), sets["test"][1].cpu().numpy()),
        "wall_seconds": round(wall, 1),
        "resumed_from_checkpoint": resumed,
        **stamp(device, world),
        **({"optimiser": {k: float(v) for k, v in settings.items()}} if optimiser is not None else {}),
    }
    if rank != 0:  # data-parallel: one process writes
        return record
    store.save_run(record, files, model.state_dict())  # weights first, then the record with their SHA-256
    checkpoint.unlink(missing_ok=True)
    return record


class TrainedRun(NamedTuple):
    """A committed run: the model with its best weights (in evaluation mode) and its record."""

    model: object
    record: dict[str, object]


def load_trained(variant: str, protocol: str = "cpu", seed: int = 0, results_dir: Path | None = None) -> TrainedRun:
    """The trained model of a committed run, rebuilt from its results JSON, with its weights.

    Checks the weights against the architecture and the parameter count against the record,
    so a stale or foreign file is refused with a clear error rather than loaded wrongly.
    """

    check_variant(variant)
    model, record = store.load_network(
        result_paths(protocol, variant, seed, results_dir=results_dir),
        read_run_record,
        lambda record: build_classifier(config_from_record(record["config"])),
        lambda record: record["parameters"],
        f"no committed run of {run_name(variant, seed)} under protocol {protocol!r}",
        f"python -m qvit_lib train --variant {variant} --protocol {protocol} --seed {seed}",
    )
    return TrainedRun(model, record)


DESIGN_FAMILIES = {  #: chapter 9's new layers: which variants carry each
    "quantum feed-forward": lambda config: config.feed_forward == "qmlp",
    "quantum projections": lambda config: config.attention == "qproj",
    "Runge–Kutta layers": lambda config: config.rk_order > 1,
}


def best_of_design_families(results_dir: Path | None = None) -> dict[str, str]:
    """Per new family of chapter 9, its variant with the highest committed ``cpu`` test AUC (seed 0).

    The converged protocol trains these with every seed. A variant of two families (e.g.
    ``-qmlp-rk4``) competes in both.
    """

    records = [r for r in load_results("cpu", results_dir, DESIGN_RUNS).values() if r["seed"] == 0]
    best = {}
    for family, carries in DESIGN_FAMILIES.items():
        members = [r for r in records if carries(ViTConfig.from_variant(r["variant"]))]
        if not members:
            raise ConfigError(
                f"no committed cpu run of the {family} family: run `sweep --protocol cpu --family design`"
            )
        best[family] = max(members, key=lambda r: r["test"]["auc"])["variant"]
    return best


def best_part_two(results_dir: Path | None = None) -> str:
    """The Part II variant with the highest mean test AUC over its seeds under the converged protocol,
    among the best of each new family (:func:`best_of_design_families`)."""
    candidates = list(best_of_design_families(results_dir).values())
    rows = seed_table(load_results("converged", results_dir, candidates), candidates)
    return max(rows, key=lambda row: row["auc"][0])["variant"]


def tuned_models(results_dir: Path | None = None) -> tuple[str, ...]:
    """The models that get the same tuning budget: the paper's classical and ``hybrid-angle``
    models, the best Part II variant and the CNN on the energy channel."""
    return ("classical-cmx-pe", "hybrid-angle-cmx-pe", best_part_two(results_dir), "resnet15-energy")


def sweep_plan(
    seeds: tuple[int, ...] = SWEEP_SEEDS, protocol: str = "cpu", family: str = "paper"
) -> list[tuple[str, int]]:
    """The runs of a protocol's sweep over a family of variants, in the order they are trained.

    Family ``tuned`` (protocol ``tuned`` only): :func:`tuned_models` with every seed. Family
    ``cnn``: the CNN baseline (:data:`~qvit_lib.models.classifiers.CNN_VARIANTS`),
    every input with every seed, seed by seed. Family ``design``: chapter 9's runs
    (:data:`DESIGN_RUNS`), seed 0; under a protocol of
    :data:`EVERY_SEED_PROTOCOLS`, the best of each new family (:func:`best_of_design_families`)
    with every seed, seed by seed (each family has a first run soonest). Family ``paper``:

    usually the ``cmx-pe`` variants, every other variant (seed 0), then the ``cmx-pe``
    variants with the other seeds. A protocol of :data:`EVERY_SEED_PROTOCOLS` runs every
    variant with every seed: first the ``cmx-pe`` variants and ``none-cmx-pe`` with all
    seeds (the comparisons that need a spread soonest), then the rest seed by seed.
    """

    if family not in SWEEP_FAMILIES:
        raise ConfigError(f"unknown sweep family {family!r}; valid: {', '.join(SWEEP_FAMILIES)}")
    if (family == "tuned") != (protocol == "tuned"):
        raise ConfigError(
            "the family 'tuned' and the protocol 'tuned' go together: sweep --protocol tuned --family tuned"
        )
    if family == "tuned":
        return [(variant, seed) for seed in seeds for variant in tuned_models()]
    if family == "cnn":
        return [(variant, seed) for seed in seeds for variant in CNN_VARIANTS]
    if family == "design":
        if protocol in EVERY_SEED_PROTOCOLS:
            return [(variant, seed) for seed in seeds for variant in best_of_design_families().values()]
        return [(variant, 0) for variant in DESIGN_RUNS]
    variants = all_variants()  # the paper's 22
    if protocol in EVERY_SEED_PROTOCOLS:
        first = [*SEEDED_VARIANTS, "none-cmx-pe"]
        plan = [(variant, seed) for variant in first for seed in seeds]
        return plan + [(variant, seed) for seed in seeds for variant in variants if variant not in first]
    plan = [(variant, 0) for variant in SEEDED_VARIANTS]
    plan += [(variant, 0) for variant in variants if variant not in SEEDED_VARIANTS]
    plan += [(variant, seed) for seed in seeds if seed != 0 for variant in SEEDED_VARIANTS]
    return plan


def claim_run(json_path: Path) -> Path | None:
    """Claim a run for this process: its lock file, created atomically, or None if taken.

    The lock (``<run>.lock`` beside the results JSON) names the host and process. A lock
    left by a process of this host that no longer runs is taken over; one from another
    host is respected (delete it by hand if that host is gone).
    """
    lock = json_path.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if not _stale_lock(lock):
                return None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}, handle)
        return lock
    return None


def _stale_lock(lock: Path) -> bool:
    """A lock of this host whose process is gone (or an unreadable, half-written lock)."""
    try:
        owner = json.loads(lock.read_text())
    except (OSError, ValueError):
        # Written by os.open then json.dump: empty only for an instant, or if its writer died.
        return time.time() - lock.stat().st_mtime > 60 if lock.exists() else True
    if owner.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, ValueError, TypeError):
        return False
    return False


def run_claimed(
    variant: str,
    seed: int,
    protocol: Protocol,
    *,
    results_dir: Path | None = None,
    device: str | None = None,
    progress: bool | None = None,
    data=None,
) -> tuple[str, bool]:
    """One run of a sweep, unless it is finished or claimed by another process: (status, trained).

    The run is claimed (:func:`claim_run`), resumed from its checkpoint, recorded and released;
    both sweeps, the file-lock one and Ray's (:func:`~qvit_lib.runs.tuning.sweep_with_ray`), call
    this. ``data``: a callable giving the events (:func:`load_protocol_data`), called only if the
    run trains.
    """
    json_path = result_paths(protocol.name, variant, seed, results_dir=results_dir).record
    if json_path.exists():
        return "done already", False
    lock = claim_run(json_path)
    if lock is None:
        return "taken by another process", False
    try:
        if json_path.exists():  # finished by another process between the check and the claim
            return "done already", False
        record = run_variant(
            variant,
            protocol,
            seed=seed,
            resume=True,
            results_dir=results_dir,
            device=device,
            progress=progress,
            data=data() if data is not None else None,
        )
    finally:
        lock.unlink(missing_ok=True)
    return f"test AUC {record['test']['auc']:.3f} in {record['wall_seconds']:.0f} s", True


def sweep(
    protocol: str,
    *,
    seeds: tuple[int, ...] = SWEEP_SEEDS,
    results_dir: Path | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    progress: bool | None = None,
    plan: list[tuple[str, int]] | None = None,
) -> list[tuple[str, int, str]]:
    """Train every run of ``plan`` (default :func:`sweep_plan`) that has no results yet; resume interrupted ones.

    Under ``torchrun`` (or with ``rank``/``world_size``) each process takes every
    ``world_size``-th run, so a sweep spreads over processes, GPUs or nodes. A process claims
    each run before training it (:func:`claim_run`), so sweeps started independently on the
    same results directory share the work instead of training runs twice. Returns
    (variant, seed, status) for this process's share.
    """

    chosen = get_protocol(protocol)
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    world_size = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else world_size
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and world_size > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank)) % torch.cuda.device_count()}"
    for variant, _ in plan or ():
        check_variant(variant)
    share = (plan if plan is not None else sweep_plan(seeds, chosen.name))[rank::world_size]
    data: dict[str, tuple[dict[str, tuple], dict[str, object]]] = {}  # by what the models read, loaded once
    statuses = []
    for variant, seed in share:
        inputs = variant_inputs(variant)

        def events(inputs: str = inputs) -> tuple[dict[str, tuple], dict[str, object]]:
            if inputs not in data:  # loaded once per kind of input, and only when a run needs it
                data[inputs] = load_protocol_data(chosen, device, inputs)
            return data[inputs]

        status, trained = run_claimed(
            variant, seed, chosen, results_dir=results_dir, device=device, progress=progress, data=events
        )
        statuses.append((variant, seed, status))
        if trained:
            print(f"[{rank}/{world_size}] {run_name(variant, seed)}: {status}", flush=True)
    return statuses


def _sweep_worker(protocol: str, seeds: tuple[int, ...], results_dir: Path | None, plan) -> None:
    """One single-threaded worker of :func:`sweep_in_processes`: a whole sweep, sharing runs by claims."""

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    code_version()  # recorded by every run of this worker: the code it was started with
    try:
        sweep(protocol, seeds=seeds, results_dir=results_dir, progress=False, plan=plan)  # prints each run
    except KeyboardInterrupt:  # the parent says what was kept
        raise SystemExit(130) from None


def sweep_in_processes(
    protocol: str,
    workers: int | None = None,
    *,
    seeds: tuple[int, ...] = SWEEP_SEEDS,
    results_dir: Path | None = None,
    plan: list[tuple[str, int]] | None = None,
) -> list[tuple[str, int, str]]:
    """A sweep as ``workers`` single-threaded processes (default: one per core) sharing the runs.

    Each worker walks the whole plan and claims a run before training it (:func:`claim_run`),
    so no run is trained twice and a worker that finishes early takes the next free one.
    On two cores, two single-threaded processes train more events per second than one
    process with two threads (``python -m qvit_lib bench --suite sweep`` measures both).
    Each run is deterministic for its seed: it always trains with one thread. Returns the
    status of every run of the plan after the workers are done.
    """

    chosen = get_protocol(protocol)
    plan = plan if plan is not None else sweep_plan(seeds, chosen.name)
    for variant, _ in plan:
        check_variant(variant)
    workers = workers or os.cpu_count() or 1
    data_location(chosen)  # simulate (and cache) the protocol's events once, before the workers start
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_sweep_worker, args=(chosen.name, seeds, results_dir, plan), name=f"sweep-{i}")
        for i in range(workers)
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:
            process.join(timeout=60)
        raise TrainingInterrupted(
            "the sweep's workers stopped; every unfinished run keeps the checkpoint of its last finished epoch"
        ) from None
    failed = [p.name for p in processes if p.exitcode not in (0, None)]
    if failed:
        raise RuntimeError(f"sweep workers {', '.join(failed)} failed (see their output above)")
    done = [
        (v, s, "done" if result_paths(chosen.name, v, s, results_dir=results_dir).record.exists() else "missing")
        for v, s in plan
    ]
    return done


def load_results(
    protocol: str, results_dir: Path | None = None, variants: list[str] | tuple[str, ...] | None = None
) -> dict[str, dict[str, object]]:
    """Every committed result of a protocol, keyed by run name (variant, ``-seed<S>``).

    ``variants``: only the runs of these variants (e.g. :func:`~qvit_lib.models.variants.all_variants`,
    the paper's 22, when chapter 9's runs share the directory).
    """
    root = (results_dir or store.RESULTS_DIR) / protocol
    records = store.list_records(root, _names_a_run, read_run_record)
    return {k: r for k, r in records.items() if variants is None or r["variant"] in variants}


def results_table(results: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    """One row per seed-0 run: our test metrics and parameters beside the paper's, where it has them."""

    rows = []
    for record in results.values():
        if record["seed"] != 0:
            continue
        config = config_from_variant(record["variant"])
        reference = (
            paper.TABLE1.get((config.attention, config.pooling, config.positional))
            if isinstance(config, ViTConfig) and config.feed_forward == "mlp" and config.rk_order == 1
            else None
        )
        rows.append(
            {
                "variant": record["variant"],
                "parameters": record["parameters"],
                **{key: record["test"][key] for key in ("accuracy", "bce", "auc")},
                "paper": dict(zip(paper.METRICS, reference)) if reference else None,
            }
        )
    return rows


def history_curves(records: list[dict[str, object]], key: str) -> np.ndarray:
    """One row per run: the history's ``key`` (e.g. ``"val_loss"``) per epoch, cut to the shortest
    history — the curves that a mean and a band over seeds are taken of."""
    if not records:
        raise ValueError("history_curves needs at least one run")
    epochs = min(len(r["history"]) for r in records)
    return np.array([[h[key] for h in r["history"][:epochs]] for r in records], dtype=np.float64)


def seed_spread(results: dict[str, dict[str, object]], variant: str, key: str = "auc") -> tuple[float, float, int]:
    """Mean, standard deviation (n − 1) and count of a test metric over a variant's seeds (:func:`seed_table`)."""
    (row,) = seed_table(results, [variant])
    mean, sd = row[key]
    return mean, sd, len(row["seeds"])


def training_seconds(record: dict[str, object]) -> float:
    """A run's training time: its epochs' seconds summed (``wall_seconds`` covers only the last
    process of a resumed run)."""
    return float(sum(h["seconds"] for h in record["history"]))


UNTRAINED_TOLERANCE = 1e-3  #: nats from ln 2; a score of AUC 0.55 already lowers the loss by about 2.5e-3


def never_trained(record: dict[str, object], tolerance: float = UNTRAINED_TOLERANCE) -> bool:
    """Whether a run learned nothing: its training loss stayed within ``tolerance`` of ln 2 (the
    loss of a constant score on balanced classes) in every epoch."""
    history = record["history"]
    if not history:
        raise ConfigError(f"run {record.get('variant')!r} seed {record.get('seed')!r} has no epochs in its history")
    return all(abs(h["train_loss"] - np.log(2)) < tolerance for h in history)


def idle_training_seconds(record: dict[str, object]) -> float:
    """A run's cost on an idle machine: its fastest epoch times its number of epochs."""
    return float(min(h["seconds"] for h in record["history"]) * len(record["history"]))


def variant_inputs(variant: str) -> str:
    """What a variant's model reads: ``tokens`` for a vision transformer, the CNN's channels otherwise."""
    return model_inputs(config_from_variant(variant))


def test_split(protocol: str, inputs: str = "tokens") -> tuple[object, object]:
    """The test events (model inputs, labels) every run of a protocol was tested on.

    ``inputs``: the ViTs' ``tokens``, or the CNN's crops (``energy``, ``time``, ``both``); the
    events and labels are the same for all.
    """

    chosen = get_protocol(protocol)
    if inputs not in INPUTS:
        raise ConfigError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
    with EcalDataset(data_location(chosen)) as dataset:
        n = _split_sizes(chosen, dataset)["test"]
        return dataset.tokens("test", n) if inputs == "tokens" else dataset.images("test", n, inputs)


def test_scores(
    protocol: str,
    variant: str,
    seed: int = 0,
    events: tuple[object, object] | None = None,
    results_dir: Path | None = None,
):
    """A committed run's logits on its protocol's test events, checked against its record.

    ``events``: the test split if already loaded, as the variant reads it (:func:`test_split`
    with :func:`variant_inputs`). The AUC of the logits must equal the recorded test AUC, so
    weights and record are known to belong together.
    """

    tokens, labels = events if events is not None else test_split(protocol, variant_inputs(variant))
    model, record = load_trained(variant, protocol, seed, results_dir)
    scores = predict_logits(model, tokens).detach().numpy()
    computed, recorded = roc_auc(scores, labels.numpy()), record["test"]["auc"]
    if abs(computed - recorded) > 1e-4:
        raise CheckpointError(
            f"{run_name(variant, seed)} ({protocol}): test AUC {computed:.5f} from its weights, "
            f"{recorded:.5f} in its record; the committed files do not belong together"
        )
    return scores


def paired_comparison(
    protocol: str, run_a: tuple[str, int], run_b: tuple[str, int], events: tuple[object, object] | None = None
) -> dict[str, float]:
    """DeLong's test of two committed runs' test AUCs on the same test events.

    ``run_a`` and ``run_b`` are (variant, seed); ``events`` the protocol's test split if
    already loaded (:func:`test_split`). Each run's AUC is checked against its record.
    """

    loaded = {}
    if events is not None:
        loaded["tokens"] = events
    for variant, _ in (run_a, run_b):
        inputs = variant_inputs(variant)
        loaded[inputs] = loaded.get(inputs) or test_split(protocol, inputs)
    a, b = (test_scores(protocol, variant, seed, loaded[variant_inputs(variant)]) for variant, seed in (run_a, run_b))
    return delong_test(a, b, loaded[variant_inputs(run_a[0])][1].numpy())


def seed_comparison(
    scores: dict[tuple[str, int], np.ndarray], variant_a: str, variant_b: str, labels: np.ndarray
) -> dict[str, object]:
    """``variant_a`` against ``variant_b`` on the same test events, seed by seed, and over seeds.

    ``scores``: (variant, seed) → test scores (:func:`test_scores`, each run scored once);
    the seeds both variants have are compared. Per seed, DeLong's paired test (its standard
    error is the test events' share of the noise); over seeds, the mean AUC difference and its
    standard deviation (training's share) and a one-sample t-test of the per-seed differences
    (is the difference one of the variants, not of a lucky seed?), so that "within noise" is numbers.
    ``ahead``: the variant with the higher AUC on every seed, or None where the seeds disagree.
    """
    # lazy: loads SciPy; importing this module does not
    from scipy import stats

    seeds = sorted({s for v, s in scores if v == variant_a} & {s for v, s in scores if v == variant_b})
    if not seeds:
        raise ConfigError(f"no seed with scores of both {variant_a} and {variant_b}")
    tests = [delong_test(scores[variant_a, s], scores[variant_b, s], labels) for s in seeds]
    differences = np.array([t["difference"] for t in tests])
    return {
        "a": variant_a,
        "b": variant_b,
        "seeds": seeds,
        "per_seed": tests,
        "mean_difference": float(differences.mean()),
        "seed_sd": float(differences.std(ddof=1)) if len(seeds) > 1 else float("nan"),
        "largest_p": max(t["p_value"] for t in tests),
        "seed_p": float(stats.ttest_1samp(differences, 0.0).pvalue) if len(seeds) > 1 else float("nan"),
        "ahead": variant_a if (differences > 0).all() else variant_b if (differences < 0).all() else None,
    }


LATE_FRACTION = 0.1  #: a best epoch in the last 10 % of a run's epochs: it may still have been improving


def seed_table(
    results: dict[str, dict[str, object]], variants: list[str] | None = None, learned_only: bool = False
) -> list[dict[str, object]]:
    """Per variant: test accuracy, BCE and AUC as mean ± SD over its seeds, and the runs whose best
    epoch came late (in the last :data:`LATE_FRACTION` of the epochs) — those were still learning.

    With ``learned_only``, a variant some of whose runs never left ln 2 (:func:`never_trained`) is
    summarised over the runs that learned, and its row lists the others under ``never_trained``: a
    stuck optimisation is not a draw from the spread of the runs that learned. A variant none of
    whose runs learned keeps them all, and lists them all."""
    by_variant: dict[str, list[dict[str, object]]] = {}
    for record in results.values():
        by_variant.setdefault(str(record["variant"]), []).append(record)
    rows = []
    for variant in variants or sorted(by_variant):
        records = sorted(by_variant.get(variant, []), key=lambda r: r["seed"])
        if not records:
            raise KeyError(f"no results for {variant!r}")
        stuck = [r["seed"] for r in records if learned_only and never_trained(r)]
        if len(stuck) < len(records):
            records = [r for r in records if r["seed"] not in stuck]
        row: dict[str, object] = {"variant": variant, "seeds": [r["seed"] for r in records]}
        if learned_only:
            row["never_trained"] = stuck
        for key in ("accuracy", "bce", "auc"):
            values = np.array([r["test"][key] for r in records], dtype=np.float64)
            row[key] = (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0)
        row["late_best_epoch"] = [
            r["seed"] for r in records if r["best_epoch"] > (1 - LATE_FRACTION) * r["protocol"]["epochs"]
        ]
        rows.append(row)
    return rows
