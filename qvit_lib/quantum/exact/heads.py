"""Which engine computes a head's expectations: the Fourier series up to 4 qubits, the quadratic form beyond."""

from __future__ import annotations

import torch

from qvit_lib.quantum.exact.fourier import SeriesWeights, evaluate_series, frequency_grid, layered_series_weights
from qvit_lib.quantum.exact.quadratic import loader_amplitudes, quadratic_forms, real_observables
from qvit_lib.quantum.exact.statevector import observables, query_key_unitary, value_unitary

__all__ = ["fourier_is_cheaper", "head_expectations"]


def fourier_is_cheaper(n_qubits: int, loader: str) -> bool:
    """Fewer numbers per token and head with the Fourier series than with the quadratic form."""
    n_features = 2 * len(frequency_grid(n_qubits, loader)[1])
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
    built (see :func:`~qvit_lib.quantum.exact.fourier.layered_series_weights`).
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
