"""The showers: the CMS file format and the data set that reads it (:mod:`~qvit_lib.data.dataset`),
our simulator that writes that format (:mod:`~qvit_lib.data.simulation`), and the shower-shape
features and their baselines (:mod:`~qvit_lib.data.shapes`).

The data set's names are re-exported here: ``from qvit_lib.data import EcalDataset``.
"""

from qvit_lib.data import dataset
from qvit_lib.data.dataset import *  # noqa: F403 - the data set's names, re-exported: one list, the module's

__all__ = list(dataset.__all__)
