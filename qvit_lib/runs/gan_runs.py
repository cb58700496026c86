"""Chapter 11's runs: a conditional shower GAN trained under a named protocol, kept at its best validation score.

A run trains one of :data:`~qvit_lib.models.gan.GAN_MODELS` on the training split of the data
(our simulation by default; the generator needs each shower's true η, which the CMS files do
not store). Every ``validate_every`` steps the generator makes showers for the validation
split's classes and η, and :func:`validation_score` measures how far they are from the real
ones; the run keeps the weights with the best score. Results go through the run store
(:mod:`qvit_lib.runs.store`) to ``data/results/gan/<protocol>/<name>[-seed<S>].json`` with the
generator's weights beside it; each seed has its own files, and its evaluation
(:mod:`qvit_lib.runs.gan_evaluation`) a record of its own.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from qvit_lib.analysis.shower_comparison import conditional_table, frechet_distance
from qvit_lib.core.config import DEFAULT_DATA_DIR, checkpoint_root
from qvit_lib.core.errors import ConfigError, DataError
from qvit_lib.core.provenance import code_version, stamp
from qvit_lib.data.dataset import SPLITS, EcalDataset, is_hdf5_name, resolve_location, shown_path
from qvit_lib.data.truth import incident_eta, why_eta_unknown
from qvit_lib.models.gan import ETA_MAX, GAN_MODELS, GANConfig, build_gan, incident_energy
from qvit_lib.models.vit import count_parameters
from qvit_lib.runs import store
from qvit_lib.training.checkpoint import RunIdentity
from qvit_lib.training.gan import GANSchedule, Showers, train_gan

__all__ = [
    "GAN_PROTOCOLS",
    "GAN_FOLDER",
    "MIN_EVENTS_PER_CLASS",
    "VALIDATION_SHOWERS",
    "RECORD_SCHEMA",
    "gan_config",
    "gan_protocol",
    "truth_location",
    "load_showers",
    "feature_table",
    "subset",
    "generate_like",
    "validation_score",
    "gan_paths",
    "read_gan_record",
    "run_gan",
    "load_generator",
    "write_generated",
]


GAN_PROTOCOLS = {
    "quick": GANSchedule(steps=20, batch_size=32, log_every=5, checkpoint_every=10, validate_every=10),
    "cpu": GANSchedule(steps=4_000, batch_size=128, log_every=50, checkpoint_every=250, validate_every=250),
}
GAN_FOLDER = "gan"  #: data/results/gan/<protocol>/
MIN_EVENTS_PER_CLASS = 20  #: per split: the features' covariance (7 × 7) needs more events than features
VALIDATION_SHOWERS = 2_000  #: validation showers per score (the first of the split: half of each class)

RECORD_SCHEMA: store.Schema = {
    "name": str,
    "seed": int,
    "protocol": str,
    "schedule": dict,
    "config": dict,
    "parameters": {"generator": int, "discriminator": int},
    "data": {"location": str, "training_showers": int},
    "history": list,
    "validation": list,
    "best_step": int,
    "wall_seconds": float,
    "machine": dict,
    "versions": dict,
    "code": dict,
    "finished": str,
    "weights_sha256?": str,
}
"""A GAN run's record: every field and its type."""


def gan_config(name: str) -> GANConfig:
    """The configuration of a model of :data:`~qvit_lib.models.gan.GAN_MODELS`, or a clear error listing them."""
    if name not in GAN_MODELS:
        raise ConfigError(f"unknown GAN model {name!r}; valid: {', '.join(GAN_MODELS)}")
    return GAN_MODELS[name]


def gan_protocol(name: str) -> GANSchedule:
    """The schedule of a GAN protocol by name, or a clear error listing the known ones."""
    if name not in GAN_PROTOCOLS:
        raise ConfigError(f"unknown GAN protocol {name!r}; valid: {', '.join(GAN_PROTOCOLS)}")
    return GAN_PROTOCOLS[name]


def truth_location(location=None) -> tuple[Path, str]:
    """The data whose showers a conditional GAN learns from, and a note for the reader when it is not ``location``.

    ``location`` (or ``$QVIT_DATA``, or our simulated sample) when the true η of its events is
    known; otherwise, as for the CMS files, our simulated sample in ``data/default``, and a note
    saying so. The note is empty when nothing was replaced.
    """
    path = resolve_location(location)
    with EcalDataset(path) as dataset:
        reason = why_eta_unknown(dataset)
    if reason is None:
        return path, ""
    return resolve_location(DEFAULT_DATA_DIR), f"{reason}; so the showers here are ours, {shown_path(DEFAULT_DATA_DIR)}"


def load_showers(location, split: str, n: int | None = None) -> Showers:
    """Energy and time images (file units), classes and true η of a split's first ``n`` events."""
    with EcalDataset(location) as dataset:
        images, labels = dataset.load(split, n, channels="both", normalise=False)
        eta = incident_eta(dataset, split, n)
    return Showers(
        torch.from_numpy(np.ascontiguousarray(images[..., 0])),
        torch.from_numpy(np.ascontiguousarray(images[..., 1])),
        torch.from_numpy(labels),
        torch.from_numpy(eta).float(),
    )


def feature_table(showers: Showers) -> dict[str, np.ndarray]:
    """The conditional features of :mod:`~qvit_lib.analysis.shower_comparison` for every shower."""
    incident = incident_energy(showers.eta.double()).numpy()
    return conditional_table(showers.energy.numpy(), showers.time.numpy(), incident)


def subset(showers: Showers, mask: torch.Tensor) -> Showers:
    """The showers a boolean mask selects."""
    return Showers(*(field[mask] for field in showers))


def generate_like(generator: torch.nn.Module, like: Showers, seed: int) -> Showers:
    """One generated shower for each shower of ``like``, with its class and η, from a seeded stream."""
    energy, time_ = generator.sample(like.labels, like.eta, torch.Generator().manual_seed(seed))
    return Showers(energy.cpu(), time_.cpu(), like.labels, like.eta)


def validation_score(generator: torch.nn.Module, showers: Showers, seed: int = 0) -> float:
    """Σ over classes of the Fréchet distance between generated and real conditional features.

    The generator makes one shower for each real one, with its class and η; features are
    standardised by the real sample (:func:`~qvit_lib.analysis.shower_comparison.frechet_distance`).
    Smaller is better; the same ``seed`` gives the same noise at every score.
    """
    made = generate_like(generator, showers, seed)
    score = 0.0
    for value in (0.0, 1.0):
        mine = showers.labels == value
        score += frechet_distance(feature_table(subset(made, mine)), feature_table(subset(showers, mine)))
    return score


def gan_paths(name: str, protocol: str, seed: int = 0, results_dir: Path | None = None) -> store.RunFiles:
    """The files of GAN run ``name`` with ``seed`` under ``protocol`` (:func:`qvit_lib.runs.store.result_paths`)."""
    return store.result_paths(protocol, name, seed, folder=GAN_FOLDER, results_dir=results_dir)


def _check_names(record: dict[str, object], path: Path) -> None:
    store.check_record_names(
        record, path, lambda config: GANConfig.from_record(config), "name", ("protocol", record["protocol"])
    )


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
    name: str,
    protocol: str = "cpu",
    *,
    seed: int = 0,
    resume: bool = False,
    results_dir: Path | None = None,
    progress: bool | None = None,
) -> dict[str, object]:
    """Train one of the models under a protocol on the data's training split; write its record and weights."""

    config, schedule = gan_config(name), gan_protocol(protocol)
    code_version()  # read now (and kept): the record names the code this run started with
    location = resolve_location(None)
    files = gan_paths(name, protocol, seed, results_dir)
    checkpoint = checkpoint_root() / GAN_FOLDER / protocol / f"{store.run_name(name, seed)}.ckpt"
    store.check_output_paths(files.record, files.weights, checkpoint)
    _check_enough_events(location)
    showers = load_showers(location, "train")
    held_out = load_showers(location, "val", VALIDATION_SHOWERS)
    generator, discriminator = build_gan(config, seed)
    generator.set_template(showers.energy, showers.labels, showers.eta)
    if not resume:
        checkpoint.unlink(missing_ok=True)
    start = time.perf_counter()
    history = train_gan(
        generator,
        discriminator,
        showers,
        schedule,
        validate=lambda g: validation_score(g, held_out, seed),
        seed=seed,
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        run=RunIdentity(store.run_name(name, seed), seed, protocol),
    )
    record = {
        "name": name,
        "seed": seed,
        "protocol": protocol,
        "schedule": dataclasses.asdict(schedule),
        "config": config.as_record(),
        "parameters": {"generator": count_parameters(generator), "discriminator": count_parameters(discriminator)},
        "data": {"location": shown_path(Path(location)), "training_showers": len(showers.labels)},
        "history": history.records,
        "validation": history.validation,
        "best_step": history.best_step,
        "wall_seconds": round(time.perf_counter() - start, 1),
        **stamp(),
    }
    store.save_run(record, files, generator.state_dict())
    return record


def load_generator(name: str, protocol: str = "cpu", seed: int = 0, results_dir: Path | None = None):
    """The trained generator of a committed GAN run and its record; refuses files that do not belong together."""
    gan_config(name)
    return store.load_network(
        gan_paths(name, protocol, seed, results_dir),
        read_gan_record,
        lambda record: build_gan(GANConfig.from_record(record["config"]), record["seed"])[0],
        lambda record: record["parameters"]["generator"],
        f"no committed GAN run {name!r} (seed {seed}) under protocol {protocol!r}",
        f"python -m qvit_lib gan --model {name} --protocol {protocol} --seed {seed}",
    )


def write_generated(
    name: str, n_events: int, out: Path, *, protocol: str = "cpu", seed: int = 0, overwrite: bool = False
) -> Path:
    """Generate ``n_events`` showers (half photons, half electrons, η uniform in the barrel) into one
    file of the CMS format — ``X`` (N, 32, 32, 2), ``y`` — with each shower's ``eta``, shuffled.

    Every chapter and command reads it through ``QVIT_DATA``. Refuses an existing file unless
    ``overwrite``; writes under a temporary name and renames.
    """
    # lazy: loads h5py; importing this module does not
    import h5py

    out = Path(out)
    if isinstance(n_events, bool) or n_events <= 0 or n_events % 2:
        raise ConfigError(f"--n must be a positive even number (half photons, half electrons), got {n_events}")
    if not is_hdf5_name(out):
        raise ConfigError(f"--out {out}: expected a file name ending in .h5 or .hdf5")
    if out.exists() and not overwrite:
        raise ConfigError(
            f"--out {out}: already exists; remove it, choose another --out, or overwrite it (--overwrite)"
        )
    store.check_output_paths(out)
    generator, record = load_generator(name, protocol, seed)
    random = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n_events) % 2).float()[torch.randperm(n_events, generator=random)]
    eta = torch.rand(n_events, generator=random) * (2 * ETA_MAX) - ETA_MAX
    energy, time_ = [], []
    for i in range(0, n_events, 1_000):
        e, t = generator.sample(labels[i : i + 1_000], eta[i : i + 1_000], random)
        energy.append(e)
        time_.append(t)
    images = torch.stack([torch.cat(energy), torch.cat(time_)], dim=-1).numpy().astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f"{out.name}.part")
    try:
        with h5py.File(part, "w") as f:
            f.create_dataset("X", data=images, compression="lzf", chunks=(min(len(images), 1024), 32, 32, 2))
            f.create_dataset("y", data=labels.numpy().astype(np.float32))
            f.create_dataset("eta", data=eta.numpy().astype(np.float32))
            f.attrs["generator"] = name
            f.attrs["generator_seed"] = seed
            f.attrs["generator_weights_sha256"] = record["weights_sha256"]
            f.attrs["description"] = (
                f"GENERATED by qvit_lib's {name} (seed {seed}), not CMS data and not our simulation: ECAL e/gamma "
                "crops, X[...,0] energy GeV/50, X[...,1] time ns/50, eta the conditioning pseudorapidity"
            )
        part.replace(out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return out
