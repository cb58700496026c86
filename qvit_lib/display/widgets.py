"""Interactive explorers for the book, as widgets that compute in the page (anywidget).

:class:`CircuitExplorer` puts one attention circuit under the reader's fingers: sliders
for the d_h input values and every ansatz angle; live ⟨Z⟩ values, the probabilities of the
2^d_h basis states, and the circuit drawn with its data loader and ansatz marked. The
front end (``circuit_explorer.js``) simulates the circuit itself — 16 amplitudes for four
qubits — so the sliders work in JupyterLab and in the static book, kernel or not. The
Python side computes the same numbers with :mod:`qvit_lib.quantum.exact` (the tests check both
against PennyLane). With the paper's ``hadamard`` loader the input sliders change nothing.

With ``show_shots`` (chapter 10) a shots slider appears: the page draws S runs of the
circuit from its probabilities with a seeded generator and shows the sampled frequencies
and each ⟨Z⟩ estimate with its standard error; :attr:`CircuitExplorer.sampled_counts`
draws the same sample in Python (the same 32-bit generator, the same inverse transform).
"""

from __future__ import annotations

import math
from pathlib import Path

import anywidget
import numpy as np
import torch
import traitlets

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum import exact
from qvit_lib.quantum.circuits import Circuit, build_circuit, columns

__all__ = ["SHOT_CHOICES", "mulberry32", "sample_counts", "gate_state", "CircuitExplorer"]


_CSS = """
.qvit-explorer { font: 13px/1.35 var(--pst-font-family-base, sans-serif); max-width: 680px; }
.qvit-explorer .qx-title { font-weight: 600; margin-bottom: 4px; }
.qvit-explorer .qx-head { font-style: italic; margin: 2px 0; }
.qvit-explorer .qx-controls { display: flex; flex-wrap: wrap; gap: 4px 24px; }
.qvit-explorer .qx-slider { display: flex; align-items: center; gap: 6px; margin: 0; font-size: 13px; }
.qvit-explorer .qx-slider > span:first-child { width: 2.2em; }
.qvit-explorer .qx-slider input { width: 150px; }
.qvit-explorer .qx-readout { width: 3.2em; text-align: right; font-variant-numeric: tabular-nums; }
.qvit-explorer .qx-results { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 8px 0; }
.qvit-explorer table.qvit-expvals { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.qvit-explorer table.qvit-expvals caption { caption-side: top; font-style: italic; text-align: left; }
.qvit-explorer table.qvit-expvals td { padding: 1px 8px 1px 0; }
.qvit-explorer .qx-bars { min-width: 260px; }
.qvit-explorer .qx-bar { display: flex; align-items: center; gap: 6px; height: 15px; font: 12px monospace; }
.qvit-explorer .qx-bar > span:first-child { width: 4.5em; }
.qvit-explorer .qx-fill { display: inline-block; height: 10px; background: #4a6fa5; max-width: 160px; }
.qvit-explorer .qx-pair { display: inline-flex; flex-direction: column; gap: 1px; width: 160px; }
.qvit-explorer .qx-pair .qx-fill { height: 6px; }
.qvit-explorer .qx-pair .qx-sampled { background: #e08a2c; }
.qvit-explorer .qx-count { color: #a05a10; }
.qvit-explorer .qx-circuit { overflow-x: auto; }
.qvit-explorer .qx-legend { font-size: 12px; margin: 6px 0 2px; }
.qvit-explorer .qx-swatch { display: inline-block; width: 14px; height: 10px; border: 1px solid #333; }
.qvit-explorer .qx-swatch { margin: 0 4px 0 12px; }
.qvit-explorer .qx-swatch:first-child { margin-left: 0; }
.qvit-explorer .qx-wire { stroke: #333; stroke-width: 1.2; fill: none; }
.qvit-explorer .qx-dot { fill: #333; }
.qvit-explorer .qx-target { fill: white; stroke: #333; stroke-width: 1.2; }
.qvit-explorer .qx-gate { stroke: #333; stroke-width: 1; }
.qvit-explorer .qx-loader { fill: #fde4c8; background: #fde4c8; }
.qvit-explorer .qx-ansatz { fill: #d6e4f5; background: #d6e4f5; }
.qvit-explorer .qx-measure { fill: #eee; }
.qvit-explorer .qx-label, .qvit-explorer .qx-gate-label { font-size: 11px; fill: #111; }
.qvit-explorer .qx-gate-label { text-anchor: middle; }
"""


SHOT_CHOICES = (0, 10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)  #: the slider's stops; 0: exact


def _imul(a: int, b: int) -> int:
    return (a * b) & 0xFFFFFFFF


def mulberry32(seed: int):
    """The page's random generator (mulberry32), in 32-bit unsigned arithmetic: uniforms in [0, 1)."""
    a = seed & 0xFFFFFFFF
    while True:
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = _imul(a ^ (a >> 15), 1 | a)
        t = ((t + _imul(t ^ (t >> 7), 61 | t)) & 0xFFFFFFFF) ^ t
        yield ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296


def sample_counts(probabilities, shots: int, seed: int) -> list[int]:
    """Counts of each outcome in ``shots`` runs, by inverse transform of the page's generator."""
    cumulative, total = [], 0.0
    for p in probabilities:
        total += float(p)
        cumulative.append(total)
    counts = [0] * len(cumulative)
    random = mulberry32(seed)
    for _ in range(shots):
        u = next(random) * cumulative[-1]
        i = 0
        while i < len(cumulative) - 1 and cumulative[i] <= u:
            i += 1
        counts[i] += 1
    return counts


def gate_state(circuit: Circuit) -> list[dict]:
    """The circuit's gates as the page receives them: one dict per gate, with its label and drawing column."""
    column_of = {id(g): i for i, step in enumerate(columns(circuit.gates)) for g in step}
    return [
        {
            "name": g.name,
            "wires": list(g.wires),
            "source": g.source,
            "index": g.index,
            "role": g.role,
            "label": g.label(),
            "column": column_of[id(g)],
        }
        for g in circuit.gates
    ]


def _on_grid(value: float) -> float:
    """A slider's starting value on its 0.01 grid."""
    return round(round(value / 0.01) * 0.01, 2)


class CircuitExplorer(anywidget.AnyWidget):
    """Sliders → one attention circuit (query/key or value) → ⟨Z⟩, probabilities, drawing.

    ``x`` and ``theta`` hold the slider values (synchronised with the page); the properties
    :attr:`expectations` and :attr:`probabilities` give what the page shows, computed in
    Python by the textbook simulator of :mod:`qvit_lib.quantum.exact`.
    """

    _esm = (Path(__file__).with_name("circuit_explorer.js")).read_text()
    _css = _CSS
    loader = traitlets.Unicode("angle").tag(sync=True)
    kind = traitlets.Unicode("query_key").tag(sync=True)
    n_qubits = traitlets.Int(4).tag(sync=True)
    x = traitlets.List(traitlets.Float()).tag(sync=True)
    theta = traitlets.List(traitlets.Float()).tag(sync=True)
    show_shots = traitlets.Bool(False).tag(sync=True)
    shots = traitlets.Int(0).tag(sync=True)  # 0: exact expectations
    sample_seed = traitlets.Int(0).tag(sync=True)
    gates = traitlets.List(traitlets.Dict()).tag(sync=True)  # the gate list the page simulates and draws
    measured = traitlets.List(traitlets.Int()).tag(sync=True)  # the qubits whose ⟨Z⟩ it shows

    def __init__(
        self, loader: str = "angle", kind: str = "query_key", n_qubits: int = 4, seed: int = 0, shots: int | None = None
    ) -> None:
        """``shots``: show the shots slider, starting at that many runs (0: exact); None: no slider."""
        if kind not in ("query_key", "value"):
            raise ConfigError(f"unknown circuit {kind!r}; valid: query_key, value")
        circuit = build_circuit(kind, n_qubits, loader)
        n_angles = circuit.n_angles
        if shots is not None and shots not in SHOT_CHOICES:
            raise ConfigError(f"shots must be one of the slider's stops {SHOT_CHOICES}; got {shots}")
        rng = np.random.default_rng(seed)
        super().__init__(
            show_shots=shots is not None,
            shots=shots or 0,
            sample_seed=seed,
            loader=loader,
            kind=kind,
            n_qubits=n_qubits,
            x=[_on_grid(float(v)) for v in rng.uniform(-1, 1, n_qubits)],
            theta=[_on_grid(float(v)) for v in rng.uniform(0, 2 * math.pi, n_angles)],
            gates=gate_state(circuit),
            measured=list(circuit.measured),
        )

    def _state(self) -> torch.Tensor:
        x = torch.tensor(self.x, dtype=torch.float64)
        theta = torch.tensor(self.theta, dtype=torch.float64)
        unitary = (exact.query_key_unitary if self.kind == "query_key" else exact.value_unitary)(theta, self.n_qubits)
        return unitary @ exact.product_state(x, self.loader)

    @property
    def expectations(self) -> list[float]:
        """⟨Z_j⟩ of the measured qubits at the current slider values."""
        probabilities = self.probabilities
        index = np.arange(2**self.n_qubits)
        signs = {q: 1 - 2 * ((index >> (self.n_qubits - 1 - q)) & 1) for q in self.measured}
        return [float(signs[q] @ probabilities) for q in self.measured]

    @property
    def probabilities(self) -> np.ndarray:
        """Probabilities of the 2^d basis states (qubit 0 the leading bit)."""
        return (self._state().abs() ** 2).numpy()

    @property
    def sampled_counts(self) -> list[int] | None:
        """Counts of each basis state in ``shots`` runs, as the page draws them (None when exact)."""
        if not self.show_shots or not self.shots:
            return None
        return sample_counts(self.probabilities.tolist(), self.shots, self.sample_seed)

    @property
    def estimates(self) -> list[tuple[float, float]] | None:
        """Each measured ⟨Z_j⟩ estimated from :attr:`sampled_counts`, with its standard error."""
        counts = self.sampled_counts
        if counts is None:
            return None
        out = []
        for q in self.measured:
            mask = 1 << (self.n_qubits - 1 - q)
            mean = sum(-n if i & mask else n for i, n in enumerate(counts)) / self.shots
            out.append((mean, math.sqrt(max(1 - mean * mean, 0) / self.shots)))
        return out
