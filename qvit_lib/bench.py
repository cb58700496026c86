"""Benchmarks: figures printed side by side, never asserted in tests."""

from __future__ import annotations

import io
import os
import tempfile
import time

import numpy as np

from .provenance import machine, versions


def bench_simulation(n_events: int = 100_000, seed: int = 0) -> dict[str, object]:
    """Time the simulator on ``n_events`` (half per class), in memory and written to HDF5."""
    from .simulation import profile_table, simulate, write_dataset

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


def baseline_package(revision: str):
    """``qvit_lib`` as it was at a git revision, imported under a name of its own.

    For side-by-side timings: the baseline's training step runs in the same process and in
    turns with today's, so both see the same machine. The package is unpacked with
    ``git archive`` into a temporary directory and imported as ``qvit_baseline_<rev>``.
    """
    import importlib.util
    import subprocess
    import sys
    import tarfile

    from .config import REPO_ROOT
    from .errors import ConfigError

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
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(root, name, "__init__.py"), submodule_search_locations=[os.path.join(root, name)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.revision = commit.stdout.strip()
    return module


def training_step(
    variant: str, batch_size: int, backend: str = "fused", device: str = "cpu", package=None, **hyper: int
):
    """A closure running one training step (forward, backward, Adam) at the paper's hyper-parameters.

    ``package``: another version of qvit_lib (:func:`baseline_package`) whose model to time.
    """
    import importlib

    import torch
    from torch.nn import functional as F

    models = importlib.import_module(f"{package.__name__}.models") if package is not None else None
    from .models import build_model

    build = models.build_model if models is not None else build_model
    model = build(variant, seed=0, backend=backend, **hyper).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.rand(batch_size, 32, 32, generator=generator).to(device)
    labels = (torch.rand(batch_size, generator=generator) > 0.5).float().to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def step() -> float:
        sync()
        start = time.perf_counter()
        optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(model(tokens), labels).backward()
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
    from .training import keep_freed_memory

    keep_freed_memory()
    steps = [training_step(variant, batch_size, "fused", device) for variant in variants]
    return dict(zip(variants, _side_by_side(steps, rounds)))


def _record(
    backend: str,
    variant: str,
    batch_size: int,
    d_h: int,
    seconds: float,
    classical: float,
    measured_batch: int,
    device: str,
) -> dict[str, object]:
    return {
        "backend": backend,
        "variant": variant,
        "batch_size": batch_size,
        "d_h": d_h,
        "n_h": 16 // d_h,
        "device": device,
        "step_seconds": round(seconds, 5),
        "events_per_s": round(batch_size / seconds, 1),
        "ratio_to_classical": round(seconds / classical, 3),
        "extrapolated": measured_batch != batch_size,
        "measured_batch_size": measured_batch,
    }


def bench_training(
    batch_sizes: tuple[int, ...] = (64, 256, 512, 1024, 4096),
    head_sizes: tuple[int, ...] = (2, 4, 8),
    steps: int = 7,
    device_batch: int = 2,
    devices: tuple[str, ...] | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, object]:
    """Training-step throughput: every backend, then scaling with batch size and qubits per head.

    1. At batch 512 and d_h = 4: classical, the fused hybrids, and each usable PennyLane
       device. A device simulates one circuit per token, head and circuit type, so it runs
       ``device_batch`` events and its time is extrapolated linearly to 512 (marked so).
    2. Batch sizes ``batch_sizes``: classical and both fused hybrids.
    3. Qubits per head ``head_sizes`` at batch 512, keeping d_t = n_h·d_h = 16: classical and
       fused ``hybrid-angle``.

    ``ratio_to_classical`` is the step time divided by the classical step time at the same
    batch size and d_h (1.5 means 1.5× slower). Models compared with each other run in
    turns, ``steps`` rounds each, and the median is kept.
    """
    import torch
    from tqdm.auto import tqdm

    from .circuits import DEVICE_ORDER, device_usable
    from .training import keep_freed_memory

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    plan: list[tuple[str, str, int, int, int]] = []  # backend, variant, batch, d_h, measured batch
    for batch in sorted(set(batch_sizes) | {512}):
        plan += [
            ("classical", "classical-cmx-pe", batch, 4, batch),
            ("fused", "hybrid-cmx-pe", batch, 4, batch),
            ("fused", "hybrid-angle-cmx-pe", batch, 4, batch),
        ]
    for d_h in head_sizes:
        if d_h != 4:
            plan += [("classical", "classical-cmx-pe", 512, d_h, 512), ("fused", "hybrid-angle-cmx-pe", 512, d_h, 512)]
    for name in devices if devices is not None else DEVICE_ORDER:
        if device_usable(name)[0]:
            plan.append((name, "hybrid-angle-cmx-pe", 512, 4, device_batch))
    keep_freed_memory()  # as train() does: large temporaries reused, not page-faulted in anew
    groups: dict[tuple[int, int], list[tuple[str, str, int]]] = {}
    for backend, variant, batch, d_h, measured in plan:
        groups.setdefault((batch, d_h), []).append((backend, variant, measured))
    records = []
    for (batch, d_h), members in tqdm(groups.items(), desc="benchmark", unit="group", disable=not progress):
        # One group: the classical model and the hybrids it is compared with, in turns.
        fast = [(b, v, m) for b, v, m in members if m == batch]
        seconds = dict(
            zip(
                fast,
                _side_by_side(
                    [
                        training_step(v, m, "fused" if b == "classical" else b, device, n_heads=16 // d_h)
                        for b, v, m in fast
                    ],
                    steps,
                ),
            )
        )
        for member in members:
            if member not in seconds:  # a per-circuit device: one step on a few events, scaled up
                backend, variant, measured = member
                seconds[member] = (
                    _side_by_side([training_step(variant, measured, backend, device, n_heads=16 // d_h)], 1)[0]
                    * batch
                    / measured
                )
        classical = seconds[next(m for m in members if m[0] == "classical")]
        for member in members:
            backend, variant, measured = member
            records.append(_record(backend, variant, batch, d_h, seconds[member], classical, measured, device))
    return {
        "suite": "training",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "steps_per_figure": steps,
        "results": records,
        "machine": {
            **machine(),
            "torch_threads": torch.get_num_threads(),
            "device": device,
            "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
        },
        "versions": versions(),
    }


def _print_training(result: dict[str, object]) -> None:
    print(
        f"training step (forward + backward + Adam), paper hyper-parameters, {result['machine']['cpus']} CPUs, "
        f"device {result['machine']['device']}:"
    )
    print(
        f"{'backend':16s} {'variant':22s} {'batch':>6s} {'d_h':>4s} {'step [s]':>9s} {'events/s':>10s} "
        f"{'× classical':>12s}"
    )
    for r in result["results"]:
        note = f"  (extrapolated from {r['measured_batch_size']} events)" if r["extrapolated"] else ""
        print(
            f"{r['backend']:16s} {r['variant']:22s} {r['batch_size']:6d} {r['d_h']:4d} {r['step_seconds']:9.4f} "
            f"{r['events_per_s']:10.1f} {r['ratio_to_classical']:12.2f}{note}"
        )


def run_benchmarks(
    suite: str, n_events: int = 100_000, quick: bool = False, out: str | None = None
) -> dict[str, object]:
    """Run one suite, print its figures and write them as JSON.

    Default output: ``data/bench/<suite>.json``; in quick mode ``data/cache/bench/<suite>.json``
    (a smoke test should not replace the committed figures).
    """
    import json
    from pathlib import Path

    from .config import CACHE_DIR, DATA_DIR

    if suite == "training":
        if quick:
            result = bench_training(
                batch_sizes=(64,),
                head_sizes=(2, 4),
                steps=1,
                device_batch=1,
                devices=("default.qubit",),
                progress=False,
            )
        else:
            result = bench_training()
        _print_training(result)
    elif suite == "simulation":
        result = bench_simulation(n_events // 20 if quick else n_events)
        print(f"simulation of {result['events']} events on {result['machine']['cpus']} CPUs:")
        print(f"  in memory      {result['seconds_in_memory']:8.2f} s   ({result['events_per_s']} events/s)")
        print(f"  to HDF5 (LZF)  {result['seconds_to_hdf5']:8.2f} s")
        ratio = result["seconds_per_100k"] / result["target_seconds_per_100k"]
        print(f"  per 100k events {result['seconds_per_100k']:7.2f} s = {ratio:.2f} x the 60 s target")
    else:
        raise ValueError(f"unknown benchmark suite {suite!r}; choose from: simulation, training")
    path = Path(out) if out else (CACHE_DIR / "bench" if quick else DATA_DIR / "bench") / f"{suite}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    return result
