"""Every circuit of the book, written once: a list of gates in the order they act.

A circuit here is data, not code: each :class:`Gate` names its operation, its wires and
where its angle comes from (an input value x_j, a trained angle θ_k, or none). Everything
that runs or shows a circuit reads these lists:

* the PennyLane QNodes (:mod:`qvit_lib.quantum.qnodes`) apply them gate by gate;
* the textbook state-vector simulator (:mod:`qvit_lib.quantum.exact.statevector`) multiplies
  their matrices, and Pauli propagation (:mod:`qvit_lib.quantum.exact.pauli`) conjugates
  observables through them;
* the device model (:mod:`qvit_lib.quantum.device.noise`) puts a channel after each gate;
* the drawings (:func:`qvit_lib.display.plots.draw_circuit`) and the in-page explorer
  (:class:`qvit_lib.display.widgets.CircuitExplorer`) draw and simulate them.

The circuits (chapter 4 for the attention head, chapter 9 for the whole-token ones):

* data loaders: ``hadamard`` (the paper: H then RX(x_j) on qubit j) and ``angle`` (RX(x_j));
* the value ansatz: RX layer, RY layer, CNOT ring 0→1→…→(d−1)→0, RY layer (3d angles);
* the query/key ansatz: the value ansatz, a second CNOT ring and RY on qubit 0 (3d + 1);
* the projection of Comajoan Cara et al.: RX(x_j), then L × (RX(w) layer, CNOT ring), as
  PennyLane's ``AngleEmbedding`` and ``BasicEntanglerLayers``.

Qubit 0 is the most significant bit of a basis-state index, as in PennyLane.
"""

from __future__ import annotations

from dataclasses import dataclass

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum.ansatz import check_loader, check_qubits

__all__ = [
    "GATES",
    "KINDS",
    "Gate",
    "Circuit",
    "cnot_ring",
    "entangler_ring",
    "loader_gates",
    "rotation_layer",
    "ansatz_gates",
    "build_circuit",
    "columns",
]

GATES = ("h", "rx", "ry", "cnot")  #: every operation the circuits use
#: The circuits :func:`build_circuit` knows: the attention head's two and chapter 9's projection.
KINDS = ("query_key", "value", "projection")
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Gate:
    """One gate: ``name`` (one of :data:`GATES`), its ``wires`` (control first for a CNOT),
    the source of its angle (``"x"`` an input, ``"theta"`` a trained angle, None for none)
    and that angle's ``index``; ``role`` tells the data loader from the ansatz."""

    name: str
    wires: tuple[int, ...]
    source: str | None = None
    index: int | None = None
    role: str = "ansatz"

    def __post_init__(self) -> None:
        if self.name not in GATES:
            raise ConfigError(f"unknown gate {self.name!r}; valid: {', '.join(GATES)}")
        if (self.source is None) != (self.index is None) or self.source not in (None, "x", "theta"):
            raise ConfigError(f"gate {self.name}: an angle needs both a source ('x' or 'theta') and an index")

    def label(self, angle_symbol: str = "θ") -> str:
        """How a drawing names the gate: ``H``, ``RX(x₀)``, ``RY(θ₅)``, ``CNOT(0→1)``
        (``angle_symbol`` for trained angles)."""
        if self.name == "cnot":
            return "CNOT({}→{})".format(*self.wires)
        if self.source is None:
            return self.name.upper()
        symbol = "x" if self.source == "x" else angle_symbol
        return f"{self.name.upper()}({symbol}{str(self.index).translate(_SUBSCRIPTS)})"

    def angle(self, x, theta):
        """This gate's angle taken from the inputs ``x`` or the angles ``theta`` (None if it has none)."""
        if self.source is None:
            return None
        return (x if self.source == "x" else theta)[self.index]


@dataclass(frozen=True)
class Circuit:
    """A whole circuit: its gates, the qubits whose ⟨Z⟩ it returns, and its angle count."""

    kind: str
    loader: str
    n_qubits: int
    gates: tuple[Gate, ...]
    measured: tuple[int, ...]

    @property
    def n_angles(self) -> int:
        """Trained angles the circuit reads: one past the largest θ index."""
        return 1 + max(g.index for g in self.gates if g.source == "theta")

    @property
    def ansatz(self) -> tuple[Gate, ...]:
        """The gates after the data loader."""
        return tuple(g for g in self.gates if g.role == "ansatz")


def cnot_ring(n_qubits: int) -> tuple[Gate, ...]:
    """CNOT 0→1, 1→2, …, (d−1)→0: the ring of the paper's circuits."""
    return tuple(Gate("cnot", (q, (q + 1) % n_qubits)) for q in range(n_qubits))


def entangler_ring(n_qubits: int) -> tuple[Gate, ...]:
    """The ring of PennyLane's ``BasicEntanglerLayers``: none on one qubit, a single CNOT on two."""
    if n_qubits == 1:
        return ()
    return (Gate("cnot", (0, 1)),) if n_qubits == 2 else cnot_ring(n_qubits)


def rotation_layer(
    name: str, n_qubits: int, first: int, source: str = "theta", role: str = "ansatz"
) -> tuple[Gate, ...]:
    """One rotation ``name`` on every qubit q, its angle ``source[first + q]``."""
    return tuple(Gate(name, (q,), source, first + q, role) for q in range(n_qubits))


def loader_gates(n_qubits: int, loader: str) -> tuple[Gate, ...]:
    """The data loader: H then RX(x_q) on each qubit (``hadamard``), or RX(x_q) alone (``angle``)."""
    hadamards = tuple(Gate("h", (q,), role="loader") for q in range(n_qubits))
    return (hadamards if check_loader(loader) == "hadamard" else ()) + rotation_layer("rx", n_qubits, 0, "x", "loader")


def ansatz_gates(kind: str, n_qubits: int, layers: int = 1) -> tuple[Gate, ...]:
    """The trained part of a circuit ``kind`` (one of :data:`KINDS`) on ``n_qubits`` qubits.

    ``layers`` counts the projection's entangling layers (L); the attention circuits have one.
    """
    d = n_qubits
    if kind == "projection":
        return sum((rotation_layer("rx", d, layer * d) + entangler_ring(d) for layer in range(layers)), ())
    value = rotation_layer("rx", d, 0) + rotation_layer("ry", d, d) + cnot_ring(d) + rotation_layer("ry", d, 2 * d)
    if kind == "value":
        return value
    if kind == "query_key":
        return value + cnot_ring(d) + (Gate("ry", (0,), "theta", 3 * d),)
    raise ConfigError(f"unknown circuit {kind!r}; valid: {', '.join(KINDS)}")


def build_circuit(kind: str, n_qubits: int, loader: str = "hadamard", layers: int = 1) -> Circuit:
    """Loader + ansatz of circuit ``kind``, and the qubits it measures (query/key: qubit 0 only).

    The projection always loads its inputs by angle encoding (PennyLane's ``AngleEmbedding``).
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown circuit {kind!r}; valid: {', '.join(KINDS)}")
    if kind == "projection":
        loader = "angle"
    else:
        check_qubits(n_qubits)
    if layers < 1:
        raise ConfigError(f"a circuit needs at least one layer; got layers={layers}")
    gates = loader_gates(n_qubits, loader) + ansatz_gates(kind, n_qubits, layers)
    measured = (0,) if kind == "query_key" else tuple(range(n_qubits))
    return Circuit(kind, loader, n_qubits, gates, measured)


def columns(gates: tuple[Gate, ...]) -> list[tuple[Gate, ...]]:
    """The gates in time steps: consecutive one-qubit gates on distinct wires share a step,
    each CNOT has one of its own. The drawings' columns, and the layers the state-vector
    simulator multiplies as one Kronecker product."""
    out: list[tuple[Gate, ...]] = []
    current: list[Gate] = []
    for gate in gates:
        if gate.name == "cnot" or any(gate.wires[0] == g.wires[0] for g in current):
            if current:
                out.append(tuple(current))
                current = []
        if gate.name == "cnot":
            out.append((gate,))
        else:
            current.append(gate)
    if current:
        out.append(tuple(current))
    return out
