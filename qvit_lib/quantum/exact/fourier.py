"""The attention circuits as short Fourier series — what the models train with.

Each loaded qubit has the density matrix ρ_j(x_j) = a(x_j) a(x_j)†, whose entries are
combinations of 1, e^{+ix_j} and e^{−ix_j} (angle loader: ρ_j = ½(I + cos x_j Z − sin x_j Y));
for the paper's H·RX loader ρ_j = |+⟩⟨+| does not depend on x_j at all. So

    ⟨Z_k⟩(x) = Tr(M_k ρ(x)) = c_k + Σ_n [a_kn cos(n·x) + b_kn sin(n·x)],

a Fourier series over the frequency vectors n ∈ {−1, 0, 1}^d (one of each ±n pair), with
coefficients that are fixed linear functions of M_k (Schuld, Sweke & Meyer 2021). For
d_h = 4 the loader allows 40 frequencies, of which the circuits' light cones reach 33
(:func:`circuit_frequencies`). The series is evaluated in the product basis of
:class:`ProductBasis` — the same 1 + 2·33 functions written as products of the single-qubit
cos x_j and sin x_j — so per token and head it costs 4 cosines, 4 sines, 66 products and one
matrix product with coefficients shared by all tokens. For the paper's loader there are
no frequencies at all, only the constants c_k.

Both this form and the quadratic form are exact: the tests compare them with PennyLane's
default.qubit and lightning.qubit, values and gradients, to 1e-10 in float64.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from qvit_lib.quantum.ansatz import check_loader
from qvit_lib.quantum.exact.statevector import cnot_ring_matrix, pauli_z, ry_real

__all__ = [
    "LOADER_FREQUENCIES",
    "frequency_grid",
    "loader_frequencies",
    "ry_layers",
    "circuit_fourier_coefficients",
    "circuit_frequencies",
    "ProductBasis",
    "product_basis",
    "SeriesWeights",
    "series_weights",
    "layered_series_weights",
    "product_features",
    "SERIES_CHUNK_TOKENS",
    "evaluate_series",
    "fourier_series",
]


# Frequencies each loader puts on one qubit, and ρ_j in that basis: R[a, b, m] is the
# coefficient of e^{i f_m x} in ρ_j[a, b].
LOADER_FREQUENCIES = {"angle": (0, 1, -1), "hadamard": (0,)}


_SINGLE_QUBIT_SPECTRUM = {
    "angle": [[[0.5, 0.25, 0.25], [0, 0.25, -0.25]], [[0, -0.25, 0.25], [0.5, -0.25, -0.25]]],
    "hadamard": [[[0.5], [0.5]], [[0.5], [0.5]]],
}


@functools.cache
def frequency_grid(n_qubits: int, loader: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All frequency vectors of the loader (3^d or 1, first axis) and the indices of one of each ±n pair."""
    freqs = torch.tensor(LOADER_FREQUENCIES[loader])
    grid = torch.cartesian_prod(*[freqs] * n_qubits).reshape(-1, n_qubits)
    nonzero = grid != 0
    first = torch.where(nonzero.any(-1), grid.gather(1, nonzero.int().argmax(-1, keepdim=True))[:, 0], 0)
    return grid, torch.nonzero(first > 0)[:, 0]


def loader_frequencies(n_qubits: int, loader: str) -> torch.Tensor:
    """The frequency vectors n (M, d) of the Fourier series, one of each ±n pair, n ≠ 0.

    40 for the angle loader on 4 qubits, none for the paper's loader.
    """
    check_loader(loader)
    grid, half = frequency_grid(n_qubits, loader)
    return grid[half]


@functools.cache
def _spectrum_map(n_qubits: int, loader: str) -> torch.Tensor:
    """T (D², 3^d or 1) with G[m] = Σ_{b,a} M[b, a] T[(b, a), m] = Σ M[b,a] Π_j R[a_j, b_j, m_j] (float64)."""
    d = n_qubits
    spectrum = torch.tensor(_SINGLE_QUBIT_SPECTRUM[loader], dtype=torch.float64)
    rows, cols, modes = "abcdefghijklm"[:d], "nopqrstuvwxyz"[:d], "ABCDEFGHIJKLM"[:d]
    equation = ",".join(f"{a}{b}{m}" for a, b, m in zip(rows, cols, modes)) + f"->{cols}{rows}{modes}"
    return torch.einsum(equation, *[spectrum] * d).reshape(4**d, -1)


# The constants below are cached per device (and dtype), so a training step on a GPU copies
# nothing from the host.


@functools.cache
def _ring_rows(n_qubits: int, device: torch.device) -> torch.Tensor:
    """Row order with (CNOT ring) @ A == A[rows]: the ring is a permutation of basis states."""
    return cnot_ring_matrix(n_qubits, torch.float64).argmax(dim=1).to(device)


@functools.cache
def _kron_entries(n_qubits: int, device: torch.device) -> torch.Tensor:
    """For each qubit j and entry (a, b) of a 2^d × 2^d Kronecker product: 2 a_j + b_j, (d, 4^d)."""
    index = torch.arange(2**n_qubits)
    bits = (index[:, None] >> torch.arange(n_qubits - 1, -1, -1)) & 1  # (D, d), qubit 0 first
    return (2 * bits[:, None, :] + bits[None, :, :]).flatten(0, 1).T.contiguous().to(device)


@functools.cache
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


@functools.cache
def _coefficient_map(
    n_qubits: int, loader: str, keep: str, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The linear map from a circuit's M' (flattened) to its constant and Fourier amplitudes.

    Returns the map (4^d, 1 + M) — column 0 the constant, then 2 G'_n for the kept
    frequencies n (``keep`` "all": :func:`loader_frequencies`; "circuits":
    :func:`circuit_frequencies`) — and those frequency vectors (M, d).
    """
    grid, _ = frequency_grid(n_qubits, loader)
    half = _kept_modes(n_qubits, loader, keep)
    spectrum = _spectrum_map(n_qubits, loader)
    zero = int(torch.nonzero((grid == 0).all(-1))[0, 0])
    coefficient_map = torch.cat([spectrum[:, zero : zero + 1], 2 * spectrum[:, half]], dim=1)
    return coefficient_map.to(device, dtype), grid[half].to(device, dtype)


def _circuit_series(
    theta_q: torch.Tensor, theta_k: torch.Tensor, theta_v: torch.Tensor, n_qubits: int, loader: str, keep: str
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
    check_loader(loader)
    d, heads = n_qubits, theta_q.shape[0]
    theta_qk = torch.cat([theta_q, theta_k])  # (2H, 3d+1)
    body = torch.cat([theta_qk[:, d : 3 * d], theta_v[:, d : 3 * d]]).unflatten(-1, (2, d))  # (3H, 2, d): θ₂, θ₃
    second, third = ry_layers(body).unbind(1)  # (3H, D, D) each
    rows = _ring_rows(d, theta_q.device)
    o = third @ second[:, rows]  # RY(θ₃)·ring·RY(θ₂)
    # Query/key: ring, then RY(θ₄) on qubit 0 alone — a 2 × 2 rotation of the first index bit.
    after_ring = o[: 2 * heads, rows].unflatten(1, (2, 2 ** (d - 1)))  # (2H, 2, D/2, D)
    o_query_key = (ry_real(theta_qk[:, 3 * d]) @ after_ring.flatten(2)).view_as(after_ring).flatten(1, 2)
    o_value = o[2 * heads :]
    z = _z_diagonals(d, o.dtype, o.device)
    m_query_key = (o_query_key.transpose(-2, -1) * z[0]) @ o_query_key  # (2H, D, D)
    m_value = (o_value.transpose(-2, -1)[:, None] * z[:, None, :]) @ o_value[:, None]  # (H, d, D, D)
    m = torch.cat([m_query_key.unflatten(0, (2, heads)).transpose(0, 1), m_value], dim=1)  # (H, K, D, D)
    coefficient_map, frequencies = _coefficient_map(d, loader, keep, m.dtype, m.device)
    g = m.flatten(-2) @ coefficient_map  # (H, K, 1 + M)
    first_rx = torch.cat(
        [theta_qk[:, :d].unflatten(0, (2, heads)).transpose(0, 1), theta_v[:, None, :d].expand(heads, d, d)], dim=1
    )  # (H, K, d)
    phase = first_rx @ frequencies.T  # (H, K, M)
    amplitude = g[..., 1:]
    return g[..., 0], amplitude * torch.cos(phase), -amplitude * torch.sin(phase)


def circuit_fourier_coefficients(
    theta_q: torch.Tensor, theta_k: torch.Tensor, theta_v: torch.Tensor, n_qubits: int, loader: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fourier coefficients of Q = ⟨Z₀⟩, K = ⟨Z₀⟩ and V = (⟨Z_j⟩)_j as functions of a head's input x.

    For parameter vectors (H, ·): constant (H, K), cos and sin coefficients (H, K, M), with
    K = 2 + d outputs and the M frequencies of :func:`loader_frequencies` (how: ``_circuit_series``).
    """
    return _circuit_series(theta_q, theta_k, theta_v, n_qubits, loader, "all")


@functools.cache
def circuit_frequencies(n_qubits: int, loader: str) -> torch.Tensor:
    """Indices (into :func:`loader_frequencies`) of the frequencies the circuits can use.

    The circuits' light cones leave some coefficients zero for every θ: with 4 qubits, Q and K
    use 31 of the 40 frequencies and the four ⟨Z_j⟩ of V together 26, 33 in all; 7 are never
    used. Found once by evaluating the coefficients at random parameters in float64 (a
    coefficient that vanishes identically stays below 1e-12; any other is nonzero almost surely).
    """
    if len(loader_frequencies(n_qubits, loader)) == 0:
        return torch.zeros(0, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    draw = lambda n: torch.rand(3, n, generator=generator, dtype=torch.float64) * 2 * math.pi  # noqa: E731
    _, cos_coeffs, sin_coeffs = circuit_fourier_coefficients(
        draw(3 * n_qubits + 1), draw(3 * n_qubits + 1), draw(3 * n_qubits), n_qubits, loader
    )
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


@functools.cache
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
    constant: torch.Tensor,
    cos_coeffs: torch.Tensor,
    sin_coeffs: torch.Tensor,
    n_qubits: int,
    loader: str,
    keep: str = "circuits",
) -> SeriesWeights:
    """Arrange coefficients (H, K) and (H, K, M) over :func:`loader_frequencies` for evaluation.

    ``keep``: "circuits" keeps only :func:`circuit_frequencies` (right for the coefficients of
    :func:`circuit_fourier_coefficients`, K = 2 + d), "all" every frequency (any coefficients).
    """
    if keep not in ("circuits", "all"):
        raise ValueError(f"unknown keep {keep!r}; valid: circuits, all")
    if keep == "circuits":
        order = circuit_frequencies(n_qubits, loader).to(cos_coeffs.device)
        cos_coeffs, sin_coeffs = cos_coeffs[..., order], sin_coeffs[..., order]
    return _arrange(constant, cos_coeffs, sin_coeffs, _kept_frequencies(n_qubits, loader, keep), n_qubits)


def _kept_modes(n_qubits: int, loader: str, keep: str) -> torch.Tensor:
    """Indices into the loader's frequency grid of the modes ``keep`` ("all" or "circuits") evaluates."""
    half = frequency_grid(n_qubits, loader)[1]
    return half[circuit_frequencies(n_qubits, loader)] if keep == "circuits" else half


@functools.cache
def _kept_frequencies(n_qubits: int, loader: str, keep: str) -> tuple[tuple[int, ...], ...]:
    """The frequency vectors of ``keep`` as plain integers, in series order."""
    return tuple(map(tuple, frequency_grid(n_qubits, loader)[0][_kept_modes(n_qubits, loader, keep)].tolist()))


@functools.cache
def _row_map(
    frequencies: tuple[tuple[int, ...], ...], n_qubits: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
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
    constant: torch.Tensor,
    cos_coeffs: torch.Tensor,
    sin_coeffs: torch.Tensor,
    frequencies: tuple[tuple[int, ...], ...],
    n_qubits: int,
) -> SeriesWeights:
    """The K output rows, then the K·d derivative rows (k, j), over the product basis of ``frequencies``."""
    basis = product_basis(frequencies)[0]
    coefficients = torch.cat([constant[..., None], cos_coeffs, sin_coeffs], dim=-1)  # (H, K, 1 + 2M)
    rows = (coefficients @ _row_map(frequencies, n_qubits, coefficients.dtype, coefficients.device)).unflatten(
        -1, (-1, basis.size)
    )  # (H, K, 1 + d, size)
    return SeriesWeights(torch.cat([rows[:, :, 0], rows[:, :, 1:].flatten(1, 2)], dim=1), constant.shape[-1], basis)


def layered_series_weights(
    thetas: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], n_qubits: int, loader: str
) -> list[SeriesWeights]:
    """The circuits' series weights for several layers at once.

    ``thetas`` holds each layer's (θ_Q, θ_K, θ_V). Building weights is many tiny tensor
    operations whose cost is per call, not per head; stacking the heads of all layers makes
    one round of them (and of their backward) instead of one per layer.
    """
    sizes = [theta_q.shape[0] for theta_q, _, _ in thetas]
    stacked = [torch.cat(parts) for parts in zip(*thetas)]
    constant, cos_coeffs, sin_coeffs = _circuit_series(*stacked, n_qubits, loader, "circuits")
    weights = _arrange(constant, cos_coeffs, sin_coeffs, _kept_frequencies(n_qubits, loader, "circuits"), n_qubits)
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
        prefix_features = (
            trig[:, prefix[0]] if len(prefix) == 1 else features[:, start[prefix] : start[prefix] + size // 2]
        )
        torch.mul(
            prefix_features[:, :, None],
            trig[:, support[-1], None],
            out=features[:, offset : offset + size].view(heads, size // 2, 2, tokens),
        )
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


SERIES_CHUNK_TOKENS = 16_384  #: a batch of 512 events of 32 tokens: one chunk


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
    loader: str,
    keep: str = "circuits",
) -> torch.Tensor:
    """Evaluate c_k + Σ_n a_kn cos(n·x) + b_kn sin(n·x) for inputs x (..., H, d): (..., H, K).

    Coefficients over :func:`loader_frequencies`; ``keep`` as in :func:`series_weights`.
    """
    return evaluate_series(x, series_weights(constant, cos_coeffs, sin_coeffs, x.shape[-1], loader, keep))
