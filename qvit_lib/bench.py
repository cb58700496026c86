"""Benchmarks: figures printed side by side, never asserted in tests."""

from __future__ import annotations

import os
import platform
import tempfile
import time

import numpy as np


def machine() -> dict[str, object]:
    """Where a figure was measured: processor count, Python, numpy."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()}


def bench_simulation(n_events: int = 100_000, seed: int = 0) -> dict[str, object]:
    """Time the simulator on ``n_events`` (half per class), in memory and written to HDF5."""
    from .simulation import _profile_table, simulate, write_dataset

    _profile_table()  # built once per process; not part of the per-event cost
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


def _step_seconds(variant: str, batch_size: int, steps: int, backend: str = "fused") -> float:
    """Median time of one training step (forward, backward, Adam) at the paper's hyper-parameters."""
    import torch
    from torch.nn import functional as F

    from .models import build_model

    model = build_model(variant, seed=0, backend=backend)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.rand(batch_size, 32, 32, generator=generator)
    labels = (torch.rand(batch_size, generator=generator) > 0.5).float()
    times = []
    for _ in range(steps + 1):  # the first step warms up
        start = time.perf_counter()
        optimiser.zero_grad()
        F.binary_cross_entropy_with_logits(model(tokens), labels).backward()
        optimiser.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def bench_training(batch_size: int = 512, steps: int = 3, device_batch: int = 2, devices: tuple[str, ...] | None = None) -> dict[str, object]:
    """Training-step throughput of classical and hybrid models, fused and on PennyLane devices.

    Fused models run at ``batch_size``; a PennyLane device runs ``device_batch`` events per
    step and its figure is extrapolated linearly to ``batch_size`` (marked so), since it
    simulates one circuit per token, head and circuit type.
    """
    from .circuits import PREFERENCE, _usable

    records = []
    classical = _step_seconds("classical-cmx-pe", batch_size, steps)
    runs = [("classical", "classical-cmx-pe", classical, batch_size, False)]
    for variant in ("hybrid-cmx-pe", "hybrid-angle-cmx-pe"):
        runs.append(("fused", variant, _step_seconds(variant, batch_size, steps), batch_size, False))
    for device in devices if devices is not None else PREFERENCE:
        if not _usable(device)[0]:
            continue
        seconds = _step_seconds("hybrid-angle-cmx-pe", device_batch, 1, backend=device)
        runs.append((device, "hybrid-angle-cmx-pe", seconds * batch_size / device_batch, device_batch, True))
    for backend, variant, seconds, measured_batch, extrapolated in runs:
        records.append(
            {
                "backend": backend,
                "variant": variant,
                "batch_size": batch_size,
                "measured_batch_size": measured_batch,
                "d_h": 4,
                "step_seconds": round(seconds, 4),
                "events_per_s": round(batch_size / seconds, 1),
                "ratio_to_classical": round(seconds / classical, 2),
                "extrapolated": extrapolated,
            }
        )
    return {"suite": "training", "results": records, "machine": machine()}


def run_benchmarks(suite: str, n_events: int = 100_000, quick: bool = False) -> dict[str, object]:
    """Run one suite and print its figures."""
    if suite == "training":
        result = bench_training(batch_size=64 if quick else 512, steps=1 if quick else 3, device_batch=1 if quick else 2)
        print(f"training step (forward + backward + Adam), paper hyper-parameters, {result['machine']['cpus']} CPUs:")
        print(f"{'backend':16s} {'variant':22s} {'batch':>6s} {'step [s]':>9s} {'events/s':>9s} {'× classical':>12s}")
        for r in result["results"]:
            note = f"  (extrapolated from {r['measured_batch_size']} events)" if r["extrapolated"] else ""
            print(f"{r['backend']:16s} {r['variant']:22s} {r['batch_size']:6d} {r['step_seconds']:9.3f} {r['events_per_s']:9.1f} {r['ratio_to_classical']:12.2f}{note}")
        return result
    if suite != "simulation":
        raise ValueError(f"unknown benchmark suite {suite!r}; choose from: simulation, training")
    result = bench_simulation(n_events // 20 if quick else n_events)
    print(f"simulation of {result['events']} events on {result['machine']['cpus']} CPUs:")
    print(f"  in memory      {result['seconds_in_memory']:8.2f} s   ({result['events_per_s']} events/s)")
    print(f"  to HDF5 (LZF)  {result['seconds_to_hdf5']:8.2f} s")
    ratio = result["seconds_per_100k"] / result["target_seconds_per_100k"]
    print(f"  per 100k events {result['seconds_per_100k']:7.2f} s = {ratio:.2f} x the 60 s target")
    return result
