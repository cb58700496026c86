"""A fast, seeded simulator of electron and photon showers in the CMS ECAL barrel.

It stands in for the CMS open-simulation "electron vs photon" files (see
:mod:`qvit_lib.data.dataset`), which are not reachable offline, and writes files in the same
format: ``X`` (N, 32, 32, 2) float32 with energy in GeV/50 and hit time in ns/50, ``y``
float32 with photon = 0 and electron = 1. Rows are iη, columns iφ, and the crop is centred
on the most energetic crystal at index (16, 16).

The physics (chapter 1 of the book), each piece a knob of :class:`SimulationConfig`:

* the Grindhammer–Peters (GFlash) lateral profile, a core and a tail term, integrated
  exactly over 2.2 cm crystals for a random impact point, with shower-to-shower
  fluctuations of both radii;
* tracker material that grows with |η|: photons convert with probability
  1 − exp(−7t/9); the e⁺e⁻ pair splits in φ, bent apart by the 3.8 T field;
* bremsstrahlung of every electron along its bent track (Bethe–Heitler energy loss),
  which lands one-sided in φ between the straight line and the electron;
* calorimeter resolution, 40 MeV electronics noise per crystal, zero suppression, and a
  hit-time channel whose resolution worsens at low energy.

Everything is vectorised over events; 100k events take seconds, not minutes.

**What a seed guarantees.** Events come in chunks of 4096 with a stream of their own,
and every random draw has a size fixed by the number of events and sub-shower slots —
never by a computed float (the Γ variates of bremsstrahlung come from inverting their CDF
at one uniform each, not from a rejection sampler). So:

* on the same processor kind, with the pinned numpy and scipy, the same seed gives
  identical bytes;
* on another processor (whose vector code may round ``exp``, ``log`` … one unit in the
  last place differently), a rounding difference can change only the event where it
  happens, never the random numbers of the others: at least 99.9 % of events agree to
  within ``SAME_EVENT_TOLERANCE`` = 1e-6 in file units. Under a one-ulp perturbation of
  every transcendental function the simulator calls, no event of 8192 moved by more than
  ``PERTURBED_EVENT_BOUND`` = 1e-5 (the test suite checks both). Only a float that lands
  within rounding of a threshold — a conversion decision, a crystal boundary, the
  zero-suppression cut — could change its one event by more.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import special
from tqdm.auto import tqdm

from qvit_lib.core.config import CACHE_DIR
from qvit_lib.core.errors import ConfigError
from qvit_lib.data.dataset import (
    ELECTRON,
    IMAGE_SIZE,
    PHOTON,
    SIMULATOR_NAME,
    is_hdf5_name,
)
from qvit_lib.data.readout import readout

__all__ = [
    "SIMULATOR_VERSION",
    "CRYSTAL_SIZE_CM",
    "MOLIERE_RADIUS_CM",
    "CRYSTAL_DPHI_RAD",
    "ECAL_RADIUS_M",
    "TRACKER_RADIUS_M",
    "BFIELD_T",
    "bending_rad_gev",
    "SAME_EVENT_TOLERANCE",
    "PERTURBED_EVENT_BOUND",
    "SimulationConfig",
    "crystal_fractions",
    "profile_table",
    "containment",
    "simulate_particle",
    "incident_eta",
    "mixed_order",
    "check_seed",
    "simulate",
    "PAIR_NAMES",
    "memory_needed",
    "available_memory",
    "write_dataset",
    "simulated_dataset",
]


SIMULATOR_VERSION = "2"

# Geometry of the CMS ECAL barrel (CMS ECAL TDR; Particle Data Group).
CRYSTAL_SIZE_CM = 2.2
MOLIERE_RADIUS_CM = 2.19
CRYSTAL_DPHI_RAD = 0.0174
ECAL_RADIUS_M = 1.29
TRACKER_RADIUS_M = 1.10
BFIELD_T = 3.8


def bending_rad_gev(bfield_t: float = BFIELD_T, radius_m: float = ECAL_RADIUS_M) -> float:
    """Δφ·pT of a charged track at radius R in a solenoid field B, in rad·GeV: 0.3·B·R/2.

    The track's sagitta in the small-angle limit; for CMS (3.8 T, 1.29 m) 0.735, so a
    50 GeV electron reaches the ECAL 0.0147 rad, 0.85 crystals, from where it would go straight.
    """
    return 0.3 * bfield_t * radius_m / 2


_WINDOW = 6  # a deposit spreads over (2·6+1)² crystals around its impact crystal
_SUBPOS_BINS = 32  # impact point inside a crystal, 1/32 of a crystal per bin
_RADIUS_GRID = np.geomspace(0.05, 6.0, 64)  # profile radii in crystal widths, 7.8 % apart
_CANVAS = 56  # simulation canvas (crystals), larger than the crop
_CHUNK = 4096  # events per independently seeded chunk
SAME_EVENT_TOLERANCE = 1e-6  #: file units: "the same event" on another processor (see the module docstring)
PERTURBED_EVENT_BOUND = 1e-5  #: file units: the most an event moves under one-ulp perturbations (tested)


@dataclass(frozen=True)
class SimulationConfig:
    """The simulator's physics knobs, with defaults calibrated as chapter 1 describes.

    Radii are in Molière radii, energies in GeV, times in ns, material in radiation
    lengths. The lateral-profile defaults reproduce 78 % / 94 % / 97 % containment in
    1×1 / 3×3 / 5×5 crystals for a shower hitting a crystal centre.
    """

    pt_gev: float = 50.0
    eta_max: float = 1.2
    core_fraction: float = 0.930
    core_radius: float = 0.250
    tail_radius: float = 1.933
    radius_spread: float = 0.15
    material_at_eta0: float = 0.4
    material_at_eta13: float = 1.9
    material_scale: float = 1.0
    material_radius_m: float = TRACKER_RADIUS_M
    brem_emissions: int = 4
    bending_scale: float = 1.0
    stochastic_term: float = 0.028
    constant_term: float = 0.003
    noise_gev: float = 0.040
    zero_suppression_gev: float = 0.100
    time_noise_ns: float = 35.0
    time_constant_ns: float = 0.15
    noise_hit_time_ns: float = 40.0

    def __post_init__(self) -> None:
        checks = {
            "pt_gev": self.pt_gev > 0,
            "eta_max": 0 <= self.eta_max <= 1.2,
            "core_fraction": 0 <= self.core_fraction <= 1,
            "core_radius": self.core_radius > 0,
            "tail_radius": self.tail_radius > 0,
            "radius_spread": self.radius_spread >= 0,
            "material_scale": self.material_scale >= 0,
            "material_radius_m": 0 < self.material_radius_m <= ECAL_RADIUS_M,
            "brem_emissions": self.brem_emissions >= 1,
            "bending_scale": self.bending_scale >= 0,
            "noise_gev": self.noise_gev >= 0,
            "zero_suppression_gev": self.zero_suppression_gev >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{name}={getattr(self, name)!r}" for name in bad)
            raise ConfigError(f"SimulationConfig: out-of-range knob(s): {values}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimulationConfig:
        return cls(**json.loads(text))

    def material(self, eta: np.ndarray) -> np.ndarray:
        """Tracker material in front of the ECAL, X/X0, as a function of η."""
        rise = self.material_at_eta13 - self.material_at_eta0
        return self.material_scale * (self.material_at_eta0 + rise * (np.abs(eta) / 1.3) ** 2)

    def conversion_probability(self, eta: np.ndarray) -> np.ndarray:
        """Probability that a photon converts to e⁺e⁻ before the ECAL: 1 − exp(−7t/9)."""
        return 1.0 - np.exp(-7.0 / 9.0 * self.material(eta))


# --------------------------------------------------------------------------------------
# Lateral profile: exact integrals over crystals, tabulated once.


def _quadrant_integral(x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """∫₀ˣ∫₀ʸ R²/(π(u²+v²+R²)²) du dv — the GP profile term over a corner rectangle."""
    sx = np.sqrt(x * x + radius * radius)
    sy = np.sqrt(y * y + radius * radius)
    return (x / sx * np.arctan(y / sx) + y / sy * np.arctan(x / sy)) / (2 * np.pi)


def crystal_fractions(radius: float, offset: tuple[float, float], window: int = _WINDOW) -> np.ndarray:
    """Fraction of one profile term (radius in crystal widths) in each crystal of a window.

    ``offset`` is the impact point relative to the centre of the central crystal, in
    crystal widths (each in [-0.5, 0.5)). Returns a (2w+1, 2w+1) array, rows η, columns φ.
    """
    return _window_fractions(np.float64(radius), np.array([offset[0]]), np.array([offset[1]]), window)[0, 0]


def _window_fractions(
    radius: np.ndarray, eta_offsets: np.ndarray, phi_offsets: np.ndarray, window: int = _WINDOW
) -> np.ndarray:
    """Crystal fractions for every (η offset, φ offset) pair: (n_η, n_φ, 2w+1, 2w+1)."""
    edges = np.arange(-window - 0.5, window + 1.0)
    ex = (edges[None, :] - eta_offsets[:, None])[:, None, :, None]
    ey = (edges[None, :] - phi_offsets[:, None])[None, :, None, :]
    corner = _quadrant_integral(ex, ey, radius)
    return corner[..., 1:, 1:] - corner[..., :-1, 1:] - corner[..., 1:, :-1] + corner[..., :-1, :-1]


@lru_cache(maxsize=1)
def profile_table() -> np.ndarray:
    """Crystal fractions for every tabulated radius and sub-crystal impact point.

    Shape (radii, sub-η, sub-φ, window, window), float32; about 44 MB, built in ~1 s.
    """
    centres = (np.arange(_SUBPOS_BINS) + 0.5) / _SUBPOS_BINS - 0.5
    return np.stack([_window_fractions(radius, centres, centres).astype(np.float32) for radius in _RADIUS_GRID])


def containment(config: SimulationConfig, offset: tuple[float, float] = (0.0, 0.0)) -> dict[str, float]:
    """Fraction of a shower's energy in the central 1×1, 3×3 and 5×5 crystals."""
    scale = MOLIERE_RADIUS_CM / CRYSTAL_SIZE_CM
    fractions = config.core_fraction * crystal_fractions(config.core_radius * scale, offset) + (
        1 - config.core_fraction
    ) * crystal_fractions(config.tail_radius * scale, offset)
    c = _WINDOW
    return {
        f"{k}x{k}": float(fractions[c - k // 2 : c + k // 2 + 1, c - k // 2 : c + k // 2 + 1].sum()) for k in (1, 3, 5)
    }


# --------------------------------------------------------------------------------------
# Kinematics: charged tracks in the solenoid field, with bremsstrahlung.


def _charged_track(
    rng: np.random.Generator,
    energy: np.ndarray,
    cosh_eta: np.ndarray,
    charge: np.ndarray,
    start_radius: np.ndarray,
    material: np.ndarray,
    config: SimulationConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Deposits of electrons that start at ``start_radius`` (m) and radiate on their way.

    Returns (energies, φ offsets in crystals), each (n, K+1): K bremsstrahlung photons
    then the electron itself. The track is split into K equal stretches of the tracker;
    on each the electron loses a Bethe–Heitler fraction exp(−g), g ~ Γ(t/(K ln 2)), so
    the total remaining fraction has mean exp(−t). Offsets use the small-angle
    approximation: direction θ and lateral displacement s, azimuth s/R at the ECAL.
    """
    n, k = energy.size, config.brem_emissions
    kappa_per_gev = 0.3 * BFIELD_T * config.bending_scale  # curvature × pT, in GeV/m
    outer = config.material_radius_m
    lengths = np.clip(outer - start_radius, 0.0, None)
    shape = np.maximum(material * np.clip(lengths / outer, 0, 1), 1e-6) / (k * np.log(2.0))
    # Γ variates by inverting the CDF of one uniform each: a rejection sampler would draw a
    # number of values that depends on the computed shape, and a rounding difference there
    # would shift every later draw of the chunk.
    losses = special.gammaincinv(np.repeat(shape[:, None], k, axis=1), rng.random((n, k)))
    remaining = energy[:, None] * np.exp(-np.cumsum(losses, axis=1))
    before = np.concatenate([energy[:, None], remaining[:, :-1]], axis=1)
    photon_energy = before - remaining
    # Emission points: the end of each stretch; the electron then flies to the ECAL.
    radii = start_radius[:, None] + lengths[:, None] * (np.arange(1, k + 1) / k)
    theta = np.zeros(n)
    lateral = np.zeros(n)
    r_prev = start_radius.copy()
    photon_offset = np.empty((n, k))
    for j in range(k):
        curvature = charge * kappa_per_gev * cosh_eta / before[:, j]
        step = radii[:, j] - r_prev
        lateral = lateral + theta * step + 0.5 * curvature * step**2
        theta = theta + curvature * step
        photon_offset[:, j] = lateral + theta * (ECAL_RADIUS_M - radii[:, j])
        r_prev = radii[:, j]
    curvature = charge * kappa_per_gev * cosh_eta / remaining[:, -1]
    step = ECAL_RADIUS_M - r_prev
    electron_offset = lateral + theta * step + 0.5 * curvature * step**2
    # A track that would curl up before the ECAL (|κ|·L > 1) deposits nothing.
    reaches = np.abs(curvature) * step < 1.0
    electron_energy = np.where(reaches, remaining[:, -1], 0.0)
    energies = np.concatenate([photon_energy, electron_energy[:, None]], axis=1)
    offsets = np.concatenate([photon_offset, electron_offset[:, None]], axis=1)
    return energies, offsets / ECAL_RADIUS_M / CRYSTAL_DPHI_RAD


def _pair_energy_share(rng: np.random.Generator, n: int) -> np.ndarray:
    """Electron's share z of a converting photon's energy, Bethe–Heitler at high energy.

    The density 1 − (4/3)·z(1 − z) (normalised by 7/9) favours lopsided pairs: one
    leg takes most of the energy and the soft one is bent far away. Sampled by
    inverting the CDF (7/9)⁻¹·(z − (2/3)z² + (4/9)z³) on a fine grid.
    """
    grid = np.linspace(0.0, 1.0, 2049)
    cdf = (grid - 2.0 / 3.0 * grid**2 + 4.0 / 9.0 * grid**3) * 9.0 / 7.0
    return np.interp(rng.uniform(size=n), cdf, grid)


def _deposits(
    rng: np.random.Generator, particle: int, n: int, config: SimulationConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy (GeV) and φ offset (crystals) of every sub-shower, plus each event's η."""
    eta = rng.uniform(-config.eta_max, config.eta_max, n)
    cosh_eta = np.cosh(eta)
    energy = config.pt_gev * cosh_eta
    material = config.material(eta)
    if particle == ELECTRON:
        energies, offsets = _charged_track(rng, energy, cosh_eta, -np.ones(n), np.zeros(n), material, config)
        return energies, offsets, eta
    converts = rng.uniform(size=n) < config.conversion_probability(eta)
    radius = rng.uniform(0.0, config.material_radius_m, n)
    share = _pair_energy_share(rng, n)
    remaining_material = material * (1 - radius / config.material_radius_m)
    legs = []
    for charge, fraction in ((-1.0, share), (1.0, 1.0 - share)):
        legs.append(
            _charged_track(rng, energy * fraction, cosh_eta, np.full(n, charge), radius, remaining_material, config)
        )
    energies = np.concatenate([legs[0][0], legs[1][0]], axis=1)
    offsets = np.concatenate([legs[0][1], legs[1][1]], axis=1)
    # Unconverted photons: the whole energy in one straight shower.
    energies[~converts] = 0.0
    offsets[~converts] = 0.0
    energies[~converts, -1] = energy[~converts]
    return energies, offsets, eta


# --------------------------------------------------------------------------------------
# Images.


def _shower_images(
    rng: np.random.Generator, energies: np.ndarray, phi_offsets: np.ndarray, config: SimulationConfig
) -> np.ndarray:
    """Noise-free crystal energies (GeV) on the canvas, every sub-shower deposited."""
    n, slots = energies.shape
    table = profile_table()
    scale = MOLIERE_RADIUS_CM / CRYSTAL_SIZE_CM
    # Impact point of the primary inside its crystal; all sub-showers share its η.
    eta_pos = _CANVAS // 2 + rng.uniform(-0.5, 0.5, n)
    phi_pos = _CANVAS // 2 + rng.uniform(-0.5, 0.5, n)[:, None] + phi_offsets
    eta_pos = np.broadcast_to(eta_pos[:, None], (n, slots))
    # Calorimeter resolution, per sub-shower: a/√E ⊕ c.
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(config.stochastic_term**2 / np.where(energies > 0, energies, 1.0) + config.constant_term**2)
    energies = energies * np.clip(1 + sigma * rng.standard_normal((n, slots)), 0, None)
    core = config.core_radius * scale * np.exp(config.radius_spread * rng.standard_normal((n, slots)))
    tail = config.tail_radius * scale * np.exp(config.radius_spread * rng.standard_normal((n, slots)))
    # Drawn for every slot, kept or not: how many numbers a chunk draws never depends on a
    # computed float (a sub-shower whose energy rounds to 0 on one processor and not on another).
    core_pick, tail_pick = rng.random((n, slots)), rng.random((n, slots))
    row, col = np.floor(eta_pos + 0.5).astype(np.int64), np.floor(phi_pos + 0.5).astype(np.int64)
    inside = (row >= _WINDOW) & (row < _CANVAS - _WINDOW) & (col >= _WINDOW) & (col < _CANVAS - _WINDOW)
    keep = (energies > 0) & inside
    event = np.nonzero(keep)[0]
    row, col, e = row[keep], col[keep], energies[keep]
    sub_eta = np.clip(((eta_pos[keep] - row + 0.5) * _SUBPOS_BINS).astype(np.int64), 0, _SUBPOS_BINS - 1)
    sub_phi = np.clip(((phi_pos[keep] - col + 0.5) * _SUBPOS_BINS).astype(np.int64), 0, _SUBPOS_BINS - 1)

    log_grid = np.log(_RADIUS_GRID)
    step = log_grid[1] - log_grid[0]

    def radius_bin(radius: np.ndarray, pick: np.ndarray) -> np.ndarray:
        """Nearest tabulated radius below or above, chosen by the uniform ``pick`` in
        proportion to closeness in log radius: unbiased, and no visible quantisation."""
        position = (np.log(radius) - log_grid[0]) / step
        below = np.floor(position)
        return np.clip(below + (pick < position - below), 0, _RADIUS_GRID.size - 1).astype(np.int64)

    p = config.core_fraction
    core_bin, tail_bin = radius_bin(core[keep], core_pick[keep]), radius_bin(tail[keep], tail_pick[keep])
    pattern = p * table[core_bin, sub_eta, sub_phi] + (1 - p) * table[tail_bin, sub_eta, sub_phi]
    offsets = np.arange(-_WINDOW, _WINDOW + 1)
    flat = (
        event[:, None, None] * _CANVAS * _CANVAS
        + (row[:, None, None] + offsets[None, :, None]) * _CANVAS
        + (col[:, None, None] + offsets[None, None, :])
    )
    canvas = np.bincount(flat.ravel(), weights=(pattern * e[:, None, None]).ravel(), minlength=n * _CANVAS * _CANVAS)
    return canvas.reshape(n, _CANVAS, _CANVAS)


def _crop_on_maximum(canvas: np.ndarray) -> np.ndarray:
    """32×32 crops with the most energetic crystal at index (16, 16)."""
    n = canvas.shape[0]
    peak = canvas.reshape(n, -1).argmax(axis=1)
    half = IMAGE_SIZE // 2
    rows = np.clip(peak // _CANVAS, half, _CANVAS - half)
    cols = np.clip(peak % _CANVAS, half, _CANVAS - half)
    span = np.arange(-half, half)
    r = (rows[:, None] + span)[:, :, None]
    c = (cols[:, None] + span)[:, None, :]
    return canvas[np.arange(n)[:, None, None], r, c]


def _readout(rng: np.random.Generator, true_energy: np.ndarray, config: SimulationConfig) -> np.ndarray:
    """Noise, zero suppression and hit times (:func:`qvit_lib.data.readout.readout`): (n, 32, 32, 2) in file units."""
    normals = [rng.standard_normal(true_energy.shape) for _ in range(3)]
    with np.errstate(divide="ignore"):
        energy, time = readout(true_energy, normals, config, np)
    return np.stack([energy, time], axis=-1).astype(np.float32)


def _simulate_chunk(seed: int, particle: int, chunk: int, n: int, config: SimulationConfig) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([seed, particle, chunk]))
    energies, offsets, _ = _deposits(rng, particle, n, config)
    canvas = _shower_images(rng, energies, offsets, config)
    return _readout(rng, _crop_on_maximum(canvas), config)


def simulate_particle(
    particle: int, n: int, seed: int = 0, config: SimulationConfig | None = None, progress: bool = False
) -> np.ndarray:
    """Simulate ``n`` showers of one particle (``PHOTON`` or ``ELECTRON``): (n, 32, 32, 2).

    Events come in independently seeded chunks of 4096, so a larger sample extends a
    smaller one chunk by chunk. The same seed gives identical bytes on the same processor
    kind and the same events to within ``SAME_EVENT_TOLERANCE`` elsewhere (module docstring).
    """
    if particle not in (PHOTON, ELECTRON):
        raise ConfigError(f"particle must be PHOTON (0) or ELECTRON (1), got {particle!r}")
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    check_seed(seed)
    config = config or SimulationConfig()
    out = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 2), dtype=np.float32)
    starts = range(0, n, _CHUNK)
    if progress:
        starts = tqdm(starts, desc=f"simulating {'electrons' if particle else 'photons'}", unit="chunk")
    for start in starts:
        stop = min(start + _CHUNK, n)
        out[start:stop] = _simulate_chunk(seed, particle, start // _CHUNK, stop - start, config)
    return out


def incident_eta(particle: int, n: int, seed: int = 0, config: SimulationConfig | None = None) -> np.ndarray:
    """The η of each of the first ``n`` showers :func:`simulate_particle` draws: its truth.

    η is the first draw of every chunk's own stream, so replaying that one draw gives it
    exactly (a uniform variate is integer arithmetic: the same bits on every processor).
    The incident energy is ``config.pt_gev · cosh η``.
    """
    if particle not in (PHOTON, ELECTRON):
        raise ConfigError(f"particle must be PHOTON (0) or ELECTRON (1), got {particle!r}")
    check_seed(seed)
    config = config or SimulationConfig()
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        rng = np.random.default_rng(np.random.SeedSequence([seed, particle, start // _CHUNK]))
        out[start:stop] = rng.uniform(-config.eta_max, config.eta_max, stop - start)
    return out


def mixed_order(n_per_class: int, seed: int) -> np.ndarray:
    """The shuffle of a mixed file: its row r holds event ``order[r]`` of photons then electrons."""
    return np.random.default_rng(np.random.SeedSequence([seed, 2])).permutation(2 * n_per_class)


def check_seed(seed: object) -> int:
    """A simulation seed: a non-negative integer (numpy's SeedSequence takes no others)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def simulate(
    n_per_class: int, seed: int = 0, config: SimulationConfig | None = None, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced sample: photons then electrons, ``X`` (2n, 32, 32, 2) and ``y`` (2n,)."""
    photons = simulate_particle(PHOTON, n_per_class, seed, config, progress)
    electrons = simulate_particle(ELECTRON, n_per_class, seed, config, progress)
    y = np.concatenate([np.zeros(n_per_class, np.float32), np.ones(n_per_class, np.float32)])
    return np.concatenate([photons, electrons]), y


# --------------------------------------------------------------------------------------
# Files in the real format.

PAIR_NAMES = {
    PHOTON: "SimPhotonPt50_IMGCROPS_n{n}_qvitsim.hdf5",
    ELECTRON: "SimElectronPt50_IMGCROPS_n{n}_qvitsim.hdf5",
}


def _write(path: Path, X: np.ndarray, y: np.ndarray, attrs: dict[str, object]) -> None:
    # lazy: loads h5py; importing this module does not
    import h5py

    with h5py.File(path, "w") as f:
        chunk_rows = max(1, min(len(X), 1024))
        f.create_dataset("X", data=X, compression="lzf", chunks=(chunk_rows, IMAGE_SIZE, IMAGE_SIZE, 2))
        f.create_dataset("y", data=y, compression="lzf", chunks=(max(1, min(len(y), 65536)),))
        for key, value in attrs.items():
            f.attrs[key] = value


# What simulating allocates, measured with tracemalloc (and checked by the test suite): the images,
# float32 (N, 32, 32, 2), 8 KiB an event; the profile table (44 MB kept, about 89 MB at its peak
# while it is built); and the temporaries of one chunk, about 101 KB an event of the chunk.
_IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE * 2 * np.dtype(np.float32).itemsize
_LABEL_BYTES = 64  # an event's labels, shuffling order and bookkeeping, rounded up
_TABLE_BYTES = 96 * 2**20
_CHUNK_BYTES_PER_EVENT = 104 * 2**10
_MEMINFO = Path("/proc/meminfo")
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def memory_needed(n_events: int, mixed: bool) -> int:
    """Bytes that :func:`write_dataset` allocates at its peak for ``n_events``, half of each class.

    Both classes' images are in memory together (the photons' are kept while the electrons
    are simulated), beside one chunk's temporaries; a mixed file also holds the two classes
    joined and then shuffled, two more copies at once.
    """
    per_class = n_events // 2
    images = 2 * per_class * (_IMAGE_BYTES + _LABEL_BYTES)
    simulating = images + _TABLE_BYTES + min(per_class, _CHUNK) * _CHUNK_BYTES_PER_EVENT
    return max(simulating, 2 * images) if mixed else simulating


def _meminfo_available() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else the free physical pages (os.sysconf), else None."""
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):  # no such names here (macOS has no SC_AVPHYS_PAGES)
        return None


def _cgroup_room() -> int | None:
    """What a cgroup memory limit (v2, else v1) still leaves, reclaimable file cache included; None if no limit."""
    for folder, limit, usage, cache in (
        (_CGROUP_ROOT, "memory.max", "memory.current", "inactive_file"),
        (_CGROUP_ROOT / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    ):
        try:
            most = (folder / limit).read_text().strip()
            used = int((folder / usage).read_text())
        except (OSError, ValueError):
            continue
        if not most.isdigit() or int(most) >= 2**60:  # "max", or cgroup v1's "no limit"
            return None
        try:
            stat = dict(line.split()[:2] for line in (folder / "memory.stat").read_text().splitlines())
            reclaimable = int(stat.get(cache, 0))
        except (OSError, ValueError):
            reclaimable = 0
        return max(int(most) - used + reclaimable, 0)
    return None


def available_memory() -> int | None:
    """Bytes that can still be allocated without swapping, or None where this cannot be told.

    MemAvailable (else the free pages), lowered to what a container's cgroup limit leaves.
    """
    found = [size for size in (_meminfo_available(), _cgroup_room()) if size is not None]
    return min(found) if found else None


def _size(n_bytes: int) -> str:
    """Bytes for a reader: 7.5 TiB, 61.0 GiB, 512.0 MiB."""
    for unit, power in (("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if n_bytes >= 2**power:
            return f"{n_bytes / 2**power:.1f} {unit}"
    return f"{n_bytes / 2**10:.1f} KiB"


def _check_memory(n_events: int, mixed: bool) -> None:
    """Refuse, before anything is allocated, more events than the memory available can hold."""
    available = available_memory()
    needed = memory_needed(n_events, mixed)
    if available is None or needed <= available:
        return
    low, high = 0, n_events // 2  # the most events per class that fit: memory_needed grows with them
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if memory_needed(2 * middle, mixed) <= available else (low, middle - 1)
    layout = "one mixed file" if mixed else "one file per class"
    advice = f"use at most --n {2 * low}" if low else "free some memory first"
    raise ConfigError(
        f"--n {n_events}: simulating {n_events:,} events into {layout} needs about {_size(needed)} of memory, "
        f"but {_size(available)} is available; {advice}"
    )


def _check_output(out: Path, targets: list[Path], overwrite: bool) -> None:
    """Refuse, before simulating anything, outputs that cannot or should not be written."""
    ancestor = next(p for p in (out, *out.parents) if p.exists())
    if not ancestor.is_dir() and ancestor != targets[0]:
        raise ConfigError(f"--out {out}: {ancestor} is a regular file, not a directory")
    existing = [t for t in targets if t.exists()]
    if any(t.is_dir() for t in existing):
        raise ConfigError(
            f"--out {out}: {next(t for t in existing if t.is_dir())} is a directory; expected a file name ending in "
            ".h5 or .hdf5"
        )
    if existing and not overwrite:
        raise ConfigError(
            f"--out {out}: {existing[0]} already exists; remove it, choose another --out, or overwrite it (--overwrite)"
        )
    folder = targets[0].parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".qvit-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"--out {out}: cannot write in {folder} ({err.strerror or err})") from None


def write_dataset(
    out: str | Path,
    n_events: int,
    seed: int = 0,
    config: SimulationConfig | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> list[Path]:
    """Simulate ``n_events`` (half photons, half electrons) and write them.

    ``out`` ending in ``.h5``/``.hdf5`` (in any case) gives one mixed, shuffled file; any
    other path is a directory that receives one file per class, named like the CMS pair.
    The file attributes record the simulator, its version, the seed and every knob.
    Existing files are replaced only with ``overwrite=True``; a path that cannot be
    written, or more events than the memory available holds, is refused before any event
    is simulated. Files are written under temporary names and renamed once all are
    complete: an interruption (Ctrl-C) or error leaves neither partial files nor the
    folders this call made, and files being overwritten as they were.
    """
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events <= 0 or n_events % 2:
        raise ConfigError(f"n_events must be a positive even number (half photons, half electrons), got {n_events!r}")
    check_seed(seed)
    if not os.fspath(out).strip():  # Path("") would be the current directory
        raise ConfigError(
            f"--out {os.fspath(out)!r}: expected a file name ending in .h5 or .hdf5 (one mixed file) or a directory "
            "(one file per class), not an empty name"
        )
    config = config or SimulationConfig()
    out = Path(out)
    n = n_events // 2
    mixed = is_hdf5_name(out)
    targets = [out] if mixed else [out / PAIR_NAMES[p].format(n=n) for p in (PHOTON, ELECTRON)]
    _check_memory(n_events, mixed)
    made = [p for p in (targets[0].parent, *targets[0].parent.parents) if not p.exists()]  # folders this call makes
    parts = {target: target.with_name(f"{target.name}.{os.getpid()}.part") for target in targets}
    written: list[Path] = []  # what this call has begun to write, temporary or renamed
    try:
        _check_output(out, targets, overwrite)
        written += parts.values()
        _simulate_into(list(parts.values()), mixed, n, seed, config, progress)
        for target, part in parts.items():
            part.replace(target)
            written.append(target)
    except BaseException:  # Ctrl-C included: remove what this call wrote (all of it), then let it through
        for path in written:
            path.unlink(missing_ok=True)
        for folder in made:  # deepest first; a folder someone else has filled meanwhile stays
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    return targets


def _simulate_into(
    temporaries: list[Path], mixed: bool, n: int, seed: int, config: SimulationConfig, progress: bool
) -> None:
    """Simulate ``n`` events per class and write them to ``temporaries``: one mixed file, or photons then electrons."""
    common = {
        "simulator": SIMULATOR_NAME,
        "simulator_version": SIMULATOR_VERSION,
        "seed": seed,
        "config": config.to_json(),
        "description": "SIMULATION by qvit_lib (not CMS data): ECAL e/gamma crops, X[...,0] energy GeV/50, X[...,1] "
        "time ns/50",
    }
    if mixed:
        X, y = simulate(n, seed, config, progress)
        order = mixed_order(n, seed)
        _write(temporaries[0], X[order], y[order], {**common, "particle": "mixed"})
        return
    for (particle, label), temporary in zip(((PHOTON, "photon"), (ELECTRON, "electron")), temporaries, strict=True):
        X = simulate_particle(particle, n, seed, config, progress)
        _write(temporary, X, np.full(n, particle, np.float32), {**common, "particle": label})


# --------------------------------------------------------------------------------------
# Larger simulated samples, generated on demand and cached.


def simulated_dataset(
    n_per_class: int, seed: int = 0, cache_dir: str | os.PathLike[str] | None = None, progress: bool = True
) -> Path:
    """Directory of a simulated pair with ``n_per_class`` events each, made once and cached.

    The same (n, seed, simulator version) gives the same events (the same bytes on the same
    processor kind), so the cache is safe to delete. Processes that ask at the same time
    each simulate and the first copy to land is kept. The cache (``data/cache``) is git-ignored.
    """
    root = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    target = root / f"sim-v{SIMULATOR_VERSION}-n{n_per_class}-seed{seed}"
    complete = lambda: target.is_dir() and len(list(target.glob("*.hdf5"))) == 2  # noqa: E731
    if complete():
        return target
    tmp = root / (target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    write_dataset(tmp, 2 * n_per_class, seed=seed, progress=progress)
    if target.is_dir() and not complete():  # a half-made directory left by an older version
        shutil.rmtree(target, ignore_errors=True)
    try:
        tmp.rename(target)  # atomic; fails if another process has just put its copy there
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not complete():
            raise
    return target
