"""qvit_lib: the code behind the QViT book.

One idea per module, grouped in subpackages that follow the layers; a module imports only
its own layer and those below (``tests/test_structure.py`` checks it):

* layer 0, :mod:`qvit_lib.core`: errors, quick mode and paths, the paper's numbers, provenance;
* layer 1, :mod:`qvit_lib.data`: the CMS file format, the data set, our simulator, shower shapes;
* layer 1, :mod:`qvit_lib.analysis`: classifier metrics, DeLong's test, shower comparison;
* layer 1, :mod:`qvit_lib.quantum`: the circuits' gate lists; PennyLane QNodes; exact engines;
  device emulation (shots, noise, readout);
* layer 2, :mod:`qvit_lib.models`: the variants, attention, feed-forward, integrators, the ViT, the GAN;
* layer 3, :mod:`qvit_lib.training`: checkpoints, the classifier and GAN loops, processes;
* layer 4, :mod:`qvit_lib.runs`: the run store, recorded runs, sweeps, scores, hardware study,
  benchmarks;
* layer 5, :mod:`qvit_lib.display`: figures and widgets;
* layer 6, :mod:`qvit_lib.cli`: the command line, ``python -m qvit_lib``.

The book's appendix "Library reference" lists every public name, with the chapter that
introduces it.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
