"""The peers benchmark: the paper's public code's simulator (TensorCircuit + JAX) beside the fused engine.

TensorCircuit and JAX are an optional extra, never in the book's environment, so CI checks
what a reader without them sees (a clear error naming the extra) and what the committed
figures say; where the extra is installed, the simulator is checked against the fused engine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from qvit_lib.core.config import DATA_DIR
from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum.tensorcircuit_backend import available

needs_peers = pytest.mark.skipif(not available(), reason="TensorCircuit and JAX (the extra 'peers') not installed")
without_peers = pytest.mark.skipif(available(), reason="checks the message a reader without the extra sees")


@without_peers
def test_without_the_extra_the_error_names_it():
    from qvit_lib.models.vit import build_model

    model = build_model("hybrid-cmx-pe", seed=0, backend="tensorcircuit")
    with pytest.raises(ConfigError, match=r"needs TensorCircuit and JAX, the optional extra 'peers'"):
        model(torch.rand(2, 32, 32))
    result = subprocess.run(
        [sys.executable, "-m", "qvit_lib", "bench", "--suite", "peers", "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "error: bench --suite peers needs TensorCircuit and JAX" in result.stderr
    assert "Traceback" not in result.stderr


@needs_peers
@pytest.mark.parametrize("loader", ["hadamard", "angle"])
def test_tensorcircuit_computes_what_the_fused_engine_computes(loader):
    from qvit_lib.quantum.qnodes import compare_with_backend

    assert max(compare_with_backend("tensorcircuit", loader).values()) < 1e-12


def test_the_committed_peers_figures_hold_together():
    peers = json.loads((DATA_DIR / "bench" / "peers.json").read_text())
    rows = {(r["variant"], r["backend"]): r for r in peers["results"]}
    public = rows[("hybrid-cmx-pe", "tensorcircuit")]
    angle = rows[("hybrid-angle-cmx-pe", "fused")]
    assert public["step_seconds"] == peers["public_code_step_seconds"]
    assert peers["hybrid_angle_to_public_code"] == pytest.approx(
        angle["step_seconds"] / public["step_seconds"], rel=0.01
    )
    assert all(max(d.values()) < 1e-12 for d in peers["agreement_float64"].values())  # the same numbers, faster
    assert {"tensorcircuit-ng", "jax"} <= set(peers["versions"])
