"""The attention circuits: structure, the blind data loader, the fused simulator against
PennyLane devices, and the choice of device. No test needs a GPU."""

from __future__ import annotations

import math

import pennylane as qml
import pytest
import torch

from qvit_lib.models.attention import HybridMultiHeadAttention
from qvit_lib.quantum import circuits, exact, qnodes
from qvit_lib.quantum.exact import fourier


def random_inputs(n: int, d: int, dtype=torch.float64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, d, generator=g, dtype=dtype) * 4 - 2).requires_grad_()
    theta_qk = (torch.rand(3 * d + 1, generator=g, dtype=dtype) * 2 * math.pi).requires_grad_()
    theta_v = (torch.rand(3 * d, generator=g, dtype=dtype) * 2 * math.pi).requires_grad_()
    return x, theta_qk, theta_v


# ----- structure


@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("loader", qnodes.DATA_LOADERS)
def test_circuit_structure_and_parameter_counts(d, loader):
    x, theta_qk, theta_v = (t.detach() for t in random_inputs(1, d))
    for kind, theta, n_params, measured in (("query_key", theta_qk, 3 * d + 1, 1), ("value", theta_v, 3 * d, d)):
        tape = qml.workflow.construct_tape(qnodes.make_qnode(kind, d, "default.qubit", loader))(x[0], theta)
        names = [op.name for op in tape.operations]
        loaded = (["Hadamard"] * d if loader == "hadamard" else []) + ["RX"] * d
        rings = 2 if kind == "query_key" else 1
        expected = (
            loaded
            + ["RX"] * d
            + ["RY"] * d
            + ["CNOT"] * d
            + ["RY"] * d
            + (["CNOT"] * d + ["RY"] if kind == "query_key" else [])
        )
        assert names == expected
        assert (
            len(theta)
            == n_params
            == (qnodes.query_key_parameter_count(d) if kind == "query_key" else qnodes.value_parameter_count(d))
        )
        cnots = [op.wires.tolist() for op in tape.operations if op.name == "CNOT"]
        assert cnots == [[w, (w + 1) % d] for w in range(d)] * rings
        assert len(tape.measurements) == measured


def test_bad_circuit_arguments():
    with pytest.raises(ValueError, match="at least 2 qubits"):
        qnodes.make_qnode("value", 1)
    with pytest.raises(ValueError, match="unknown data loader 'amplitude'"):
        qnodes.make_qnode("value", 4, loader="amplitude")
    with pytest.raises(ValueError, match="unknown circuit 'key'"):
        qnodes.make_qnode("key", 4)


# ----- the fused simulator against PennyLane


@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit"])
@pytest.mark.parametrize("loader", qnodes.DATA_LOADERS)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("d", [2, 4])
def test_fused_agrees_with_pennylane(device, loader, dtype, tolerance, d):
    differences = qnodes.compare_with_backend(device, loader, n_qubits=d, dtype=dtype, seed=d)
    assert set(differences) == {"Q", "V", "d/dx", "d/dθ_QK", "d/dθ_V"}
    assert max(differences.values()) < tolerance, differences


def test_the_comparison_can_fail(monkeypatch):
    """A wrong Fourier series is caught: flip the sign of every sine coefficient."""
    original = fourier._circuit_series

    def wrong(*args):
        constant, cos, sin = original(*args)
        return constant, cos, -sin

    monkeypatch.setattr(fourier, "_circuit_series", wrong)
    differences = qnodes.compare_with_backend("default.qubit", "angle")
    assert differences["Q"] > 1e-3


@pytest.mark.parametrize("loader", qnodes.DATA_LOADERS)
def test_fourier_series_equals_the_complex_quadratic_form(loader):
    differences = qnodes.compare_with_backend("fused-complex", loader, n_qubits=3, seed=9)
    assert max(differences.values()) < 1e-12, differences


def test_cnot_ring_matches_pennylane():
    for d in (2, 3, 4):
        matrix = qml.matrix(lambda d=d: qnodes.apply_gates(circuits.cnot_ring(d)), wire_order=list(range(d)))()
        assert torch.allclose(exact.cnot_ring_matrix(d), torch.as_tensor(matrix, dtype=torch.complex128))


@pytest.mark.parametrize("d", [1, 2, 3, 4])
@pytest.mark.parametrize("layers", [1, 2])
def test_projection_gates_are_pennylanes_templates(d, layers):
    """The projection's gate list is AngleEmbedding + BasicEntanglerLayers, as Comajoan Cara et al. use them."""
    g = torch.Generator().manual_seed(10 * d + layers)
    x = torch.rand(d, generator=g, dtype=torch.float64)
    weights = torch.rand(layers, d, generator=g, dtype=torch.float64)

    def templates():
        qml.AngleEmbedding(x, wires=range(d))
        qml.BasicEntanglerLayers(weights, wires=range(d))

    def ours():
        qnodes.apply_gates(circuits.build_circuit("projection", d, layers=layers).gates, x, weights.flatten())

    wires = list(range(d))
    assert torch.allclose(
        torch.as_tensor(qml.matrix(templates, wire_order=wires)()),
        torch.as_tensor(qml.matrix(ours, wire_order=wires)()),
    )


def test_gate_lists_refuse_what_they_cannot_build():
    with pytest.raises(ValueError, match="unknown gate 'rz'"):
        circuits.Gate("rz", (0,), "theta", 0)
    with pytest.raises(ValueError, match="needs both a source"):
        circuits.Gate("rx", (0,), "theta")
    with pytest.raises(ValueError, match="unknown circuit 'key'"):
        circuits.build_circuit("key", 4)
    with pytest.raises(ValueError, match="at least one layer"):
        circuits.build_circuit("projection", 4, layers=0)
    assert circuits.build_circuit("query_key", 4).n_angles == qnodes.query_key_parameter_count(4)
    assert circuits.build_circuit("value", 5).n_angles == qnodes.value_parameter_count(5)


# ----- blindness


@pytest.mark.parametrize("backend", ["fused", "default.qubit"])
def test_the_published_loader_is_blind_the_angle_loader_is_not(backend):
    x, _, _ = random_inputs(12, 16, seed=3)
    tokens = x.detach().reshape(3, 4, 16).requires_grad_()
    for loader, blind in (("hadamard", True), ("angle", False)):
        torch.manual_seed(0)
        head = HybridMultiHeadAttention(16, 4, loader, backend).double()
        q, k, v = head.circuit_outputs(tokens)
        spread = max(float((t - t[:, :1]).abs().max().detach()) for t in (q, k, v))  # across tokens
        grad = torch.autograd.grad(q.sum() + k.sum() + v.sum(), tokens)[0].abs().max()
        if blind:
            assert spread < 1e-12 and grad < 1e-12
        else:
            assert spread > 0.1 and grad > 1e-2


def test_blind_attention_is_uniform():
    tokens = torch.randn(2, 32, 16, dtype=torch.float64)
    head = HybridMultiHeadAttention(16, 4, "hadamard").double()
    _, weights = head(tokens, need_weights=True)
    assert torch.allclose(weights, torch.full_like(weights, 1 / 32), atol=1e-12)


# ----- the hybrid head on a device equals the fused head


def test_hybrid_head_on_a_device_matches_fused():
    torch.manual_seed(1)
    fused_head = HybridMultiHeadAttention(16, 4, "angle", "fused").double()
    device_head = HybridMultiHeadAttention(16, 4, "angle", "lightning.qubit").double()
    device_head.load_state_dict(fused_head.state_dict())
    tokens = torch.randn(2, 5, 16, dtype=torch.float64)
    assert torch.allclose(fused_head(tokens)[0], device_head(tokens)[0], atol=1e-10)


# ----- choosing a device


def test_device_choice_falls_back_without_a_gpu(monkeypatch):
    monkeypatch.delenv(qnodes.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    choice = qnodes.choose_device()
    assert choice.name == "lightning.qubit"
    assert "no CUDA GPU" in choice.reason


def test_device_choice_when_the_gpu_plugin_fails(monkeypatch):
    monkeypatch.delenv(qnodes.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real_device = qml.device

    def no_gpu(name, *args, **kwargs):
        if name == "lightning.gpu":
            raise RuntimeError("CUDA driver version is insufficient")
        return real_device(name, *args, **kwargs)

    monkeypatch.setattr(qml, "device", no_gpu)
    choice = qnodes.choose_device()
    assert choice.name == "lightning.qubit"
    assert "lightning.gpu is not usable here (RuntimeError: CUDA driver version is insufficient)" in choice.reason


def test_device_choice_can_be_forced(monkeypatch):
    monkeypatch.setenv(qnodes.DEVICE_ENV, "default.qubit")
    assert qnodes.choose_device() == qnodes.DeviceChoice("default.qubit", "requested by QVIT_DEVICE")
    assert qnodes.choose_device("lightning.qubit").reason == "requested by argument"
    with pytest.raises(RuntimeError, match="device 'no.such.device' requested by argument cannot be used"):
        qnodes.choose_device("no.such.device")


@pytest.mark.parametrize("loader", qnodes.DATA_LOADERS)
@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_fourier_series_and_quadratic_form_agree(loader, d):
    g = torch.Generator().manual_seed(d)
    heads = (torch.rand(3, 7, 2, d, generator=g, dtype=torch.float64) * 4 - 2).requires_grad_()
    thetas = [
        (torch.rand(2, n, generator=g, dtype=torch.float64) * 6).requires_grad_() for n in (3 * d + 1, 3 * d + 1, 3 * d)
    ]
    weights = torch.linspace(0.5, 1.5, 2 + d, dtype=torch.float64)
    outputs = []
    for method in ("fourier", "quadratic"):
        out = exact.head_expectations(heads, *thetas, loader, method=method)
        outputs.append([out, *torch.autograd.grad((out * weights).sum(), [heads, *thetas])])
    for a, b in zip(*outputs):
        assert torch.allclose(a, b, atol=1e-12, rtol=0)


def test_loader_spectrum():
    assert exact.loader_frequencies(4, "angle").shape == (40, 4)  # (3⁴ − 1)/2
    assert exact.loader_frequencies(4, "hadamard").shape == (0, 4)  # blind: a constant
    assert exact.fourier_is_cheaper(4, "angle") and not exact.fourier_is_cheaper(5, "angle")
    with pytest.raises(ValueError, match="unknown method"):
        exact.head_expectations(
            torch.zeros(1, 1, 4), torch.zeros(1, 13), torch.zeros(1, 13), torch.zeros(1, 12), "angle", method="fast"
        )


@pytest.mark.parametrize("d", [2, 3, 4])
def test_circuit_frequencies_equal_the_full_series(d):
    """Skipping the frequencies a circuit's light cone cannot reach changes no number."""
    g = torch.Generator().manual_seed(10 + d)
    heads = (torch.rand(3, 5, 2, d, generator=g, dtype=torch.float64) * 4 - 2).requires_grad_()
    thetas = [
        (torch.rand(2, n, generator=g, dtype=torch.float64) * 6).requires_grad_() for n in (3 * d + 1, 3 * d + 1, 3 * d)
    ]
    weights = torch.linspace(0.5, 1.5, 2 + d, dtype=torch.float64)
    outputs = []
    for keep in ("circuits", "all"):
        out = exact.fourier_series(heads, *exact.circuit_fourier_coefficients(*thetas, d, "angle"), "angle", keep=keep)
        outputs.append([out, *torch.autograd.grad((out * weights).sum(), [heads, *thetas])])
    for a, b in zip(*outputs):
        assert torch.allclose(a, b, atol=1e-12, rtol=0)


def test_circuit_frequencies_for_four_qubits():
    used = exact.circuit_frequencies(4, "angle")
    assert len(used) == 33 and len(set(used.tolist())) == 33  # 7 of the 40 frequencies are never used
    g = torch.Generator().manual_seed(1)
    thetas = [torch.rand(3, n, generator=g, dtype=torch.float64) * 6 for n in (13, 13, 12)]
    _, cos_coeffs, sin_coeffs = exact.circuit_fourier_coefficients(*thetas, 4, "angle")
    reached = (cos_coeffs.abs() + sin_coeffs.abs()).amax(0) > 1e-12  # (K, M)
    assert int(reached[:2].any(0).sum()) == 31 and int(reached[2:].any(0).sum()) == 26  # Q and K: 31; V: 26
    assert set(torch.nonzero(reached.any(0))[:, 0].tolist()) == set(used.tolist())
    assert len(exact.circuit_frequencies(4, "hadamard")) == 0
    with pytest.raises(ValueError, match="unknown keep"):
        exact.fourier_series(
            torch.zeros(1, 1, 4),
            torch.zeros(1, 6),
            torch.zeros(1, 6, 40),
            torch.zeros(1, 6, 40),
            "angle",
            keep="sparse",
        )


@pytest.mark.parametrize("keep", ["all", "circuits"])
@pytest.mark.parametrize("d", [2, 3, 4])
def test_product_basis_spans_the_fourier_modes_exactly(d, keep):
    """cos(n·x) and sin(n·x) are ±1 combinations of products of the single-qubit cos x_j, sin x_j."""
    frequencies = fourier._kept_frequencies(d, "angle", keep)
    basis, fourier_from_products = exact.product_basis(frequencies)
    assert set(fourier_from_products.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert basis.size == 1 + 2 * len(frequencies)  # the light cones keep whole groups of modes
    for support in basis.supports:  # each group is built on its prefix
        assert len(support) == 1 or len(support) == 2 or support[:-1] in basis.supports
    x = torch.rand(50, 3, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64) * 8 - 4
    phase = x @ torch.tensor(frequencies, dtype=torch.float64).T  # (T, H, M)
    modes = torch.cat([torch.ones_like(phase[..., :1]), torch.cos(phase), torch.sin(phase)], dim=-1)  # (T, H, 1 + 2M)
    products = exact.product_features(x, basis)  # (H, size, T)
    assert torch.allclose(torch.einsum("fp,hpt->thf", fourier_from_products, products), modes, atol=1e-13, rtol=0)


def test_product_basis_of_the_four_qubit_circuits():
    basis, _ = exact.product_basis(fourier._kept_frequencies(4, "angle", "circuits"))
    assert basis.size == 67  # the constant and 66 products: 4 cosines and 4 sines per token and head
    assert set(basis.supports) == {
        (0,),
        (0, 1),
        (0, 2),
        (1, 2),
        (2, 3),
        (0, 1, 2),
        (0, 1, 3),
        (0, 2, 3),
        (1, 2, 3),
        (0, 1, 2, 3),
    }


def test_fourier_series_of_any_coefficients():
    """The evaluator is a general Fourier series: compare with the sum written out, values and gradients."""
    g = torch.Generator().manual_seed(5)
    d, heads, k = 3, 2, 4
    x = (torch.rand(6, heads, d, generator=g, dtype=torch.float64) * 4 - 2).requires_grad_()
    m = len(exact.loader_frequencies(d, "angle"))
    coefficients = [
        torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()
        for shape in ((heads, k), (heads, k, m), (heads, k, m))
    ]
    phase = x @ exact.loader_frequencies(d, "angle").T.to(x)  # (6, H, M)
    constant, cos_coeffs, sin_coeffs = coefficients
    expected = (
        constant
        + (cos_coeffs * torch.cos(phase)[:, :, None]).sum(-1)
        + (sin_coeffs * torch.sin(phase)[:, :, None]).sum(-1)
    )
    out = exact.fourier_series(x, *coefficients, "angle", keep="all")
    weights = torch.randn(6, heads, k, generator=g, dtype=torch.float64)
    for a, b in zip(
        torch.autograd.grad((out * weights).sum(), [x, *coefficients]),
        torch.autograd.grad((expected * weights).sum(), [x, *coefficients]),
    ):
        assert torch.allclose(a, b, atol=1e-12, rtol=0)
    assert torch.allclose(out, expected, atol=1e-12, rtol=0)
    with pytest.raises(
        RuntimeError, match="twice|does not require grad"
    ):  # first derivatives only, never a silent wrong second
        grad_x = torch.autograd.grad(
            exact.fourier_series(x, *coefficients, "angle", keep="all").sum(), x, create_graph=True
        )[0]
        torch.autograd.grad(grad_x.sum(), x)


def test_series_in_token_chunks_equals_one_pass():
    """Evaluating the tokens in chunks (cache-sized on large batches) changes no number."""
    g = torch.Generator().manual_seed(6)
    heads = (torch.rand(5, 7, 2, 4, generator=g, dtype=torch.float64) * 4 - 2).requires_grad_()
    thetas = [(torch.rand(2, n, generator=g, dtype=torch.float64) * 6).requires_grad_() for n in (13, 13, 12)]
    outputs = []
    for chunk_tokens in (1_000_000, 4):  # one pass; chunks of 4 tokens, the last one shorter
        weights = exact.layered_series_weights([thetas], 4, "angle")[0]
        out = exact.evaluate_series(heads, weights, chunk_tokens=chunk_tokens)
        outputs.append(
            [
                out,
                *torch.autograd.grad((out * torch.linspace(0.5, 1.5, 6, dtype=torch.float64)).sum(), [heads, *thetas]),
            ]
        )
    for a, b in zip(*outputs):
        assert torch.allclose(a, b, atol=1e-12, rtol=0)


def test_model_shares_series_weights_across_layers():
    """The model's one batched build of series weights gives the numbers each layer builds itself."""
    from qvit_lib.models import build_model

    model = build_model("hybrid-angle-cmx-pe", seed=3).double()
    tokens = torch.rand(2, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = model.embed(tokens)
    for layer in model.layers:
        z, _ = layer(z)
    assert torch.allclose(model(tokens), model.classifier(model.pool(z)).squeeze(-1), atol=1e-12, rtol=0)


def test_every_simulator_refuses_an_unknown_loader():
    for call in (
        lambda: exact.loader_phases(4, "dense"),
        lambda: exact.loader_amplitudes(torch.zeros(2, 4), "dense"),
        lambda: exact.product_state(torch.zeros(2, 4), "dense"),
        lambda: exact.loader_frequencies(4, "dense"),
    ):
        with pytest.raises(ValueError, match="unknown data loader 'dense'; valid: hadamard, angle"):
            call()
