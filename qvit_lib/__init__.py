"""qvit_lib: the code behind the QViT book.

One module per idea: :mod:`~qvit_lib.simulation` (a fast ECAL shower simulator),
:mod:`~qvit_lib.data` (reading the CMS or simulated files, splits, patches),
:mod:`~qvit_lib.showers` (shower-shape features), :mod:`~qvit_lib.attention` (classical and
hybrid self-attention), :mod:`~qvit_lib.circuits` (the PennyLane circuits and device choice),
:mod:`~qvit_lib.fused` (the exact fused circuit simulator), :mod:`~qvit_lib.models` (the
vision transformers and their variants), :mod:`~qvit_lib.training` (the training loop, checkpoints and
metrics), :mod:`~qvit_lib.experiments` (protocols, runs, sweeps and their results), :mod:`~qvit_lib.plots` (figures), :mod:`~qvit_lib.widgets` (interactive explorers),
:mod:`~qvit_lib.config` (quick mode, paths), :mod:`~qvit_lib.bench` (benchmarks) and
:mod:`~qvit_lib.cli` (the command line).
"""

__version__ = "0.1.0"
