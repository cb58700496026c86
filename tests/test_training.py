"""The training loop: metrics against scikit-learn, determinism, best-epoch selection."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from qvit_lib.analysis.metrics import roc_auc
from qvit_lib.core.errors import CheckpointError
from qvit_lib.models import build_model
from qvit_lib.training import TrainingDiverged, evaluate, load_checkpoint, train


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + labels * 0.7
    scores[:40] = np.round(scores[:40])  # ties
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_roc_auc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        roc_auc(np.arange(3.0), np.ones(3))


def toy_problem(n: int = 512, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, generator=g) > 0.5).float()
    x = torch.rand(n, 32, 32, generator=g) * 0.1
    x[:, 5, :4] += labels[:, None]  # the label is written into token 5
    return x, labels


def test_training_is_deterministic_and_learns():
    data = toy_problem()
    val = toy_problem(256, seed=1)
    runs = []
    for _ in range(2):
        model = build_model("classical-cmx-pe", seed=0)
        result = train(model, data, val, epochs=3, batch_size=128, seed=5, progress=False)
        runs.append((result.history, [p.detach().clone() for p in model.parameters()]))
    (history_a, params_a), (history_b, params_b) = runs
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in history_a] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in history_b
    ]
    assert all(torch.equal(p, q) for p, q in zip(params_a, params_b))
    assert history_a[-1]["val_accuracy"] > 0.9


def test_best_epoch_by_validation_accuracy_is_restored():
    data, val = toy_problem(), toy_problem(256, seed=1)
    model = build_model("none-cmx-nope", seed=0)
    result = train(model, data, val, epochs=4, batch_size=128, seed=0, progress=False)
    accuracies = result.curve("val_accuracy")
    assert result.best_epoch == int(np.argmax(accuracies)) + 1
    assert evaluate(model, *val)["accuracy"] == pytest.approx(max(accuracies))


def test_evaluate_metrics_against_scikit_learn():
    data = toy_problem(300, seed=2)
    model = build_model("none-cmn-pe", seed=1)
    metrics = evaluate(model, *data)
    with torch.no_grad():
        logits = model(data[0]).double()
    probabilities = torch.sigmoid(logits).numpy()
    labels = data[1].numpy()
    assert metrics["auc"] == pytest.approx(roc_auc_score(labels, logits.numpy()), abs=1e-12)
    assert metrics["accuracy"] == pytest.approx(((probabilities > 0.5) == labels).mean())
    bce = -np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
    assert metrics["bce"] == pytest.approx(bce, rel=1e-4)


# ----- checkpoints, resume and the NaN guard


class Interrupt(Exception):
    pass


def _comparable(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def test_an_interrupted_run_resumes_to_exactly_the_uninterrupted_result(tmp_path):
    data, val = toy_problem(384), toy_problem(128, seed=1)
    settings = dict(epochs=4, batch_size=128, seed=3, progress=False)

    model = build_model("classical-cmx-pe", seed=0, n_layers=2)
    straight = train(model, data, val, checkpoint=tmp_path / "straight.ckpt", **settings)
    straight_params = [p.detach().clone() for p in model.parameters()]

    def stop_after_two(record):
        if record["epoch"] == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(
            build_model("classical-cmx-pe", seed=0, n_layers=2),
            data,
            val,
            checkpoint=tmp_path / "run.ckpt",
            on_epoch_end=stop_after_two,
            **settings,
        )
    assert load_checkpoint(tmp_path / "run.ckpt")["epoch"] == 2

    model = build_model("classical-cmx-pe", seed=0, n_layers=2)  # a fresh process would start here
    resumed = train(model, data, val, checkpoint=tmp_path / "run.ckpt", resume=True, **settings)
    assert _comparable(resumed.history) == _comparable(straight.history)
    assert resumed.best_epoch == straight.best_epoch
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), straight_params))


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    data, val = toy_problem(256), toy_problem(128, seed=1)
    model = build_model("none-cmx-pe", seed=0)

    def poison(record):
        if record["epoch"] == 1:
            with torch.no_grad():
                model.embedding.weight.fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 2, batch 1.*epoch 1.*run\.ckpt"):
        train(
            model,
            data,
            val,
            epochs=3,
            batch_size=128,
            progress=False,
            checkpoint=tmp_path / "run.ckpt",
            on_epoch_end=poison,
        )
    state = load_checkpoint(tmp_path / "run.ckpt")
    assert state["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_a_bad_checkpoint_is_named(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.ckpt: not a readable training checkpoint"):
        load_checkpoint(bad)
    torch.save({"model": {}}, bad)
    with pytest.raises(ValueError, match="bad.ckpt: not a training checkpoint of qvit_lib"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.ckpt")


def test_train_checks_its_arguments():
    data = toy_problem(64)
    model = build_model("none-cmx-pe", seed=0)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train(model, data, data, epochs=0)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint"):
        train(model, data, data, epochs=1, resume=True)


_MALLOC_PROBE = """
import ctypes, ctypes.util, resource, sys
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "kept":
    from qvit_lib.training.process import keep_freed_memory
    assert keep_freed_memory()
size = 20 * 2**20
def cycle():
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
cycle()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc settings")
def test_keep_freed_memory_reuses_a_freed_block_without_page_faults():
    """A 20 MiB block freed and allocated again: ~5 000 page faults by default, none when kept."""
    faults = {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", _MALLOC_PROBE, mode], capture_output=True, text=True, check=True
            ).stdout
        )
        for mode in ("kept", "default")
    }
    assert faults["kept"] < 200 < 2000 < faults["default"], faults
    assert torch.ones(8 * 2**20).sum() == 8 * 2**20  # and large tensors still allocate and free


def test_progress_bars_are_off_in_the_book_build_and_under_ci(monkeypatch):
    from qvit_lib.core.config import progress_enabled

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("QVIT_PROGRESS", raising=False)
    assert progress_enabled() and not progress_enabled(False)
    monkeypatch.setenv("QVIT_PROGRESS", "0")  # what `make book` sets
    assert not progress_enabled() and progress_enabled(True)
    monkeypatch.delenv("QVIT_PROGRESS")
    monkeypatch.setenv("CI", "1")
    assert not progress_enabled()
