"""The showers: the CMS file format and the data set that reads it (:mod:`~qvit_lib.data.dataset`),
our simulator that writes that format (:mod:`~qvit_lib.data.simulation`), and the shower-shape
features and their baselines (:mod:`~qvit_lib.data.shapes`).

The data set's names are re-exported here: ``from qvit_lib.data import EcalDataset``.
"""

from qvit_lib.data.dataset import (
    CLASS_NAMES,
    ENERGY_UNIT_GEV,
    H5_SUFFIXES,
    IMAGE_SIZE,
    PATCH_SHAPE,
    SIMULATOR_NAME,
    SPLIT_FRACTIONS,
    SPLITS,
    TIME_UNIT_NS,
    Channels,
    EcalDataset,
    is_hdf5_name,
    normalise_energy,
    patchify,
    resolve_location,
    shown_path,
    summarise_files,
    unpatchify,
)

__all__ = [
    "IMAGE_SIZE",
    "ENERGY_UNIT_GEV",
    "TIME_UNIT_NS",
    "SIMULATOR_NAME",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "PATCH_SHAPE",
    "H5_SUFFIXES",
    "CLASS_NAMES",
    "Channels",
    "is_hdf5_name",
    "shown_path",
    "resolve_location",
    "EcalDataset",
    "normalise_energy",
    "patchify",
    "unpatchify",
    "summarise_files",
]
