"""Emulating a device: shots, depolarising noise and readout errors
(:mod:`~qvit_lib.quantum.device.noise`), and the sampler of the 16-qubit value circuit's joint bit
strings (:mod:`~qvit_lib.quantum.device.chain`). Both are checked against PennyLane's
``default.mixed`` and shot-based ``default.qubit``."""
