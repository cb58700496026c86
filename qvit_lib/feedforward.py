"""The encoder layer's feed-forward: the classical MLP, or a circuit on the whole token.

* :func:`mlp` — the paper's Linear(d_t, d_ff), GELU, Linear(d_ff, d_t):
  2·d_ff·d_t + d_ff + d_t parameters;
* :class:`QuantumFeedForward` — the paper's outlook, and its public code's ``hybrid1``
  encoder layer (``QViT/model.py``, ``EncoderLayer_hybrid1.merger``): the value circuit of
  the attention head on d_t qubits, one per feature of the token, whose ⟨Z_j⟩ are the
  output. 3·d_t parameters. Simulated exactly by Pauli propagation
  (:mod:`qvit_lib.fused.pauli`), as a 16-qubit state per token would not fit.
"""

from __future__ import annotations

import torch
from torch import nn

from .ansatz import check_loader, check_qubits, initial_angles, value_parameter_count


def mlp(d_token: int, d_ff: int) -> nn.Module:
    """The classical feed-forward: Linear(d_t, d_ff), GELU, Linear(d_ff, d_t)."""
    return nn.Sequential(nn.Linear(d_token, d_ff), nn.GELU(), nn.Linear(d_ff, d_token))


class QuantumFeedForward(nn.Module):
    """The value circuit on the whole token: x (..., d_t) ↦ (⟨Z_j⟩)_j, 3·d_t angles.

    ``loader`` "hadamard" is the public code's H·RX, which makes the output the same for
    every input (chapter 4's blindness, now in the feed-forward); "angle" is RX alone.
    """

    def __init__(self, d_token: int, loader: str = "hadamard") -> None:
        super().__init__()
        self.d_token = check_qubits(d_token, "the quantum feed-forward", "per token (d_t)")
        self.loader = check_loader(loader)
        # As the public code's QLayer starts its angles: N(0, 1/√P).
        self.theta = nn.Parameter(initial_angles(1, value_parameter_count(d_token))[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .fused.pauli import pauli_expectations, value_circuit

        return pauli_expectations(x, self.theta, value_circuit(self.d_token, self.loader))
