"""qvit_lib: the code behind the QViT book.

One module per idea, in layers that import only downwards (``tests/test_structure.py``):

* foundations: :mod:`~qvit_lib.errors` (the errors a user can fix), :mod:`~qvit_lib.config`
  (quick mode, paths), :mod:`~qvit_lib.paper` (every number taken from the paper),
  :mod:`~qvit_lib.provenance` (machine and versions of a result);
* data: :mod:`~qvit_lib.data` (the file format, reading CMS or simulated files, splits,
  patches), :mod:`~qvit_lib.simulation` (a fast ECAL shower simulator),
  :mod:`~qvit_lib.showers` (shower-shape features and baselines), :mod:`~qvit_lib.metrics`
  (accuracy, BCE, ROC);
* circuits: :mod:`~qvit_lib.ansatz` (the loaders and ansätze every simulator shares),
  :mod:`~qvit_lib.fused` (the exact fused simulator), :mod:`~qvit_lib.circuits` (PennyLane
  QNodes, device choice, the comparison harness);
* models: :mod:`~qvit_lib.attention` (classical and hybrid self-attention),
  :mod:`~qvit_lib.models` (the vision transformers and their variants);
* runs: :mod:`~qvit_lib.training` (the loop, checkpoints), :mod:`~qvit_lib.experiments`
  (protocols, runs, sweeps, committed results, pretrained models);
* on top: :mod:`~qvit_lib.cli` (the command line), :mod:`~qvit_lib.bench` (benchmarks),
  :mod:`~qvit_lib.plots` (figures), :mod:`~qvit_lib.widgets` (interactive explorers).
"""

__version__ = "0.1.0"
