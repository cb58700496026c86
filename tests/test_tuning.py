"""Equal tuning with Ray Tune, sweeps as Ray tasks, and the optimiser settings they search.

CI runs a two-trial search and a two-run sweep on the quick protocol, on a local Ray of two CPUs.
Those two are marked ``ray``: ``make test`` runs them after the parallel tests, alone, since
Ray gives its local node 30 s to start and a core busy with another test worker can miss that.
"""

from __future__ import annotations

import json

import pytest
import torch

from qvit_lib.core.errors import ConfigError, RecordError
from qvit_lib.runs import experiments


@pytest.fixture(scope="module")
def local_ray():
    import ray  # in the book's environment: CI runs these tests, never skips them

    from qvit_lib.runs.tuning import start_ray

    start_ray(cpus=2)
    yield ray
    ray.shutdown()


def _quick_sets():
    sets, _ = experiments.load_protocol_data(experiments.get_protocol("quick"))
    return sets


def _train(**settings):
    from qvit_lib.models.vit import build_model
    from qvit_lib.training.classifier import train

    sets = _quick_sets()
    model = build_model("classical-cmx-pe", seed=0)
    result = train(model, sets["train"], sets["val"], epochs=2, batch_size=256, seed=0, progress=False, **settings)
    return result.history, model


def test_zero_weight_decay_and_warm_up_are_the_papers_adam():
    plain, plain_model = _train()
    zero, zero_model = _train(weight_decay=0.0, warmup_epochs=0.0)
    assert [h["train_loss"] for h in plain] == [h["train_loss"] for h in zero]
    assert all(torch.equal(a, b) for a, b in zip(plain_model.state_dict().values(), zero_model.state_dict().values()))
    ramped, _ = _train(warmup_epochs=1.0)
    decayed, _ = _train(weight_decay=0.1)
    assert ramped[0]["train_loss"] != plain[0]["train_loss"]  # the ramp changes the first epoch
    assert decayed[-1]["train_loss"] != plain[-1]["train_loss"]
    with pytest.raises(ConfigError, match="weight_decay and warmup_epochs >= 0"):
        _train(warmup_epochs=-1.0)


def test_warm_up_ramps_the_learning_rate_batch_by_batch():
    from qvit_lib.models.vit import build_model
    from qvit_lib.training.classifier import train

    sets = _quick_sets()
    seen = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy
    try:
        model = build_model("classical-cmx-pe", seed=0)
        n_batches = -(-len(sets["train"][0]) // 256)
        train(model, sets["train"], sets["val"], epochs=2, batch_size=256, lr=1e-2, warmup_epochs=1.0, progress=False)
    finally:
        torch.optim.Adam.step = original
    assert seen[0] == pytest.approx(1e-2 / n_batches)
    assert seen[n_batches - 1] == pytest.approx(1e-2) and seen[-1] == pytest.approx(1e-2)
    assert all(a < b for a, b in zip(seen[: n_batches - 1], seen[1:n_batches]))


def test_a_run_records_the_settings_it_trained_with(tmp_path):
    settings = {"lr": 2e-3, "weight_decay": 1e-3, "warmup_epochs": 0.5}
    record = experiments.run_variant("none-cmx-pe", "quick", optimiser=settings, results_dir=tmp_path, progress=False)
    assert record["optimiser"] == settings
    assert experiments.read_run_record(tmp_path / "quick" / "none-cmx-pe.json")["optimiser"] == settings
    with pytest.raises(ConfigError, match=r"unknown settings \['momentum'\]"):
        experiments.run_variant("none-cmx-pe", "quick", optimiser={"momentum": 0.9}, results_dir=tmp_path)


def test_the_tuned_protocol_needs_a_tuning_record(tmp_path):
    with pytest.raises(
        ConfigError, match="no tuning record of none-cmx-pe; search first with: python -m qvit_lib tune"
    ):
        experiments.run_variant("none-cmx-pe", "tuned", results_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match="'tuned' go together"):
        experiments.sweep_plan((0,), "converged", "tuned")


@pytest.mark.ray
def test_a_two_trial_search_writes_a_record_the_tuned_protocol_reads(local_ray, tmp_path):
    from qvit_lib.runs.tuning import SEARCH_SPACE, search_cpus, trial_table, tune_variant

    record = tune_variant("none-cmx-pe", trials=2, protocol="quick", results_dir=tmp_path)
    path = experiments.tuning_path("none-cmx-pe", "quick", tmp_path)
    assert experiments.read_tuning_record(path) == json.loads(path.read_text()) == record
    assert len(record["trials"]) == 2 and len({json.dumps(t["config"]) for t in record["trials"]}) == 2
    for name, (_, low, high) in SEARCH_SPACE.items():
        assert all(low <= t["config"][name] <= high for t in record["trials"])
    assert record["chosen"] in [t["config"] for t in record["trials"]]
    assert record["scheduler"]["cpus"] == search_cpus(record) == 2  # the local Ray's two CPUs
    assert search_cpus({"scheduler": {"name": "ASHA"}}) == 1  # recorded before the field
    assert trial_table(record)[0]["val_auc"] == max(t["val_auc"][-1] for t in record["trials"])
    # a record moved to another variant's name is refused
    other = path.with_name("classical-cmx-pe.json")
    other.write_text(path.read_text())
    with pytest.raises(RecordError, match="tunes none-cmx-pe on quick, but the file names classical-cmx-pe"):
        experiments.read_tuning_record(other)


@pytest.mark.ray
def test_a_ray_sweep_shares_claims_and_records_with_the_file_lock_sweep(local_ray, tmp_path):
    from qvit_lib.runs.tuning import sweep_with_ray

    plan = [("none-cmx-pe", 0), ("none-cmx-nope", 0)]
    statuses = sweep_with_ray("quick", plan, results_dir=tmp_path)
    assert [(v, s) for v, s, _ in statuses] == plan and all("test AUC" in status for *_, status in statuses)
    for variant, _ in plan:
        experiments.load_trained(variant, "quick", results_dir=tmp_path)
    again = experiments.sweep("quick", results_dir=tmp_path, plan=plan, progress=False)  # the file-lock sweep
    assert [status for *_, status in again] == ["done already"] * 2
    assert [status for *_, status in sweep_with_ray("quick", plan, results_dir=tmp_path)] == ["done already"] * 2
