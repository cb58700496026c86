"""Every committed run's test scores beside its results: paired tests without reloading every model.

Chapter 7 compares variants on the same test events, seed by seed (DeLong's test,
:func:`~qvit_lib.runs.experiments.seed_comparison`), and chapter 9 compares the design runs
of the cpu protocol the same way. That needs each run's logits on the 10 000 test events.
:func:`score_runs` computes them once per run and writes them beside its results,
``data/results/<protocol>/<run>.scores.npz`` (``python -m qvit_lib scores --protocol converged``;
one small file per run, written once, so a new run never rewrites the others);
:func:`load_scores` reads them back and checks that each belongs to the committed run it
names: the same ``finished`` stamp, the same test labels as the others, and the AUC of the
stored logits equal to the test AUC in the run's record. A run retrained since, or one never
scored, is refused with the command that brings the scores up to date.

The stored logits are those of the processor that computed them. Another processor kind
rounds some float32 kernels differently, so a recomputed logit agrees only to rounding (tested
within 10⁻⁴), not bit for bit; the AUCs and tests computed from the file are the same everywhere.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from qvit_lib.analysis.metrics import roc_auc
from qvit_lib.core.config import progress_enabled
from qvit_lib.core.errors import CheckpointError, ConfigError
from qvit_lib.runs import store
from qvit_lib.runs.experiments import get_protocol, load_results, test_scores, test_split, variant_inputs
from qvit_lib.runs.store import SCORES_SUFFIX

__all__ = ["SCORES_SUFFIX", "SCORED_PROTOCOLS", "AUC_TOLERANCE", "scores_path", "score_runs", "load_scores"]


#: whose runs chapters 7 and 9 compare pairwise: train and sweep store their scores
SCORED_PROTOCOLS = ("cpu", "converged", "tuned")
AUC_TOLERANCE = 1e-4  #: stored logits against the recorded AUC (as test_scores checks at scoring time)


def scores_path(protocol: str, variant: str, seed: int = 0, results_dir: Path | None = None) -> Path:
    """Where a run's test scores live: beside its results JSON."""
    return store.result_paths(get_protocol(protocol).name, variant, seed, results_dir=results_dir).scores


def _read(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """A run's stored logits, test labels and the ``finished`` stamp of the run they were scored for."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            logits, finished = stored["logits"], str(stored["finished"])
            labels = np.unpackbits(stored["labels"], count=len(logits)).astype(bool)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(
            f"{path}: not a test-scores file ({type(err).__name__}: {err}); delete it and rescore"
        ) from None
    return logits, labels, finished


def score_runs(protocol: str, results_dir: Path | None = None, progress: bool | None = None) -> dict[str, str]:
    """Score every committed run of ``protocol`` that has no scores yet (or was retrained since).

    Each run's logits are checked against its recorded test AUC before they are written.
    Returns run name → ``"scored"`` or ``"kept"``.
    """

    get_protocol(protocol)
    records = load_results(protocol, results_dir)
    if not records:
        where = (results_dir / protocol) if results_dir else f"data/results/{protocol}"
        raise ConfigError(f"no committed runs under protocol {protocol!r} in {where}: nothing to score")
    paths = {name: scores_path(protocol, r["variant"], r["seed"], results_dir) for name, r in records.items()}
    store.check_output_paths(*paths.values())
    todo = [name for name, r in records.items() if not paths[name].is_file() or _read(paths[name])[2] != r["finished"]]
    statuses = dict.fromkeys(records, "kept")
    if todo:
        events: dict[str, tuple] = {}  # the test split as each kind of model reads it, loaded once
        for name in tqdm(todo, desc="scoring runs", unit="run", disable=not progress_enabled(progress)):
            record = records[name]
            inputs = variant_inputs(record["variant"])
            if inputs not in events:
                events[inputs] = test_split(protocol, inputs)
            labels = np.packbits(events[inputs][1].numpy().astype(bool))
            logits = test_scores(protocol, record["variant"], record["seed"], events[inputs], results_dir)
            temporary = paths[name].with_name(paths[name].name + ".tmp.npz")
            np.savez_compressed(
                temporary, logits=logits.astype(np.float32), labels=labels, finished=np.array(record["finished"])
            )
            temporary.replace(paths[name])
            statuses[name] = "scored"
    return statuses


def load_scores(
    protocol: str, results_dir: Path | None = None, variants: list[str] | tuple[str, ...] | None = None
) -> tuple[dict[tuple[str, int], np.ndarray], np.ndarray]:
    """The stored test logits of every committed run (of ``variants``), keyed (variant, seed), and the labels.

    Refuses a run without scores, or with scores of the run before it was retrained: the
    message gives the command that rescores.
    """

    rescore = f"python -m qvit_lib scores --protocol {protocol}"
    scores: dict[tuple[str, int], np.ndarray] = {}
    labels = None
    for name, record in load_results(protocol, results_dir, variants).items():
        path = scores_path(protocol, record["variant"], record["seed"], results_dir)
        if not path.is_file():
            raise CheckpointError(f"{path}: no test scores of the committed run {name}; compute them with: {rescore}")
        logits, run_labels, finished = _read(path)
        if finished != record["finished"]:
            raise CheckpointError(
                f"{path}: these scores belong to the run of {name} finished {finished}, but the committed run "
                f"finished {record['finished']}; rescore with: {rescore}"
            )
        if labels is not None and not np.array_equal(run_labels, labels):
            raise CheckpointError(f"{path}: scored on other test events than the protocol's other runs; {rescore}")
        labels = run_labels
        auc = roc_auc(logits, labels)
        if abs(auc - record["test"]["auc"]) > AUC_TOLERANCE:
            raise CheckpointError(
                f"{path}: the scores of {name} give test AUC {auc:.5f}, its record {record['test']['auc']:.5f}; "
                f"rescore with: {rescore}"
            )
        scores[record["variant"], record["seed"]] = logits
    if labels is None:
        raise CheckpointError(f"no committed runs of protocol {protocol!r} to load scores of")
    return scores, labels
