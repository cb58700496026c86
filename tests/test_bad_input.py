"""Bad input and faults, as a new user meets them: a clear message, never a traceback.

Each case builds its own small file or checkpoint. The command line is run in-process
(``cli.main`` returns the exit code) unless the case needs a real process (Ctrl-C).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from qvit_lib import cli
from qvit_lib.core.config import CHECKPOINTS_ENV
from qvit_lib.core.errors import CheckpointError, ConfigError, DataError, TrainingInterrupted
from qvit_lib.data import EcalDataset, normalise_energy, shapes
from qvit_lib.data.simulation import write_dataset
from qvit_lib.models import build_model
from qvit_lib.runs import experiments, store
from qvit_lib.training import load_checkpoint, train

from .conftest import valid_arrays, write_h5

REPO = Path(__file__).resolve().parent.parent


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def isolated_runs(tmp_path, monkeypatch):
    """Results and checkpoints of the command line in a temporary directory."""
    monkeypatch.setattr(store, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setenv(CHECKPOINTS_ENV, str(tmp_path / "checkpoints"))
    return tmp_path / "checkpoints" / "quick" / "none-cmx-pe.ckpt"


def toy(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % 2).float()
    x = torch.rand(n, 32, 32, generator=g) * 0.1
    x[:, 5, :4] += labels[:, None]
    return x, labels


# ----- checkpoints: truncated, empty, foreign, another architecture


def _real_checkpoint(path: Path, variant: str = "none-cmx-pe") -> Path:
    train(build_model(variant, seed=0), toy(), toy(64, 1), epochs=1, batch_size=128, checkpoint=path, progress=False)
    return path


@pytest.mark.parametrize("damage", ["truncated", "empty", "foreign dict", "text"])
def test_resume_from_a_broken_checkpoint_is_a_clear_error(capsys, isolated_runs, damage):
    path = isolated_runs
    path.parent.mkdir(parents=True)
    if damage == "truncated":
        whole = _real_checkpoint(path).read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "foreign dict":
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        path.write_text("not a checkpoint\n")
    code, _, err = run_cli(capsys, "train", "--variant", "none-cmx-pe", "--protocol", "quick", "--resume")
    assert code == 2 and "Traceback" not in err
    assert f"\nerror: {path}: " in err and "checkpoint" in err
    expected = {
        "truncated": "truncated",
        "empty": "empty (0 bytes)",
        "foreign dict": "missing",
        "text": "not a readable",
    }[damage]
    assert expected in err


def test_a_checkpoint_of_another_architecture_names_what_differs(capsys, isolated_runs):
    path = isolated_runs
    path.parent.mkdir(parents=True)
    _real_checkpoint(path, variant="classical-cmx-pe")
    code, _, err = run_cli(capsys, "train", "--variant", "none-cmx-pe", "--protocol", "quick", "--resume")
    assert code == 2 and "Traceback" not in err
    assert f"error: {path}: weights of another model, not of none-cmx-pe (unexpected: layers.0" in err
    with pytest.raises(CheckpointError, match="other shapes: embedding.weight"):
        other = build_model("none-cmx-pe", d_token=8, n_heads=2)
        train(other, toy(), toy(64, 1), epochs=2, batch_size=128, checkpoint=path, resume=True, progress=False)


def test_load_checkpoint_errors_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        load_checkpoint(tmp_path / "missing.ckpt")
    torch.save(torch.zeros(2), tmp_path / "tensor.ckpt")
    with pytest.raises(CheckpointError, match="not a training checkpoint of qvit_lib"):
        load_checkpoint(tmp_path / "tensor.ckpt")


def test_resume_without_a_checkpoint_says_it_starts_from_scratch(capsys, isolated_runs):
    code, out, err = run_cli(capsys, "train", "--variant", "none-cmx-pe", "--protocol", "quick", "--resume")
    assert code == 0
    assert f"no checkpoint at {isolated_runs}: training none-cmx-pe from scratch" in err
    assert "test accuracy" in out


# ----- Ctrl-C


def test_ctrl_c_in_the_library_says_which_checkpoint_is_kept(tmp_path):
    path = tmp_path / "run.ckpt"

    def stop_after_first_epoch(record):
        raise KeyboardInterrupt

    model = build_model("none-cmx-pe", seed=0)
    with pytest.raises(TrainingInterrupted, match=rf"the checkpoint after epoch 1 is kept in {path}"):
        train(
            model,
            toy(),
            toy(64, 1),
            epochs=3,
            batch_size=128,
            checkpoint=path,
            on_epoch_end=stop_after_first_epoch,
            progress=False,
        )
    assert load_checkpoint(path)["epoch"] == 1
    with pytest.raises(TrainingInterrupted, match="nothing was kept"):
        train(model, toy(), toy(64, 1), epochs=1, batch_size=128, on_epoch_end=stop_after_first_epoch, progress=False)


@pytest.mark.slow
def test_ctrl_c_on_the_command_line_stops_cleanly(tmp_path):
    """A real SIGINT in the second epoch's validation: no traceback, the kept checkpoint, the resume command."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from qvit_lib import cli
        from qvit_lib.runs import experiments, store
        from qvit_lib.training import classifier
        # as in a terminal: a parent started in the background (nohup … &) passes SIGINT on ignored
        signal.signal(signal.SIGINT, signal.default_int_handler)
        store.RESULTS_DIR = Path({str(tmp_path / "results")!r})
        os.environ["QVIT_CHECKPOINTS"] = {str(tmp_path / "checkpoints")!r}
        experiments.PROTOCOLS["quick"] = experiments.Protocol("quick", 2_000, 3)
        real_evaluate, calls = classifier.evaluate, []
        def evaluate(*args):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)
            return real_evaluate(*args)
        classifier.evaluate = evaluate
        raise SystemExit(cli.main(["train", "--variant", "none-cmx-pe", "--protocol", "quick"]))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    checkpoint = tmp_path / "checkpoints" / "quick" / "none-cmx-pe.ckpt"
    assert (
        f"interrupted: stopped in epoch 2, batch 4 of 4; the checkpoint after epoch 1 is kept in {checkpoint}"
        in result.stderr
    )
    assert (
        "to continue: python -m qvit_lib train --variant none-cmx-pe --protocol quick --seed 0 --resume"
        in result.stderr
    )
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 1


# ----- simulate: output paths and seeds


def test_simulate_refuses_an_existing_file_unless_asked(capsys, tmp_path):
    out = tmp_path / "sample.h5"
    assert run_cli(capsys, "simulate", "--n", "20", "--out", str(out), "--quiet")[0] == 0
    code, _, err = run_cli(capsys, "simulate", "--n", "20", "--out", str(out), "--quiet")
    assert code == 2 and f"error: --out {out}: {out} already exists" in err and "--overwrite" in err
    assert run_cli(capsys, "simulate", "--n", "20", "--out", str(out), "--quiet", "--overwrite")[0] == 0


def test_simulate_under_a_regular_file(capsys, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for out in (blocker / "pair", blocker / "sub" / "x.h5"):
        code, _, err = run_cli(capsys, "simulate", "--n", "20", "--out", str(out), "--quiet")
        assert code == 2 and f"{blocker} is a regular file, not a directory" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "simulate", "--n", "20", "--out", str(blocker), "--quiet")
    assert code == 2 and "is a regular file, not a directory" in err


def test_simulate_into_a_read_only_directory(capsys, tmp_path):
    target = tmp_path / "read-only"
    target.mkdir()
    target.chmod(0o555)
    if os.access(target, os.W_OK):  # root writes anywhere: take a file system nobody may write in
        target = Path("/sys/qvit-book-test")
        try:
            target.mkdir()
        except OSError:
            pass
        else:
            target.rmdir()
            pytest.skip("no read-only directory on this machine")
    code, _, err = run_cli(capsys, "simulate", "--n", "20", "--out", str(target / "pair"), "--quiet")
    assert code == 2 and f"error: --out {target / 'pair'}: cannot write in" in err and "Traceback" not in err


def test_negative_seeds_are_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli.main(["simulate", "--n", "20", "--out", str(tmp_path / "x.h5"), "--seed", "-1"])
    assert stop.value.code == 2
    assert "argument --seed: expected a non-negative integer, got -1" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="seed must be a non-negative integer, got -1"):
        write_dataset(tmp_path / "x.h5", 20, seed=-1)


# ----- params with hyper-parameters that rule out some variants


def test_params_marks_variants_the_hyper_parameters_rule_out(capsys):
    code, out, err = run_cli(capsys, "params", "--d-token", "4", "--n-heads", "4")
    assert code == 0 and not err
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert rows["classical-cmx-pe"].split()[1] == rows["classical-cmx-pe"].split()[2]
    assert "not defined: hybrid attention needs at least 2 qubits per head (d_h)" in rows["hybrid-angle-cmx-pe"]
    code, _, err = run_cli(capsys, "params", "--d-token", "10", "--n-heads", "4")
    assert code == 2 and "error: d_token (10) must be divisible by n_heads (4)" in err


# ----- empty requests and splits


def test_empty_requests_give_empty_arrays(pair_dir):
    with EcalDataset(pair_dir) as ds:
        images, labels = ds.load("train", 0)
        tokens, token_labels = ds.tokens("test", 0)
    assert images.shape == (0, 32, 32) and labels.shape == (0,)
    assert tuple(tokens.shape) == (0, 32, 32) and tuple(token_labels.shape) == (0,)
    assert normalise_energy(np.zeros((0, 32, 32), np.float32)).shape == (0, 32, 32)


def test_five_events_per_class_has_an_empty_validation_split(tmp_path):
    X, y = valid_arrays(10)
    path = write_h5(tmp_path / "tiny.h5", X=X, y=y)
    with EcalDataset(path) as ds:
        assert ds.split_size("val") == 0
        val = ds.tokens("val")
        train_set = ds.tokens("train")
    assert len(val[0]) == 0
    with pytest.raises(DataError, match="val_set: 0 events .*expected at least one event of each class"):
        train(build_model("none-cmx-pe"), train_set, val, epochs=1, progress=False)


def test_separability_on_too_few_events(capsys, tmp_path):
    X, y = valid_arrays(2)
    path = write_h5(tmp_path / "two.h5", X=X, y=y)
    code, out, err = run_cli(capsys, "separability", str(path))
    assert code == 2 and "Traceback" not in err
    assert "0 events of the training split" in out
    assert "error: a separability baseline needs at least 10 events of each class; got 0 photons and 0 electrons" in err
    with pytest.raises(DataError):
        shapes.pixel_separability_auc(X[..., 0], y)


# ----- HDF5 links, virtual datasets and empty images


def test_an_external_link_to_a_missing_file(tmp_path):
    X, y = valid_arrays(20)
    source = write_h5(tmp_path / "source.h5", X=X)
    with h5py.File(tmp_path / "linked.h5", "w") as f:
        f["X"] = h5py.ExternalLink(source.name, "/X")
        f.create_dataset("y", data=y)
    with EcalDataset(tmp_path / "linked.h5") as ds:  # the link works while its file is there
        assert ds.n_per_class == 10
    source.unlink()
    with pytest.raises(
        DataError, match=r"linked\.h5: field 'X' is an external link to .*source\.h5, which does not exist"
    ):
        EcalDataset(tmp_path / "linked.h5")


def test_a_virtual_dataset_whose_sources_are_gone(tmp_path):
    X, y = valid_arrays(20)
    source = write_h5(tmp_path / "part.h5", X=X)
    layout = h5py.VirtualLayout(shape=X.shape, dtype=X.dtype)
    layout[:] = h5py.VirtualSource(source.name, "X", shape=X.shape)
    with h5py.File(tmp_path / "virtual.h5", "w") as f:
        f.create_virtual_dataset("X", layout, fillvalue=0)
        f.create_dataset("y", data=y)
    with EcalDataset(tmp_path / "virtual.h5") as ds:
        assert ds.load("train", 2, normalise=False)[0].max() > 0
    source.unlink()
    with pytest.raises(
        DataError, match=r"virtual\.h5: field 'X' is a virtual dataset whose source file .*part\.h5 does not exist"
    ):
        EcalDataset(tmp_path / "virtual.h5")


def test_a_file_of_empty_images_is_refused(tmp_path, capsys):
    X, y = valid_arrays(20)
    X[..., 0] = 0
    path = write_h5(tmp_path / "empty.h5", X=X, y=y)
    with pytest.raises(DataError, match="has no energy anywhere in all 20 events read; expected showers"):
        EcalDataset(path)
    code, _, err = run_cli(capsys, "info", str(path))
    assert code == 2 and "no energy anywhere" in err


# ----- info


def test_info_reads_qvit_data(capsys, pair_dir, monkeypatch):
    monkeypatch.setenv("QVIT_DATA", str(pair_dir))
    code, out, _ = run_cli(capsys, "info")
    assert code == 0 and str(pair_dir) in out and "SimPhoton" in out


def test_info_flags_a_photon_file_labelled_electron(capsys, tmp_path):
    X, _ = valid_arrays(20)
    write_h5(tmp_path / "SinglePhotonPt50.h5", X=X, y=np.ones(20, np.float32))
    write_h5(tmp_path / "SingleElectronPt50.h5", X=X, y=np.ones(20, np.float32))
    code, _, err = run_cli(capsys, "info", str(tmp_path))
    assert code == 2
    assert "SinglePhotonPt50.h5: the photon file must have y = 0 for every event; event 0 has y = 1" in err


# ----- sweeps that share a results directory


def test_a_claimed_run_is_left_to_its_owner_and_a_dead_owner_is_replaced(tmp_path):
    plan = [("none-cmx-pe", 0), ("none-cmn-pe", 0)]
    results = tmp_path / "results"
    json_path = store.result_paths("quick", "none-cmx-pe", 0, results_dir=results).record
    json_path.parent.mkdir(parents=True)
    lock = json_path.with_suffix(".lock")
    import socket

    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": 0}))  # alive: this process
    statuses = experiments.sweep("quick", results_dir=results, plan=plan, progress=False)
    assert [s[2] for s in statuses][0] == "taken by another process"
    assert statuses[1][2].startswith("test AUC")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead), "since": 0}))
    statuses = experiments.sweep("quick", results_dir=results, plan=plan, progress=False)
    assert statuses[0][2].startswith("test AUC") and statuses[1][2] == "done already"
    assert not lock.exists()


@pytest.mark.slow
def test_two_sweeps_on_one_directory_train_each_run_once(tmp_path):
    plan = [("none-cmx-pe", 0), ("none-cmn-pe", 0), ("none-cmx-nope", 0), ("none-cmn-nope", 0)]
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from qvit_lib.runs import experiments
        statuses = experiments.sweep("quick", results_dir=Path({str(tmp_path)!r}), plan={plan!r}, progress=False)
        print(json.dumps([s for s in statuses if s[2].startswith("test AUC")]))
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
        for _ in range(2)
    ]
    trained = [json.loads(w.communicate(timeout=300)[0].strip().splitlines()[-1]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    names = [tuple(run[:2]) for share in trained for run in share]
    assert sorted(names) == sorted(map(tuple, plan))  # every run once, none twice
