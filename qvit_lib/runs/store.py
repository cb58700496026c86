"""The run store: where every recorded run lives, and the checks that keep its files honest.

A run — a trained classifier, a shower GAN, a device scan — is a JSON record and, for trained
networks, a weights file beside it:

    data/results/<folder>/<protocol>/<name>[-seed<S>].json   (and .pt, and .scores.npz)

where ``<folder>`` is empty for classifiers, ``gan`` for GANs and ``hardware`` for the device
scans and shot fine-tuning runs of chapter 10. Seed 0 has no suffix, so the committed names stay what the
chapters cite. Every write is atomic (a temporary file, then a rename). A record is checked
against its kind's schema when it is read: truncated JSON, a missing or unknown field, a
wrong type, or a name that disagrees with the file's → :class:`~qvit_lib.core.errors.RecordError`
naming the file and the field. A record holds the SHA-256 of its weights, and the weights
are loaded only if they match it and are finite: weights of another run, edited weights and
NaN weights are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from qvit_lib.core.config import DATA_DIR
from qvit_lib.core.errors import CheckpointError, ConfigError, RecordError
from qvit_lib.core.provenance import write_record
from qvit_lib.models.vit import count_parameters
from qvit_lib.training.checkpoint import check_state_fits

__all__ = [
    "RESULTS_DIR",
    "SCORES_SUFFIX",
    "Schema",
    "RunFiles",
    "run_name",
    "split_run_name",
    "result_paths",
    "check_output_paths",
    "check_record_names",
    "weights_digest",
    "save_weights",
    "save_run",
    "read_record",
    "load_weights",
    "load_network",
    "list_records",
]

RESULTS_DIR = DATA_DIR / "results"
SCORES_SUFFIX = ".scores.npz"

Schema = Mapping[str, object]  # field → type, tuple of types, or a nested Schema
"""A record's fields and their types. A nested mapping is a dict checked field by field; a
field whose name ends in ``?`` may be absent."""


@dataclass(frozen=True)
class RunFiles:
    """The files of one run: its record, its weights and (classifiers) its test scores."""

    record: Path
    weights: Path
    scores: Path


def run_name(name: str, seed: int) -> str:
    """``name`` for seed 0, ``name-seed<S>`` otherwise."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return name if seed == 0 else f"{name}-seed{seed}"


def split_run_name(stem: str) -> tuple[str, int]:
    """The (name, seed) of a run file's stem: the inverse of :func:`run_name`."""
    head, sep, tail = stem.rpartition("-seed")
    if sep and tail.isdigit() and not tail.startswith("0"):
        return head, int(tail)
    return stem, 0


def result_paths(
    protocol: str, name: str, seed: int = 0, *, folder: str = "", results_dir: Path | None = None
) -> RunFiles:
    """The files of run ``name`` with ``seed`` under ``protocol``: the one place that makes run paths."""
    for label, value in (("protocol", protocol), ("name", name)):
        if not value or "/" in value or value.startswith("."):
            raise ConfigError(f"{label} {value!r} cannot name a results folder or file")
    root = (results_dir or RESULTS_DIR) / folder / protocol
    stem = run_name(name, seed)
    return RunFiles(root / f"{stem}.json", root / f"{stem}.pt", root / f"{stem}{SCORES_SUFFIX}")


def check_output_paths(*paths: Path) -> None:
    """Refuse, before any work, output files that cannot be written: a file where a folder
    should be, a folder where the file should be, or a folder without write permission."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder; expected a file to write the run's results to")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise ConfigError(f"{parent}: is a file, not a folder; cannot write {path} under it")
        if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise ConfigError(f"{parent}: no permission to write {path.name} there")


def weights_digest(path: Path) -> str:
    """The SHA-256 of a weights file, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_weights(state: Mapping[str, torch.Tensor], path: Path) -> str:
    """Write weights (on the CPU) atomically; returns their SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({k: v.detach().cpu() for k, v in state.items()}, tmp)
    os.replace(tmp, path)
    return weights_digest(path)


def save_run(record: dict[str, object], files: RunFiles, state: Mapping[str, torch.Tensor] | None = None) -> None:
    """Write a run: its weights first (their SHA-256 goes into the record), then its record."""
    if state is not None:
        record["weights_sha256"] = save_weights(state, files.weights)
    write_record(record, files.record)


def _type_name(expected: object) -> str:
    if isinstance(expected, tuple):
        return " or ".join(_type_name(t) for t in expected)
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true/false",
    }[expected]


def _check(value: object, expected: object, field: str, path: Path) -> None:
    if isinstance(expected, Mapping):
        if not isinstance(value, dict):
            raise RecordError(f"{path}: field {field!r} should be an object, found {type(value).__name__}")
        _check_fields(value, expected, path, prefix=f"{field}.")
        return
    types = expected if isinstance(expected, tuple) else (expected,)
    if float in types:
        types = (*types, int)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise RecordError(
            f"{path}: field {field!r} should be {_type_name(expected)}, found {type(value).__name__} {value!r:.40}"
        )


def _check_fields(record: dict, schema: Schema, path: Path, prefix: str = "") -> None:
    known = {key.rstrip("?") for key in schema}
    unknown = sorted(set(record) - known)
    if unknown:
        raise RecordError(f"{path}: unknown field '{prefix}{unknown[0]}' (expected only {', '.join(sorted(known))})")
    for key, expected in schema.items():
        name = key.rstrip("?")
        if name not in record:
            if key.endswith("?"):
                continue
            raise RecordError(f"{path}: field '{prefix}{name}' is missing; the record may be truncated or edited")
        _check(record[name], expected, prefix + name, path)


def check_record_names(
    record: Mapping[str, object],
    path: Path,
    build: Callable[[dict], object],
    name_field: str,
    protocol: tuple[str, str],
) -> None:
    """A record describes one run: its configuration (``build(record["config"])``, with a
    ``name`` or ``variant``), its ``name_field``, its seed and its protocol (field, value) agree
    with each other and with the file's name and folder."""
    try:
        config = build(record["config"])
    except (TypeError, ValueError) as err:
        raise RecordError(f"{path}: field 'config' is not a configuration of this kind of run ({err})") from None
    described = getattr(config, "variant", None) or config.name
    name = record[name_field]
    if described != name:
        raise RecordError(f"{path}: field 'config' describes {described}, but field {name_field!r} says {name}")
    if run_name(name, record["seed"]) != path.stem:
        raise RecordError(
            f"{path}: fields {name_field!r} and 'seed' name the run {run_name(name, record['seed'])}, not {path.stem}"
        )
    field, value = protocol
    if value != path.parent.name:
        raise RecordError(
            f"{path}: field {field!r} is {value!r}, but the record lies in the {path.parent.name!r} folder"
        )


def read_record(
    path: Path, schema: Schema, check: Callable[[dict[str, object], Path], None] | None = None
) -> dict[str, object]:
    """A run's record, checked against ``schema`` and by ``check`` (names against the file's)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as err:
        raise RecordError(f"{path}: cannot be read as a run record ({type(err).__name__})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise RecordError(
            f"{path}: not valid JSON at line {err.lineno}, column {err.colno} ({err.msg}); the record may be truncated"
        ) from None
    if not isinstance(record, dict):
        raise RecordError(f"{path}: a run record is a JSON object, found {type(record).__name__}")
    _check_fields(record, schema, path)
    if check is not None:
        check(record, path)
    return record


def load_weights(files: RunFiles, record: Mapping[str, object], retrain: str) -> dict[str, torch.Tensor]:
    """A run's weights, refused unless they match the SHA-256 in its record and are finite."""
    if not files.weights.is_file():
        raise RecordError(f"{files.weights}: the weights of this run are missing; retrain with: {retrain}")
    expected = record.get("weights_sha256")
    if expected is None:
        raise RecordError(f"{files.record}: field 'weights_sha256' is missing, so its weights cannot be checked")
    if weights_digest(files.weights) != expected:
        raise RecordError(
            f"{files.weights}: these are not the weights this run recorded (SHA-256 differs from "
            f"{files.record.name}'s 'weights_sha256'): another run's weights or edited ones; retrain with: {retrain}"
        )
    try:
        state = torch.load(files.weights, map_location="cpu", weights_only=True)
    except Exception as err:
        raise RecordError(f"{files.weights}: cannot be read as weights ({type(err).__name__})") from None
    bad = [key for key, value in state.items() if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if bad:
        raise RecordError(f"{files.weights}: weights {', '.join(bad[:3])} are not finite (NaN or infinite)")
    return state


def load_network(
    files: RunFiles,
    read: Callable[[Path], dict[str, object]],
    build: Callable[[dict[str, object]], torch.nn.Module],
    recorded_parameters: Callable[[dict[str, object]], int],
    missing: str,
    retrain: str,
) -> tuple[torch.nn.Module, dict[str, object]]:
    """A committed run's network, in evaluation mode, and its record.

    The record is read with ``read`` (schema and names), the network built from it with
    ``build``, and the weights loaded only if they match the record's digest, are finite, fit
    the architecture and give the parameter count ``recorded_parameters`` says.
    """
    if not files.record.is_file() or not files.weights.is_file():
        raise CheckpointError(f"{files.record}: {missing}; train it with: {retrain}")
    record = read(files.record)
    network = build(record)
    state = load_weights(files, record, retrain)
    check_state_fits(network, state, files.weights)
    network.load_state_dict(state)
    counted, recorded = count_parameters(network), recorded_parameters(record)
    if counted != recorded:
        raise RecordError(f"{files.weights}: {counted} parameters, but its record says {recorded}")
    return network.eval(), record


def list_records(
    folder: Path,
    is_run: Callable[[str], bool],
    read: Callable[[Path], dict[str, object]],
) -> dict[str, dict[str, object]]:
    """Every run record in ``folder``, keyed by file stem, read with ``read``.

    A JSON file whose name is not a run's (``is_run`` says which are) is skipped with a note on
    stderr, not read; a run's record that is damaged raises a clear error.
    """
    records = {}
    for path in sorted(Path(folder).glob("*.json")):
        if not is_run(path.stem):
            print(f"note: {path} is not a run's record (no variant of that name); skipped", file=sys.stderr)
            continue
        records[path.stem] = read(path)
    return records
