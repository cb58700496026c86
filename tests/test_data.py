"""The data layer: both layouts, splits, normalisation, patches, and every bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from qvit_lib import data
from qvit_lib.core import config
from qvit_lib.core.errors import DataError
from qvit_lib.data import EcalDataset, normalise_energy, patchify, simulation, unpatchify

from .conftest import valid_arrays, write_h5

# ----- layouts and the location


@pytest.mark.parametrize("layout", ["pair_dir", "mixed_file"])
def test_both_layouts_load_balanced_splits(layout, request):
    with EcalDataset(request.getfixturevalue(layout)) as ds:
        assert ds.n_per_class == 200
        assert ds.is_simulation
        assert {s: ds.split_size(s) for s in data.SPLITS} == {"train": 320, "val": 40, "test": 40}
        X, y = ds.load("train")
        assert X.shape == (320, 32, 32) and X.dtype == np.float32
        assert y.sum() == 160
        assert np.array_equal(y[:6], [0, 1, 0, 1, 0, 1]), "photons and electrons alternate"


def test_both_layouts_hold_the_same_events(pair_dir, mixed_file):
    def every_event(location):
        with EcalDataset(location) as ds:
            return {r.tobytes() for s in data.SPLITS for r in ds.load(s, channels="both", normalise=False)[0]}

    events = every_event(pair_dir)
    assert len(events) == 400
    assert events == every_event(mixed_file)


def test_location_from_argument_environment_or_default(pair_dir, mixed_file, monkeypatch):
    monkeypatch.delenv(config.DATA_ENV, raising=False)
    assert data.resolve_location() == config.DEFAULT_DATA_DIR
    monkeypatch.setenv(config.DATA_ENV, str(pair_dir))
    assert data.resolve_location() == pair_dir
    with EcalDataset() as ds:
        assert ds.location == pair_dir
    assert data.resolve_location(mixed_file) == mixed_file


def test_the_committed_default_sample_is_simulation():
    with EcalDataset(config.DEFAULT_DATA_DIR) as ds:
        info = ds.describe()
        assert ds.n_per_class == 25_000
    assert info["kind"].startswith("simulation")
    assert info["simulator"]["seed"] == 2024


def test_describe_for_cms_like_files_without_simulator_attributes(tmp_path):
    X, y = valid_arrays(20)
    path = write_h5(tmp_path / "cms.h5", X=X, y=y)
    with EcalDataset(path) as ds:
        assert not ds.is_simulation
        assert ds.describe()["kind"].startswith("CMS")


# ----- splits


def test_splits_are_disjoint_complete_and_seeded(pair_dir):
    def rows(seed):
        with EcalDataset(pair_dir, seed=seed) as ds:
            return {
                s: ds.load(s, channels="both", normalise=False)[0].reshape(ds.split_size(s), -1) for s in data.SPLITS
            }

    a, b, c = rows(0), rows(0), rows(1)
    keys = {s: {r.tobytes() for r in a[s]} for s in data.SPLITS}
    assert sum(len(k) for k in keys.values()) == 400
    assert not (keys["train"] & keys["val"] or keys["train"] & keys["test"] or keys["val"] & keys["test"])
    assert all(np.array_equal(a[s], b[s]) for s in data.SPLITS)
    assert not np.array_equal(a["test"], c["test"])


def test_prefix_of_a_split_is_balanced(pair_dir):
    with EcalDataset(pair_dir) as ds:
        _, y = ds.load("val", 10)
    assert y.tolist() == [0, 1] * 5


def test_bad_split_channel_or_count(pair_dir):
    with EcalDataset(pair_dir) as ds:
        with pytest.raises(ValueError, match="split must be one of"):
            ds.load("validation")
        with pytest.raises(ValueError, match="channels must be"):
            ds.load("train", channels="rgb")
        with pytest.raises(ValueError, match="n must be >= 0"):
            ds.load("train", -1)


# ----- normalisation and channels


def test_normalisation_sets_each_event_maximum_to_one(pair_dir):
    with EcalDataset(pair_dir) as ds:
        raw, _ = ds.load("train", 50, channels="both", normalise=False)
        normed, _ = ds.load("train", 50, channels="both")
        energy, _ = ds.load("train", 50)
        time, _ = ds.load("train", 50, channels="time")
    assert np.allclose(normed[..., 0].reshape(50, -1).max(axis=1), 1.0)
    assert np.array_equal(energy, normed[..., 0])
    assert np.array_equal(normed[..., 1], raw[..., 1]), "the time channel is not rescaled"
    assert np.array_equal(time, raw[..., 1])
    ratio = raw[..., 0] / raw[..., 0].reshape(50, -1).max(axis=1)[:, None, None]
    assert np.allclose(energy, ratio)


def test_empty_events_stay_zero():
    images = np.zeros((3, 32, 32), np.float32)
    images[1, 4, 4] = 2.0
    out = normalise_energy(images)
    assert out[0].sum() == 0 and out[2].sum() == 0 and out[1, 4, 4] == 1.0


# ----- patches


def test_patches_of_the_paper_shape_and_order():
    images = np.random.default_rng(0).normal(size=(5, 32, 32)).astype(np.float32)
    tokens = patchify(images)
    assert tokens.shape == (5, 32, 32)  # n_t = 32 tokens of d_i = 32 values
    assert np.array_equal(tokens[:, 0].reshape(5, 4, 8), images[:, :4, :8])
    assert np.array_equal(tokens[:, 1].reshape(5, 4, 8), images[:, :4, 8:16])
    assert np.array_equal(tokens[:, 4].reshape(5, 4, 8), images[:, 4:8, :8])
    assert np.array_equal(tokens[:, 31].reshape(5, 4, 8), images[:, 28:, 24:])


@pytest.mark.parametrize("shape", [(4, 32, 32), (4, 32, 32, 2)])
def test_patch_round_trip_numpy_and_torch(shape):
    images = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    assert np.array_equal(unpatchify(patchify(images)), images)
    tensor = torch.from_numpy(images)
    assert torch.equal(unpatchify(patchify(tensor)), tensor)
    assert patchify(images).shape[-1] == 32 * (shape[-1] if len(shape) == 4 else 1)


def test_patches_must_tile_the_image():
    with pytest.raises(ValueError, match="does not tile"):
        patchify(np.zeros((1, 30, 32)))
    with pytest.raises(ValueError, match="do not fit"):
        unpatchify(np.zeros((1, 31, 32)))


# ----- bad input: each names the file and the problem


def _expect(path, pattern, **kwargs):
    with pytest.raises(DataError) as info:
        with EcalDataset(path, **kwargs) as ds:
            for split in data.SPLITS:
                ds.load(split, channels="both")
    message = str(info.value)
    assert str(path) in message, message
    assert re.search(pattern, message), message
    return message


def test_missing_file_or_directory(tmp_path):
    _expect(tmp_path / "nowhere.h5", "does not exist")


def test_missing_file_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path / "gone"))
    with pytest.raises(DataError, match="QVIT_DATA does not exist"):
        EcalDataset()


def test_directory_without_the_pair(tmp_path):
    X, y = valid_arrays(10, label=0)
    write_h5(tmp_path / "SinglePhoton.h5", X=X, y=y)
    _expect(tmp_path, "expected exactly one photon file and one electron file.*SinglePhoton.h5")


@pytest.mark.parametrize("missing", ["X", "y"])
def test_file_without_a_field(tmp_path, missing):
    X, y = valid_arrays()
    fields = {"X": X, "y": y}
    del fields[missing]
    _expect(write_h5(tmp_path / "f.h5", **fields, other=np.zeros(3)), f"no dataset '{missing}' \\(found: .*other")


def test_wrong_shape_of_x(tmp_path):
    X, y = valid_arrays()
    _expect(write_h5(tmp_path / "f.h5", X=X[..., 0], y=y), r"field 'X' has shape \(20, 32, 32\)")
    _expect(write_h5(tmp_path / "g.h5", X=X[:, :16], y=y), r"field 'X' has shape \(20, 16, 32, 2\)")


def test_wrong_dtype_of_x(tmp_path):
    X, y = valid_arrays()
    _expect(write_h5(tmp_path / "f.h5", X=X.astype(np.int32), y=y), "field 'X' has dtype int32")


def test_wrong_length_dtype_or_values_of_y(tmp_path):
    X, y = valid_arrays()
    _expect(write_h5(tmp_path / "a.h5", X=X, y=y[:10]), r"field 'y' has shape \(10,\) but X holds 20 events")
    _expect(write_h5(tmp_path / "b.h5", X=X, y=y.astype("S1")), "field 'y' has dtype")
    bad = y.copy()
    bad[3] = 2.0
    _expect(write_h5(tmp_path / "c.h5", X=X, y=bad), "must be 0 \\(photon\\) or 1 \\(electron\\); event 3 has y = 2")


def test_empty_files(tmp_path):
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    _expect(empty, "the file is empty")
    X, y = valid_arrays()
    _expect(write_h5(tmp_path / "none.h5", X=X[:0], y=y[:0]), "holds no events")


def test_not_hdf5_or_truncated(tmp_path, pair_dir):
    text = tmp_path / "notes.h5"
    text.write_text("not a data file")
    _expect(text, "cannot be read as HDF5.*truncated")
    source = next(pair_dir.glob("*Photon*"))
    for keep in (0.02, 0.5):
        cut = tmp_path / f"cut{keep}.h5"
        blob = source.read_bytes()
        cut.write_bytes(blob[: int(len(blob) * keep)])
        _expect(cut, "truncated")


def test_nan_energies(tmp_path):
    X, y = valid_arrays()
    X[7, 16, 16, 0] = np.nan
    _expect(write_h5(tmp_path / "f.h5", X=X, y=y), "NaN or infinite values in event 7")


def test_negative_energies(tmp_path):
    X, y = valid_arrays()
    X[5, 3, 3, 0] = -0.25
    _expect(write_h5(tmp_path / "f.h5", X=X, y=y), r"negative energy \(-0.25\) in event 5")


def test_negative_times_are_fine(tmp_path):
    X, y = valid_arrays()
    X[:, 16, 16, 1] = -1.5
    with EcalDataset(write_h5(tmp_path / "f.h5", X=X, y=y)) as ds:
        assert ds.load("train", channels="both")[0][..., 1].min() == -1.5


def test_single_class_file(tmp_path):
    X, y = valid_arrays(10, label=1)
    _expect(write_h5(tmp_path / "f.h5", X=X, y=y), "must hold both classes but has no photons")


def test_pair_file_with_the_wrong_labels(tmp_path):
    X, y = valid_arrays(10, label=0)
    write_h5(tmp_path / "Photon.h5", X=X, y=y)
    y_bad = np.ones(10, np.float32)
    y_bad[4] = 0
    write_h5(tmp_path / "Electron.h5", X=X, y=y_bad)
    message = _expect(tmp_path, "the electron file must have y = 1 for every event; event 4 has y = 0")
    assert "Electron.h5" in message


def test_unequal_classes_are_truncated_with_a_warning(tmp_path):
    X, y = valid_arrays(30)
    y[:] = 0
    y[:10] = 1  # 10 electrons, 20 photons
    path = write_h5(tmp_path / "f.h5", X=X, y=y)
    with pytest.warns(
        UserWarning, match=r"unequal classes \(20 photons, 10 electrons\); using a seeded random 10 of each"
    ):
        with EcalDataset(path) as ds:
            assert ds.n_per_class == 10
            labels = np.concatenate([ds.load(s)[1] for s in data.SPLITS])
    assert (labels == 0).sum() == (labels == 1).sum() == 10
    _expect(path, "unequal classes .*expected as many photons as electrons", on_imbalance="error")


# ----- summaries and the cache


def test_summarise_files(pair_dir):
    summaries = data.summarise_files(pair_dir)
    assert [s["photons"] for s in summaries] == [200, 0]
    assert [s["electrons"] for s in summaries] == [0, 200]
    assert all(s["kind"].startswith("SIMULATION") for s in summaries)
    assert summaries[0]["X"] == "(200, 32, 32, 2) float32"
    assert 0 <= summaries[0]["energy_range_gev_over_50"][0] < summaries[0]["energy_range_gev_over_50"][1]


def test_simulated_dataset_is_cached(tmp_path):
    first = simulation.simulated_dataset(30, seed=4, cache_dir=tmp_path, progress=False)
    stamp = [p.stat().st_mtime_ns for p in sorted(first.glob("*.hdf5"))]
    again = simulation.simulated_dataset(30, seed=4, cache_dir=tmp_path, progress=False)
    assert again == first
    assert [p.stat().st_mtime_ns for p in sorted(again.glob("*.hdf5"))] == stamp
    with EcalDataset(first) as ds:
        assert ds.n_per_class == 30
