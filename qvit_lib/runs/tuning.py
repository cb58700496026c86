"""Equal tuning: the same Ray Tune search for every model, and sweeps as Ray tasks.

Every model of Table 1 trains with the paper's classical settings (Adam, learning rate 5e-3,
no weight decay, no warm-up), which were tuned for none of them. Here each model gets the same
budget: :data:`TRIALS` random draws from :data:`SEARCH_SPACE`, trained on the ``cpu`` protocol
and cut early by ASHA (asynchronous successive halving, Li et al. 2018) on the validation AUC.
The chosen settings are written to ``data/results/tuning/cpu/<variant>.json``, and the
``tuned`` protocol retrains each model with its own (``sweep --protocol tuned --family tuned``).

Ray runs on this machine's cores by default; ``address`` joins a running Ray cluster. The
trials and tasks import ``qvit_lib`` and read the results folder, so on a cluster every node
needs the package installed and the repository on a shared file system.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from qvit_lib.core.config import CACHE_DIR
from qvit_lib.core.errors import ConfigError
from qvit_lib.core.provenance import code_version, stamp
from qvit_lib.runs import store
from qvit_lib.runs.experiments import (
    TUNING_PROTOCOL,
    check_variant,
    get_protocol,
    load_protocol_data,
    run_claimed,
    tuning_path,
    variant_inputs,
)

__all__ = [
    "SEARCH_SPACE",
    "TRIALS",
    "ASHA",
    "search_cpus",
    "start_ray",
    "tune_variant",
    "sweep_with_ray",
    "trial_table",
]

#: What the search draws, per setting: (distribution, low, high). The learning rate spans the
#: paper's 5e-3 by a factor of ten each way; weight decay is AdamW's (decoupled); the warm-up is
#: a linear ramp over that many epochs.
SEARCH_SPACE = {
    "lr": ("loguniform", 5e-4, 5e-2),
    "weight_decay": ("loguniform", 1e-5, 1e-1),
    "warmup_epochs": ("uniform", 0.0, 2.0),
}
TRIALS = 24  #: trials per model: the same budget for every model
ASHA = {"grace_period": 1, "reduction_factor": 3}  #: epochs before a first cut; one in three goes on


def search_cpus(record: dict[str, object]) -> int:
    """How many trials a search ran side by side: its wall time is on that many cores.

    The searches committed before the scheduler kept ``cpus`` ran on one CPU (``tune --cpus 1``),
    one trial at a time. With a cluster, ``cpus`` counts the cluster's CPUs."""
    return int(record["scheduler"].get("cpus", 1))


def start_ray(address: str | None = None, cpus: int | None = None) -> None:
    """Connect to the Ray cluster at ``address``, or start Ray on this machine with ``cpus`` CPUs."""
    # lazy: Ray is needed only by the tuning and the Ray sweep
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)


def _space():
    # lazy: Ray is needed only by the tuning and the Ray sweep
    from ray import tune

    draw = {"loguniform": tune.loguniform, "uniform": tune.uniform}
    return {name: draw[kind](low, high) for name, (kind, low, high) in SEARCH_SPACE.items()}


def _trial(config: dict[str, float], variant: str, protocol: str, seed: int) -> None:
    """One trial: train ``variant`` with the drawn settings, reporting the validation AUC each epoch."""
    # lazy: loads torch in the Ray worker, not in the process that plans the search
    import torch

    # lazy: Ray is needed only by the tuning and the Ray sweep
    from ray import tune

    # lazy: loads torch in the Ray worker, not in the process that plans the search
    from qvit_lib.models.classifiers import build_classifier

    # lazy: loads torch in the Ray worker, not in the process that plans the search
    from qvit_lib.training.classifier import train

    torch.set_num_threads(1)
    chosen = get_protocol(protocol)
    sets, _ = load_protocol_data(chosen, "cpu", variant_inputs(variant))
    model = build_classifier(variant, seed=seed)
    train(
        model,
        sets["train"],
        sets["val"],
        epochs=chosen.epochs,
        batch_size=chosen.batch_size,
        seed=seed,
        progress=False,
        on_epoch_end=lambda record: tune.report({"val_auc": record["val_auc"], "epoch": record["epoch"]}),
        **config,
    )


def tune_variant(
    variant: str,
    *,
    trials: int = TRIALS,
    protocol: str = TUNING_PROTOCOL,
    seed: int = 0,
    address: str | None = None,
    cpus: int | None = None,
    results_dir: Path | None = None,
) -> dict[str, object]:
    """Search learning rate, weight decay and warm-up for ``variant`` with Ray Tune and ASHA.

    Writes the record (:data:`~qvit_lib.runs.experiments.TUNING_SCHEMA`) and returns it. The
    draws are seeded, but which trials ASHA stops depends on the order in which they report,
    so a rerun on other hardware can choose differently.
    """
    # lazy: Ray is needed only by the tuning and the Ray sweep
    import ray

    # lazy: Ray is needed only by the tuning and the Ray sweep
    from ray import tune

    # lazy: Ray is needed only by the tuning and the Ray sweep
    from ray.tune.schedulers import ASHAScheduler

    # lazy: Ray is needed only by the tuning and the Ray sweep
    from ray.tune.search.basic_variant import BasicVariantGenerator

    check_variant(variant)
    chosen = get_protocol(protocol)
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    path = tuning_path(variant, protocol, results_dir)
    store.check_output_paths(path)
    code_version()
    load_protocol_data(chosen, "cpu", variant_inputs(variant))  # simulate (and cache) the events before the trials
    start_ray(address, cpus)
    cores = int(ray.cluster_resources().get("CPU", 1))  # trials run one per CPU, side by side
    start = time.perf_counter()
    storage = (CACHE_DIR / "ray" / protocol).resolve()  # Ray's own trial folders; the record is what is kept
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_trial, variant=variant, protocol=protocol, seed=seed), {"cpu": 1}),
        param_space=_space(),
        tune_config=tune.TuneConfig(
            metric="val_auc",
            mode="max",
            num_samples=trials,
            scheduler=ASHAScheduler(time_attr="training_iteration", max_t=chosen.epochs, **ASHA),
            search_alg=BasicVariantGenerator(random_state=seed),
        ),
        run_config=tune.RunConfig(
            name=f"{variant}-{time.strftime('%Y%m%dT%H%M%S')}", storage_path=str(storage), verbose=0
        ),
    )
    grid = tuner.fit()
    rows = []
    for result in grid:
        if result.error is not None:
            raise RuntimeError(f"a tuning trial of {variant} failed: {result.error}")
        curve = [float(v) for v in result.metrics_dataframe["val_auc"]]
        rows.append(
            {
                "config": {k: float(result.config[k]) for k in SEARCH_SPACE},
                "val_auc": curve,
                "epochs": len(curve),
            }
        )
    full = [r for r in rows if r["epochs"] == chosen.epochs] or rows
    best = max(full, key=lambda r: r["val_auc"][-1])
    record = {
        "variant": variant,
        "protocol": protocol,
        "metric": "validation AUC at the last epoch trained; chosen among the trials ASHA let run every epoch",
        "search_space": {k: list(v) for k, v in SEARCH_SPACE.items()},
        "scheduler": {"name": "ASHA", "max_t": chosen.epochs, **ASHA, "trials": trials, "seed": seed, "cpus": cores},
        "trials": rows,
        "chosen": best["config"],
        "chosen_val_auc": best["val_auc"][-1],
        "wall_seconds": round(time.perf_counter() - start, 1),
        **stamp("cpu", 1),
    }
    store.write_record(record, path)
    return record


def _ray_run(variant: str, seed: int, protocol: str, results_dir: str | None) -> tuple[str, int, str]:
    """One run of a Ray sweep, in a Ray worker, one thread: claimed, trained, recorded, released."""
    # lazy: loads torch in the Ray worker
    import torch

    torch.set_num_threads(1)
    where = Path(results_dir) if results_dir else None
    status, _ = run_claimed(variant, seed, get_protocol(protocol), results_dir=where, progress=False)
    return variant, seed, status


def sweep_with_ray(
    protocol: str,
    plan: list[tuple[str, int]],
    *,
    address: str | None = None,
    cpus: int | None = None,
    results_dir: Path | None = None,
) -> list[tuple[str, int, str]]:
    """A sweep whose runs are Ray tasks (one CPU each), here or on a cluster.

    The runs claim their locks, resume their checkpoints and write their records exactly as
    the file-lock sweep's do (:func:`~qvit_lib.runs.experiments.sweep`), so both kinds of sweep
    can share one results folder. Returns (variant, seed, status) for every run of the plan.
    """
    # lazy: Ray is needed only by the tuning and the Ray sweep
    import ray

    chosen = get_protocol(protocol)
    for variant, _ in plan:
        check_variant(variant)
    for inputs in sorted({variant_inputs(v) for v, _ in plan}):
        load_protocol_data(chosen, "cpu", inputs)  # simulate (and cache) the events once, before the tasks
    start_ray(address, cpus)
    task = ray.remote(num_cpus=1)(_ray_run)
    where = str(results_dir) if results_dir else None
    futures = [task.remote(variant, seed, chosen.name, where) for variant, seed in plan]
    statuses = []
    pending = list(futures)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        variant, seed, status = ray.get(done[0])
        print(f"[ray] {store.run_name(variant, seed)}: {status}", flush=True)
        statuses.append((variant, seed, status))
    order = {run: i for i, run in enumerate(plan)}
    return sorted(statuses, key=lambda s: order[(s[0], s[1])])


def trial_table(record: dict[str, object]) -> list[dict[str, object]]:
    """One row per trial, best first: its settings, epochs trained and last validation AUC."""
    rows = [{**t["config"], "epochs": t["epochs"], "val_auc": t["val_auc"][-1]} for t in record["trials"]]
    return sorted(rows, key=lambda r: (-r["epochs"], -r["val_auc"]))
