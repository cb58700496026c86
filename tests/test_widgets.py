"""The circuit explorer: its sliders drive the circuit, and the blind loader shows it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qvit_lib.widgets import CircuitExplorer


def shown_values(explorer: CircuitExplorer) -> list[float]:
    return [float(v) for v in re.findall(r"([+-]\d\.\d{4})</td>", explorer.readout.value)]


def test_angle_loader_responds_to_inputs():
    explorer = CircuitExplorer("angle", "query_key", seed=3)
    before = shown_values(explorer)
    explorer.inputs[2].value = -1.0
    after = shown_values(explorer)
    assert len(before) == 1 and before != after
    assert after[0] == pytest.approx(explorer.expectations[0], abs=1e-4)


def test_paper_loader_ignores_inputs_but_not_angles():
    explorer = CircuitExplorer("hadamard", "query_key", seed=3)
    before = explorer.readout.value
    for slider in explorer.inputs:
        slider.value = 1.7
    assert explorer.readout.value == before
    explorer.angles[5].value = 0.4  # an RY angle of the ansatz
    assert explorer.readout.value != before


def test_value_circuit_shows_every_qubit_and_probabilities():
    explorer = CircuitExplorer("angle", "value", seed=0)
    assert len(shown_values(explorer)) == 4 and len(explorer.angles) == 12
    _, probabilities = explorer.evaluate()
    assert probabilities.shape == (16,) and probabilities.sum() == pytest.approx(1.0)
    assert explorer.probabilities.value.count("|") == 16
    assert "RX(" in explorer.drawing.value and "RY(" in explorer.drawing.value


def test_probabilities_and_expectation_agree():
    explorer = CircuitExplorer("angle", "query_key", seed=5)
    (z0,), probabilities = explorer.evaluate()
    signs = np.array([1 if index < 8 else -1 for index in range(16)])  # qubit 0 is the leading bit
    assert z0 == pytest.approx(float(signs @ probabilities), abs=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown circuit 'key'"):
        CircuitExplorer(kind="key")
    with pytest.raises(ValueError, match="unknown data loader 'dense'"):
        CircuitExplorer(loader="dense")
