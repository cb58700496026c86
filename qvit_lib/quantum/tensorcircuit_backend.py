"""The attention head's circuits on TensorCircuit with JAX, as the paper's public code runs them.

The public code (Unlu et al., ``EyupBunlu/QViT_HEP_ML4Sci``, ``QViT/circuits.py``) builds each
head's query, key and value circuit in TensorCircuit on the JAX backend, maps it over the
tokens with ``vmap``, compiles it with ``jit`` and hands it to PyTorch through TensorCircuit's
torch interface. This module does the same for the book's gate lists
(:mod:`qvit_lib.quantum.circuits`), so the benchmark of chapter 8 can time that way of
simulating against the fused engine on the very same model.

TensorCircuit and JAX are not part of the book's environment: they are the optional extra
``peers`` (``pip install -e '.[peers]'`` in a separate virtual environment).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum.circuits import build_circuit

__all__ = ["BACKEND", "available", "make_tensorcircuit_function"]

BACKEND = "tensorcircuit"  #: the backend name the models accept for this simulator


def available() -> bool:
    """Whether TensorCircuit and JAX are installed (the optional extra ``peers``)."""
    return all(importlib.util.find_spec(name) is not None for name in ("tensorcircuit", "jax"))


def _tensorcircuit(dtype: torch.dtype):
    """TensorCircuit on the JAX backend, at the precision of ``dtype``, or a clear error."""
    if not available():
        raise ConfigError(
            "backend 'tensorcircuit' needs TensorCircuit and JAX, the optional extra 'peers': "
            "pip install -e '.[peers]' (in a separate virtual environment, not the book's)"
        )
    # lazy: an optional dependency, installed only with the extra 'peers'
    import jax

    # lazy: an optional dependency, installed only with the extra 'peers'
    import tensorcircuit as tc

    double = dtype == torch.float64
    jax.config.update("jax_enable_x64", double)
    tc.set_backend("jax")
    tc.set_dtype("complex128" if double else "complex64")
    return tc


def make_tensorcircuit_function(
    kind: str, n_qubits: int, loader: str = "hadamard", dtype: torch.dtype = torch.float32
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``f(x, theta)`` for ``kind`` "query_key" (⟨Z₀⟩, shape (n,)) or "value" (⟨Z_j⟩, shape (n, d)).

    ``x`` (n, d) holds one token per row; the circuit is mapped over the rows (``vmap``) and
    compiled (``jit``), and PyTorch differentiates through it with the vector-Jacobian product
    that JAX computes — the public code's pipeline.
    """
    if kind not in ("query_key", "value"):
        raise ConfigError(f"unknown attention circuit {kind!r}; valid: query_key, value")
    tc = _tensorcircuit(dtype)
    gates = build_circuit(kind, n_qubits, loader).gates
    measured = [0] if kind == "query_key" else list(range(n_qubits))

    def circuit(x, theta):
        c = tc.Circuit(n_qubits)
        for gate in gates:
            angle = gate.angle(x, theta)
            if gate.name == "cnot":
                c.cnot(*gate.wires)
            elif angle is None:
                getattr(c, gate.name)(*gate.wires)
            else:
                getattr(c, gate.name)(*gate.wires, theta=angle)
        values = tc.backend.stack([tc.backend.real(c.expectation_ps(z=[w])) for w in measured])
        return values[0] if kind == "query_key" else values

    mapped = tc.backend.vmap(circuit, vectorized_argnums=0)
    return tc.interfaces.torch_interface(mapped, jit=True)
