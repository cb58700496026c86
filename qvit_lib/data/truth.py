"""The truth behind each event: its pseudorapidity η, hence its incident energy p_T cosh η.

A conditional generator (chapter 11) learns showers given what the simulator drew. The CMS
files store only the images and the class; the truth is known for our simulation's files,
replayed from the seed and settings their attributes record
(:func:`~qvit_lib.data.simulation.incident_eta`), and for generated files, which store it as
``eta``. Any other file is refused with a clear error.
"""

from __future__ import annotations

import numpy as np

from qvit_lib.core.errors import DataError
from qvit_lib.data import simulation
from qvit_lib.data.dataset import ELECTRON, PHOTON, SIMULATOR_NAME, EcalDataset

__all__ = ["incident_eta", "knows_eta", "why_eta_unknown"]


def _unknown_truth(part) -> str | None:
    """Why the true η of one file's events is unknown, or None when it is stored or replayable."""
    if "eta" in part.handle:
        return None
    attrs = part.attrs
    if attrs.get("simulator") != SIMULATOR_NAME or "seed" not in attrs or "config" not in attrs:
        return (
            f"{part.path}: the true η of its events is unknown: the CMS files store only X and y; it is known for "
            "our simulation's files (seed and config attributes) and for generated files (an 'eta' dataset)"
        )
    version = str(attrs.get("simulator_version"))
    if version != simulation.SIMULATOR_VERSION:
        return (
            f"{part.path}: written by simulator version {version}; this qvit_lib replays the truth of version "
            f"{simulation.SIMULATOR_VERSION} only: simulate the file again"
        )
    return None


def _file_eta(part, rows: np.ndarray) -> np.ndarray:
    """True η of some rows of one file: stored (generated files) or replayed (our simulation)."""
    problem = _unknown_truth(part)
    if problem is not None:
        raise DataError(problem)
    if "eta" in part.handle:
        order = np.argsort(rows)
        eta = np.empty(len(rows))
        eta[order] = part.handle["eta"][rows[order]]  # h5py reads increasing rows
        return eta
    attrs = part.attrs
    seed, config = int(attrs["seed"]), simulation.SimulationConfig.from_json(str(attrs["config"]))
    if attrs.get("particle") == "mixed":
        n = len(part.y) // 2
        event = simulation.mixed_order(n, seed)[rows]
        photons, electrons = (simulation.incident_eta(label, n, seed, config) for label in (PHOTON, ELECTRON))
        return np.where(event < n, photons[event % n], electrons[event % n])
    label = ELECTRON if attrs.get("particle") == "electron" else PHOTON
    return simulation.incident_eta(label, len(part.y), seed, config)[rows]


def incident_eta(dataset: EcalDataset, split: str = "train", n: int | None = None) -> np.ndarray:
    """The true η of the first ``n`` events of a split, in :meth:`~qvit_lib.data.dataset.EcalDataset.load`'s order."""
    size = dataset.split_size(split) if n is None else min(max(n, 0), dataset.split_size(split))
    out = np.empty(size, dtype=np.float64)
    for part, rows, places in dataset.rows_by_file(split, n):
        out[places] = _file_eta(part, rows)
    return out


def why_eta_unknown(dataset: EcalDataset) -> str | None:
    """Why the true η of some of the dataset's events is unknown (naming the file), or None."""
    return next((p for p in map(_unknown_truth, dataset.parts) if p is not None), None)


def knows_eta(dataset: EcalDataset) -> bool:
    """Whether the true η of every event of the dataset is known (stored or replayable)."""
    return why_eta_unknown(dataset) is None
