"""The attention circuits as every simulator of them agrees: loaders, ansatz sizes, rules.

A circuit of the hybrid attention head (paper eq. 3–8, after the QSANN of Li et al.) is a
*data loader* followed by a trainable *ansatz*, one qubit per value of a head's slice of
a token. The gate lists (:mod:`qvit_lib.quantum.circuits`), the model configuration
(:mod:`qvit_lib.models.variants`) and the attention layer (:mod:`qvit_lib.models.attention`)
all take their names, sizes and checks from here, so each rule is written once. The module
needs no torch, so a configuration can be checked without loading it.

Data loaders:

* ``hadamard`` (the paper): H then RX(x_j) on qubit j. H|0⟩ = |+⟩ is an eigenvector of X,
  so RX(x)|+⟩ = e^{−ix/2}|+⟩ — a global phase: the state does not depend on x;
* ``angle`` (standard angle encoding): RX(x_j) on |0⟩, which does depend on x.

Ansätze: query/key, 3·d + 1 angles (RX layer, RY layer, CNOT ring, RY layer, CNOT ring,
RY on qubit 0; measure ⟨Z₀⟩); value, 3·d angles (RX layer, RY layer, CNOT ring, RY layer;
measure every ⟨Z_j⟩).
"""

from __future__ import annotations

from qvit_lib.core.errors import ConfigError

__all__ = [
    "DATA_LOADERS",
    "MIN_QUBITS",
    "check_loader",
    "check_qubits",
    "check_heads",
    "query_key_parameter_count",
    "value_parameter_count",
    "projection_parameter_count",
]


DATA_LOADERS = ("hadamard", "angle")
MIN_QUBITS = 2  #: a CNOT ring needs two qubits


def check_loader(loader: str) -> str:
    """``loader`` if it is a known data loader, else a clear error listing the known ones."""
    if loader not in DATA_LOADERS:
        raise ConfigError(f"unknown data loader {loader!r}; valid: {', '.join(DATA_LOADERS)}")
    return loader


def check_qubits(n_qubits: int, role: str = "hybrid attention", per: str = "per head (d_h)") -> int:
    """``n_qubits`` if the circuits can be built on it (at least two, for the CNOT ring)."""
    if n_qubits < MIN_QUBITS:
        raise ConfigError(f"{role} needs at least {MIN_QUBITS} qubits {per} for its CNOT ring; got {n_qubits}")
    return n_qubits


def check_heads(d_token: int, n_heads: int) -> int:
    """The head width d_h = d_token / n_heads, if the heads split the token evenly."""
    if n_heads < 1 or d_token % n_heads:
        raise ConfigError(f"d_token ({d_token}) must be divisible by n_heads ({n_heads})")
    return d_token // n_heads


def query_key_parameter_count(n_qubits: int) -> int:
    """Angles of the query/key ansatz: three layers of d rotations and the final RY."""
    return 3 * n_qubits + 1


def value_parameter_count(n_qubits: int) -> int:
    """Angles of the value ansatz: three layers of d rotations."""
    return 3 * n_qubits


def projection_parameter_count(n_qubits: int, layers: int) -> int:
    """Angles of a quantum projection (chapter 9): one RX per qubit in each of L layers."""
    return layers * n_qubits
