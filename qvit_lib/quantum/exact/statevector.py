"""The textbook simulator: gates as matrices, states as vectors, ⟨Z⟩ as ψ†Mψ.

A circuit on d qubits is a data loader, which makes a *product* state ψ(x) = ⊗_j a(x_j),
followed by a unitary U(θ) of size 2^d that does not depend on x. So every expectation
value the attention head needs is a quadratic form

    ⟨Z_k⟩(x) = ψ(x)† M_k ψ(x),    M_k = U(θ)† Z_k U(θ),

with one small Hermitian matrix M_k per circuit and observable. This module computes
exactly that, in complex arithmetic: the reference the faster forms
(:mod:`~qvit_lib.quantum.exact.fourier`, :mod:`~qvit_lib.quantum.exact.quadratic`) are checked against.

Qubit 0 is the most significant bit of the state index, as in PennyLane.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum.circuits import Gate, ansatz_gates, cnot_ring, columns, loader_gates

__all__ = [
    "rx",
    "ry",
    "ry_real",
    "layer",
    "cnot_matrix",
    "cnot_ring_matrix",
    "pauli_z",
    "gates_unitary",
    "value_unitary",
    "query_key_unitary",
    "observables",
    "product_state",
    "expectations",
]


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def rx(theta: torch.Tensor) -> torch.Tensor:
    """RX(θ) = exp(−iθX/2) for a batch of angles: (..., 2, 2) complex."""
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    zero = torch.zeros_like(c)
    real = torch.stack([torch.stack([c, zero], -1), torch.stack([zero, c], -1)], -2)
    imag = torch.stack([torch.stack([zero, -s], -1), torch.stack([-s, zero], -1)], -2)
    return torch.complex(real, imag)


def ry(theta: torch.Tensor) -> torch.Tensor:
    """RY(θ) = exp(−iθY/2) for a batch of angles: (..., 2, 2) complex (a real rotation)."""
    real = ry_real(theta)
    return torch.complex(real, torch.zeros_like(real))


def ry_real(theta: torch.Tensor) -> torch.Tensor:
    """RY(θ) as a real (..., 2, 2) rotation."""
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def layer(gates: torch.Tensor) -> torch.Tensor:
    """Kronecker product of one gate per qubit: (..., d, 2, 2) → (..., 2^d, 2^d)."""
    out = gates[..., 0, :, :]
    for q in range(1, gates.shape[-3]):
        g = gates[..., q, :, :]
        out = (out[..., :, None, :, None] * g[..., None, :, None, :]).flatten(-4, -3).flatten(-2, -1)
    return out


def cnot_matrix(pairs: Sequence[tuple[int, int]], n_qubits: int, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The permutation matrix of the CNOTs (control, target) applied in the order given."""
    dim = 2**n_qubits
    index = torch.arange(dim)
    for control, target in pairs:
        control_bit = (index >> (n_qubits - 1 - control)) & 1
        index = index ^ (control_bit << (n_qubits - 1 - target))
    matrix = torch.zeros(dim, dim, dtype=dtype)
    matrix[index, torch.arange(dim)] = 1  # basis state b goes to index(b)
    return matrix


def cnot_ring_matrix(n_qubits: int, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The permutation matrix of the CNOT ring 0→1, 1→2, …, (d−1)→0."""
    return cnot_matrix([gate.wires for gate in cnot_ring(n_qubits)], n_qubits, dtype)


def pauli_z(n_qubits: int, wire: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Diagonal of Z on ``wire``: +1 where the qubit is 0, −1 where it is 1."""
    index = torch.arange(2**n_qubits)
    return (1 - 2 * ((index >> (n_qubits - 1 - wire)) & 1)).to(dtype)


_SINGLE = {"rx": rx, "ry": ry}


def gates_unitary(gates: Sequence[Gate], theta: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """U(θ) of an ansatz's gate list for a batch of parameter vectors (..., P): (..., 2^d, 2^d).

    Step by step (:func:`~qvit_lib.quantum.circuits.columns`): a step of one-qubit gates is
    one Kronecker product (the identity on the wires it leaves alone), a CNOT a permutation.
    """
    complex_dtype = _complex(theta.dtype)
    u = torch.eye(2**n_qubits, dtype=complex_dtype, device=theta.device).expand(*theta.shape[:-1], -1, -1)
    identity = torch.eye(2, dtype=complex_dtype, device=theta.device).expand(*theta.shape[:-1], 2, 2)
    for step in columns(tuple(gates)):
        if step[0].name == "cnot":
            u = cnot_matrix([step[0].wires], n_qubits, complex_dtype).to(theta.device) @ u
            continue
        per_wire = [identity] * n_qubits
        for gate in step:
            if gate.source != "theta":
                raise ConfigError(f"gates_unitary takes an ansatz: {gate.name} on wire {gate.wires[0]} reads an input")
            per_wire[gate.wires[0]] = _SINGLE[gate.name](theta[..., gate.index])
        u = layer(torch.stack(per_wire, dim=-3)) @ u
    return u


def value_unitary(theta: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """U(θ) of the value ansatz for a batch of parameter vectors (..., 3d)."""
    return gates_unitary(ansatz_gates("value", n_qubits), theta, n_qubits)


def query_key_unitary(theta: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """U(θ) of the query/key ansatz (..., 3d+1): the value ansatz, a CNOT ring, RY on qubit 0."""
    return gates_unitary(ansatz_gates("query_key", n_qubits), theta, n_qubits)


def observables(unitary: torch.Tensor, wires: list[int]) -> torch.Tensor:
    """M_k = U† Z_k U for each wire k: (..., len(wires), 2^d, 2^d)."""
    n_qubits = int(math.log2(unitary.shape[-1]))
    z = torch.stack([pauli_z(n_qubits, w, unitary.real.dtype) for w in wires]).to(unitary.device)
    u_dagger = unitary.conj().transpose(-2, -1)
    return (u_dagger[..., None, :, :] * z[:, None, :].to(unitary.dtype)) @ unitary[..., None, :, :]


def product_state(x: torch.Tensor, loader: str) -> torch.Tensor:
    """ψ(x) of the data loader for values x (..., d): (..., 2^d) complex.

    Each qubit's loader gates act on its |0⟩ (``hadamard``: RX(x)H|0⟩ = e^{−ix/2}|+⟩;
    ``angle``: RX(x)|0⟩ = (cos x/2, −i sin x/2)); the state is their Kronecker product.
    """
    d = x.shape[-1]
    complex_dtype = _complex(x.dtype)
    zero = torch.zeros(*x.shape[:-1], 2, dtype=complex_dtype, device=x.device)
    zero[..., 0] = 1
    qubits = [zero] * d
    hadamard = torch.tensor([[1, 1], [1, -1]], dtype=complex_dtype, device=x.device) / math.sqrt(2)
    for gate in loader_gates(d, loader):
        q = gate.wires[0]
        matrix = hadamard if gate.name == "h" else _SINGLE[gate.name](x[..., gate.index])
        qubits[q] = (matrix @ qubits[q][..., None])[..., 0]
    state = qubits[0]
    for q in range(1, d):
        state = (state[..., :, None] * qubits[q][..., None, :]).flatten(-2, -1)
    return state


def expectations(state: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Re ψ† M_k ψ for states (..., D) and matrices (K, D, D) broadcast over leading axes: (..., K)."""
    m_psi = torch.einsum("...kij,...j->...ki", matrices, state)
    return torch.einsum("...i,...ki->...k", state.conj(), m_psi).real
