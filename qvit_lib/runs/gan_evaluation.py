"""Judging a trained shower generator the way the fast-simulation community does (chapter 11).

For every shower of the reference sample (the data's test split) the generator makes one
with the same class and η. Per class, beside the *floor* — the same comparisons between
independent simulated samples of the same size, which a perfect generator would reach —
:func:`evaluate_generator` reports:

* **physicality**: the share of showers above the kinematic limit p_T cosh η_max · R_MAX, with a
  crystal above the incident energy, or whose hottest crystal is off the centre;
* **response and resolution** against the incident energy: in bins of E₀ the median of
  E_total/E₀ and half the 16–84 % range over the median, with bootstrap intervals;
* the CaloChallenge's **separation powers** of :data:`~qvit_lib.analysis.shower_comparison.CONDITIONAL_FEATURES`,
  **FPD** and **KPD** on those features standardised by the reference, and the **classifier
  test** on low-level inputs (the central crystals) and on the high-level features
  (:mod:`qvit_lib.analysis.fast_sim_metrics`);
* a **physics test**: the book's trained classifier on generated and on simulated showers
  (AUC and photon rejection at two electron efficiencies), and a shower-shape BDT trained on
  generated showers and tested on simulated ones, against one trained on simulated showers.

The floor's samples are fresh simulations at :data:`FLOOR_SEEDS` when the data is our
simulation (the simulator draws η itself), and the validation split otherwise. A run's
evaluation is written beside its record (:func:`evaluate_run`) and read back only while it
judges the weights committed with the run (:func:`read_evaluation`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from qvit_lib.analysis import fast_sim_metrics as fsm
from qvit_lib.analysis.metrics import rejection_at, roc_auc
from qvit_lib.analysis.shower_comparison import CONDITIONAL_FEATURES, separation_power
from qvit_lib.core.config import quick_mode
from qvit_lib.core.errors import CheckpointError, DataError, RecordError
from qvit_lib.core.provenance import code_version, stamp, write_record
from qvit_lib.data.dataset import (
    CLASS_NAMES,
    ELECTRON,
    ENERGY_UNIT_GEV,
    PHOTON,
    EcalDataset,
    normalise_energy,
    patchify,
)
from qvit_lib.models.gan import CENTRE, ETA_MAX, PT_GEV, R_MAX, incident_energy
from qvit_lib.runs import gan_runs, store
from qvit_lib.runs.experiments import load_trained
from qvit_lib.runs.gan_runs import feature_table, generate_like, load_showers, subset
from qvit_lib.training.classifier import predict_logits
from qvit_lib.training.gan import Showers

__all__ = [
    "FLOOR_SEEDS",
    "ENERGY_BINS",
    "EFFICIENCIES",
    "FIDELITY_MODEL",
    "physicality",
    "response_curve",
    "compare",
    "physics_test",
    "simulated_showers",
    "evaluate_generator",
    "EVALUATION_SCHEMA",
    "evaluation_path",
    "evaluate_run",
    "read_evaluation",
]

FLOOR_SEEDS = (101, 102, 103)  #: simulator seeds of the floor's independent samples
ENERGY_BINS = 4  #: bins of incident energy (equal in |η|)
EFFICIENCIES = (0.5, 0.8)  #: electron efficiencies of the physics test's working points
FIDELITY_MODEL = ("classical-cmx-pe", "cpu")  #: the book's classifier that judges the classes
KINEMATIC_LIMIT = PT_GEV * np.cosh(ETA_MAX) / ENERGY_UNIT_GEV  #: GeV/50: the largest incident energy of the crops


def _features(table: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([table[name] for name in CONDITIONAL_FEATURES], axis=1)


def physicality(showers: Showers) -> dict[str, float]:
    """Shares of showers that no calorimeter could read: above the kinematic limit, a crystal
    above the incident energy, or the hottest crystal off the centre."""
    flat = showers.energy.reshape(len(showers.energy), -1).double()
    incident = incident_energy(showers.eta.double())
    return {
        "above_kinematic_limit": float((flat.sum(1) > R_MAX * KINEMATIC_LIMIT).double().mean()),
        "crystal_above_incident": float((flat.max(1).values > incident).double().mean()),
        "hottest_off_centre": float((flat.argmax(1) != CENTRE).double().mean()),
    }


def response_curve(showers: Showers, n_bootstrap: int = 200, seed: int = 0) -> list[dict[str, object]]:
    """Per bin of incident energy: its range (GeV), the median response and the resolution, with intervals."""
    incident = incident_energy(showers.eta.double()).numpy()
    response = showers.energy.double().sum((1, 2)).numpy() / incident
    edges = np.linspace(0.0, ETA_MAX, ENERGY_BINS + 1)
    eta = np.abs(showers.eta.numpy())

    def resolution(r: np.ndarray) -> float:
        low, high = np.quantile(r, [0.16, 0.84])
        return float((high - low) / 2 / np.median(r))

    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        r = response[(eta >= low) & (eta < high)]
        if len(r) < fsm.MIN_EVENTS:
            raise DataError(
                f"response_curve: {len(r)} showers with {low:.2f} ≤ |η| < {high:.2f}; need {fsm.MIN_EVENTS}"
            )
        out.append(
            {
                "incident_gev": [float(PT_GEV * np.cosh(low)), float(PT_GEV * np.cosh(high))],
                "median": float(np.median(r)),
                "median_interval": list(fsm.bootstrap_interval(np.median, r, n_bootstrap=n_bootstrap, seed=seed)),
                "resolution": resolution(r),
                "resolution_interval": list(fsm.bootstrap_interval(resolution, r, n_bootstrap=n_bootstrap, seed=seed)),
            }
        )
    return out


def compare(made: Showers, reference: Showers, seed: int = 0, n_bootstrap: int = 200) -> dict[str, object]:
    """Every distance of the CaloChallenge between two samples of one class, intervals included."""
    table_m, table_r = feature_table(made), feature_table(reference)
    high_r, high_m = fsm.standardise(_features(table_r), _features(table_m))
    n = min(len(high_r), len(high_m))
    separation = {}
    for name in CONDITIONAL_FEATURES:
        a, b = table_m[name], table_r[name]
        separation[name] = {
            "value": separation_power(a, b),
            "interval": list(fsm.bootstrap_interval(separation_power, a, b, n_bootstrap=n_bootstrap, seed=seed)),
        }
    fpd = fsm.frechet_physics_distance(
        high_r, high_m, min_samples=max(n // 4, 20), max_samples=n, num_batches=10, seed=seed
    )
    kpd = fsm.kernel_physics_distance(high_r, high_m, batch_size=min(n, 1000), seed=seed)
    low = fsm.classifier_test(
        fsm.low_level_features(reference.energy.numpy()), fsm.low_level_features(made.energy.numpy()), seed=seed
    )
    high = fsm.classifier_test(high_r, high_m, seed=seed)
    return {
        "events": n,
        "separation_power": separation,
        "fpd": list(fpd),
        "kpd": list(kpd),
        "classifier_low_level": low,
        "classifier_high_level": high,
    }


def _classifier_scores(energy: np.ndarray) -> np.ndarray:
    model, _ = load_trained(*FIDELITY_MODEL)
    tokens = torch.from_numpy(patchify(normalise_energy(np.asarray(energy, np.float32))))
    return predict_logits(model, tokens).numpy()


def _working_points(scores: np.ndarray, labels: np.ndarray) -> dict[str, object]:
    return {
        "auc": roc_auc(scores, labels),
        "rejection": {str(e): rejection_at(scores, labels, e) for e in EFFICIENCIES},
    }


def physics_test(made: Showers, reference: Showers, made_train: Showers, train: Showers, seed: int = 0) -> dict:
    """The analysis's question: does a classifier read generated showers as it reads simulated ones?

    ``fidelity``: the book's classifier on the generated and on the reference showers.
    ``train_on_generated``: a BDT on the conditional features trained on generated showers
    (``made_train``) and on simulated ones (``train``), both tested on the reference.
    """
    # lazy: loads scikit-learn; importing this module does not
    from sklearn.ensemble import HistGradientBoostingClassifier

    labels = reference.labels.numpy()
    fidelity = {
        "generated": _working_points(_classifier_scores(made.energy.numpy()), made.labels.numpy()),
        "simulated": _working_points(_classifier_scores(reference.energy.numpy()), labels),
    }
    test = _features(feature_table(reference))
    trained = {}
    with threadpool_limits(1):
        for name, sample in (("generated", made_train), ("simulated", train)):
            bdt = HistGradientBoostingClassifier(random_state=seed, early_stopping=True, validation_fraction=0.2)
            bdt.fit(_features(feature_table(sample)), sample.labels.numpy())
            trained[name] = _working_points(bdt.predict_proba(test)[:, 1], labels)
    return {"fidelity": fidelity, "train_on": trained}


def simulated_showers(n_per_class: int, seed: int) -> Showers:
    """Fresh showers of our simulator, photons then electrons, with their true η."""
    # lazy: the simulator is needed only here
    from qvit_lib.data import simulation

    parts = []
    for label in (PHOTON, ELECTRON):
        images = simulation.simulate_particle(label, n_per_class, seed)
        parts.append(
            Showers(
                torch.from_numpy(images[..., 0].copy()),
                torch.from_numpy(images[..., 1].copy()),
                torch.full((n_per_class,), float(label)),
                torch.from_numpy(simulation.incident_eta(label, n_per_class, seed)).float(),
            )
        )
    return Showers(*(torch.cat([a, b]) for a, b in zip(*parts)))


def _floor_samples(location, like: Showers) -> list[Showers]:
    """Independent simulated samples the size of ``like``: fresh simulations, else the validation split."""
    with EcalDataset(location) as dataset:
        ours = dataset.is_simulation
    n = len(like.labels) // 2
    if not ours:
        return [load_showers(location, "val", 2 * n)]
    return [simulated_showers(n, seed) for seed in FLOOR_SEEDS]


def evaluate_generator(generator, location=None, seed: int = 0, n_per_class: int | None = None) -> dict[str, object]:
    """Generated against simulated test showers, per class and together, beside the floor."""
    n = n_per_class if n_per_class is not None else (200 if quick_mode() else None)
    reference = load_showers(location, "test", None if n is None else 2 * n)
    train = load_showers(location, "val", len(reference.labels))
    made = generate_like(generator, reference, seed)
    made_train = generate_like(generator, train, seed + 1)
    floors = _floor_samples(location, reference)
    out: dict[str, object] = {"classes": {}, "floor_samples": len(floors)}
    for label in (PHOTON, ELECTRON):

        def mine(showers: Showers, label: int = label) -> Showers:
            return subset(showers, showers.labels == label)

        ref = mine(reference)
        out["classes"][CLASS_NAMES[label]] = {
            "events": len(ref.labels),
            "physicality": {"generated": physicality(mine(made)), "simulated": physicality(ref)},
            "response": {
                "generated": response_curve(mine(made), seed=seed),
                "simulated": response_curve(ref, seed=seed),
            },
            "generated": compare(mine(made), ref, seed),
            "floor": [compare(mine(floor), ref, seed) for floor in floors],
        }
    out["physics"] = physics_test(made, reference, made_train, train, seed)
    return out


EVALUATION_SCHEMA: store.Schema = {
    "name": str,
    "seed": int,
    "protocol": str,
    "weights_sha256": str,
    "evaluation": dict,
    "wall_seconds": float,
    "machine": dict,
    "versions": dict,
    "code": dict,
    "finished": str,
}
"""A GAN run's evaluation (:mod:`qvit_lib.runs.gan_evaluation`), kept apart from its training record."""


def evaluation_path(name: str, protocol: str, seed: int = 0, results_dir: Path | None = None) -> Path:
    """``data/results/gan/<protocol>/evaluation/<run>.json``: beside the runs, not among them."""
    record = gan_runs.gan_paths(name, protocol, seed, results_dir).record
    return record.parent / "evaluation" / record.name


def evaluate_run(name: str, protocol: str = "cpu", seed: int = 0, results_dir: Path | None = None) -> dict:
    """Evaluate a trained run's generator on the data's test split and write its evaluation record."""
    code_version()
    generator, record = gan_runs.load_generator(name, protocol, seed, results_dir)
    start = time.perf_counter()
    evaluation = evaluate_generator(generator, None, seed)
    result = {
        "name": name,
        "seed": seed,
        "protocol": protocol,
        "weights_sha256": record["weights_sha256"],
        "evaluation": evaluation,
        "wall_seconds": round(time.perf_counter() - start, 1),
        **stamp(),
    }
    write_record(result, evaluation_path(name, protocol, seed, results_dir))
    return result


def read_evaluation(name: str, protocol: str = "cpu", seed: int = 0, results_dir: Path | None = None) -> dict:
    """A run's evaluation, checked: its schema, and that it judged the weights committed today."""
    path = evaluation_path(name, protocol, seed, results_dir)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no evaluation of GAN run {store.run_name(name, seed)!r}; make it with: "
            f"python -m qvit_lib gan --model {name} --protocol {protocol} --seed {seed} --evaluate"
        )
    evaluation = store.read_record(path, EVALUATION_SCHEMA, lambda record, path: None)
    weights = gan_runs.gan_paths(name, protocol, seed, results_dir).weights
    if not weights.is_file() or store.weights_digest(weights) != evaluation["weights_sha256"]:
        raise RecordError(f"{path}: evaluates other weights than {weights}; evaluate the run again (--evaluate)")
    return evaluation
