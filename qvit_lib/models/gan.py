"""A class-conditional GAN whose generator and discriminator are vision transformers (chapter 11).

The CERN openlab slides that motivate quantum self-attention point at generative models for
fast simulation, and the QRKT thesis proposes a GAN whose generator and discriminator are both
quantum vision transformers. This module builds that pair for the ECAL images of this book,
with the encoder layers of :mod:`qvit_lib.models.vit` — classical, ``hybrid-angle`` or ``qproj``
attention, ``-qmlp`` feed-forward, Runge–Kutta order k:

* **Generator.** One noise vector per token (32 tokens of a 4 × 8 patch each), a learned
  vector for the class (photon or electron) added to every token, the sinusoidal positional
  encoding, n_l encoder layers, then a linear map of each token to its 32 crystals, added to
  the mean shower of the class (a fixed template from the training data), and a softplus:
  every crystal gets a non-negative value u, read as energy E = ε (e^u − 1) with
  ε = 0.002 GeV/50 (0.1 GeV). Without the template the discriminator wins within a hundred
  steps (it tells a flat image from a shower at once) and the generator stops learning.
  Only the energy channel is generated (the time channel is left out: no chapter uses it).
* **Discriminator.** The book's :class:`~qvit_lib.models.vit.VisionTransformer` on the same
  log-energy patches with the class appended to every patch as a 33rd value (so its linear
  embedding adds a learned class vector to every token), column-max pooling, one logit.

Stabilisers, from the GAN literature: the hinge loss with spectral normalisation of the
discriminator's linear maps (Miyato et al. 2018) — it needs no second derivative, which the
fused circuit simulator does not provide, unlike a gradient penalty — Adam with β₁ = 0, the
class template above, and the log-energy transform, which puts the shower's core and its
tails on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from qvit_lib.core.errors import ConfigError
from qvit_lib.data.dataset import IMAGE_SIZE, PATCH_SHAPE, patchify, unpatchify
from qvit_lib.models.integrators import runge_kutta_step
from qvit_lib.models.variants import ATTENTIONS, ViTConfig
from qvit_lib.models.vit import VisionTransformer, encoder_layer, sinusoidal_encoding

EPSILON = 0.002  #: GeV/50: the energy scale of the log transform (0.1 GeV)
N_CLASSES = 2  # photon 0, electron 1, as in the files


def to_log_energy(energy: torch.Tensor) -> torch.Tensor:
    """u = log(1 + E/ε) of energies E ≥ 0 (GeV/50): the scale both networks work on."""
    return torch.log1p(energy.clamp_min(0) / EPSILON)


def from_log_energy(u: torch.Tensor) -> torch.Tensor:
    """E = ε (e^u − 1): back to energies in GeV/50."""
    return EPSILON * torch.expm1(u)


@dataclass(frozen=True)
class GANConfig:
    """Both networks of one GAN: attention kind, feed-forward and integrator, and sizes."""

    attention: str = "classical"
    feed_forward: str = "mlp"
    rk_order: int = 1
    n_layers: int = 3
    d_token: int = 16
    n_heads: int = 4
    d_ff: int = 16
    d_noise: int = 8  # noise values per token

    def __post_init__(self) -> None:
        if self.attention not in ATTENTIONS or self.attention == "none":
            valid = ", ".join(a for a in ATTENTIONS if a != "none")
            raise ConfigError(f"a GAN needs encoder layers: attention must be one of {valid}; got {self.attention!r}")
        if self.d_noise < 1:
            raise ConfigError(f"d_noise must be positive, got {self.d_noise}")
        self.layer_config()  # every other rule is the classifier's

    @property
    def name(self) -> str:
        """``gan-<attention>[-qmlp][-rk<k>]``: the classifier's variant name without pooling and encoding."""
        return "gan-" + self.layer_config().variant.replace("-cmx-pe", "")

    def layer_config(self, d_patch: int = PATCH_SHAPE[0] * PATCH_SHAPE[1] + 1) -> ViTConfig:
        """The ViT configuration of the discriminator (and of the generator's layers)."""
        return ViTConfig(
            attention=self.attention,
            pooling="cmx",
            positional=True,
            n_layers=self.n_layers,
            d_token=self.d_token,
            n_heads=self.n_heads,
            d_ff=self.d_ff,
            d_patch=d_patch,
            feed_forward=self.feed_forward,
            rk_order=self.rk_order,
        )


N_TOKENS = (IMAGE_SIZE // PATCH_SHAPE[0]) * (IMAGE_SIZE // PATCH_SHAPE[1])
D_PATCH = PATCH_SHAPE[0] * PATCH_SHAPE[1]


class ShowerGenerator(nn.Module):
    """Noise and class → 32 tokens → encoder layers → 32 × 32 log-energy image u ≥ 0."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        layer_config = config.layer_config()
        self.noise_embedding = nn.Linear(config.d_noise, config.d_token)
        self.class_embedding = nn.Embedding(N_CLASSES, config.d_token)
        self.register_buffer("positional_encoding", sinusoidal_encoding(N_TOKENS, config.d_token), persistent=False)
        self.layers = nn.ModuleList(encoder_layer(layer_config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_token)
        self.to_crystals = nn.Linear(config.d_token, D_PATCH)
        # The mean shower of each class, as pre-activations (set from the training data by
        # :meth:`set_template`): the layers learn each shower's deviation from it.
        self.register_buffer("template", torch.zeros(N_CLASSES, N_TOKENS, D_PATCH))

    @torch.no_grad()
    def set_template(self, u: torch.Tensor, labels: torch.Tensor) -> None:
        """Start from the mean log-energy shower of each class: softplus⁻¹ of the class means."""
        for value in range(N_CLASSES):
            mean = patchify(u[labels == value]).mean(0).clamp_min(1e-4)
            self.template[value] = mean + torch.log(-torch.expm1(-mean))  # softplus⁻¹(m) = m + log(1 − e^−m)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal noise for ``n`` showers: (n, 32 tokens, d_noise)."""
        device = self.to_crystals.weight.device
        return torch.randn(n, N_TOKENS, self.config.d_noise, generator=generator).to(device)

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Log-energy images u (B, 32, 32) for noise (B, 32, d_noise) and class labels (B,)."""
        z = self.noise_embedding(noise) + self.class_embedding(labels.long())[:, None] + self.positional_encoding
        for layer in self.layers:
            z = layer(z)[0] if self.config.rk_order == 1 else runge_kutta_step(layer.increment, z, self.config.rk_order)
        patches = nn.functional.softplus(self.to_crystals(self.norm(z)) + self.template[labels.long()])
        return unpatchify(patches)

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Energies (B, 32, 32) in GeV/50 for the given class labels."""
        return from_log_energy(self(self.noise(len(labels), generator), labels.to(self.to_crystals.weight.device)))


def discriminator_tokens(u: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Log-energy images (B, 32, 32) cut into patches, the class appended to each: (B, 32, 33)."""
    patches = patchify(u)
    return torch.cat([patches, labels.to(patches)[:, None, None].expand(-1, patches.shape[1], 1)], dim=-1)


class ShowerDiscriminator(nn.Module):
    """The book's ViT on (log-energy patches, class): one logit, real versus generated."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.vit = VisionTransformer(config.layer_config())
        for module in self.vit.modules():  # spectral normalisation of every linear map
            if isinstance(module, nn.Linear):
                nn.utils.parametrizations.spectral_norm(module)

    def forward(self, u: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.vit(discriminator_tokens(u, labels))


def build_gan(config: GANConfig, seed: int = 0) -> tuple[ShowerGenerator, ShowerDiscriminator]:
    """A generator and a discriminator, seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ShowerGenerator(config), ShowerDiscriminator(config)


__all__ = [
    "EPSILON",
    "GANConfig",
    "ShowerDiscriminator",
    "ShowerGenerator",
    "build_gan",
    "discriminator_tokens",
    "from_log_energy",
    "to_log_energy",
]
