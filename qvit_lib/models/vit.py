"""The vision transformers of the paper, built from a :class:`~qvit_lib.models.variants.ViTConfig`.

A variant's name and architecture live in :mod:`qvit_lib.models.variants` (no torch needed);
here the network is built from them (chapters 3 and 5; the chapter 9 variants too).

The model follows the paper's Fig. 2–3 with its hyper-parameters as defaults
(n_l = 5, d_t = 16, n_h = 4, d_h = 4, d_ff = 16, d_i = 32, 32 tokens of 4×8 pixels):

    z₀ = X W_E + b_E  (+ class token)  (+ positional encoding)
    z'_l = z_{l-1} + MHA(LN(z_{l-1}));   z_l = z'_l + MLP(LN(z'_l))
    ŷ = σ(W₂ LeakyReLU(W₁ pool(z_L) + b₁) + b₂)

LayerNorm has no affine parameters; the MLP is Linear(d_t, d_ff), GELU, Linear(d_ff, d_t).
The first 22 variants (the four attention kinds of the paper's Table 1, MLP, order 1) are
the paper's; :func:`~qvit_lib.models.variants.all_variants` lists them,
:func:`~qvit_lib.models.variants.every_variant` lists all.
The model returns logits; the sigmoid lives in the loss (BCE with logits).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from qvit_lib.core import paper
from qvit_lib.core.errors import ConfigError
from qvit_lib.models.attention import (
    ClassicalMultiHeadAttention,
    HybridMultiHeadAttention,
    QuantumProjectionAttention,
    shared_series_weights,
)
from qvit_lib.models.feedforward import QuantumFeedForward, mlp
from qvit_lib.models.integrators import runge_kutta_step
from qvit_lib.models.variants import (
    ATTENTION_LOADERS,
    ViTConfig,
    all_variants,
    every_variant,
    parameter_formula,
)

if TYPE_CHECKING:
    from qvit_lib.quantum.exact import SeriesWeights

__all__ = [
    "parameter_table",
    "sinusoidal_encoding",
    "constant_encoding",
    "feed_forward",
    "ClassicalEncoderLayer",
    "HybridEncoderLayer",
    "encoder_layer",
    "VisionTransformer",
    "count_parameters",
    "build_model",
]


def parameter_table(variants: list[str] | None = None, **hyper: int) -> list[dict[str, object]]:
    """Each variant's trainable parameters: counted on a built model, by formula, and the paper's.

    ``variants`` defaults to :func:`~qvit_lib.models.variants.every_variant`. The paper's figures exist only for its
    own variants at its own hyper-parameters (the defaults). A variant that these
    hyper-parameters do not allow has ``parameters`` None and a ``reason``.
    """
    at_paper = all(hyper.get(key, value) == value for key, value in paper.HYPER_PARAMETERS.items())
    at_paper = at_paper and hyper.get("projection_layers", 1) == 1
    paper_variants = set(all_variants())
    rows = []
    for variant in every_variant() if variants is None else variants:
        try:
            config = ViTConfig.from_variant(variant, **hyper)
            model = VisionTransformer(config)
        except ConfigError as err:  # e.g. a hybrid head of one qubit: that variant does not exist here
            rows.append({"variant": variant, "parameters": None, "formula": None, "paper": None, "reason": str(err)})
            continue
        is_paper = at_paper and config.variant in paper_variants  # the paper's 22: no -qmlp, -rk or qproj
        rows.append(
            {
                "variant": variant,
                "parameters": count_parameters(model),
                "formula": parameter_formula(config),
                "paper": paper.PARAMETERS.get((config.attention.replace("-angle", ""), config.pooling))
                if is_paper
                else None,
            }
        )
    return rows


def sinusoidal_encoding(n_positions: int, d: int) -> torch.Tensor:
    """The transformer's positional encoding: PE[p, 2i] = sin(p/10000^{2i/d}), PE[p, 2i+1] = cos(…).

    Every position gets a different vector, so attention can tell tokens apart by where
    they are in the image.
    """
    position = torch.arange(n_positions, dtype=torch.float64)[:, None]
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float64) / d)
    encoding = torch.zeros(n_positions, d, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency[: d // 2])
    return encoding.float()


def constant_encoding(n_positions: int, d: int) -> torch.Tensor:
    """What the paper's public code adds: one fixed vector, the same for every position.

    Its formula (``QViT/model.py``, ``Transformer.pos_embedding``): component i is
    sin(1/10000^((i−1)/d)) for odd i and cos(i/10000^((i−1)/d)) for even i, so the vector
    starts 1, 0.841, 0.431, … Shown for comparison only (chapter 3): it cannot encode position.
    """
    vector = [math.sin(1 / 10000 ** ((i - 1) / d)) if i % 2 else math.cos(i / 10000 ** ((i - 1) / d)) for i in range(d)]
    return torch.tensor(vector).expand(n_positions, d).clone()


def feed_forward(config: ViTConfig) -> nn.Module:
    """The encoder layer's feed-forward for the config: the MLP or the value circuit."""
    if config.feed_forward == "qmlp":
        return QuantumFeedForward(config.d_token, config.feed_forward_loader)
    return mlp(config.d_token, config.d_ff)


class ClassicalEncoderLayer(nn.Module):
    """Pre-LN transformer layer: x + MHA(LN(x)), then y + MLP(LN(y)) (paper Fig. 3).

    The attention is the classical one, or quantum projections (``qproj``); the MLP may be
    the value circuit (``qmlp``). As an ODE step x + f(x): f(x) = a + m with
    a = MHA(LN(x)) and m = MLP(LN(x + a)).
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.d_token, elementwise_affine=False)
        self.attention = (
            QuantumProjectionAttention(config.d_token, config.n_heads, config.projection_layers)
            if config.attention == "qproj"
            else ClassicalMultiHeadAttention(config.d_token, config.n_heads)
        )
        self.mlp = feed_forward(config)

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(self.norm(x), need_weights)
        x = x + attended
        return x + self.mlp(self.norm(x)), weights

    def increment(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = a + m, the layer's change to x."""
        attended, _ = self.attention(self.norm(x))
        return attended + self.mlp(self.norm(x + attended))


class HybridEncoderLayer(nn.Module):
    """The paper's hybrid layer (Fig. 4): x + MLP(HybridMHA(LN(x))).

    Unlike the classical layer there is no residual connection around the attention and no
    second LayerNorm: the MLP reads the attention output directly. So the layer is already
    x + f(x) with f = MLP ∘ HybridMHA ∘ LN, and its Runge–Kutta form uses that f.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.d_token, elementwise_affine=False)
        self.attention = HybridMultiHeadAttention(
            config.d_token, config.n_heads, ATTENTION_LOADERS[config.attention], config.backend
        )
        self.mlp = feed_forward(config)

    def forward(
        self, x: torch.Tensor, need_weights: bool = False, series: SeriesWeights | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(self.norm(x), need_weights, series)
        return x + self.mlp(attended), weights

    def increment(self, x: torch.Tensor, series: SeriesWeights | None = None) -> torch.Tensor:
        """f(x) = MLP(HybridMHA(LN(x)))."""
        attended, _ = self.attention(self.norm(x), False, series)
        return self.mlp(attended)


def encoder_layer(config: ViTConfig) -> nn.Module:
    """The encoder layer for the config's attention type."""
    if config.attention in ("classical", "qproj"):
        return ClassicalEncoderLayer(config)
    if config.attention in ATTENTION_LOADERS:
        return HybridEncoderLayer(config)
    raise ValueError(f"no encoder layer for attention {config.attention!r}")


class VisionTransformer(nn.Module):
    """The paper's ViT for one variant. Input: tokens (B, n_t, d_i); output: logits (B,)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Linear(config.d_patch, config.d_token)
        # As the paper's public code starts it: |U(0, 1)|/√d_t per component.
        self.class_token = (
            nn.Parameter(torch.rand(1, 1, config.d_token) / math.sqrt(config.d_token))
            if config.pooling == "cls"
            else None
        )
        n_positions = config.n_tokens + (config.pooling == "cls")
        encoding = (
            sinusoidal_encoding(n_positions, config.d_token)
            if config.positional
            else torch.zeros(n_positions, config.d_token)
        )
        self.register_buffer("positional_encoding", encoding, persistent=False)
        self.layers = nn.ModuleList(encoder_layer(config) for _ in range(config.encoder_layers))
        self.classifier = nn.Sequential(
            nn.Linear(config.d_token, config.d_classifier), nn.LeakyReLU(), nn.Linear(config.d_classifier, 1)
        )

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Linear embedding, class token and positional encoding: (B, n_t[+1], d_t)."""
        if tokens.ndim != 3 or tokens.shape[1:] != (self.config.n_tokens, self.config.d_patch):
            raise ValueError(
                f"{self.config.variant}: expected tokens of shape (batch, {self.config.n_tokens}, "
                f"{self.config.d_patch}), "
                f"got {tuple(tokens.shape)}; cut images with qvit_lib.data.dataset.patchify"
            )
        z = self.embedding(tokens)
        if self.class_token is not None:
            z = torch.cat([self.class_token.expand(len(z), -1, -1), z], dim=1)
        return z + self.positional_encoding

    def pool(self, z: torch.Tensor) -> torch.Tensor:
        if self.config.pooling == "cls":
            return z[:, 0]
        if self.config.pooling == "cmx":
            return z.max(dim=1).values
        return z.mean(dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        z = self.embed(tokens)
        # Fused hybrid layers: all layers' Fourier-series weights in one batched call.
        shared = shared_series_weights([layer.attention for layer in self.layers])
        for i, layer in enumerate(self.layers):
            z = self.integrate(layer, z, None if shared is None else shared[i])
        return self.classifier(self.pool(z)).squeeze(-1)

    def integrate(self, layer: nn.Module, z: torch.Tensor, series: SeriesWeights | None) -> torch.Tensor:
        """One encoder layer: today's layer at order 1 (the same operations, bit for bit), else RK stages."""
        extra = {} if series is None else {"series": series}
        if self.config.rk_order == 1:
            return layer(z, **extra)[0]
        return runge_kutta_step(lambda x: layer.increment(x, **extra), z, self.config.rk_order)

    @torch.no_grad()
    def attention_maps(self, tokens: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer: (n_layers, B, n_h, n, n); with RK, those of each layer's first stage."""
        z = self.embed(tokens)
        maps = []
        for layer in self.layers:
            _, weights = layer(z, need_weights=True)
            maps.append(weights)
            z = self.integrate(layer, z, None)
        if not maps:
            raise ValueError(f"{self.config.variant} has no attention layers")
        return torch.stack(maps)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of a model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_model(variant: str | ViTConfig, seed: int | None = None, **hyper: int) -> VisionTransformer:
    """A model for a variant name (or config); ``seed`` fixes its initial weights."""
    config = variant if isinstance(variant, ViTConfig) else ViTConfig.from_variant(variant, **hyper)
    if seed is None:
        return VisionTransformer(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VisionTransformer(config)
