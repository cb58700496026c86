"""Pauli propagation: exact expectations of wide circuits whose entanglers are CNOTs.

The circuits of chapter 9 act on a whole token, one qubit per feature (16 qubits): a
2^16-amplitude state per token is out of reach, but these circuits have structure. Each is

    product state  →  [CNOTs, then a layer of single-qubit rotations] × …  →  measure Z_j.

Every qubit starts in a state of its own: its data loader and the rotations before the
first CNOT give it a Bloch vector b_k = (⟨X⟩, ⟨Y⟩, ⟨Z⟩), a function of its input x_k and
of the angles. In the Heisenberg picture the measured observable walks backwards through
the rest, O ← G† O G, and stays a short sum of Pauli strings:

* a CNOT maps a Pauli string to ± one Pauli string (it is a Clifford gate);
* a rotation R_A(φ) = exp(−iφA/2) keeps a letter P that commutes with A and splits one that
  anticommutes: R† P R = cos φ · P + sin φ · (iAP), with iAP = ± another letter.

On the product state a string is a product of one Bloch component per qubit,
⟨P₁ ⊗ … ⊗ P_d⟩ = ∏_k b_k[P_k] (with b_k[I] = 1), so

    ⟨Z_j⟩(x, θ) = Σ_s c_s(θ) ∏_{k ∈ supp s} b_k[s_k](x_k, θ).

The strings and the trigonometric form of their coefficients are worked out once per
circuit shape (:func:`propagate`); a forward pass evaluates the coefficients, the Bloch
vectors and the products in a few tensor operations, and autograd gives the gradients.
The tests compare values and gradients with PennyLane's default.qubit and lightning.qubit
to 1e-10 in float64. Each rotation layer after the first CNOT can double the number of
strings per letter it splits; :func:`propagate` refuses a circuit whose expansion exceeds
:data:`MAX_TERMS` instead of running out of memory.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum.ansatz import check_loader
from qvit_lib.quantum.circuits import Circuit, build_circuit, columns

I, X, Y, Z = 0, 1, 2, 3  # Pauli letters  # noqa: E741
LETTERS = "IXYZ"
AXES = {"rx": X, "ry": Y, "rz": Z}
MAX_TERMS = 4096  #: Pauli strings per circuit beyond which propagation is refused

_PAULI = [
    np.eye(2, dtype=complex),
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]]),
    np.array([[1, 0], [0, -1]], dtype=complex),
]


def _as_pauli(matrix: np.ndarray, n: int) -> tuple[int, tuple[int, ...]]:
    """(sign, letters) with matrix = sign · P_letters, for a signed Pauli string on n qubits."""
    for letters in itertools.product(range(4), repeat=n):
        product = functools.reduce(np.kron, [_PAULI[p] for p in letters])
        overlap = np.trace(product.conj().T @ matrix) / 2**n
        if abs(abs(overlap) - 1) < 1e-12:
            sign = round(overlap.real)
            if abs(overlap - sign) > 1e-12:
                raise ValueError("not a real-signed Pauli string")
            return sign, letters
    raise ValueError("not a Pauli string")


def _cnot_table() -> dict[tuple[int, int], tuple[int, int, int]]:
    """CNOT† (P_c ⊗ P_t) CNOT = sign · (P_c' ⊗ P_t') for all 16 pairs (control first)."""
    cnot = np.eye(4, dtype=complex)[[0, 1, 3, 2]]
    table = {}
    for pc, pt in itertools.product(range(4), repeat=2):
        sign, (qc, qt) = _as_pauli(cnot.conj().T @ np.kron(_PAULI[pc], _PAULI[pt]) @ cnot, 2)
        table[pc, pt] = (sign, qc, qt)
    return table


def _rotation_table() -> dict[tuple[int, int], tuple[int, int] | None]:
    """For axis A and letter P: None if they commute, else (sign, Q) with iAP = sign · Q."""
    table: dict[tuple[int, int], tuple[int, int] | None] = {}
    for axis, letter in itertools.product((X, Y, Z), range(4)):
        a, p = _PAULI[axis], _PAULI[letter]
        if np.allclose(a @ p, p @ a):
            table[axis, letter] = None
        else:
            sign, (q,) = _as_pauli(1j * a @ p, 1)
            table[axis, letter] = (sign, q)
    return table


CNOT_RULE = _cnot_table()
ROTATION_RULE = _rotation_table()


@dataclass(frozen=True)
class PauliCircuit:
    """A circuit of the propagation family, by shape only (angles are given at evaluation).

    ``loader`` prepares qubit k from input x_k; ``pre`` are the rotation layers before the
    first entangler, each (gate, first angle slot) with qubit k using slot + k; ``body`` is
    the rest, in order: ("cnots", ((control, target), …)) or (gate, first slot). Measures
    Z on every wire of ``measured``.
    """

    n_qubits: int
    loader: str
    pre: tuple[tuple[str, int], ...]
    body: tuple[tuple[str, object], ...]
    measured: tuple[int, ...]
    n_angles: int

    def __post_init__(self) -> None:
        check_loader(self.loader)
        for gate, _ in self.pre:
            if gate not in AXES:
                raise ConfigError(f"unknown rotation {gate!r}; valid: {', '.join(AXES)}")


def from_circuit(circuit: Circuit) -> PauliCircuit:
    """The Pauli-propagation form of a gate list: its ansatz as whole rotation layers and CNOT groups.

    The rotation layers before the first CNOT go to ``pre`` (they act on the product state);
    each layer must rotate every qubit q about one axis with angle slot first + q.
    """
    d = circuit.n_qubits
    groups: list[tuple[str, object]] = []
    for step in columns(circuit.ansatz):
        gate = step[0]
        if gate.name == "cnot":
            if groups and groups[-1][0] == "cnots":
                groups[-1] = ("cnots", groups[-1][1] + (gate.wires,))
            else:
                groups.append(("cnots", (gate.wires,)))
            continue
        if sorted(g.wires[0] for g in step) != list(range(d)) or any(
            g.name != gate.name or g.source != "theta" or g.index - g.wires[0] != gate.index - gate.wires[0]
            for g in step
        ):
            raise ConfigError(f"Pauli propagation takes whole rotation layers; {circuit.kind} has a partial one")
        groups.append((gate.name, gate.index - gate.wires[0]))
    first_cnots = next((i for i, (name, _) in enumerate(groups) if name == "cnots"), 1)
    return PauliCircuit(
        d, circuit.loader, tuple(groups[:first_cnots]), tuple(groups[first_cnots:]), circuit.measured, circuit.n_angles
    )


def value_circuit(n_qubits: int, loader: str) -> PauliCircuit:
    """The paper's value circuit on d qubits: loader, RX, RY, CNOT ring, RY; ⟨Z_j⟩ for all j (3d angles)."""
    return from_circuit(build_circuit("value", n_qubits, loader))


def projection_circuit(n_qubits: int, layers: int = 1) -> PauliCircuit:
    """Comajoan Cara et al.'s projection: RX(x_j) embedding, L × (RX(w) layer, CNOT ring); ⟨Z_j⟩ (L·d angles).

    PennyLane's AngleEmbedding followed by BasicEntanglerLayers.
    """
    return from_circuit(build_circuit("projection", n_qubits, layers=layers))


# A term: (sign, letters, factors, power), factors a sorted tuple of (angle slot, 0 for cos / 1
# for sin), power the number of depolarising channels whose λ it carries.
Term = tuple[int, tuple[int, ...], tuple[tuple[int, int], ...], int]


def _conjugate_by_cnots(letters: tuple[int, ...], pairs: tuple[tuple[int, int], ...]) -> tuple[int, tuple[int, ...]]:
    """G† P G for G = the CNOTs applied in order: conjugate by the last one first."""
    out, sign = list(letters), 1
    for control, target in reversed(pairs):
        s, out[control], out[target] = CNOT_RULE[out[control], out[target]]
        sign *= s
    return sign, tuple(out)


def _conjugate_by_rotations(terms: dict, axis: int, first_slot: int) -> dict:
    """R† P R for a rotation layer on every qubit: letters that anticommute split in two."""
    for qubit in range(len(next(iter(terms))[0]) if terms else 0):
        split: dict = {}
        for (letters, factors, power), sign in terms.items():
            rule = ROTATION_RULE[axis, letters[qubit]]
            slot = first_slot + qubit
            if rule is None:
                split[letters, factors, power] = split.get((letters, factors, power), 0) + sign
                continue
            other_sign, other = rule
            keep = (letters, tuple(sorted((*factors, (slot, 0)))), power)
            turned = (letters[:qubit] + (other,) + letters[qubit + 1 :], tuple(sorted((*factors, (slot, 1)))), power)
            split[keep] = split.get(keep, 0) + sign
            split[turned] = split.get(turned, 0) + sign * other_sign
        terms = {key: sign for key, sign in split.items() if sign}
        if len(terms) > MAX_TERMS:
            raise ConfigError(
                f"exact Pauli propagation of this circuit needs more than {MAX_TERMS} Pauli strings for one "
                "observable; use fewer rotation layers after the first entangler (or fewer qubits)"
            )
    return terms


@functools.lru_cache(maxsize=64)
def propagate(circuit: PauliCircuit, noisy: bool = False) -> tuple[tuple[int, Term], ...]:
    """U† Z_j U of the circuit's body as signed Pauli strings: ((observable index, term), …).

    Each factor (slot, kind) of a term contributes cos θ_slot (kind 0) or sin θ_slot (kind 1)
    to its coefficient; repeated factors (a cos² from two paths) are kept as a product.
    ``noisy``: a depolarising channel follows every gate on each of its wires; it shrinks
    every non-identity letter it meets by λ = 1 − 4p/3 (and is its own adjoint), so a term
    also counts the channels it met, its ``power`` of λ. Without noise every power is 0.
    """
    d = circuit.n_qubits
    out = []
    for index, wire in enumerate(circuit.measured):
        letters = tuple(Z if q == wire else I for q in range(d))
        terms = {(letters, (), 0): 1}
        for gate, argument in reversed(circuit.body):
            if gate == "cnots":
                for pair in reversed(argument):  # last CNOT first, its channels before it
                    moved: dict = {}
                    for (lets, factors, power), sign in terms.items():
                        if noisy:  # the channels after this CNOT, on control and target
                            power += sum(lets[q] != I for q in pair)
                        s, new = _conjugate_by_cnots(lets, (pair,))
                        moved[new, factors, power] = moved.get((new, factors, power), 0) + sign * s
                    terms = {key: sign for key, sign in moved.items() if sign}
            else:
                if noisy:  # the channel after each rotation of the layer, on its wire
                    terms = {(lets, f, n + sum(p != I for p in lets)): sign for (lets, f, n), sign in terms.items()}
                terms = _conjugate_by_rotations(terms, AXES[gate], int(argument))
        out += [(index, (sign, lets, factors, power)) for (lets, factors, power), sign in sorted(terms.items())]
    return tuple(out)


class _Plan:
    """How a forward pass evaluates every term of a propagated circuit in a few operations.

    On a CNOT ring many strings are runs of one letter from the first qubit (Z₀, Z₀Z₁, …,
    Z₀…Z_j): those are read from a cumulative product of that letter's components. Every
    other string is a product of explicit factors, gathered and multiplied in groups of
    equal length. A final matrix product applies the coefficients
    and sums the terms of each observable.
    """

    def __init__(self, circuit: PauliCircuit, noisy: bool = False) -> None:
        terms = propagate(circuit, noisy)
        d = circuit.n_qubits
        self.n_qubits, self.n_observables = d, len(circuit.measured)
        width = max((len(t[2]) for _, t in terms), default=0)
        p = circuit.n_angles
        supports = [[(k, letter) for k, letter in enumerate(t[1]) if letter != I] for _, t in terms]
        prefix_of: dict[int, set[int]] = {}  # letter → lengths of the runs Z₀…Z_j that occur
        for support in supports:
            if len(support) > 1 and support == [(k, support[0][1]) for k in range(len(support))]:
                prefix_of.setdefault(support[0][1], set()).add(len(support))
        self.scanned = tuple(sorted(letter for letter, lengths in prefix_of.items() if len(lengths) > 1))
        # Indices into [1, ⟨X⟩ (d), ⟨Y⟩ (d), ⟨Z⟩ (d), prefix products of each scanned letter (d)].
        groups: dict[int, list[tuple[int, list[int]]]] = {}
        for index, support in enumerate(supports):
            letter = support[0][1] if support else I
            if letter in self.scanned and support == [(k, letter) for k in range(len(support))]:
                picks = [1 + 3 * d + self.scanned.index(letter) * d + len(support) - 1]
            else:
                picks = [1 + (letter - 1) * d + k for k, letter in support] or [0]
            groups.setdefault(len(picks), []).append((index, picks))

        # Keep only the blocks of the pool that some string reads: ("one",), ("component", letter), ("prefix", letter).
        def block(i: int) -> tuple:
            if i == 0:
                return ("one",)
            if i <= 3 * d:
                return ("component", (i - 1) // d + 1)
            return ("prefix", self.scanned[(i - 1 - 3 * d) // d])

        used = sorted({block(i) for _, members in groups.items() for _, picks in members for i in picks})
        self.blocks = tuple(used)

        def remap(i: int) -> int:
            b = block(i)
            start = sum(1 if u == ("one",) else d for u in used[: used.index(b)])
            return start + (0 if b == ("one",) else (i - 1) % d)

        self.groups = [
            (torch.tensor([remap(p) for _, picks in members for p in picks]), len(members), size)
            for size, members in sorted(groups.items())
        ]
        order = [index for _, members in sorted(groups.items()) for index, _ in members]
        # Terms in evaluation order: their signs, coefficient factors and observables.
        self.signs = torch.tensor([terms[i][1][0] for i in order], dtype=torch.float64)
        self.powers = torch.tensor([terms[i][1][3] for i in order], dtype=torch.float64)
        self.factors = torch.tensor(
            [
                [1 + slot + kind * p for slot, kind in terms[i][1][2]] + [0] * (width - len(terms[i][1][2]))
                for i in order
            ],
            dtype=torch.long,
        ).reshape(len(order), width)
        self.membership = torch.zeros(len(order), self.n_observables, dtype=torch.float64)
        self.membership[torch.arange(len(order)), torch.tensor([terms[i][0] for i in order])] = 1


@functools.lru_cache(maxsize=64)
def _plan(circuit: PauliCircuit, noisy: bool = False) -> _Plan:
    return _Plan(circuit, noisy)


Bloch = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]  # None: exactly zero


def _combine(a: torch.Tensor | None, ca: torch.Tensor, b: torch.Tensor | None, cb: torch.Tensor) -> torch.Tensor | None:
    """a·ca + b·cb, skipping the terms whose component is known to be zero."""
    if a is None:
        return None if b is None else b * cb
    return a * ca if b is None else a * ca + b * cb


def _rotate(bloch: Bloch, gate: str, angle: torch.Tensor) -> Bloch:
    """Bloch components (⟨X⟩, ⟨Y⟩, ⟨Z⟩) after R_gate(angle): a rotation of the sphere about that axis."""
    bx, by, bz = bloch
    c, s = torch.cos(angle), torch.sin(angle)
    if gate == "rx":
        return bx, _combine(by, c, bz, -s), _combine(by, s, bz, c)
    if gate == "ry":
        return _combine(bx, c, bz, s), by, _combine(bz, c, bx, -s)
    return _combine(bx, c, by, -s), _combine(bx, s, by, c), bz


def bloch_vectors(x: torch.Tensor, theta: torch.Tensor, circuit: PauliCircuit) -> Bloch:
    """Each qubit's (⟨X⟩, ⟨Y⟩, ⟨Z⟩) after its loader and the rotations before the first entangler.

    ``x`` (d, M): M inputs, feature-major; ``theta`` (C, P) for C circuits of the same shape.
    Returns three tensors (C, d, M), or (C, d, 1) for the H·RX loader, whose state does not
    depend on x. The angle loader RX(x) merges with a first RX(θ) into RX(x + θ).
    """
    d = circuit.n_qubits
    pre = list(circuit.pre)
    if circuit.loader == "angle":
        angle = x[None]  # (1, d, M): broadcasts over the C circuits
        if pre and pre[0][0] == "rx":
            angle = angle + theta[:, pre[0][1] : pre[0][1] + d, None]
            pre = pre[1:]
        bloch: Bloch = (None, -torch.sin(angle), torch.cos(angle))
    else:  # H then RX(x): |+⟩ up to a phase, whatever x is
        bloch = (torch.ones_like(theta[:, :d, None]), None, None)
    for gate, slot in pre:
        bloch = _rotate(bloch, gate, theta[:, slot : slot + d, None])
    present = [b for b in bloch if b is not None]
    shape = torch.broadcast_shapes(*(b.shape for b in present))
    return tuple(present[0].new_zeros(()).expand(shape) if b is None else b.expand(shape) for b in bloch)


def pauli_expectations(
    x: torch.Tensor, theta: torch.Tensor, circuit: PauliCircuit, depolarizing: float = 0.0
) -> torch.Tensor:
    """⟨Z_j⟩ of the circuit for inputs ``x`` (..., d) and angles ``theta`` (P,) or (C, P).

    ``depolarizing``: the strength p of a depolarising channel after every gate (chapter 10's
    device model, :mod:`qvit_lib.quantum.device.noise`): each term's coefficient carries λ^power, and
    each qubit's Bloch vector shrinks by λ once per gate before the first entangler.

    Returns (..., n_measured), or (..., C, n_measured) for C circuits of the same shape with
    their own angles (e.g. the query, key and value projections of one token). Works
    feature-major inside (qubits first, inputs last), so that every gather copies whole rows.
    """
    single = theta.ndim == 1
    theta = theta[None] if single else theta
    d = circuit.n_qubits
    if x.shape[-1] != d or theta.shape[-1] != circuit.n_angles:
        raise ValueError(
            f"circuit on {d} qubits with {circuit.n_angles} angles got inputs "
            f"{tuple(x.shape)} and angles {tuple(theta.shape)}"
        )
    plan = _plan(circuit, bool(depolarizing))
    trig = torch.cat([torch.ones_like(theta[:, :1]), torch.cos(theta), torch.sin(theta)], dim=-1)  # (C, 1 + 2P)
    coefficient = plan.signs.to(theta) * trig[:, plan.factors].prod(-1)  # (C, T)
    shrink = 1 - 4 * depolarizing / 3
    if depolarizing:
        coefficient = coefficient * shrink ** plan.powers.to(theta)
    weights = coefficient[..., None] * plan.membership.to(theta)  # (C, T, n_obs): coefficient and sum in one
    components = bloch_vectors(x.reshape(-1, d).T, theta, circuit)  # 3 × (C, d, M)
    if depolarizing:
        gates_before = (2 if circuit.loader == "hadamard" else 1) + len(circuit.pre)
        components = tuple(c * shrink**gates_before for c in components)
    sources = {
        "one": lambda _: torch.ones_like(components[0][:, :1]),
        "component": lambda letter: components[letter - 1],
        "prefix": lambda letter: components[letter - 1].cumprod(1),
    }
    pool = torch.cat([sources[kind](*rest) for kind, *rest in plan.blocks], dim=1)  # (C, rows read, M)
    strings = torch.cat(
        [pool.index_select(1, picks).unflatten(1, (n, size)).prod(2) for picks, n, size in plan.groups], dim=1
    )  # (C, T, M)
    out = torch.einsum("ctm,cto->mco", strings, weights)  # (M, C, n_obs)
    out = out.expand(x.reshape(-1, d).shape[0], *out.shape[1:]) if circuit.loader == "hadamard" else out
    out = out.reshape(*x.shape[:-1], *out.shape[1:])
    return out[..., 0, :] if single else out


def describe(circuit: PauliCircuit) -> list[str]:
    """The propagated observables as text, e.g. ``⟨Z_1⟩ = +cos θ_8 · Z0 Z1 + sin θ_8 · X1 X2``."""
    lines: dict[int, list[str]] = {}
    for index, (sign, letters, factors, _) in propagate(circuit):
        trig = " ".join(f"{'cos' if kind == 0 else 'sin'} θ_{slot}" for slot, kind in factors) or "1"
        string = " ".join(f"{LETTERS[p]}{q}" for q, p in enumerate(letters) if p != I) or "I"
        lines.setdefault(index, []).append(f"{'+' if sign > 0 else '−'}{trig} · {string}")
    return [f"⟨Z_{circuit.measured[i]}⟩ = " + " ".join(terms) for i, terms in sorted(lines.items())]


def term_count(circuit: PauliCircuit) -> int:
    """Pauli strings in the propagated observables: the cost per token of evaluating them."""
    return len(propagate(circuit))


__all__ = [
    "MAX_TERMS",
    "PauliCircuit",
    "bloch_vectors",
    "describe",
    "from_circuit",
    "pauli_expectations",
    "projection_circuit",
    "propagate",
    "term_count",
    "value_circuit",
]
