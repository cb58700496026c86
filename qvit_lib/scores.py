"""Every committed run's test scores, in one file: paired tests without reloading every model.

Chapter 7 compares variants on the same test events, seed by seed (DeLong's test,
:func:`~qvit_lib.experiments.seed_comparison`). That needs each run's logits on the 10 000
test events. :func:`score_runs` computes them once per run and writes them beside the results,
``data/results/<protocol>/test_scores.npz`` (``python -m qvit_lib scores --protocol converged``);
:func:`load_scores` reads them back and checks that every entry belongs to the committed run
it names: the same ``finished`` stamp, and the AUC of the stored logits equal to the test AUC
in the run's record. A run retrained since, or one never scored, is refused with the command
that brings the file up to date.

The stored logits are those of the processor that computed them. Another processor kind
rounds some float32 kernels differently, so a recomputed logit agrees to about 10⁻⁶, not bit
for bit (tested); the AUCs and tests computed from the file are the same everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import CheckpointError, ConfigError
from .experiments import RESULTS_DIR, get_protocol, load_results, test_scores, test_split

SCORES_FILE = "test_scores.npz"
AUC_TOLERANCE = 1e-4  # stored logits against the recorded AUC (as test_scores checks at scoring time)


def scores_path(protocol: str, results_dir: Path | None = None) -> Path:
    """Where a protocol's test scores live: beside its results."""
    return (results_dir or RESULTS_DIR) / get_protocol(protocol).name / SCORES_FILE


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str], np.ndarray | None]:
    """Logits per run, the ``finished`` stamp each was scored for, and the labels."""
    if not path.is_file():
        return {}, {}, None
    try:
        with np.load(path, allow_pickle=False) as stored:
            index = json.loads(str(stored["index"]))
            logits = {name: stored[name] for name in index}
            labels = stored["labels"]
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(
            f"{path}: not a test-scores file ({type(err).__name__}: {err}); delete it and rescore"
        ) from None
    return logits, index, labels


def score_runs(protocol: str, results_dir: Path | None = None, progress: bool = True) -> dict[str, str]:
    """Score every committed run of ``protocol`` not yet in its scores file (or retrained since).

    Each run's logits are checked against its recorded test AUC before they are kept. Returns
    run name → ``"scored"`` or ``"kept"``. Runs no longer committed are dropped from the file.
    """
    from tqdm.auto import tqdm

    path = scores_path(protocol, results_dir)
    records = load_results(protocol, results_dir)
    if not records:
        raise ConfigError(f"no committed runs under protocol {protocol!r} in {path.parent}: nothing to score")
    logits, index, labels = _read(path)
    todo = [name for name, r in records.items() if index.get(name) != r["finished"]]
    statuses = {name: "kept" for name in records if name not in todo}
    if todo:
        events = test_split(protocol)
        labels = events[1].numpy().astype(np.int8)
        for name in tqdm(todo, desc="scoring runs", unit="run", disable=not progress):
            record = records[name]
            logits[name] = test_scores(protocol, record["variant"], record["seed"], events, results_dir)
            logits[name] = logits[name].astype(np.float32)
            index[name] = record["finished"]
            statuses[name] = "scored"
    kept = sorted(records)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        temporary,
        index=np.array(json.dumps({name: index[name] for name in kept})),
        labels=labels,
        **{name: logits[name] for name in kept},
    )
    temporary.replace(path)
    return statuses


def load_scores(
    protocol: str, results_dir: Path | None = None, variants: list[str] | tuple[str, ...] | None = None
) -> tuple[dict[tuple[str, int], np.ndarray], np.ndarray]:
    """The stored test logits of every committed run (of ``variants``), keyed (variant, seed), and the labels.

    Refuses a file that misses a committed run, or holds a run scored before it was retrained:
    the message gives the command that rescores.
    """
    from .metrics import roc_auc

    path = scores_path(protocol, results_dir)
    rescore = f"python -m qvit_lib scores --protocol {protocol}"
    logits, index, labels = _read(path)
    if labels is None:
        raise CheckpointError(f"{path}: no test scores for protocol {protocol!r}; compute them with: {rescore}")
    scores = {}
    for name, record in load_results(protocol, results_dir, variants).items():
        if name not in index:
            raise CheckpointError(f"{path}: no scores of the committed run {name}; add them with: {rescore}")
        if index[name] != record["finished"]:
            raise CheckpointError(
                f"{path}: the scores of {name} belong to the run finished {index[name]}, but the committed run "
                f"finished {record['finished']}; rescore with: {rescore}"
            )
        auc = roc_auc(logits[name], labels)
        if abs(auc - record["test"]["auc"]) > AUC_TOLERANCE:
            raise CheckpointError(
                f"{path}: the scores of {name} give test AUC {auc:.5f}, its record {record['test']['auc']:.5f}; "
                f"rescore with: {rescore}"
            )
        scores[record["variant"], record["seed"]] = logits[name]
    return scores, labels.astype(bool)
