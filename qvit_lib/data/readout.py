"""The ECAL readout: electronics noise, zero suppression and hit times, for NumPy arrays or torch tensors.

One model serves the simulator (:mod:`qvit_lib.data.simulation`, NumPy) and the shower
generators of chapter 11 (:mod:`qvit_lib.models.gan`, torch, differentiable in the energies):
a generator makes the energy each crystal receives, and this readout turns it into what the
files store, as digitisation follows the shower simulation in CMS.

* every crystal gets Gaussian noise σ_noise; a crystal reads energy only above the
  zero-suppression threshold;
* a hit's time has the resolution N/(E/σ_noise) ⊕ C of a real pulse, or a broad σ for hits
  made by noise alone (true energy under σ_noise); times are clipped to the readout window.
"""

from __future__ import annotations

from typing import Protocol

from qvit_lib.data.dataset import ENERGY_UNIT_GEV, TIME_UNIT_NS

__all__ = ["ReadoutSettings", "TIME_WINDOW_NS", "readout"]

TIME_WINDOW_NS = (-125.0, 115.0)  #: the readout window: times outside it are clipped


class ReadoutSettings(Protocol):
    """The readout's knobs (:class:`~qvit_lib.data.simulation.SimulationConfig` has them all)."""

    noise_gev: float
    zero_suppression_gev: float
    time_noise_ns: float
    time_constant_ns: float
    noise_hit_time_ns: float


def readout(true_energy, normals, settings: ReadoutSettings, xp):
    """Energy and time in file units (GeV/50, ns/50) read from true crystal energies in GeV.

    ``normals``: three standard normal arrays of ``true_energy``'s shape (noise, pulse time,
    noise-hit time); ``xp``: the ``numpy`` or ``torch`` module.
    """
    noise, pulse, stray = normals
    measured = true_energy + settings.noise_gev * noise
    hit = measured > settings.zero_suppression_gev
    zero = xp.zeros_like(measured)
    energy = xp.where(hit, measured, zero)
    sigma_t = xp.sqrt(
        (settings.time_noise_ns * settings.noise_gev / xp.clip(measured, 1e-9, None)) ** 2
        + settings.time_constant_ns**2
    )
    time = xp.where(true_energy < settings.noise_gev, settings.noise_hit_time_ns * stray, sigma_t * pulse)
    time = xp.where(hit, xp.clip(time, *TIME_WINDOW_NS), zero)
    return energy / ENERGY_UNIT_GEV, time / TIME_UNIT_NS
