"""Figures for the book: calorimeter images, class averages, shower shapes, patches.

Every function draws on matplotlib axes it creates or is given, labels its axes with
units, and returns the figure (or axes) so a chapter can add to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from .simulation import ELECTRON, PHOTON

CLASS_LABELS = {PHOTON: "photon (y=0)", ELECTRON: "electron (y=1)"}
CLASS_COLOURS = {PHOTON: "tab:blue", ELECTRON: "tab:red"}
ENERGY_LABEL = "energy / max"
TIME_LABEL = "hit time [ns/50]"


def draw_image(
    ax: plt.Axes,
    image: np.ndarray,
    *,
    log: bool = True,
    label: str = ENERGY_LABEL,
    vmin: float = 1e-3,
    cmap: str = "viridis",
    colorbar: bool = True,
):
    """One 32×32 crop in the (iφ, iη) plane; zero crystals are left blank."""
    masked = np.ma.masked_where(image == 0, image)
    if log:
        norm = LogNorm(vmin=vmin, vmax=max(float(image.max()), vmin * 10))
        mesh = ax.imshow(masked, origin="lower", norm=norm, cmap=cmap, interpolation="nearest")
    else:
        bound = float(np.abs(image).max()) or 1.0
        mesh = ax.imshow(masked, origin="lower", cmap=cmap, vmin=-bound, vmax=bound, interpolation="nearest")
    ax.set_xlabel("iφ [crystal]")
    ax.set_ylabel("iη [crystal]")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label=label)
    return mesh


def event_gallery(
    images: np.ndarray, labels: np.ndarray, per_class: int = 2, titles: Sequence[str] | None = None
) -> plt.Figure:
    """Energy (log scale, top row) and hit time (bottom row) of example events per class.

    ``images`` is (N, 32, 32, 2) with normalised energy in channel 0 and time in ns/50.
    """
    picks = [i for c in (PHOTON, ELECTRON) for i in np.flatnonzero(labels == c)[:per_class]]
    fig, axes = plt.subplots(2, len(picks), figsize=(3.6 * len(picks), 6.4), constrained_layout=True)
    for column, index in enumerate(picks):
        title = titles[column] if titles else f"{CLASS_LABELS[int(labels[index])]}, event {index}"
        draw_image(axes[0, column], images[index, ..., 0])
        axes[0, column].set_title(title, fontsize=9)
        draw_image(axes[1, column], images[index, ..., 1], log=False, label=TIME_LABEL, cmap="coolwarm")
    return fig


def class_means(energy: np.ndarray, labels: np.ndarray) -> plt.Figure:
    """Mean normalised energy per class (log scale) and their difference (electron − photon)."""
    means = {c: energy[labels == c].mean(axis=0) for c in (PHOTON, ELECTRON)}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9), constrained_layout=True)
    for ax, c in zip(axes, (PHOTON, ELECTRON)):
        draw_image(ax, means[c], vmin=1e-5, label="mean energy / max")
        ax.set_title(f"mean {CLASS_LABELS[c]}")
    draw_image(axes[2], means[ELECTRON] - means[PHOTON], log=False, label="Δ mean energy / max", cmap="RdBu_r")
    axes[2].set_title("electron − photon")
    for ax in axes:
        ax.set_xlim(8.5, 23.5)
        ax.set_ylim(8.5, 23.5)
    return fig


_SHAPE_AXES = {
    "e_sum": "total energy in the crop [GeV/50]",
    "e1_e9": "E(1×1) / E(3×3)",
    "e9_e25": "E(3×3) / E(5×5)",
    "eta_width": "η-width, RMS in 5×5 [crystals]",
    "phi_width": "φ-width, RMS in 5×5 [crystals]",
    "phi_asymmetry": "φ asymmetry (E₊ − E₋)/(E₊ + E₋)",
}


def shape_histograms(
    shapes: Mapping[str, np.ndarray], labels: np.ndarray, names: Sequence[str] = tuple(_SHAPE_AXES)
) -> plt.Figure:
    """Normalised histograms of shower shapes, photons against electrons."""
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), constrained_layout=True, squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = shapes[name]
        lo, hi = np.percentile(values, [0.5, 99.5])
        bins = np.linspace(lo, hi, 50)
        for c in (PHOTON, ELECTRON):
            ax.hist(
                values[labels == c],
                bins=bins,
                density=True,
                histtype="step",
                lw=1.6,
                color=CLASS_COLOURS[c],
                label=CLASS_LABELS[c],
            )
        ax.set_xlabel(_SHAPE_AXES.get(name, name))
        ax.set_ylabel("probability density")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    return fig


def draw_patches(ax: plt.Axes, image: np.ndarray, patch: tuple[int, int] = (4, 8), title: str | None = None) -> None:
    """An event with its patch grid and token numbers (row-major, as :func:`patchify` orders them)."""
    draw_image(ax, image)
    ph, pw = patch
    h, w = image.shape
    for r in range(0, h + 1, ph):
        ax.axhline(r - 0.5, color="0.45", lw=0.7)
    for c in range(0, w + 1, pw):
        ax.axvline(c - 0.5, color="0.45", lw=0.7)
    for token, (r, c) in enumerate((r, c) for r in range(0, h, ph) for c in range(0, w, pw)):
        ax.text(c + pw / 2 - 0.5, r + ph / 2 - 0.5, str(token), color="0.25", ha="center", va="center", fontsize=7)
    if title:
        ax.set_title(title)


def tracker_effects(config=None) -> plt.Figure:
    """What the tracker in front of the ECAL does, against |η| and against pT."""
    from .simulation import CRYSTAL_DPHI_RAD, SimulationConfig

    config = config or SimulationConfig()
    eta = np.linspace(0, config.eta_max, 100)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    left.plot(eta, config.material(eta), color="k", label="material t [X/X₀]")
    left.plot(
        eta, config.conversion_probability(eta), color=CLASS_COLOURS[PHOTON], label="photon converts: 1 − exp(−7t/9)"
    )
    left.plot(
        eta,
        1 - np.exp(-config.material(eta)),
        color=CLASS_COLOURS[ELECTRON],
        label="electron's mean brem fraction: 1 − exp(−t)",
    )
    left.set_xlabel("|η|")
    left.set_ylabel("X/X₀, or probability / fraction")
    left.legend(fontsize=8)
    pt = np.linspace(5, 100, 200)
    right.plot(pt, 0.735 / pt / CRYSTAL_DPHI_RAD, color=CLASS_COLOURS[ELECTRON])
    right.axvline(config.pt_gev, color="grey", ls=":", label=f"pT = {config.pt_gev:g} GeV (the dataset)")
    right.set_xlabel("electron pT [GeV]")
    right.set_ylabel("bend at the ECAL, Δφ [crystals]")
    right.set_yscale("log")
    right.legend(fontsize=8)
    return fig


def knob_profiles(scans: Sequence[Sequence[Mapping[str, object]]]) -> plt.Figure:
    """Mean φ profiles per class for each knob setting of :func:`qvit_lib.showers.scan_knob`."""
    fig, axes = plt.subplots(1, len(scans), figsize=(4.6 * len(scans), 3.8), constrained_layout=True, squeeze=False)
    for ax, scan in zip(axes[0], scans):
        styles = ["-", "--", ":", "-."]
        for style, result in zip(styles, scan):
            for c in (PHOTON, ELECTRON):
                label = f"{CLASS_LABELS[c].split()[0]}, {result['value']}" + (
                    f"  (AUC {result['pixel_auc']:.2f})" if c == ELECTRON else ""
                )
                ax.plot(np.arange(32) - 16, result["profiles"][c], style, color=CLASS_COLOURS[c], label=label)
        ax.set_yscale("log")
        ax.set_xlim(-8, 8)
        ax.set_ylim(1e-4, 1)
        ax.set_xlabel("iφ − iφ(max) [crystals]")
        ax.set_ylabel("mean energy fraction (3 central η rows)")
        ax.set_title(f"knob: {scan[0]['knob']}")
        ax.legend(fontsize=7)
    return fig


def attention_heatmap(ax: plt.Axes, weights: np.ndarray, title: str | None = None, tick_step: int = 4) -> None:
    """An attention matrix: row i is how much query token i attends to each key token."""
    weights = np.asarray(weights)
    mesh = ax.imshow(
        weights, cmap="magma", norm=LogNorm(vmin=max(float(weights.min()), 1e-4), vmax=1.0), interpolation="nearest"
    )
    ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="attention weight (log scale)")
    n = weights.shape[0]
    ax.set_xticks(range(0, n, tick_step))
    ax.set_yticks(range(0, n, tick_step))
    ax.set_xlabel("key token j")
    ax.set_ylabel("query token i")
    if title:
        ax.set_title(title)


def token_map(
    ax: plt.Axes,
    values: np.ndarray,
    patch: tuple[int, int] = (4, 8),
    image_size: int = 32,
    label: str = "attention received",
    title: str | None = None,
) -> None:
    """Per-token values painted back onto the image: each 4×8 patch gets its token's value."""
    ph, pw = patch
    grid = np.asarray(values, dtype=float).reshape(image_size // ph, image_size // pw)
    image = np.kron(grid, np.ones((ph, pw)))
    mesh = ax.imshow(image, origin="lower", cmap="magma", vmin=0, interpolation="nearest")
    ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label=label)
    for r in range(0, image_size + 1, ph):
        ax.axhline(r - 0.5, color="grey", lw=0.4)
    for c in range(0, image_size + 1, pw):
        ax.axvline(c - 0.5, color="grey", lw=0.4)
    ax.set_xlabel("iφ [crystal]")
    ax.set_ylabel("iη [crystal]")
    if title:
        ax.set_title(title)


def architecture_diagram(stages: Sequence[tuple[str, tuple[int, ...]]], title: str | None = None) -> plt.Figure:
    """A left-to-right block diagram of a model: one box per stage with its output shape."""
    fig, ax = plt.subplots(figsize=(2.05 * len(stages), 2.2), constrained_layout=True)
    for i, (name, shape) in enumerate(stages):
        ax.add_patch(plt.Rectangle((i * 2.0, 0), 1.6, 1.2, facecolor="#e8eef7", edgecolor="#4a6fa5", lw=1.2))
        ax.text(i * 2.0 + 0.8, 0.78, name, ha="center", va="center", fontsize=8.5, wrap=True)
        ax.text(
            i * 2.0 + 0.8,
            0.32,
            "×".join(str(s) for s in shape),
            ha="center",
            va="center",
            fontsize=8,
            color="#333333",
            family="monospace",
        )
        if i:
            ax.annotate(
                "", xy=(i * 2.0, 0.6), xytext=(i * 2.0 - 0.4, 0.6), arrowprops={"arrowstyle": "->", "color": "#4a6fa5"}
            )
    ax.set_xlim(-0.2, 2.0 * len(stages) - 0.2)
    ax.set_ylim(-0.1, 1.3)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def training_curves(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> plt.Figure:
    """Loss and accuracy per epoch, training (dashed) and validation (solid), per run."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    for (name, history), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        epochs = [r["epoch"] for r in history]
        loss_ax.plot(epochs, [r["train_loss"] for r in history], "--", color=colour, label=f"{name} train")
        loss_ax.plot(epochs, [r["val_loss"] for r in history], "-o", color=colour, ms=3, label=f"{name} validation")
        acc_ax.plot(epochs, [r["train_accuracy"] for r in history], "--", color=colour, label=f"{name} train")
        acc_ax.plot(epochs, [r["val_accuracy"] for r in history], "-o", color=colour, ms=3, label=f"{name} validation")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("BCE loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy")
    loss_ax.legend(fontsize=8)
    return fig


def positional_encodings(encodings: Mapping[str, np.ndarray]) -> plt.Figure:
    """Positional-encoding matrices side by side: position along x, vector component along y."""
    fig, axes = plt.subplots(
        1, len(encodings), figsize=(5.5 * len(encodings), 3.6), constrained_layout=True, squeeze=False
    )
    for ax, (name, encoding) in zip(axes[0], encodings.items()):
        mesh = ax.imshow(np.asarray(encoding).T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xlabel("position p (0 = class token)")
        ax.set_ylabel("component of the vector")
        ax.set_title(name)
    fig.colorbar(mesh, ax=axes[0].tolist(), label="value")
    return fig


def draw_circuit(kind: str, loader: str = "hadamard", n_qubits: int = 4):
    """The query/key or value circuit drawn by PennyLane (gate names, no angles)."""
    import pennylane as qml
    import torch

    from .ansatz import query_key_parameter_count, value_parameter_count
    from .circuits import make_qnode

    qnode = make_qnode(kind, n_qubits, "default.qubit", loader)
    n_angles = query_key_parameter_count(n_qubits) if kind == "query_key" else value_parameter_count(n_qubits)
    fig, ax = qml.draw_mpl(qnode, decimals=None, style="pennylane")(torch.zeros(n_qubits), torch.zeros(n_angles))
    return fig


_VARIANT_STYLE = {
    ("cls", True): ("tab:green", "-"),
    ("cls", False): ("tab:green", ":"),
    ("cmx", True): ("tab:red", "-"),
    ("cmx", False): ("tab:red", ":"),
    ("cmn", True): ("tab:blue", "-"),
    ("cmn", False): ("tab:blue", ":"),
}


def sweep_curves(results: Mapping[str, Mapping[str, object]], attentions: Sequence[str]) -> plt.Figure:
    """Validation loss and accuracy per epoch for every seed-0 run, one row per attention type.

    Laid out like the paper's Figs. 7–8: colour = pooling, solid = positional encoding,
    dotted = none.
    """
    fig, axes = plt.subplots(
        len(attentions), 2, figsize=(11, 2.6 * len(attentions)), sharex=True, squeeze=False, constrained_layout=True
    )
    for row, attention in zip(axes, attentions):
        for record in results.values():
            variant = str(record["variant"])
            if record["seed"] != 0 or variant.rsplit("-", 2)[0] != attention:
                continue
            _, pooling, encoding = variant.rsplit("-", 2)
            colour, line = _VARIANT_STYLE[(pooling, encoding == "pe")]
            epochs = [r["epoch"] for r in record["history"]]
            row[0].plot(
                epochs,
                [r["val_loss"] for r in record["history"]],
                line,
                color=colour,
                marker="o",
                ms=3,
                label=f"{pooling}-{encoding}",
            )
            row[1].plot(
                epochs,
                [r["val_accuracy"] for r in record["history"]],
                line,
                color=colour,
                marker="o",
                ms=3,
                label=f"{pooling}-{encoding}",
            )
        row[0].set_ylabel(f"{attention}\nvalidation BCE")
        row[1].set_ylabel("validation accuracy")
        row[1].legend(fontsize=7, ncol=2, loc="lower right")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    return fig


def roc_curves(
    results: Mapping[str, Mapping[str, object]], names: Sequence[str], ax: plt.Axes | None = None
) -> plt.Axes:
    """ROC curves from committed results: electron efficiency against photon mis-identification."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.6), constrained_layout=True)
    for name in names:
        record = results[name]
        roc = record["roc"]
        ax.plot(
            roc["false_positive_rate"], roc["true_positive_rate"], label=f"{name} (AUC {record['test']['auc']:.3f})"
        )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="chance")
    ax.set_xlabel("photons accepted as electrons (false-positive rate)")
    ax.set_ylabel("electrons accepted (true-positive rate)")
    ax.legend(fontsize=8, loc="lower right")
    return ax


_BENCH_SERIES = {  # label: (backend, variant, colour)
    "classical-cmx-pe": ("classical", "classical-cmx-pe", "tab:grey"),
    "hybrid-cmx-pe, fused": ("fused", "hybrid-cmx-pe", "tab:orange"),
    "hybrid-angle-cmx-pe, fused": ("fused", "hybrid-angle-cmx-pe", "tab:purple"),
}


def bench_backends(records: Sequence[Mapping[str, object]], ax: plt.Axes | None = None) -> plt.Axes:
    """Training-step time per backend at batch 512 and d_h = 4, log scale; extrapolated bars hatched."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.6), constrained_layout=True)
    chosen = [r for r in records if r["batch_size"] == 512 and r["d_h"] == 4]
    labels = [f"{r['backend']}\n{r['variant'].replace('-cmx-pe', '')}" for r in chosen]
    bars = ax.bar(
        range(len(chosen)),
        [r["step_seconds"] for r in chosen],
        color=["tab:grey" if r["backend"] == "classical" else "tab:purple" for r in chosen],
    )
    for bar, r in zip(bars, chosen):
        if r["extrapolated"]:
            bar.set_hatch("//")
            bar.set_facecolor("white")
            bar.set_edgecolor("tab:purple")
        ax.annotate(
            f"{r['ratio_to_classical']:.3g}×",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(chosen)), labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("time per training step [s]\n(batch 512, log scale)")
    return ax


def bench_batch_scaling(records: Sequence[Mapping[str, object]], ax: plt.Axes | None = None) -> plt.Axes:
    """Events per second against batch size for the classical model and the fused hybrids (log–log)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    for label, (backend, variant, colour) in _BENCH_SERIES.items():
        rows = sorted(
            (r for r in records if r["d_h"] == 4 and r["backend"] == backend and r["variant"] == variant),
            key=lambda r: r["batch_size"],
        )
        ax.plot([r["batch_size"] for r in rows], [r["events_per_s"] for r in rows], "-o", color=colour, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size [events]")
    ax.set_ylabel("training throughput [events/s]")
    ax.legend(fontsize=8)
    return ax


def bench_head_scaling(records: Sequence[Mapping[str, object]], ax: plt.Axes | None = None) -> plt.Axes:
    """Fused hybrid-angle step time relative to classical against qubits per head d_h (batch 512)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    rows = sorted(
        (
            r
            for r in records
            if r["batch_size"] == 512 and r["backend"] == "fused" and r["variant"] == "hybrid-angle-cmx-pe"
        ),
        key=lambda r: r["d_h"],
    )
    ax.plot(
        [r["d_h"] for r in rows],
        [r["ratio_to_classical"] for r in rows],
        "-o",
        color="tab:purple",
        label="fused hybrid-angle-cmx-pe",
    )
    ax.axhline(1.0, color="tab:grey", lw=0.8, ls="--", label="classical")
    ax.set_yscale("log")
    ax.set_xticks([r["d_h"] for r in rows], [f"{r['d_h']}\n(n_h = {r['n_h']})" for r in rows])
    ax.set_xlabel("qubits per head d_h (d_t = n_h · d_h = 16)")
    ax.set_ylabel("step time ÷ classical step time")
    ax.legend(fontsize=8)
    return ax
