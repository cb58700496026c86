"""The vision transformers of the paper, and the names of their variants.

A variant is named ``<attention>-<pooling>-<pe|nope>[-qmlp][-rk2|-rk3|-rk4]``:

* attention ``classical`` (the benchmark ViT); ``hybrid`` (the paper's hybrid ViT: quantum
  circuits with the published H·RX data loader); ``hybrid-angle`` (the same circuits with
  standard angle encoding, RX on |0⟩); ``none`` (no encoder layers: embedding, pooling
  and classifier only — the baseline a blind attention head reduces to); or ``qproj``
  (chapter 9: classical dot-product attention whose Q, K, V and output projections are
  circuits on the whole token, after Comajoan Cara et al. 2024);
* pooling ``cls`` (a trainable class token), ``cmx`` (column max) or ``cmn`` (column mean);
* ``pe`` adds a fixed sinusoidal vector per position to the tokens, ``nope`` does not;
* ``-qmlp`` (chapter 9) replaces every encoder layer's MLP by the value circuit on the
  whole token (the paper's public code's ``hybrid1`` layer), with the data loader of the
  attention kind: H·RX for ``hybrid``, RX for the others;
* ``-rk<k>`` (chapter 9) integrates each encoder layer x ↦ x + f(x) as a Runge–Kutta step
  of order k with the same f (:mod:`qvit_lib.models.integrators`); without it the layers are
  today's, order 1.

The model follows the paper's Fig. 2–3 with its hyper-parameters as defaults
(n_l = 5, d_t = 16, n_h = 4, d_h = 4, d_ff = 16, d_i = 32, 32 tokens of 4×8 pixels):

    z₀ = X W_E + b_E  (+ class token)  (+ positional encoding)
    z'_l = z_{l-1} + MHA(LN(z_{l-1}));   z_l = z'_l + MLP(LN(z'_l))
    ŷ = σ(W₂ LeakyReLU(W₁ pool(z_L) + b₁) + b₂)

LayerNorm has no affine parameters; the MLP is Linear(d_t, d_ff), GELU, Linear(d_ff, d_t).
The first 22 variants (the four attention kinds of the paper's Table 1, MLP, order 1) are
the paper's; :func:`all_variants` lists them, :func:`every_variant` lists all.
The model returns logits; the sigmoid lives in the loss (BCE with logits).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from qvit_lib.core import paper
from qvit_lib.core.errors import ConfigError
from qvit_lib.data.dataset import IMAGE_SIZE, PATCH_SHAPE
from qvit_lib.models.attention import (
    ClassicalMultiHeadAttention,
    HybridMultiHeadAttention,
    QuantumProjectionAttention,
    shared_series_weights,
)
from qvit_lib.models.feedforward import QuantumFeedForward, mlp
from qvit_lib.models.integrators import TABLEAUS, check_order, runge_kutta_step
from qvit_lib.quantum.ansatz import check_heads, check_qubits, projection_parameter_count, value_parameter_count

if TYPE_CHECKING:
    from qvit_lib.quantum.exact import SeriesWeights

__all__ = [
    "N_TOKENS",
    "PAPER_ATTENTIONS",
    "ATTENTIONS",
    "ATTENTION_LOADERS",
    "POOLINGS",
    "POSITIONAL",
    "FEED_FORWARDS",
    "RK_ORDERS",
    "all_variants",
    "every_variant",
    "ViTConfig",
    "parameter_formula",
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


N_TOKENS = IMAGE_SIZE**2 // (PATCH_SHAPE[0] * PATCH_SHAPE[1])  # 32 tokens of 4 × 8 crystals
PAPER_ATTENTIONS = ("classical", "hybrid", "hybrid-angle", "none")  # the attention kinds of the paper's Table 1
ATTENTIONS = (*PAPER_ATTENTIONS, "qproj")
ATTENTION_LOADERS = {"hybrid": "hadamard", "hybrid-angle": "angle"}  # the data loader of each hybrid attention
POOLINGS = ("cls", "cmx", "cmn")
POSITIONAL = ("pe", "nope")  # sinusoidal positional encoding or none
FEED_FORWARDS = ("mlp", "qmlp")  # the classical MLP, or the value circuit on the whole token
RK_ORDERS = tuple(TABLEAUS)  # Runge–Kutta orders of an encoder layer; 1 is today's layer
_VARIANT = re.compile(
    rf"^(?P<attention>{'|'.join(sorted(map(re.escape, ATTENTIONS), key=len, reverse=True))})"
    rf"-(?P<pooling>{'|'.join(POOLINGS)})-(?P<positional>pe|nope)(?P<qmlp>-qmlp)?(?:-rk(?P<order>\d+))?$"
)


def all_variants(attentions: tuple[str, ...] = PAPER_ATTENTIONS) -> list[str]:
    """The base variants (MLP, order 1) of these attention kinds; by default the paper's 22.

    ``none`` has no class token (nothing would update it).
    """
    return [
        f"{a}-{p}-{e}" for a in attentions for p in POOLINGS for e in POSITIONAL if not (a == "none" and p == "cls")
    ]


def every_variant() -> list[str]:
    """Every valid variant name: each base variant with each feed-forward and Runge–Kutta order."""
    names = []
    for base in all_variants(ATTENTIONS):
        if base.startswith("none-"):  # no encoder layers: no feed-forward or integrator to change
            names.append(base)
            continue
        for ff in FEED_FORWARDS:
            names += [base + ("-qmlp" if ff == "qmlp" else "") + (f"-rk{k}" if k > 1 else "") for k in RK_ORDERS]
    return names


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
    n_tokens: int = N_TOKENS
    d_classifier: int = paper.CLASSIFIER_WIDTH
    backend: str = "fused"  # hybrid only: "fused" or a PennyLane device name
    feed_forward: str = "mlp"  # "mlp" or "qmlp" (the value circuit on the whole token)
    rk_order: int = 1  # Runge–Kutta order of each encoder layer
    projection_layers: int = 1  # qproj only: circuit layers L of each projection

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"unknown attention {self.attention!r}; valid: {', '.join(ATTENTIONS)}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {self.pooling!r}; valid: {', '.join(POOLINGS)}")
        if self.attention == "none" and self.pooling == "cls":
            raise ConfigError(
                "variant none-cls: without encoder layers a class token never sees the image; use cmx or cmn"
            )
        if self.feed_forward not in FEED_FORWARDS:
            raise ConfigError(f"unknown feed-forward {self.feed_forward!r}; valid: {', '.join(FEED_FORWARDS)}")
        check_order(self.rk_order)
        if self.attention == "none" and (self.feed_forward != "mlp" or self.rk_order != 1):
            raise ConfigError(
                "attention none has no encoder layers, so no feed-forward or Runge–Kutta order to change; "
                "drop -qmlp and -rk<k>"
            )
        if self.projection_layers < 1:
            raise ConfigError(f"projection_layers must be at least 1, got {self.projection_layers}")
        for name in ("n_layers", "d_token", "n_heads", "d_ff", "d_patch", "n_tokens", "d_classifier"):
            if getattr(self, name) < (0 if name == "n_layers" else 1):
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        d_head = check_heads(self.d_token, self.n_heads)
        if self.attention in ATTENTION_LOADERS:
            check_qubits(d_head)
        if self.feed_forward == "qmlp" and self.encoder_layers:
            check_qubits(self.d_token, "the quantum feed-forward", "per token (d_t)")
        if self.attention == "qproj":
            check_qubits(self.d_token, "a quantum projection", "per token (d_t)")

    @property
    def d_head(self) -> int:
        return self.d_token // self.n_heads

    @property
    def encoder_layers(self) -> int:
        return 0 if self.attention == "none" else self.n_layers

    @property
    def variant(self) -> str:
        name = f"{self.attention}-{self.pooling}-{'pe' if self.positional else 'nope'}"
        return (
            name
            + ("-qmlp" if self.feed_forward == "qmlp" else "")
            + (f"-rk{self.rk_order}" if self.rk_order > 1 else "")
        )

    @property
    def feed_forward_loader(self) -> str:
        """The data loader of the quantum feed-forward: the attention's, or RX for non-hybrid kinds."""
        return ATTENTION_LOADERS.get(self.attention, "angle")

    @classmethod
    def from_variant(cls, name: str, **hyper: int) -> ViTConfig:
        """Parse ``<attention>-<pooling>-<pe|nope>[-qmlp][-rk<k>]``; extra keywords set hyper-parameters."""
        match = _VARIANT.match(name)
        if match is None:
            raise ConfigError(
                f"unknown variant {name!r}: expected <attention>-<pooling>-<pe|nope>[-qmlp][-rk2|-rk3|-rk4] with "
                f"attention in {', '.join(ATTENTIONS)}, pooling in {', '.join(POOLINGS)}; "
                f"e.g. {', '.join(all_variants()[:2])}, hybrid-angle-cmx-pe-qmlp, classical-cmx-pe-rk4 "
                "(`python -m qvit_lib params` lists all)"
            )
        order = int(match["order"] or 1)
        if match["order"] and order == 1:
            raise ConfigError(f"variant {name!r}: order 1 is today's layer; drop the -rk1 suffix")
        if order not in RK_ORDERS:
            raise ConfigError(f"variant {name!r}: no Runge–Kutta order {order}; valid suffixes -rk2, -rk3, -rk4")
        return cls(
            attention=match["attention"],
            pooling=match["pooling"],
            positional=match["positional"] == "pe",
            feed_forward="qmlp" if match["qmlp"] else "mlp",
            rk_order=order,
            **hyper,
        )

    def with_(self, **changes: object) -> ViTConfig:
        return replace(self, **changes)


def parameter_formula(config: ViTConfig) -> int:
    """Trainable parameters in closed form (paper §4, with the classifier's constant).

    embedding (d_i + 1)·d_t, classifier d_t·32 + 32 + 33, d_t more for a class token, and
    per encoder layer an attention and a feed-forward:

    * attention: classical 3·n_h·d_h², hybrid n_h·(9·d_h + 2), qproj 4·L·d_t;
    * feed-forward: MLP 2·d_ff·d_t + d_ff + d_t, qmlp 3·d_t.

    The Runge–Kutta order changes no count: its stages reuse the layer. The paper's own
    overall formula d_t(33 + d_i) + n_l(…) leaves out the classifier's 65 biases, but its
    Table 1 counts them (4785 = 4720 + 65).
    """
    c = config
    embedding = (c.d_patch + 1) * c.d_token
    classifier = c.d_token * c.d_classifier + c.d_classifier + c.d_classifier + 1
    if c.attention in ATTENTION_LOADERS:
        attention = c.n_heads * (9 * c.d_head + 2)
    elif c.attention == "qproj":
        attention = 4 * projection_parameter_count(c.d_token, c.projection_layers)
    else:
        attention = 3 * c.n_heads * c.d_head**2
    feed_forward = (
        value_parameter_count(c.d_token) if c.feed_forward == "qmlp" else 2 * c.d_ff * c.d_token + c.d_ff + c.d_token
    )
    class_token = c.d_token if c.pooling == "cls" else 0
    return embedding + classifier + c.encoder_layers * (attention + feed_forward) + class_token


def parameter_table(variants: list[str] | None = None, **hyper: int) -> list[dict[str, object]]:
    """Each variant's trainable parameters: counted on a built model, by formula, and the paper's.

    ``variants`` defaults to :func:`every_variant`. The paper's figures exist only for its
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
