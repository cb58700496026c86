"""An exact simulator of the attention circuits, fused for training.

Three forms of the same numbers, one module each:

* :mod:`~qvit_lib.fused.statevector` — the textbook reference: gates as matrices, the
  expectations as ψ(x)† M_k ψ(x) in complex arithmetic;
* :mod:`~qvit_lib.fused.fourier` — what the models use up to 4 qubits per head: each
  expectation as a short Fourier series in the inputs, per token and head a handful of
  cosines and sines and one small matrix product, instead of one simulator call per
  token and circuit;
* :mod:`~qvit_lib.fused.quadratic` — from 5 qubits on, where the series outgrows it: a real
  quadratic form r(x)ᵀ A_k r(x).

:func:`head_expectations` chooses between the last two. All are exact: the tests compare
them with PennyLane's default.qubit and lightning.qubit (:func:`qvit_lib.circuits.compare_with_backend`),
values and gradients, to 1e-10 in float64.
"""

from __future__ import annotations

import torch

from .fourier import (
    ProductBasis,
    SeriesWeights,
    _spectrum,
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
from .quadratic import loader_amplitudes, loader_phases, quadratic_forms, real_observables
from .statevector import (
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


def fourier_is_cheaper(n_qubits: int, loader: str) -> bool:
    """Fewer numbers per token and head with the Fourier series than with the quadratic form."""
    n_features = 2 * len(_spectrum(n_qubits, loader)[1])
    return n_features <= 2**n_qubits * (2 + n_qubits)


def head_expectations(
    heads: torch.Tensor,
    theta_q: torch.Tensor,
    theta_k: torch.Tensor,
    theta_v: torch.Tensor,
    loader: str,
    method: str = "auto",
    series: SeriesWeights | None = None,
) -> torch.Tensor:
    """⟨Z₀⟩ of the query and key circuits and ⟨Z_j⟩ of the value circuit, for every token and head.

    ``heads`` (..., H, d) holds each head's slice of each token; ``theta_*`` are (H, ·).
    Returns (..., H, 2 + d): Q, K, then the d values. ``method``: "fourier", "quadratic"
    or "auto" (the Fourier series up to d_h = 4, the quadratic form beyond) — the same
    numbers either way. ``series``: the series weights of these parameters when already
    built (see :func:`layered_series_weights`).
    """
    d = heads.shape[-1]
    if method not in ("auto", "fourier", "quadratic"):
        raise ValueError(f"unknown method {method!r}; valid: auto, fourier, quadratic")
    if method == "fourier" or (method == "auto" and fourier_is_cheaper(d, loader)):
        if series is None:
            series = layered_series_weights([(theta_q, theta_k, theta_v)], d, loader)[0]
        return evaluate_series(heads, series)
    query_key = observables(query_key_unitary(torch.cat([theta_q, theta_k]), d), [0])  # (2H, 1, D, D)
    matrices = torch.cat([*query_key.chunk(2), observables(value_unitary(theta_v, d), list(range(d)))], dim=1)
    r = loader_amplitudes(heads, loader)
    flat = r.reshape(-1, *r.shape[-2:])
    return quadratic_forms(flat, real_observables(matrices, loader)).reshape(*heads.shape[:-1], 2 + d)
