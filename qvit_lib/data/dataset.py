"""Reading ECAL shower images: the CMS pair, a mixed file, or our simulator's output.

One class, :class:`EcalDataset`, serves every chapter. It opens the files lazily with
h5py (the real pair is 2 GB in memory, energy channel alone), checks their structure up
front, and reads only the events a split asks for, checking those for NaN and negative
energies as it goes. Problems raise :class:`~qvit_lib.core.errors.DataError` naming the file and what was
expected.

Layouts it understands (the data location comes from an argument, else ``QVIT_DATA``,
else the committed simulated sample in ``data/default``):

* a directory holding one photon and one electron file (the names contain ``Photon`` and
  ``Electron``, like ``SinglePhotonPt50_IMGCROPS_n249k_RHv1.hdf5``), each with ``X``
  (N, 32, 32, 2) and ``y`` (N,) — all 0 for photons, all 1 for electrons;
* a single mixed file with both classes in ``y``.

Energies are in GeV/50 (channel 0), hit times in ns/50 (channel 1). Splits are seeded,
80/10/10, and balanced: photons and electrons alternate, so any even-length prefix of a
split holds as many of each.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from qvit_lib.core.config import DATA_ENV, DEFAULT_DATA_DIR, REPO_ROOT
from qvit_lib.core.errors import ConfigError, DataError

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


# The files' format (the CMS open-simulation "electron vs photon" files, and ours).
IMAGE_SIZE = 32  #: 32 × 32 crystals, rows iη, columns iφ, centred on the most energetic one
ENERGY_UNIT_GEV = 50.0  #: channel 0 stores energy in GeV/50
TIME_UNIT_NS = 50.0  #: ... channel 1 hit time in ns/50
PHOTON, ELECTRON = 0, 1  # the labels y
# The attribute "simulator" our simulator writes (the module's name when the format was fixed).
SIMULATOR_NAME = "qvit_lib.simulation"

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
PATCH_SHAPE = (4, 8)  #: rows (η) × columns (φ): d_i = 32 values per patch, n_t = 32 tokens
H5_SUFFIXES = (".h5", ".hdf5")  #: matched whatever their case: x.H5 and x.HDF5 are HDF5 files too
CLASS_NAMES = {PHOTON: "photon", ELECTRON: "electron"}

Channels = Literal["energy", "time", "both"]


# --------------------------------------------------------------------------------------
# Locating and opening files.


def is_hdf5_name(path: str | os.PathLike[str]) -> bool:
    """Whether a name ends in one of :data:`H5_SUFFIXES`, in any case (``x.H5`` as ``x.h5``)."""
    return Path(path).suffix.lower() in H5_SUFFIXES


@contextmanager
def _readable(path: Path, what: str) -> Iterator[None]:
    """Turn a permission error while reading ``path`` (a ``what``: file, folder …) into a DataError naming it."""
    try:
        yield
    except PermissionError as err:
        where = err.filename or path  # h5py names no file; os names the one it was refused
        raise DataError(f"{where}: permission denied; expected a {what} this user may read") from None


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as a reader should see it: relative to the repository when inside it."""

    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def resolve_location(location: str | os.PathLike[str] | None = None) -> Path:
    """The data location: the argument, else ``$QVIT_DATA``, else ``data/default``."""
    if location is None:
        location = os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR
    path = Path(location).expanduser()
    with _readable(path, "data location (and folders above it)"):  # a folder above it may refuse the look-up
        exists = path.exists()
    if not exists:
        source = "QVIT_DATA" if location == os.environ.get(DATA_ENV) else "data location"
        raise DataError(
            f"{path}: {source} does not exist; expected an HDF5 file or a directory holding the photon and electron "
            "files"
        )
    return path


def _find_pair(directory: Path) -> tuple[Path, Path]:
    with _readable(directory, "folder"):
        files = sorted(p for p in directory.iterdir() if is_hdf5_name(p) and p.is_file())
    photons = [p for p in files if "photon" in p.name.lower()]
    electrons = [p for p in files if "electron" in p.name.lower()]
    if len(photons) != 1 or len(electrons) != 1:
        found = ", ".join(p.name for p in files) or "no .h5/.hdf5 files"
        raise DataError(
            f"{directory}: expected exactly one photon file and one electron file "
            f"(names containing 'Photon' and 'Electron', ending in .h5 or .hdf5); found: {found}"
        )
    return photons[0], electrons[0]


@dataclass
class _Part:
    """One open file: its X dataset, labels, and which of its rows are used."""

    path: Path
    handle: object
    X: object
    y: np.ndarray
    attrs: dict[str, object]
    y_dtype: np.dtype
    rows: dict[int, np.ndarray] = field(default_factory=dict)  # class -> rows used


def _open_part(path: Path) -> _Part:
    # lazy: loads h5py; importing this module does not
    import h5py

    with _readable(path, "file"):  # the file, or one its links lead to
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        if path.stat().st_size == 0:
            raise DataError(f"{path}: the file is empty (0 bytes)")
        try:
            handle = h5py.File(path, "r")
        except PermissionError:
            raise
        except OSError as err:
            raise DataError(
                f"{path}: cannot be read as HDF5 ({err}); the file may be truncated or not an HDF5 file"
            ) from None
        try:
            part = _checked_part(path, handle)
        except BaseException:
            handle.close()
            raise
    return part


def _checked_part(path: Path, handle) -> _Part:
    # lazy: loads h5py; importing this module does not
    import h5py

    expected = "expected datasets X (N, 32, 32, 2) float32 and y (N,) float32"
    for name in ("X", "y"):
        _check_link(path, handle, name)
        if name not in handle or not isinstance(handle[name], h5py.Dataset):
            found = ", ".join(sorted(handle.keys())) or "nothing"
            raise DataError(f"{path}: no dataset '{name}' (found: {found}); {expected}")
        _check_virtual_sources(path, handle[name])
    X, y_ds = handle["X"], handle["y"]
    if X.ndim != 4 or X.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 2):
        raise DataError(f"{path}: field 'X' has shape {X.shape}; {expected}")
    if X.dtype.kind != "f":
        raise DataError(f"{path}: field 'X' has dtype {X.dtype}; expected a floating-point type (float32)")
    if y_ds.ndim != 1 or y_ds.shape[0] != X.shape[0]:
        raise DataError(f"{path}: field 'y' has shape {y_ds.shape} but X holds {X.shape[0]} events; {expected}")
    if X.shape[0] == 0:
        raise DataError(f"{path}: holds no events (X has 0 rows)")
    try:
        y = np.asarray(y_ds[...])
    except OSError as err:
        raise DataError(f"{path}: field 'y' cannot be read ({err}); the file may be truncated") from None
    if y.dtype.kind not in "fiub":
        raise DataError(f"{path}: field 'y' has dtype {y.dtype}; expected float32 labels 0 (photon) or 1 (electron)")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{path}: field 'y' must be 0 (photon) or 1 (electron); event {row} has y = {y[row].item()}")
    attrs = {key: (value.decode() if isinstance(value, bytes) else value) for key, value in handle.attrs.items()}
    part = _Part(path, handle, X, y.astype(np.int64), attrs, y.dtype)
    probe = np.arange(min(len(y), _PROBE_EVENTS))  # cheap: one compressed chunk
    _check_values(part, probe, _read_rows(part, probe, 0), -1)
    return part


_PROBE_EVENTS = 64  # events read when a file is opened, to refuse files of empty or broken images


def _check_link(path: Path, handle, name: str) -> None:
    """An external or soft link named ``name`` must lead to an existing object."""
    # lazy: loads h5py; importing this module does not
    import h5py

    link = handle.get(name, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        target = Path(link.filename)
        target = target if target.is_absolute() else path.parent / target
        if not target.is_file():
            raise DataError(f"{path}: field '{name}' is an external link to {target}, which does not exist")
        with h5py.File(target, "r") as other:
            if link.path not in other:
                raise DataError(f"{path}: field '{name}' links to '{link.path}' in {target}, which has no such object")
    elif isinstance(link, h5py.SoftLink) and name not in handle:
        raise DataError(f"{path}: field '{name}' is a soft link to '{link.path}', which does not exist in the file")


def _check_virtual_sources(path: Path, dataset) -> None:
    """A virtual dataset whose source files are gone reads as its fill value: refuse it."""
    if not dataset.is_virtual:
        return
    # lazy: loads h5py; importing this module does not
    import h5py

    field = dataset.name.lstrip("/")
    for source in dataset.virtual_sources():
        if source.file_name == ".":  # a source inside this same file
            found = source.dset_name in dataset.file
            where = path
        else:  # HDF5 looks beside the virtual file and relative to the working directory
            candidates = [path.parent / source.file_name, Path(source.file_name)]
            where = next((c for c in candidates if c.is_file()), candidates[0])
            if not where.is_file():
                raise DataError(
                    f"{path}: field '{field}' is a virtual dataset whose source file {where} does not exist; its "
                    "events would read as zeros"
                )
            with h5py.File(where, "r") as other:
                found = source.dset_name in other
        if not found:
            raise DataError(
                f"{path}: field '{field}' is a virtual dataset whose source '{source.dset_name}' is missing from "
                f"{where}; its events would read as zeros"
            )


def _check_labels(part: _Part, label: int) -> None:
    """Every event of a one-class file carries that class's label."""
    wrong = part.y != label
    if wrong.any():
        row = int(np.argmax(wrong))
        raise DataError(
            f"{part.path}: the {CLASS_NAMES[label]} file must have y = {label} for every event; "
            f"event {row} has y = {part.y[row].item()} ({int(wrong.sum())} of {len(wrong)} events are labelled "
            "otherwise)"
        )


def _read_rows(part: _Part, rows: np.ndarray, channel: slice | int) -> np.ndarray:
    """Rows of ``X`` (any order) with the given channel selection, read block-wise."""
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    out_shape = (len(rows), IMAGE_SIZE, IMAGE_SIZE) + (() if isinstance(channel, int) else (2,))
    out = np.empty(out_shape, dtype=np.float32)
    block = 1024
    try:
        starts = np.unique(sorted_rows // block) * block
        position = 0
        for start in starts:
            stop = min(start + block, part.X.shape[0])
            take = sorted_rows[position : position + np.searchsorted(sorted_rows[position:], stop)]
            if len(take) * 16 >= stop - start:  # dense: one contiguous read
                chunk = part.X[start:stop, :, :, channel][take - start]
            else:  # sparse: only the rows needed
                chunk = part.X[take, :, :, channel]
            out[order[position : position + len(take)]] = chunk
            position += len(take)
    except OSError as err:
        raise DataError(f"{part.path}: field 'X' cannot be read ({err}); the file may be truncated") from None
    return out


def _check_values(part: _Part, rows: np.ndarray, images: np.ndarray, energy_index: int | None) -> None:
    finite = np.isfinite(images).reshape(len(images), -1).all(axis=1)
    if not finite.all():
        row = int(rows[np.argmin(finite)])
        raise DataError(f"{part.path}: field 'X' has NaN or infinite values in event {row}")
    if energy_index is None or len(images) == 0:
        return
    energy = images if energy_index == -1 else images[..., energy_index]
    if not energy.any():
        which = f"event {int(rows[0])}" if len(rows) == 1 else f"all {len(rows)} events read"
        raise DataError(
            f"{part.path}: field 'X' has no energy anywhere in {which}; expected showers (energy > 0 around the centre)"
        )
    negative = (energy < 0).reshape(len(images), -1).any(axis=1)
    if negative.any():
        row = int(rows[np.argmax(negative)])
        low = float(energy[np.argmax(negative)].min())
        raise DataError(
            f"{part.path}: field 'X' has a negative energy ({low:.3g}) in event {row}; energies must be >= 0"
        )


# --------------------------------------------------------------------------------------
# The dataset.


def _kind(attrs, loud: bool = False) -> str:
    """What a file that is not our simulation holds: a GAN's showers (``loud``: in capitals, as
    :func:`summarise_files` names the simulation), or CMS-format data."""
    if "generator" in attrs:
        word = "GENERATED" if loud else "generated"
        return f"{word} by {attrs['generator']} (qvit_lib's shower GAN), not CMS data"
    return "CMS-format data, not our simulation (no simulator attributes)"


class EcalDataset:
    """Electron and photon shower images with seeded, balanced 80/10/10 splits.

    ``location``: a file, a directory with the pair, or None for ``$QVIT_DATA`` or the
    default sample. Unequal classes are truncated to the smaller one (a seeded random
    subset of the larger, with a warning) or, with ``on_imbalance="error"``, refused.
    Use as a context manager, or call :meth:`EcalDataset.close`.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        seed: int = 0,
        on_imbalance: Literal["truncate", "error"] = "truncate",
    ) -> None:
        if on_imbalance not in ("truncate", "error"):
            raise ConfigError(f"on_imbalance must be 'truncate' or 'error', got {on_imbalance!r}")
        self.location = resolve_location(location)
        self.seed = seed
        self._parts: list[_Part] = []
        try:
            self._open(on_imbalance)
        except BaseException:
            self.close()
            raise
        self._splits = self._make_splits()

    # ----- opening
    def _open(self, on_imbalance: str) -> None:
        if self.location.is_dir():
            photon_path, electron_path = _find_pair(self.location)
            for path, label in ((photon_path, PHOTON), (electron_path, ELECTRON)):
                part = _open_part(path)
                self._parts.append(part)
                _check_labels(part, label)
                part.rows[label] = np.arange(len(part.y))
        else:
            part = _open_part(self.location)
            self._parts.append(part)
            for label in (PHOTON, ELECTRON):
                part.rows[label] = np.flatnonzero(part.y == label)
            missing = [CLASS_NAMES[c] for c in (PHOTON, ELECTRON) if len(part.rows[c]) == 0]
            if missing:
                raise DataError(
                    f"{self.location}: a single file must hold both classes but has no {missing[0]}s; "
                    "for one file per class, point at the directory holding the photon and electron files"
                )
        counts = {label: sum(len(p.rows.get(label, ())) for p in self._parts) for label in (PHOTON, ELECTRON)}
        if counts[PHOTON] != counts[ELECTRON]:
            message = f"{self.location}: unequal classes ({counts[PHOTON]} photons, {counts[ELECTRON]} electrons)"
            if on_imbalance == "error":
                raise DataError(message + "; expected as many photons as electrons")
            keep = min(counts.values())
            warnings.warn(message + f"; using a seeded random {keep} of each", stacklevel=3)
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 7]))
            for part in self._parts:
                for label, rows in part.rows.items():
                    if len(rows) > keep:
                        part.rows[label] = np.sort(rng.choice(rows, keep, replace=False))
        self.n_per_class = min(counts.values())

    def _class_events(self, label: int) -> list[tuple[int, int]]:
        return [(i, int(r)) for i, part in enumerate(self._parts) for r in part.rows.get(label, ())]

    def _make_splits(self) -> dict[str, np.ndarray]:
        """Per split, an (n, 2) array of (part, row): photons and electrons alternate."""
        n = self.n_per_class
        n_train, n_val = int(SPLIT_FRACTIONS[0] * n), int(SPLIT_FRACTIONS[1] * n)
        bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
        per_class = {}
        for label in (PHOTON, ELECTRON):
            events = np.array(self._class_events(label), dtype=np.int64).reshape(-1, 2)
            order = np.random.default_rng(np.random.SeedSequence([self.seed, label])).permutation(len(events))
            per_class[label] = events[order]
        splits = {}
        for name, (lo, hi) in bounds.items():
            pair = np.stack([per_class[PHOTON][lo:hi], per_class[ELECTRON][lo:hi]], axis=1)
            splits[name] = pair.reshape(-1, 2)
        return splits

    # ----- describing
    @property
    def files(self) -> list[Path]:
        return [part.path for part in self._parts]

    @property
    def parts(self) -> list[_Part]:
        """The open files, for readers of what a file holds beyond ``X`` and ``y`` (:mod:`qvit_lib.data.truth`)."""
        return list(self._parts)

    @property
    def is_simulation(self) -> bool:
        return all(part.attrs.get("simulator") == SIMULATOR_NAME for part in self._parts)

    def split_size(self, split: str) -> int:
        return len(self._split(split))

    def describe(self) -> dict[str, object]:
        """What the data is: kind, files, events per class and split, simulator settings."""
        info: dict[str, object] = {
            "kind": "simulation (qvit_lib)" if self.is_simulation else _kind(self._parts[0].attrs),
            "files": [str(p) for p in self.files],
            "events_per_class": self.n_per_class,
            "split_sizes": {name: self.split_size(name) for name in SPLITS},
            "seed": self.seed,
        }
        if self.is_simulation:
            attrs = self._parts[0].attrs
            info["simulator"] = {
                "version": attrs.get("simulator_version"),
                "seed": int(attrs["seed"]) if "seed" in attrs else None,
                "config": json.loads(attrs["config"]) if "config" in attrs else None,
            }
        return info

    # ----- reading
    def _split(self, split: str) -> np.ndarray:
        if split not in self._splits:
            raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
        return self._splits[split]

    def load(
        self,
        split: str = "train",
        n: int | None = None,
        *,
        channels: Channels = "energy",
        normalise: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read the first ``n`` events of a split (all if None): images and labels.

        ``channels``: "energy" gives (n, 32, 32), "time" (n, 32, 32), "both"
        (n, 32, 32, 2). ``normalise`` scales each event's energy so its maximum is 1, as
        the paper does; the time channel is left in ns/50.
        """
        events = self._split(split)
        if n is not None:
            if n < 0:
                raise ConfigError(f"n must be >= 0, got {n}")
            events = events[:n]
        selectors: dict[str, slice | int] = {"energy": 0, "time": 1, "both": slice(None)}
        if channels not in selectors:
            raise ConfigError(f"channels must be 'energy', 'time' or 'both'; got {channels!r}")
        energy_index = {"energy": -1, "time": None, "both": 0}[channels]
        shape = (len(events), IMAGE_SIZE, IMAGE_SIZE) + ((2,) if channels == "both" else ())
        images = np.empty(shape, dtype=np.float32)
        labels = np.empty(len(events), dtype=np.float32)
        for part, rows, mine in self.rows_by_file(split, n):
            chunk = _read_rows(part, rows, selectors[channels])
            _check_values(part, rows, chunk, energy_index)
            images[mine] = chunk
            labels[mine] = part.y[rows]
        if normalise and channels != "time":
            if channels == "both":
                images[..., 0] = normalise_energy(images[..., 0])
            else:
                images = normalise_energy(images)
        return images, labels

    def tokens(self, split: str = "train", n: int | None = None):
        """Model inputs: energy images cut into 4×8 patches, as torch tensors.

        Returns (tokens (n, 32, 32) float32, labels (n,) float32), events normalised to max 1.
        """
        # lazy: loads torch; importing this module does not
        import torch

        images, labels = self.load(split, n)
        return torch.from_numpy(patchify(images)), torch.from_numpy(labels)

    def images(self, split: str = "train", n: int | None = None, channels: Channels = "energy"):
        """A CNN's inputs: whole crops as torch tensors, channels first.

        Returns (images (n, C, 32, 32) float32, labels (n,) float32); C is 1 for ``energy``
        or ``time`` and 2 for ``both`` (energy, then time), normalised as :meth:`load` does.
        """
        # lazy: loads torch; importing this module does not
        import torch

        images, labels = self.load(split, n, channels=channels)
        images = images[..., None] if channels != "both" else images
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))), torch.from_numpy(labels)

    def rows_by_file(self, split: str = "train", n: int | None = None) -> list[tuple[_Part, np.ndarray, np.ndarray]]:
        """Where the first ``n`` events of a split live: per open file, its rows and their places in the split.

        For readers of what a file holds beyond ``X`` and ``y`` (:mod:`qvit_lib.data.truth`).
        """
        events = self._split(split)[: None if n is None else max(n, 0)]
        out = []
        for i, part in enumerate(self._parts):
            mine = np.flatnonzero(events[:, 0] == i)
            if len(mine):
                out.append((part, events[mine, 1], mine))
        return out

    # ----- housekeeping
    def close(self) -> None:
        """Close the HDF5 files the data set holds open."""
        for part in self._parts:
            try:
                part.handle.close()
            except Exception:  # closing twice or after a failed open is harmless
                pass

    def __enter__(self) -> EcalDataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "simulation" if self.is_simulation else "CMS"
        return f"EcalDataset({kind}, {self.n_per_class} events per class, {shown_path(self.location)!r})"


# --------------------------------------------------------------------------------------
# Pre-processing.


def normalise_energy(energy: np.ndarray) -> np.ndarray:
    """Scale each event (first axis) so its most energetic crystal is 1; empty events stay 0."""
    if len(energy) == 0:
        return energy.copy()
    peak = energy.reshape(len(energy), -1).max(axis=1)
    scale = np.where(peak > 0, peak, 1.0).reshape((-1,) + (1,) * (energy.ndim - 1))
    return (energy / scale).astype(energy.dtype, copy=False)


def patchify(images, patch: tuple[int, int] = PATCH_SHAPE):
    """Cut images (N, H, W) or (N, H, W, C) into flattened patches, row-major.

    Returns (N, n_t, d_i) with n_t = (H/ph)·(W/pw) and d_i = ph·pw·C. Works on numpy
    arrays and torch tensors alike. With the paper's 4×8 patches on 32×32 energy images:
    32 tokens of 32 values.
    """
    squeeze = images.ndim == 3
    if squeeze:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"patchify expects images (N, H, W) or (N, H, W, C), got shape {tuple(images.shape)}")
    n, h, w, c = images.shape
    ph, pw = patch
    if h % ph or w % pw:
        raise ValueError(f"patch {patch} does not tile images of {h}×{w}")
    x = images.reshape(n, h // ph, ph, w // pw, pw, c).swapaxes(2, 3)
    return x.reshape(n, (h // ph) * (w // pw), ph * pw * c)


def unpatchify(
    tokens,
    image_shape: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE),
    patch: tuple[int, int] = PATCH_SHAPE,
    channels: int | None = None,
):
    """Inverse of :func:`patchify`: (N, n_t, d_i) back to (N, H, W) or (N, H, W, C)."""
    n, n_t, d_i = tokens.shape
    (h, w), (ph, pw) = image_shape, patch
    c = d_i // (ph * pw)
    if n_t != (h // ph) * (w // pw) or c * ph * pw != d_i:
        raise ValueError(f"tokens of shape {tuple(tokens.shape)} do not fit {h}×{w} images cut into {ph}×{pw} patches")
    x = tokens.reshape(n, h // ph, w // pw, ph, pw, c).swapaxes(2, 3).reshape(n, h, w, c)
    return x[..., 0] if (channels is None and c == 1) else x


def summarise_files(location: str | os.PathLike[str] | None = None) -> list[dict[str, object]]:
    """Per file: events per class, shapes, energy and time ranges, simulation or CMS.

    Reads every event block by block (a few seconds per 100k events) and checks values
    as :meth:`EcalDataset.load` does.
    """
    path = resolve_location(location)
    labelled = zip(_find_pair(path), (PHOTON, ELECTRON)) if path.is_dir() else [(path, None)]
    summaries = []
    for file, label in labelled:
        part = _open_part(file)
        try:
            if label is not None:
                _check_labels(part, label)
            n = len(part.y)
            e_range, t_range = [np.inf, -np.inf], [np.inf, -np.inf]
            for start in range(0, n, 8192):
                rows = np.arange(start, min(start + 8192, n))
                block = _read_rows(part, rows, slice(None))
                _check_values(part, rows, block, 0)
                e_range = [min(e_range[0], float(block[..., 0].min())), max(e_range[1], float(block[..., 0].max()))]
                t_range = [min(t_range[0], float(block[..., 1].min())), max(t_range[1], float(block[..., 1].max()))]
            simulated = part.attrs.get("simulator") == SIMULATOR_NAME
            summaries.append(
                {
                    "file": str(file),
                    "kind": "SIMULATION (qvit_lib simulator)" if simulated else _kind(part.attrs, loud=True),
                    "X": f"{tuple(part.X.shape)} {part.X.dtype}",
                    "y": f"({n},) {part.y_dtype}",
                    "photons": int((part.y == PHOTON).sum()),
                    "electrons": int((part.y == ELECTRON).sum()),
                    "energy_range_gev_over_50": e_range,
                    "time_range_ns_over_50": t_range,
                    "simulator_seed": part.attrs.get("seed") if simulated else None,
                }
            )
        finally:
            part.handle.close()
    return summaries
