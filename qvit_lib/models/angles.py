"""Starting angles of the circuits' ansätze, drawn as the reference codes draw them (chapters 4 and 9)."""

from __future__ import annotations

import math

import torch

__all__ = ["initial_angles", "projection_initial_angles"]


def initial_angles(n_heads: int, n_angles: int) -> torch.Tensor:
    """Starting angles as the paper's public code draws them: N(0, 1/√P) for P angles.

    (``QViT/circuits.py``, ``QLayer``: ``torch.normal(0, 1/P**.5)``.) Small angles start
    every circuit near the identity after its loader.
    """
    return torch.randn(n_heads, n_angles) / math.sqrt(n_angles)


def projection_initial_angles(n_circuits: int, layers: int, n_qubits: int) -> torch.Tensor:
    """Starting angles as Comajoan Cara et al.'s code draws them: Xavier-normal on (L, d).

    (``quantum_transformers/quantum_layer.py``: ``xavier_normal`` of the (L, d) weights,
    std √(2/(L + d)).) Returned flat per circuit: (n_circuits, L·d), layer-major.
    """
    return torch.randn(n_circuits, layers * n_qubits) * math.sqrt(2 / (layers + n_qubits))
