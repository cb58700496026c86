"""The attention circuits as a device runs them (chapter 10): noise exact against default.mixed, shots
against default.qubit with shots, seeded and reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.quantum import qnodes
from qvit_lib.quantum.device import noise
from qvit_lib.quantum.exact import head_expectations

SINGLE = {4: [8, 4, 2, 1], 3: [4, 2, 1], 2: [2, 1]}  # the subsets {q} in z_subsets' order


def _inputs(d: int, seed: int, n: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, d, generator=g, dtype=torch.float64) * 4 - 2).requires_grad_()
    theta_qk = (torch.rand(3 * d + 1, generator=g, dtype=torch.float64) * 2 * np.pi).requires_grad_()
    theta_v = (torch.rand(3 * d, generator=g, dtype=torch.float64) * 2 * np.pi).requires_grad_()
    return x, theta_qk, theta_v


def _ours(x, theta_qk, theta_v, loader, p, r):
    q = noise.z_string_expectations(x[:, None], theta_qk[None], "query_key", loader, p, r)[:, 0, 1]
    v = noise.z_string_expectations(x[:, None], theta_v[None], "value", loader, p, r)[:, 0][:, SINGLE[x.shape[-1]]]
    return q, v


def _pennylane(x, theta_qk, theta_v, loader, p, r):
    d = x.shape[-1]
    with qnodes.default_dtype(torch.float64):
        q = qnodes.device_model_qnode("query_key", d, loader, p, r)(x, theta_qk)
        v = torch.stack(qnodes.device_model_qnode("value", d, loader, p, r)(x, theta_v), dim=-1)
    return q, v


@pytest.mark.parametrize(
    ("d", "loader", "p", "r"),
    [(d, loader, p, r) for d in (2, 3, 4) for loader in ("angle", "hadamard") for p, r in ((0.02, 0.0), (0.05, 0.03))]
    + [(4, "angle", 0.0, 0.1)],
)
def test_noisy_expectations_equal_default_mixed(d, loader, p, r):
    x, theta_qk, theta_v = _inputs(d, seed=d)
    results = []
    for simulate in (_ours, _pennylane):
        q, v = simulate(x, theta_qk, theta_v, loader, p, r)
        weights = torch.linspace(0.5, 1.5, d, dtype=torch.float64)
        grads = torch.autograd.grad(
            q.sum() + (v * weights).sum(), (x, theta_qk, theta_v), allow_unused=True, materialize_grads=True
        )  # the hadamard loader leaves x unused: its gradient is zero
        results.append([q, v, *grads])
    differences = [float((a - b).abs().max().detach()) for a, b in zip(*results)]
    assert max(differences) < 1e-10, differences
    assert float(results[0][1].abs().max()) > 1e-3  # not trivially zero


def test_the_noise_check_can_fail():
    """A channel of the wrong strength (p/2 in place of p) is caught by the same comparison."""
    x, theta_qk, theta_v = _inputs(4, seed=1)
    ours = _ours(x, theta_qk, theta_v, "angle", 0.025, 0.0)
    theirs = _pennylane(x, theta_qk, theta_v, "angle", 0.05, 0.0)
    assert max(float((a - b).abs().max()) for a, b in zip(ours, theirs)) > 1e-3


def test_without_noise_the_device_model_is_the_fused_engine():
    g = torch.Generator().manual_seed(3)
    heads = torch.randn(2, 6, 4, 4, generator=g, dtype=torch.float64)
    angles = [torch.randn(4, n, generator=g, dtype=torch.float64) for n in (13, 13, 12)]
    for loader in ("angle", "hadamard"):
        exact = head_expectations(heads, *angles, loader)
        device = noise.head_outputs(heads, *angles, loader, noise.EXACT)
        assert torch.allclose(exact, device, atol=1e-13, rtol=0)


def test_noise_shrinks_towards_zero_and_readout_scales_each_string():
    x, theta_qk, theta_v = _inputs(4, seed=5)
    clean = noise.z_string_expectations(x[:, None], theta_v[None], "value", "angle")
    noisy = noise.z_string_expectations(x[:, None], theta_v[None], "value", "angle", 0.2)
    assert float(noisy.abs()[..., 1:].sum()) < float(clean.abs()[..., 1:].sum())
    read = noise.z_string_expectations(x[:, None], theta_v[None], "value", "angle", 0.0, 0.1)
    sizes = torch.tensor([len(s) for s in noise.z_subsets("value", 4)], dtype=torch.float64)
    assert torch.allclose(read, clean * 0.8**sizes, atol=1e-14)


# --- shots -------------------------------------------------------------------------------------------------

SHOTS, COPIES = 50, 400


def _strongly_correlated_input(seed: int = 0):
    """An input and value angles whose ⟨Z₀Z₁⟩ − ⟨Z₀⟩⟨Z₁⟩ is large: joint sampling matters there."""
    g = torch.Generator().manual_seed(seed)
    best = None
    for _ in range(200):
        x = torch.rand(1, 4, generator=g, dtype=torch.float64) * 4 - 2
        theta = torch.rand(12, generator=g, dtype=torch.float64) * 2 * np.pi
        z = noise.z_string_expectations(x[:, None], theta[None], "value", "angle")[0, 0]
        connected = float(z[12] - z[8] * z[4])  # subsets {0, 1}, {0}, {1}
        if best is None or abs(connected) > abs(best[2]):
            best = (x, theta, connected)
    return best


def _our_value_estimates(x, theta, copies=COPIES, shots=SHOTS, seed=0, joint=True):
    z = noise.z_string_expectations(x[:, None], theta[None], "value", "angle")[:, 0]  # (1, 16)
    g = torch.Generator().manual_seed(seed)
    if joint:
        return torch.stack([noise.measured_estimates(z, "value", shots, g)[0] for _ in range(copies)])
    # the wrong way: each qubit's bit sampled on its own, from its marginal
    p_zero = ((1 + z[0, SINGLE[4]]) / 2).expand(copies, 4)
    zeros = torch.binomial(torch.full(p_zero.shape, float(shots), dtype=torch.float64), p_zero, generator=g)
    return 2 * zeros / shots - 1


def _pennylane_value_estimates(x, theta):
    with qnodes.default_dtype(torch.float64):
        out = qnodes.device_model_qnode("value", 4, "angle", shots=SHOTS, copies=COPIES, seed=11)(x[0], theta)
    return torch.tensor([[float(v) for v in copy] for copy in out], dtype=torch.float64)


def _statistics_agree(ours: torch.Tensor, theirs: torch.Tensor) -> list[str]:
    """Mean within 5 standard errors, SD within 25 %, correlation of outputs 0 and 1 within 0.25."""
    problems = []
    for j in range(ours.shape[1]):
        a, b = ours[:, j], theirs[:, j]
        se = math.sqrt(float(a.var() + b.var()) / len(a))
        if abs(float(a.mean() - b.mean())) > 5 * se + 1e-12:
            problems.append(f"mean of output {j}: {float(a.mean()):.4f} vs {float(b.mean()):.4f}")
        if not 0.75 < float(a.std() / b.std()) < 1.33:
            problems.append(f"SD of output {j}: {float(a.std()):.4f} vs {float(b.std()):.4f}")
    rho = [float(np.corrcoef(t[:, 0], t[:, 1])[0, 1]) for t in (ours, theirs)]
    if abs(rho[0] - rho[1]) > 0.25:
        problems.append(f"correlation of outputs 0 and 1: {rho[0]:.3f} vs {rho[1]:.3f}")
    return problems


def test_value_shots_have_pennylanes_statistics_joint_outcomes_included():
    x, theta, connected = _strongly_correlated_input()
    assert abs(connected) > 0.3
    theirs = _pennylane_value_estimates(x, theta)
    assert _statistics_agree(_our_value_estimates(x, theta), theirs) == []


def test_independent_marginals_fail_the_same_check():
    """Sampling each qubit on its own gets every mean and SD right and the correlation wrong."""
    x, theta, _ = _strongly_correlated_input()
    problems = _statistics_agree(_our_value_estimates(x, theta, joint=False), _pennylane_value_estimates(x, theta))
    assert problems and all("correlation" in p for p in problems)


def test_query_key_shots_have_pennylanes_statistics():
    x, theta_qk, _ = _inputs(4, seed=7, n=4)
    x, theta_qk = x.detach(), theta_qk.detach()
    with qnodes.default_dtype(torch.float64):
        out = qnodes.device_model_qnode("query_key", 4, "angle", shots=SHOTS, copies=COPIES, seed=5)(x, theta_qk)
    theirs = torch.stack([torch.as_tensor(c, dtype=torch.float64) for c in out])  # (copies, inputs)
    z = noise.z_string_expectations(x[:, None], theta_qk[None], "query_key", "angle")[:, 0]
    g = torch.Generator().manual_seed(0)
    ours = torch.stack([noise.measured_estimates(z, "query_key", SHOTS, g) for _ in range(COPIES)])
    for j in range(x.shape[0]):
        a, b = ours[:, j], theirs[:, j]
        assert abs(float(a.mean() - b.mean())) < 5 * math.sqrt(float(a.var() + b.var()) / COPIES) + 1e-12
        assert 0.75 < float(a.std() / b.std()) < 1.33 or float(b.std()) < 1e-9


def test_shot_estimates_are_unbiased_with_the_binomial_spread_and_reproducible():
    g = torch.Generator().manual_seed(2)
    heads = torch.randn(64, 4, 4, generator=g)
    angles = [torch.randn(4, n, generator=g) for n in (13, 13, 12)]
    exact = noise.head_outputs(heads, *angles, "angle", noise.EXACT)
    runs = [
        noise.head_outputs(heads, *angles, "angle", noise.Execution(shots=100), torch.Generator().manual_seed(s))
        for s in range(40)
    ]
    stacked = torch.stack(runs)
    z_score = (stacked.mean(0) - exact) / ((1 - exact**2).clamp_min(1e-6) / (100 * 40)).sqrt()
    assert float(z_score.abs().max()) < 5.5  # 64 × 4 × 6 estimates of mean 0 and variance 1
    assert float((stacked * 100 % 2).sub(torch.round(stacked * 100 % 2)).abs().max()) < 1e-4  # multiples of 2/S
    again = noise.head_outputs(heads, *angles, "angle", noise.Execution(shots=100), torch.Generator().manual_seed(0))
    assert torch.equal(again, runs[0])


def test_shots_pass_the_exact_gradient_straight_through():
    g = torch.Generator().manual_seed(4)
    heads = torch.randn(8, 4, 4, generator=g, dtype=torch.float64)
    angles = [torch.randn(4, n, generator=g, dtype=torch.float64).requires_grad_() for n in (13, 13, 12)]
    noisy = noise.head_outputs(heads, *angles, "angle", noise.Execution(shots=10), torch.Generator().manual_seed(0))
    exact = noise.head_outputs(heads, *angles, "angle", noise.EXACT)
    assert not torch.allclose(noisy, exact)
    for a, b in zip(torch.autograd.grad(noisy.sum(), angles), torch.autograd.grad(exact.sum(), angles)):
        assert torch.allclose(a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shots": 0}, "shots must be a positive whole number"),
        ({"shots": 2.5}, "shots must be a positive whole number"),
        ({"depolarizing": 0.9}, r"depolarizing strength p must lie in \[0, 3/4\]"),
        ({"readout": -0.1}, r"readout error r must lie in \[0, 1/2\]"),
    ],
)
def test_bad_execution_settings_are_explained(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        noise.Execution(**kwargs)


def test_probabilities_of_all_bit_strings_come_from_the_z_strings():
    x, _, theta_v = _inputs(3, seed=9, n=2)
    z = noise.z_string_expectations(x.detach()[:, None], theta_v.detach()[None], "value", "angle", 0.03)[:, 0]
    p = noise.outcome_probabilities(z)
    assert torch.allclose(p.sum(-1), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(p @ noise._walsh(3), z, atol=1e-13)  # every Z string comes back from them
    assert bool((p >= 0).all())


# --- a whole model on a device model --------------------------------------------------------------------


def test_a_model_runs_as_on_a_device_and_is_exact_again_afterwards():
    from qvit_lib.models import build_model
    from qvit_lib.runs import hardware

    model = build_model("hybrid-angle-cmx-pe", seed=0).eval()
    tokens = torch.randn(16, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = (torch.arange(16) % 2).float()
    with torch.no_grad():
        exact = model(tokens)
        with hardware.emulate(model, noise.Execution(shots=20, seed=3)):
            first = model(tokens)
        with hardware.emulate(model, noise.Execution(shots=20, seed=3)):
            second = model(tokens)
        after = model(tokens)
    assert torch.equal(first, second) and not torch.allclose(first, exact)  # seeded, and noisy
    assert torch.equal(after, exact)  # the heads are exact again
    metrics = hardware.device_metrics(model, tokens, labels, noise.Execution(depolarizing=0.01))
    assert set(metrics) >= {"accuracy", "bce", "auc"}
    with pytest.raises(ConfigError, match="no hybrid attention"):
        with hardware.emulate(build_model("classical-cmx-pe"), noise.Execution(shots=10)):
            pass


def test_only_the_fused_backend_models_a_device():
    from qvit_lib.models.attention import HybridMultiHeadAttention

    head = HybridMultiHeadAttention(16, 4, "angle", backend="default.qubit")
    with pytest.raises(ConfigError, match="fused backend only"):
        head.run_as(noise.Execution(shots=10))


def test_circuit_budget_counts_every_circuit_and_parameter_shift():
    from qvit_lib.runs import hardware

    paper = hardware.circuit_budget("hybrid-angle-cmx-pe", shots=100)
    # 32 tokens × 5 layers × 4 heads × (query, key, value)
    assert paper["executions_inference"] == 32 * 5 * 4 * 3 == 1920
    # each circuit again twice per angle and per input: Q and K 13 + 4, V 12 + 4
    assert paper["executions_training_step"] == 1920 + 32 * 5 * 4 * (2 * 2 * 17 + 2 * 16)
    assert paper["shots_inference"] == 192_000
    assert hardware.circuit_budget("qproj-cmx-pe-qmlp-rk4")["executions_inference"] == 32 * 5 * 4 * (4 + 1)
    assert hardware.circuit_budget("classical-cmx-pe")["executions_inference"] == 0


@pytest.mark.parametrize("d", [4, 16])
def test_circuit_layers_follow_from_the_circuits_structure(d):
    from qvit_lib.runs import hardware

    # loader (H·RX: 2 layers, RX: 1), RX and RY layers, the CNOT ring one gate after another (d), RY
    for loader, loader_layers in (("angle", 1), ("hadamard", 2)):
        value = hardware.circuit_gates("value", d, loader)
        assert len(value) == loader_layers * d + 3 * d + d
        assert hardware._critical_path(value, 1.0, 1.0) == loader_layers + 2 + d + 1
        # query/key: a second ring, then RY on qubit 0, which waits for the ring's last CNOT
        assert (
            hardware._critical_path(hardware.circuit_gates("query/key", d, loader), 1, 1) == loader_layers + 2 * d + 4
        )
    # projection: RX(x), RX(w), ring; on a trapped-ion device 2 × 135 µs + d × 600 µs per shot
    projection = hardware.circuit_gates("projection", d)
    assert hardware._critical_path(projection, 1.0, 1.0) == 2 + d
    ions = next(device for device in hardware.DEVICES if device.technology == "trapped ions")
    assert ions.shot_seconds(projection) == pytest.approx(2 * 135e-6 + d * 600e-6)
    # gates on disjoint wires share a layer
    assert hardware._critical_path([(0,), (1,), (0, 1), (2,)], 1.0, 1.0) == 2


def test_device_seconds_is_executions_times_shots_times_shot_time():
    from qvit_lib.runs import hardware

    clops = next(device for device in hardware.DEVICES if device.clops)
    budget = hardware.circuit_budget("classical-cmx-pe-qmlp")  # one circuit kind: 20 layers on 16 qubits
    seconds = hardware.device_seconds("classical-cmx-pe-qmlp", clops, shots=500)
    assert seconds["inference"] == pytest.approx(budget["executions_inference"] * 500 * 20 / clops.clops)
    assert seconds["training_step"] == pytest.approx(budget["executions_training_step"] * 500 * 20 / clops.clops)
    assert hardware.device_seconds("classical-cmx-pe", clops, shots=500) == {"inference": 0.0, "training_step": 0.0}
    with pytest.raises(ValueError, match="unknown circuit 'key'; valid: query/key, value"):
        hardware.circuit_gates("key", 4)


def test_robustness_scan_and_fine_tuning_run_on_a_small_model():
    from qvit_lib.models import build_model
    from qvit_lib.runs import hardware

    g = torch.Generator().manual_seed(1)
    tokens, labels = torch.rand(24, 32, 32, generator=g), (torch.arange(24) % 2).float()
    model = build_model("hybrid-angle-cmx-pe", seed=0)
    scan = hardware.robustness_scan(
        model, tokens, labels, shots=(10, 1000), depolarizing=(0.01,), readout=(0.05,), seeds=(0, 1), progress=False
    )
    assert [(r["knob"], r["shots"], r["seed"]) for r in scan["rows"][:4]] == [
        ("shots", 10, 0),
        ("shots", 10, 1),
        ("shots", 1000, 0),
        ("shots", 1000, 1),
    ]
    assert {r["knob"] for r in scan["rows"]} == {"shots", "depolarizing", "readout"} and scan["events"] == 24
    tuned = hardware.fine_tune_with_shots(model, (tokens, labels), (tokens, labels), shots=50, epochs=1, progress=False)
    assert len(tuned["history"]) == 1 and tuned["best_epoch"] == 1
    assert all(head.execution is None for head in hardware.device_circuits(model))  # exact again afterwards


def test_a_committed_run_is_scanned_and_recorded(tmp_path):
    import json

    from qvit_lib.runs import hardware

    record = hardware.run_device_scan(
        "hybrid-angle-cmx-pe", "cpu", 0, n_events=40, results_dir=tmp_path,
        shots=(10,), depolarizing=(0.01,), readout=(), seeds=(0,), progress=False,
    )  # fmt: skip
    path = tmp_path / "hardware" / "cpu" / "hybrid-angle-cmx-pe.json"
    written = json.loads(path.read_text())
    assert written["rows"] == record["rows"] and written["events"] == 40 and "commit" in written["code"]
    assert hardware.read_hardware_record(path) == written  # through the store's checks
    assert [r["knob"] for r in written["rows"]] == ["shots", "depolarizing"]
