"""Benchmarks: figures printed side by side, never asserted in tests."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from qvit_lib.core import paper
from qvit_lib.core.config import CACHE_DIR, DATA_DIR, REPO_ROOT, progress_enabled
from qvit_lib.core.errors import ConfigError
from qvit_lib.core.provenance import machine, processor, versions
from qvit_lib.models.variants import ViTConfig

__all__ = [
    "bench_simulation",
    "bench_generator",
    "baseline_package",
    "STEP_PATHS",
    "training_step",
    "compare_training_steps",
    "device_scaling",
    "bench_training",
    "DESIGN_VARIANTS",
    "DESIGN_TARGETS",
    "DESIGN_DEFAULT_TARGET",
    "bench_design",
    "bench_sweep",
    "STEP_TARGETS",
    "profile_step",
    "bench_targets",
    "PEER_MEMBERS",
    "bench_peers",
    "run_benchmarks",
]


def bench_simulation(n_events: int = 100_000, seed: int = 0) -> dict[str, object]:
    """Time the simulator on ``n_events`` (half per class), in memory and written to HDF5."""
    # lazy: loads SciPy; importing this module does not
    from qvit_lib.data.simulation import profile_table, simulate, write_dataset

    profile_table()  # built once per process; not part of the per-event cost
    start = time.perf_counter()
    simulate(n_events // 2, seed=seed)
    in_memory = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_dataset(os.path.join(tmp, "pair"), 2 * (n_events // 2), seed=seed)
        to_disk = time.perf_counter() - start
    return {
        "suite": "simulation",
        "events": 2 * (n_events // 2),
        "seconds_in_memory": round(in_memory, 2),
        "seconds_to_hdf5": round(to_disk, 2),
        "events_per_s": round(n_events / in_memory),
        "seconds_per_100k": round(in_memory * 100_000 / n_events, 2),
        "target_seconds_per_100k": 60.0,
        "machine": machine(),
    }


GENERATOR_BATCHES = (1, 100, 1_000)  #: showers per call, as the CaloChallenge times them (1, 100, 10 000)


def _rate(make, n_showers: int, batch: int, repeats: int) -> list[float]:
    """Showers per second of ``make(n)`` over ``repeats`` timings of ``n_showers`` in calls of ``batch``."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, n_showers, batch):
            make(min(batch, n_showers - i), i)
        rates.append(n_showers / (time.perf_counter() - start))
    return rates


def bench_generator(n_showers: int = 4_000, repeats: int = 3, models: tuple[str, ...] | None = None) -> dict:
    """Showers per second of every GAN generator (untrained weights: the cost does not depend on them)
    and of the simulator, one thread each, at several batch sizes, each timed ``repeats`` times.

    The simulator simulates whole chunks of events with NumPy; its batch is the number of events
    per call, as the generators'. Median and range of the repeats are reported.
    """
    # lazy: loads torch; importing this module does not
    import torch

    # lazy: loads SciPy; importing this module does not
    from qvit_lib.data.simulation import profile_table, simulate_particle

    # lazy: loads torch; importing this module does not
    from qvit_lib.models.gan import GAN_MODELS, build_gan

    def summary(rates: list[float]) -> dict[str, float]:
        return {"median": round(float(np.median(rates)), 1), "low": round(min(rates), 1), "high": round(max(rates), 1)}

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            profile_table()
            simulator = {
                str(b): summary(_rate(lambda n, i: simulate_particle(i % 2, n, seed=i), n_showers, b, repeats))
                for b in GENERATOR_BATCHES
                if b > 1 or n_showers <= 1_000
            }
            rows = []
            for name in models or tuple(GAN_MODELS):
                generator, _ = build_gan(GAN_MODELS[name], seed=0)
                labels = (torch.arange(max(GENERATOR_BATCHES)) % 2).float()
                eta = torch.linspace(-1.2, 1.2, len(labels))

                def make(n: int, i: int, generator=generator, labels=labels, eta=eta) -> None:
                    generator.sample(labels[:n], eta[:n], torch.Generator().manual_seed(i))

                make(64, 0)  # warm-up
                rates = {str(b): summary(_rate(make, n_showers if b > 1 else n_showers // 10, b, repeats))
                         for b in GENERATOR_BATCHES}  # fmt: skip
                best = max(r["median"] for r in rates.values())
                rows.append(
                    {
                        "generator": name,
                        "showers_per_s": rates,
                        "ratio_to_simulator": round(best / max(r["median"] for r in simulator.values()), 2),
                    }
                )
    finally:
        torch.set_num_threads(threads)
    return {
        "suite": "gan",
        "showers": n_showers,
        "repeats": repeats,
        "threads": 1,
        "simulator_events_per_s": simulator,
        "generators": rows,
        "machine": machine(),
        "versions": versions(),
    }


def baseline_package(revision: str):
    """``qvit_lib`` as it was at a git revision, imported under a name of its own.

    For side-by-side timings: the baseline's training step runs in the same process and in
    turns with today's, so both see the same machine. The package is unpacked with
    ``git archive`` into a temporary directory and imported as ``qvit_baseline_<rev>``.
    """

    commit = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short=10", revision], capture_output=True, text=True
    )
    if commit.returncode != 0:
        raise ConfigError(f"--baseline {revision}: not a revision of the git repository at {REPO_ROOT}")
    name = f"qvit_baseline_{commit.stdout.strip()}"
    if name in sys.modules:
        return sys.modules[name]
    root = tempfile.mkdtemp(prefix="qvit-baseline-")
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", revision, "qvit_lib"], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    os.rename(os.path.join(root, "qvit_lib"), os.path.join(root, name))
    # The library imports itself by absolute name; point those imports at the baseline's own
    # modules, or the baseline would time today's code wherever it imports a sibling module.
    for source in Path(root, name).rglob("*.py"):
        text = source.read_text()
        source.write_text(re.sub(r"\bqvit_lib\b", name, text))
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(root, name, "__init__.py"), submodule_search_locations=[os.path.join(root, name)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.revision = commit.stdout.strip()
    return module


STEP_PATHS = ("kernel", "eager", "inductor")  #: how a benchmarked training step runs


def training_step(
    variant: str,
    batch_size: int,
    backend: str = "fused",
    device: str = "cpu",
    package=None,
    path: str = "kernel",
    **hyper: int,
):
    """A closure running one training step (forward, backward, Adam) at the paper's hyper-parameters.

    ``package``: another version of qvit_lib (:func:`baseline_package`) whose model to time.
    ``path``: ``kernel``, the library's default (the attention kernel where it is built);
    ``eager``, PyTorch's attention kernel (the code before the kernel); ``inductor``, the
    default path through ``torch.compile`` (compiled on the first call).
    """

    # lazy: loads torch; importing this module does not
    import torch

    # lazy: loads torch; importing this module does not
    from torch.nn import functional as F

    # lazy: loads torch; importing this module does not
    from qvit_lib.models.tiny_attention import pytorch_attention

    # lazy: loads torch; importing this module does not
    from qvit_lib.training.compiled import CompiledForward

    if path not in STEP_PATHS:
        raise ConfigError(f"path must be one of {', '.join(STEP_PATHS)}, got {path!r}")
    models = importlib.import_module(f"{package.__name__}.models") if package is not None else None
    # lazy: loads torch; importing this module does not
    from qvit_lib.models.vit import build_model

    build = models.build_model if models is not None else build_model
    model = build(variant, seed=0, backend=backend, **hyper).to(device)
    forward = CompiledForward(model) if path == "inductor" else model
    optimiser = torch.optim.Adam(model.parameters(), lr=paper.LEARNING_RATE)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.rand(batch_size, 32, 32, generator=generator).to(device)
    labels = (torch.rand(batch_size, generator=generator) > 0.5).float().to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    attention = pytorch_attention if path == "eager" else contextlib.nullcontext

    def step() -> float:
        sync()
        start = time.perf_counter()
        with attention():
            optimiser.zero_grad()
            F.binary_cross_entropy_with_logits(forward(tokens), labels).backward()
            optimiser.step()
        sync()
        return time.perf_counter() - start

    return step


def _side_by_side(steps: list, rounds: int) -> list[float]:
    """Median step time of each closure, run in turns (A B C A B C …) after one warm-up each.

    Taking turns exposes every model to the same machine state; on a shared or throttled
    machine, timing one model after the other can move a ratio by tens of percent.
    """
    for step in steps:
        step()
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for i, step in enumerate(steps):
            times[i].append(step())
    return [float(np.median(t)) for t in times]


def compare_training_steps(
    variants: list[str] | tuple[str, ...], batch_size: int = 512, rounds: int = 5, device: str = "cpu"
) -> dict[str, float]:
    """Median seconds per training step of each variant, measured in turns in this process."""
    # lazy: loads torch; importing this module does not
    from qvit_lib.training.process import keep_freed_memory

    keep_freed_memory()
    steps = [training_step(variant, batch_size, "fused", device) for variant in variants]
    return dict(zip(variants, _side_by_side(steps, rounds)))


def _significant(value: float, digits: int = 2) -> float:
    """``value`` rounded to ``digits`` significant figures (for extrapolated figures)."""
    return float(f"{value:.{digits}g}")


def _record(
    backend: str,
    variant: str,
    batch_size: int,
    d_h: int,
    seconds: float,
    classical: float,
    measured_batch: int,
    device: str,
    baseline: float | None = None,
) -> dict[str, object]:
    extrapolated = measured_batch != batch_size
    shown = _significant if extrapolated else (lambda x, _digits=None: round(x, 3))
    record = {
        "backend": backend,
        "variant": variant,
        "batch_size": batch_size,
        "d_h": d_h,
        "n_h": 16 // d_h,
        "device": device,
        "step_seconds": _significant(seconds) if extrapolated else round(seconds, 5),
        "events_per_s": _significant(batch_size / seconds) if extrapolated else round(batch_size / seconds, 1),
        "ratio_to_classical": shown(seconds / classical),
        "extrapolated": extrapolated,
        "measured_batch_size": measured_batch,
    }
    if baseline is not None:
        record["ratio_to_baseline"] = round(seconds / baseline, 3)
    return record


def device_scaling(
    backend: str, variant: str = "hybrid-angle-cmx-pe", budget_s: float = 90.0, largest: int = 512, device: str = "cpu"
) -> list[dict[str, float]]:
    """Step time of a PennyLane device at batch sizes 1, 2, 4, … up to ``largest``, within a time budget.

    ``default.qubit`` broadcasts the whole batch through one simulation, so its cost per event
    falls with the batch; the lightning devices run one circuit per token, so theirs does not.
    Doubling stops before the predicted next step would overrun ``budget_s``.
    """
    spent, batch, rows = 0.0, 1, []
    while batch <= largest:
        step = training_step(variant, batch, backend, device)
        if batch == 1:
            spent += step()  # a warm-up: the first call builds and traces the QNodes
        seconds = step()
        spent += seconds
        rows.append({"batch_size": batch, "step_seconds": round(seconds, 4), "seconds_per_event": seconds / batch})
        if spent + 2.2 * seconds > budget_s:
            break
        batch *= 2
    return rows


def bench_training(
    batch_sizes: tuple[int, ...] = (64, 256, 512, 1024, 4096),
    head_sizes: tuple[int, ...] = (2, 4, 8),
    steps: int = 7,
    devices: tuple[str, ...] | None = None,
    device: str | None = None,
    progress: bool | None = None,
    baseline: str | None = None,
    device_budget_s: float = 90.0,
) -> dict[str, object]:
    """Training-step throughput: every backend, then scaling with batch size and qubits per head.

    1. At batch 512 and d_h = 4: classical and the fused hybrids — with ``baseline`` (a git
       revision) also the same three steps of that revision's code, all in turns, so that
       ``ratio_to_baseline`` compares today's step with the old one on the same machine state.
    2. Each usable PennyLane device at growing batch sizes (:func:`device_scaling`), within
       ``device_budget_s`` seconds each; the figure at 512 is measured if the budget reached
       it, else extrapolated linearly from the largest batch measured (marked so, and rounded
       to two significant figures).
    3. Batch sizes ``batch_sizes``: classical and both fused hybrids.
    4. Qubits per head ``head_sizes`` at batch 512, keeping d_t = n_h·d_h = 16: classical and
       fused ``hybrid-angle``.

    ``ratio_to_classical`` is the step time divided by today's classical step time at the same
    batch size and d_h (1.5 means 1.5× slower). Models compared with each other run in
    turns, ``steps`` rounds each, and the median is kept.
    """
    # lazy: loads torch; importing this module does not
    import torch

    # lazy: loads torch and PennyLane; importing this module does not
    from qvit_lib.quantum.qnodes import DEVICE_ORDER, device_usable

    # lazy: loads torch; importing this module does not
    from qvit_lib.training.process import keep_freed_memory

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    old = baseline_package(baseline) if baseline else None
    fused = ("classical-cmx-pe", "hybrid-cmx-pe", "hybrid-angle-cmx-pe")
    groups: dict[tuple[int, int], list[tuple[str, str]]] = {}  # (batch, d_h) → (backend, variant)
    for batch in sorted(set(batch_sizes) | {512}):
        groups[(batch, 4)] = [("classical" if v.startswith("classical") else "fused", v) for v in fused]
    if old is not None:
        groups[(512, 4)] += [("baseline", v) for v in fused]
    for d_h in head_sizes:
        if d_h != 4:
            groups[(512, d_h)] = [("classical", "classical-cmx-pe"), ("fused", "hybrid-angle-cmx-pe")]
    keep_freed_memory()  # as train() does: large temporaries reused, not page-faulted in anew
    records = []
    for (batch, d_h), members in tqdm(
        groups.items(), desc="benchmark", unit="group", disable=not progress_enabled(progress)
    ):
        closures = [
            training_step(v, batch, "fused", device, package=old if b == "baseline" else None, n_heads=16 // d_h)
            for b, v in members
        ]
        seconds = dict(zip(members, _side_by_side(closures, steps)))
        classical = seconds[("classical", "classical-cmx-pe")]
        for (backend, variant), t in seconds.items():
            before = seconds.get(("baseline", variant)) if backend != "baseline" else None
            records.append(_record(backend, variant, batch, d_h, t, classical, batch, device, before))
        if old is not None and (batch, d_h) == (512, 4):
            for r in records[-len(members) :]:
                if r["backend"] == "baseline":
                    r["revision"] = old.revision
    scaling = {}
    classical = next(r for r in records if (r["backend"], r["batch_size"], r["d_h"]) == ("classical", 512, 4))
    for name in devices if devices is not None else DEVICE_ORDER:
        if not device_usable(name)[0]:
            continue
        rows = device_scaling(name, budget_s=device_budget_s, device=device)
        scaling[name] = rows
        largest = rows[-1]
        at_512 = largest["seconds_per_event"] * 512  # measured if largest["batch_size"] == 512
        records.append(
            _record(
                name, "hybrid-angle-cmx-pe", 512, 4, at_512, classical["step_seconds"], largest["batch_size"], device
            )
        )
    return {
        "suite": "training",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "steps_per_figure": steps,
        "baseline": old.revision if old is not None else None,
        "results": records,
        "device_scaling": scaling,
        "machine": {
            **machine(),
            "processor": processor(),
            "torch_threads": torch.get_num_threads(),
            "device": device,
            "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
        },
        "versions": versions(),
    }


DESIGN_VARIANTS = (
    "classical-cmx-pe",
    "classical-cmx-pe-qmlp",
    "hybrid-angle-cmx-pe",
    "hybrid-angle-cmx-pe-qmlp",
    "hybrid-cmx-pe-qmlp",
    "qproj-cmx-pe",
    "qproj-cmx-pe-qmlp",
    "classical-cmx-pe-rk2",
    "classical-cmx-pe-rk3",
    "classical-cmx-pe-rk4",
    "hybrid-angle-cmx-pe-rk4",
    "qproj-cmx-pe-qmlp-rk4",
)
DESIGN_TARGETS = {"hybrid-angle-cmx-pe-qmlp": 1.5}  #: × classical; every other new variant at order 1: 3×
DESIGN_DEFAULT_TARGET = 3.0


def bench_design(
    variants: tuple[str, ...] = DESIGN_VARIANTS, batch_size: int = 512, steps: int = 7, device: str = "cpu"
) -> dict[str, object]:
    """Chapter 9's variants: training-step time at batch 512 beside ``classical-cmx-pe``, in turns.

    Each order-1 variant has a target (:data:`DESIGN_TARGETS`, else 3× the classical step);
    a Runge–Kutta variant of order k evaluates its layers k times and has none.
    """
    # lazy: loads torch; importing this module does not
    import torch

    seconds = compare_training_steps(
        ("classical-cmx-pe", *[v for v in variants if v != "classical-cmx-pe"]), batch_size, steps, device
    )
    classical = seconds["classical-cmx-pe"]
    rows = []
    for variant, t in seconds.items():
        order = ViTConfig.from_variant(variant).rk_order
        target = (
            None if order > 1 or variant == "classical-cmx-pe" else DESIGN_TARGETS.get(variant, DESIGN_DEFAULT_TARGET)
        )
        ratio = t / classical
        rows.append(
            {
                "variant": variant,
                "step_seconds": _significant(t, 3),
                "ratio_to_classical": _significant(ratio, 3),
                "target": target,
                "meets_target": None if target is None else bool(ratio <= target),
            }
        )
    return {
        "suite": "design",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "batch_size": batch_size,
        "steps_per_figure": steps,
        "results": rows,
        "machine": {**machine(), "processor": processor(), "torch_threads": torch.get_num_threads(), "device": device},
        "versions": versions(),
    }


STEP_TARGETS = {  #: issue-level speed targets at batch 512: name → the largest ratio allowed
    "classical step ÷ the eager PyTorch step": 0.5,
    "hybrid-angle step ÷ classical step": 1.25,
    "Part II step ÷ (RK order × classical step)": 2.0,
    "hybrid-angle step ÷ the paper's public code": 0.01,
}


def profile_step(step, steps: int = 5, warm_up: bool = True) -> list[dict[str, object]]:
    """The eight operators taking the most CPU time (self time) in ``steps`` calls of a training step."""
    # lazy: loads torch; importing this module does not
    from torch.profiler import profile

    if warm_up:
        step()
    with profile() as prof:
        for _ in range(steps):
            step()
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in rows)
    return [
        {
            "operator": e.key,
            "ms_per_step": round(e.self_cpu_time_total / 1e3 / steps, 2),
            "share": round(e.self_cpu_time_total / total, 3),
        }
        for e in rows[:8]
    ]


def bench_targets(
    variants: tuple[str, ...] = DESIGN_VARIANTS, batch_size: int = 512, steps: int = 7, inductor: bool = True
) -> dict[str, object]:
    """Every speed target of the training step, measured in turns in this process, with profiles.

    Members: classical and ``hybrid-angle`` on each path (eager PyTorch attention, the attention
    kernel, the kernel under ``torch.compile``), and chapter 9's variants on the default path.
    A Runge–Kutta variant of order k evaluates its layers k times, so it is compared with k
    classical steps. The ratio to the paper's public code is the one the peers suite measured in
    its own run (``data/bench/peers.json``, :func:`bench_peers`); without that file its target
    is reported as not measured.
    """
    # lazy: loads torch; importing this module does not
    import torch

    # lazy: loads torch; importing this module does not
    from qvit_lib.models.tiny_attention import kernel_path

    # lazy: loads torch; importing this module does not
    from qvit_lib.training.process import keep_freed_memory

    keep_freed_memory()
    paths = ("eager", "kernel", "inductor") if inductor else ("eager", "kernel")
    members = [(p, v) for v in ("classical-cmx-pe", "hybrid-angle-cmx-pe") for p in paths]
    members += [("kernel", v) for v in variants if ("kernel", v) not in members]
    closures = [training_step(v, batch_size, path=p) for p, v in members]
    seconds = dict(zip(members, _side_by_side(closures, steps)))
    classical = seconds[("kernel", "classical-cmx-pe")]
    rows = [
        {
            "path": p,
            "variant": v,
            "step_seconds": _significant(t, 3),
            "ratio_to_classical": _significant(t / classical, 3),
            "rk_order": ViTConfig.from_variant(v).rk_order,
        }
        for (p, v), t in seconds.items()
    ]
    names = list(STEP_TARGETS)
    targets = []
    eager = seconds[("eager", "classical-cmx-pe")]
    for p in paths[1:]:  # the kernel alone, and under torch.compile (the command line's long runs)
        step = {v: seconds[(p, v)] for v in ("classical-cmx-pe", "hybrid-angle-cmx-pe")}
        targets += [
            {"target": names[0], "subject": "classical-cmx-pe", "path": p, "ratio": step["classical-cmx-pe"] / eager},
            {
                "target": names[1],
                "subject": "hybrid-angle-cmx-pe",
                "path": p,
                "ratio": step["hybrid-angle-cmx-pe"] / step["classical-cmx-pe"],
            },
        ]
    for (p, v), t in seconds.items():
        if p == "kernel" and v not in ("classical-cmx-pe", "hybrid-angle-cmx-pe"):
            order = ViTConfig.from_variant(v).rk_order
            targets.append({"target": names[2], "subject": v, "path": p, "ratio": t / (order * classical)})
    peers_file = DATA_DIR / "bench" / "peers.json"
    peers = json.loads(peers_file.read_text()) if peers_file.exists() else None
    targets.append(
        {
            "target": names[3],
            "subject": "hybrid-angle-cmx-pe",
            "path": "kernel",
            # measured in turns with the public code in the peers suite's own run, never across two runs
            "ratio": peers["hybrid_angle_to_public_code"] if peers else None,
            "measured_in": "data/bench/peers.json" if peers else None,
        }
    )
    for t in targets:
        limit = STEP_TARGETS[t["target"]]
        t["ratio"] = None if t["ratio"] is None else _significant(t["ratio"], 3)
        t["limit"] = limit
        t["met"] = None if t["ratio"] is None else bool(t["ratio"] <= limit)
    profiles = {
        f"{v} ({p})": profile_step(training_step(v, batch_size, path=p))
        for v in ("classical-cmx-pe", "hybrid-angle-cmx-pe")
        for p in ("eager", "kernel")
    }
    return {
        "suite": "targets",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "batch_size": batch_size,
        "steps_per_figure": steps,
        "attention": kernel_path(),
        "results": rows,
        "targets": targets,
        "profiles": profiles,
        "machine": {**machine(), "processor": processor(), "torch_threads": torch.get_num_threads(), "device": "cpu"},
        "versions": versions(),
    }


PEER_MEMBERS = (  #: (label, variant, backend): the book's steps and the peers' on the same models
    ("classical", "classical-cmx-pe", "fused"),
    ("fused engine", "hybrid-cmx-pe", "fused"),
    ("fused engine", "hybrid-angle-cmx-pe", "fused"),
    ("public code: TensorCircuit + JAX (jit, vmap)", "hybrid-cmx-pe", "tensorcircuit"),
    ("PennyLane default.qubit, broadcast", "hybrid-angle-cmx-pe", "default.qubit"),
)


def bench_peers(batch_size: int = 512, steps: int = 3) -> dict[str, object]:
    """The training step of the paper's public code and of PennyLane beside the book's, in turns.

    The public code simulates each head's query, key and value circuits with TensorCircuit on
    JAX, mapped over the tokens and compiled (:mod:`qvit_lib.quantum.tensorcircuit_backend`),
    on the paper's model, ``hybrid-cmx-pe`` (its loader, H then RX). PennyLane's
    ``default.qubit`` runs the same circuits broadcast over the tokens. Both peers first show
    that they compute what the fused engine computes (float64, values and gradients). Needs
    the optional extra ``peers`` (TensorCircuit, JAX), installed apart from the book.
    """
    # lazy: loads torch; importing this module does not
    import torch

    # lazy: loads torch; importing this module does not
    from qvit_lib.quantum.qnodes import compare_with_backend

    # lazy: loads torch; importing this module does not
    from qvit_lib.quantum.tensorcircuit_backend import available

    # lazy: loads torch; importing this module does not
    from qvit_lib.training.process import keep_freed_memory

    if not available():
        raise ConfigError(
            "bench --suite peers needs TensorCircuit and JAX, the optional extra 'peers', in a separate environment: "
            "python -m venv .venv-peers && .venv-peers/bin/pip install torch==2.13.0 -e '.[peers]'"
        )
    keep_freed_memory()
    agreement = {
        f"{backend}, {loader} loader": compare_with_backend(backend, loader)
        for backend in ("tensorcircuit", "default.qubit")
        for loader in ("hadamard", "angle")
    }
    closures, first_call = [], []
    for _, variant, backend in PEER_MEMBERS:
        step = training_step(variant, batch_size, backend)
        start = time.perf_counter()
        step()  # the first call compiles (JAX's jit) or builds the QNodes
        first_call.append(time.perf_counter() - start)
        closures.append(step)
    seconds = _side_by_side(closures, steps)
    by_key = {(variant, backend): t for (_, variant, backend), t in zip(PEER_MEMBERS, seconds)}
    classical = by_key[("classical-cmx-pe", "fused")]
    public = by_key[("hybrid-cmx-pe", "tensorcircuit")]
    angle = by_key[("hybrid-angle-cmx-pe", "fused")]
    rows = [
        {
            "label": label,
            "variant": variant,
            "backend": backend,
            "step_seconds": _significant(t, 3),
            "first_call_seconds": _significant(first, 3),
            "ratio_to_classical": _significant(t / classical, 3),
            "ratio_to_public_code": _significant(t / public, 3),
        }
        for (label, variant, backend), t, first in zip(PEER_MEMBERS, seconds, first_call)
    ]
    return {
        "suite": "peers",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "batch_size": batch_size,
        "steps_per_figure": steps,
        "agreement_float64": {k: {name: float(f"{v:.3g}") for name, v in d.items()} for k, d in agreement.items()},
        "results": rows,
        "jax_threads": "1" if "intra_op_parallelism_threads=1" in os.environ.get("XLA_FLAGS", "") else "default",
        "public_code_step_seconds": _significant(public, 3),
        "hybrid_angle_to_public_code": _significant(angle / public, 3),
        "machine": {**machine(), "processor": processor(), "torch_threads": torch.get_num_threads(), "device": "cpu"},
        "versions": {**versions(), **_peer_versions()},
    }


def _peer_versions() -> dict[str, str]:
    """The peers' versions (TensorCircuit, JAX)."""
    return {name: importlib.metadata.version(name) for name in ("tensorcircuit-ng", "jax", "jaxlib")}


def _steps_header(result: dict[str, object], detail: str = "") -> str:
    """The first line of a suite that times training steps in turns: batch, threads, processor."""
    machine_ = result["machine"]
    return (
        f"training steps at batch {result['batch_size']}, in turns, {machine_['torch_threads']} torch threads "
        f"({machine_.get('processor', '?')}){detail}:"
    )


def _print_peers(result: dict[str, object]) -> None:
    print(_steps_header(result))
    for r in result["results"]:
        print(
            f"  {r['label']:46s} {r['variant']:22s} {r['step_seconds']:8.3g} s"
            f"  {r['ratio_to_classical']:7.3g}x classical  {r['ratio_to_public_code']:7.3g}x the public code"
            f"  (first call {r['first_call_seconds']:.3g} s)"
        )
    print("largest difference from the fused engine, float64 (values and gradients):")
    for name, diffs in result["agreement_float64"].items():
        print(f"  {name}: {max(diffs.values()):.1e}")


def _print_targets(result: dict[str, object]) -> None:
    print(_steps_header(result, f"; {result['attention']}"))
    for r in result["results"]:
        print(f"  {r['path']:8s} {r['variant']:28s} {r['step_seconds'] * 1e3:8.1f} ms  {r['ratio_to_classical']:6.2f}x")
    print("targets (ratio measured, largest allowed):")
    for t in result["targets"]:
        if t["ratio"] is None:
            print(
                f"  {t['target']} [{t['subject']}, {t['path']}]: not measured "
                "(no data/bench/peers.json: the public code not timed)"
            )
            continue
        verdict = "met" if t["met"] else f"MISSED by {t['ratio'] / t['limit']:.2f}x"
        print(f"  {t['target']} [{t['subject']}, {t['path']}]: {t['ratio']:.3g} (<= {t['limit']:g}): {verdict}")
    for name, rows in result["profiles"].items():
        top = ", ".join(f"{r['operator']} {r['ms_per_step']:.1f} ms" for r in rows[:4])
        print(f"  profile {name}: {top}")


def _print_training(result: dict[str, object]) -> None:
    machine_ = result["machine"]
    print(
        f"training step (forward + backward + Adam), paper hyper-parameters, {machine_['cpus']} CPUs "
        f"({machine_.get('processor', '?')}), {machine_['torch_threads']} torch threads, device {machine_['device']}:"
    )
    print(
        f"{'backend':16s} {'variant':22s} {'batch':>6s} {'d_h':>4s} {'step [s]':>9s} {'events/s':>10s} "
        f"{'× classical':>12s} {'× baseline':>11s}"
    )
    for r in result["results"]:
        note = f"  (extrapolated from {r['measured_batch_size']} events)" if r["extrapolated"] else ""
        versus = f"{r['ratio_to_baseline']:11.2f}" if "ratio_to_baseline" in r else " " * 11
        label = f"baseline@{r['revision']}" if r["backend"] == "baseline" and "revision" in r else r["backend"]
        print(
            f"{label:16s} {r['variant']:22s} {r['batch_size']:6d} {r['d_h']:4d} {r['step_seconds']:9.4g} "
            f"{r['events_per_s']:10.1f} {r['ratio_to_classical']:12.3g} {versus}{note}"
        )
    for name, rows in result.get("device_scaling", {}).items():
        print(
            f"{name}: seconds per event by batch size (measured) — "
            + ", ".join(f"{row['batch_size']}: {row['seconds_per_event']:.3g}" for row in rows)
        )


def bench_sweep(
    variants: tuple[str, ...] = ("classical-cmx-pe", "hybrid-cmx-pe", "hybrid-angle-cmx-pe", "none-cmx-pe"),
    repeats: int = 2,
    steps: int = 30,
    batch_size: int = 512,
) -> dict[str, object]:
    """Events per second of a whole sweep: one process with every core's thread, or one
    single-threaded process per core sharing the jobs (each job: ``steps`` training steps).

    Each configuration runs in fresh processes, so thread settings cannot leak between them.
    """

    jobs = [v for v in variants for _ in range(repeats)]
    cores = os.cpu_count() or 1
    script = (
        "import sys, torch; torch.set_num_threads(int(sys.argv[1])); from qvit_lib.runs.bench import training_step\n"
        "for variant in sys.argv[2:]:\n"
        f"    step = training_step(variant, {batch_size}); step()\n"
        f"    [step() for _ in range({steps})]\n"
    )
    configurations = {}
    for processes, threads in ((1, cores), (cores, 1)):
        shares = [jobs[i::processes] for i in range(processes)]
        start = time.perf_counter()
        workers = [subprocess.Popen([sys.executable, "-c", script, str(threads), *share]) for share in shares]
        if any(w.wait() for w in workers):
            raise RuntimeError("a sweep benchmark worker failed")
        wall = time.perf_counter() - start
        events = len(jobs) * (steps + 1) * batch_size
        configurations[f"{processes}x{threads}"] = {
            "processes": processes,
            "threads": threads,
            "seconds": round(wall, 1),
            "events_per_s": round(events / wall),
        }
    return {
        "suite": "sweep",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "jobs": jobs,
        "steps_per_job": steps,
        "batch_size": batch_size,
        "configurations": configurations,
        "machine": {**machine(), "processor": processor()},
        "versions": versions(),
    }


def run_benchmarks(
    suite: str, n_events: int = 100_000, quick: bool = False, out: str | None = None, baseline: str | None = None
) -> dict[str, object]:
    """Run one suite, print its figures and write them as JSON.

    Default output: ``data/bench/<suite>.json``; in quick mode ``data/cache/bench/<suite>.json``
    (a smoke test should not replace the committed figures).
    """

    if suite == "training":
        if quick:
            result = bench_training(
                batch_sizes=(64,),
                head_sizes=(2, 4),
                steps=1,
                devices=("default.qubit",),
                progress=False,
                baseline=baseline,
                device_budget_s=3.0,
            )
        else:
            result = bench_training(baseline=baseline)
        _print_training(result)
    elif suite == "targets":
        if quick:
            result = bench_targets(
                variants=("classical-cmx-pe-qmlp", "classical-cmx-pe-rk2"), batch_size=64, steps=1, inductor=False
            )
        else:
            result = bench_targets()
        _print_targets(result)
    elif suite == "peers":
        result = bench_peers(batch_size=64, steps=1) if quick else bench_peers()
        _print_peers(result)
    elif suite == "sweep":
        result = bench_sweep(repeats=1, steps=2, batch_size=64) if quick else bench_sweep()
        jobs, steps, batch = len(result["jobs"]), result["steps_per_job"], result["batch_size"]
        print(f"sweep throughput, {jobs} jobs of {steps} steps at batch {batch}:")
        for c in result["configurations"].values():
            layout = f"{c['processes']} process(es) x {c['threads']} thread(s)"
            print(f"  {layout}: {c['seconds']:7.1f} s, {c['events_per_s']:,} events/s")
    elif suite == "design":
        result = bench_design(batch_size=64, steps=1) if quick else bench_design()
        print(f"chapter 9 variants, training step at batch {result['batch_size']}, beside classical-cmx-pe:")
        for r in result["results"]:
            target = (
                ""
                if r["target"] is None
                else f"  target <= {r['target']}x: {'met' if r['meets_target'] else 'NOT met'}"
            )
            print(f"  {r['variant']:28s} {r['step_seconds'] * 1e3:8.1f} ms  {r['ratio_to_classical']:5.2f}x{target}")
    elif suite == "gan":
        result = bench_generator(200, 1, ("gan-classical", "gan-cnn")) if quick else bench_generator()
        batches = list(result["simulator_events_per_s"])
        print(f"showers per second, one thread, median of {result['repeats']}, by showers per call {batches}:")
        print(
            f"  {'simulator':24s}"
            + "".join(f"{r['median']:>10,.0f}" for r in result["simulator_events_per_s"].values())
        )
        for r in result["generators"]:
            rates = "".join(f"{r['showers_per_s'][b]['median']:>10,.0f}" for b in batches)
            print(f"  {r['generator']:24s}{rates}   best {r['ratio_to_simulator']:.2f}x the simulator's best")
    elif suite == "simulation":
        result = bench_simulation(n_events // 20 if quick else n_events)
        print(f"simulation of {result['events']} events on {result['machine']['cpus']} CPUs:")
        print(f"  in memory      {result['seconds_in_memory']:8.2f} s   ({result['events_per_s']} events/s)")
        print(f"  to HDF5 (LZF)  {result['seconds_to_hdf5']:8.2f} s")
        ratio = result["seconds_per_100k"] / result["target_seconds_per_100k"]
        print(f"  per 100k events {result['seconds_per_100k']:7.2f} s = {ratio:.2f} x the 60 s target")
    else:
        raise ConfigError(
            f"unknown benchmark suite {suite!r}; choose from: design, gan, peers, simulation, sweep, targets, training"
        )
    path = Path(out) if out else (CACHE_DIR / "bench" if quick else DATA_DIR / "bench") / f"{suite}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    return result
