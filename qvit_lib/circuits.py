"""The quantum circuits of the hybrid attention head, as PennyLane QNodes.

Each head works on d_h values of a token, one qubit per value (paper eq. 3–8, after the
QSANN of Li et al.). A circuit is a *data loader* followed by a trainable *ansatz*:

* data loader, ``hadamard`` (the paper): H then RX(x_j) on qubit j. Since H|0⟩ = |+⟩ is an
  eigenvector of X, RX(x)|+⟩ = e^{−ix/2}|+⟩ — a global phase: the state does not depend on x.
  ``angle`` (standard angle encoding): RX(x_j) on |0⟩, which does depend on x.
* query/key ansatz (3·d_h + 1 parameters): RX layer, RY layer, CNOT ring, RY layer, CNOT
  ring, RY on qubit 0; measure ⟨Z₀⟩.
* value ansatz (3·d_h parameters): RX layer, RY layer, CNOT ring, RY layer; measure ⟨Z_j⟩ on
  every qubit.

:func:`choose_device` picks ``lightning.gpu`` when a CUDA GPU is usable, else
``lightning.qubit``, else ``default.qubit``, and says why; ``QVIT_DEVICE`` or an argument
forces a choice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

ENCODINGS = ("hadamard", "angle")
DEVICE_ENV = "QVIT_DEVICE"
PREFERENCE = ("lightning.gpu", "lightning.qubit", "default.qubit")


def query_key_parameter_count(n_qubits: int) -> int:
    return 3 * n_qubits + 1


def value_parameter_count(n_qubits: int) -> int:
    return 3 * n_qubits


def _check(n_qubits: int, encoding: str) -> None:
    if n_qubits < 2:
        raise ValueError(f"the circuits need at least 2 qubits (a CNOT ring), got d_h = {n_qubits}")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown data loader {encoding!r}; valid: {', '.join(ENCODINGS)}")


def data_loader(x: Sequence, encoding: str = "hadamard") -> None:
    """Load d_h values onto d_h qubits: H·RX per qubit (``hadamard``) or RX alone (``angle``)."""
    import pennylane as qml

    for wire in range(len(x)):
        if encoding == "hadamard":
            qml.Hadamard(wires=wire)
        qml.RX(x[wire], wires=wire)


def cnot_ring(n_qubits: int) -> None:
    """CNOT 0→1, 1→2, …, (d−1)→0."""
    import pennylane as qml

    for wire in range(n_qubits):
        qml.CNOT(wires=[wire, (wire + 1) % n_qubits])


def _rotation_layer(gate, angles: Sequence) -> None:
    for wire, angle in enumerate(angles):
        gate(angle, wires=wire)


def value_ansatz(theta: Sequence, n_qubits: int) -> None:
    """RX layer, RY layer, CNOT ring, RY layer (3·d_h angles)."""
    import pennylane as qml

    d = n_qubits
    _rotation_layer(qml.RX, theta[0:d])
    _rotation_layer(qml.RY, theta[d : 2 * d])
    cnot_ring(d)
    _rotation_layer(qml.RY, theta[2 * d : 3 * d])


def query_key_ansatz(theta: Sequence, n_qubits: int) -> None:
    """The value ansatz, then a second CNOT ring and RY on qubit 0 (3·d_h + 1 angles)."""
    import pennylane as qml

    value_ansatz(theta[: 3 * n_qubits], n_qubits)
    cnot_ring(n_qubits)
    qml.RY(theta[3 * n_qubits], wires=0)


def query_key_circuit(x: Sequence, theta: Sequence, encoding: str = "hadamard"):
    """Data loader + query/key ansatz; returns ⟨Z₀⟩ (use inside a QNode)."""
    import pennylane as qml

    data_loader(x, encoding)
    query_key_ansatz(theta, len(x))
    return qml.expval(qml.PauliZ(0))


def value_circuit(x: Sequence, theta: Sequence, encoding: str = "hadamard"):
    """Data loader + value ansatz; returns ⟨Z_j⟩ for every qubit j (use inside a QNode)."""
    import pennylane as qml

    data_loader(x, encoding)
    value_ansatz(theta, len(x))
    return [qml.expval(qml.PauliZ(w)) for w in range(len(x))]


def make_qnode(kind: str, n_qubits: int, device: str = "default.qubit", encoding: str = "hadamard") -> Callable:
    """A torch-interface QNode ``f(x, theta)`` for ``kind`` "query_key" or "value".

    ``x`` may carry a leading batch axis, ``x[..., j]`` going to qubit j (``x`` is
    indexed along its last axis). default.qubit differentiates by backpropagation, the
    lightning devices by the adjoint method.
    """
    import pennylane as qml

    _check(n_qubits, encoding)
    circuits = {"query_key": query_key_circuit, "value": value_circuit}
    if kind not in circuits:
        raise ValueError(f"unknown circuit {kind!r}; valid: query_key, value")
    dev = qml.device(device, wires=n_qubits)
    diff_method = "backprop" if device == "default.qubit" else "adjoint"
    circuit = circuits[kind]

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def qnode(x, theta):
        return circuit([x[..., j] for j in range(n_qubits)], theta, encoding)

    return qnode


@dataclass(frozen=True)
class DeviceChoice:
    name: str
    reason: str


def _usable(name: str) -> tuple[bool, str]:
    import pennylane as qml

    try:
        qml.device(name, wires=1)
    except Exception as err:  # a missing plugin or no CUDA driver: say so, do not crash
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return False, f"{name} is not usable here ({type(err).__name__}: {first_line[:160]})"
    return True, ""


def choose_device(preferred: str | None = None) -> DeviceChoice:
    """The PennyLane device for the circuits, and why.

    ``preferred`` (or the environment variable ``QVIT_DEVICE``) forces a device; otherwise
    lightning.gpu if a CUDA GPU is usable, then lightning.qubit, then default.qubit.
    """
    forced = preferred or os.environ.get(DEVICE_ENV)
    if forced:
        source = "argument" if preferred else DEVICE_ENV
        ok, why = _usable(forced)
        if not ok:
            raise RuntimeError(f"device {forced!r} requested by {source} cannot be used: {why}")
        return DeviceChoice(forced, f"requested by {source}")
    import torch

    notes = []
    for name in PREFERENCE:
        if name == "lightning.gpu" and not torch.cuda.is_available():
            notes.append("no CUDA GPU visible to torch, so not lightning.gpu")
            continue
        ok, why = _usable(name)
        if ok:
            return DeviceChoice(name, "; ".join(notes + [f"{name} is the fastest usable device"]))
        notes.append(why)
    raise RuntimeError("no PennyLane device is usable: " + "; ".join(notes))
