"""Self-attention from scratch, and the multi-head layer of the classical ViT.

The first functions are the textbook forms that chapter 2 builds up — one query at a time,
a whole sequence as a matrix product, several heads by splitting columns — kept here so
that tests can check them against each other and against PyTorch's fused kernel. The
module :class:`ClassicalMultiHeadAttention` is the stacked form the models use: all heads
of all tokens of a batch in a few tensor contractions.

Notation follows the paper (eq. 1–2): a token matrix X (n × d_t) is split by columns into
n_h blocks x_i (n × d_h); head i has its own W_Q, W_K, W_V ∈ R^{d_h×d_h}, no bias, and
computes softmax(Q Kᵀ/√d_h) V. (The paper writes the product as (x W_K)(x W_Q)ᵀ, the same
computation with the two weight names swapped.)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from qvit_lib.core.errors import ConfigError
from qvit_lib.models.angles import initial_angles, projection_initial_angles
from qvit_lib.models.tiny_attention import tiny_attention
from qvit_lib.quantum.ansatz import (
    check_heads,
    check_loader,
    check_qubits,
    query_key_parameter_count,
    value_parameter_count,
)
from qvit_lib.quantum.device.noise import head_outputs
from qvit_lib.quantum.exact import fourier_is_cheaper, head_expectations, layered_series_weights
from qvit_lib.quantum.exact.pauli import pauli_expectations, projection_circuit, term_count
from qvit_lib.quantum.tensorcircuit_backend import BACKEND as TENSORCIRCUIT
from qvit_lib.quantum.tensorcircuit_backend import make_tensorcircuit_function

if TYPE_CHECKING:
    from qvit_lib.quantum.device.noise import Execution
    from qvit_lib.quantum.exact import SeriesWeights


__all__ = [
    "softmax",
    "attend_one_query",
    "attention_loop",
    "attention_matrix",
    "multi_head_loop",
    "multi_head_stacked",
    "fast_attention",
    "ClassicalMultiHeadAttention",
    "HybridMultiHeadAttention",
    "QuantumProjectionAttention",
    "shared_series_weights",
    "input_sensitivity",
]


def softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, written out: exp(s − max) / Σ exp(s − max)."""
    shifted = torch.exp(scores - scores.max(dim=-1, keepdim=True).values)
    return shifted / shifted.sum(dim=-1, keepdim=True)


def attend_one_query(
    query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One query q against n keys and values: weights softmax(q·k_j/√d), output Σ_j w_j v_j."""
    scores = torch.stack([query @ key for key in keys]) / math.sqrt(query.shape[-1])
    weights = softmax(scores)
    return sum(w * v for w, v in zip(weights, values)), weights


def attention_loop(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Every query of a sequence in turn: the loop form, (n, d) → (n, d_v)."""
    return torch.stack([attend_one_query(q, keys, values)[0] for q in queries])


def attention_matrix(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same for all queries at once: softmax(Q Kᵀ/√d) V, on any leading batch axes."""
    weights = softmax(queries @ keys.transpose(-2, -1) / math.sqrt(queries.shape[-1]))
    return weights @ values, weights


def multi_head_loop(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor) -> torch.Tensor:
    """Multi-head attention by hand: split x (n, d_t) into n_h column blocks, attend, concatenate.

    ``w_q``, ``w_k``, ``w_v`` are (n_h, d_h, d_h), one matrix per head.
    """
    n_heads, d_head, _ = w_q.shape
    outputs = []
    for h in range(n_heads):
        block = x[:, h * d_head : (h + 1) * d_head]
        outputs.append(attention_loop(block @ w_q[h], block @ w_k[h], block @ w_v[h]))
    return torch.cat(outputs, dim=-1)


def multi_head_stacked(
    x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """All heads and all tokens of a batch at once: x (..., n, d_t) → output, weights (..., n_h, n, n)."""
    n_heads, d_head, _ = w_q.shape
    heads = x.unflatten(-1, (n_heads, d_head))  # (..., n, n_h, d_h)
    q = torch.einsum("...nhi,hij->...hnj", heads, w_q)
    k = torch.einsum("...nhi,hij->...hnj", heads, w_k)
    v = torch.einsum("...nhi,hij->...hnj", heads, w_v)
    out, weights = attention_matrix(q, k, v)  # (..., n_h, n, d_h)
    return out.transpose(-3, -2).flatten(-2), weights


def fast_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, need_weights: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q kᵀ · scale) v with a fused kernel — what the models train with.

    The same numbers as :func:`attention_matrix` (tests check it), several times faster: the
    C++ kernel for tiny heads where this machine has a compiler, else PyTorch's
    (:func:`~qvit_lib.models.tiny_attention.tiny_attention`). The weights are formed
    explicitly only when asked for.
    """
    if need_weights:
        weights = torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1)
        return weights @ v, weights
    return tiny_attention(q, k, v, scale), None


class ClassicalMultiHeadAttention(nn.Module):
    """The classical ViT's multi-head attention: per-head W_Q, W_K, W_V ∈ R^{d_h×d_h}, no bias.

    3·n_h·d_h² parameters. ``forward`` returns the output (B, n, d_t) and, when asked, the
    attention weights (B, n_h, n, n).
    """

    def __init__(self, d_token: int, n_heads: int) -> None:
        super().__init__()
        d_head = check_heads(d_token, n_heads)
        bound = 1 / math.sqrt(d_head)  # as nn.Linear initialises a d_h → d_h map
        self.w_q = nn.Parameter(torch.empty(n_heads, d_head, d_head).uniform_(-bound, bound))
        self.w_k = nn.Parameter(torch.empty(n_heads, d_head, d_head).uniform_(-bound, bound))
        self.w_v = nn.Parameter(torch.empty(n_heads, d_head, d_head).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        n_heads, d_head, _ = self.w_q.shape
        # Every head's W_Q, W_K, W_V as one block-diagonal (d_t, 3·d_t) matrix: one matrix
        # product for all projections of all tokens, where one per head and kind (4 × 4 on
        # tens of thousands of rows) leaves the matrix library idle. The same numbers.
        w = torch.cat([torch.block_diag(*w) for w in (self.w_q, self.w_k, self.w_v)], dim=1)
        qkv = (x @ w).unflatten(-1, (3, n_heads, d_head))  # (..., n, 3, n_h, d_h)
        q, k, v = qkv.movedim(-4, -2).unbind(-4)  # (..., n_h, n, d_h) each
        out, weights = fast_attention(q, k, v, 1 / math.sqrt(d_head), need_weights)
        return out.transpose(-3, -2).flatten(-2), weights


class HybridMultiHeadAttention(nn.Module):
    """The paper's hybrid attention (eq. 3–8): each head's Q, K and V come from circuits.

    For head h and token i, with x_i the head's d_h values: Q_i = ⟨Z₀⟩ of the query circuit,
    K_i = ⟨Z₀⟩ of the key circuit, V_i = (⟨Z_j⟩)_j of the value circuit; then
    A_ij = −(Q_i − K_j)² and the output is softmax(A/√d_h) V. Parameters per head:
    2·(3·d_h + 1) + 3·d_h = 9·d_h + 2.

    ``loader`` is the data loader: "hadamard" (the paper, blind to its input) or "angle".
    ``backend`` "fused" uses the exact torch simulator (:mod:`qvit_lib.quantum.exact`);
    "tensorcircuit" runs the circuits as the paper's public code does (TensorCircuit and JAX,
    :mod:`qvit_lib.quantum.tensorcircuit_backend`, the optional extra ``peers``); any other
    value is a PennyLane device name and runs the QNodes there, slowly. :meth:`run_as`
    makes the fused circuits return what a device would: shot estimates, gate noise and
    readout errors (:mod:`qvit_lib.quantum.device.noise`, chapter 10).
    """

    execution: Execution | None = None  # None: exact expectations
    generator: torch.Generator | None = None  # draws the shots

    def __init__(self, d_token: int, n_heads: int, loader: str = "hadamard", backend: str = "fused") -> None:
        super().__init__()
        self.n_heads, self.d_head = n_heads, check_qubits(check_heads(d_token, n_heads))
        self.loader, self.backend = check_loader(loader), backend
        # As the paper's public code starts them: N(0, 1/√P) for a circuit of P angles.
        self.theta_q = nn.Parameter(initial_angles(n_heads, query_key_parameter_count(self.d_head)))
        self.theta_k = nn.Parameter(initial_angles(n_heads, query_key_parameter_count(self.d_head)))
        self.theta_v = nn.Parameter(initial_angles(n_heads, value_parameter_count(self.d_head)))
        self._qnodes: dict[str, object] = {}

    def circuit_outputs(
        self, x: torch.Tensor, series: SeriesWeights | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q (..., n, n_h), K (..., n, n_h) and V (..., n, n_h, d_h) for tokens x (..., n, d_t).

        ``series``: this layer's Fourier-series weights if the model built them for all
        layers at once (:func:`shared_series_weights`); fused backend only.
        """
        heads = x.unflatten(-1, (self.n_heads, self.d_head))
        if self.backend == "fused":
            return self._fused(heads, series)
        return self._on_device(heads)

    def run_as(self, execution: Execution | None, generator: torch.Generator | None = None) -> None:
        """Run the circuits as ``execution`` says (None or exact: the exact simulator)."""
        if execution is not None and not execution.exact and self.backend != "fused":
            raise ConfigError(f"shots and noise are modelled by the fused backend only, not by {self.backend!r}")
        self.execution = None if execution is None or execution.exact else execution
        self.generator = generator

    def _fused(
        self, heads: torch.Tensor, series: SeriesWeights | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:

        if self.execution is None:
            values = head_expectations(heads, self.theta_q, self.theta_k, self.theta_v, self.loader, series=series)
        else:
            angles = (self.theta_q, self.theta_k, self.theta_v)
            values = head_outputs(heads, *angles, self.loader, self.execution, self.generator)
        # Split in the engine's own layout (head, output, tokens): the gradients then come back
        # as one contiguous block instead of three zero-filled copies of every output.
        q, k, v = values.movedim((-2, -1), (0, 1)).split([1, 1, self.d_head], dim=1)
        return q[:, 0].movedim(0, -1), k[:, 0].movedim(0, -1), v.movedim((0, 1), (-2, -1))

    def _on_device(self, heads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # lazy: loads PennyLane; importing this module does not
        from qvit_lib.quantum.qnodes import default_dtype, make_qnode

        if not self._qnodes:
            if self.backend == TENSORCIRCUIT:  # TensorCircuit itself loads when the functions are made
                self._qnodes = {
                    kind: make_tensorcircuit_function(kind, self.d_head, self.loader, heads.dtype)
                    for kind in ("query_key", "value")
                }
            else:
                self._qnodes = {
                    kind: make_qnode(kind, self.d_head, self.backend, self.loader) for kind in ("query_key", "value")
                }
        flat = heads.reshape(-1, self.n_heads, self.d_head)
        q, k, v = [], [], []
        with default_dtype(heads.dtype):
            for h in range(self.n_heads):  # one circuit call per head and role, over every token, as the public code
                q.append(self._qnodes["query_key"](flat[:, h], self.theta_q[h]))
                k.append(self._qnodes["query_key"](flat[:, h], self.theta_k[h]))
                values = self._qnodes["value"](flat[:, h], self.theta_v[h])
                v.append(values if isinstance(values, torch.Tensor) else torch.stack(values, dim=-1))
        shape = heads.shape[:-1]
        return (
            torch.stack(q, -1).reshape(shape).to(heads.dtype),
            torch.stack(k, -1).reshape(shape).to(heads.dtype),
            torch.stack(v, -2).reshape(heads.shape).to(heads.dtype),
        )

    def forward(
        self, x: torch.Tensor, need_weights: bool = False, series: SeriesWeights | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v = self.circuit_outputs(x, series)
        # Heads first; V contiguous in its last axis, or PyTorch falls back from its fused kernel.
        q, k, v = q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-3, -2).contiguous()
        # softmax_j(−(Q_i − K_j)²/√d_h) = softmax_j((2 Q_i K_j − K_j²)/√d_h): the −Q_i² term is the
        # same for every j and cancels. So the scores are a dot product of (2Q_i, 1) with
        # (K_j, −K_j²), and the fused attention kernel of the classical model applies.
        # Zero-padded to d_h, the width of V: PyTorch's fused kernel wants equal widths.
        zeros = [torch.zeros_like(q)] * (self.d_head - 2)
        query = torch.stack([2 * q, torch.ones_like(q), *zeros], dim=-1)
        key = torch.stack([k, -(k**2), *zeros], dim=-1)
        out, weights = fast_attention(query, key, v, 1 / math.sqrt(self.d_head), need_weights)
        return out.transpose(-3, -2).flatten(-2), weights


class QuantumProjectionAttention(nn.Module):
    """Dot-product attention whose projections are circuits (Comajoan Cara et al. 2024).

    Q, K and V of a token, and the output projection of the attended values, each come from
    a circuit on the whole token, one qubit per feature: RX(x_j) embedding, then L layers of
    trainable RX rotations each followed by a CNOT ring (PennyLane's AngleEmbedding and
    BasicEntanglerLayers), measuring ⟨Z_j⟩ on every qubit. The heads split the d_t outputs as
    usual and attend by softmax(Q Kᵀ/√d_h) V. 4·L·d_t parameters; simulated exactly by Pauli
    propagation (:mod:`qvit_lib.quantum.exact.pauli`).
    """

    def __init__(self, d_token: int, n_heads: int, layers: int = 1) -> None:
        super().__init__()

        self.n_heads, self.d_head = n_heads, check_heads(d_token, n_heads)
        check_qubits(d_token, "a quantum projection", "per token (d_t)")
        self.circuit = projection_circuit(d_token, layers)
        try:
            term_count(self.circuit)  # propagation refuses a circuit that is too wide for it
        except ConfigError as err:
            raise ConfigError(f"quantum projections, L = {layers} layers on d_t = {d_token} qubits: {err}") from None
        self.theta_qkv = nn.Parameter(projection_initial_angles(3, layers, d_token))
        self.theta_out = nn.Parameter(projection_initial_angles(1, layers, d_token)[0])

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:

        qkv = pauli_expectations(x, self.theta_qkv, self.circuit)  # (..., n, 3, d_t)
        qkv = qkv.unflatten(-1, (self.n_heads, self.d_head)).movedim(-4, -2)  # (..., 3, n_h, n, d_h)
        q, k, v = qkv.unbind(-4)
        out, weights = fast_attention(q, k, v.contiguous(), 1 / math.sqrt(self.d_head), need_weights)
        return pauli_expectations(out.transpose(-3, -2).flatten(-2), self.theta_out, self.circuit), weights


def shared_series_weights(attentions: list[nn.Module]) -> list[SeriesWeights] | None:
    """Fourier-series weights of every layer's circuits in one batched call, or None.

    Only for a stack of fused hybrid layers where the Fourier series is the method in use;
    the numbers are those each layer would build itself, in a fifth of the small operations.
    """

    if not attentions or not all(isinstance(a, HybridMultiHeadAttention) and a.backend == "fused" for a in attentions):
        return None
    first = attentions[0]
    if any((a.d_head, a.loader) != (first.d_head, first.loader) for a in attentions):
        return None
    if not fourier_is_cheaper(first.d_head, first.loader):
        return None
    return layered_series_weights([(a.theta_q, a.theta_k, a.theta_v) for a in attentions], first.d_head, first.loader)


def input_sensitivity(head: HybridMultiHeadAttention, tokens: torch.Tensor) -> dict[str, float]:
    """How much of its input a hybrid head sees, on tokens (B, n, d_t).

    ``spread``: the largest difference of a query, key or value between tokens of one event;
    ``gradient``: the largest derivative of their sum with respect to any input value. Both
    vanish (to rounding) for the paper's blind H·RX loader, on any backend (chapter 4).
    """
    tokens = tokens.detach().requires_grad_()
    q, k, v = head.circuit_outputs(tokens)
    spread = max(float((t - t[:, :1]).abs().max().detach()) for t in (q, k, v))
    gradient = float(torch.autograd.grad(q.sum() + k.sum() + v.sum(), tokens)[0].abs().max())
    return {"spread": spread, "gradient": gradient}
