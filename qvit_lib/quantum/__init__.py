"""The circuits of the hybrid attention, and three ways to run them.

* :mod:`~qvit_lib.quantum.ansatz` — the data loaders and ansätze every engine shares;
* :mod:`~qvit_lib.quantum.qnodes` — the PennyLane boundary: QNodes, the device choice, the
  comparison harness that checks the engines against PennyLane;
* :mod:`~qvit_lib.quantum.exact` — exact engines in PyTorch for training: state vector,
  Fourier series, quadratic forms and Pauli propagation;
* :mod:`~qvit_lib.quantum.device` — what a quantum computer would return: finite shots,
  depolarising noise, readout errors, and the joint sampler of the 16-qubit circuits.
"""
