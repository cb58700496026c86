"""Pauli propagation (chapter 9's whole-token circuits): exact against PennyLane, and its rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum.exact import pauli
from qvit_lib.quantum.qnodes import compare_wide_with_backend

BACKENDS = ("default.qubit", "lightning.qubit")


@pytest.mark.parametrize(
    ("backend", "n_qubits", "loader"), list(itertools.product(BACKENDS, (2, 3, 4, 6), ("hadamard", "angle")))
)
def test_value_circuit_equals_pennylane(backend, n_qubits, loader):
    differences = compare_wide_with_backend("value", backend, n_qubits, loader, seed=n_qubits)
    assert max(differences.values()) < 1e-10, differences


@pytest.mark.parametrize(
    ("backend", "n_qubits", "layers"),
    [(b, d, layers) for b in BACKENDS for d, layers in [(2, 1), (2, 3), (3, 2), (4, 1), (4, 3), (5, 2), (7, 1)]],
)
def test_projection_circuit_equals_pennylane(backend, n_qubits, layers):
    differences = compare_wide_with_backend("projection", backend, n_qubits, layers=layers, seed=layers)
    assert max(differences.values()) < 1e-10, differences


def test_the_comparison_can_fail(monkeypatch):
    """A wrong propagation rule (RX's split with the wrong sign) is caught by the same check."""
    wrong = dict(pauli.ROTATION_RULE)
    sign, letter = wrong[pauli.X, pauli.Z]
    wrong[pauli.X, pauli.Z] = (-sign, letter)
    monkeypatch.setattr(pauli, "ROTATION_RULE", wrong)
    pauli.propagate.cache_clear()
    pauli._plan.cache_clear()
    try:
        differences = compare_wide_with_backend("projection", "default.qubit", 3, layers=2)
    finally:
        pauli.propagate.cache_clear()
        pauli._plan.cache_clear()
    assert max(differences.values()) > 1e-3


def test_sixteen_qubits_take_a_few_strings_per_output():
    """The book's circuits on d_t = 16: two strings per ⟨Z_j⟩ for the value circuit, one for a projection."""
    assert pauli.term_count(pauli.value_circuit(16, "angle")) == 32
    assert pauli.term_count(pauli.projection_circuit(16, 1)) == 16
    lines = pauli.describe(pauli.value_circuit(4, "angle"))
    assert lines[1] == "⟨Z_1⟩ = −sin θ_9 · X1 X2 +cos θ_9 · Z0 Z1"


def test_a_sixteen_qubit_circuit_agrees_with_a_state_vector_on_a_few_inputs():
    """d = 16 is beyond the QNode tests' reach in time, not for one small batch on lightning.qubit."""
    differences = compare_wide_with_backend("value", "lightning.qubit", 16, "angle", n_inputs=2)
    assert max(differences.values()) < 1e-10, differences


def test_too_many_strings_are_refused_with_a_reason():
    with pytest.raises(ConfigError, match="more than 4096 Pauli strings"):
        pauli.propagate(pauli.projection_circuit(16, 2))


def test_clifford_rules_match_matrices():
    """Every CNOT conjugation rule is a true identity of 4 × 4 matrices."""
    paulis = pauli._PAULI
    cnot = np.eye(4)[[0, 1, 3, 2]]
    for (pc, pt), (sign, qc, qt) in pauli.CNOT_RULE.items():
        left = cnot.T @ np.kron(paulis[pc], paulis[pt]) @ cnot
        assert np.allclose(left, sign * np.kron(paulis[qc], paulis[qt]))


def test_several_circuits_in_one_call_equal_one_at_a_time():
    circuit = pauli.projection_circuit(6, 1)
    g = torch.Generator().manual_seed(0)
    x, theta = (
        torch.randn(4, 5, 6, generator=g, dtype=torch.float64),
        torch.randn(3, 6, generator=g, dtype=torch.float64),
    )
    together = pauli.pauli_expectations(x, theta, circuit)
    assert together.shape == (4, 5, 3, 6)
    for c in range(3):
        assert torch.allclose(together[..., c, :], pauli.pauli_expectations(x, theta[c], circuit), atol=1e-14)


def test_the_hadamard_loader_makes_the_feed_forward_blind():
    circuit = pauli.value_circuit(16, "hadamard")
    theta = torch.randn(48, dtype=torch.float64)
    out = pauli.pauli_expectations(torch.randn(7, 16, dtype=torch.float64), theta, circuit)
    assert torch.equal(out, out[:1].expand_as(out))


def test_wrong_shapes_are_explained():
    with pytest.raises(ValueError, match="circuit on 4 qubits with 12 angles got inputs"):
        pauli.pauli_expectations(torch.zeros(3, 5), torch.zeros(12), pauli.value_circuit(4, "angle"))
