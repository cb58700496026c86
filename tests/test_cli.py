"""The command line, run as a reader would: python -m qvit_lib ..."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import pytest


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qvit_lib", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "command", [[], ["simulate"], ["info"], ["separability"], ["bench"], ["device"], ["gan"], ["scores"]]
)
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "usage: python -m qvit_lib" in result.stdout


def test_simulate_then_info_mixed_file(tmp_path):
    out = tmp_path / "sample.h5"
    result = run("simulate", "--n", "40", "--out", str(out), "--seed", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as f:
        assert f["X"].shape == (40, 32, 32, 2) and int(f.attrs["seed"]) == 3
    info = run("info", str(out))
    assert info.returncode == 0, info.stderr
    assert "SIMULATION" in info.stdout
    assert "photons                    20" in info.stdout and "electrons                  20" in info.stdout
    assert "(40, 32, 32, 2) float32" in info.stdout
    assert "energy_range_gev_over_50" in info.stdout and "time_range_ns_over_50" in info.stdout


def test_simulate_pair_directory(tmp_path):
    result = run("simulate", "--n", "20", "--out", str(tmp_path / "pair"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "pair").iterdir()) == [
        "SimElectronPt50_IMGCROPS_n10_qvitsim.hdf5",
        "SimPhotonPt50_IMGCROPS_n10_qvitsim.hdf5",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--n", "7", "--out", "x.h5"], "--n must be even"),
        (["simulate", "--n", "-4", "--out", "x.h5"], "expected a positive integer, got -4"),
        (["simulate", "--n", "ten", "--out", "x.h5"], "expected a positive integer, got 'ten'"),
        (["simulate", "--out", "x.h5"], "the following arguments are required: --n"),
        (["bench", "--suite", "nope"], "invalid choice: 'nope'"),
        (["device", "--variant", "classical-cmx-pe"], "not quantum projections (qproj) or classical layers alone"),
        (["device", "--variant", "qproj-cmx-pe-qmlp"], "runs hybrid attention heads and the quantum feed-forward"),
        (["device", "--events", "0"], "expected a positive integer, got 0"),
        (["gan", "--model", "gan-none"], "unknown GAN model 'gan-none'; valid: gan-classical"),
        (["gan", "--model", "gan-cnn", "--protocol", "paper"], "unknown GAN protocol 'paper'"),
        (["gan", "--model", "gan-cnn", "--out", "x.txt"], "expected a file name ending in .h5 or .hdf5"),
        (["scores", "--protocol", "converged", "--results-dir", "."], "no committed runs under protocol 'converged'"),
        (["scores", "--protocol", "long"], "unknown protocol 'long'"),
    ],
)
def test_bad_arguments_give_clear_messages(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "qvit_lib", *args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_info_on_a_bad_path_names_it(tmp_path):
    result = run("info", str(tmp_path / "missing.h5"))
    assert result.returncode == 2
    assert f"error: {tmp_path / 'missing.h5'}: data location does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_simulation_bench_runs_on_a_small_sample(tmp_path):
    result = run("bench", "--suite", "simulation", "--n", "2000", "--out", str(tmp_path / "sim.json"))
    assert result.returncode == 0, result.stderr
    assert "events/s" in result.stdout and "x the 60 s target" in result.stdout
    assert json.loads((tmp_path / "sim.json").read_text())["events"] == 2000


def test_gan_bench_runs_in_quick_mode(tmp_path):
    result = run("bench", "--suite", "gan", "--quick", "--out", str(tmp_path / "gan.json"))
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "gan.json").read_text())
    assert [r["generator"] for r in written["generators"]] == ["gan-classical", "gan-cnn"]
    assert all(rate["median"] > 0 for r in written["generators"] for rate in r["showers_per_s"].values())
    assert written["threads"] == 1 and "x the simulator's best" in result.stdout


@pytest.mark.slow
def test_training_bench_runs_in_quick_mode(tmp_path):
    result = run("bench", "--quick", "--out", str(tmp_path / "bench.json"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("classical ") and line.split()[6] == "1" for line in lines)
    assert any(line.startswith("fused ") and "hybrid-angle-cmx-pe" in line for line in lines)
    assert any(line.startswith("default.qubit ") and "extrapolated" in line for line in lines)
    written = json.loads((tmp_path / "bench.json").read_text())
    required = {"backend", "variant", "batch_size", "d_h", "events_per_s", "ratio_to_classical", "extrapolated"}
    assert all(required <= set(r) for r in written["results"])
    assert {r["d_h"] for r in written["results"]} == {2, 4}
    assert {"cpus", "device", "simd"} <= set(written["machine"]) and "torch" in written["versions"]
    classical = [r for r in written["results"] if r["backend"] == "classical"]
    assert all(r["ratio_to_classical"] == 1.0 for r in classical)


def test_params_table_shows_the_paper_counts():
    result = run("params")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}
    assert lines["classical-cmx-pe"] == ["4785", "4785", "4785"]
    assert lines["classical-cls-nope"] == ["4801", "4801", "4801"]
    assert lines["none-cmn-pe"] == ["1105", "1105", "-"]
    assert lines["classical-cmx-pe-rk4"] == ["4785", "4785", "-"]  # the same count, but not a model of the paper


def test_params_with_other_hyper_parameters_and_bad_ones():
    result = run("params", "--n-layers", "2", "--d-token", "8", "--n-heads", "2")
    assert result.returncode == 0 and "classical-cmx-pe                   1337     1337       -" in result.stdout
    bad = run("params", "--d-token", "10", "--n-heads", "4")
    assert bad.returncode != 0 and "d_token (10) must be divisible by n_heads (4)" in bad.stderr


@pytest.mark.slow
def test_targets_bench_prints_every_target_with_its_ratio(tmp_path):
    from qvit_lib.runs.bench import STEP_TARGETS

    result = run("bench", "--suite", "targets", "--quick", "--out", str(tmp_path / "targets.json"))
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "targets.json").read_text())
    assert {t["target"] for t in written["targets"]} == set(STEP_TARGETS)
    for t in written["targets"]:
        tag = f"{t['target']} [{t['subject']}, {t['path']}]"
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(tag))
        if t["ratio"] is None:
            assert "not measured" in line
        else:
            assert f"{t['ratio']:.3g}" in line and ("met" in line or "MISSED by" in line)
    assert {r["path"] for r in written["results"]} == {"eager", "kernel"}
    assert set(written["profiles"]) == {
        f"{v} ({p})" for v in ("classical-cmx-pe", "hybrid-angle-cmx-pe") for p in ("eager", "kernel")
    }
