"""Chapter 11's runs: a shower GAN trained under a named protocol, evaluated, written to results.

A run trains :mod:`qvit_lib.models.gan` on the training split of the data (our simulation by default),
then generates as many showers of each class as the test split holds and compares them with
the test split (:func:`qvit_lib.analysis.shower_comparison.compare_showers`), beside the *floor*: the
validation split against the test split, two independent simulated samples of the same size.
The class fidelity asks the book's trained ``classical-cmx-pe`` classifier whether generated
electrons look like electrons and generated photons like photons. Results go to
``data/results/gan/<protocol>/<name>[-seed<S>].json`` with the generator's weights beside it,
through the run store (:mod:`qvit_lib.runs.store`): each seed has its own files.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from qvit_lib.analysis.metrics import classifier_metrics
from qvit_lib.analysis.shower_comparison import compare_showers
from qvit_lib.core.config import CACHE_DIR
from qvit_lib.core.errors import ConfigError, DataError
from qvit_lib.core.provenance import code_version, stamp
from qvit_lib.data.dataset import SPLITS, EcalDataset, normalise_energy, patchify, resolve_location, shown_path
from qvit_lib.models.gan import GANConfig, build_gan, to_log_energy
from qvit_lib.models.vit import count_parameters
from qvit_lib.runs import store
from qvit_lib.runs.experiments import load_trained
from qvit_lib.training.checkpoint import RunIdentity
from qvit_lib.training.classifier import predict_logits
from qvit_lib.training.gan import GANSchedule, train_gan

__all__ = [
    "GAN_PROTOCOLS",
    "FIDELITY_MODEL",
    "gan_protocol",
    "class_fidelity",
    "evaluate_generator",
    "GAN_FOLDER",
    "MIN_EVENTS_PER_CLASS",
    "RECORD_SCHEMA",
    "gan_paths",
    "read_gan_record",
    "run_gan",
    "load_generator",
]


GAN_PROTOCOLS = {
    "quick": GANSchedule(steps=20, batch_size=32, log_every=5, checkpoint_every=10),
    "cpu": GANSchedule(steps=4_000, batch_size=128, log_every=50, checkpoint_every=250),
}
FIDELITY_MODEL = ("classical-cmx-pe", "cpu")  #: the classifier that judges the classes
GAN_FOLDER = "gan"  #: data/results/gan/<protocol>/
MIN_EVENTS_PER_CLASS = 20  #: per split: the shape features' covariance (6 × 6) needs more events than features

RECORD_SCHEMA: store.Schema = {
    "name": str,
    "seed": int,
    "protocol": str,
    "schedule": dict,
    "config": dict,
    "parameters": {"generator": int, "discriminator": int},
    "data": {"location": str, "training_showers": int},
    "history": list,
    "evaluation": dict,
    "wall_seconds": float,
    "machine": dict,
    "versions": dict,
    "code": dict,
    "finished": str,
    "weights_sha256?": str,
}
"""A GAN run's record: every field and its type."""


def gan_protocol(name: str) -> GANSchedule:
    """The schedule of a GAN protocol by name, or a clear error listing the known ones."""
    if name not in GAN_PROTOCOLS:
        raise ConfigError(f"unknown GAN protocol {name!r}; valid: {', '.join(GAN_PROTOCOLS)}")
    return GAN_PROTOCOLS[name]


def _energies(location, split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:

    with EcalDataset(location) as dataset:
        return dataset.load(split, n, normalise=False)


def class_fidelity(energy: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The committed classifier on showers of known class: accuracy and ROC AUC (electron vs photon)."""

    model, _ = load_trained(*FIDELITY_MODEL)
    tokens = torch.from_numpy(patchify(normalise_energy(np.asarray(energy, np.float32))))
    metrics = classifier_metrics(predict_logits(model, tokens), torch.as_tensor(labels, dtype=torch.float32))
    return {"accuracy": metrics["accuracy"], "auc": metrics["auc"]}


def evaluate_generator(generator, location=None, seed: int = 0, n_per_class: int | None = None) -> dict[str, object]:
    """Generated against simulated test showers, per class, with the simulated-vs-simulated floor."""

    test_energy, test_labels = _energies(location, "test")
    val_energy, val_labels = _energies(location, "val")
    random = torch.Generator().manual_seed(seed)
    out: dict[str, object] = {"classes": {}}
    generated_all, labels_all = [], []
    for name, value in (("photon", 0.0), ("electron", 1.0)):
        reference = test_energy[test_labels == value]
        if n_per_class is not None:
            reference = reference[:n_per_class]
        generated = generator.sample(torch.full((len(reference),), value), random).cpu().numpy()
        floor = val_energy[val_labels == value][: len(reference)]
        out["classes"][name] = {
            "events": len(reference),
            "generated": compare_showers(generated, reference, seed),
            "floor": compare_showers(floor, reference, seed),
        }
        generated_all.append(generated)
        labels_all.append(np.full(len(generated), value))
    out["fidelity"] = {
        "generated": class_fidelity(np.concatenate(generated_all), np.concatenate(labels_all)),
        "simulated": class_fidelity(test_energy, test_labels),
    }
    return out


def gan_paths(name: str, protocol: str, seed: int = 0, results_dir: Path | None = None) -> store.RunFiles:
    """The files of GAN run ``name`` with ``seed`` under ``protocol`` (:func:`qvit_lib.runs.store.result_paths`)."""
    return store.result_paths(protocol, name, seed, folder=GAN_FOLDER, results_dir=results_dir)


def _check_names(record: dict[str, object], path: Path) -> None:
    store.check_record_names(record, path, lambda config: GANConfig(**config), "name", ("protocol", record["protocol"]))


def read_gan_record(path: Path) -> dict[str, object]:
    """A GAN run's record, checked against :data:`RECORD_SCHEMA` and its file's name."""
    return store.read_record(path, RECORD_SCHEMA, _check_names)


def _check_enough_events(location) -> None:
    """Refuse data too small to train on and to compare with, before any training or loading.

    The splits alternate photons and electrons, so each holds half its events of each class.
    """

    with EcalDataset(location) as dataset:
        per_class = {split: dataset.split_size(split) // 2 for split in SPLITS}
    for split, count in per_class.items():
        if count < MIN_EVENTS_PER_CLASS:
            raise DataError(
                f"{shown_path(Path(location))}: {count} photons in the {split} split, and as many electrons; a GAN "
                f"run needs at least {MIN_EVENTS_PER_CLASS} of each class in every split ({', '.join(SPLITS)})"
            )


def run_gan(
    config: GANConfig,
    protocol: str = "cpu",
    *,
    seed: int = 0,
    resume: bool = False,
    results_dir: Path | None = None,
    progress: bool | None = None,
    n_eval_per_class: int | None = None,
) -> dict[str, object]:
    """Train one GAN under a protocol on the data's training split, evaluate it, write its results."""

    schedule = gan_protocol(protocol)
    code_version()  # read now (and kept): the record names the code this run started with
    location = resolve_location(None)
    files = gan_paths(config.name, protocol, seed, results_dir)
    checkpoint = CACHE_DIR / "checkpoints" / GAN_FOLDER / protocol / f"{store.run_name(config.name, seed)}.ckpt"
    store.check_output_paths(files.record, files.weights, checkpoint)
    _check_enough_events(location)
    energy, labels = _energies(location, "train")
    showers = (to_log_energy(torch.from_numpy(energy)), torch.from_numpy(labels))
    generator, discriminator = build_gan(config, seed)
    generator.set_template(*showers)
    if not resume:
        checkpoint.unlink(missing_ok=True)
    start = time.perf_counter()
    history = train_gan(
        generator,
        discriminator,
        showers,
        schedule,
        seed=seed,
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        run=RunIdentity(store.run_name(config.name, seed), seed, protocol),
    )
    wall = time.perf_counter() - start
    evaluation = evaluate_generator(generator, location, seed, n_eval_per_class)
    record = {
        "name": config.name,
        "seed": seed,
        "protocol": protocol,
        "schedule": dataclasses.asdict(schedule),
        "config": dataclasses.asdict(config),
        "parameters": {"generator": count_parameters(generator), "discriminator": count_parameters(discriminator)},
        "data": {"location": shown_path(Path(location)), "training_showers": len(labels)},
        "history": history.records,
        "evaluation": evaluation,
        "wall_seconds": round(wall, 1),
        **stamp(),
    }
    store.save_run(record, files, generator.state_dict())
    return record


def load_generator(name: str, protocol: str = "cpu", seed: int = 0, results_dir: Path | None = None):
    """The trained generator of a committed GAN run and its record; refuses files that do not belong together."""
    return store.load_network(
        gan_paths(name, protocol, seed, results_dir),
        read_gan_record,
        lambda record: build_gan(GANConfig(**record["config"]), record["seed"])[0],
        lambda record: record["parameters"]["generator"],
        f"no committed GAN run {name!r} (seed {seed}) under protocol {protocol!r}",
        f"python -m qvit_lib gan --attention {name.removeprefix('gan-')} --protocol {protocol} --seed {seed}",
    )
