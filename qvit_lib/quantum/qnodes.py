"""The quantum circuits of the hybrid attention head, as PennyLane QNodes.

Each head works on d_h values of a token, one qubit per value (paper eq. 3–8, after the
QSANN of Li et al.). The loaders and ansätze are described in :mod:`qvit_lib.quantum.ansatz`; this
is the one module that touches PennyLane: the QNodes, the choice of PennyLane device, and
the harness that compares the fused simulator with any backend.

:func:`choose_device` picks ``lightning.gpu`` when a CUDA GPU is usable, else
``lightning.qubit``, else ``default.qubit``, and says why; ``QVIT_DEVICE`` or an argument
forces a choice.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pennylane as qml
import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum import exact
from qvit_lib.quantum.ansatz import (
    DATA_LOADERS,
    check_loader,
    check_qubits,
    query_key_parameter_count,
    value_parameter_count,
)
from qvit_lib.quantum.circuits import Gate, build_circuit
from qvit_lib.quantum.exact import pauli
from qvit_lib.quantum.tensorcircuit_backend import BACKEND as TENSORCIRCUIT
from qvit_lib.quantum.tensorcircuit_backend import make_tensorcircuit_function

DEVICE_ENV = "QVIT_DEVICE"
DEVICE_ORDER = ("lightning.gpu", "lightning.qubit", "default.qubit")  #: fastest first
BACKENDS = ("fused", "fused-complex")  #: the simulators of qvit_lib.quantum.exact; any other name is a PennyLane device

__all__ = [
    "BACKENDS",
    "DATA_LOADERS",
    "DEVICE_ORDER",
    "DeviceChoice",
    "choose_device",
    "compare_wide_with_backend",
    "compare_with_backend",
    "apply_gates",
    "default_dtype",
    "device_usable",
    "make_qnode",
    "projection_circuit",
    "query_key_circuit",
    "query_key_parameter_count",
    "value_circuit",
    "value_parameter_count",
    "wide_circuit_outputs",
]


_OPERATIONS = {"h": qml.Hadamard, "rx": qml.RX, "ry": qml.RY, "cnot": qml.CNOT}


def apply_gates(gates: Sequence[Gate], x: Sequence = (), theta: Sequence = ()) -> None:
    """Queue a gate list of :mod:`qvit_lib.quantum.circuits` in a QNode, angles from ``x`` and ``theta``."""
    for gate in gates:
        angle = gate.angle(x, theta)
        wires = list(gate.wires)
        _OPERATIONS[gate.name](*(() if angle is None else (angle,)), wires=wires)


def query_key_circuit(x: Sequence, theta: Sequence, loader: str = "hadamard"):
    """Data loader + query/key ansatz; returns ⟨Z₀⟩ (use inside a QNode)."""
    apply_gates(build_circuit("query_key", len(x), loader).gates, x, theta)
    return qml.expval(qml.PauliZ(0))


def value_circuit(x: Sequence, theta: Sequence, loader: str = "hadamard"):
    """Data loader + value ansatz; returns ⟨Z_j⟩ for every qubit j (use inside a QNode)."""
    apply_gates(build_circuit("value", len(x), loader).gates, x, theta)
    return [qml.expval(qml.PauliZ(w)) for w in range(len(x))]


def make_qnode(kind: str, n_qubits: int, device: str = "default.qubit", loader: str = "hadamard") -> Callable:
    """A torch-interface QNode ``f(x, theta)`` for ``kind`` "query_key" or "value".

    ``x`` may carry a leading batch axis, ``x[..., j]`` going to qubit j (``x`` is
    indexed along its last axis). default.qubit differentiates by backpropagation, the
    lightning devices by the adjoint method.
    """
    check_qubits(n_qubits)
    check_loader(loader)
    circuits = {"query_key": query_key_circuit, "value": value_circuit}
    if kind not in circuits:
        raise ConfigError(f"unknown circuit {kind!r}; valid: query_key, value")
    dev = qml.device(device, wires=n_qubits)
    diff_method = "backprop" if device == "default.qubit" else "adjoint"
    circuit = circuits[kind]

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def qnode(x, theta):
        return circuit([x[..., j] for j in range(n_qubits)], theta, loader)

    return qnode


@dataclass(frozen=True)
class DeviceChoice:
    name: str
    reason: str


def device_usable(name: str) -> tuple[bool, str]:
    """Whether a PennyLane device can be created here, and if not, why (one line)."""
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
        ok, why = device_usable(forced)
        if not ok:
            raise RuntimeError(f"device {forced!r} requested by {source} cannot be used: {why}")
        return DeviceChoice(forced, f"requested by {source}")
    notes = []
    for name in DEVICE_ORDER:
        if name == "lightning.gpu" and not torch.cuda.is_available():
            notes.append("no CUDA GPU visible to torch, so not lightning.gpu")
            continue
        ok, why = device_usable(name)
        if ok:
            return DeviceChoice(name, "; ".join(notes + [f"{name} is the fastest usable device"]))
        notes.append(why)
    raise RuntimeError("no PennyLane device is usable: " + "; ".join(notes))


class default_dtype:
    """Run PennyLane's torch interface at a given precision: it returns results in torch's
    default dtype, which would otherwise round float64 work to float32."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype

    def __enter__(self) -> None:
        self.previous = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc: object) -> None:
        torch.set_default_dtype(self.previous)


def circuit_outputs(
    x: torch.Tensor, theta_qk: torch.Tensor, theta_v: torch.Tensor, loader: str, backend: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Query/key ⟨Z₀⟩ (n,) and value ⟨Z_j⟩ (n, d) for inputs x (n, d) on one backend.

    ``backend``: "fused" (the Fourier series the models use), "fused-complex" (the textbook
    quadratic form ψ†Mψ), "tensorcircuit" (the public code's simulator, the extra ``peers``)
    or a PennyLane device name.
    """
    d = x.shape[-1]
    if backend == "fused":
        out = exact.head_expectations(x[:, None, :], theta_qk[None], theta_qk[None], theta_v[None], loader)[:, 0]
        return out[:, 0], out[:, 2:]
    if backend == "fused-complex":
        state = exact.product_state(x, loader)
        q = exact.expectations(state, exact.observables(exact.query_key_unitary(theta_qk, d), [0]))[..., 0]
        return q, exact.expectations(state, exact.observables(exact.value_unitary(theta_v, d), list(range(d))))
    if backend == TENSORCIRCUIT:
        make = lambda kind: make_tensorcircuit_function(kind, d, loader, x.dtype)  # noqa: E731
        return make("query_key")(x, theta_qk), make("value")(x, theta_v)
    with default_dtype(x.dtype):
        q = make_qnode("query_key", d, backend, loader)(x, theta_qk)
        v = torch.stack(make_qnode("value", d, backend, loader)(x, theta_v), dim=-1)
    return q.to(x.dtype), v.to(x.dtype)


def compare_with_backend(
    backend: str, loader: str, n_qubits: int = 4, n_inputs: int = 7, dtype: torch.dtype = torch.float64, seed: int = 0
) -> dict[str, float]:
    """Largest differences between the fused simulator and another backend.

    For random inputs and parameters: the values Q and V, and the gradients of a weighted
    sum of them with respect to the inputs x and both parameter vectors.
    """
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n_inputs, n_qubits, generator=g, dtype=dtype) * 4 - 2).requires_grad_()
    theta_qk = (
        torch.rand(query_key_parameter_count(n_qubits), generator=g, dtype=dtype) * 2 * math.pi
    ).requires_grad_()
    theta_v = (torch.rand(value_parameter_count(n_qubits), generator=g, dtype=dtype) * 2 * math.pi).requires_grad_()
    weights = torch.linspace(0.5, 1.5, n_qubits, dtype=dtype)
    results = []
    for name in ("fused", backend):
        q, v = circuit_outputs(x, theta_qk, theta_v, loader, name)
        grads = torch.autograd.grad(q.sum() + (v * weights).sum(), (x, theta_qk, theta_v))
        results.append([q, v, *grads])
    names = ("Q", "V", "d/dx", "d/dθ_QK", "d/dθ_V")
    return {name: float((a - b).abs().max().detach()) for name, a, b in zip(names, *results)}


def projection_circuit(x: Sequence, weights, n_qubits: int):
    """Comajoan Cara et al.'s projection: RX(x_j), then L × (RX(w) layer, CNOT ring); ⟨Z_j⟩ for all j.

    ``weights`` (L, d) as PennyLane's ``BasicEntanglerLayers`` takes them (use inside a QNode).
    """
    layers = len(weights)
    flat = [weights[layer][q] for layer in range(layers) for q in range(n_qubits)]
    apply_gates(build_circuit("projection", n_qubits, layers=layers).gates, x, flat)
    return [qml.expval(qml.PauliZ(w)) for w in range(n_qubits)]


def wide_circuit_outputs(
    kind: str, x: torch.Tensor, theta: torch.Tensor, backend: str, loader: str = "angle", layers: int = 1
) -> torch.Tensor:
    """⟨Z_j⟩ (n, d) of a whole-token circuit of chapter 9 for inputs x (n, d), on one backend.

    ``kind`` "value" (the quantum feed-forward; ``theta`` 3d angles) or "projection"
    (``theta`` L·d angles, layer-major); ``backend`` "fused" (Pauli propagation) or a
    PennyLane device name.
    """
    d = x.shape[-1]
    if kind not in ("value", "projection"):
        raise ConfigError(f"unknown wide circuit {kind!r}; valid: value, projection")
    if backend == "fused":
        circuit = pauli.value_circuit(d, loader) if kind == "value" else pauli.projection_circuit(d, layers)
        return pauli.pauli_expectations(x, theta, circuit)
    if kind == "value":
        with default_dtype(x.dtype):
            return torch.stack(make_qnode("value", d, backend, loader)(x, theta), dim=-1).to(x.dtype)
    dev = qml.device(backend, wires=d)
    diff_method = "backprop" if backend == "default.qubit" else "adjoint"

    @qml.qnode(dev, interface="torch", diff_method=diff_method)
    def qnode(inputs, weights):
        return projection_circuit(inputs, weights, d)

    with default_dtype(x.dtype):
        rows = [torch.stack(qnode(row, theta.reshape(layers, d)), dim=-1) for row in x]  # adjoint: one input each
    return torch.stack(rows).to(x.dtype)


def compare_wide_with_backend(
    kind: str, backend: str, n_qubits: int, loader: str = "angle", layers: int = 1, n_inputs: int = 5, seed: int = 0
) -> dict[str, float]:
    """Largest differences between Pauli propagation and another backend, float64: values and gradients."""
    g = torch.Generator().manual_seed(seed)
    n_angles = 3 * n_qubits if kind == "value" else layers * n_qubits
    x = (torch.rand(n_inputs, n_qubits, generator=g, dtype=torch.float64) * 4 - 2).requires_grad_()
    theta = (torch.rand(n_angles, generator=g, dtype=torch.float64) * 2 * math.pi).requires_grad_()
    weights = torch.linspace(0.5, 1.5, n_qubits, dtype=torch.float64)
    results = []
    for name in ("fused", backend):
        out = wide_circuit_outputs(kind, x, theta, name, loader, layers)
        grads = torch.autograd.grad((out * weights).sum(), (x, theta), allow_unused=True, materialize_grads=True)
        results.append([out, *grads])
    return {name: float((a - b).abs().max().detach()) for name, a, b in zip(("⟨Z⟩", "d/dx", "d/dθ"), *results)}


def device_model_qnode(
    kind: str,
    n_qubits: int,
    loader: str = "angle",
    depolarizing: float = 0.0,
    readout: float = 0.0,
    shots: int | None = None,
    copies: int = 1,
    seed: int = 0,
) -> Callable:
    """A QNode ``f(x, theta)`` of the attention circuit as run on a noisy device (chapter 10).

    Depolarising noise of strength ``depolarizing`` after every gate, on each of its wires,
    loader gates included, and a readout error as a bit flip of probability ``readout`` on
    every wire before the measurement, on PennyLane's ``default.mixed``. (Its own
    ``readout_prob`` option fails with expectation values in PennyLane 0.45; a bit flip
    just before measuring Z is the same symmetric readout error.) With ``shots``,
    ``default.qubit`` (no noise) returns ``copies`` shot estimates of ⟨Z⟩ per call.
    """
    check_qubits(n_qubits)
    check_loader(loader)
    circuits = {"query_key": query_key_circuit, "value": value_circuit}
    if kind not in circuits:
        raise ConfigError(f"unknown circuit {kind!r}; valid: {', '.join(circuits)}")
    if shots is not None:
        if depolarizing or readout:
            raise ConfigError("shots are compared on default.qubit, without noise; use shots=None with noise")
        dev = qml.device("default.qubit", wires=n_qubits, seed=seed)
    else:
        dev = qml.device("default.mixed", wires=n_qubits)

    def noisy(x, theta):
        with qml.queuing.AnnotatedQueue() as queue:
            measured = circuits[kind]([x[..., j] for j in range(n_qubits)], theta, loader)
        for op in queue.queue:
            if isinstance(op, qml.operation.Operator) and not isinstance(op, qml.measurements.MeasurementProcess):
                qml.apply(op)
                for wire in op.wires if depolarizing else ():
                    qml.DepolarizingChannel(depolarizing, wires=wire)
        for wire in range(n_qubits) if readout else ():
            qml.BitFlip(readout, wires=wire)
        return [qml.apply(m) for m in measured] if isinstance(measured, list) else qml.apply(measured)

    qnode = qml.qnode(dev, interface="torch", diff_method="backprop" if shots is None else None)(noisy)
    return qnode if shots is None else qml.set_shots(qnode, shots=[(shots, copies)] if copies > 1 else shots)


def value_outcome_moments(
    x: torch.Tensor, theta: torch.Tensor, loader: str = "angle"
) -> tuple[torch.Tensor, torch.Tensor]:
    """⟨Z_j⟩ (d,) and ⟨Z_i Z_j⟩ (d, d) of the value circuit on one input, from PennyLane's state vector.

    The reference for the 16-qubit shot sampler of chapter 10 (:mod:`qvit_lib.quantum.device.chain`):
    all 2^d outcome probabilities, then the moments of the ±1 outcomes (qubit 0 the leading bit).
    """
    d = x.shape[-1]

    @qml.qnode(qml.device("default.qubit", wires=d))
    def bit_strings():
        apply_gates(
            build_circuit("value", d, loader).gates, x.detach().double().numpy(), theta.detach().double().numpy()
        )
        return qml.probs(wires=range(d))

    p = torch.as_tensor(np.asarray(bit_strings()), dtype=torch.float64)
    signs = 1 - 2 * ((torch.arange(2**d)[:, None] >> torch.arange(d - 1, -1, -1)) & 1).double()  # (2^d, d)
    return signs.T @ p, (signs * p[:, None]).T @ signs
