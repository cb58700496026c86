"""Attention over tiny heads, compiled for this machine: the models' softmax(Q Kᵀ·scale) V.

The paper's models attend over 32 tokens in heads 4 wide. PyTorch's fused CPU kernel is made
for wide heads, and spends most of a training step's attention time on bookkeeping; the C++
kernel next to this file (``tiny_attention.cpp``) keeps each head in registers and is a few
times faster, forward and backward (``qvit bench`` measures it).

It is built on first use with the machine's C++ compiler (``-O3 -march=native``) and cached
under ``data/cache/kernels/``, in a folder named by a hash of the source, the flags, the
compiler, PyTorch's version and the processor, so a cache copied to another machine is never
loaded there. Where there is no compiler, the build fails, or ``QVIT_COMPILE=0`` is set,
:func:`tiny_attention` runs PyTorch's kernel instead and one line says so. Both give the same
numbers up to float rounding (tests check values and gradients).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import torch
from torch.nn import functional as F

from qvit_lib.core.config import CACHE_DIR, COMPILE_ENV, compile_enabled

__all__ = [
    "SOURCE",
    "FLAGS",
    "cxx_compiler",
    "kernel",
    "kernel_path",
    "kernel_shapes",
    "pytorch_attention",
    "supports",
    "tiny_attention",
]

#: The kernel's C++ source, ``tiny_attention.cpp`` beside this module.
#:
#: :meta hide-value:
SOURCE = Path(__file__).with_suffix(".cpp")
FLAGS = ("-O3", "-march=native", "-fopenmp", "-fno-math-errno")  #: compiler flags (OpenMP for at::parallel_for)


def cxx_compiler() -> str | None:
    """The C++ compiler PyTorch's extension builder would use (``$CXX``, else ``c++``), if present."""
    return shutil.which(os.environ.get("CXX", "c++"))


def _processor_signature() -> str:
    """The processor's model and instruction sets: a kernel built with -march=native runs only there."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    keep = [line for line in lines if line.startswith(("model name", "flags"))]
    return "\n".join(sorted(set(keep)))


def _build_key(compiler: str) -> str:
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    parts = (SOURCE.read_text(), " ".join(FLAGS), version, torch.__version__, sys.version, _processor_signature())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@functools.cache
def _load() -> tuple[ModuleType | None, str]:
    """(the built extension or None, one line saying which attention kernel runs and why)."""
    if not compile_enabled():
        return None, f"attention: PyTorch's kernel ({COMPILE_ENV}=0)"
    compiler = cxx_compiler()
    if compiler is None:
        return None, "attention: PyTorch's kernel (no C++ compiler found; install g++ for the faster kernel)"
    # lazy: imports setuptools machinery, needed only when a kernel is built or loaded
    from torch.utils.cpp_extension import load_inline

    scripts = str(Path(sys.executable).parent)  # the environment's ninja, when its bin/ is not on PATH
    if shutil.which("ninja") is None and shutil.which("ninja", path=scripts) is not None:
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    key = _build_key(compiler)
    folder = CACHE_DIR / "kernels" / f"tiny_attention-{key}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        module = load_inline(
            f"qvit_tiny_attention_{key}",
            cpp_sources=SOURCE.read_text(),
            functions=["tiny_forward", "tiny_backward", "tiny_supports"],
            extra_cflags=list(FLAGS),
            build_directory=str(folder),
        )
    except Exception as err:  # any failure of the build or the load: fall back, say why in one line
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        return None, f"attention: PyTorch's kernel (building the C++ kernel failed: {reason})"
    return module, f"attention: C++ kernel for tiny heads ({Path(compiler).name} {' '.join(FLAGS)})"


@functools.cache
def _announce_fallback() -> None:
    module, line = _load()
    if module is None and compile_enabled():
        print(f"qvit: {line}", file=sys.stderr)


def kernel() -> ModuleType | None:
    """The compiled kernel, built on first call; None where the fallback runs."""
    module, _ = _load()
    if module is None:
        _announce_fallback()
    return module


def kernel_path() -> str:
    """One line saying which attention kernel runs here, and why."""
    return _load()[1]


_shapes: frozenset[tuple[int, int]] | None = None  # (tokens, width) pairs the kernel takes; set on first use


def kernel_shapes() -> frozenset[tuple[int, int]]:
    """The shapes the built kernel takes, asked once and kept as a plain set.

    After the first call this returns a module-level constant, which ``torch.compile`` traces
    without a graph break (a call into the extension would break the graph at every layer).
    """
    global _shapes
    if _shapes is None:
        module = kernel()
        _shapes = frozenset(
            (n, d) for n in range(1, 65) for d in range(1, 17) if module is not None and module.tiny_supports(n, d)
        )
    return _shapes


def _reset() -> None:
    """Forget the loaded kernel (for tests that swap the source or the cache folder)."""
    global _shapes
    _shapes = None
    _load.cache_clear()
    _announce_fallback.cache_clear()


_pytorch_only = False  # set by pytorch_attention()


@contextlib.contextmanager
def pytorch_attention() -> Iterator[None]:
    """Within the block, attention runs PyTorch's kernel: for comparing the two paths in one process."""
    global _pytorch_only
    before, _pytorch_only = _pytorch_only, True
    try:
        yield
    finally:
        _pytorch_only = before


def supports(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether the compiled kernel takes these heads (…, n, d), all of one shape, device and dtype."""
    return (
        not _pytorch_only
        and q.shape == k.shape == v.shape
        and q.dtype == k.dtype == v.dtype
        and q.device.type == "cpu"
        and q.dtype in (torch.float32, torch.float64)
        and q.dim() >= 2
        and (q.shape[-2], q.shape[-1]) in kernel_shapes()
    )


def _token_major(like: torch.Tensor) -> torch.Tensor:
    """An empty (B, H, N, D) tensor stored as (B, N, H, D), as the kernel writes its outputs."""
    b, h, n, d = like.shape
    return like.new_empty(b, n, h, d).transpose(1, 2)


@torch.library.custom_op("qvit::tiny_attention", mutates_args=())
def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    out, lse = kernel().tiny_forward(q, k, v, scale)
    return out, lse


@_attention.register_fake
def _(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    return _token_major(q), q.new_empty(q.shape[:-1])


@torch.library.custom_op("qvit::tiny_attention_backward", mutates_args=())
def _attention_backward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad: torch.Tensor,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    dq, dk, dv = kernel().tiny_backward(q, k, v, out, lse, _last_axis_contiguous(grad), scale)
    return dq, dk, dv


@_attention_backward.register_fake
def _(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    grad: torch.Tensor,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return _token_major(q), _token_major(q), _token_major(q)


def _setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple, output: tuple) -> None:
    q, k, v, scale = inputs
    out, lse = output
    ctx.save_for_backward(q, k, v, out, lse)
    ctx.scale = scale


def _backward(ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor, _grad_lse: torch.Tensor) -> tuple:
    q, k, v, out, lse = ctx.saved_tensors
    dq, dk, dv = _attention_backward(q, k, v, out, lse, grad_out, ctx.scale)
    return dq, dk, dv, None


_attention.register_autograd(_backward, setup_context=_setup_context)


def _last_axis_contiguous(t: torch.Tensor) -> torch.Tensor:
    return t if t.stride(-1) == 1 else t.contiguous()


def _as_heads(t: torch.Tensor) -> torch.Tensor:
    """``t`` as (B, H, N, D) with a contiguous last axis, a view where the strides allow it."""
    if t.dim() != 4:
        t = t.reshape(-1, 1, *t.shape[-2:])
    return _last_axis_contiguous(t)


def tiny_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """softmax(q kᵀ · scale) v over heads (…, n, d): the compiled kernel where it applies, else PyTorch's.

    With (B, H, N, D) heads the result is stored token-major (B, N, H, D), so that
    ``out.transpose(1, 2).flatten(-2)``, the concatenation of the heads, costs no copy.
    """
    if not supports(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    out = _attention(_as_heads(q), _as_heads(k), _as_heads(v), float(scale))[0]
    return out if q.dim() == 4 else out.reshape(q.shape)
