"""The vision transformers of the paper, and the names of their variants.

A variant is named ``<attention>-<pooling>-<pe|nope>``:

* attention ``classical`` (the benchmark ViT); ``hybrid`` (the paper's hybrid ViT: quantum
  circuits with the published H·RX data loader); ``hybrid-angle`` (the same circuits with
  standard angle encoding, RX on |0⟩); or ``none`` (no encoder layers: embedding, pooling
  and classifier only — the baseline a blind attention head reduces to);
* pooling ``cls`` (a trainable class token), ``cmx`` (column max) or ``cmn`` (column mean);
* ``pe`` adds a fixed sinusoidal vector per position to the tokens, ``nope`` does not.

The model follows the paper's Fig. 2–3 with its hyper-parameters as defaults
(n_l = 5, d_t = 16, n_h = 4, d_h = 4, d_ff = 16, d_i = 32, 32 tokens of 4×8 pixels):

    z₀ = X W_E + b_E  (+ class token)  (+ positional encoding)
    z'_l = z_{l-1} + MHA(LN(z_{l-1}));   z_l = z'_l + MLP(LN(z'_l))
    ŷ = σ(W₂ LeakyReLU(W₁ pool(z_L) + b₁) + b₂)

LayerNorm has no affine parameters; the MLP is Linear(d_t, d_ff), GELU, Linear(d_ff, d_t).
The model returns logits; the sigmoid lives in the loss (BCE with logits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from . import paper
from .ansatz import check_heads, check_qubits
from .attention import ClassicalMultiHeadAttention, HybridMultiHeadAttention, shared_series_weights
from .errors import ConfigError

if TYPE_CHECKING:
    from .fused import SeriesWeights

ATTENTIONS = ("classical", "hybrid", "hybrid-angle", "none")
ATTENTION_LOADERS = {"hybrid": "hadamard", "hybrid-angle": "angle"}  # the data loader of each hybrid attention
POOLINGS = ("cls", "cmx", "cmn")
POSITIONAL = ("pe", "nope")  # the variant name's last part: sinusoidal positional encoding or none


def all_variants(attentions: tuple[str, ...] = ATTENTIONS) -> list[str]:
    """Every valid variant name; ``none`` has no class token (nothing would update it)."""
    return [
        f"{a}-{p}-{e}" for a in attentions for p in POOLINGS for e in POSITIONAL if not (a == "none" and p == "cls")
    ]


@dataclass(frozen=True)
class ViTConfig:
    """Architecture of one variant; defaults are the paper's hyper-parameters."""

    attention: str = "classical"
    pooling: str = "cmx"
    positional: bool = True
    n_layers: int = paper.HYPER_PARAMETERS["n_layers"]
    d_token: int = paper.HYPER_PARAMETERS["d_token"]
    n_heads: int = paper.HYPER_PARAMETERS["n_heads"]
    d_ff: int = paper.HYPER_PARAMETERS["d_ff"]
    d_patch: int = paper.HYPER_PARAMETERS["d_patch"]
    n_tokens: int = 32
    d_classifier: int = paper.CLASSIFIER_WIDTH
    backend: str = "fused"  # hybrid only: "fused" or a PennyLane device name

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"unknown attention {self.attention!r}; valid: {', '.join(ATTENTIONS)}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}; valid: {', '.join(POOLINGS)}")
        if self.attention == "none" and self.pooling == "cls":
            raise ConfigError(
                "variant none-cls: without encoder layers a class token never sees the image; use cmx or cmn"
            )
        for name in ("n_layers", "d_token", "n_heads", "d_ff", "d_patch", "n_tokens", "d_classifier"):
            if getattr(self, name) < (0 if name == "n_layers" else 1):
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        d_head = check_heads(self.d_token, self.n_heads)
        if self.attention in ATTENTION_LOADERS:
            check_qubits(d_head)

    @property
    def d_head(self) -> int:
        return self.d_token // self.n_heads

    @property
    def encoder_layers(self) -> int:
        return 0 if self.attention == "none" else self.n_layers

    @property
    def variant(self) -> str:
        return f"{self.attention}-{self.pooling}-{'pe' if self.positional else 'nope'}"

    @classmethod
    def from_variant(cls, name: str, **hyper: int) -> ViTConfig:
        """Parse ``<attention>-<pooling>-<pe|nope>``; extra keywords set hyper-parameters."""
        parts = name.rsplit("-", 2)
        valid = all_variants()
        if len(parts) != 3 or parts[0] not in ATTENTIONS or parts[1] not in POOLINGS or parts[2] not in POSITIONAL:
            raise ConfigError(f"unknown variant {name!r}; valid variants: {', '.join(valid)}")
        return cls(attention=parts[0], pooling=parts[1], positional=parts[2] == "pe", **hyper)

    def with_(self, **changes: object) -> ViTConfig:
        return replace(self, **changes)


def parameter_formula(config: ViTConfig) -> int:
    """Trainable parameters in closed form (paper §4, with the classifier's constant).

    embedding (d_i + 1)·d_t, classifier d_t·32 + 32 + 33, per classical encoder layer
    3·n_h·d_h² + 2·d_ff·d_t + d_ff + d_t, per hybrid layer n_h·(9·d_h + 2) + 2·d_ff·d_t +
    d_ff + d_t, and d_t more for a class token. The paper's own
    overall formula d_t(33 + d_i) + n_l(…) leaves out the classifier's 65 biases, but its
    Table 1 counts them (4785 = 4720 + 65).
    """
    c = config
    embedding = (c.d_patch + 1) * c.d_token
    classifier = c.d_token * c.d_classifier + c.d_classifier + c.d_classifier + 1
    attention = c.n_heads * (9 * c.d_head + 2) if c.attention in ATTENTION_LOADERS else 3 * c.n_heads * c.d_head**2
    layer = attention + 2 * c.d_ff * c.d_token + c.d_ff + c.d_token
    class_token = c.d_token if c.pooling == "cls" else 0
    return embedding + classifier + c.encoder_layers * layer + class_token


def parameter_table(**hyper: int) -> list[dict[str, object]]:
    """Every variant's trainable parameters: counted on a built model, by formula, and the paper's.

    The paper's figures apply only at its own hyper-parameters (the defaults). A variant
    that these hyper-parameters do not allow has ``parameters`` None and a ``reason``.
    """
    at_paper = {**paper.HYPER_PARAMETERS, **hyper} == paper.HYPER_PARAMETERS
    rows = []
    for variant in all_variants():
        try:
            config = ViTConfig.from_variant(variant, **hyper)
        except ConfigError as err:  # e.g. a hybrid head of one qubit: that variant does not exist here
            rows.append({"variant": variant, "parameters": None, "formula": None, "paper": None, "reason": str(err)})
            continue
        rows.append(
            {
                "variant": variant,
                "parameters": count_parameters(VisionTransformer(config)),
                "formula": parameter_formula(config),
                "paper": paper.PARAMETERS.get((config.attention.replace("-angle", ""), config.pooling))
                if at_paper
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


class ClassicalEncoderLayer(nn.Module):
    """Pre-LN transformer layer: x + MHA(LN(x)), then y + MLP(LN(y)) (paper Fig. 3)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.d_token, elementwise_affine=False)
        self.attention = ClassicalMultiHeadAttention(config.d_token, config.n_heads)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_token, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, config.d_token)
        )

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(self.norm(x), need_weights)
        x = x + attended
        return x + self.mlp(self.norm(x)), weights


class HybridEncoderLayer(nn.Module):
    """The paper's hybrid layer (Fig. 4): x + MLP(HybridMHA(LN(x))).

    Unlike the classical layer there is no residual connection around the attention and no
    second LayerNorm: the MLP reads the attention output directly.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.d_token, elementwise_affine=False)
        self.attention = HybridMultiHeadAttention(
            config.d_token, config.n_heads, ATTENTION_LOADERS[config.attention], config.backend
        )
        self.mlp = nn.Sequential(
            nn.Linear(config.d_token, config.d_ff), nn.GELU(), nn.Linear(config.d_ff, config.d_token)
        )

    def forward(
        self, x: torch.Tensor, need_weights: bool = False, series: SeriesWeights | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(self.norm(x), need_weights, series)
        return x + self.mlp(attended), weights


def encoder_layer(config: ViTConfig) -> nn.Module:
    """The encoder layer for the config's attention type."""
    if config.attention == "classical":
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
                f"got {tuple(tokens.shape)}; cut images with qvit_lib.data.patchify"
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
            z, _ = layer(z) if shared is None else layer(z, series=shared[i])
        return self.classifier(self.pool(z)).squeeze(-1)

    @torch.no_grad()
    def attention_maps(self, tokens: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer: (n_layers, B, n_h, n, n)."""
        z = self.embed(tokens)
        maps = []
        for layer in self.layers:
            z, weights = layer(z, need_weights=True)
            maps.append(weights)
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
