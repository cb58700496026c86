"""What a quantum computer returns instead of exact expectations: shots, gate noise, readout errors.

Every number in chapters 1–9 is an exact ⟨Z⟩. On a device each circuit is run S times
(*shots*) and every run returns one bit string; ⟨Z_j⟩ is estimated by the mean of the S
values ±1 of bit j. This module gives the attention head's circuits on a device model:

* **Gate noise.** A depolarising channel after every gate, on each wire the gate acts on
  (PennyLane's ``DepolarizingChannel(p)``: ρ ↦ (1 − p)ρ + p/3 (XρX + YρY + ZρZ), which
  shrinks a qubit's Bloch vector by λ = 1 − 4p/3).
* **Readout error.** Each measured bit flips with probability r (PennyLane's
  ``default.mixed(readout_prob=r)``); a string Z_S of |S| measured qubits shrinks by (1 − 2r)^|S|.
* **Shots.** The joint distribution of a circuit's bit strings, sampled exactly: a binomial
  for the single measured bit of the query and key circuits, a multinomial (as a chain of
  conditional binomials) over all 2^d bit strings of the value circuit, so that the d
  estimates of one value circuit come from the same runs, correlated as on a device.

How it is computed, exactly and for every token at once. Noise and readout act the same way
on every token, so they are folded into the observables once per step, in the Heisenberg
picture: each Z string Z_S (S a set of qubits) is walked backwards through the ansatz, gate
by gate (O ← G†OG) and channel by channel (the depolarising channel is its own adjoint), and
written in the basis of the 4^d Pauli strings. The loaded state is a product state, and a
loader gate followed by depolarisation only shrinks that qubit's Bloch vector, so

    ⟨Z_S⟩(x) = Σ_P c_{S,P}(θ, p) ∏_k b̃_k[P_k](x_k),   b̃_k = (1, λ^{g_k} ⟨X⟩_k, λ^{g_k} ⟨Y⟩_k, λ^{g_k} ⟨Z⟩_k),

with g_k the number of loader gates on qubit k: per token and head a Kronecker product of
d four-vectors and one matrix product. The probabilities of the bit strings follow from all
⟨Z_S⟩ by a Walsh–Hadamard transform, p(b) = 2^{−d} Σ_S (−1)^{b·S} ⟨Z_S⟩.

The tests compare the exact noisy values with PennyLane's ``default.mixed`` (float64, 1e-10)
and the shot statistics with ``default.qubit`` run with shots.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum.ansatz import check_loader
from qvit_lib.quantum.circuits import ansatz_gates, loader_gates

__all__ = [
    "Execution",
    "EXACT",
    "loader_gate_count",
    "z_subsets",
    "string_coefficients",
    "loaded_features",
    "z_string_expectations",
    "outcome_probabilities",
    "sample_counts",
    "measured_estimates",
    "head_outputs",
]


_LETTERS = ((1, 0), (0, 1)), ((0, 1), (1, 0)), ((0, -1j), (1j, 0)), ((1, 0), (0, -1))  # I, X, Y, Z


@dataclass(frozen=True)
class Execution:
    """How the attention circuits are run: exactly (the default), or as on a device.

    ``shots``: runs per circuit and token (None: exact expectations); ``depolarizing``: the
    strength p of the channel after every gate; ``readout``: the probability r that a
    measured bit flips; ``seed``: the sampling's random generator.
    """

    shots: int | None = None
    depolarizing: float = 0.0
    readout: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shots is not None and (not isinstance(self.shots, int) or self.shots < 1):
            raise ConfigError(f"shots must be a positive whole number or None (exact); got {self.shots!r}")
        if not 0 <= self.depolarizing <= 0.75:
            raise ConfigError(f"depolarizing strength p must lie in [0, 3/4]; got {self.depolarizing}")
        if not 0 <= self.readout <= 0.5:
            raise ConfigError(f"readout error r must lie in [0, 1/2]; got {self.readout}")

    @property
    def exact(self) -> bool:
        """No shots and no noise: the numbers of every earlier chapter."""
        return self.shots is None and self.depolarizing == 0 and self.readout == 0


EXACT = Execution()


def loader_gate_count(loader: str) -> int:
    """Gates of the data loader on each qubit: H and RX(x), or RX(x) alone."""
    return len(loader_gates(1, loader))


def z_subsets(kind: str, n_qubits: int) -> list[tuple[int, ...]]:
    """The Z strings a circuit's measurement needs: ∅ and {0} for query/key, all 2^d sets for value."""
    if kind == "query_key":
        return [(), (0,)]
    return [tuple(q for q in range(n_qubits) if mask >> (n_qubits - 1 - q) & 1) for mask in range(2**n_qubits)]


@functools.lru_cache(maxsize=16)
def _pauli_basis(n_qubits: int) -> torch.Tensor:
    """All 4^d Pauli strings as (4^d, 2^d, 2^d) complex128 matrices; qubit 0 is the leftmost factor."""
    single = torch.tensor(_LETTERS, dtype=torch.complex128)
    out = single
    for _ in range(n_qubits - 1):
        out = torch.einsum("aij,bkl->abikjl", out, single).reshape(out.shape[0] * 4, out.shape[1] * 2, -1)
    return out


def _embed(gate: torch.Tensor, wires: tuple[int, ...], n_qubits: int) -> torch.Tensor:
    """A gate (..., 2^w, 2^w) on ``wires`` as a (..., 2^d, 2^d) matrix."""
    if wires == tuple(range(wires[0], wires[0] + len(wires))):  # contiguous: I ⊗ G ⊗ I
        before, after = 2 ** wires[0], 2 ** (n_qubits - wires[0] - len(wires))
        eye_b = torch.eye(before, dtype=gate.dtype, device=gate.device)
        eye_a = torch.eye(after, dtype=gate.dtype, device=gate.device)
        out = torch.einsum("ij,...kl,mn->...ikmjln", eye_b, gate, eye_a)
        size = before * gate.shape[-1] * after
        return out.reshape(*gate.shape[:-2], size, size)
    # a CNOT that wraps around the ring: a permutation matrix
    dim = 2**n_qubits
    index = torch.arange(dim)
    control, target = wires
    flipped = index ^ (((index >> (n_qubits - 1 - control)) & 1) << (n_qubits - 1 - target))
    matrix = torch.zeros(dim, dim, dtype=gate.dtype, device=gate.device)
    matrix[flipped, index] = 1
    return matrix


def _rotation(axis: str, angle: torch.Tensor) -> torch.Tensor:
    """exp(−i angle P/2) for P = X or Y: (..., 2, 2) complex."""
    c = torch.cos(angle / 2).to(torch.complex128 if angle.dtype == torch.float64 else torch.complex64)
    s = torch.sin(angle / 2).to(c.dtype)
    if axis == "rx":
        rows = [torch.stack([c, -1j * s], -1), torch.stack([-1j * s, c], -1)]
    else:
        rows = [torch.stack([c, -s], -1), torch.stack([s, c], -1)]
    return torch.stack(rows, -2)


_CNOT = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=torch.complex128)


def _depolarize(observable: torch.Tensor, wire: int, p: float, n_qubits: int) -> torch.Tensor:
    """The depolarising channel on one wire, in the Heisenberg picture (it is self-adjoint)."""
    basis = _pauli_basis(1).to(observable.device, observable.dtype)
    out = (1 - p) * observable
    for k in (1, 2, 3):
        pauli = _embed(basis[k], (wire,), n_qubits)
        out = out + p / 3 * pauli @ observable @ pauli
    return out


def string_coefficients(theta: torch.Tensor, kind: str, n_qubits: int, depolarizing: float = 0.0) -> torch.Tensor:
    """c_{S,P}: each needed Z string after the ansatz (with noise), in the Pauli basis.

    ``theta`` (H, P) for H circuits of one kind. Returns (H, K, 4^d) real, K = len(z_subsets).
    """
    d = n_qubits
    complex_dtype = torch.complex128 if theta.dtype == torch.float64 else torch.complex64
    basis = _pauli_basis(d).to(theta.device, complex_dtype)
    z_index = [sum(3 * 4 ** (d - 1 - q) for q in subset) for subset in z_subsets(kind, d)]
    observable = basis[z_index].expand(theta.shape[0], -1, -1, -1)  # (H, K, D, D)
    cnot = _CNOT.to(theta.device, complex_dtype)
    for gate in reversed(ansatz_gates(kind, d)):
        if depolarizing:
            for wire in gate.wires:
                observable = _depolarize(observable, wire, depolarizing, d)
        if gate.name == "cnot":
            matrix = _embed(cnot, gate.wires, d)
        else:
            matrix = _embed(_rotation(gate.name, theta[:, gate.index]), gate.wires, d)[:, None]  # (H, 1, D, D)
        observable = matrix.conj().transpose(-2, -1) @ observable @ matrix
    # c_P = Tr(P O) / 2^d, real for a Hermitian O
    return torch.einsum("pij,hkji->hkp", basis, observable).real / 2**d


_LOADER_LETTERS = {"angle": (0, 2, 3), "hadamard": (0, 1)}  # the Pauli letters a loaded qubit can show: I, Y, Z / I, X


@functools.lru_cache(maxsize=16)
def _kept_strings(n_qubits: int, loader: str) -> torch.Tensor:
    """Indices (in the 4^d basis) of the Pauli strings whose expectation on a loaded state can be nonzero.

    RX(x)|0⟩ has ⟨X⟩ = 0 and |+⟩ has ⟨Y⟩ = ⟨Z⟩ = 0, so 3^d (angle) or 2^d (hadamard) of the
    4^d strings are enough; depolarisation only shrinks the Bloch vector and keeps its zeros.
    """
    letters = _LOADER_LETTERS[check_loader(loader)]
    return torch.tensor(
        [sum(p * 4 ** (n_qubits - 1 - k) for k, p in enumerate(s)) for s in itertools.product(letters, repeat=n_qubits)]
    )


def loaded_features(heads: torch.Tensor, loader: str, depolarizing: float = 0.0) -> torch.Tensor:
    """∏_k b̃_k[P_k] of the loaded product state for the strings of ``_kept_strings``: (..., n_kept).

    b̃_k = (1, λ^g ⟨X⟩_k, λ^g ⟨Y⟩_k, λ^g ⟨Z⟩_k) with the loader's g gates, each followed by the
    channel (λ = 1 − 4p/3); only the letters the loader can show are kept.
    """
    shrink = (1 - 4 * depolarizing / 3) ** loader_gate_count(loader)
    one = torch.ones_like(heads)
    if loader == "angle":  # RX(x)|0⟩: Bloch vector (0, −sin x, cos x); letters I, Y, Z
        qubit = torch.stack([one, -shrink * torch.sin(heads), shrink * torch.cos(heads)], -1)
    else:  # RX(x)|+⟩ = |+⟩ up to a phase: (1, 0, 0) whatever x is; letters I, X
        qubit = torch.stack([one, shrink * one], -1)
    out = qubit[..., 0, :]
    for k in range(1, heads.shape[-1]):
        out = (out[..., :, None] * qubit[..., k, None, :]).flatten(-2)
    return out


def z_string_expectations(
    heads: torch.Tensor, theta: torch.Tensor, kind: str, loader: str, depolarizing: float = 0.0, readout: float = 0.0
) -> torch.Tensor:
    """⟨Z_S⟩ for every Z string of the circuit's measurement, per token and head: (..., H, K).

    ``heads`` (..., H, d) are the heads' slices of the tokens, ``theta`` (H, P) their angles.
    """
    d = heads.shape[-1]
    coefficients = string_coefficients(theta, kind, d, depolarizing)[..., _kept_strings(d, loader).to(theta.device)]
    values = torch.einsum("...hp,hkp->...hk", loaded_features(heads, loader, depolarizing), coefficients)
    if readout:
        weights = torch.tensor([(1 - 2 * readout) ** len(s) for s in z_subsets(kind, d)], dtype=values.dtype)
        values = values * weights.to(values.device)
    return values


@functools.lru_cache(maxsize=16)
def _walsh(n_qubits: int) -> torch.Tensor:
    """(−1)^{b·S}: rows bit strings b, columns subsets S, both in z_subsets' order."""
    subsets = z_subsets("value", n_qubits)
    strings = list(itertools.product((0, 1), repeat=n_qubits))
    return torch.tensor([[(-1) ** sum(b[q] for q in s) for s in subsets] for b in strings], dtype=torch.float64)


def outcome_probabilities(z_strings: torch.Tensor) -> torch.Tensor:
    """p(b) of every bit string from all ⟨Z_S⟩ (..., 2^d): a Walsh–Hadamard transform, clipped at 0."""
    n_qubits = int(math.log2(z_strings.shape[-1]))
    probabilities = z_strings @ _walsh(n_qubits).to(z_strings).T / 2**n_qubits
    probabilities = probabilities.clamp_min(0)  # rounding can leave −1e-17
    return probabilities / probabilities.sum(-1, keepdim=True)


def sample_counts(probabilities: torch.Tensor, shots: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Multinomial counts of ``shots`` runs over the last axis, as a chain of conditional binomials.

    n_1 ~ Bin(S, p_1), n_2 ~ Bin(S − n_1, p_2 / (1 − p_1)), …: exact, and vectorised over
    every token and head (torch.multinomial would draw the shots one by one).
    """
    remaining = torch.full(probabilities.shape[:-1], float(shots), dtype=torch.float64)
    mass = torch.ones(probabilities.shape[:-1], dtype=torch.float64)
    p = probabilities.to(torch.float64).cpu()
    counts = []
    for i in range(p.shape[-1] - 1):
        share = (p[..., i] / mass.clamp_min(1e-300)).clamp(0, 1)
        n = torch.binomial(remaining, share, generator=generator)
        counts.append(n)
        remaining = remaining - n
        mass = mass - p[..., i]
    counts.append(remaining)
    return torch.stack(counts, -1).to(probabilities)


def measured_estimates(
    z_strings: torch.Tensor, kind: str, shots: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shot estimates of the measured ⟨Z⟩: (...,) for query/key (qubit 0), (..., d) for value."""
    if kind == "query_key":  # one bit: P(0) = (1 + ⟨Z₀⟩)/2
        p_zero = ((1 + z_strings[..., 1]) / 2).clamp(0, 1)
        zeros = torch.binomial(
            torch.full(p_zero.shape, float(shots), dtype=torch.float64),
            p_zero.to(torch.float64).cpu(),
            generator=generator,
        )
        return (2 * zeros / shots - 1).to(z_strings)
    n_qubits = int(math.log2(z_strings.shape[-1]))
    counts = sample_counts(outcome_probabilities(z_strings), shots, generator)  # (..., 2^d)
    signs = _walsh(n_qubits)[:, [2 ** (n_qubits - 1 - q) for q in range(n_qubits)]]  # (2^d, d): (−1)^{b_q}
    return counts @ signs.to(counts) / shots


def head_outputs(
    heads: torch.Tensor,
    theta_q: torch.Tensor,
    theta_k: torch.Tensor,
    theta_v: torch.Tensor,
    loader: str,
    execution: Execution,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Q, K and the d values of every token and head as a device would return them: (..., H, 2 + d).

    The layout of :func:`qvit_lib.quantum.exact.heads.head_expectations`. With shots, the values are the
    sampled estimates in the forward pass and the gradient is that of the exact (noisy)
    expectations — a straight-through estimator, as for training with shot noise in the loop.
    """
    d = heads.shape[-1]
    noise = {"depolarizing": execution.depolarizing, "readout": execution.readout}
    q_strings = z_string_expectations(heads, theta_q, "query_key", loader, **noise)
    k_strings = z_string_expectations(heads, theta_k, "query_key", loader, **noise)
    v_strings = z_string_expectations(heads, theta_v, "value", loader, **noise)
    single = [2 ** (d - 1 - q) for q in range(d)]  # the subsets {q} in z_subsets' order
    exact = torch.cat([q_strings[..., 1:2], k_strings[..., 1:2], v_strings[..., single]], -1)
    if execution.shots is None:
        return exact
    with torch.no_grad():
        sampled = torch.cat(
            [
                measured_estimates(q_strings, "query_key", execution.shots, generator)[..., None],
                measured_estimates(k_strings, "query_key", execution.shots, generator)[..., None],
                measured_estimates(v_strings, "value", execution.shots, generator),
            ],
            -1,
        )
    return exact + (sampled - exact).detach()
