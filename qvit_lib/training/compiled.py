"""The training step through ``torch.compile`` (Inductor), with an eager fallback.

On with ``QVIT_COMPILE=inductor``; off by default, since chapter 8 measures no gain from it on
top of the attention kernel on the book's CPUs. Inductor fuses the elementwise work around the
matrix products and calls the attention kernel (:mod:`qvit_lib.models.tiny_attention`, a
custom operator it does not look into). It needs a C++ compiler at run time; where there is
none, or compilation fails, the step runs eagerly and one line says so. Compiled graphs are
cached on disk (Inductor's FX graph cache, under ``data/cache/inductor``), so a sweep compiles
each model's graph once, not once per run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import torch
from torch import nn

from qvit_lib.core.config import CACHE_DIR, COMPILE_ENV, inductor_enabled
from qvit_lib.models.tiny_attention import cxx_compiler, kernel_path, kernel_shapes

__all__ = ["CompiledForward", "compiled_forward", "step_path"]


class CompiledForward:
    """``model``'s forward through ``torch.compile``; eager from the first failure on, said once."""

    def __init__(self, model: nn.Module) -> None:
        # lazy: Inductor takes a second to import, and only this opt-in path needs it
        from torch._inductor import config as inductor_config

        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(CACHE_DIR / "inductor"))
        inductor_config.fx_graph_cache = True  # the default, stated: sweeps reuse compiled graphs
        kernel_shapes()  # build or load the attention kernel now, not while Dynamo traces the model
        self.model = model
        self.compiled = torch.compile(model, dynamic=False)
        self.path = "torch.compile (Inductor)"

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(tokens)
            except Exception as err:  # a compiler or Inductor failure: train eagerly, say why in one line
                reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
                self.compiled, self.path = None, f"eager (torch.compile failed: {reason})"
                print(f"qvit: training step {self.path}", file=sys.stderr)
        return self.model(tokens)


def step_path() -> str:
    """One line: which attention kernel and which training step a run here would use."""
    step = "torch.compile (Inductor)" if inductor_enabled() else "eager PyTorch"
    return f"{kernel_path()}; training step: {step}"


def compiled_forward(model: nn.Module, distributed: bool = False) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """(the forward a training loop calls, one line saying which path it is).

    ``torch.compile`` only with ``QVIT_COMPILE=inductor``, a C++ compiler and one process.
    """
    if not inductor_enabled():
        return model, "training step: eager PyTorch around the attention kernel"
    if distributed:
        return model, "training step: eager (torch.compile is not used with data-parallel training)"
    if cxx_compiler() is None:
        line = f"training step: eager ({COMPILE_ENV}=inductor, but no C++ compiler was found)"
        print(f"qvit: {line}", file=sys.stderr)
        return model, line
    forward = CompiledForward(model)
    return forward, f"training step: {forward.path}"
