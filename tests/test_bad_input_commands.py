"""Bounded inputs on the command line: sizes, names, Ctrl-C and unreadable data, each a one-line answer.

Every case runs ``cli.main`` in-process and refuses before anything big is allocated, so the
file stays fast: sizes beyond memory are caught by the estimate (and a stand-in for the
memory available), never by trying them.
"""

from __future__ import annotations

import os
import re
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest

from qvit_lib import cli
from qvit_lib.core.errors import ConfigError, DataError
from qvit_lib.data import EcalDataset, dataset, simulation
from qvit_lib.data.simulation import write_dataset
from qvit_lib.models import vit

from .conftest import valid_arrays, write_h5


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run one command in-process: its exit code, stdout and stderr."""
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def exit_of(capsys, *args: str) -> tuple[int | str | None, str]:
    """A command that must stop with SystemExit (argparse, Ctrl-C): its code and stderr."""
    try:
        cli.main(list(args))
    except SystemExit as stop:
        return stop.code, capsys.readouterr().err
    except KeyboardInterrupt:  # caught here: pytest would take it for the user's Ctrl-C and stop the session
        pytest.fail("Ctrl-C escaped cli.main as a KeyboardInterrupt: a traceback, and no exit code 130")
    pytest.fail("cli.main returned instead of exiting")


def no_simulating(monkeypatch) -> None:
    """Make any simulation fail loudly: a refusal must come before the first event is made."""

    def simulated(*args: object, **kwargs: object) -> None:
        raise AssertionError("events were simulated; the size should have been refused first")

    monkeypatch.setattr(simulation, "simulate_particle", simulated)


def interrupt_electrons(monkeypatch) -> None:
    """Ctrl-C while the electrons are simulated, after the photons are done."""
    real = simulation.simulate_particle

    def simulate_particle(particle: int, *args: object, **kwargs: object) -> np.ndarray:
        if particle == simulation.ELECTRON:
            raise KeyboardInterrupt
        return real(particle, *args, **kwargs)

    monkeypatch.setattr(simulation, "simulate_particle", simulate_particle)


# ----- 1. simulate: more events than memory holds


def test_simulate_refuses_a_size_no_memory_holds(capsys, tmp_path, monkeypatch):
    """2e9 events need terabytes: refused by the estimate, naming --n and both sizes, before any allocation."""
    no_simulating(monkeypatch)
    out = tmp_path / "huge"
    code, _, err = run_cli(capsys, "simulate", "--n", "2000000000", "--out", str(out), "--quiet")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "error: --n 2000000000: simulating 2,000,000,000 events into one file per class needs about" in err
    assert "TiB of memory, but " in err and " is available; use at most --n " in err
    assert not out.exists(), "nothing is created for a refused size"


def test_simulate_refuses_a_size_beyond_the_memory_available(capsys, tmp_path, monkeypatch):
    """With 1 GiB available, 4 million events (about 61 GiB for one mixed file) are refused, and so is the API call."""
    monkeypatch.setattr(simulation, "available_memory", lambda: 2**30)
    no_simulating(monkeypatch)
    code, _, err = run_cli(capsys, "simulate", "--n", "4000000", "--out", str(tmp_path / "x.h5"), "--quiet")
    needed = simulation.memory_needed(4_000_000, mixed=True)
    assert 60 * 2**30 < needed < 64 * 2**30  # two copies of 8 KiB images per event: the shuffle copies them
    assert code == 2 and "error: --n 4000000: simulating 4,000,000 events into one mixed file needs about 61." in err
    assert "GiB of memory, but 1.0 GiB is available; use at most --n " in err
    with pytest.raises(ConfigError, match=r"--n 4000000: .* needs about 31\.\d GiB of memory, but 1\.0 GiB"):
        write_dataset(tmp_path / "pair", 4_000_000)
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "pair").exists()


def test_the_suggested_size_fits(tmp_path, monkeypatch):
    """The --n the refusal suggests is one the estimate accepts, and one more pair is not."""
    monkeypatch.setattr(simulation, "available_memory", lambda: 2**30)
    with pytest.raises(ConfigError, match=r"use at most --n \d+") as refused:
        write_dataset(tmp_path / "x.h5", 1_000_000)
    most = int(re.search(r"use at most --n (\d+)", str(refused.value)).group(1))
    assert most % 2 == 0 and simulation.memory_needed(most, mixed=True) <= 2**30
    assert simulation.memory_needed(most + 2, mixed=True) > 2**30


def test_the_memory_estimate_covers_what_simulating_allocates(tmp_path):
    """The estimate is measured, not guessed: it covers the real peak of a full chunk, within 50 %."""
    for n_events, mixed in ((2 * simulation._CHUNK, False), (2 * 1024, True)):
        simulation.profile_table.cache_clear()  # a first simulation also builds the profile table
        tracemalloc.start()
        try:
            write_dataset(tmp_path / ("x.h5" if mixed else f"pair{n_events}"), n_events)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        estimate = simulation.memory_needed(n_events, mixed)
        assert peak <= estimate <= 1.5 * peak, (n_events, mixed, peak, estimate)


def test_available_memory_falls_back_gracefully(tmp_path, monkeypatch):
    """MemAvailable first, then the free pages from sysconf, then None (and then nothing is refused)."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       4194304 kB\nMemAvailable:   1048576 kB\n")
    monkeypatch.setattr(simulation, "_MEMINFO", meminfo)
    monkeypatch.setattr(simulation, "_CGROUP_ROOT", tmp_path / "no-cgroup")
    assert simulation.available_memory() == 2**30
    monkeypatch.setattr(simulation, "_MEMINFO", tmp_path / "missing")
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}[name])
    assert simulation.available_memory() == 4096000

    def no_sysconf(name: str) -> int:
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", no_sysconf)
    assert simulation.available_memory() is None
    assert write_dataset(tmp_path / "x.h5", 20) == [tmp_path / "x.h5"]


def test_a_cgroup_limit_lowers_the_memory_available(tmp_path, monkeypatch):
    """In a container the cgroup's limit counts, less what it uses (reclaimable cache aside)."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemAvailable:   8388608 kB\n")  # 8 GiB on the host
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "memory.max").write_text(f"{2 * 2**30}\n")
    (cgroup / "memory.current").write_text(f"{2**30}\n")
    (cgroup / "memory.stat").write_text(f"anon 1\ninactive_file {2**28}\n")
    monkeypatch.setattr(simulation, "_MEMINFO", meminfo)
    monkeypatch.setattr(simulation, "_CGROUP_ROOT", cgroup)
    assert simulation.available_memory() == 2**30 + 2**28
    (cgroup / "memory.max").write_text("max\n")
    assert simulation.available_memory() == 8 * 2**30


# ----- 2. simulate: Ctrl-C


def test_ctrl_c_during_simulate_leaves_no_partial_pair(capsys, tmp_path, monkeypatch):
    """Interrupted after the photon file would have been written: exit 130, one line, no file, no new folder."""
    interrupt_electrons(monkeypatch)
    out = tmp_path / "new" / "pair"
    code, err = exit_of(capsys, "simulate", "--n", "20", "--out", str(out), "--quiet")
    assert code == 130 and "Traceback" not in err
    assert err.strip() == f"interrupted: simulation stopped; nothing was written to {out} and no partial file is left"
    assert list(tmp_path.iterdir()) == [], "the folders this command made are gone again"


def test_ctrl_c_while_writing_a_file_keeps_the_old_one(capsys, tmp_path, monkeypatch):
    """Interrupted in the middle of writing over an existing file: the old file is as it was, no temporary left."""
    out = tmp_path / "sample.h5"
    write_dataset(out, 20, seed=1)
    before = out.read_bytes()
    real = h5py.Group.create_dataset

    def create_dataset(self, name: str, *args: object, **kwargs: object):
        if name == "y":
            raise KeyboardInterrupt
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", create_dataset)
    code, err = exit_of(capsys, "simulate", "--n", "20", "--out", str(out), "--quiet", "--overwrite")
    assert code == 130 and err.startswith("interrupted: ") and len(err.strip().splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["sample.h5"] and out.read_bytes() == before


def test_ctrl_c_in_the_library_removes_what_it_started(tmp_path, monkeypatch):
    """write_dataset itself cleans up and lets the KeyboardInterrupt through."""
    interrupt_electrons(monkeypatch)
    (tmp_path / "pair").mkdir()
    with pytest.raises(KeyboardInterrupt):
        write_dataset(tmp_path / "pair", 20)
    assert list((tmp_path / "pair").iterdir()) == [], "a folder that was there stays, empty as it was"


# ----- 3. simulate: the output name


@pytest.mark.parametrize("name", ["", "  "])
def test_simulate_refuses_an_empty_output_name(capsys, tmp_path, monkeypatch, name):
    """--out '' would have meant the current directory: refused, naming --out and what it expects."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "simulate", "--n", "20", "--out", name, "--quiet")
    assert code == 2 and "Traceback" not in err
    assert f"error: --out {name!r}: expected a file name ending in .h5 or .hdf5 (one mixed file) or a directory" in err
    assert list(tmp_path.iterdir()) == [], "nothing is written in the current directory"
    with pytest.raises(ConfigError, match="--out '': expected a file name ending in .h5 or .hdf5"):
        write_dataset("", 20)


@pytest.mark.parametrize("name", ["x.H5", "x.HDF5", "x.Hdf5"])
def test_simulate_output_suffixes_ignore_case(capsys, tmp_path, name):
    """x.H5 is a file, as x.h5 is, not a directory of two files; info then reads it."""
    out = tmp_path / name
    code, stdout, err = run_cli(capsys, "simulate", "--n", "20", "--out", str(out), "--quiet")
    assert code == 0, err
    assert out.is_file() and stdout.strip() == f"wrote {out}"
    code, stdout, _ = run_cli(capsys, "info", str(out))
    assert code == 0 and "photons                    10" in stdout


def test_reading_a_pair_whose_suffixes_are_upper_case(capsys, tmp_path):
    """A folder of SinglePhoton.H5 and SingleElectron.HDF5 is the pair, as with lower-case suffixes."""
    for name, label in (("SinglePhotonPt50.H5", 0.0), ("SingleElectronPt50.HDF5", 1.0)):
        X, y = valid_arrays(20, label=label)
        write_h5(tmp_path / name, X=X, y=y)
    with EcalDataset(tmp_path) as ds:
        assert ds.n_per_class == 20 and sorted(p.name for p in ds.files)[0] == "SingleElectronPt50.HDF5"
    code, stdout, err = run_cli(capsys, "info", str(tmp_path))
    assert code == 0, err
    assert "SinglePhotonPt50.H5" in stdout
    assert dataset.is_hdf5_name("a.HDF5") and not dataset.is_hdf5_name("a.h5.part")


# ----- 4. params: sizes that would allocate or run for minutes


def no_models(monkeypatch) -> None:
    """Make building any model fail loudly: a refusal must come before the first allocation."""

    def built(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was built; the size should have been refused first")

    monkeypatch.setattr(vit, "VisionTransformer", built)


@pytest.mark.parametrize(
    ("flag", "value", "allowed"),
    [
        ("--d-token", "100000", "1 to 512"),
        ("--n-layers", "100000", "0 to 100"),
        ("--n-layers", "-1", "0 to 100"),
        ("--n-heads", "100000", "1 to 512"),
        ("--d-ff", "1000000", "1 to 4096"),
        ("--d-patch", "100000", "1 to 2048"),
        ("--projection-layers", "100000", "1 to 64"),
    ],
)
def test_params_refuses_absurd_sizes_naming_the_range(capsys, monkeypatch, flag, value, allowed):
    """Each size flag has a range; outside it, argparse's one error line names the flag and the range."""
    no_models(monkeypatch)
    code, err = exit_of(capsys, "params", flag, value)
    assert code == 2 and "Traceback" not in err
    assert f"argument {flag}: expected an integer from {allowed}, got {value}" in err


def test_params_refuses_a_model_too_large_to_count(capsys, monkeypatch):
    """Sizes each within range can still make a model of a billion parameters: refused by the formula, before
    any model is built. The bounds stay generous: the largest token with many layers is still counted."""
    code, out, err = run_cli(capsys, "params", "--d-token", "512", "--n-layers", "20", "--match", "classical-cmx-pe")
    assert code == 0, err
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:]}
    assert len(rows) == 8 and rows["classical-cmx-pe"][0] == rows["classical-cmx-pe"][1]
    no_models(monkeypatch)
    code, _, err = run_cli(capsys, "params", "--n-layers", "100", "--d-token", "512", "--d-ff", "4096")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "error: --n-layers 100 --d-token 512 --d-ff 4096: the largest variant, classical-cls-pe, would have " in err
    assert "trainable parameters; at most 10,000,000 are counted here" in err


# ----- 5. data that may not be read


def deny(monkeypatch, path: Path, method: str = "iterdir") -> None:
    """Make ``path`` unreadable as chmod 000 would (tests run as root, whom chmod does not stop)."""
    real = getattr(Path, method)

    def denied(self: Path, *args: object, **kwargs: object):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, denied)


def test_an_unreadable_data_folder_is_a_data_error(capsys, pair_dir, monkeypatch):
    """info, separability and EcalDataset name the folder and say that it may not be read."""
    deny(monkeypatch, pair_dir)
    expected = f"{pair_dir}: permission denied; expected a folder this user may read"
    with pytest.raises(DataError, match=f"^{expected}"):
        EcalDataset(pair_dir)
    for command in ("info", "separability"):
        code, _, err = run_cli(capsys, command, str(pair_dir))
        assert code == 2 and "Traceback" not in err and err.startswith(f"error: {expected}")


def test_an_unreadable_data_file_is_a_data_error(capsys, mixed_file, monkeypatch):
    """A file the user may not open: permission denied, not 'maybe truncated'."""
    real = h5py.File

    def open_file(name: object, *args: object, **kwargs: object) -> h5py.File:
        if Path(name) == mixed_file:
            raise PermissionError(13, "Unable to synchronously open file (errno = 13, 'Permission denied')")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", open_file)
    expected = f"{mixed_file}: permission denied; expected a file this user may read"
    with pytest.raises(DataError, match=f"^{expected}"):
        EcalDataset(mixed_file)
    code, _, err = run_cli(capsys, "info", str(mixed_file))
    assert code == 2 and err.startswith(f"error: {expected}")


def test_a_location_under_an_unreadable_folder_is_a_data_error(capsys, tmp_path, monkeypatch):
    """Looking a path up can itself be denied (a folder above it without permission)."""
    location = tmp_path / "locked" / "data.h5"
    deny(monkeypatch, location, "exists")
    with pytest.raises(
        DataError, match=rf"^{location}: permission denied; expected a data location \(and folders above it\) this user"
    ):
        EcalDataset(location)
    code, _, err = run_cli(capsys, "info", str(location))
    assert code == 2 and "permission denied" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads a chmod-000 folder anyway")
def test_a_chmod_000_folder_for_real(capsys, tmp_path):
    """The same through the file system, where it can be done (not as root)."""
    X, y = valid_arrays(20)
    locked = tmp_path / "locked"
    locked.mkdir()
    write_h5(locked / "mixed.h5", X=X, y=y)
    locked.chmod(0o000)
    try:
        for command in ("info", "separability"):
            code, _, err = run_cli(capsys, command, str(locked))
            assert code == 2 and "Traceback" not in err and f"{locked}: permission denied" in err
    finally:
        locked.chmod(0o755)


# ----- 6. separability: too few events


def test_separability_on_too_few_events_names_the_data(capsys, tmp_path):
    """The error says which data was read and how many events it holds against how many are needed."""
    X, y = valid_arrays(2)
    path = write_h5(tmp_path / "two.h5", X=X, y=y)
    code, _, err = run_cli(capsys, "separability", str(path))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"got 0 photons and 0 electrons in the training split of {path}" in err
    assert "which holds 1 event per class; at least 13 per class are needed (80 % of them train)" in err


def test_separability_with_too_small_n_per_class_names_the_flag(capsys, pair_dir):
    """Plenty of data but --n-per-class 5: the argument is at fault, and the error says so."""
    code, _, err = run_cli(capsys, "separability", str(pair_dir), "--n-per-class", "5")
    assert code == 2
    assert err.strip() == "error: --n-per-class 5: a separability baseline needs at least 10 events of each class"
