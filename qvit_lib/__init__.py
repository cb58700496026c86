"""qvit_lib: the code behind the QViT book.

One idea per module, grouped in subpackages that follow the layers; a module imports only
its own layer and those below (``tests/test_structure.py`` checks it):

====  ================================  ==================================================
layer subpackage                        what it holds
====  ================================  ==================================================
0     :mod:`qvit_lib.core`              errors, quick mode and paths, the paper's numbers,
                                        provenance
1     :mod:`qvit_lib.data`              the CMS file format, the data set, our simulator,
                                        shower shapes
1     :mod:`qvit_lib.analysis`          classifier metrics, DeLong's test, shower comparison
1     :mod:`qvit_lib.quantum`           the circuits; PennyLane QNodes; exact engines;
                                        device emulation (shots, noise, readout)
2     :mod:`qvit_lib.models`            attention, feed-forward, integrators, the ViT, the GAN
3     :mod:`qvit_lib.training`          checkpoints, the classifier and GAN loops, processes
4     :mod:`qvit_lib.runs`              protocols, recorded runs, sweeps, scores, hardware
                                        study, benchmarks
5     :mod:`qvit_lib.display`           figures and widgets
6     :mod:`qvit_lib.cli`               the command line, ``python -m qvit_lib``
====  ================================  ==================================================
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
