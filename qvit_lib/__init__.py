"""qvit_lib: the code behind the QViT book.

One module per idea: :mod:`~qvit_lib.simulation` (a fast ECAL shower simulator),
:mod:`~qvit_lib.data` (reading the CMS or simulated files, splits, patches),
:mod:`~qvit_lib.showers` (shower-shape features), :mod:`~qvit_lib.plots` (figures),
:mod:`~qvit_lib.config` (quick mode, paths) and :mod:`~qvit_lib.cli` (the command line).
"""

__version__ = "0.1.0"
