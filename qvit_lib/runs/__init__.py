"""Runs that are recorded and committed, and the commands' work behind them.

* :mod:`~qvit_lib.runs.experiments` — protocols, classifier runs, sweeps, loading trained models;
* :mod:`~qvit_lib.runs.scores` — each converged run's test logits, for paired tests;
* :mod:`~qvit_lib.runs.gan_runs` — the shower GAN's runs and their evaluation;
* :mod:`~qvit_lib.runs.hardware` — trained models on an emulated device, and its cost model;
* :mod:`~qvit_lib.runs.bench` — the benchmarks whose figures the book shows.
"""
