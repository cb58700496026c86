"""The circuits' expectations as real quadratic forms r(x)ᵀ A_k r(x) — for many qubits.

For many qubits per head the Fourier series grows as 3^d and the quadratic form only as
4^d·(2 + d)/2^d: from d_h = 5 on, evaluating r(x)ᵀ A_k r(x) directly is cheaper. Both
loaders give ψ(x) = (global phase) · P · r(x) with a real product vector r(x) and fixed
phases P, so A_k = Re(P† M_k P) is a real symmetric matrix.
"""

from __future__ import annotations

import math

import torch

from qvit_lib.quantum.ansatz import check_loader

__all__ = ["loader_amplitudes", "loader_phases", "real_observables", "quadratic_forms"]


def loader_amplitudes(x: torch.Tensor, loader: str) -> torch.Tensor:
    """The real vector r(x) (..., 2^d) of the data loader's state, phases taken out."""
    check_loader(loader)
    d = x.shape[-1]
    if loader == "hadamard":  # e^{−iΣx/2}|+⟩^{⊗d}: no dependence on x at all
        # 0·x keeps x in the autograd graph, so its gradient is an exact zero, not an error.
        return (0 * x[..., :1] + 2 ** (-d / 2)).expand(*x.shape[:-1], 2**d)
    qubits = torch.stack([torch.cos(x / 2), torch.sin(x / 2)], dim=-1)  # (..., d, 2)
    r = qubits[..., 0, :]
    for q in range(1, d):
        r = (r[..., :, None] * qubits[..., q, None, :]).flatten(-2, -1)
    return r


def loader_phases(n_qubits: int, loader: str, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The fixed phases P (2^d,): (−i)^{popcount b} for ``angle``, 1 for ``hadamard``."""
    check_loader(loader)
    if loader == "hadamard":
        return torch.ones(2**n_qubits, dtype=dtype)
    popcount = torch.tensor([bin(b).count("1") for b in range(2**n_qubits)])
    return torch.tensor([1, -1j, -1, 1j], dtype=dtype)[popcount % 4]


def real_observables(matrices: torch.Tensor, loader: str) -> torch.Tensor:
    """A_k = Re(P† M_k P) for Hermitian M_k (..., K, D, D): real symmetric (..., K, D, D)."""
    n_qubits = int(math.log2(matrices.shape[-1]))
    phases = loader_phases(n_qubits, loader, matrices.dtype).to(matrices.device)
    return (phases.conj()[:, None] * matrices * phases[None, :]).real


def quadratic_forms(r: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """rᵀ A_k r for r (N, H, D) and A (H, K, D, D): (N, H, K), one batched matmul per head."""
    n, heads, dim = r.shape
    k = a.shape[1]
    by_head = r.transpose(0, 1)  # (H, N, D)
    ar = torch.bmm(by_head, a.permute(0, 2, 1, 3).reshape(heads, dim, k * dim))  # (H, N, K·D)
    return (ar.view(heads, n, k, dim) * by_head[:, :, None, :]).sum(-1).permute(1, 0, 2)
