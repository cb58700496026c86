"""The names of the book's vision-transformer variants and their configuration, without torch.

A variant is named ``<attention>-<pooling>-<pe|nope>[-qmlp][-rk2|-rk3|-rk4]`` (chapter 3
introduces the names, chapter 9 the suffixes):

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

:class:`ViTConfig` holds one variant's architecture, with the paper's hyper-parameters as
defaults (:mod:`qvit_lib.core.paper`), and checks it; :func:`parameter_formula` counts its
trainable parameters in closed form. Nothing here needs torch, so the command line and the
run store read and check configurations without loading it; :mod:`qvit_lib.models.vit`
builds the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from qvit_lib.core import paper
from qvit_lib.core.errors import ConfigError
from qvit_lib.data.dataset import IMAGE_SIZE, PATCH_SHAPE
from qvit_lib.models.integrators import TABLEAUS, check_order
from qvit_lib.quantum.ansatz import check_heads, check_qubits, projection_parameter_count, value_parameter_count

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
]


N_TOKENS = IMAGE_SIZE**2 // (PATCH_SHAPE[0] * PATCH_SHAPE[1])  #: 32 tokens of 4 × 8 crystals
PAPER_ATTENTIONS = ("classical", "hybrid", "hybrid-angle", "none")  #: the attention kinds of the paper's Table 1
ATTENTIONS = (*PAPER_ATTENTIONS, "qproj")
ATTENTION_LOADERS = {"hybrid": "hadamard", "hybrid-angle": "angle"}  #: the data loader of each hybrid attention
POOLINGS = ("cls", "cmx", "cmn")
POSITIONAL = ("pe", "nope")  #: sinusoidal positional encoding or none
FEED_FORWARDS = ("mlp", "qmlp")  #: the classical MLP, or the value circuit on the whole token
RK_ORDERS = tuple(TABLEAUS)  #: Runge–Kutta orders of an encoder layer; 1 is today's layer
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
