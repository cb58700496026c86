"""Explicit Runge–Kutta steps: an encoder layer read as an ODE integrator (chapter 9).

A residual layer x ↦ x + f(x) is one Euler step, of size 1, of dx/dt = f(x). Higher-order
explicit Runge–Kutta methods take the same step with several evaluations of the same f
(the same parameters), after Li et al., "ODE Transformer" (2022), and the RK encoder layers
of the quantum-inspired transformers of Fan et al. (AAAI 2024):

    k_i = f(x + Σ_{j<i} a_ij k_j),      x' = x + Σ_i b_i k_i.

The Butcher tableaus (a, b) below are the textbook ones: Euler (order 1), Heun's method
(2, as in the ODE Transformer), Kutta's third-order method (3) and the classical RK4 (4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qvit_lib.core.errors import ConfigError

if TYPE_CHECKING:  # the step is plain arithmetic: it works on tensors without importing torch
    import torch

__all__ = ["TABLEAUS", "check_order", "runge_kutta_step"]


TABLEAUS: dict[int, tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]] = {
    1: ((), (1.0,)),
    2: (((1.0,),), (0.5, 0.5)),
    3: (((0.5,), (-1.0, 2.0)), (1 / 6, 2 / 3, 1 / 6)),
    4: (((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), (1 / 6, 1 / 3, 1 / 3, 1 / 6)),
}


def check_order(order: int) -> int:
    """``order`` if a Runge–Kutta method of that order is available (1 to 4)."""
    if order not in TABLEAUS:
        raise ConfigError(f"Runge–Kutta order must be one of {', '.join(map(str, TABLEAUS))}; got {order}")
    return order


def runge_kutta_step(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, order: int) -> torch.Tensor:
    """x + Σ b_i k_i with the stages of the order's tableau: ``order`` evaluations of f."""
    a, b = TABLEAUS[check_order(order)]
    stages = [f(x)]
    for row in a:
        stages.append(f(x + sum(weight * k for weight, k in zip(row, stages) if weight)))
    return x + sum(weight * k for weight, k in zip(b, stages))
