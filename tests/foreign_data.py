"""A stand-in for a reader's own data: CMS-layout files that are *not* our simulation.

The showers come from a deliberately different, much cruder model than
``qvit_lib.data.simulation`` (exponential lateral profiles, a one-sided satellite for electrons,
two symmetric legs for converted photons, Gaussian noise and zero suppression), in the
real files' format and under the real files' names, with no simulator attributes. A
chapter that passes on these files does not lean on our simulator's calibration.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

NAMES = {0: "SinglePhotonPt50_IMGCROPS_n249k_RHv1.hdf5", 1: "SingleElectronPt50_IMGCROPS_n249k_RHv1.hdf5"}


def _blobs(rng: np.random.Generator, centres_phi: np.ndarray, energies: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Sum of exponential lateral profiles (GeV), one per column of ``centres_phi``/``energies``."""
    n = len(energies)
    grid = np.arange(32) - 16.0
    eta0 = rng.uniform(-0.5, 0.5, n)
    phi0 = rng.uniform(-0.5, 0.5, n)
    d_eta = grid[None, :, None, None] - eta0[:, None, None, None]
    d_phi = grid[None, None, :, None] - (phi0[:, None] + centres_phi)[:, None, None, :]
    profile = np.exp(-np.hypot(d_eta, d_phi) / width[:, None, None, None])
    profile /= profile.sum(axis=(1, 2), keepdims=True)
    return (profile * energies[:, None, None, :]).sum(axis=-1)


def foreign_showers(label: int, n: int, seed: int) -> np.ndarray:
    """(n, 32, 32, 2) float32 events of one class in file units (GeV/50, ns/50)."""
    rng = np.random.default_rng([seed, label])
    eta = rng.uniform(-1.4, 1.4, n)
    energy = 50.0 * np.cosh(eta)
    width = rng.uniform(0.45, 0.75, n)
    if label == 1:  # electron: a satellite of bremsstrahlung on one side in φ
        fraction = rng.uniform(0.0, 0.3, n)
        offset = rng.uniform(1.0, 4.0, n)
        centres = np.stack([np.zeros(n), offset], axis=1)
        shares = np.stack([1 - fraction, fraction], axis=1)
    else:  # photon: converted (two legs bent apart) or not
        converts = rng.uniform(size=n) < 0.4
        split = np.where(converts, rng.uniform(0.5, 2.5, n), 0.0)
        share = np.where(converts, rng.uniform(0.5, 0.9, n), 1.0)
        centres = np.stack([np.zeros(n), -split], axis=1)
        shares = np.stack([share, 1 - share], axis=1)
    deposit = _blobs(rng, centres, energy[:, None] * shares, width)
    measured = deposit + 0.04 * rng.standard_normal(deposit.shape)
    measured = np.where(measured > 0.1, measured, 0.0)
    # Crop on the most energetic crystal, as the real files are.
    peak = measured.reshape(n, -1).argmax(axis=1)
    rows, cols = 16 - peak // 32, 16 - peak % 32
    measured = np.stack([np.roll(m, (r, c), axis=(0, 1)) for m, r, c in zip(measured, rows, cols)])
    time = np.where(measured > 0, rng.normal(0.0, 0.5 + 2.0 / np.maximum(measured, 0.1)), 0.0)
    return np.stack([measured / 50.0, np.clip(time, -120, 110) / 50.0], axis=-1).astype(np.float32)


def write_foreign_cms_directory(directory: Path, n_per_class: int = 3000, seed: int = 0) -> Path:
    """A directory with a photon and an electron file named like the CMS pair."""
    directory.mkdir(parents=True, exist_ok=True)
    for label, name in NAMES.items():
        X = foreign_showers(label, n_per_class, seed)
        with h5py.File(directory / name, "w") as f:
            f.create_dataset("X", data=X, compression="lzf", chunks=(min(1024, n_per_class), 32, 32, 2))
            f.create_dataset("y", data=np.full(n_per_class, label, np.float32))
    return directory
