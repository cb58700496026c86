"""The encoder layer's feed-forward: the classical MLP, or a circuit on the whole token.

* :func:`mlp` — the paper's Linear(d_t, d_ff), GELU, Linear(d_ff, d_t):
  2·d_ff·d_t + d_ff + d_t parameters;
* :class:`QuantumFeedForward` — the paper's outlook, and its public code's ``hybrid1``
  encoder layer (``QViT/model.py``, ``EncoderLayer_hybrid1.merger``): the value circuit of
  the attention head on d_t qubits, one per feature of the token, whose ⟨Z_j⟩ are the
  output. 3·d_t parameters. Simulated exactly by Pauli propagation
  (:mod:`qvit_lib.quantum.exact.pauli`), as a 16-qubit state per token would not fit; on the
  device model of chapter 10 (:meth:`QuantumFeedForward.run_as`) with depolarising noise in
  the propagation and shots sampled jointly along the chain (:mod:`qvit_lib.quantum.device.chain`).
"""

from __future__ import annotations

import torch
from torch import nn

from qvit_lib.core.errors import ConfigError
from qvit_lib.models.angles import initial_angles
from qvit_lib.quantum.ansatz import check_loader, check_qubits, value_parameter_count
from qvit_lib.quantum.device.noise import Execution
from qvit_lib.quantum.exact.pauli import pauli_expectations, value_circuit

__all__ = ["mlp", "QuantumFeedForward"]


def mlp(d_token: int, d_ff: int) -> nn.Module:
    """The classical feed-forward: Linear(d_t, d_ff), GELU, Linear(d_ff, d_t)."""
    return nn.Sequential(nn.Linear(d_token, d_ff), nn.GELU(), nn.Linear(d_ff, d_token))


class QuantumFeedForward(nn.Module):
    """The value circuit on the whole token: x (..., d_t) ↦ (⟨Z_j⟩)_j, 3·d_t angles.

    ``loader`` "hadamard" is the public code's H·RX, which makes the output the same for
    every input (chapter 4's blindness, now in the feed-forward); "angle" is RX alone.
    """

    execution: Execution | None = None  # None: exact expectations
    generator: torch.Generator | None = None  # draws the shots

    def __init__(self, d_token: int, loader: str = "hadamard") -> None:
        super().__init__()
        self.d_token = check_qubits(d_token, "the quantum feed-forward", "per token (d_t)")
        self.loader = check_loader(loader)
        # As the public code's QLayer starts its angles: N(0, 1/√P).
        self.theta = nn.Parameter(initial_angles(1, value_parameter_count(d_token))[0])

    def run_as(self, execution: Execution | None, generator: torch.Generator | None = None) -> None:
        """Return what a device would (shots, gate noise, readout error), or exact values (None)."""
        if execution is not None and execution.shots is not None and execution.depolarizing:
            raise ConfigError(
                "the feed-forward circuit's shots are sampled from its pure state: give shots or "
                f"depolarizing, not both (got shots={execution.shots}, depolarizing={execution.depolarizing})"
            )
        self.execution = None if execution is None or execution.exact else execution
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        circuit = value_circuit(self.d_token, self.loader)
        run = self.execution
        if run is None:
            return pauli_expectations(x, self.theta, circuit)
        # With noise: exact noisy expectations; a read bit flips with probability r, so ⟨Z_j⟩ × (1 − 2r).
        exact = pauli_expectations(x, self.theta, circuit, run.depolarizing) * (1 - 2 * run.readout)
        if run.shots is None:
            return exact
        # lazy: loads SciPy; importing this module does not
        from qvit_lib.quantum.device.chain import value_estimates

        with torch.no_grad():
            sampled = value_estimates(x, self.theta, self.loader, run.shots, self.generator, run.readout)
        return exact + (sampled - exact).detach()  # straight through, as the attention heads
