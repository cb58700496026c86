"""Chapter 11's runs: a shower GAN trained under a named protocol, evaluated, written to results.

A run trains :mod:`qvit_lib.gan` on the training split of the data (our simulation by default),
then generates as many showers of each class as the test split holds and compares them with
the test split (:func:`qvit_lib.shower_comparison.compare_showers`), beside the *floor*: the
validation split against the test split, two independent simulated samples of the same size.
The class fidelity asks the book's trained ``classical-cmx-pe`` classifier whether generated
electrons look like electrons and generated photons like photons. Results go to
``data/results/gan/<name>.json`` with the generator's weights beside it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from .config import CACHE_DIR
from .errors import CheckpointError, ConfigError
from .experiments import RESULTS_DIR, load_trained
from .gan import GANConfig, build_gan, to_log_energy
from .gan_training import GANSchedule, train_gan
from .models import count_parameters
from .provenance import code_version, stamp, write_record

GAN_PROTOCOLS = {
    "quick": GANSchedule(steps=20, batch_size=32, log_every=5, checkpoint_every=10),
    "cpu": GANSchedule(steps=4_000, batch_size=128, log_every=50, checkpoint_every=250),
}
FIDELITY_MODEL = ("classical-cmx-pe", "cpu")  # the classifier that judges the classes


def gan_protocol(name: str) -> GANSchedule:
    if name not in GAN_PROTOCOLS:
        raise ConfigError(f"unknown GAN protocol {name!r}; valid: {', '.join(GAN_PROTOCOLS)}")
    return GAN_PROTOCOLS[name]


def _energies(location, split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    from .data import EcalDataset

    with EcalDataset(location) as dataset:
        return dataset.load(split, n, normalise=False)


def class_fidelity(energy: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The committed classifier on showers of known class: accuracy and ROC AUC (electron vs photon)."""
    from .data import normalise_energy, patchify
    from .metrics import classifier_metrics
    from .training import predict_logits

    model, _ = load_trained(*FIDELITY_MODEL)
    tokens = torch.from_numpy(patchify(normalise_energy(np.asarray(energy, np.float32))))
    metrics = classifier_metrics(predict_logits(model, tokens), torch.as_tensor(labels, dtype=torch.float32))
    return {"accuracy": metrics["accuracy"], "auc": metrics["auc"]}


def evaluate_generator(generator, location=None, seed: int = 0, n_per_class: int | None = None) -> dict[str, object]:
    """Generated against simulated test showers, per class, with the simulated-vs-simulated floor."""
    from .shower_comparison import compare_showers

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


def result_paths(name: str, protocol: str, results_dir: Path | None = None) -> tuple[Path, Path]:
    root = (results_dir or RESULTS_DIR) / "gan" / protocol
    return root / f"{name}.json", root / f"{name}.pt"


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
    from .data import resolve_location, shown_path

    schedule = gan_protocol(protocol)
    code_version()  # read now (and kept): the record names the code this run started with
    location = resolve_location(None)
    energy, labels = _energies(location, "train")
    showers = (to_log_energy(torch.from_numpy(energy)), torch.from_numpy(labels))
    generator, discriminator = build_gan(config, seed)
    generator.set_template(*showers)
    checkpoint = CACHE_DIR / "checkpoints" / "gan" / protocol / f"{config.name}-seed{seed}.ckpt"
    if not resume:
        checkpoint.unlink(missing_ok=True)
    start = time.perf_counter()
    history = train_gan(
        generator, discriminator, showers, schedule, seed=seed, checkpoint=checkpoint, resume=resume, progress=progress
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
    json_path, weights_path = result_paths(config.name, protocol, results_dir)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(generator.state_dict(), weights_path)
    write_record(record, json_path)
    return record


def load_generator(name: str, protocol: str = "cpu", results_dir: Path | None = None):
    """The trained generator of a committed GAN run and its record; refuses files that do not belong together."""
    from .training import check_state_fits

    json_path, weights_path = result_paths(name, protocol, results_dir)
    if not json_path.is_file() or not weights_path.is_file():
        raise CheckpointError(
            f"{json_path}: no committed GAN run {name!r} under protocol {protocol!r}; train it with: "
            f"python -m qvit_lib gan --attention {name.removeprefix('gan-')} --protocol {protocol}"
        )
    record = json.loads(json_path.read_text())
    generator, _ = build_gan(GANConfig(**record["config"]), record["seed"])
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    check_state_fits(generator, state, weights_path)
    generator.load_state_dict(state)
    if count_parameters(generator) != record["parameters"]["generator"]:
        raise CheckpointError(
            f"{weights_path}: {count_parameters(generator)} generator parameters, its record says "
            f"{record['parameters']['generator']}"
        )
    return generator.eval(), record
