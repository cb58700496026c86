"""Self-attention: the slides' worked example, loop vs stacked forms, PyTorch's kernel."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from qvit_lib.models import attention as att


def slide_vectors() -> tuple[torch.Tensor, torch.Tensor]:
    """A query and two keys of length 64 with q·k₁ = 112 and q·k₂ = 96, as on the slides."""
    query = torch.ones(64, dtype=torch.float64)
    keys = torch.stack(
        [torch.full((64,), 112 / 64, dtype=torch.float64), torch.full((64,), 96 / 64, dtype=torch.float64)]
    )
    return query, keys


def test_the_slides_learning_machines_example():
    query, keys = slide_vectors()
    values = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert (query @ keys.T).tolist() == [112.0, 96.0]
    assert (query @ keys.T / math.sqrt(64)).tolist() == [14.0, 12.0]
    output, weights = att.attend_one_query(query, keys, values)
    assert weights.tolist() == pytest.approx([0.8808, 0.1192], abs=1e-4)
    assert [round(w, 2) for w in weights.tolist()] == [0.88, 0.12]
    assert output.tolist() == pytest.approx(weights.tolist())  # z₁ = s₁v₁ + s₂v₂


def test_softmax_is_stable_and_normalised():
    scores = torch.tensor([[1000.0, 999.0, -1000.0]])
    weights = att.softmax(scores)
    assert torch.isfinite(weights).all()
    assert weights.sum().item() == pytest.approx(1.0)
    assert torch.allclose(weights, torch.softmax(scores, dim=-1))


def test_matrix_form_equals_the_loop():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(7, 5, generator=g) for _ in range(3))
    assert torch.allclose(att.attention_matrix(q, k, v)[0], att.attention_loop(q, k, v), atol=1e-6)


@pytest.mark.parametrize(("dtype", "scale", "tolerance"), [(torch.float64, 1.0, 1e-10), (torch.float32, 0.5, 1e-6)])
def test_stacked_multi_head_equals_the_loop(dtype, scale, tolerance):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 32, 16, generator=g, dtype=dtype)
    w_q, w_k, w_v = (scale * torch.rand(4, 4, 4, generator=g, dtype=dtype) * 2 - scale for _ in range(3))
    stacked, weights = att.multi_head_stacked(x, w_q, w_k, w_v)
    assert stacked.shape == (3, 32, 16) and weights.shape == (3, 4, 32, 32)
    for b in range(3):
        assert torch.allclose(stacked[b], att.multi_head_loop(x[b], w_q, w_k, w_v), atol=tolerance, rtol=0)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 32, dtype=dtype), atol=tolerance)


def test_agrees_with_pytorch_scaled_dot_product_attention():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 4, 32, 4, generator=g, dtype=torch.float64) for _ in range(3))
    ours, _ = att.attention_matrix(q, k, v)
    assert torch.allclose(ours, F.scaled_dot_product_attention(q, k, v), atol=1e-12)


def test_module_has_three_dh_squared_parameters_per_head():
    module = att.ClassicalMultiHeadAttention(16, 4)
    assert sum(p.numel() for p in module.parameters()) == 3 * 4 * 4**2
    with pytest.raises(ValueError, match="divisible"):
        att.ClassicalMultiHeadAttention(10, 4)


@pytest.mark.parametrize("need_weights", [False, True])
def test_module_fast_path_equals_the_textbook_form(need_weights):
    torch.manual_seed(3)
    module = att.ClassicalMultiHeadAttention(16, 4).double()
    x = torch.randn(3, 32, 16, dtype=torch.float64)
    fast, weights = module(x, need_weights=need_weights)
    textbook, textbook_weights = att.multi_head_stacked(x, module.w_q, module.w_k, module.w_v)
    assert torch.allclose(fast, textbook, atol=1e-12, rtol=0)
    assert (weights is None) != need_weights
    if need_weights:
        assert torch.allclose(weights, textbook_weights, atol=1e-12, rtol=0)


@pytest.mark.parametrize("encoding", ["hadamard", "angle"])
def test_hybrid_scores_are_minus_squared_distances(encoding):
    """The shifted dot-product form gives exactly softmax(−(Q_i − K_j)²/√d_h) V."""
    torch.manual_seed(4)
    module = att.HybridMultiHeadAttention(16, 4, encoding).double()
    x = torch.randn(2, 32, 16, dtype=torch.float64)
    out, weights = module(x, need_weights=True)
    q, k, v = module.circuit_outputs(x)
    q, k, v = q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-3, -2)
    paper = att.softmax(-((q[..., :, None] - k[..., None, :]) ** 2) / 2)
    assert torch.allclose(weights, paper, atol=1e-12, rtol=0)
    assert torch.allclose(out, (paper @ v).transpose(-3, -2).flatten(-2), atol=1e-12, rtol=0)
    assert torch.allclose(module(x)[0], out, atol=1e-12, rtol=0)


@pytest.mark.parametrize("backend", ["fused", "default.qubit"])
def test_the_paper_loader_is_blind_and_angle_encoding_is_not(backend):
    from qvit_lib.models.attention import HybridMultiHeadAttention, input_sensitivity

    tokens = torch.rand(2, 8, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 4 - 2
    blind = input_sensitivity(HybridMultiHeadAttention(16, 4, "hadamard", backend).double(), tokens)
    seeing = input_sensitivity(HybridMultiHeadAttention(16, 4, "angle", backend).double(), tokens)
    assert blind["spread"] < 1e-12 and blind["gradient"] < 1e-12
    assert seeing["spread"] > 1e-2 and seeing["gradient"] > 1e-3
