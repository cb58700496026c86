"""Where and with what a number was produced: machine, threads and package versions.

Every result file and benchmark records these, so that a figure can be traced to the
processor, the thread count and the library versions that made it.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from qvit_lib import __version__
from qvit_lib.core.config import REPO_ROOT

__all__ = ["machine", "simd", "processor", "versions", "run_machine", "code_version", "stamp", "write_record"]


def machine() -> dict[str, object]:
    """The processor count, architecture and vector instructions, Python and numpy."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "simd": simd(),
    }


def simd() -> str:
    """The widest vector instructions torch's CPU kernels use here ("AVX512", "AVX2", …).

    Two machines with the same model name ("AMD EPYC") may differ in it, and with it in speed
    and in how float sums round; the record says which one a run or a timing had.
    """
    # lazy: loads torch; importing this module does not
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def processor() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else the platform's word for it."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    """Versions of the packages that decide a result or a timing."""
    # lazy: loads torch; importing this module does not
    import torch

    out = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}
    for package in ("pennylane", "pennylane_lightning"):
        try:
            out[package] = __import__(package).__version__
        except (ImportError, AttributeError):
            pass
    return out


def run_machine(device: str, processes: int = 1) -> dict[str, object]:
    """What a training run records about where it ran: device, processes, CPUs, torch threads."""
    # lazy: loads torch; importing this module does not
    import torch

    return {
        "device": device,
        "processes": processes,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "processor": processor(),
        "simd": simd(),
        "platform": platform.platform(),
    }


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, object]:
    """qvit_lib's version and, in a git checkout, the commit and whether qvit_lib/ differs from it.

    Read once per process (at the first call): a long sweep records the code it started with,
    not whatever the checkout holds when a run ends.
    """

    out: dict[str, object] = {"qvit_lib": __version__}
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "qvit_lib"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return out
    if commit.returncode == 0:
        out["commit"] = commit.stdout.strip()
        out["qvit_lib_modified"] = bool(status.stdout.strip())
    return out


def stamp(device: str = "cpu", processes: int = 1) -> dict[str, object]:
    """The fields every result record ends with: machine, versions, the code the process started
    with (:func:`code_version`) and when the result was finished."""

    return {
        "machine": run_machine(device, processes),
        "versions": versions(),
        "code": code_version(),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def write_record(record: dict[str, object], path: os.PathLike[str] | str) -> None:
    """Write a result record as JSON atomically: a temporary file, then a rename, so that a
    reader (or a sweep that skips finished runs) never sees half a file."""

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)
