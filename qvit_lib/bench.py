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


def run_benchmarks(suite: str, n_events: int = 100_000) -> dict[str, object]:
    """Run one suite and print its figures."""
    if suite != "simulation":
        raise ValueError(f"unknown benchmark suite {suite!r}; choose from: simulation")
    result = bench_simulation(n_events)
    print(f"simulation of {result['events']} events on {result['machine']['cpus']} CPUs:")
    print(f"  in memory      {result['seconds_in_memory']:8.2f} s   ({result['events_per_s']} events/s)")
    print(f"  to HDF5 (LZF)  {result['seconds_to_hdf5']:8.2f} s")
    ratio = result["seconds_per_100k"] / result["target_seconds_per_100k"]
    print(f"  per 100k events {result['seconds_per_100k']:7.2f} s = {ratio:.2f} x the 60 s target")
    return result
