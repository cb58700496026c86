"""The C++ attention kernel for tiny heads: the same numbers as PyTorch's, and a fallback that says so."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch
from torch.nn import functional as F

from qvit_lib.core.config import REPO_ROOT
from qvit_lib.models import attention as att
from qvit_lib.models import tiny_attention as tiny

needs_compiler = pytest.mark.skipif(tiny.cxx_compiler() is None, reason="no C++ compiler on this machine")


def heads(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=dtype, requires_grad=True) for _ in range(3)]


def value_and_gradients(attend, q, k, v, weights):  # noqa: ANN001, ANN201 - test helper
    out = attend(q, k, v)
    return (out, *torch.autograd.grad((out * weights).sum(), (q, k, v)))


@needs_compiler
@pytest.mark.parametrize("shape", [(64, 4, 32, 4), (5, 2, 33, 2), (3, 32, 16), (9, 32, 1)])
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_kernel_equals_the_textbook_attention_with_gradients(shape, dtype, tolerance):
    q, k, v = heads(shape, dtype)
    assert tiny.supports(q, k, v)
    weights = torch.randn(shape, generator=torch.Generator().manual_seed(9), dtype=dtype)
    scale = 1 / math.sqrt(shape[-1])  # the textbook form's
    mine = value_and_gradients(lambda *x: tiny.tiny_attention(*x, scale), q, k, v, weights)
    textbook = value_and_gradients(lambda *x: att.attention_matrix(*x)[0], q, k, v, weights)  # scale 1/√d
    for a, b in zip(mine, textbook):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=tolerance, rtol=0), (a - b).abs().max()


@needs_compiler
def test_kernel_reads_the_models_packed_projection_without_copies():
    """Q, K, V as strided views of one (B, N, 3, H, D) projection, as the classical layer makes them."""
    g = torch.Generator().manual_seed(2)
    packed = torch.randn(8, 32, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    q, k, v = packed.movedim(1, -2).unbind(1)  # (B, H, N, D) views, not contiguous
    assert not q.is_contiguous()
    out = tiny.tiny_attention(q, k, v, 0.5)
    assert out.transpose(1, 2).is_contiguous()  # token-major: the heads concatenate for free
    reference = F.scaled_dot_product_attention(q, k, v, scale=0.5)
    assert torch.allclose(out, reference, atol=1e-13, rtol=0)
    grad_mine, grad_ref = (torch.autograd.grad(o.sin().sum(), packed)[0] for o in (out, reference))
    assert torch.allclose(grad_mine, grad_ref, atol=1e-13, rtol=0)


@needs_compiler
def test_gradcheck_and_opcheck():
    q, k, v = heads((4, 2, 32, 4), torch.float64)
    assert torch.autograd.gradcheck(lambda *x: tiny.tiny_attention(*x, 0.7), (q, k, v))
    torch.library.opcheck(tiny._attention, (q, k, v, 0.7))


def test_shapes_without_a_kernel_use_pytorchs():
    q, k, v = heads((2, 3, 7, 4), torch.float64)  # 7 tokens: not compiled
    assert not tiny.supports(q, k, v)
    assert torch.equal(tiny.tiny_attention(q, k, v, 0.5), F.scaled_dot_product_attention(q, k, v, scale=0.5))


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, env={**os.environ, **env}
    )


MODEL_OUTPUT = """
import torch
from qvit_lib.models import tiny_attention
from qvit_lib.models.vit import build_model
model = build_model("classical-cmx-pe", seed=0)
tokens = torch.rand(16, 32, 32, generator=torch.Generator().manual_seed(0))
print(tiny_attention.kernel_path())
print(repr(model(tokens).detach().tolist()))
"""


@needs_compiler
def test_the_environment_variable_forces_the_fallback_and_both_paths_agree():
    compiled, fallback = run_python(MODEL_OUTPUT), run_python(MODEL_OUTPUT, QVIT_COMPILE="0")
    assert compiled.returncode == 0 and fallback.returncode == 0, compiled.stderr + fallback.stderr
    assert compiled.stdout.splitlines()[0].startswith("attention: C++ kernel")
    assert fallback.stdout.splitlines()[0] == "attention: PyTorch's kernel (QVIT_COMPILE=0)"
    assert "qvit:" not in fallback.stderr  # asked for: no warning line
    a, b = (torch.tensor(eval(r.stdout.splitlines()[1])) for r in (compiled, fallback))
    assert torch.allclose(a, b, atol=1e-5, rtol=0) and not torch.equal(a, torch.zeros_like(a))


def test_without_a_compiler_one_line_says_which_kernel_runs():
    result = run_python(MODEL_OUTPUT, CXX="/nonexistent/c++")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("attention: PyTorch's kernel (no C++ compiler found")
    lines = [line for line in result.stderr.splitlines() if line.startswith("qvit:")]
    assert len(lines) == 1 and "no C++ compiler found" in lines[0]


def test_a_failed_build_falls_back_and_says_why(tmp_path, monkeypatch):
    """A compiler that fails (here /bin/false, fast) leaves PyTorch's kernel in place, and says so."""
    monkeypatch.setenv("CXX", "/bin/false")
    monkeypatch.setattr(tiny, "CACHE_DIR", tmp_path)
    tiny._reset()
    try:
        assert tiny.kernel() is None
        assert tiny.kernel_path().startswith("attention: PyTorch's kernel (building the C++ kernel failed")
        q, k, v = heads((2, 4, 32, 4), torch.float64)
        assert torch.equal(tiny.tiny_attention(q, k, v, 0.5), F.scaled_dot_product_attention(q, k, v, scale=0.5))
    finally:
        tiny._reset()
