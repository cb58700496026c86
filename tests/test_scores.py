"""The committed test scores: complete, belonging to their runs, and recomputable on any processor."""

import json
import shutil

import numpy as np
import pytest

from qvit_lib.analysis.metrics import roc_auc
from qvit_lib.core.errors import CheckpointError
from qvit_lib.runs import experiments, scores, store


@pytest.mark.parametrize("protocol", scores.SCORED_PROTOCOLS)
def test_the_committed_scores_cover_every_committed_run(protocol):
    """Every cpu, converged or tuned run committed has its logits beside it (<run>.scores.npz), scored
    after it finished training (a run committed without ``python -m qvit_lib scores`` fails here)."""
    stored, labels = scores.load_scores(protocol)
    records = experiments.load_results(protocol)
    assert sorted(stored) == sorted((r["variant"], r["seed"]) for r in records.values())
    assert labels.shape == (10_000,) and labels.mean() == 0.5
    for record in records.values():
        logits = stored[record["variant"], record["seed"]]
        assert logits.dtype == np.float32 and logits.shape == labels.shape
        assert roc_auc(logits, labels) == pytest.approx(record["test"]["auc"], abs=scores.AUC_TOLERANCE)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["none-cmx-pe", "classical-cmx-pe", "hybrid-angle-cmx-pe"])
def test_recomputed_scores_agree_with_the_stored_ones_to_rounding(variant, monkeypatch):
    """The file was written on one processor; recomputing on this one (AVX2 or AVX-512) gives the
    same logits to float32 rounding of a few layers, far inside 10⁻⁴, not necessarily bit for bit."""
    monkeypatch.delenv("QVIT_DATA", raising=False)
    stored, _ = scores.load_scores("converged", variants=[variant])
    recomputed = experiments.test_scores("converged", variant, 0)
    difference = np.abs(recomputed - stored[variant, 0]).max()
    print(f"{variant}: largest logit difference {difference:.2e}")
    assert difference < 1e-4


def _copy_runs(names, tmp_path):
    root = tmp_path / "converged"
    root.mkdir(exist_ok=True)
    for name in names:
        for suffix in (".json", ".pt"):
            shutil.copy(store.RESULTS_DIR / "converged" / f"{name}{suffix}", root / f"{name}{suffix}")
    return root


@pytest.mark.slow
def test_scores_are_refused_when_missing_stale_or_not_of_their_run(tmp_path, monkeypatch):
    monkeypatch.delenv("QVIT_DATA", raising=False)
    root = _copy_runs(["none-cmx-pe", "none-cmx-pe-seed1"], tmp_path)
    with pytest.raises(CheckpointError, match="no test scores of the committed run none-cmx-pe.*qvit_lib scores"):
        scores.load_scores("converged", tmp_path)
    assert scores.score_runs("converged", tmp_path, progress=False) == {
        "none-cmx-pe": "scored",
        "none-cmx-pe-seed1": "scored",
    }
    stored, labels = scores.load_scores("converged", tmp_path)
    committed, _ = scores.load_scores("converged", variants=["none-cmx-pe"])
    np.testing.assert_array_equal(stored["none-cmx-pe", 1], committed["none-cmx-pe", 1])  # same machine: same bits

    _copy_runs(["none-cmx-pe-seed2"], tmp_path)  # committed, not yet scored
    with pytest.raises(CheckpointError, match="no test scores of the committed run none-cmx-pe-seed2"):
        scores.load_scores("converged", tmp_path)
    assert scores.score_runs("converged", tmp_path, progress=False)["none-cmx-pe-seed1"] == "kept"
    assert len(scores.load_scores("converged", tmp_path)[0]) == 3

    record = json.loads((root / "none-cmx-pe.json").read_text())
    record["finished"] = "2030-01-01T00:00:00+00:00"  # retrained since it was scored
    (root / "none-cmx-pe.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="belong to the run of none-cmx-pe finished .*rescore with"):
        scores.load_scores("converged", tmp_path)
    assert scores.score_runs("converged", tmp_path, progress=False)["none-cmx-pe"] == "scored"

    # logits that are not the run's (here: shuffled) disagree with its recorded AUC
    path = scores.scores_path("converged", "none-cmx-pe", 1, tmp_path)
    with np.load(path) as f:
        arrays = dict(f)
    np.savez_compressed(path, **{**arrays, "logits": np.random.default_rng(0).permutation(arrays["logits"])})
    with pytest.raises(CheckpointError, match="scores of none-cmx-pe-seed1 give test AUC 0.5"):
        scores.load_scores("converged", tmp_path)
    np.savez_compressed(path, **arrays)
    other = scores.scores_path("converged", "none-cmx-pe", 2, tmp_path)  # loaded after seed 1: file order
    with np.load(other) as f:
        arrays = dict(f)
    flipped = np.packbits(~np.unpackbits(arrays["labels"]).astype(bool))  # other test events
    np.savez_compressed(other, **{**arrays, "labels": flipped})
    with pytest.raises(CheckpointError, match="none-cmx-pe-seed2.scores.npz: scored on other test events"):
        scores.load_scores("converged", tmp_path)
    path.write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="not a test-scores file"):
        scores.load_scores("converged", tmp_path)


@pytest.mark.slow
def test_train_and_sweep_store_the_scores_of_converged_runs(tmp_path, monkeypatch, capsys):
    """What `train` and `sweep` call at the end: new converged runs get their scores; the quick protocol's none."""
    from qvit_lib import cli

    monkeypatch.delenv("QVIT_DATA", raising=False)
    _copy_runs(["none-cmx-pe"], tmp_path)
    assert "quick" not in scores.SCORED_PROTOCOLS
    cli._store_scores("quick", tmp_path)  # no chapter compares quick runs pairwise
    assert not scores.scores_path("converged", "none-cmx-pe", 0, tmp_path).exists()
    cli._store_scores("converged", tmp_path)
    assert "test scores stored for 1 new run(s)" in capsys.readouterr().out
    assert list(scores.load_scores("converged", tmp_path)[0]) == [("none-cmx-pe", 0)]
