"""Every figure of :mod:`qvit_lib.display.plots` fits the book's column and has no text below 9 pt."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from qvit_lib.display import plots  # noqa: E402


def _history(n: int = 3) -> list[dict[str, float]]:
    return [
        {
            "epoch": e,
            "train_loss": 0.7 - 0.01 * e,
            "val_loss": 0.69 - 0.01 * e,
            "train_accuracy": 0.5 + 0.02 * e,
            "val_accuracy": 0.5 + 0.02 * e,
        }
        for e in range(1, n + 1)
    ]


def _record(variant: str) -> dict[str, object]:
    return {
        "variant": variant,
        "seed": 0,
        "history": _history(),
        "test": {"auc": 0.78},
        "roc": {"false_positive_rate": [1.0, 0.5, 0.2, 0.05, 0.0], "true_positive_rate": [1.0, 0.9, 0.7, 0.3, 0.0]},
    }


def _bench() -> list[dict[str, object]]:
    rows = []
    for batch in (64, 512):
        for backend, variant, seconds in (
            ("classical", "classical-cmx-pe", 0.05),
            ("fused", "hybrid-cmx-pe", 0.05),
            ("fused", "hybrid-angle-cmx-pe", 0.07),
        ):
            rows.append(
                {
                    "backend": backend,
                    "variant": variant,
                    "batch_size": batch,
                    "d_h": 4,
                    "n_h": 4,
                    "step_seconds": seconds,
                    "events_per_s": batch / seconds,
                    "ratio_to_classical": seconds / 0.05,
                    "extrapolated": False,
                }
            )
    rows.append({**rows[-1], "backend": "default.qubit", "extrapolated": True, "step_seconds": 5.0})
    return rows


def _figures():
    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 2)).astype(np.float32)
    labels = np.array([0, 1, 0, 1])
    energy = images[..., 0]
    shapes = {name: rng.random(40) for name in plots._SHAPE_AXES}
    results = {
        f"{a}-{p}-{e}": _record(f"{a}-{p}-{e}")
        for a in ("classical", "hybrid")
        for p in ("cmx", "cmn")
        for e in ("pe", "nope")
    }
    scans = [
        [
            {
                "knob": "material_scale",
                "value": v,
                "profiles": {0: np.full(32, 1 / 32), 1: np.full(32, 1 / 32)},
                "pixel_auc": 0.7,
            }
            for v in (0.0, 1.0)
        ]
    ]
    yield "event_gallery", plots.event_gallery(images, labels)
    yield "class_means", plots.class_means(energy, labels)
    yield "shape_histograms", plots.shape_histograms(shapes, np.arange(40) % 2)
    fig, ax = plots.column_figure(height=5)
    plots.draw_patches(ax, energy[0])
    yield "draw_patches", fig
    yield "tracker_effects", plots.tracker_effects()
    yield "knob_profiles", plots.knob_profiles(scans)
    fig, (left, right) = plots.column_figure(1, 2, height=3)
    plots.attention_heatmap(left, rng.dirichlet(np.ones(32), 32))
    plots.token_map(right, rng.uniform(0.5, 2, 32))
    yield "attention", fig
    yield "architecture_diagram", plots.architecture_diagram([("images", (8, 32, 32)), ("patches", (8, 32, 32))])
    yield "training_curves", plots.training_curves({"a": _history(), "b": _history()})
    yield "positional_encodings", plots.positional_encodings({"x": np.zeros((33, 16)), "y": np.ones((33, 16))})
    for kind in ("query_key", "value"):
        for loader in ("hadamard", "angle"):
            yield f"draw_circuit {kind} {loader}", plots.draw_circuit(kind, loader)
    yield "draw_circuit projection", plots.draw_circuit("projection", "angle", n_qubits=6)
    yield "runge_kutta_orbits", plots.runge_kutta_orbits()
    points = [
        {"variant": v, "parameters": n, "auc": a, "family": f, "annotate": f != "paper"}
        for v, n, a, f in [("c", 4785, 0.78, "paper"), ("q", 2305, 0.77, "qmlp"), ("p", 4145, 0.76, "qproj")]
    ]
    yield "auc_vs_parameters", plots.auc_vs_parameters(points, yardstick=0.01).figure
    yield "sweep_curves", plots.sweep_curves(results, ["classical", "hybrid"])
    yield "seed_band_curves", plots.seed_band_curves(results, "loss", ["classical", "hybrid"])
    rows = [{"knob": "shots", "shots": s, "seed": k, "auc": 0.7 + 0.01 * k} for s in (10, 100) for k in (0, 1)]
    scan = {"exact": {"auc": 0.75}, "rows": rows}
    yield "device_scan", plots.device_scan({"a": scan, "b": scan}, "shots")
    shots = [10, 100, 1000]
    curves = {"dev, inference": (shots, [1.0, 10.0, 100.0]), "dev, training step": (shots, [30.0, 300.0, 3000.0])}
    yield "device_cost", plots.device_cost(curves, {"classical": 1e-4})
    history = [{"step": s, "loss_d": 1.5, "loss_g": 0.5, "d_real": 0.3, "d_fake": -0.5} for s in (50, 100)]
    yield "gan_training", plots.gan_training({"gan-a": history, "gan-b": history})
    showers = {"photon": energy * 0.02, "electron": energy * 0.01}
    yield "shower_gallery", plots.shower_gallery({"simulated": showers, "gan-a": showers, "gan-b": showers})
    tables = {name: rng.random(200) for name in ("e_sum", "e1_e9", "phi_width", "n_above_threshold")}
    yield "shape_ratios", plots.shape_ratios(tables, {k: v[::-1] ** 0.9 for k, v in tables.items()}, list(tables))
    point = {"incident_gev": [50, 60], "median": 0.97, "median_interval": [0.96, 0.98], "resolution": 0.01,
             "resolution_interval": [0.009, 0.011]}  # fmt: skip
    one = energy[0]
    yield "readout_panels", plots.readout_panels(one * 0.02, one * 0.02 * (one > 0.5), one - 0.5)
    yield "response_curves", plots.response_curves({"simulated": [point] * 4, "gan-a": [point] * 4})
    dots = {m: {f: {"value": 0.1, "interval": [0.05, 0.2]} for f in ("response", "t_rms")} for m in ("a", "b", "c")}
    yield "separation_power_dots", plots.separation_power_dots(dots, {"response": [0.01, 0.02], "t_rms": [0.01]})
    records = {
        f"r{seed}": {"name": name, "validation": [{"step": 250, "score": 9.0}, {"step": 500, "score": 3.0}],
                     "best_step": 500} for seed, name in enumerate(("gan-a", "gan-a", "gan-b"))
    }  # fmt: skip
    yield "validation_scores", plots.validation_scores(records)
    yield "roc_curves", plots.roc_curves(results, ["classical-cmx-pe"]).figure
    yield "bench_backends", plots.bench_backends(_bench()).figure
    yield "bench_batch_scaling", plots.bench_batch_scaling(_bench()).figure


def _texts(fig):
    fig.canvas.draw()
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize(("name", "fig"), list(_figures()), ids=lambda v: v if isinstance(v, str) else "")
def test_figure_fits_the_column_with_legible_text(name, fig):
    width, _ = fig.get_size_inches()
    assert width <= plots.COLUMN_INCHES + 1e-9, f"{name}: {width:.2f} in wide"
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < plots.MIN_FONT_POINTS]
    assert not small, f"{name}: text below {plots.MIN_FONT_POINTS} pt: {small[:5]}"
    plt.close(fig)


def test_the_check_can_fail():
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.set_xlabel("tiny", fontsize=6)
    assert fig.get_size_inches()[0] > plots.COLUMN_INCHES
    assert any(t.get_fontsize() < plots.MIN_FONT_POINTS for t in _texts(fig))
    plt.close(fig)


def test_seed_band_panels_without_runs_say_so():
    results = {v: _record(v) for v in ("classical-cmx-pe", "classical-cmx-nope")}
    fig = plots.seed_band_curves(results, "accuracy", ["classical"])
    marked = [ax.get_title() for ax in fig.axes if any(t.get_text() == "no runs yet" for t in ax.texts)]
    assert marked == ["classical, cls", "classical, cmn"]
    plt.close(fig)
