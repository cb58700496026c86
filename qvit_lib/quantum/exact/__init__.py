"""An exact simulator of the attention circuits, fused for training.

Three forms of the same numbers, one module each:

* :mod:`~qvit_lib.quantum.exact.statevector` — the textbook reference: gates as matrices, the
  expectations as ψ(x)† M_k ψ(x) in complex arithmetic;
* :mod:`~qvit_lib.quantum.exact.fourier` — what the models use up to 4 qubits per head: each
  expectation as a short Fourier series in the inputs, per token and head a handful of
  cosines and sines and one small matrix product, instead of one simulator call per
  token and circuit;
* :mod:`~qvit_lib.quantum.exact.quadratic` — from 5 qubits on, where the series outgrows it: a real
  quadratic form r(x)ᵀ A_k r(x).

:func:`~qvit_lib.quantum.exact.heads.head_expectations` chooses between the last two. All are exact: the tests compare
them with PennyLane's default.qubit and lightning.qubit (:func:`qvit_lib.quantum.qnodes.compare_with_backend`),
values and gradients, to 1e-10 in float64.
"""

from __future__ import annotations

from qvit_lib.quantum.exact.fourier import (
    ProductBasis,
    SeriesWeights,
    circuit_fourier_coefficients,
    circuit_frequencies,
    evaluate_series,
    fourier_series,
    layered_series_weights,
    loader_frequencies,
    product_basis,
    product_features,
    series_weights,
)
from qvit_lib.quantum.exact.heads import fourier_is_cheaper, head_expectations
from qvit_lib.quantum.exact.quadratic import loader_amplitudes, loader_phases, quadratic_forms, real_observables
from qvit_lib.quantum.exact.statevector import (
    cnot_ring_matrix,
    expectations,
    layer,
    observables,
    pauli_z,
    product_state,
    query_key_unitary,
    rx,
    ry,
    value_unitary,
)

__all__ = [
    "ProductBasis",
    "SeriesWeights",
    "circuit_fourier_coefficients",
    "circuit_frequencies",
    "cnot_ring_matrix",
    "evaluate_series",
    "expectations",
    "fourier_is_cheaper",
    "fourier_series",
    "head_expectations",
    "layer",
    "layered_series_weights",
    "loader_amplitudes",
    "loader_frequencies",
    "loader_phases",
    "observables",
    "pauli_z",
    "product_basis",
    "product_features",
    "product_state",
    "quadratic_forms",
    "query_key_unitary",
    "real_observables",
    "rx",
    "ry",
    "series_weights",
    "value_unitary",
]
