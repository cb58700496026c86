"""The trained hybrids on a quantum computer (chapter 10): shots, noise, and what it would cost.

* :func:`emulate` runs every hybrid attention head and quantum feed-forward of a model as a
  device would — finite shots, depolarising gate noise, readout errors
  (:mod:`qvit_lib.quantum.device.noise`, :mod:`qvit_lib.quantum.device.chain`) — and
  :func:`device_metrics` evaluates a model that way, seeded.
* :func:`circuit_budget` counts circuit executions per event for inference and for one
  training step with parameter-shift gradients, for every hybrid variant of the book.
* :func:`circuit_layers` schedules each circuit of a variant, and :func:`device_seconds` turns
  executions, shots and layers into seconds at the published rates of :data:`DEVICES`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from qvit_lib.analysis.metrics import classifier_metrics
from qvit_lib.core.config import progress_enabled
from qvit_lib.core.errors import ConfigError, RecordError
from qvit_lib.core.provenance import stamp, write_record
from qvit_lib.data.dataset import EcalDataset
from qvit_lib.models.attention import HybridMultiHeadAttention, QuantumProjectionAttention
from qvit_lib.models.feedforward import QuantumFeedForward
from qvit_lib.models.variants import ATTENTION_LOADERS, ViTConfig
from qvit_lib.quantum import qnodes
from qvit_lib.quantum.ansatz import query_key_parameter_count, value_parameter_count
from qvit_lib.quantum.device.noise import Execution
from qvit_lib.runs import store
from qvit_lib.runs.experiments import data_location, get_protocol, load_trained
from qvit_lib.training.classifier import predict_logits, train

__all__ = [
    "EVALUATION_BATCH",
    "device_circuits",
    "emulate",
    "device_metrics",
    "SHOTS_SCAN",
    "DEPOLARIZING_SCAN",
    "READOUT_SCAN",
    "robustness_scan",
    "fine_tune_with_shots",
    "circuit_budget",
    "DeviceRates",
    "DEVICES",
    "circuit_gates",
    "circuit_layers",
    "device_seconds",
    "HARDWARE_RESULTS",
    "FINE_TUNING",
    "SCAN_SCHEMA",
    "FINE_TUNING_SCHEMA",
    "hardware_path",
    "scan_auc",
    "shots_to_keep",
    "read_hardware_record",
    "hardware_records",
    "SCAN_EVENTS",
    "run_device_scan",
    "run_shot_fine_tuning",
]


EVALUATION_BATCH = 256  #: events per forward pass: the shot sampler's tensors stay small


def device_circuits(model: nn.Module) -> list[HybridMultiHeadAttention | QuantumFeedForward]:
    """The parts of a model that run circuits on the device model: hybrid heads and quantum feed-forwards."""
    return [m for m in model.modules() if isinstance(m, HybridMultiHeadAttention | QuantumFeedForward)]


@contextlib.contextmanager
def emulate(model: nn.Module, execution: Execution) -> Iterator[nn.Module]:
    """Within the block, the model's circuits return what a device would (one seeded sampler).

    Hybrid attention heads and quantum feed-forwards are modelled; quantum projections
    (``qproj``) are not, and a model with them is refused rather than half emulated.
    """
    parts = device_circuits(model)
    if not execution.exact:
        if not parts:
            name = type(model).__name__
            raise ConfigError(f"{name} has no hybrid attention or quantum feed-forward to run on a device")
        if any(isinstance(m, QuantumProjectionAttention) for m in model.modules()):
            raise ConfigError("quantum projections (qproj) are not modelled on a device; chapter 10 runs the others")
    generator = torch.Generator().manual_seed(execution.seed)
    for part in parts:
        part.run_as(execution, generator)
    try:
        yield model
    finally:
        for part in parts:
            part.run_as(None)


def device_metrics(model: nn.Module, tokens: torch.Tensor, labels: torch.Tensor, execution: Execution) -> dict:
    """Accuracy, BCE and ROC AUC of a model whose circuits run as ``execution`` says."""
    with emulate(model, execution), torch.no_grad():
        logits = predict_logits(model, tokens, batch_size=EVALUATION_BATCH)
    return classifier_metrics(logits, labels)


SHOTS_SCAN = (10, 30, 100, 300, 1_000, 3_000, 10_000, 100_000)  #: shots per circuit and token
DEPOLARIZING_SCAN = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)  #: p after every gate
READOUT_SCAN = (0.003, 0.01, 0.03, 0.1)  #: bit-flip probability per measured qubit


def robustness_scan(
    model: nn.Module,
    tokens: torch.Tensor,
    labels: torch.Tensor,
    *,
    shots: tuple[int, ...] = SHOTS_SCAN,
    depolarizing: tuple[float, ...] = DEPOLARIZING_SCAN,
    readout: tuple[float, ...] = READOUT_SCAN,
    seeds: tuple[int, ...] = (0, 1, 2),
    progress: bool | None = None,
) -> dict[str, object]:
    """Test metrics of a trained hybrid against shots, gate noise and readout error, one at a time.

    Every setting is evaluated with each sampling seed in ``seeds`` (noise without shots is
    exact, so it needs one); ``exact`` is the reference every row is compared with.
    """

    settings = [("shots", Execution(shots=s, seed=seed)) for s in shots for seed in seeds]
    settings += [("depolarizing", Execution(depolarizing=p)) for p in depolarizing]
    settings += [("readout", Execution(readout=r)) for r in readout]
    rows = []
    for knob, execution in tqdm(settings, desc="device settings", disable=not progress_enabled(progress), leave=False):
        metrics = device_metrics(model, tokens, labels, execution)
        rows.append({"knob": knob, **dataclasses.asdict(execution), **metrics})
    return {"events": len(labels), "exact": device_metrics(model, tokens, labels, Execution()), "rows": rows}


def fine_tune_with_shots(
    model: nn.Module,
    train_set: tuple[torch.Tensor, torch.Tensor],
    val_set: tuple[torch.Tensor, torch.Tensor],
    *,
    shots: int,
    epochs: int,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, object]:
    """Go on training a trained hybrid with ``shots`` in the loop (a straight-through estimator).

    The forward pass sees sampled ⟨Z⟩ estimates, as on a device; the gradient is that of the
    exact expectations (a device would estimate it too, by the parameter-shift rule, with
    shot noise of its own). Validation runs with the same shots, so the best epoch is
    chosen as a device would choose it. Returns the training history and best epoch.
    """

    with emulate(model, Execution(shots=shots, seed=seed)):
        result = train(model, train_set, val_set, epochs=epochs, lr=lr, seed=seed, progress=progress)
    return {"history": result.history, "best_epoch": result.best_epoch}


def circuit_budget(variant: str, shots: int = 1_000) -> dict[str, object]:
    """Circuit executions and shots per event of a variant: inference, and one training step.

    Per token and encoder layer a hybrid head runs a query, a key and a value circuit per head;
    a quantum feed-forward one circuit, a layer of quantum projections four; a Runge–Kutta
    layer of order k all of them k times. A training step needs the gradient of every circuit
    with respect to its P angles and its d inputs (which depend on earlier parameters): by
    the parameter-shift rule two more executions per angle and per input.
    """

    config = ViTConfig.from_variant(variant)
    per_token: list[tuple[str, int, int, int]] = []  # (circuit, count, angles, inputs) per token and layer
    if config.attention in ATTENTION_LOADERS:
        d = config.d_head
        per_token += [("query/key", 2 * config.n_heads, query_key_parameter_count(d), d)]
        per_token += [("value", config.n_heads, value_parameter_count(d), d)]
    elif config.attention == "qproj":
        per_token += [("projection", 4, config.projection_layers * config.d_token, config.d_token)]
    if config.feed_forward == "qmlp":
        per_token += [("feed-forward", 1, value_parameter_count(config.d_token), config.d_token)]
    repeats = config.n_tokens * config.encoder_layers * config.rk_order
    inference = repeats * sum(count for _, count, _, _ in per_token)
    gradient = repeats * sum(count * 2 * (angles + inputs) for _, count, angles, inputs in per_token)
    return {
        "variant": variant,
        "circuits": [
            {
                "circuit": name,
                "per_token_and_layer": count,
                "per_event": repeats * count,
                "angles": angles,
                "inputs": inputs,
            }
            for name, count, angles, inputs in per_token
        ],
        "executions_inference": inference,
        "executions_training_step": inference + gradient,
        "shots_inference": inference * shots,
        "shots_training_step": (inference + gradient) * shots,
    }


@dataclasses.dataclass(frozen=True)
class DeviceRates:
    """Published speed figures of one quantum computer, with where they come from.

    Either a CLOPS figure (circuit layers × shots per second, end to end: a shot of a circuit
    of D layers takes D / CLOPS seconds) or gate durations (a shot takes the circuit's critical
    path at those durations; readout, reset and transfers are not counted, so a lower bound).
    """

    name: str
    technology: str
    source: str
    clops: float | None = None
    one_qubit_gate_seconds: float | None = None
    two_qubit_gate_seconds: float | None = None

    def shot_seconds(self, ops: list[tuple[int, ...]]) -> float:
        """Seconds per shot of a circuit given as the wires of its gates, in order."""
        if self.clops is not None:
            return _critical_path(ops, 1.0, 1.0) / self.clops
        return _critical_path(ops, self.one_qubit_gate_seconds, self.two_qubit_gate_seconds)


#: The devices of chapter 10's cost model.
DEVICES = (
    DeviceRates(
        "IBM Heron r2 (ibm_fez)",
        "superconducting",
        "CLOPS_h = 195 000 reported by IBM (February 2025), tabulated by the Quantum Benchmark Zoo; "
        "CLOPS as defined by Wack et al., arXiv:2110.14108",
        clops=195_000,
    ),
    DeviceRates(
        "IonQ Aria",
        "trapped ions",
        "gate durations 135 µs (one qubit) and 600 µs (two qubits), Azure Quantum's IonQ provider page",
        one_qubit_gate_seconds=135e-6,
        two_qubit_gate_seconds=600e-6,
    ),
)


def _critical_path(ops: list[tuple[int, ...]], one_qubit: float, two_qubit: float) -> float:
    """Length of the schedule that starts every gate as soon as its wires are free."""
    free: dict[int, float] = {}
    for wires in ops:
        start = max(free.get(w, 0.0) for w in wires)
        for w in wires:
            free[w] = start + (one_qubit if len(wires) == 1 else two_qubit)
    return max(free.values(), default=0.0)


def circuit_gates(circuit: str, n_qubits: int, loader: str = "angle", layers: int = 1) -> list[tuple[int, ...]]:
    """The wires of every gate of one circuit of the book, in order (as PennyLane records it).

    ``circuit``: "query/key", "value" or "feed-forward" (the value-type circuits of chapters 5
    and 9) or "projection" (chapter 9's quantum projection with ``layers`` entangler layers).
    """
    # lazy: loads PennyLane; importing this module does not
    import pennylane as qml

    x, theta = [0.1] * n_qubits, [0.2] * (3 * n_qubits + 1)
    builders = {
        "query/key": lambda: qnodes.query_key_circuit(x, theta, loader),
        "value": lambda: qnodes.value_circuit(x, theta[: 3 * n_qubits], loader),
        "feed-forward": lambda: qnodes.value_circuit(x, theta[: 3 * n_qubits], loader),
        "projection": lambda: qnodes.projection_circuit(x, [[0.2] * n_qubits] * layers, n_qubits),
    }
    if circuit not in builders:
        raise ValueError(f"unknown circuit {circuit!r}; valid: {', '.join(builders)}")
    with qml.queuing.AnnotatedQueue() as queue:
        builders[circuit]()
    return [tuple(op.wires) for op in _native_gates(qml.tape.QuantumScript.from_queue(queue).operations)]


def _native_gates(ops: list) -> list:
    """Templates (AngleEmbedding, BasicEntanglerLayers) unrolled into their one- and two-qubit gates."""
    gates = []
    for op in ops:
        if len(op.wires) <= 2 and op.name in ("Hadamard", "RX", "RY", "RZ", "CNOT"):
            gates.append(op)
        else:
            gates.extend(_native_gates(op.decomposition()))
    return gates


def circuit_layers(variant: str) -> list[dict[str, object]]:
    """Each circuit of a variant with its gates and its depth in layers (gates on disjoint wires share one)."""

    config = ViTConfig.from_variant(variant)
    loader = ATTENTION_LOADERS.get(config.attention, "angle")
    rows = []
    for entry in circuit_budget(variant)["circuits"]:
        name = entry["circuit"]
        ops = circuit_gates(name, entry["inputs"], loader, config.projection_layers)
        rows.append({**entry, "gates": ops, "layers": int(_critical_path(ops, 1.0, 1.0))})
    return rows


def device_seconds(variant: str, device: DeviceRates, shots: int) -> dict[str, float]:
    """Seconds per event on ``device`` with ``shots`` shots per circuit: inference and one training step.

    Circuits run one after another, each for all its shots; the time to load a new circuit or
    new angles is not counted beyond what the device's figure includes.
    """
    inference = training = 0.0
    for row in circuit_layers(variant):  # executions counted once, by circuit_budget
        per_execution = shots * device.shot_seconds(row["gates"])
        inference += row["per_event"] * per_execution
        training += row["per_event"] * (1 + 2 * (row["angles"] + row["inputs"])) * per_execution
    return {"inference": inference, "training_step": training}


HARDWARE_RESULTS = "hardware"  #: data/results/hardware/<protocol>/: the scans and fine-tuning runs of chapter 10
SCAN_EVENTS = 4_000  #: test events per setting: the first of the protocol's test split
FINE_TUNING = "-finetune-shots"  #: a fine-tuning record is named <variant>-finetune-shots<S>

_PROVENANCE: store.Schema = {"machine": dict, "versions": dict, "code": dict, "finished": str}
_METRICS: store.Schema = {"accuracy": float, "bce": float, "auc": float}
SCAN_SCHEMA: store.Schema = {
    "variant": str,
    "protocol": str,
    "seed": int,
    "events": int,
    "exact": _METRICS,
    "rows": list,
    "wall_seconds": float,
    **_PROVENANCE,
}
"""A device scan's record (:func:`run_device_scan`): every field and its type."""
FINE_TUNING_SCHEMA: store.Schema = {
    "variant": str,
    "protocol": str,
    "shots": int,
    "epochs": int,
    "n_train": int,
    "events": int,
    "sampling_seeds": list,
    "arms": dict,
    "wall_seconds": float,
    **_PROVENANCE,
}
"""A shot fine-tuning run's record (:func:`run_shot_fine_tuning`): every field and its type."""


def scan_auc(scan: dict[str, object], knob: str, value: float) -> float:
    """A device scan's test AUC at one setting of one knob, averaged over its sampling seeds (chapter 10)."""
    aucs = [row["auc"] for row in scan["rows"] if row["knob"] == knob and row[knob] == value]
    if not aucs:
        raise ConfigError(f"the scan of {scan['variant']} has no setting {knob} = {value}")
    return float(sum(aucs) / len(aucs))


def shots_to_keep(scan: dict[str, object], tolerance: float) -> int | None:
    """The fewest shots per circuit of a scan whose AUC is within ``tolerance`` of the exact one (None: none is)."""
    exact = scan["exact"]["auc"]
    scanned = sorted({row["shots"] for row in scan["rows"] if row["knob"] == "shots"})
    return next((s for s in scanned if exact - scan_auc(scan, "shots", s) < tolerance), None)


def hardware_path(name: str, protocol: str, seed: int = 0, results_dir: Path | None = None) -> Path:
    """Where a record of this module lives: ``data/results/hardware/<protocol>/<run>.json``."""
    return store.result_paths(protocol, name, seed, folder=HARDWARE_RESULTS, results_dir=results_dir).record


def _check_scan_names(record: dict[str, object], path: Path) -> None:
    """A scan's variant, seed and protocol are those its file's name and folder say."""
    variant, seed = store.split_run_name(path.stem)
    ViTConfig.from_variant(record["variant"])  # a clear error for a name that is no variant
    for field, expected in (("variant", variant), ("seed", seed), ("protocol", path.parent.name)):
        if record[field] != expected:
            raise RecordError(f"{path}: field '{field}' is {record[field]!r}, but the file is that of {expected!r}")


def _check_fine_tuning_names(record: dict[str, object], path: Path) -> None:
    """A fine-tuning record's variant, shots and protocol are those its file's name and folder say."""
    expected = {"variant": record["variant"], "shots": record["shots"], "protocol": path.parent.name}
    if path.stem != f"{record['variant']}{FINE_TUNING}{record['shots']}" or record["protocol"] != expected["protocol"]:
        raise RecordError(
            f"{path}: the record is that of {record['variant']} with {record['shots']} shots under protocol "
            f"{record['protocol']!r}, but its file is named {path.parent.name}/{path.name}"
        )


def read_hardware_record(path: Path) -> dict[str, object]:
    """A scan's or a fine-tuning run's record, checked against its schema and its file's name."""
    path = Path(path)
    if FINE_TUNING in path.stem:
        return store.read_record(path, FINE_TUNING_SCHEMA, _check_fine_tuning_names)
    return store.read_record(path, SCAN_SCHEMA, _check_scan_names)


def _names_a_record(stem: str) -> bool:
    """Whether a file stem names a scan (a run's name) or a fine-tuning run of a variant."""
    name = stem.split(FINE_TUNING)[0] if FINE_TUNING in stem else store.split_run_name(stem)[0]
    try:
        ViTConfig.from_variant(name)
    except ConfigError:
        return False
    return True


def hardware_records(protocol: str = "cpu", results_dir: Path | None = None) -> dict[str, dict[str, object]]:
    """Every scan and fine-tuning record of a protocol, by file stem; other JSON files are skipped with a note."""
    folder = hardware_path("x", protocol, results_dir=results_dir).parent
    return store.list_records(folder, _names_a_record, read_hardware_record)


def _test_events(protocol: str, n_events: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n_events`` of a protocol's test split: events its runs were tested on."""

    with EcalDataset(data_location(get_protocol(protocol))) as dataset:
        return dataset.tokens("test", n_events)


def run_device_scan(
    variant: str, protocol: str = "cpu", seed: int = 0, n_events: int = SCAN_EVENTS, results_dir=None, **scan
) -> dict[str, object]:
    """:func:`robustness_scan` of a committed run, written to ``data/results/hardware/<protocol>/<run>.json``."""

    path = hardware_path(variant, protocol, seed, results_dir)
    store.check_output_paths(path)  # before the work, not after
    model, _ = load_trained(variant, protocol, seed)
    tokens, labels = _test_events(protocol, n_events)
    start = time.perf_counter()
    result = robustness_scan(model, tokens, labels, **scan)
    wall = round(time.perf_counter() - start, 1)
    record = dict(variant=variant, protocol=protocol, seed=seed, **result, wall_seconds=wall, **stamp())
    write_record(record, path)
    return record


def run_shot_fine_tuning(
    variant: str = "hybrid-angle-cmx-pe",
    protocol: str = "cpu",
    *,
    shots: int = 100,
    epochs: int = 2,
    n_train: int = 20_000,
    n_events: int = SCAN_EVENTS,
    sampling_seeds: tuple[int, ...] = (0, 1, 2),
    results_dir=None,
    progress: bool | None = None,
) -> dict[str, object]:
    """Does training with shot noise make a model robust to it? Two arms from the same committed run.

    Both go on training the committed seed-0 model for ``epochs`` on the first ``n_train``
    training events, validated on the first ``n_events`` of the validation split: one with
    exact expectations, one with ``shots`` in the loop (validation too). Both are then
    tested exactly and at ``shots`` (several sampling seeds), beside the committed model.
    """

    path = hardware_path(f"{variant}{FINE_TUNING}{shots}", protocol, results_dir=results_dir)
    store.check_output_paths(path)  # before the work, not after
    tokens, labels = _test_events(protocol, n_events)
    with EcalDataset(data_location(get_protocol(protocol))) as dataset:
        train_set, val_set = dataset.tokens("train", n_train), dataset.tokens("val", n_events)

    def tested(model: nn.Module) -> dict[str, object]:
        return {
            "exact": device_metrics(model, tokens, labels, Execution()),
            "shots": [device_metrics(model, tokens, labels, Execution(shots=shots, seed=s)) for s in sampling_seeds],
        }

    start = time.perf_counter()
    arms: dict[str, object] = {"committed": tested(load_trained(variant, protocol).model)}
    for arm in ("exact", "shots"):
        model = load_trained(variant, protocol).model.train()
        if arm == "shots":
            run = fine_tune_with_shots(model, train_set, val_set, shots=shots, epochs=epochs, progress=progress)
        else:
            result = train(model, train_set, val_set, epochs=epochs, lr=1e-3, seed=0, progress=progress)
            run = {"history": result.history, "best_epoch": result.best_epoch}
        arms[f"tuned {arm}"] = {**run, **tested(model.eval())}
    record = dict(
        variant=variant,
        protocol=protocol,
        shots=shots,
        epochs=epochs,
        n_train=n_train,
        events=n_events,
        sampling_seeds=list(sampling_seeds),
        arms=arms,
        wall_seconds=round(time.perf_counter() - start, 1),
        **stamp(),
    )
    write_record(record, path)
    return record
