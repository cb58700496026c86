"""Figures for the book, sized for its ~690-pixel text column.

Every function draws on matplotlib axes it creates or is given, labels its axes with
units, and returns the figure (or axes) so a chapter can add to it. The house style
(:data:`STYLE`, applied on import) renders at 100 dpi with no text below 9 pt, and every
figure made here is at most :data:`COLUMN_INCHES` wide: shown at full size in the book's
column, its smallest text is about 12 pixels high. HEP conventions: background rejection
against signal efficiency on a log axis; no bars on log axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import MaxNLocator

from qvit_lib.analysis.shower_comparison import common_bins
from qvit_lib.data.dataset import ELECTRON, PHOTON
from qvit_lib.models.integrators import TABLEAUS, runge_kutta_step
from qvit_lib.quantum import exact
from qvit_lib.quantum.circuits import Circuit, build_circuit, columns

__all__ = [
    "auc_against_cost",
    "COLUMN_INCHES",
    "MIN_FONT_POINTS",
    "STYLE",
    "CLASS_LABELS",
    "CLASS_COLOURS",
    "ENERGY_LABEL",
    "TIME_LABEL",
    "column_figure",
    "centred_log_norm",
    "draw_image",
    "event_gallery",
    "class_means",
    "shape_histograms",
    "draw_patches",
    "tracker_effects",
    "knob_profiles",
    "attention_heatmap",
    "token_map",
    "architecture_diagram",
    "training_curves",
    "positional_encodings",
    "draw_circuit",
    "sweep_curves",
    "seed_band_curves",
    "roc_curves",
    "bench_backends",
    "bench_batch_scaling",
    "bench_head_scaling",
    "circuit_spectrum",
    "runge_kutta_orbits",
    "auc_vs_parameters",
    "device_scan",
    "shower_gallery",
    "SHAPE_LABELS",
    "shape_ratios",
    "device_cost",
    "gan_training",
]


COLUMN_INCHES = 6.8  #: 680 px at 100 dpi: the width of the book's text column
#: The smallest font any figure uses.
MIN_FONT_POINTS = 9.0
#: Matplotlib settings of every figure in the book: fonts legible at page width.
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
    "lines.linewidth": 1.5,
}
mpl.rcParams.update(STYLE)

CLASS_LABELS = {PHOTON: "photon (y=0)", ELECTRON: "electron (y=1)"}
CLASS_COLOURS = {PHOTON: "tab:blue", ELECTRON: "tab:red"}
ENERGY_LABEL = "energy / max"
TIME_LABEL = "hit time [ns/50]"


def column_figure(rows: int = 1, cols: int = 1, height: float = 3.0, width: float = COLUMN_INCHES, **kwargs):
    """``plt.subplots`` at the column's width (or less), with constrained layout."""
    return plt.subplots(rows, cols, figsize=(min(width, COLUMN_INCHES), height), constrained_layout=True, **kwargs)


def centred_log_norm(values: np.ndarray, centre: float) -> LogNorm:
    """A log colour scale symmetric about ``centre`` (e.g. uniform attention), spanning the data."""
    values = np.asarray(values, dtype=float)
    positive = values[values > 0]
    spread = max(float(positive.max()) / centre, centre / float(positive.min()), 1.05)
    return LogNorm(vmin=centre / spread, vmax=centre * spread)


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

    ``images`` is (N, 32, 32, 2) with normalised energy in channel 0 and time in ns/50; one
    colour bar per row, shared by its events.
    """
    picks = [i for c in (PHOTON, ELECTRON) for i in np.flatnonzero(labels == c)[:per_class]]
    fig, axes = column_figure(2, len(picks), height=4.2, sharex=True, sharey=True, squeeze=False)
    for column, index in enumerate(picks):
        title = titles[column] if titles else CLASS_LABELS[int(labels[index])].split()[0]
        energy = draw_image(axes[0, column], images[index, ..., 0], colorbar=False)
        time = draw_image(axes[1, column], images[index, ..., 1], log=False, cmap="coolwarm", colorbar=False)
        time.set_clim(-0.5, 0.5)
        axes[0, column].set_title(title)
        if column:
            for ax in axes[:, column]:
                ax.set_ylabel("")
        axes[0, column].set_xlabel("")
    fig.colorbar(energy, ax=axes[0].tolist(), label=ENERGY_LABEL, fraction=0.04)
    fig.colorbar(time, ax=axes[1].tolist(), label=TIME_LABEL, fraction=0.04)
    return fig


def class_means(energy: np.ndarray, labels: np.ndarray) -> plt.Figure:
    """Mean normalised energy per class (log scale) and their difference (electron − photon)."""
    means = {c: energy[labels == c].mean(axis=0) for c in (PHOTON, ELECTRON)}
    fig, axes = column_figure(1, 3, height=2.6, sharey=True)
    for ax, c in zip(axes, (PHOTON, ELECTRON)):
        mesh = draw_image(ax, means[c], vmin=1e-5, colorbar=False)
        ax.set_title(f"mean {CLASS_LABELS[c].split()[0]}")
    fig.colorbar(mesh, ax=axes[:2].tolist(), label="mean energy / max", fraction=0.05, location="bottom")
    diff = draw_image(axes[2], means[ELECTRON] - means[PHOTON], log=False, cmap="RdBu_r", colorbar=False)
    fig.colorbar(diff, ax=axes[2], label="Δ mean energy / max", fraction=0.1, location="bottom")
    axes[2].set_title("electron − photon")
    for ax in axes:
        ax.set_xlim(8.5, 23.5)
        ax.set_ylim(8.5, 23.5)
    for ax in axes[1:]:
        ax.set_ylabel("")
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
    """Normalised histograms of shower shapes, photons against electrons, two per row."""
    cols = 2
    rows = -(-len(names) // cols)
    fig, axes = column_figure(rows, cols, height=2.1 * rows, squeeze=False)
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
        ax.set_ylabel("density")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend()
    return fig


def draw_patches(ax: plt.Axes, image: np.ndarray, patch: tuple[int, int] = (4, 8), title: str | None = None) -> None:
    """An event with its patch grid and token numbers.

    Row-major, as :func:`~qvit_lib.data.dataset.patchify` orders them.
    """
    draw_image(ax, image)
    ph, pw = patch
    h, w = image.shape
    for r in range(0, h + 1, ph):
        ax.axhline(r - 0.5, color="0.45", lw=0.7)
    for c in range(0, w + 1, pw):
        ax.axvline(c - 0.5, color="0.45", lw=0.7)
    for token, (r, c) in enumerate((r, c) for r in range(0, h, ph) for c in range(0, w, pw)):
        ax.text(c + pw / 2 - 0.5, r + ph / 2 - 0.5, str(token), color="0.2", ha="center", va="center", fontsize=9)
    if title:
        ax.set_title(title)


def tracker_effects(config=None) -> plt.Figure:
    """What the tracker in front of the ECAL does, against |η| and against pT."""
    # lazy: loads SciPy; importing this module does not
    from qvit_lib.data.simulation import CRYSTAL_DPHI_RAD, SimulationConfig, bending_rad_gev

    config = config or SimulationConfig()
    eta = np.linspace(0, config.eta_max, 100)
    fig, (left, right) = column_figure(1, 2, height=3.1)
    left.plot(eta, config.material(eta), color="k", label="material t [X/X₀]")
    left.plot(eta, config.conversion_probability(eta), color=CLASS_COLOURS[PHOTON], label="P(γ converts)")
    left.plot(eta, 1 - np.exp(-config.material(eta)), color=CLASS_COLOURS[ELECTRON], label="e: mean brem fraction")
    left.set_xlabel("|η|")
    left.set_ylabel("X/X₀, or probability")
    left.legend()
    pt = np.linspace(5, 100, 200)
    right.plot(pt, bending_rad_gev() / pt / CRYSTAL_DPHI_RAD, color=CLASS_COLOURS[ELECTRON])
    right.axvline(config.pt_gev, color="grey", ls=":", label=f"pT = {config.pt_gev:g} GeV")
    right.set_xlabel("electron pT [GeV]")
    right.set_ylabel("bend at the ECAL [crystals]")
    right.set_yscale("log")
    right.legend()
    return fig


def knob_profiles(scans: Sequence[Sequence[Mapping[str, object]]]) -> plt.Figure:
    """Mean φ profiles per class for each knob setting of :func:`qvit_lib.data.shapes.scan_knob`, one row per knob."""
    fig, axes = column_figure(len(scans), 1, height=2.4 * len(scans), squeeze=False, sharex=True)
    for ax, scan in zip(axes[:, 0], scans):
        styles = ["-", "--", ":", "-."]
        for style, result in zip(styles, scan):
            for c in (PHOTON, ELECTRON):
                label = f"{CLASS_LABELS[c].split()[0]}, {result['value']}" + (
                    f" (AUC {result['pixel_auc']:.2f})" if c == ELECTRON else ""
                )
                ax.plot(np.arange(32) - 16, result["profiles"][c], style, color=CLASS_COLOURS[c], label=label)
        ax.set_yscale("log")
        ax.set_xlim(-8, 8)
        ax.set_ylim(1e-4, 1)
        ax.set_ylabel("mean energy fraction")
        ax.set_title(f"knob: {scan[0]['knob']}")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes[-1, 0].set_xlabel("iφ − iφ(max) [crystals], three central η rows")
    return fig


def attention_heatmap(ax: plt.Axes, weights: np.ndarray, title: str | None = None, tick_step: int = 4) -> None:
    """An attention matrix, row i how much query i attends to each key, as a multiple of uniform (1/n).

    The log colour scale is centred on uniform attention (white): red attends more, blue less.
    """
    weights = np.asarray(weights)
    n = weights.shape[0]
    relative = weights * n
    mesh = ax.imshow(relative, cmap="RdBu_r", norm=centred_log_norm(relative, 1.0), interpolation="nearest")
    ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label="weight ÷ uniform (1/n)")
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
    label: str = "attention received ÷ uniform",
    title: str | None = None,
    centre: float = 1.0,
    norm: LogNorm | None = None,
    colorbar: bool = True,
):
    """Per-token values painted back onto the image: each 4×8 patch gets its token's value.

    Coloured on a log scale centred on ``centre`` (1: the attention a token receives when
    every query attends uniformly), so that both more and less than uniform show; pass one
    ``norm`` to several maps to compare them on one scale.
    """
    ph, pw = patch
    grid = np.asarray(values, dtype=float).reshape(image_size // ph, image_size // pw)
    image = np.kron(grid, np.ones((ph, pw)))
    norm = norm or centred_log_norm(grid, centre)
    mesh = ax.imshow(image, origin="lower", cmap="RdBu_r", norm=norm, interpolation="nearest")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04, label=label)
    for r in range(0, image_size + 1, ph):
        ax.axhline(r - 0.5, color="grey", lw=0.4)
    for c in range(0, image_size + 1, pw):
        ax.axvline(c - 0.5, color="grey", lw=0.4)
    ax.set_xlabel("iφ [crystal]")
    ax.set_ylabel("iη [crystal]")
    if title:
        ax.set_title(title)
    return mesh


def _box(ax: plt.Axes, x: float, y: float, w: float, h: float, text: str, colour: str = "#e8eef7", **kw) -> None:
    ax.add_patch(plt.Rectangle((x - w / 2, y - h / 2), w, h, facecolor=colour, edgecolor="#4a6fa5", lw=1.1))
    ax.text(x, y, text, ha="center", va="center", fontsize=kw.pop("fontsize", 9.5), **kw)


def _arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "#4a6fa5", "lw": 1.1})


def architecture_diagram(
    stages: Sequence[tuple[str, tuple[int, ...]]], title: str | None = None, layer: str = "classical"
) -> plt.Figure:
    """The model top to bottom, one box per stage with the tensor shape it hands on, beside the
    inside of one encoder layer (``layer``: "classical" pre-LN, or "hybrid" as in the paper's Fig. 4)."""
    fig, (left, right) = column_figure(1, 2, height=0.62 * len(stages) + 0.6, gridspec_kw={"width_ratios": [1.1, 1]})
    n = len(stages)
    for i, (name, shape) in enumerate(stages):
        y = n - 1 - i
        _box(left, 0.5, y, 0.9, 0.72, f"{name.replace(chr(10), ' ')}\n" + " × ".join(str(s) for s in shape))
        if i:
            _arrow(left, (0.5, y + 0.64), (0.5, y + 0.36))
    left.set_xlim(0, 1)
    left.set_ylim(-0.5, n - 0.5)
    left.axis("off")
    left.set_title(title or "the model, with the shape after each stage")
    if layer == "classical":
        steps = [
            "x",
            "LayerNorm",
            "multi-head attention",
            "⊕ residual: x + …",
            "LayerNorm",
            "MLP: 16 → 16 → 16, GELU",
            "⊕ residual",
        ]
    else:
        steps = ["x", "LayerNorm", "hybrid attention (circuits)", "MLP: 16 → 16 → 16, GELU", "⊕ residual: x + …"]
    m = len(steps)
    for i, step in enumerate(steps):
        y = (m - 1 - i) * (n - 1) / max(m - 1, 1)
        colour = "#fde4c8" if "attention" in step else ("#eeeeee" if step.startswith(("⊕", "x")) else "#e8eef7")
        _box(right, 0.5, y, 0.92, 0.62, step, colour)
        if i:
            _arrow(right, (0.5, y + (n - 1) / max(m - 1, 1) - 0.31), (0.5, y + 0.31))
    right.set_xlim(0, 1)
    right.set_ylim(-0.5, n - 0.5)
    right.axis("off")
    right.set_title(f"one {layer} encoder layer (× n_l = 5)")
    return fig


def training_curves(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> plt.Figure:
    """Loss and accuracy per epoch, training (dashed) and validation (solid), per run."""
    fig, (loss_ax, acc_ax) = column_figure(1, 2, height=2.9)
    for (name, history), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        epochs = [r["epoch"] for r in history]
        loss_ax.plot(epochs, [r["train_loss"] for r in history], "--", color=colour, label=f"{name}, training")
        loss_ax.plot(epochs, [r["val_loss"] for r in history], "-o", color=colour, ms=3, label=f"{name}, validation")
        acc_ax.plot(epochs, [r["train_accuracy"] for r in history], "--", color=colour)
        acc_ax.plot(epochs, [r["val_accuracy"] for r in history], "-o", color=colour, ms=3)
    for ax, label in ((loss_ax, "BCE loss"), (acc_ax, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(*loss_ax.get_legend_handles_labels(), loc="outside lower center", ncol=2)
    return fig


def positional_encodings(encodings: Mapping[str, np.ndarray]) -> plt.Figure:
    """Positional-encoding matrices side by side: position along x, vector component along y."""
    fig, axes = column_figure(1, len(encodings), height=2.7, squeeze=False, sharey=True)
    for ax, (name, encoding) in zip(axes[0], encodings.items()):
        mesh = ax.imshow(np.asarray(encoding).T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xlabel("position p (0 = class token)")
        ax.set_title(name)
    axes[0, 0].set_ylabel("component of the vector")
    fig.colorbar(mesh, ax=axes[0].tolist(), label="value")
    return fig


_GATE_WIDTH, _CNOT_WIDTH, _INCHES_PER_UNIT = 1.0, 0.45, 0.5  # one scale for every circuit drawn


def _circuit_columns(circuit: Circuit) -> list:
    """Drawing columns of a gate list: a list of (qubit, label, role) gates, or a (control, target) CNOT."""
    symbol = "w" if circuit.kind == "projection" else "θ"
    out: list = []
    for step in columns(circuit.gates):
        if step[0].name == "cnot":
            out.append(step[0].wires)
        else:
            out.append([(g.wires[0], g.label(symbol), g.role) for g in step])
    return out


def draw_circuit(kind: str, loader: str = "hadamard", n_qubits: int = 4) -> plt.Figure:
    """The query/key, value or projection circuit (chapter 9's, one layer), the data loader
    (inputs x) and the ansatz (angles θ, w) in two colours. Every circuit is drawn at the same
    scale, so two figures compare directly."""
    circuit = build_circuit(kind, n_qubits, loader)
    steps = _circuit_columns(circuit)
    widths = [_CNOT_WIDTH if isinstance(c, tuple) else _GATE_WIDTH for c in steps]
    total = 0.8 + sum(widths) + 1.0
    fig, ax = plt.subplots(figsize=(total * _INCHES_PER_UNIT, 0.5 * n_qubits + 0.55), constrained_layout=True)
    colours = {"loader": "#fde4c8", "ansatz": "#d6e4f5"}
    x = 0.8
    for q in range(n_qubits):
        ax.plot([0.55, total - 0.35], [-q, -q], color="#333", lw=1, zorder=0)
        ax.text(0.3, -q, f"q{q}".translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")), ha="center", va="center")
    for column, width in zip(steps, widths):
        centre = x + width / 2
        if isinstance(column, tuple):
            control, target = column
            ax.plot([centre, centre], [-control, -target], color="#333", lw=1)
            ax.plot(centre, -control, "o", color="#333", ms=4)
            ax.plot(centre, -target, "o", mfc="white", mec="#333", ms=11)
            ax.plot([centre - 0.13, centre + 0.13], [-target, -target], color="#333", lw=1)
            ax.plot([centre, centre], [-target - 0.2, -target + 0.2], color="#333", lw=1)
        else:
            for q, label, role in column:
                ax.add_patch(
                    plt.Rectangle(
                        (centre - 0.46, -q - 0.3), 0.92, 0.6, facecolor=colours[role], edgecolor="#333", lw=0.8
                    )
                )
                ax.text(centre, -q, label, ha="center", va="center", fontsize=9)
        x += width
    for q in circuit.measured:
        ax.add_patch(plt.Rectangle((x + 0.1, -q - 0.3), 0.7, 0.6, facecolor="#eee", edgecolor="#333", lw=0.8))
        ax.text(x + 0.45, -q, "⟨Z⟩", ha="center", va="center", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=colours[r], edgecolor="#333") for r in ("loader", "ansatz")]
    ax.legend(
        handles,
        ["data loader: inputs x", f"ansatz: trained angles {'w' if kind == 'projection' else 'θ'}"],
        loc="lower left",
        ncol=2 if total * _INCHES_PER_UNIT > 5 else 1,  # a narrow circuit: one entry per row
        bbox_to_anchor=(0, 1.0),
        frameon=False,
    )
    ax.set_xlim(0, total)
    ax.set_ylim(-n_qubits + 0.5, 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
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
    dotted = none; rows share their y ranges, so rows compare directly.
    """
    fig, axes = column_figure(
        len(attentions), 2, height=1.9 * len(attentions) + 0.5, sharex=True, sharey="col", squeeze=False
    )
    for row, attention in zip(axes, attentions):
        for record in results.values():
            variant = str(record["variant"])
            if record["seed"] != 0 or variant.rsplit("-", 2)[0] != attention:
                continue
            _, pooling, encoding = variant.rsplit("-", 2)
            colour, line = _VARIANT_STYLE[(pooling, encoding == "pe")]
            epochs = [r["epoch"] for r in record["history"]]
            for ax, key in zip(row, ("val_loss", "val_accuracy")):
                ax.plot(
                    epochs,
                    [r[key] for r in record["history"]],
                    line,
                    color=colour,
                    marker="o",
                    ms=3,
                    label=f"{pooling}-{encoding}",
                )
        row[0].set_ylabel(f"{attention}\nvalidation BCE")
        row[1].set_ylabel("validation accuracy")
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = axes[0, 0].get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i])
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside upper center", ncol=6)
    return fig


def seed_band_curves(
    results: Mapping[str, Mapping[str, object]],
    metric: str,
    attentions: Sequence[str] = ("hybrid", "classical"),
) -> plt.Figure:
    """The paper's Fig. 7 (``metric`` "loss") or Fig. 8 ("accuracy") with every seed of every run.

    Rows: attention kinds (quantum first, as in the paper); columns: class token, column max,
    column mean. Each panel holds both positional encodings (colour) and both curves, training
    (dashed) and validation (solid): the mean over seeds, with a band of ± one standard
    deviation where a variant has several seeds. A panel with no runs says so, so that a
    sweep still under way does not read as a blank figure.
    """
    # lazy: loads torch; importing this module does not
    from qvit_lib.runs.experiments import history_curves

    poolings = ("cls", "cmx", "cmn")
    label = {"loss": "BCE loss", "accuracy": "accuracy"}[metric]
    fig, axes = column_figure(
        len(attentions), 3, height=2.0 * len(attentions) + 0.7, sharex=True, sharey=True, squeeze=False
    )
    colours = {"pe": "tab:red", "nope": "tab:blue"}
    for row, attention in zip(axes, attentions):
        for ax, pooling in zip(row, poolings):
            for encoding, colour in colours.items():
                runs = [r for r in results.values() if r["variant"] == f"{attention}-{pooling}-{encoding}"]
                if not runs:
                    continue
                for split, line in (("train", "--"), ("val", "-")):
                    curves = history_curves(runs, f"{split}_{metric}")
                    x = np.arange(1, curves.shape[1] + 1)
                    mean = curves.mean(0)
                    ax.plot(
                        x,
                        mean,
                        line,
                        color=colour,
                        lw=1.2,
                        label=f"{encoding}, {'validation' if split == 'val' else 'training'}",
                    )
                    if len(runs) > 1:
                        spread = curves.std(0, ddof=1)
                        ax.fill_between(x, mean - spread, mean + spread, color=colour, alpha=0.2, lw=0)
            ax.set_title(f"{attention}, {pooling}", fontsize=10)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if not ax.get_lines():
                ax.text(0.5, 0.5, "no runs yet", transform=ax.transAxes, ha="center", va="center", color="grey")
        row[0].set_ylabel(label)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    handles, labels = next(((a.get_legend_handles_labels()) for a in axes.flat if a.get_lines()), ([], []))
    fig.legend(handles, labels, loc="outside lower center", ncol=4)
    return fig


def roc_curves(
    results: Mapping[str, Mapping[str, object]],
    names: Sequence[str],
    ax: plt.Axes | None = None,
    min_efficiency: float = 0.1,
) -> plt.Axes:
    """ROC curves from committed results, the HEP way: photon rejection 1/ε_γ (log) against
    electron efficiency ε_e, for ε_e ≥ ``min_efficiency`` (the working points; below it the
    rejection of a few events would take most of the height).

    A model whose scores do not depend on the event has no curve of its own: its ROC is the
    chance line, drawn dotted in its colour, with that said in the legend.
    """
    if ax is None:
        _, ax = column_figure(1, 1, height=3.4 + 0.22 * (len(names) + 1), width=5.2)
    efficiency = np.linspace(min_efficiency, 1, 200)
    highest = 2.0
    for name in names:
        record = results[name]
        fpr = np.asarray(record["roc"]["false_positive_rate"])
        tpr = np.asarray(record["roc"]["true_positive_rate"])
        keep = (fpr > 0) & (tpr >= min_efficiency)
        label = f"{name} (AUC {record['test']['auc']:.3f})"
        if keep.sum() < 3:  # constant scores: (0, 0) and (1, 1) only, the chance line
            ax.plot(efficiency, 1 / efficiency, ls=":", lw=2.2, label=label + ": constant score, on the chance line")
            continue
        ax.plot(tpr[keep], 1 / fpr[keep], label=label)
        highest = max(highest, float((1 / fpr[keep]).max()))
    ax.plot(efficiency, 1 / efficiency, color="grey", lw=0.8, ls="--", label="chance")
    ax.set_yscale("log")
    ax.set_xlim(min_efficiency, 1)
    ax.set_ylim(1, highest * 1.2)
    ax.set_xlabel("electron efficiency ε_e (true-positive rate)")
    ax.set_ylabel("photon rejection 1/ε_γ")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), fontsize=9, frameon=False)  # below: hides no curve
    return ax


_BENCH_SERIES = {  # label: (backend, variant, colour)
    "classical-cmx-pe": ("classical", "classical-cmx-pe", "tab:grey"),
    "hybrid-cmx-pe, fused": ("fused", "hybrid-cmx-pe", "tab:orange"),
    "hybrid-angle-cmx-pe, fused": ("fused", "hybrid-angle-cmx-pe", "tab:purple"),
}


def bench_backends(records: Sequence[Mapping[str, object]], ax: plt.Axes | None = None) -> plt.Axes:
    """Training-step time per backend at batch 512 and d_h = 4: one row per backend, time on a
    log axis, the ratio to the classical step beside each point; hollow points are extrapolated."""
    chosen = [r for r in records if r["batch_size"] == 512 and r["d_h"] == 4]
    if ax is None:
        _, ax = column_figure(1, 1, height=0.9 + 0.32 * len(chosen))
    for i, r in enumerate(chosen):
        colour = {"classical": "tab:grey", "baseline": "tab:brown"}.get(r["backend"], "tab:purple")
        ax.plot(r["step_seconds"], i, "o", ms=7, color=colour, mfc="white" if r["extrapolated"] else colour)
        ax.annotate(
            f"{r['ratio_to_classical']:,.0f}×" if r["ratio_to_classical"] >= 100 else f"{r['ratio_to_classical']:.2g}×",
            (r["step_seconds"], i),
            textcoords="offset points",
            xytext=(8, 0),
            va="center",
            fontsize=9,
        )
    labels = [f"{r['variant'].replace('-cmx-pe', '')}, {r['backend']}" for r in chosen]
    ax.set_yticks(range(len(chosen)), labels, fontsize=9)
    ax.set_ylim(len(chosen) - 0.5, -0.5)
    ax.set_xscale("log")
    low, high = min(r["step_seconds"] for r in chosen), max(r["step_seconds"] for r in chosen)
    ax.set_xlim(low / 1.6, high * 3)  # room for the ratio labels
    ax.set_xlabel("seconds per training step (batch 512)")
    ax.grid(axis="x", which="major", lw=0.4, alpha=0.5)
    return ax


def bench_batch_scaling(records: Sequence[Mapping[str, object]], ax: plt.Axes | None = None) -> plt.Axes:
    """Events per second against batch size for the classical model and the fused hybrids (log–log)."""
    if ax is None:
        _, ax = column_figure(1, 1, height=3.0, width=3.4)
    for label, (backend, variant, colour) in _BENCH_SERIES.items():
        rows = sorted(
            (r for r in records if r["d_h"] == 4 and r["backend"] == backend and r["variant"] == variant),
            key=lambda r: r["batch_size"],
        )
        ax.plot([r["batch_size"] for r in rows], [r["events_per_s"] for r in rows], "-o", color=colour, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size [events]")
    ax.set_ylabel("events per second")
    ax.legend()
    return ax


def bench_head_scaling(records: Sequence[Mapping[str, object]], ax: plt.Axes | None = None) -> plt.Axes:
    """Fused hybrid-angle step time relative to classical against qubits per head d_h (batch 512)."""
    if ax is None:
        _, ax = column_figure(1, 1, height=3.0, width=3.4)
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
        label="fused hybrid-angle",
    )
    ax.axhline(1.0, color="tab:grey", lw=0.8, ls="--", label="classical")
    ax.set_yscale("log")
    ax.set_xticks([r["d_h"] for r in rows], [f"{r['d_h']} ({r['n_h']} heads)" for r in rows])
    ax.set_xlabel("qubits per head d_h")
    ax.set_ylabel("step time ÷ classical")
    ax.legend()
    return ax


def _mode_label(n: Sequence[int]) -> str:
    return "".join({-1: "−", 0: "0", 1: "+"}[int(v)] for v in n)


def circuit_spectrum(theta_q, theta_k, theta_v, n_qubits: int = 4) -> plt.Figure:
    """|Fourier coefficient| of the query circuit's ⟨Z₀⟩ for each frequency vector n, both loaders.

    One row per loader, the same modes on both x axes: the constant, then each n ∈ {−1,0,1}^d
    (one of each ±n pair) written as its signs, qubit 0 first ("+0−0" is n = (1, 0, −1, 0)).
    """

    modes = ["const"] + [_mode_label(n) for n in exact.loader_frequencies(n_qubits, "angle").tolist()]
    fig, axes = column_figure(2, 1, height=4.2, sharex=True, sharey=True)
    for ax, loader, colour in zip(axes, ("angle", "hadamard"), ("tab:purple", "tab:orange")):
        constant, cos, sin = exact.circuit_fourier_coefficients(theta_q, theta_k, theta_v, n_qubits, loader)
        amplitude = np.zeros(len(modes))
        amplitude[0] = float(constant[0, 0].abs())
        if loader == "angle":
            amplitude[1:] = np.hypot(cos[0, 0].numpy(), sin[0, 0].numpy())
        ax.vlines(range(len(modes)), 0, amplitude, color=colour)
        ax.plot(range(len(modes)), amplitude, "o", ms=3, color=colour)
        used = int((amplitude[1:] > 1e-12).sum())
        ax.set_title(f"query circuit, {loader} loader: {used} non-zero frequencies of {len(modes) - 1}")
        ax.set_ylabel("|coefficient|")
    axes[-1].set_xticks(range(len(modes)), modes, rotation=90, fontsize=9, family="monospace")
    axes[-1].set_xlabel("Fourier mode: the constant, then the frequency vector n")
    return fig


def runge_kutta_orbits(steps: int = 12) -> plt.Figure:
    """Chapter 9's integrators on dx/dt = A x with A a rotation generator: steps of size 1.

    The exact flow keeps |x| = 1. Euler's step (today's residual layer) spirals outwards;
    each higher order stays closer to the circle.
    """
    # lazy: loads torch; importing this module does not
    import torch

    generator = torch.tensor([[0.0, -0.5], [0.5, 0.0]], dtype=torch.float64)
    fig, (ax, ax_r) = column_figure(1, 2, height=3.5)
    angle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(angle), np.sin(angle), color="black", lw=0.8, ls="--", label="exact flow")
    for order, colour in zip(TABLEAUS, ("tab:red", "tab:orange", "tab:green", "tab:blue")):
        x = torch.tensor([1.0, 0.0], dtype=torch.float64)
        path = [x]
        for _ in range(steps):
            x = runge_kutta_step(lambda z: generator @ z, x, order)
            path.append(x)
        points = torch.stack(path).numpy()
        label = "Euler (RK1)" if order == 1 else f"RK{order}"
        ax.plot(points[:, 0], points[:, 1], "o-", ms=3, color=colour, label=label)
        ax_r.plot(range(1, steps + 1), np.abs(np.linalg.norm(points[1:], axis=1) - 1), "o-", ms=3, color=colour)
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=5)
    ax_r.set_yscale("log")
    ax_r.set_xlabel("steps of size 1 (layers)")
    ax_r.set_ylabel("| |x| − 1 |  (error of the radius)")
    return fig


def auc_vs_parameters(
    points: Sequence[Mapping[str, object]], yardstick: float | None = None, ax: plt.Axes | None = None
) -> plt.Axes:
    """Test AUC against trainable parameters, one labelled marker per variant.

    ``points``: mappings with ``variant``, ``parameters``, ``auc`` and ``family`` (legend
    group), and ``sd`` (the AUC's standard deviation over seeds) where several seeds were
    trained: only those points carry an error bar. Every point outside the paper's family is
    labelled, and a paper variant marked ``annotate``. ``yardstick``, if given, is drawn once
    in a corner as the typical seed spread, for the single-seed points.
    """
    if ax is None:
        _, ax = column_figure(1, 1, height=4.8)
    markers = {
        "paper": ("o", "tab:grey"),
        "qmlp": ("s", "tab:purple"),
        "qproj": ("^", "tab:green"),
        "rk": ("D", "tab:orange"),
    }
    seen = set()
    for point in points:
        marker, colour = markers[point["family"]]
        label = None if point["family"] in seen else point["family"]
        seen.add(point["family"])
        ax.errorbar(
            point["parameters"], point["auc"], yerr=point.get("sd"), fmt=marker, color=colour,
            ms=5, capsize=2, lw=0.8, label=label,
        )  # fmt: skip
    labelled = [p for p in points if p["family"] != "paper" or p.get("annotate")]
    aucs = [p["auc"] for p in points]
    gap = 0.045 * (max(aucs) - min(aucs) + 0.02)  # label spacing in AUC units
    widest = max(p["parameters"] for p in points)
    for crowded in (False, True):  # the many variants near the paper's size get a column of labels
        group = sorted((p for p in labelled if (p["parameters"] > 0.6 * widest) == crowded), key=lambda p: p["auc"])
        heights = _spread([p["auc"] for p in group], gap)
        for point, height in zip(group, heights):
            x = widest * 1.35 if crowded else point["parameters"] * 1.1
            ax.annotate(
                _short_variant(str(point["variant"])),
                (point["parameters"], point["auc"]),
                xytext=(x, height),
                textcoords="data",
                va="center",
                fontsize=9,
                color="0.25",
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5, "shrinkA": 0, "shrinkB": 3},
            )
    if yardstick is not None:
        x = ax.get_xlim()[0] * 1.15
        y = min(p["auc"] for p in points)
        ax.errorbar(x, y, yerr=yardstick, fmt="none", color="0.4", capsize=3, lw=1)
        ax.annotate("typical seed SD", (x, y), textcoords="offset points", xytext=(6, -3), fontsize=9, color="0.4")
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("test ROC AUC")
    ax.set_xlim(right=widest * 2.6)  # room for the column of labels
    ax.margins(y=0.08)
    ax.legend(title="variant family", loc="lower left", bbox_to_anchor=(0, 1.01), ncol=4, fontsize=9)
    return ax


def _spread(heights: Sequence[float], gap: float) -> list[float]:
    """Sorted label heights moved apart to at least ``gap``, centred on where they wanted to be."""
    placed: list[float] = []
    for h in heights:
        placed.append(max(h, placed[-1] + gap) if placed else h)
    shift = (sum(heights) - sum(placed)) / len(placed) if placed else 0.0
    return [h + shift for h in placed]


def _short_variant(name: str) -> str:
    """A variant's name without the suffix every point of a plot shares (``-cmx-pe``)."""
    return name.replace("-cmx-pe", "").replace("hybrid-angle", "h-angle")


def device_scan(scans: Mapping[str, Mapping[str, object]], knob: str, metric: str = "auc") -> plt.Figure:
    """Test ``metric`` of trained hybrids against one device knob (chapter 10), log x axis.

    ``scans``: run name → record of :func:`qvit_lib.runs.hardware.run_device_scan`. For shots, the
    mean over the sampling seeds with their standard deviation as error bars; the exact value
    of each run is the dashed line of its colour.
    """
    labels = {"shots": "shots per circuit S", "depolarizing": "depolarising strength p per gate",
              "readout": "readout error r per bit"}  # fmt: skip
    fig, ax = column_figure(1, 1, height=3.6, width=5.6)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (name, scan), colour in zip(scans.items(), colours * 3):
        rows = [r for r in scan["rows"] if r["knob"] == knob]
        values = sorted({r[knob] for r in rows})
        per_value = [[r[metric] for r in rows if r[knob] == v] for v in values]
        means = [float(np.mean(p)) for p in per_value]
        spreads = [float(np.std(p, ddof=1)) if len(p) > 1 else 0.0 for p in per_value]
        ax.errorbar(values, means, yerr=spreads, fmt="o-", ms=3, lw=1, capsize=2, color=colour, label=name)
        ax.axhline(scan["exact"][metric], color=colour, lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel(labels[knob])
    ax.set_ylabel({"auc": "test ROC AUC", "accuracy": "test accuracy"}[metric])
    ax.legend(fontsize=9, loc="lower right" if knob == "shots" else "lower left")
    return fig


def shower_gallery(samples: Mapping[str, Mapping[str, np.ndarray]], n: int = 2) -> plt.Figure:
    """Showers of every sample (rows) and class: ``n`` showers and the sample's mean shower per
    class (columns), energy in GeV on one logarithmic colour scale for every panel.

    ``samples[row][class]`` holds energy images in the files' unit (GeV/50); rows to compare
    should hold showers made for the same events (class and η), so their means compare too.
    """
    rows = {name: {c: np.asarray(e) * 50 for c, e in by_class.items()} for name, by_class in samples.items()}
    classes = list(next(iter(rows.values())))
    if any(list(by_class) != classes for by_class in rows.values()):
        raise ValueError(f"every sample needs the classes {classes}")
    vmax = max(float(e[:n].max()) for by_class in rows.values() for e in by_class.values())
    norm = LogNorm(vmin=0.05, vmax=vmax)  # 50 MeV, about the noise level, to the hottest crystal
    columns = [(c, k) for c in classes for k in [*range(n), "mean"]]
    fig, axes = column_figure(
        len(rows), len(columns), height=0.3 + 1.05 * len(rows), sharex=True, sharey=True, squeeze=False
    )
    for r, (name, by_class) in enumerate(rows.items()):
        for j, (cls, k) in enumerate(columns):
            ax = axes[r, j]
            energy = by_class[cls]
            image = energy.mean(axis=0) if k == "mean" else energy[k]
            mesh = ax.imshow(np.ma.masked_less(image, 0.05), origin="lower", norm=norm, interpolation="nearest")
            ax.set_xlim(6.5, 25.5)
            ax.set_ylim(6.5, 25.5)
            ax.set_xticks([10, 20])
            ax.set_yticks([10, 20])
            if r == 0:
                ax.set_title(f"{cls} {'mean' if k == 'mean' else k + 1}", fontsize=9)
        axes[r, 0].set_ylabel(f"{name}\niη", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("iφ")
    fig.colorbar(mesh, ax=axes.ravel().tolist(), label="crystal energy [GeV]", fraction=0.03)
    return fig


SHAPE_LABELS = {  #: the shower shapes of qvit_lib.analysis.shower_comparison, with their units
    "e_sum": "total energy [GeV/50]",
    "response": "response E/E₀",
    "t_rms": "RMS hit time [ns/50]",
    "e1_e9": "E1/E9",
    "e9_e25": "E9/E25",
    "eta_width": "η width [crystals]",
    "phi_width": "φ width [crystals]",
    "n_above_threshold": "crystals above 0.1 GeV",
}


def _reference_bins(reference: np.ndarray, bins: int) -> np.ndarray:
    """:func:`~qvit_lib.analysis.shower_comparison.common_bins` of the reference sample alone,
    widened by a tenth each side: the simulated shape sets the axis, and a generated tail
    beyond it piles into the edge bins."""
    edges = common_bins(reference, reference, bins)
    pad = 0.1 * (edges[-1] - edges[0])
    return np.linspace(edges[0] - pad, edges[-1] + pad, bins + 1)


def shape_ratios(
    generated: Mapping[str, np.ndarray], simulated: Mapping[str, np.ndarray], names: Sequence[str], bins: int = 30
) -> plt.Figure:
    """Each shower shape's histogram, generated against simulated, with their ratio below (HEP style).

    The bins span the simulated sample (``_reference_bins``); generated values beyond them
    are counted in the first or last bin, so a generator's tail shows there instead of
    stretching the axis.
    """

    columns = 3
    rows = -(-len(names) // columns)
    fig = plt.figure(figsize=(COLUMN_INCHES, 2.6 * rows), layout="constrained")
    grid = fig.add_gridspec(2 * rows, columns, height_ratios=[3, 1] * rows)
    for index, name in enumerate(names):
        top = fig.add_subplot(grid[2 * (index // columns), index % columns])
        bottom = fig.add_subplot(grid[2 * (index // columns) + 1, index % columns], sharex=top)
        edges = _reference_bins(simulated[name], bins)
        counts = {}
        for label, sample, style in (("simulated", simulated, "-"), ("generated", generated, "--")):
            values = np.clip(sample[name], edges[0], edges[-1])
            counts[label] = np.histogram(values, edges)[0].astype(float)
            top.stairs(counts[label] / counts[label].sum(), edges, ls=style, label=label)
        fractions = {label: c / c.sum() for label, c in counts.items()}
        ratio = np.divide(
            fractions["generated"], fractions["simulated"], out=np.full(bins, np.nan), where=counts["simulated"] > 0
        )
        error = np.divide(ratio, np.sqrt(counts["simulated"]), out=np.zeros(bins), where=counts["simulated"] > 0)
        centres = 0.5 * (edges[1:] + edges[:-1])
        bottom.errorbar(centres, ratio, yerr=error, fmt="o", ms=2, lw=0.8)
        bottom.axhline(1, color="grey", lw=0.8)
        bottom.set_ylim(0, 2)
        bottom.set_xlabel(SHAPE_LABELS.get(name, name.replace("_", " ")))
        top.tick_params(labelbottom=False)
        if index % columns == 0:
            top.set_ylabel("fraction")
            bottom.set_ylabel("gen/sim")
        if index == 0:
            top.legend(fontsize=9)
    return fig


def device_cost(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], references: Mapping[str, float]
) -> plt.Figure:
    """Seconds per event against shots per circuit on log–log axes (chapter 10).

    ``curves``: label → (shots, seconds); a label containing "training" is drawn dashed.
    ``references``: label → seconds per event of the classical model, drawn as grey lines.
    """
    fig, ax = column_figure(1, 1, height=3.8, width=6.2)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    devices = list(dict.fromkeys(label.split(",")[0] for label in curves))
    for label, (shots, seconds) in curves.items():
        colour = colours[devices.index(label.split(",")[0]) % len(colours)]
        ax.plot(shots, seconds, marker="o", ms=3, color=colour, ls="--" if "training" in label else "-", label=label)
    for (label, seconds), style in zip(references.items(), ("-", "--", ":")):
        ax.axhline(seconds, color="0.45", lw=1, ls=style)
        ax.annotate(label, (0.02, seconds), xycoords=("axes fraction", "data"), xytext=(0, 3),
                    textcoords="offset points", fontsize=9, color="0.3")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("shots per circuit S")
    ax.set_ylabel("time per event [s]")
    ax.legend(
        fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False
    )  # below: covers nothing
    return fig


def gan_training(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> plt.Figure:
    """GAN training curves (chapter 11): both hinge losses, and the discriminator's mean output
    on simulated and on generated showers, against the training step; one colour per run."""
    fig, (losses, outputs) = column_figure(1, 2, height=3.0)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (name, history), colour in zip(histories.items(), colours):
        steps = [r["step"] for r in history]
        losses.plot(steps, [r["loss_d"] for r in history], color=colour, label=f"{name}: discriminator")
        losses.plot(steps, [r["loss_g"] for r in history], color=colour, ls="--", label=f"{name}: generator")
        outputs.plot(steps, [r["d_real"] for r in history], color=colour, label=f"{name}: simulated")
        outputs.plot(steps, [r["d_fake"] for r in history], color=colour, ls="--", label=f"{name}: generated")
    losses.set_ylabel("hinge loss")
    outputs.set_ylabel("mean discriminator output")
    for ax in (losses, outputs):
        ax.set_xlabel("training step")
        ax.legend(fontsize=9)
    return fig


def readout_panels(true: np.ndarray, read: np.ndarray, time: np.ndarray) -> plt.Figure:
    """One shower before and after the readout (chapter 11): true crystal energies, read energies
    (GeV, one logarithmic scale) and hit times (ns); crystals without a reading left blank."""
    fig, axes = column_figure(1, 3, height=2.9, sharex=True, sharey=True)
    energies = [np.asarray(true) * 50, np.asarray(read) * 50]  # GeV/50 → GeV
    norm = LogNorm(vmin=0.01, vmax=max(float(e.max()) for e in energies))
    for ax, image, title in zip(axes, energies, ("true energy", "read energy")):
        mesh = ax.imshow(np.ma.masked_less_equal(image, 0.01), origin="lower", norm=norm, interpolation="nearest")
        ax.set_title(title, fontsize=9)
    fig.colorbar(mesh, ax=axes[:2].tolist(), label="energy [GeV]", fraction=0.05, location="bottom")
    times = np.ma.masked_where(np.asarray(read) <= 0, np.asarray(time) * 50)  # ns/50 → ns
    limit = float(np.abs(times).max()) if times.count() else 1.0
    shown = axes[2].imshow(times, origin="lower", cmap="coolwarm", vmin=-limit, vmax=limit, interpolation="nearest")
    axes[2].set_title("hit time", fontsize=9)
    fig.colorbar(shown, ax=axes[2], label="time [ns]", fraction=0.05, location="bottom")
    for ax in axes:
        ax.set_xlabel("iφ")
    axes[0].set_ylabel("iη")
    return fig


def response_curves(curves: Mapping[str, Sequence[Mapping[str, object]]]) -> plt.Figure:
    """Response (median E/E₀) and resolution against the incident energy, one line per sample (chapter 11).

    ``curves``: label → the points of :func:`qvit_lib.runs.gan_evaluation.response_curve`
    (``incident_gev`` range, ``median`` and ``resolution`` with intervals). A label starting
    with "simulat" is drawn black: the reference.
    """
    fig, (top, bottom) = column_figure(2, 1, height=5.4, sharex=True)
    colours = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    for label, points in curves.items():
        colour = "black" if label.startswith("simulat") else next(colours)
        x = [float(np.mean(p["incident_gev"])) for p in points]
        for ax, key in ((top, "median"), (bottom, "resolution")):
            y = np.array([p[key] for p in points])
            low, high = np.array([p[f"{key}_interval"] for p in points]).T
            ax.errorbar(x, y, yerr=[np.clip(y - low, 0, None), np.clip(high - y, 0, None)], fmt="o-", ms=3,
                        lw=0.9, capsize=2, color=colour, label=label)  # fmt: skip
    top.set_ylabel("median E/E₀")
    bottom.set_ylabel("resolution σ/E")
    bottom.set_xlabel("incident energy E₀ [GeV]")
    # above the axes, so that no line hides behind it
    top.legend(fontsize=9, ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.02), frameon=False)
    return fig


def separation_power_dots(
    rows: Mapping[str, Mapping[str, Mapping[str, object]]], floor: Mapping[str, Sequence[float]]
) -> plt.Figure:
    """Separation power of each feature, one marker per model with its interval, on a log axis,
    beside the floor's range (grey band) of simulated against simulated samples (chapter 11).

    ``rows``: model → feature → {"value", "interval"}; ``floor``: feature → floor values.
    """
    features = list(next(iter(rows.values())))
    fig, ax = column_figure(1, 1, height=0.45 * len(features) + 1.4)
    offsets = np.linspace(-0.25, 0.25, len(rows)) if len(rows) > 1 else [0.0]
    for y, feature in enumerate(features):
        values = floor[feature]
        ax.fill_betweenx([y - 0.35, y + 0.35], max(min(values), 1e-4), max(max(values), 1e-4), color="0.85", lw=0)
    for offset, (model, per_feature) in zip(offsets, rows.items()):
        values = np.array([per_feature[f]["value"] for f in features])
        low, high = np.array([per_feature[f]["interval"] for f in features]).T
        ax.errorbar(np.clip(values, 1e-4, None), np.arange(len(features)) + offset,
                    xerr=[np.clip(values - low, 0, None), np.clip(high - values, 0, None)],
                    fmt="o", ms=3, lw=0.8, capsize=2, label=model)  # fmt: skip
    ax.set_xscale("log")
    ax.set_yticks(range(len(features)), [SHAPE_LABELS.get(f, f.replace("_", " ")) for f in features])
    ax.invert_yaxis()
    ax.set_xlabel("separation power (grey: simulated against simulated)")
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=3, frameon=False)
    return fig


def validation_scores(records: Mapping[str, Mapping[str, object]]) -> plt.Figure:
    """Each GAN run's validation score against the training step (log scale), its kept step ringed."""
    fig, ax = column_figure(1, 1, height=3.4)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    models = list(dict.fromkeys(record["name"] for record in records.values()))
    for record in records.values():
        colour = colours[models.index(record["name"]) % len(colours)]
        steps = [v["step"] for v in record["validation"]]
        scores = [v["score"] for v in record["validation"]]
        first = record is next(r for r in records.values() if r["name"] == record["name"])
        ax.plot(steps, scores, color=colour, lw=0.9, label=record["name"] if first else None)
        kept = dict(zip(steps, scores)).get(record["best_step"])
        if kept is not None:
            ax.scatter([record["best_step"]], [kept], s=40, facecolors="none", edgecolors=colour)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation Fréchet distance")
    ax.legend(fontsize=9, ncols=2)
    return fig


def auc_against_cost(rows: Mapping[str, Mapping[str, object]], reference: str = "classical") -> plt.Axes:
    """Test AUC (mean ± seed SD) against CPU minutes per training run, one labelled point per
    family (chapter 12); the ``reference`` family's AUC band is shaded across the plot."""
    _, ax = column_figure(1, 1, height=3.6)
    ref = rows[reference]
    ax.axhspan(ref["auc"] - ref["sd"], ref["auc"] + ref["sd"], color="0.9", zorder=0, label=f"{reference} ± SD")
    for family, r in rows.items():
        ax.errorbar(r["minutes"], r["auc"], yerr=r["sd"], fmt="o", ms=5, capsize=2, lw=0.8)
        ax.annotate(family, (r["minutes"], r["auc"]), textcoords="offset points", xytext=(6, -3), fontsize=9)
    ax.set_xscale("log")
    ax.set_xlim(right=max(r["minutes"] for r in rows.values()) * 4)  # room for the labels
    ax.set_xlabel("CPU minutes per training run (one thread)")
    ax.set_ylabel("test ROC AUC")
    ax.legend(loc="lower right", fontsize=9)
    return ax


def tuning_trials(
    records: Mapping[str, Mapping[str, object]], reference: Mapping[str, float] | None = None
) -> plt.Figure:
    """Equal tuning, one panel per setting: each trial's last validation AUC against the value it
    drew (one colour per model; a filled marker ran every epoch, a hollow one was stopped by ASHA),
    the chosen trial ringed; ``reference`` settings (e.g. the paper's) as dashed lines where the
    axis can show them."""
    settings = (
        ("lr", "learning rate", True),
        ("weight_decay", "weight decay", True),
        ("warmup_epochs", "warm-up [epochs]", False),
    )
    fig, axes = column_figure(1, 3, height=2.8, sharey=True)
    for colour, (variant, record) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], records.items()):
        full = record["scheduler"]["max_t"]
        for ax, (key, label, log) in zip(axes, settings):
            for trial in record["trials"]:
                done = trial["epochs"] == full
                ax.scatter(
                    trial["config"][key],
                    trial["val_auc"][-1],
                    s=18,
                    facecolors=colour if done else "none",
                    edgecolors=colour,
                    linewidths=0.8,
                    label=variant if (ax is axes[0] and trial is record["trials"][0]) else None,
                )
            ax.scatter(record["chosen"][key], record["chosen_val_auc"], s=90, facecolors="none", edgecolors="black")
            ax.set_xscale("log" if log else "linear")
            ax.set_xlabel(label)
            value = (reference or {}).get(key)
            if value is not None and (value > 0 or not log):
                ax.axvline(value, color="grey", linestyle="--", linewidth=0.8)
    axes[0].set_ylabel("validation AUC")
    fig.legend(loc="outside upper center", ncols=min(len(records), 4), fontsize=7, frameon=False)
    return fig
