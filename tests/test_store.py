"""The run store: every committed run loads through it, and damaged or mixed-up run files are refused clearly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import torch

from qvit_lib import cli
from qvit_lib.core.errors import CheckpointError, ConfigError, DataError, RecordError
from qvit_lib.runs import experiments, gan_evaluation, gan_runs, scores, store

REPO = Path(__file__).resolve().parent.parent
PRE_MIGRATION = "da5a602be3e0dc338b4633ed81378dc3188f3799"  # the last commit before weights_sha256 was added
COMMITTED = store.RESULTS_DIR


def committed_records() -> list[Path]:
    return sorted(p for p in COMMITTED.rglob("*.json") if p.with_suffix(".pt").is_file())


def copy_run(protocol: str, name: str, target: Path, as_name: str | None = None) -> store.RunFiles:
    """A committed classifier run's record and weights (and scores, if any) copied under ``target``."""
    source = store.result_paths(protocol, name)
    files = store.result_paths(protocol, as_name or name, results_dir=target)
    files.record.parent.mkdir(parents=True, exist_ok=True)
    for a, b in ((source.record, files.record), (source.weights, files.weights), (source.scores, files.scores)):
        if a.is_file():
            shutil.copy(a, b)
    return files


# ----- the committed runs


def test_every_committed_classifier_run_loads_through_the_store():
    loaded = 0
    for protocol in ("cpu", "converged"):
        for record in experiments.load_results(protocol).values():
            model, again = experiments.load_trained(record["variant"], protocol, record["seed"])
            assert again == record and not model.training
            loaded += 1
    assert loaded == len(list((COMMITTED / "cpu").glob("*.json"))) + len(list((COMMITTED / "converged").glob("*.json")))
    assert loaded >= 116


def test_every_committed_gan_run_loads_through_the_store_with_its_evaluation():
    paths = sorted((COMMITTED / gan_runs.GAN_FOLDER).glob("*/*.json"))
    for path in paths:
        name, seed = store.split_run_name(path.stem)
        generator, record = gan_runs.load_generator(name, path.parent.name, seed)
        assert record["name"] == name and not generator.training
        evaluation = gan_evaluation.read_evaluation(name, path.parent.name, seed)  # of these very weights
        assert evaluation["weights_sha256"] == record["weights_sha256"]
    evaluations = sorted((COMMITTED / gan_runs.GAN_FOLDER).glob("*/evaluation/*.json"))
    assert [p.name for p in evaluations] == [p.name for p in paths]  # no evaluation without its run


def test_every_committed_record_with_weights_records_their_digest():
    paths = committed_records()
    assert len(paths) >= 118
    for path in paths:
        assert json.loads(path.read_text())["weights_sha256"] == store.weights_digest(path.with_suffix(".pt")), path


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)


def test_the_migration_changed_nothing_but_the_added_digest():
    """Every result value is byte-identical to the commit before the migration; only the digest line is new."""
    if _git("cat-file", "-e", f"{PRE_MIGRATION}^{{commit}}").returncode != 0:
        pytest.fail(f"the pre-migration commit {PRE_MIGRATION} is not in this clone's history (a shallow clone?)")
    checked = 0
    for path in committed_records():
        relative = path.relative_to(REPO).as_posix()
        old = _git("show", f"{PRE_MIGRATION}:{relative}")
        if old.returncode != 0:
            continue  # a run committed after the migration
        new_text = path.read_text()
        old_record, new_record = json.loads(old.stdout), json.loads(new_text)
        if old_record.get("finished") != new_record.get("finished"):
            continue  # another run at the same path (chapter 11's GANs were trained again)
        assert set(new_record) - set(old_record) <= {"weights_sha256"}, relative
        assert {k: v for k, v in new_record.items() if k != "weights_sha256"} == old_record, relative
        # byte-identical text: the old file's lines, the last one with a comma, then the digest
        old_lines, new_lines = old.stdout.rstrip("\n").split("\n"), new_text.rstrip("\n").split("\n")
        assert new_lines[: len(old_lines) - 2] == old_lines[:-2], relative
        assert new_lines[len(old_lines) - 2] == old_lines[-2] + ",", relative
        checked += 1
    assert checked >= 116  # 118 migrated, less the two first GAN runs that chapter 11 replaced


def test_the_migration_script_has_nothing_left_to_do():
    result = subprocess.run(
        [os.sys.executable, str(REPO / "scripts" / "migrate_run_records.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "would add weights_sha256 to 0 records" in result.stderr


# ----- paths


def test_result_paths_name_protocol_name_and_seed():
    files = store.result_paths("cpu", "hybrid-angle-cmx-pe", 2)
    assert files.record == COMMITTED / "cpu" / "hybrid-angle-cmx-pe-seed2.json"
    assert files.weights.name == "hybrid-angle-cmx-pe-seed2.pt" and files.scores.name.endswith(".scores.npz")
    gan = gan_runs.gan_paths("gan-classical", "cpu", 1)
    assert gan.record == COMMITTED / "gan" / "cpu" / "gan-classical-seed1.json"
    assert store.split_run_name("gan-classical-seed1") == ("gan-classical", 1)
    assert store.split_run_name("classical-cmx-pe") == ("classical-cmx-pe", 0)
    for bad in ("", "../x", "a/b"):
        with pytest.raises(ConfigError, match="cannot name a results folder"):
            store.result_paths(bad, "classical-cmx-pe")
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        store.run_name("x", -1)


def test_a_gan_seed_never_touches_another_seeds_files(tmp_path, monkeypatch):
    seed0, seed1 = (gan_runs.gan_paths("gan-cnn", "cpu", s, tmp_path) for s in (0, 1))
    assert {seed0.record, seed0.weights}.isdisjoint({seed1.record, seed1.weights})
    assert gan_evaluation.evaluation_path("gan-cnn", "cpu", 0) != gan_evaluation.evaluation_path("gan-cnn", "cpu", 1)
    # a real (quick) run of seed 1 beside seed 0's files: seed 0's bytes are untouched
    monkeypatch.delenv("QVIT_DATA", raising=False)
    gan_runs.run_gan("gan-cnn", "quick", seed=0, results_dir=tmp_path, progress=False)
    seed0 = gan_runs.gan_paths("gan-cnn", "quick", 0, tmp_path)
    before = {path: path.read_bytes() for path in (seed0.record, seed0.weights)}
    gan_runs.run_gan("gan-cnn", "quick", seed=1, results_dir=tmp_path, progress=False)
    assert all(path.read_bytes() == data for path, data in before.items())
    assert gan_runs.gan_paths("gan-cnn", "quick", 1, tmp_path).record.is_file()


# ----- damaged and mixed-up records


@pytest.fixture
def run_copy(tmp_path) -> store.RunFiles:
    return copy_run("cpu", "hybrid-angle-cmx-pe", tmp_path)


def _load(files: store.RunFiles):
    return experiments.load_trained("hybrid-angle-cmx-pe", "cpu", results_dir=files.record.parent.parent)


def test_a_truncated_record_names_the_file_and_where(run_copy):
    text = run_copy.record.read_text()
    run_copy.record.write_text(text[: len(text) // 2])
    with pytest.raises(RecordError, match=r"hybrid-angle-cmx-pe.json: not valid JSON at line \d+.*truncated"):
        _load(run_copy)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r.pop("test"), "field 'test' is missing"),
        (lambda r: r["test"].pop("auc"), "field 'test.auc' is missing"),
        (lambda r: r.update(comment="mine"), "unknown field 'comment'"),
        (lambda r: r.update(seed="0"), "field 'seed' should be an integer, found str"),
        (lambda r: r["test"].update(auc="0.8"), "field 'test.auc' should be a number"),
        (lambda r: r.update(best_epoch=True), "field 'best_epoch' should be an integer, found bool"),
        (
            lambda r: r["config"].update(pooling="cmn"),
            "'config' describes hybrid-angle-cmn-pe.*says hybrid-angle-cmx-pe",
        ),
        (lambda r: r["config"].update(colour="red"), "field 'config' is not a configuration of this kind of run"),
        (lambda r: r.update(seed=1), "name the run hybrid-angle-cmx-pe-seed1, not hybrid-angle-cmx-pe"),
        (lambda r: r["protocol"].update(name="converged"), "'protocol.name' is 'converged'.*'cpu' folder"),
        (lambda r: r.update(weights_sha256="0" * 64), "not the weights this run recorded"),
    ],
)
def test_an_edited_record_is_refused_naming_the_field(run_copy, edit, message):
    record = json.loads(run_copy.record.read_text())
    edit(record)
    run_copy.record.write_text(json.dumps(record))
    with pytest.raises(RecordError, match=message):
        _load(run_copy)


def test_a_record_that_is_not_an_object_is_refused(run_copy):
    run_copy.record.write_text("[1, 2]")
    with pytest.raises(RecordError, match="a run record is a JSON object, found list"):
        _load(run_copy)


def test_weights_of_another_run_with_the_same_shapes_are_refused(tmp_path, run_copy):
    shutil.copy(store.result_paths("cpu", "hybrid-angle-cmn-pe").weights, run_copy.weights)  # same tensor shapes
    with pytest.raises(RecordError, match="hybrid-angle-cmx-pe.pt: these are not the weights this run recorded"):
        _load(run_copy)


def test_nan_weights_are_refused_even_with_a_matching_digest(run_copy):
    state = torch.load(run_copy.weights, weights_only=True)
    next(iter(state.values())).fill_(float("nan"))
    record = json.loads(run_copy.record.read_text())
    record["weights_sha256"] = store.save_weights(state, run_copy.weights)
    run_copy.record.write_text(json.dumps(record, indent=1) + "\n")
    with pytest.raises(RecordError, match="are not finite"):
        _load(run_copy)


def test_a_stray_json_in_a_results_folder_is_skipped_with_a_note(tmp_path, capsys):
    copy_run("converged", "classical-cmx-pe", tmp_path)
    (tmp_path / "converged" / "notes.json").write_text('{"todo": "rerun"}')
    records = experiments.load_results("converged", tmp_path)
    assert list(records) == ["classical-cmx-pe"]
    assert "notes.json is not a run's record" in capsys.readouterr().err
    stored, _ = scores.load_scores("converged", tmp_path)
    assert list(stored) == [("classical-cmx-pe", 0)]


def test_a_damaged_record_stops_a_listing_with_its_name(tmp_path):
    files = copy_run("converged", "classical-cmx-pe", tmp_path)
    files.record.write_text(files.record.read_text()[:100])
    with pytest.raises(RecordError, match="classical-cmx-pe.json: not valid JSON"):
        experiments.load_results("converged", tmp_path)


def test_a_truncated_scores_file_is_refused_clearly(tmp_path):
    files = copy_run("converged", "classical-cmx-pe", tmp_path)
    data = files.scores.read_bytes()
    files.scores.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"classical-cmx-pe.scores.npz: not a test-scores file \(BadZipFile"):
        scores.load_scores("converged", tmp_path)
    assert zipfile.BadZipFile  # the error it used to raise


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_scoring_into_a_read_only_folder_is_refused_before_work(tmp_path):  # pragma: no cover - root in CI
    files = copy_run("converged", "classical-cmx-pe", tmp_path)
    files.scores.unlink()
    files.record.parent.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="no permission to write"):
            scores.score_runs("converged", tmp_path, progress=False)
    finally:
        files.record.parent.chmod(0o755)


def test_scoring_where_it_cannot_write_is_refused_before_work(tmp_path, monkeypatch):
    files = copy_run("converged", "classical-cmx-pe", tmp_path)
    files.scores.unlink()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == files.record.parent else real_access(p, mode))
    monkeypatch.setattr(experiments, "test_split", lambda *a: pytest.fail("scoring started before the check"))
    with pytest.raises(ConfigError, match=r"converged: no permission to write classical-cmx-pe.scores.npz"):
        scores.score_runs("converged", tmp_path, progress=False)


# ----- commands: outputs checked before the work, clear errors


def test_gan_refuses_unwritable_outputs_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(store, "RESULTS_DIR", tmp_path / "results")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "gan").write_text("a file where the folder should be")
    monkeypatch.setattr(gan_runs, "train_gan", lambda *a, **k: pytest.fail("training started before the check"))
    code = cli.main(["gan", "--model", "gan-classical", "--protocol", "quick"])
    assert code == 2
    assert "results/gan: is a file, not a folder; cannot write" in capsys.readouterr().err


def test_gan_on_too_few_events_says_so_before_training(tmp_path, monkeypatch, capsys):
    from qvit_lib.data.simulation import write_dataset

    write_dataset(tmp_path / "tiny", 10, seed=0)  # 5 events per class
    monkeypatch.setenv("QVIT_DATA", str(tmp_path / "tiny"))
    monkeypatch.setattr(store, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(gan_runs, "train_gan", lambda *a, **k: pytest.fail("training started before the check"))
    code = cli.main(["gan", "--model", "gan-classical", "--protocol", "quick"])
    err = capsys.readouterr().err
    assert code == 2 and "tiny" in err and "photons in the" in err and "at least 20 of each class" in err
    with pytest.raises(DataError):
        gan_runs._check_enough_events(tmp_path / "tiny")


def test_device_on_an_edited_record_is_a_clear_error(tmp_path, monkeypatch, capsys):
    files = copy_run("cpu", "hybrid-angle-cmx-pe", tmp_path / "results")
    files.record.write_text(files.record.read_text()[:-40])
    monkeypatch.setattr(store, "RESULTS_DIR", tmp_path / "results")
    code = cli.main(["device", "--protocol", "cpu", "--variant", "hybrid-angle-cmx-pe", "--events", "100"])
    err = capsys.readouterr().err
    assert code == 2 and "hybrid-angle-cmx-pe.json: not valid JSON" in err and "Traceback" not in err


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    from qvit_lib.models import build_model
    from qvit_lib.training import train
    from qvit_lib.training.checkpoint import RunIdentity

    g = torch.Generator().manual_seed(0)
    labels = (torch.arange(128) % 2).float()
    data = (torch.randn(128, 32, 32, generator=g) + labels[:, None, None], labels)
    path = tmp_path / "run.ckpt"
    mine = RunIdentity("none-cmx-pe", 0, "quick")
    train(build_model("none-cmx-pe"), data, data, epochs=1, batch_size=64, checkpoint=path, progress=False, run=mine)
    other = RunIdentity("none-cmx-pe-seed1", 1, "quick")
    with pytest.raises(CheckpointError, match="belongs to another run.*name 'none-cmx-pe', not 'none-cmx-pe-seed1'"):
        train(build_model("none-cmx-pe"), data, data, epochs=2, batch_size=64, checkpoint=path, resume=True, run=other)


# ----- device scans and fine-tuning runs (chapter 10)


def test_every_committed_hardware_record_loads_through_the_store():
    from qvit_lib.runs import hardware

    records = hardware.hardware_records("cpu")
    assert len(records) == 10 and "hybrid-angle-cmx-pe-finetune-shots100" in records
    assert all(r["protocol"] == "cpu" for r in records.values())


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"events"', '"event_count"', 1), "unknown field 'event_count'"),
        (lambda text: text.replace('"seed": 0', '"seed": "0"', 1), "seed"),
        (
            lambda text: text.replace('"variant": "hybrid-angle-cmx-pe"', '"variant": "hybrid-angle-cmn-pe"', 1),
            "variant",
        ),
    ],
)
def test_a_damaged_hardware_record_is_refused_by_name(tmp_path, damage, message):
    from qvit_lib.core.errors import RecordError
    from qvit_lib.runs import hardware

    folder = tmp_path / "hardware" / "cpu"
    folder.mkdir(parents=True)
    source = hardware.hardware_path("hybrid-angle-cmx-pe", "cpu")
    (folder / source.name).write_text(damage(source.read_text()))
    with pytest.raises(RecordError, match=message) as caught:
        hardware.hardware_records("cpu", results_dir=tmp_path)
    assert source.name in str(caught.value)


def test_a_stray_file_among_the_hardware_records_is_skipped_with_a_note(tmp_path, capsys):
    from qvit_lib.runs import hardware

    folder = tmp_path / "hardware" / "cpu"
    folder.mkdir(parents=True)
    (folder / "notes.json").write_text("{}")
    assert hardware.hardware_records("cpu", results_dir=tmp_path) == {}
    assert "notes.json is not a run's record" in capsys.readouterr().err


def test_a_device_scan_refuses_an_unwritable_output_before_any_work(tmp_path):
    from qvit_lib.core.errors import ConfigError
    from qvit_lib.runs import hardware

    (tmp_path / "hardware").write_text("a file where the folder should be")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        hardware.run_device_scan("no-such-variant-would-fail-later", "cpu", results_dir=tmp_path)


@pytest.fixture
def converged_copy(tmp_path) -> Path:
    """Every committed converged run (records, weights, scores) under a scratch results folder."""
    shutil.copytree(store.RESULTS_DIR / "converged", tmp_path / "results" / "converged")
    return tmp_path / "results"


@pytest.mark.parametrize(
    "command",
    [
        ["scores", "--protocol", "converged"],
        ["sweep", "--protocol", "converged", "--family", "design", "--workers", "0"],
    ],
)
@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda text: text[: len(text) // 2], "classical-cmx-pe-qmlp.json: not valid JSON"),
        (lambda text: text.replace('"pooling": "cmx"', '"pooling": "cmn"', 1), "classical-cmx-pe-qmlp.json"),
    ],
)
def test_scores_and_sweep_on_a_damaged_record_exit_with_its_name(converged_copy, capsys, command, damage, message):
    record = converged_copy / "converged" / "classical-cmx-pe-qmlp.json"
    record.write_text(damage(record.read_text()))
    code = cli.main([*command, "--results-dir", str(converged_copy)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["scores", "--protocol", "converged"],
        ["sweep", "--protocol", "converged", "--family", "design", "--workers", "0"],
    ],
)
def test_scores_and_sweep_skip_a_stray_json_with_a_note(converged_copy, capsys, command):
    (converged_copy / "converged" / "notes.json").write_text('{"todo": "rerun"}')
    code = cli.main([*command, "--results-dir", str(converged_copy)])
    captured = capsys.readouterr()
    assert code == 0 and "notes.json is not a run's record" in captured.err


def test_a_scan_reads_its_auc_per_setting_and_the_shots_that_keep_it():
    from qvit_lib.core.errors import ConfigError
    from qvit_lib.runs import hardware

    scan = {
        "variant": "v",
        "exact": {"auc": 0.80},
        "rows": [
            {"knob": "shots", "shots": 10, "auc": 0.70},
            {"knob": "shots", "shots": 10, "auc": 0.72},
            {"knob": "shots", "shots": 100, "auc": 0.79},
            {"knob": "shots", "shots": 1000, "auc": 0.799},
        ],
    }
    assert hardware.scan_auc(scan, "shots", 10) == pytest.approx(0.71)
    assert hardware.shots_to_keep(scan, 0.005) == 1000 and hardware.shots_to_keep(scan, 0.02) == 100
    assert hardware.shots_to_keep(scan, 0.0001) is None
    with pytest.raises(ConfigError, match="no setting shots = 30"):
        hardware.scan_auc(scan, "shots", 30)
