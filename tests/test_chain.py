"""The quantum feed-forward on the device model (chapter 10): its d = 16 outcomes sampled jointly along
the chain, exact in law (against all 2^d outcome probabilities, PennyLane's shots and a 16-qubit
state vector), and its gate noise exact against default.mixed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum import qnodes
from qvit_lib.quantum.device import chain, noise
from qvit_lib.quantum.exact.pauli import pauli_expectations, value_circuit


def _circuit(d: int, seed: int, n: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g, dtype=torch.float64) * 4 - 2
    theta = torch.rand(3 * d, generator=g, dtype=torch.float64) * 2 * np.pi
    return x, theta


def _bits(x: torch.Tensor, theta: torch.Tensor, copies: int, seed: int, loader: str = "angle") -> torch.Tensor:
    """``copies`` single runs of the circuit on one input: (copies, d) bits."""
    return chain.value_run_counts(x.expand(copies, -1), theta, loader, 1, torch.Generator().manual_seed(seed))


def _outcome_p_value(bits: torch.Tensor, probabilities: torch.Tensor) -> float:
    """χ² test of observed bit strings (qubit 0 the leading bit) against their probabilities."""
    d = bits.shape[1]
    index = (bits.long() * (2 ** torch.arange(d - 1, -1, -1))).sum(1)
    observed = torch.bincount(index, minlength=2**d).double()
    expected = probabilities * len(bits)
    return float(stats.chisquare(observed.numpy(), expected.numpy()).pvalue)


@pytest.mark.parametrize(("d", "loader"), [(2, "angle"), (3, "hadamard"), (4, "angle"), (5, "angle")])
def test_single_runs_follow_the_exact_law_of_all_bit_strings(d, loader):
    x, theta = _circuit(d, seed=d)
    z = noise.z_string_expectations(x[:, None], theta[None], "value", loader)[0, 0]
    probabilities = noise.outcome_probabilities(z)
    assert _outcome_p_value(_bits(x, theta, 20_000, seed=1, loader=loader), probabilities) > 1e-3


def test_the_law_check_can_fail():
    """Bits drawn from each qubit's marginal alone: every ⟨Z_j⟩ right, the joint law rejected."""
    x, theta = _circuit(4, seed=4)
    z = noise.z_string_expectations(x[:, None], theta[None], "value", "angle")[0, 0]
    p_one = (1 - z[[8, 4, 2, 1]]) / 2
    g = torch.Generator().manual_seed(1)
    independent = (torch.rand(20_000, 4, generator=g, dtype=torch.float64) < p_one).double()
    assert _outcome_p_value(independent, noise.outcome_probabilities(z)) < 1e-6


def test_sixteen_qubits_have_the_state_vectors_means_and_correlations():
    x, theta = _circuit(16, seed=16)
    mean, second = qnodes.value_outcome_moments(x[0], theta)
    assert torch.allclose(mean, pauli_expectations(x[0], theta, value_circuit(16, "angle")), atol=1e-10)
    copies = 40_000
    z = 1 - 2 * _bits(x, theta, copies, seed=2)
    se = 1 / math.sqrt(copies)
    assert float((z.mean(0) - mean).abs().max()) < 5 * se
    connected = second - torch.outer(mean, mean)
    assert float(connected.fill_diagonal_(0).abs().max()) > 0.2  # correlations worth getting right
    assert float(((z.T @ z) / copies - second).abs().max()) < 5 * se


def test_shot_estimates_have_pennylanes_statistics():
    from tests.test_noise import (
        COPIES,
        SHOTS,
        _pennylane_value_estimates,
        _statistics_agree,
        _strongly_correlated_input,
    )

    x, theta, _ = _strongly_correlated_input()
    g = torch.Generator().manual_seed(0)
    ours = chain.value_estimates(x.expand(COPIES, -1), theta, "angle", SHOTS, g)
    assert _statistics_agree(ours, _pennylane_value_estimates(x, theta)) == []


def test_estimates_are_seeded_unbiased_and_read_out_with_errors():
    x, theta = _circuit(16, seed=3, n=200)
    exact = pauli_expectations(x, theta, value_circuit(16, "angle"))
    first = chain.value_estimates(x, theta, "angle", 1000, torch.Generator().manual_seed(5))
    again = chain.value_estimates(x, theta, "angle", 1000, torch.Generator().manual_seed(5))
    other = chain.value_estimates(x, theta, "angle", 1000, torch.Generator().manual_seed(6))
    assert torch.equal(first, again) and not torch.equal(first, other)
    # the mean error over 3 200 estimates is about 0.0005: it is below 0.003, the spread about √((1 − ⟨Z⟩²)/S)
    assert abs(float((first - exact).mean())) < 0.003
    ratio = (first - exact).std() / ((1 - exact**2) / 1000).sqrt().mean()
    assert 0.8 < float(ratio) < 1.2
    read = chain.value_estimates(x, theta, "angle", 10_000, torch.Generator().manual_seed(5), readout=0.1)
    assert abs(float((read - 0.8 * exact).mean())) < 0.002  # a flip with probability r: ⟨Z⟩ × (1 − 2r)


@pytest.mark.parametrize(("d", "loader", "p"), [(3, "angle", 0.05), (4, "angle", 0.02), (4, "hadamard", 0.1)])
def test_gate_noise_in_the_propagation_equals_default_mixed(d, loader, p):
    x, theta = _circuit(d, seed=10 + d, n=3)
    ours = pauli_expectations(x, theta, value_circuit(d, loader), depolarizing=p)
    with qnodes.default_dtype(torch.float64):
        theirs = torch.stack(qnodes.device_model_qnode("value", d, loader, p)(x, theta), dim=-1)
    assert float((ours - theirs).abs().max()) < 1e-10
    clean = pauli_expectations(x, theta, value_circuit(d, loader))
    assert float((ours - clean).abs().max()) > 1e-3  # the noise is there


def test_a_feed_forward_model_runs_as_on_a_device():
    from qvit_lib.models import build_model
    from qvit_lib.runs import hardware

    model = build_model("classical-cmx-pe-qmlp", seed=0).eval()
    tokens = torch.randn(8, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exact = model(tokens)
        runs = [hardware.emulate(model, noise.Execution(shots=30, seed=2)) for _ in range(2)]
        outputs = []
        for run in runs:
            with run:
                outputs.append(model(tokens))
        with hardware.emulate(model, noise.Execution(depolarizing=0.02)):
            noisy = model(tokens)
        after = model(tokens)
    assert torch.equal(outputs[0], outputs[1]) and not torch.allclose(outputs[0], exact)
    assert not torch.allclose(noisy, exact) and torch.equal(after, exact)
    with pytest.raises(ConfigError, match="shots or depolarizing, not both"):
        with hardware.emulate(model, noise.Execution(shots=10, depolarizing=0.01)):
            pass
    with pytest.raises(ConfigError, match="quantum projections"):
        with hardware.emulate(build_model("qproj-cmx-pe-qmlp", seed=0), noise.Execution(shots=10)):
            pass


def test_bad_arguments_are_explained():
    x, theta = _circuit(4, seed=0)
    with pytest.raises(ConfigError, match="takes 12 angles"):
        chain.value_run_counts(x, theta[:5], "angle", 10)
    with pytest.raises(ConfigError, match="positive whole number"):
        chain.value_run_counts(x, theta, "angle", 0)
