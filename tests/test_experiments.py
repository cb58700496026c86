"""Protocols, single runs, sweeps and their committed results."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch

from qvit_lib import cli
from qvit_lib.analysis import metrics
from qvit_lib.core import config
from qvit_lib.core.errors import CheckpointError, ConfigError
from qvit_lib.models import ViTConfig, all_variants, build_model
from qvit_lib.runs import experiments, store


def test_unknown_variant_or_protocol_lists_the_valid_ones(capsys):
    cases = [
        (
            ["train", "--variant", "hybrid-max-pe", "--protocol", "quick"],
            "error: unknown variant 'hybrid-max-pe': expected <attention>-<pooling>-<pe\\|nope>.*params` lists all",
        ),
        (
            ["train", "--variant", "classical-cmx-pe", "--protocol", "gpu"],
            "error: unknown protocol 'gpu'; valid protocols: quick, cpu, paper",
        ),
        (["sweep", "--protocol", "fast"], "error: unknown protocol 'fast'"),
    ]
    for args, message in cases:
        assert cli.main(args) == 2
        assert re.search(message, capsys.readouterr().err)


def test_help_names_the_protocols(capsys):
    for command in ("train", "sweep"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = capsys.readouterr().out
        assert "quick" in out and "cpu" in out and "paper" in out


def test_the_sweep_covers_every_variant_and_three_seeds_of_cmx_pe():
    plan = experiments.sweep_plan()
    assert {v for v, s in plan if s == 0} == set(all_variants())
    for variant in ("classical-cmx-pe", "hybrid-cmx-pe", "hybrid-angle-cmx-pe"):
        assert sorted(s for v, s in plan if v == variant) == [0, 1, 2]
    assert len(plan) == len(set(plan))


def test_the_converged_sweep_runs_every_paper_variant_with_three_seeds():
    plan = experiments.sweep_plan(protocol="converged")
    assert len(plan) == len(set(plan)) == 22 * 3
    assert {v for v, _ in plan} == set(all_variants())
    assert {s for _, s in plan} == {0, 1, 2}
    assert plan[:3] == [("classical-cmx-pe", 0), ("classical-cmx-pe", 1), ("classical-cmx-pe", 2)]
    assert experiments.get_protocol("converged").epochs == 40


def test_the_design_sweep_holds_chapter_nine_runs():
    from qvit_lib.models import ViTConfig

    plan = experiments.sweep_plan(family="design")
    assert len(plan) == len(set(plan)) == 13 and {s for _, s in plan} == {0}
    grid = {
        (c.attention, c.feed_forward, c.rk_order)
        for c in (ViTConfig.from_variant(v) for v, _ in plan)
        if c.attention != "hybrid"
    }
    expected = {(a, f, k) for a in ("classical", "hybrid-angle", "qproj") for f in ("mlp", "qmlp") for k in (1, 4)}
    assert grid | {("classical", "mlp", 1), ("hybrid-angle", "mlp", 1)} == expected | {
        ("classical", "mlp", 2),
        ("classical", "mlp", 3),
    }
    assert ("hybrid-cmx-pe-qmlp", 0) in plan
    with pytest.raises(ConfigError, match="unknown sweep family"):
        experiments.sweep_plan(family="all")


def test_the_converged_design_sweep_trains_the_best_of_each_family_with_every_seed(tmp_path):
    import json

    best = experiments.best_of_design_families()
    assert best == {
        "quantum feed-forward": "classical-cmx-pe-qmlp",
        "quantum projections": "qproj-cmx-pe",
        "Runge–Kutta layers": "classical-cmx-pe-rk3",
    }  # the committed cpu runs of chapter 9
    plan = experiments.sweep_plan(protocol="converged", family="design")
    assert plan == [(variant, seed) for seed in (0, 1, 2) for variant in best.values()]  # seed 0 first
    # the choice follows the results: here qproj-cmx-pe-rk4 beats qproj-cmx-pe
    (tmp_path / "cpu").mkdir()
    aucs = {"qproj-cmx-pe": 0.70, "qproj-cmx-pe-rk4": 0.80, "classical-cmx-pe-rk2": 0.75, "hybrid-cmx-pe-qmlp": 0.6}
    template = json.loads(store.result_paths("cpu", "classical-cmx-pe").record.read_text())
    for variant, auc in aucs.items():
        config = dataclasses.asdict(ViTConfig.from_variant(variant))
        record = {**template, "variant": variant, "config": config, "test": {**template["test"], "auc": auc}}
        (tmp_path / "cpu" / f"{variant}.json").write_text(json.dumps(record))
    assert experiments.best_of_design_families(tmp_path) == {
        "quantum feed-forward": "hybrid-cmx-pe-qmlp",
        "quantum projections": "qproj-cmx-pe-rk4",
        "Runge–Kutta layers": "qproj-cmx-pe-rk4",
    }
    (tmp_path / "cpu" / "hybrid-cmx-pe-qmlp.json").unlink()
    with pytest.raises(ConfigError, match="no committed cpu run of the quantum feed-forward family"):
        experiments.best_of_design_families(tmp_path)


def test_a_run_writes_its_results_and_a_sweep_skips_it(tmp_path):
    kwargs = dict(results_dir=tmp_path / "results", progress=False)
    # One process of 28 takes exactly the first run of the plan.
    statuses = experiments.sweep("quick", rank=0, world_size=len(experiments.sweep_plan()), **kwargs)
    assert [(v, s) for v, s, _ in statuses] == [("classical-cmx-pe", 0)]
    record = json.loads((tmp_path / "results" / "quick" / "classical-cmx-pe.json").read_text())
    assert record["protocol"]["name"] == "quick" and record["protocol"]["epochs"] == 1
    assert record["data"]["kind"].startswith("simulation") and record["data"]["used_split_sizes"] == {
        "train": 1600,
        "val": 200,
        "test": 200,
    }
    assert record["parameters"] == 4785 and len(record["history"]) == 1 and record["best_epoch"] == 1
    assert set(record["test"]) == {"accuracy", "bce", "auc"} and 0 <= record["test"]["auc"] <= 1
    assert {"torch", "pennylane", "python"} <= set(record["versions"])
    # Same model name, different vector units (AVX-512 or AVX2 only): the record tells them apart.
    assert record["machine"]["simd"] == torch.backends.cpu.get_cpu_capability() != ""
    roc = record["roc"]
    assert roc["true_positive_rate"][0] == 1.0 and roc["true_positive_rate"][-1] == 0.0
    # The best weights reproduce the test metrics.
    model = build_model("classical-cmx-pe")
    model.load_state_dict(torch.load(tmp_path / "results" / "quick" / "classical-cmx-pe.pt"))
    sets, _ = experiments.load_protocol_data(experiments.get_protocol("quick"))
    from qvit_lib.training import evaluate

    assert evaluate(model, *sets["test"])["auc"] == pytest.approx(record["test"]["auc"], abs=1e-9)
    again = experiments.sweep("quick", rank=0, world_size=len(experiments.sweep_plan()), **kwargs)
    assert again[0][2] == "done already"
    assert list(experiments.load_results("quick", tmp_path / "results")) == ["classical-cmx-pe"]


def test_roc_curve_is_monotone_and_spans_the_square():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 1000)
    roc = metrics.compact_roc(rng.normal(size=1000) + labels, labels)
    fpr, tpr = np.array(roc["false_positive_rate"]), np.array(roc["true_positive_rate"])
    assert fpr[0] == tpr[0] == 1.0 and fpr[-1] == tpr[-1] == 0.0
    assert (np.diff(fpr) <= 0).all() and (np.diff(tpr) <= 0).all()
    assert np.trapezoid(tpr[::-1], fpr[::-1]) == pytest.approx(0.76, abs=0.03)


@pytest.mark.slow
def test_qvit_checkpoints_moves_the_checkpoints_and_the_tests_keep_their_own(tmp_path, monkeypatch):
    """The suite's checkpoints are never the reader's (data/cache/checkpoints), nor another worker's."""
    default = config.CHECKPOINT_DIR
    assert config.checkpoint_root() != default  # set for this process by conftest
    monkeypatch.setenv(config.CHECKPOINTS_ENV, str(tmp_path / "elsewhere"))
    experiments.run_variant("none-cmx-pe", "quick", results_dir=tmp_path / "results", progress=False)
    # the finished run removed its checkpoint, from there (test_bad_input interrupts one)
    assert (tmp_path / "elsewhere" / "quick").is_dir()
    monkeypatch.delenv(config.CHECKPOINTS_ENV)
    assert config.checkpoint_root() == default == experiments.CHECKPOINT_DIR


def test_sweep_workers_share_the_plan_and_train_single_threaded(tmp_path):
    plan = [("none-cmx-pe", 0), ("none-cmn-pe", 0), ("none-cmx-nope", 0)]
    statuses = experiments.sweep_in_processes("quick", 2, results_dir=tmp_path, plan=plan)
    assert statuses == [(v, s, "done") for v, s in plan]
    records = experiments.load_results("quick", tmp_path)
    assert sorted(records) == sorted(v for v, _ in plan)
    assert all(r["machine"]["torch_threads"] == 1 for r in records.values())
    assert not list((tmp_path / "quick").glob("*.lock"))


# The converged protocol trains on the cpu protocol's events: the same test split.
COMMITTED = [(p, name) for p in ("cpu", "converged", "tuned") for name in sorted(experiments.load_results(p))]


@pytest.fixture(scope="module")
def cpu_test_slice():
    """The first test events as each kind of model reads them (tokens, or a CNN's channels), loaded once."""
    loaded = {}

    def events(inputs: str = "tokens"):
        if inputs not in loaded:  # the test split only: the training events are not needed
            images, labels = experiments.test_split("cpu", inputs)
            loaded[inputs] = images[: experiments.TEST_SLICE_EVENTS], labels[: experiments.TEST_SLICE_EVENTS]
        return loaded[inputs]

    return events


@pytest.mark.slow
@pytest.mark.parametrize(("protocol", "name"), COMMITTED)
def test_every_committed_model_loads_and_reproduces_its_metrics(protocol, name, cpu_test_slice, monkeypatch):
    """load_trained rebuilds each committed run from its JSON; on the first test events it gives
    the metrics recorded when it was trained (to float32 rounding across processors)."""
    monkeypatch.delenv("QVIT_DATA", raising=False)
    record = experiments.load_results(protocol)[name]
    model, loaded = experiments.load_trained(record["variant"], protocol, record["seed"])
    assert loaded == record
    from qvit_lib.training import evaluate

    recorded = record["test_slice"]
    tokens, labels = cpu_test_slice(experiments.variant_inputs(record["variant"]))
    assert recorded["events"] == len(labels)
    metrics = evaluate(model, tokens, labels)
    for key in ("accuracy", "auc", "bce"):
        assert metrics[key] == pytest.approx(recorded[key], abs=1e-5), key


def test_load_trained_refuses_a_missing_run_and_foreign_weights(tmp_path):
    from qvit_lib.core.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no committed run of classical-cmx-pe-seed7 under protocol 'cpu'"):
        experiments.load_trained("classical-cmx-pe", "cpu", 7)
    root = tmp_path / "cpu"
    root.mkdir()
    source_json = store.result_paths("cpu", "none-cmx-pe").record
    (root / "none-cmx-pe.json").write_text(source_json.read_text())
    torch.save(build_model("classical-cmx-pe").state_dict(), root / "none-cmx-pe.pt")
    with pytest.raises(CheckpointError, match="none-cmx-pe.pt: these are not the weights this run recorded"):
        experiments.load_trained("none-cmx-pe", "cpu", results_dir=tmp_path)


@pytest.mark.slow
def test_paired_comparison_of_two_committed_runs_on_their_test_events(monkeypatch):
    monkeypatch.delenv("QVIT_DATA", raising=False)
    events = experiments.test_split("cpu")
    sets, _ = experiments.load_protocol_data(experiments.get_protocol("cpu"))
    assert torch.equal(events[0], sets["test"][0]) and torch.equal(events[1], sets["test"][1])
    result = experiments.paired_comparison("cpu", ("hybrid-cmx-pe", 0), ("none-cmx-pe", 0), events)
    records = experiments.load_results("cpu")
    assert result["auc_a"] == pytest.approx(records["hybrid-cmx-pe"]["test"]["auc"], abs=1e-4)
    assert result["difference"] == pytest.approx(result["auc_a"] - result["auc_b"])
    assert 0 < result["standard_error"] < 0.01 and 0 <= result["p_value"] <= 1
    # scores on other events than the recorded test split do not reproduce the record: refused
    with pytest.raises(CheckpointError, match="do not belong together"):
        experiments.test_scores("cpu", "none-cmx-pe", 0, (events[0][:2000], events[1][:2000]))


def test_seed_comparison_tests_each_seed_and_gives_the_spread_over_seeds():
    from qvit_lib.analysis.metrics import delong_test

    g = np.random.default_rng(0)
    labels = np.arange(2000) % 2 == 1
    scores = {}
    for seed, shift in enumerate((0.5, 0.3, 0.4)):  # b is better on every seed, by a varying margin
        base = labels + g.normal(0, 1, labels.size)
        scores["a", seed] = base + g.normal(0, 0.3, labels.size)
        scores["b", seed] = base + shift * labels + g.normal(0, 0.3, labels.size)
    scores["a", 3] = scores["a", 0]  # a seed b lacks is left out
    result = experiments.seed_comparison(scores, "a", "b", labels)
    assert result["seeds"] == [0, 1, 2]
    by_hand = [delong_test(scores["a", s], scores["b", s], labels)["difference"] for s in range(3)]
    assert result["mean_difference"] == pytest.approx(np.mean(by_hand)) and result["mean_difference"] < 0
    assert result["seed_sd"] == pytest.approx(np.std(by_hand, ddof=1)) and result["seed_sd"] > 0
    assert result["largest_p"] < 1e-3  # every seed's difference is real
    t = np.mean(by_hand) / (np.std(by_hand, ddof=1) / np.sqrt(3))  # over seeds: t with 2 degrees of freedom
    assert result["seed_p"] == pytest.approx(1 - abs(t) / np.sqrt(2 + t**2))  # Student's t, two-sided, closed form
    assert result["ahead"] == "b"  # b has the higher AUC on every seed
    assert experiments.seed_comparison(scores, "b", "a", labels)["ahead"] == "b"
    scores["a", 1] = scores["b", 1] + 0.5 * labels  # now a is ahead on seed 1 only
    assert experiments.seed_comparison(scores, "a", "b", labels)["ahead"] is None
    with pytest.raises(ConfigError, match="no seed with scores of both a and c"):
        experiments.seed_comparison(scores, "a", "c", labels)


def test_seed_table_gives_mean_and_spread_and_flags_late_best_epochs():
    def record(variant, seed, auc, best, epochs=40):
        test = {"accuracy": 0.7, "bce": 0.55, "auc": auc}
        return {"variant": variant, "seed": seed, "test": test, "best_epoch": best, "protocol": {"epochs": epochs}}

    results = {
        "a": record("classical-cmx-pe", 0, 0.80, 40),
        "a1": record("classical-cmx-pe", 1, 0.82, 20),
        "a2": record("classical-cmx-pe", 2, 0.81, 37),
        "b": record("none-cmx-pe", 0, 0.75, 36),
    }
    rows = {r["variant"]: r for r in experiments.seed_table(results)}
    mean, sd = rows["classical-cmx-pe"]["auc"]
    assert mean == pytest.approx(0.81) and sd == pytest.approx(0.01)
    assert rows["classical-cmx-pe"]["late_best_epoch"] == [0, 2]  # epochs 37 and 40 of 40: the last 10 %
    assert rows["none-cmx-pe"]["late_best_epoch"] == [] and rows["none-cmx-pe"]["auc"] == (0.75, 0.0)
    with pytest.raises(KeyError, match="no results for 'hybrid-cmx-pe'"):
        experiments.seed_table(results, ["hybrid-cmx-pe"])


def test_seed_table_can_set_the_runs_that_never_trained_apart():
    def record(seed, auc, losses):
        test = {"accuracy": 0.7, "bce": 0.55, "auc": auc}
        history = [{"train_loss": x} for x in losses]
        protocol = {"epochs": 40}
        return {
            "variant": "resnet15-both",
            "seed": seed,
            "test": test,
            "best_epoch": 1,
            "protocol": protocol,
            "history": history,
        }

    stuck, learned = [0.6932, 0.6931], [0.66, 0.55]
    results = {"s0": record(0, 0.50, stuck), "s1": record(1, 0.85, learned), "s2": record(2, 0.49, stuck)}
    (mixed,) = experiments.seed_table(results, learned_only=True)
    assert mixed["seeds"] == [1] and mixed["never_trained"] == [0, 2] and mixed["auc"] == (0.85, 0.0)
    (pooled,) = experiments.seed_table(results)  # by default every run counts
    assert pooled["seeds"] == [0, 1, 2] and "never_trained" not in pooled
    assert pooled["auc"][0] == pytest.approx(0.6133, abs=1e-4)
    dead = {k: r for k, r in results.items() if k != "s1"}
    (none_learned,) = experiments.seed_table(dead, learned_only=True)  # nothing to set them apart from
    assert none_learned["seeds"] == [0, 2] and none_learned["never_trained"] == [0, 2]


def test_history_curves_cut_to_the_shortest_run():
    runs = [{"history": [{"val_loss": v} for v in values]} for values in ([0.7, 0.6, 0.5], [0.8, 0.4])]
    curves = experiments.history_curves(runs, "val_loss")
    assert curves.tolist() == [[0.7, 0.6], [0.8, 0.4]]  # a run still in progress sets the length
    assert curves.mean(0) == pytest.approx([0.75, 0.5])
    with pytest.raises(ValueError, match="at least one run"):
        experiments.history_curves([], "val_loss")


def test_a_run_that_never_left_ln2_is_told_from_one_that_learned():
    def run(losses):
        return {"variant": "resnet15-time", "seed": 0, "history": [{"train_loss": x} for x in losses]}

    assert experiments.never_trained(run([0.6934, 0.6932, 0.6931]))  # a constant score: ln 2 = 0.6931
    assert not experiments.never_trained(run([0.6934, 0.69, 0.66]))  # it learned, late
    assert not experiments.never_trained(run([0.55, 0.50]))
    assert not experiments.never_trained(run([0.6931, 0.6900, 0.6850]))  # a weak score, AUC ≈ 0.57
    assert experiments.never_trained(run([0.70]), tolerance=0.01)
    with pytest.raises(ConfigError, match="resnet15-time.*no epochs"):
        experiments.never_trained(run([]))


def test_training_time_sums_the_epochs_and_the_idle_cost_scales_the_fastest():
    record = {"history": [{"seconds": 30.0}, {"seconds": 10.0}, {"seconds": 20.0}]}
    assert experiments.training_seconds(record) == 60.0  # a resumed run's epochs all count
    assert experiments.idle_training_seconds(record) == 30.0  # fastest epoch × 3
    spread = {
        name: {
            "variant": "v",
            "seed": s,
            "test": {"auc": a, "accuracy": a, "bce": a},
            "best_epoch": 1,
            "protocol": {"epochs": 3},
        }
        for name, s, a in (("v", 0, 0.80), ("v-seed1", 1, 0.82))
    }
    mean, sd, n = experiments.seed_spread(spread, "v")
    assert (round(mean, 6), round(sd, 6), n) == (0.81, round(0.02 / np.sqrt(2), 6), 2)


def test_the_readme_and_appendix_state_the_measured_converged_times():
    """The training times that README.md and book/reproducing.md give for the converged sweeps
    are those the committed records hold (a new or retrained run that changes them fails here)."""
    import statistics

    from qvit_lib.core.config import REPO_ROOT
    from qvit_lib.models import ViTConfig

    minutes: dict[str, list[float]] = {}  # attention kind, or design variant: minutes per run
    design = list(experiments.best_of_design_families().values())
    for record in experiments.load_results("converged", variants=[*all_variants(), *design]).values():
        variant = str(record["variant"])
        key = variant if variant in design else ViTConfig.from_variant(variant).attention
        minutes.setdefault(key, []).append(experiments.training_seconds(record) / 60)

    def median(key: str) -> float:
        return statistics.median(minutes[key])

    none = minutes["none"]
    medians = [f"{median(v):.0f}" for v in design]
    claims = [
        f"{sum(sum(minutes[k]) for k in minutes if k not in design) / 60:.0f} hours of training in all",
        f"`none` {median('none'):.1f} minutes ({min(none):.1f}–{max(none):.1f})",
        *(
            f"`{kind}` {median(kind):.0f} ({min(minutes[kind]):.0f}–{max(minutes[kind]):.0f})"
            for kind in ("classical", "hybrid", "hybrid-angle")
        ),
        f"took {sum(sum(minutes[v]) for v in design) / 60:.1f} hours of training more, median "
        f"{', '.join(medians[:-1])} and {medians[-1]} minutes per run",
    ]
    # The appendix pastes every time from the chapters' computations (cross-page glue).
    glued = [
        "{glue:text}`06_training.ipynb::converged_hours:.0f` hours of training in all",
        "{glue:text}`06_training.ipynb::converged_costs:s`",
        "took {glue:text}`09_design_space.ipynb::design40_hours:.1f` hours of training more",
    ]
    for document, expected in (("README.md", claims), ("book/reproducing.md", glued)):
        text = " ".join((REPO_ROOT / document).read_text().split())
        for claim in expected:
            assert claim in text, f"{document} does not say {claim!r}"
