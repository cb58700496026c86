"""An exact simulator of the attention circuits, fused for training.

A circuit on d_h qubits is a data loader, which makes a *product* state ψ(x) = ⊗_j a(x_j),
followed by a fixed (for given parameters) unitary U(θ) of size 2^d_h. So every expectation
value the attention head needs is a quadratic form

    ⟨Z_k⟩(x) = ψ(x)† M_k ψ(x),    M_k = U(θ)† Z_k U(θ),

with one small Hermitian matrix M_k per circuit and observable, built once per step from the
gates. The first half of this module computes exactly that, in complex arithmetic, as the
textbook reference. The second half, which the models use, writes the same function of x as
a short Fourier series whose coefficients come from M_k: per token and head a handful of
cosines and sines and one small matrix product, instead of one simulator call per token and
circuit (REFERENCE §5). Both are exact: the tests compare them with PennyLane's default.qubit
and lightning.qubit, values and gradients, to 1e-10 in float64.

Qubit 0 is the most significant bit of the state index, as in PennyLane.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from .circuits import ENCODINGS


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
    real = _ry_real(theta)
    return torch.complex(real, torch.zeros_like(real))


def layer(gates: torch.Tensor) -> torch.Tensor:
    """Kronecker product of one gate per qubit: (..., d, 2, 2) → (..., 2^d, 2^d)."""
    out = gates[..., 0, :, :]
    for q in range(1, gates.shape[-3]):
        g = gates[..., q, :, :]
        out = (out[..., :, None, :, None] * g[..., None, :, None, :]).flatten(-4, -3).flatten(-2, -1)
    return out


def cnot_ring_matrix(n_qubits: int, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The permutation matrix of CNOT 0→1, 1→2, …, (d−1)→0 (applied in that order)."""
    dim = 2**n_qubits
    index = torch.arange(dim)
    for control in range(n_qubits):
        target = (control + 1) % n_qubits
        control_bit = (index >> (n_qubits - 1 - control)) & 1
        index = index ^ (control_bit << (n_qubits - 1 - target))
    matrix = torch.zeros(dim, dim, dtype=dtype)
    matrix[index, torch.arange(dim)] = 1  # basis state b goes to index(b)
    return matrix


def pauli_z(n_qubits: int, wire: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Diagonal of Z on ``wire``: +1 where the qubit is 0, −1 where it is 1."""
    index = torch.arange(2**n_qubits)
    return (1 - 2 * ((index >> (n_qubits - 1 - wire)) & 1)).to(dtype)


def value_unitary(theta: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """U(θ) of the value ansatz for a batch of parameter vectors (..., 3d)."""
    d = n_qubits
    ring = cnot_ring_matrix(d, _complex(theta.dtype)).to(theta.device)
    u = layer(rx(theta[..., 0:d]))
    u = layer(ry(theta[..., d : 2 * d])) @ u
    u = ring @ u
    return layer(ry(theta[..., 2 * d : 3 * d])) @ u


def query_key_unitary(theta: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """U(θ) of the query/key ansatz (..., 3d+1): the value ansatz, a CNOT ring, RY on qubit 0."""
    d = n_qubits
    ring = cnot_ring_matrix(d, _complex(theta.dtype)).to(theta.device)
    last = torch.cat([theta[..., 3 * d : 3 * d + 1], torch.zeros_like(theta[..., : d - 1])], dim=-1)  # RY on qubit 0 only
    return layer(ry(last)) @ ring @ value_unitary(theta[..., : 3 * d], d)


def observables(unitary: torch.Tensor, wires: list[int]) -> torch.Tensor:
    """M_k = U† Z_k U for each wire k: (..., len(wires), 2^d, 2^d)."""
    n_qubits = int(math.log2(unitary.shape[-1]))
    z = torch.stack([pauli_z(n_qubits, w, unitary.real.dtype) for w in wires]).to(unitary.device)
    u_dagger = unitary.conj().transpose(-2, -1)
    return (u_dagger[..., None, :, :] * z[:, None, :].to(unitary.dtype)) @ unitary[..., None, :, :]


def product_state(x: torch.Tensor, encoding: str) -> torch.Tensor:
    """ψ(x) of the data loader for values x (..., d): (..., 2^d) complex.

    ``hadamard``: each qubit RX(x)H|0⟩ = e^{−ix/2}|+⟩; ``angle``: RX(x)|0⟩ = (cos x/2, −i sin x/2).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown data loader {encoding!r}; valid: {', '.join(ENCODINGS)}")
    c, s = torch.cos(x / 2), torch.sin(x / 2)
    if encoding == "hadamard":
        # RX(x)|+⟩ = (cos x/2 − i sin x/2)/√2 · (1, 1)
        amp = torch.complex(c, -s) / math.sqrt(2)
        qubits = torch.stack([amp, amp], dim=-1)
    else:
        qubits = torch.stack([torch.complex(c, torch.zeros_like(c)), torch.complex(torch.zeros_like(s), -s)], dim=-1)
    state = qubits[..., 0, :]
    for q in range(1, x.shape[-1]):
        state = (state[..., :, None] * qubits[..., q, None, :]).flatten(-2, -1)
    return state


def expectations(state: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Re ψ† M_k ψ for states (..., D) and matrices (K, D, D) broadcast over leading axes: (..., K)."""
    m_psi = torch.einsum("...kij,...j->...ki", matrices, state)
    return torch.einsum("...i,...ki->...k", state.conj(), m_psi).real


def _circuit_outputs(x: torch.Tensor, theta_qk: torch.Tensor, theta_v: torch.Tensor, encoding: str, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Query/key ⟨Z₀⟩ (n,) and value ⟨Z_j⟩ (n, d) for inputs x (n, d), fused or on a device."""
    d = x.shape[-1]
    if device == "fused":  # the Fourier-series path the models use
        out = head_expectations(x[:, None, :], theta_qk[None], theta_qk[None], theta_v[None], encoding)[:, 0]
        return out[:, 0], out[:, 2:]
    if device == "fused-complex":  # the textbook quadratic form ψ†Mψ
        state = product_state(x, encoding)
        q = expectations(state, observables(query_key_unitary(theta_qk, d), [0]))[..., 0]
        return q, expectations(state, observables(value_unitary(theta_v, d), list(range(d))))
    from .attention import _default_dtype
    from .circuits import make_qnode

    with _default_dtype(x.dtype):
        q = make_qnode("query_key", d, device, encoding)(x, theta_qk)
        v = torch.stack(make_qnode("value", d, device, encoding)(x, theta_v), dim=-1)
    return q.to(x.dtype), v.to(x.dtype)


def compare_with_device(device: str, encoding: str, n_qubits: int = 4, n_inputs: int = 7, dtype: torch.dtype = torch.float64, seed: int = 0) -> dict[str, float]:
    """Largest differences between the fused simulator and a PennyLane device.

    For random inputs and parameters: the values Q and V, and the gradients of a weighted
    sum of them with respect to the inputs x and both parameter vectors.
    """
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n_inputs, n_qubits, generator=g, dtype=dtype) * 4 - 2).requires_grad_()
    theta_qk = (torch.rand(3 * n_qubits + 1, generator=g, dtype=dtype) * 2 * math.pi).requires_grad_()
    theta_v = (torch.rand(3 * n_qubits, generator=g, dtype=dtype) * 2 * math.pi).requires_grad_()
    weights = torch.linspace(0.5, 1.5, n_qubits, dtype=dtype)
    results = []
    for backend in ("fused", device):
        q, v = _circuit_outputs(x, theta_qk, theta_v, encoding, backend)
        grads = torch.autograd.grad(q.sum() + (v * weights).sum(), (x, theta_qk, theta_v))
        results.append([q, v, *grads])
    names = ("Q", "V", "d/dx", "d/dθ_QK", "d/dθ_V")
    return {name: float((a - b).abs().max().detach()) for name, a, b in zip(names, *results)}


# --------------------------------------------------------------------------------------
# The same numbers as a Fourier series — what the models use.
#
# Each loaded qubit has the density matrix ρ_j(x_j) = a(x_j) a(x_j)†, whose entries are
# combinations of 1, e^{+ix_j} and e^{−ix_j} (angle loader: ρ_j = ½(I + cos x_j Z − sin x_j Y));
# for the paper's H·RX loader ρ_j = |+⟩⟨+| does not depend on x_j at all. So
#
#     ⟨Z_k⟩(x) = Tr(M_k ρ(x)) = c_k + Σ_n [a_kn cos(n·x) + b_kn sin(n·x)],
#
# a Fourier series over the frequency vectors n ∈ {−1, 0, 1}^d (one of each ±n pair), with
# coefficients that are fixed linear functions of M_k (Schuld, Sweke & Meyer 2021). For
# d_h = 4 the loader allows 40 frequencies, of which the circuits' light cones reach 33
# (:func:`circuit_frequencies`). The series is evaluated in the product basis of
# :class:`ProductBasis` — the same 1 + 2·33 functions written as products of the single-qubit
# cos x_j and sin x_j — so per token and head it costs 4 cosines, 4 sines, 66 products and one
# matrix product with coefficients shared by all tokens. For the paper's loader there are
# no frequencies at all, only the constants c_k.

# Frequencies each loader puts on one qubit, and ρ_j in that basis: R[a, b, m] is the
# coefficient of e^{i f_m x} in ρ_j[a, b].
LOADER_FREQUENCIES = {"angle": (0, 1, -1), "hadamard": (0,)}
_SINGLE_QUBIT_SPECTRUM = {
    "angle": [[[0.5, 0.25, 0.25], [0, 0.25, -0.25]], [[0, -0.25, 0.25], [0.5, -0.25, -0.25]]],
    "hadamard": [[[0.5], [0.5]], [[0.5], [0.5]]],
}


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown data loader {encoding!r}; valid: {', '.join(ENCODINGS)}")


@functools.lru_cache(maxsize=None)
def _spectrum(n_qubits: int, encoding: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All frequency vectors of the loader (3^d or 1, first axis) and the indices of one of each ±n pair."""
    freqs = torch.tensor(LOADER_FREQUENCIES[encoding])
    grid = torch.cartesian_prod(*[freqs] * n_qubits).reshape(-1, n_qubits)
    nonzero = grid != 0
    first = torch.where(nonzero.any(-1), grid.gather(1, nonzero.int().argmax(-1, keepdim=True))[:, 0], 0)
    return grid, torch.nonzero(first > 0)[:, 0]


def loader_frequencies(n_qubits: int, encoding: str) -> torch.Tensor:
    """The frequency vectors n (M, d) of the Fourier series, one of each ±n pair, n ≠ 0.

    40 for the angle loader on 4 qubits, none for the paper's loader.
    """
    _check_encoding(encoding)
    grid, half = _spectrum(n_qubits, encoding)
    return grid[half]


@functools.lru_cache(maxsize=None)
def _spectrum_map(n_qubits: int, encoding: str) -> torch.Tensor:
    """T (D², 3^d or 1) with G[m] = Σ_{b,a} M[b, a] T[(b, a), m] = Σ M[b,a] Π_j R[a_j, b_j, m_j] (float64)."""
    d = n_qubits
    spectrum = torch.tensor(_SINGLE_QUBIT_SPECTRUM[encoding], dtype=torch.float64)
    rows, cols, modes = "abcdefghijklm"[:d], "nopqrstuvwxyz"[:d], "ABCDEFGHIJKLM"[:d]
    equation = ",".join(f"{a}{b}{m}" for a, b, m in zip(rows, cols, modes)) + f"->{cols}{rows}{modes}"
    return torch.einsum(equation, *[spectrum] * d).reshape(4**d, -1)


def _ry_real(theta: torch.Tensor) -> torch.Tensor:
    """RY(θ) as a real (..., 2, 2) rotation."""
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


# The constants below are cached per device (and dtype), so a training step on a GPU copies
# nothing from the host.


@functools.lru_cache(maxsize=None)
def _ring_rows(n_qubits: int, device: torch.device) -> torch.Tensor:
    """Row order with (CNOT ring) @ A == A[rows]: the ring is a permutation of basis states."""
    return cnot_ring_matrix(n_qubits, torch.float64).argmax(dim=1).to(device)


@functools.lru_cache(maxsize=None)
def _kron_entries(n_qubits: int, device: torch.device) -> torch.Tensor:
    """For each qubit j and entry (a, b) of a 2^d × 2^d Kronecker product: 2 a_j + b_j, (d, 4^d)."""
    index = torch.arange(2**n_qubits)
    bits = (index[:, None] >> torch.arange(n_qubits - 1, -1, -1)) & 1  # (D, d), qubit 0 first
    return (2 * bits[:, None, :] + bits[None, :, :]).flatten(0, 1).T.contiguous().to(device)


@functools.lru_cache(maxsize=None)
def _z_diagonals(n_qubits: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The diagonals of Z_0 … Z_{d−1}, (d, 2^d)."""
    return torch.stack([pauli_z(n_qubits, w, dtype) for w in range(n_qubits)]).to(device)


def ry_layers(theta: torch.Tensor) -> torch.Tensor:
    """⊗_j RY(θ_j) for angles (..., d): real (..., 2^d, 2^d).

    Entry (a, b) is Π_j RY(θ_j)[a_j, b_j]: one gather from each qubit's four entries and a
    product over qubits — a handful of tensor operations however many layers are batched.
    """
    d = theta.shape[-1]
    c, s = torch.cos(theta / 2), torch.sin(theta / 2)
    entries = torch.stack([c, -s, s, c], dim=-1)  # RY[0,0], RY[0,1], RY[1,0], RY[1,1] per qubit
    index = _kron_entries(d, theta.device)
    product, *others = entries.gather(-1, index.expand(*theta.shape[:-1], *index.shape)).unbind(-2)  # d × (..., 4^d)
    for factor in others:
        product = product * factor
    return product.unflatten(-1, (2**d, 2**d))


@functools.lru_cache(maxsize=None)
def _coefficient_map(n_qubits: int, encoding: str, keep: str, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The linear map from a circuit's M' (flattened) to its constant and Fourier amplitudes.

    Returns the map (4^d, 1 + M) — column 0 the constant, then 2 G'_n for the kept
    frequencies n (``keep`` "all": :func:`loader_frequencies`; "circuits":
    :func:`circuit_frequencies`) — and those frequency vectors (M, d).
    """
    grid, _ = _spectrum(n_qubits, encoding)
    half = _kept_modes(n_qubits, encoding, keep)
    spectrum = _spectrum_map(n_qubits, encoding)
    zero = int(torch.nonzero((grid == 0).all(-1))[0, 0])
    coefficient_map = torch.cat([spectrum[:, zero : zero + 1], 2 * spectrum[:, half]], dim=1)
    return coefficient_map.to(device, dtype), grid[half].to(device, dtype)


def _circuit_series(
    theta_q: torch.Tensor, theta_k: torch.Tensor, theta_v: torch.Tensor, n_qubits: int, encoding: str, keep: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Constant (H, K), cos and sin coefficients (H, K, M) of the circuits, over the frequencies of ``keep``.

    Two facts make this cheap and real. The ansatz starts with RX(θ₁) on every qubit, and
    RX(θ₁)RX(x) = RX(x + θ₁): the first layer only shifts the input, so mode n picks up the
    phase e^{i n·θ₁}. Everything after it is RY rotations and CNOTs — a real orthogonal O — so
    M' = Oᵀ Z O is real, and so is its spectrum G'_n = Σ M'[b,a] Π_j R[a_j, b_j, n_j]. Then
    a_n = 2 G'_n cos(n·θ₁) and b_n = −2 G'_n sin(n·θ₁).

    O is RY(θ₃)·ring·RY(θ₂) for the value ansatz; the query/key ansatz adds ring, then RY on
    qubit 0. All RY layers of all circuits are built in one :func:`ry_layers` call.
    """
    _check_encoding(encoding)
    d, heads = n_qubits, theta_q.shape[0]
    theta_qk = torch.cat([theta_q, theta_k])  # (2H, 3d+1)
    body = torch.cat([theta_qk[:, d : 3 * d], theta_v[:, d : 3 * d]]).unflatten(-1, (2, d))  # (3H, 2, d): θ₂, θ₃
    second, third = ry_layers(body).unbind(1)  # (3H, D, D) each
    rows = _ring_rows(d, theta_q.device)
    o = third @ second[:, rows]  # RY(θ₃)·ring·RY(θ₂)
    # Query/key: ring, then RY(θ₄) on qubit 0 alone — a 2 × 2 rotation of the first index bit.
    after_ring = o[: 2 * heads, rows].unflatten(1, (2, 2 ** (d - 1)))  # (2H, 2, D/2, D)
    o_query_key = (_ry_real(theta_qk[:, 3 * d]) @ after_ring.flatten(2)).view_as(after_ring).flatten(1, 2)
    o_value = o[2 * heads :]
    z = _z_diagonals(d, o.dtype, o.device)
    m_query_key = (o_query_key.transpose(-2, -1) * z[0]) @ o_query_key  # (2H, D, D)
    m_value = (o_value.transpose(-2, -1)[:, None] * z[:, None, :]) @ o_value[:, None]  # (H, d, D, D)
    m = torch.cat([m_query_key.unflatten(0, (2, heads)).transpose(0, 1), m_value], dim=1)  # (H, K, D, D)
    coefficient_map, frequencies = _coefficient_map(d, encoding, keep, m.dtype, m.device)
    g = m.flatten(-2) @ coefficient_map  # (H, K, 1 + M)
    first_rx = torch.cat([theta_qk[:, :d].unflatten(0, (2, heads)).transpose(0, 1), theta_v[:, None, :d].expand(heads, d, d)], dim=1)  # (H, K, d)
    phase = first_rx @ frequencies.T  # (H, K, M)
    amplitude = g[..., 1:]
    return g[..., 0], amplitude * torch.cos(phase), -amplitude * torch.sin(phase)


def circuit_fourier_coefficients(
    theta_q: torch.Tensor, theta_k: torch.Tensor, theta_v: torch.Tensor, n_qubits: int, encoding: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fourier coefficients of Q = ⟨Z₀⟩, K = ⟨Z₀⟩ and V = (⟨Z_j⟩)_j as functions of a head's input x.

    For parameter vectors (H, ·): constant (H, K), cos and sin coefficients (H, K, M), with
    K = 2 + d outputs and the M frequencies of :func:`loader_frequencies` (how: :func:`_circuit_series`).
    """
    return _circuit_series(theta_q, theta_k, theta_v, n_qubits, encoding, "all")


@functools.lru_cache(maxsize=None)
def circuit_frequencies(n_qubits: int, encoding: str) -> torch.Tensor:
    """Indices (into :func:`loader_frequencies`) of the frequencies the circuits can use.

    The circuits' light cones leave some coefficients zero for every θ: with 4 qubits, Q and K
    use 31 of the 40 frequencies and the four ⟨Z_j⟩ of V together 26, 33 in all; 7 are never
    used. Found once by evaluating the coefficients at random parameters in float64 (a
    coefficient that vanishes identically stays below 1e-12; any other is nonzero almost surely).
    """
    if len(loader_frequencies(n_qubits, encoding)) == 0:
        return torch.zeros(0, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    draw = lambda n: torch.rand(3, n, generator=generator, dtype=torch.float64) * 2 * math.pi  # noqa: E731
    _, cos_coeffs, sin_coeffs = circuit_fourier_coefficients(draw(3 * n_qubits + 1), draw(3 * n_qubits + 1), draw(3 * n_qubits), n_qubits, encoding)
    used = (cos_coeffs.abs() + sin_coeffs.abs()).amax(dim=(0, 1)) > 1e-12  # (M,)
    return torch.nonzero(used)[:, 0]


class ProductBasis(NamedTuple):
    """Products of the single-qubit cos x_j and sin x_j that span a set of Fourier modes.

    By the angle-addition formulas, cos(n·x) and sin(n·x) are sums of products of cos x_j and
    sin x_j over the qubits j with n_j ≠ 0 — the *support* of n. For the angle loader these
    products are, up to sign, the expectation values of the Pauli strings in {I, Z, Y}^d on the
    loaded state, since ρ_j = ½(I + cos x_j Z − sin x_j Y). The features are grouped by support:
    feature 0 is the constant 1, then for each support S (in ``supports``, every one after its
    prefix S without its last qubit) the 2^|S| products ⊗_{j∈S} (cos x_j, sin x_j), starting at
    ``offsets``. Each group is one multiplication of its prefix by one qubit's (cos, sin), so
    the series needs d cosines and d sines per token and head, not one per frequency.
    """

    supports: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    size: int


@functools.lru_cache(maxsize=None)
def product_basis(frequencies: tuple[tuple[int, ...], ...]) -> tuple[ProductBasis, torch.Tensor]:
    """The product basis of some frequency vectors n (each with entries −1, 0, 1), and the map L.

    L (1 + 2M, size), float64, gives the Fourier features (1, cos n_m·x, sin n_m·x) as L times
    the product features: cos(n·x) + i sin(n·x) = Π_{j∈S} (cos x_j + i n_j sin x_j), so the
    product with sines on the qubits T ⊆ S enters with i^|T| Π_{j∈T} n_j — real part for the
    cosine, imaginary part for the sine. Every entry of L is 0 or ±1.
    """
    used = {tuple(j for j, n in enumerate(f) if n) for f in frequencies}
    closed = set(used)
    for support in used:  # every prefix of a group is built first (single qubits need none)
        closed.update(support[:length] for length in range(2, len(support)))
    supports = tuple(sorted(closed, key=lambda s: (len(s), s)))
    offsets, size = [], 1
    for support in supports:
        offsets.append(size)
        size += 2 ** len(support)
    basis = ProductBasis(supports, tuple(offsets), size)
    m = len(frequencies)
    fourier_from_products = torch.zeros(1 + 2 * m, size, dtype=torch.float64)
    fourier_from_products[0, 0] = 1
    for row, frequency in enumerate(frequencies):
        support = tuple(j for j, n in enumerate(frequency) if n)
        offset = offsets[supports.index(support)]
        for choice in range(2 ** len(support)):  # bit i (most significant first): sine on support[i]
            sines = [j for i, j in enumerate(support) if choice >> (len(support) - 1 - i) & 1]
            sign = math.prod(frequency[j] for j in sines)
            fourier_from_products[1 + row, offset + choice] = (1, 0, -1, 0)[len(sines) % 4] * sign
            fourier_from_products[1 + m + row, offset + choice] = (0, 1, 0, -1)[len(sines) % 4] * sign
    return basis, fourier_from_products


class SeriesWeights(NamedTuple):
    """A Fourier series c_k + Σ_n a_kn cos(n·x) + b_kn sin(n·x), laid out for evaluation.

    ``rows`` (H, K·(1 + d), ``basis.size``): the K outputs, then the rows of their derivatives
    ∂f_k/∂x_j, each written over the features of :class:`ProductBasis` ``basis``. The
    derivatives are Fourier series in the same modes (∂/∂x_j [a cos(n·x) + b sin(n·x)] =
    n_j (b cos − a sin)), so one product with the features gives the outputs and their Jacobian.
    """

    rows: torch.Tensor
    n_outputs: int
    basis: ProductBasis


def series_weights(
    constant: torch.Tensor, cos_coeffs: torch.Tensor, sin_coeffs: torch.Tensor, n_qubits: int, encoding: str, keep: str = "circuits"
) -> SeriesWeights:
    """Arrange coefficients (H, K) and (H, K, M) over :func:`loader_frequencies` for evaluation.

    ``keep``: "circuits" keeps only :func:`circuit_frequencies` (right for the coefficients of
    :func:`circuit_fourier_coefficients`, K = 2 + d), "all" every frequency (any coefficients).
    """
    if keep not in ("circuits", "all"):
        raise ValueError(f"unknown keep {keep!r}; valid: circuits, all")
    if keep == "circuits":
        order = circuit_frequencies(n_qubits, encoding).to(cos_coeffs.device)
        cos_coeffs, sin_coeffs = cos_coeffs[..., order], sin_coeffs[..., order]
    return _arrange(constant, cos_coeffs, sin_coeffs, _kept_frequencies(n_qubits, encoding, keep), n_qubits)


def _kept_modes(n_qubits: int, encoding: str, keep: str) -> torch.Tensor:
    """Indices into the loader's frequency grid of the modes ``keep`` ("all" or "circuits") evaluates."""
    half = _spectrum(n_qubits, encoding)[1]
    return half[circuit_frequencies(n_qubits, encoding)] if keep == "circuits" else half


@functools.lru_cache(maxsize=None)
def _kept_frequencies(n_qubits: int, encoding: str, keep: str) -> tuple[tuple[int, ...], ...]:
    """The frequency vectors of ``keep`` as plain integers, in series order."""
    return tuple(map(tuple, _spectrum(n_qubits, encoding)[0][_kept_modes(n_qubits, encoding, keep)].tolist()))


@functools.lru_cache(maxsize=None)
def _row_map(frequencies: tuple[tuple[int, ...], ...], n_qubits: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The fixed map from an output's coefficients (c | a | b) to its rows in the product basis.

    (1 + 2M, (1 + d)·size): the output's own row, then its derivative ∂/∂x_j for each qubit j,
    whose coefficients are (0 | n_j b | −n_j a).
    """
    basis, fourier_from_products = product_basis(frequencies)
    n = torch.tensor(frequencies, dtype=torch.float64).reshape(len(frequencies), n_qubits).T  # (d, M)
    m = n.shape[1]
    maps = [fourier_from_products]
    for n_j in n:
        derivative = torch.zeros(1 + 2 * m, 1 + 2 * m, dtype=torch.float64)
        derivative[1 + m :, 1 : 1 + m] = torch.diag(n_j)  # b_n → n_j b_n on cos(n·x)
        derivative[1 : 1 + m, 1 + m :] = -torch.diag(n_j)  # a_n → −n_j a_n on sin(n·x)
        maps.append(derivative @ fourier_from_products)
    return torch.cat(maps, dim=1).to(device, dtype)


def _arrange(
    constant: torch.Tensor, cos_coeffs: torch.Tensor, sin_coeffs: torch.Tensor, frequencies: tuple[tuple[int, ...], ...], n_qubits: int
) -> SeriesWeights:
    """The K output rows, then the K·d derivative rows (k, j), over the product basis of ``frequencies``."""
    basis = product_basis(frequencies)[0]
    coefficients = torch.cat([constant[..., None], cos_coeffs, sin_coeffs], dim=-1)  # (H, K, 1 + 2M)
    rows = (coefficients @ _row_map(frequencies, n_qubits, coefficients.dtype, coefficients.device)).unflatten(-1, (-1, basis.size))  # (H, K, 1 + d, size)
    return SeriesWeights(torch.cat([rows[:, :, 0], rows[:, :, 1:].flatten(1, 2)], dim=1), constant.shape[-1], basis)


def layered_series_weights(thetas: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], n_qubits: int, encoding: str) -> list[SeriesWeights]:
    """The circuits' series weights for several layers at once.

    ``thetas`` holds each layer's (θ_Q, θ_K, θ_V). Building weights is many tiny tensor
    operations whose cost is per call, not per head; stacking the heads of all layers makes
    one round of them (and of their backward) instead of one per layer.
    """
    sizes = [theta_q.shape[0] for theta_q, _, _ in thetas]
    stacked = [torch.cat(parts) for parts in zip(*thetas)]
    constant, cos_coeffs, sin_coeffs = _circuit_series(*stacked, n_qubits, encoding, "circuits")
    weights = _arrange(constant, cos_coeffs, sin_coeffs, _kept_frequencies(n_qubits, encoding, "circuits"), n_qubits)
    return [SeriesWeights(rows, weights.n_outputs, weights.basis) for rows in weights.rows.split(sizes)]


def _tokens_last(x: torch.Tensor) -> torch.Tensor:
    """x (T, C) transposed into a contiguous (C, T).

    On a CPU as the product with the identity: exact for finite entries (each output is one
    entry times 1 plus zeros), and the matrix library transposes such a long, thin matrix
    several times faster than PyTorch's strided copy. On a GPU, where a matrix product might
    run in reduced precision (TF32), a plain copy.
    """
    if x.device.type == "cpu":
        return torch.mm(torch.eye(x.shape[1], dtype=x.dtype), x.T)
    return x.T.contiguous()


def product_features(x: torch.Tensor, basis: ProductBasis) -> torch.Tensor:
    """The features of ``basis`` for tokens x (T, H, d): (H, basis.size, T), tokens last."""
    tokens, heads, d = x.shape
    angles = _tokens_last(x.reshape(tokens, heads * d)).view(heads, d, tokens)
    trig = x.new_empty(heads, d, 2, tokens)  # (cos x_j, sin x_j)
    torch.cos(angles, out=trig[:, :, 0])
    torch.sin(angles, out=trig[:, :, 1])
    features = x.new_empty(heads, basis.size, tokens)
    features[:, 0] = 1
    start = dict(zip(basis.supports, basis.offsets))
    for support, offset in zip(basis.supports, basis.offsets):
        size = 2 ** len(support)
        if len(support) == 1:
            features[:, offset : offset + 2] = trig[:, support[0]]
            continue
        prefix = support[:-1]
        prefix_features = trig[:, prefix[0]] if len(prefix) == 1 else features[:, start[prefix] : start[prefix] + size // 2]
        torch.mul(prefix_features[:, :, None], trig[:, support[-1], None], out=features[:, offset : offset + size].view(heads, size // 2, 2, tokens))
    return features


class _FourierSeries(torch.autograd.Function):
    """Evaluate :class:`SeriesWeights` for tokens x (T, H, d): outputs (H, K, T), tokens last.

    Tokens last makes every step a long contiguous row: d cosines and d sines per head, the
    product features (:func:`product_features`), and one batched product W·F. That product
    yields each output *and* its Jacobian ∂f_k/∂x_j (the derivative rows of the weights), so
    the backward contracts the Jacobian with the incoming gradient and makes one product
    g Fᵀ for all coefficients. The derivative rows get no gradient: the outputs do not
    depend on them.
    """

    @staticmethod
    def forward(ctx, x, rows, k, basis):  # type: ignore[override]
        tokens, heads, d = x.shape
        if not basis.supports:  # a loader without frequencies: the output ignores x
            ctx.blind, ctx.x_shape = True, x.shape
            return rows[:, :k, :1].expand(heads, k, tokens).contiguous()
        ctx.blind = False
        features = product_features(x, basis)
        result = torch.bmm(rows, features)  # (H, K(1+d), T): outputs, then their Jacobian
        ctx.save_for_backward(features, result)
        ctx.k, ctx.d = k, d
        return result[:, :k]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        if ctx.blind:
            heads, k = grad.shape[:2]
            grad_rows = torch.cat([grad.sum(-1, keepdim=True), grad.new_zeros(heads, k * ctx.x_shape[-1], 1)], dim=1)
            return grad.new_zeros(ctx.x_shape), grad_rows, None, None
        features, result = ctx.saved_tensors
        k, d = ctx.k, ctx.d
        heads, size, tokens = features.shape
        grad = grad.contiguous()
        jacobian = result[:, k:].view(heads, k, d, tokens)
        grad_x = jacobian[:, 0] * grad[:, :1]  # (H, d, T) = Σ_k ∂f_k/∂x · g_k, without a (K, d, T) temporary
        for output in range(1, k):
            grad_x.addcmul_(jacobian[:, output], grad[:, output : output + 1])
        grad_outputs = torch.bmm(grad, features.transpose(1, 2))  # (H, K, size)
        grad_rows = torch.cat([grad_outputs, grad_outputs.new_zeros(heads, k * d, size)], dim=1)
        return grad_x.permute(2, 0, 1), grad_rows, None, None


SERIES_CHUNK_TOKENS = 16_384  # a batch of 512 events of 32 tokens: one chunk


def evaluate_series(x: torch.Tensor, weights: SeriesWeights, chunk_tokens: int = SERIES_CHUNK_TOKENS) -> torch.Tensor:
    """The series of ``weights`` at inputs x (..., H, d): (..., H, K).

    Tokens go through in chunks of ``chunk_tokens``: a chunk's features and products (about
    17 MB at 16 384 tokens and four heads) stay in the processor's cache between one
    operation and the next; the whole of a large batch would not.
    """
    heads, d = x.shape[-2:]
    k = weights.n_outputs
    outs = [_FourierSeries.apply(chunk, *weights) for chunk in x.reshape(-1, heads, d).split(chunk_tokens)]
    out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)  # (H, K, T)
    return out.permute(2, 0, 1).reshape(*x.shape[:-1], k)


def fourier_series(
    x: torch.Tensor,
    constant: torch.Tensor,
    cos_coeffs: torch.Tensor,
    sin_coeffs: torch.Tensor,
    encoding: str,
    keep: str = "circuits",
) -> torch.Tensor:
    """Evaluate c_k + Σ_n a_kn cos(n·x) + b_kn sin(n·x) for inputs x (..., H, d): (..., H, K).

    Coefficients over :func:`loader_frequencies`; ``keep`` as in :func:`series_weights`.
    """
    return evaluate_series(x, series_weights(constant, cos_coeffs, sin_coeffs, x.shape[-1], encoding, keep))


# --------------------------------------------------------------------------------------
# For many qubits per head the Fourier series grows as 3^d and the quadratic form only as
# 4^d·(2 + d)/2^d: from d_h = 5 on, evaluating r(x)ᵀ A_k r(x) directly is cheaper. Both
# loaders give ψ(x) = (global phase) · P · r(x) with a real product vector r(x) and fixed
# phases P, so A_k = Re(P† M_k P) is a real symmetric matrix.


def loader_amplitudes(x: torch.Tensor, encoding: str) -> torch.Tensor:
    """The real vector r(x) (..., 2^d) of the data loader's state, phases taken out."""
    _check_encoding(encoding)
    d = x.shape[-1]
    if encoding == "hadamard":  # e^{−iΣx/2}|+⟩^{⊗d}: no dependence on x at all
        # 0·x keeps x in the autograd graph, so its gradient is an exact zero, not an error.
        return (0 * x[..., :1] + 2 ** (-d / 2)).expand(*x.shape[:-1], 2**d)
    qubits = torch.stack([torch.cos(x / 2), torch.sin(x / 2)], dim=-1)  # (..., d, 2)
    r = qubits[..., 0, :]
    for q in range(1, d):
        r = (r[..., :, None] * qubits[..., q, None, :]).flatten(-2, -1)
    return r


def loader_phases(n_qubits: int, encoding: str, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The fixed phases P (2^d,): (−i)^{popcount b} for ``angle``, 1 for ``hadamard``."""
    if encoding == "hadamard":
        return torch.ones(2**n_qubits, dtype=dtype)
    popcount = torch.tensor([bin(b).count("1") for b in range(2**n_qubits)])
    return torch.tensor([1, -1j, -1, 1j], dtype=dtype)[popcount % 4]


def real_observables(matrices: torch.Tensor, encoding: str) -> torch.Tensor:
    """A_k = Re(P† M_k P) for Hermitian M_k (..., K, D, D): real symmetric (..., K, D, D)."""
    n_qubits = int(math.log2(matrices.shape[-1]))
    phases = loader_phases(n_qubits, encoding, matrices.dtype).to(matrices.device)
    return (phases.conj()[:, None] * matrices * phases[None, :]).real


def quadratic_forms(r: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """rᵀ A_k r for r (N, H, D) and A (H, K, D, D): (N, H, K), one batched matmul per head."""
    n, heads, dim = r.shape
    k = a.shape[1]
    by_head = r.transpose(0, 1)  # (H, N, D)
    ar = torch.bmm(by_head, a.permute(0, 2, 1, 3).reshape(heads, dim, k * dim))  # (H, N, K·D)
    return (ar.view(heads, n, k, dim) * by_head[:, :, None, :]).sum(-1).permute(1, 0, 2)


def fourier_is_cheaper(n_qubits: int, encoding: str) -> bool:
    """Fewer numbers per token and head with the Fourier series than with the quadratic form."""
    n_features = 2 * len(_spectrum(n_qubits, encoding)[1])
    return n_features <= 2**n_qubits * (2 + n_qubits)


def head_expectations(
    heads: torch.Tensor,
    theta_q: torch.Tensor,
    theta_k: torch.Tensor,
    theta_v: torch.Tensor,
    encoding: str,
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
    if method == "fourier" or (method == "auto" and fourier_is_cheaper(d, encoding)):
        if series is None:
            series = layered_series_weights([(theta_q, theta_k, theta_v)], d, encoding)[0]
        return evaluate_series(heads, series)
    query_key = observables(query_key_unitary(torch.cat([theta_q, theta_k]), d), [0])  # (2H, 1, D, D)
    matrices = torch.cat([*query_key.chunk(2), observables(value_unitary(theta_v, d), list(range(d)))], dim=1)
    r = loader_amplitudes(heads, encoding)
    flat = r.reshape(-1, *r.shape[-2:])
    return quadratic_forms(flat, real_observables(matrices, encoding)).reshape(*heads.shape[:-1], 2 + d)
