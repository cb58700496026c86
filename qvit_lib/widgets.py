"""Interactive explorers for the book (ipywidgets).

:class:`CircuitExplorer` puts one attention circuit under the reader's fingers: sliders for
the d_h input values and every ansatz angle; live ⟨Z⟩ values, the probabilities of the
2^d_h basis states and the circuit itself. With the paper's ``hadamard`` data loader the
input sliders change nothing; with ``angle`` they do.
"""

from __future__ import annotations

import html
import math

import numpy as np

from . import circuits
from .ansatz import check_loader
from .errors import ConfigError


def _bar_chart(probabilities: np.ndarray, n_qubits: int) -> str:
    rows = []
    for index, p in enumerate(probabilities):
        label = format(index, f"0{n_qubits}b")
        rows.append(
            f'<div style="display:flex;align-items:center;height:14px;font:11px monospace">'
            f'<span style="width:52px">|{label}⟩</span>'
            f'<span style="display:inline-block;height:10px;width:{200 * p:.1f}px;background:#4a6fa5"></span>'
            f'<span style="margin-left:6px">{p:.3f}</span></div>'
        )
    return "<b>P(basis state)</b>" + "".join(rows)


class CircuitExplorer:
    """Sliders → one circuit (query/key or value) on default.qubit → ⟨Z⟩, probabilities, drawing.

    ``readout`` is an HTML widget whose text lists the ⟨Z⟩ values (class ``qvit-expvals``),
    so that tests and readers can check what changes.
    """

    def __init__(self, loader: str = "angle", kind: str = "query_key", n_qubits: int = 4, seed: int = 0) -> None:
        import ipywidgets as w
        import pennylane as qml

        if kind not in ("query_key", "value"):
            raise ConfigError(f"unknown circuit {kind!r}; valid: query_key, value")
        check_loader(loader)
        self.loader, self.kind, self.n_qubits = loader, kind, n_qubits
        n_angles = (
            circuits.query_key_parameter_count(n_qubits)
            if kind == "query_key"
            else circuits.value_parameter_count(n_qubits)
        )
        rng = np.random.default_rng(seed)
        self.inputs = [
            w.FloatSlider(
                value=round(round(float(v) / 0.05) * 0.05, 2),
                min=-math.pi,
                max=math.pi,
                step=0.05,
                description=f"x{j}",
                continuous_update=True,
            )
            for j, v in enumerate(rng.uniform(-1, 1, n_qubits))
        ]
        self.angles = [
            w.FloatSlider(
                value=round(round(float(v) / 0.05) * 0.05, 2),
                min=0.0,
                max=2 * math.pi,
                step=0.05,
                description=f"θ{j}",
                continuous_update=True,
            )
            for j, v in enumerate(rng.uniform(0, 2 * math.pi, n_angles))
        ]
        self.readout = w.HTML()
        self.probabilities = w.HTML()
        self.drawing = w.HTML()

        device = qml.device("default.qubit", wires=n_qubits)
        ansatz = circuits.query_key_ansatz if kind == "query_key" else circuits.value_ansatz
        measured = [0] if kind == "query_key" else list(range(n_qubits))

        def prepare(x, theta):
            circuits.data_loader(x, loader)
            ansatz(theta, n_qubits)

        @qml.qnode(device)
        def run(x, theta):
            prepare(x, theta)
            return [qml.expval(qml.PauliZ(q)) for q in measured] + [qml.probs(wires=range(n_qubits))]

        self._run = run
        self._measured = measured
        for slider in self.inputs + self.angles:
            slider.observe(self.update, names="value")
        title = f"{'query/key' if kind == 'query_key' else 'value'} circuit, {loader} data loader"
        self.ui = w.VBox(
            [
                w.HTML(f"<b>{html.escape(title)}</b>"),
                w.HBox(
                    [
                        w.VBox([w.HTML("<i>inputs x (one per qubit)</i>"), *self.inputs]),
                        w.VBox([w.HTML("<i>ansatz angles θ</i>"), *self.angles]),
                    ]
                ),
                w.HBox([self.readout, self.probabilities], layout=w.Layout(grid_gap="40px")),
                self.drawing,
            ]
        )
        self.update()

    @property
    def x(self) -> list[float]:
        return [s.value for s in self.inputs]

    @property
    def theta(self) -> list[float]:
        return [s.value for s in self.angles]

    def evaluate(self) -> tuple[list[float], np.ndarray]:
        """⟨Z⟩ of the measured qubits and the basis-state probabilities, now."""
        *expvals, probs = self._run(self.x, self.theta)
        return [float(e) for e in expvals], np.asarray(probs, dtype=float)

    def update(self, *_: object) -> None:
        import pennylane as qml

        self.expectations, probs = self.evaluate()
        cells = "".join(
            f"<tr><td>⟨Z<sub>{q}</sub>⟩</td><td style='text-align:right'>{e:+.4f}</td></tr>"
            for q, e in zip(self._measured, self.expectations)
        )
        self.readout.value = f"<b>expectation values</b><table class='qvit-expvals'>{cells}</table>"
        self.probabilities.value = _bar_chart(probs, self.n_qubits)
        drawing = qml.draw(self._run, decimals=2, max_length=200)(self.x, self.theta)
        self.drawing.value = f"<pre style='font-size:11px;line-height:1.25'>{html.escape(drawing)}</pre>"

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)
