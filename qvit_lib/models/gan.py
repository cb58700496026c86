"""A conditional shower GAN whose networks are vision transformers, or convolutional (chapter 11).

The CERN openlab slides that motivate quantum self-attention point at generative models for
fast simulation, and the QRKT thesis proposes a GAN whose generator and discriminator are both
quantum vision transformers with Runge–Kutta encoder layers. This module builds such GANs for
the ECAL crops of this book, conditioned on what the simulator draws: the class c (photon 0,
electron 1) and the pseudorapidity η, which fixes the incident energy E₀ = p_T cosh η at
p_T = 50 GeV.

**Showers physical by construction.** The generator never writes crystal energies directly:

* the *response* r = E_total / E₀ = R_MIN + (R_MAX − R_MIN) σ(a), so no shower carries more than
  R_MAX · E₀, and none is empty;
* the *fractions* f = softmax(ℓ) over the 1024 crystals, added to the mean log-fraction of the
  class (a fixed template from the training data), so the crystals share E_total and none
  exceeds it;
* the centre crystal's logit is raised to the largest other logit plus a softplus, so the
  hottest crystal sits at (16, 16) as in the files' crops;
* the crystals' true energies E_i = r E₀ f_i then pass the detector's readout
  (:mod:`qvit_lib.data.readout`, the simulator's own): electronics noise, zero suppression and
  the hit times, drawn from the generator's random numbers. So both channels of the files come
  out, the time channel from the readout model rather than from the network (in our simulation
  a hit's time depends only on its energy; chapter 11 says what learning it directly gave).

So Σ_i E_i ≤ R_MAX E₀ for the true energies of every shower, whatever the weights.

**Networks** (:class:`NetworkSpec`, one for each side, so quantum parts can sit on one side only):

* ``vit``: the encoder layers of :mod:`qvit_lib.models.vit` — attention kind, feed-forward
  (``qmlp``: the value circuit on the token) and Runge–Kutta order. The generator embeds one
  noise vector per token, adds the embedded condition and the positional encoding, runs the
  layers and maps each token to its 32 crystals' logits; the response comes from
  the mean token. The discriminator is the book's ViT on patches of (log energy, time) with
  the condition and the shower's response appended to every patch.

* ``cnn``: a small convolutional pair of the CaloGAN kind (Paganini et al. 2018): a latent
  vector upsampled by transposed convolutions, and strided convolutions down to one logit.

Both generators start from the template: their response heads (and the convolutional one's
last map) start at zero, so every first shower is its class's mean shower at the mean response.

Stabilisers: the hinge loss with spectral normalisation of the discriminator (Miyato et al.
2018; no second derivative, which the fused circuit simulator does not provide), Adam with
β₁ = 0, the class template, and the log-energy transform u = log(1 + E/ε).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from qvit_lib.core.errors import ConfigError
from qvit_lib.data.dataset import ENERGY_UNIT_GEV, IMAGE_SIZE, PATCH_SHAPE, patchify, unpatchify
from qvit_lib.data.readout import readout
from qvit_lib.data.simulation import SimulationConfig
from qvit_lib.models.integrators import check_order, runge_kutta_step
from qvit_lib.models.variants import ATTENTIONS, FEED_FORWARDS, N_TOKENS, ViTConfig
from qvit_lib.models.vit import VisionTransformer, encoder_layer, sinusoidal_encoding

__all__ = [
    "EPSILON",
    "PT_GEV",
    "ETA_MAX",
    "R_MAX",
    "R_MIN",
    "Latent",
    "N_CONDITIONS",
    "NETWORK_KINDS",
    "NetworkSpec",
    "GANConfig",
    "GAN_MODELS",
    "incident_energy",
    "conditions",
    "to_log_energy",
    "ShowerDecoder",
    "ShowerGenerator",
    "ConvGenerator",
    "ShowerDiscriminator",
    "ConvDiscriminator",
    "discriminator_tokens",
    "build_gan",
]

SIMULATION = SimulationConfig()  #: what the simulator draws (p_T, |η|) and its readout settings
EPSILON = 0.002  #: GeV/50: the energy scale of the log transform (0.1 GeV)
PT_GEV = SIMULATION.pt_gev  #: the particles' transverse momentum, GeV (the files' "Pt50")
ETA_MAX = SIMULATION.eta_max  #: |η| of the barrel crops
R_MAX = 1.05  #: the largest response E_total/E₀ a generator can give (resolution and noise above 1)
R_MIN = 0.5  #: the smallest (the simulated showers keep more than 0.9 of E₀ in the crop)
N_CONDITIONS = 3  #: (2c − 1, η/η_max, cosh η − 1)
N_CLASSES = 2
NETWORK_KINDS = ("vit", "cnn")
D_PATCH = PATCH_SHAPE[0] * PATCH_SHAPE[1]
N_CRYSTALS = IMAGE_SIZE * IMAGE_SIZE
CENTRE = (IMAGE_SIZE // 2) * IMAGE_SIZE + IMAGE_SIZE // 2  #: the flat index of crystal (16, 16)


class Latent(NamedTuple):
    """A generator's random numbers for a batch: the network's noise and the readout's normals (B, 3, 32, 32)."""

    z: torch.Tensor
    readout: torch.Tensor


def incident_energy(eta: torch.Tensor) -> torch.Tensor:
    """E₀ = p_T cosh η in the files' unit, GeV/50."""
    return PT_GEV * torch.cosh(eta) / ENERGY_UNIT_GEV


def conditions(labels: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """The condition vector of each shower: (2c − 1, η/η_max, cosh η − 1), shape (B, 3)."""
    labels, eta = labels.float(), eta.float()
    return torch.stack([2 * labels - 1, eta / ETA_MAX, torch.cosh(eta) - 1], dim=-1)


def to_log_energy(energy: torch.Tensor) -> torch.Tensor:
    """u = log(1 + E/ε) of energies E ≥ 0 (GeV/50): the scale the discriminator reads."""
    return torch.log1p(energy.clamp_min(0) / EPSILON)


@dataclass(frozen=True)
class NetworkSpec:
    """One side of a GAN: a ViT (attention, feed-forward, Runge–Kutta order, layers) or a CNN."""

    kind: str = "vit"
    attention: str = "classical"
    feed_forward: str = "mlp"
    rk_order: int = 1
    n_layers: int = 3

    def __post_init__(self) -> None:
        if self.kind not in NETWORK_KINDS:
            raise ConfigError(f"network kind must be one of {', '.join(NETWORK_KINDS)}; got {self.kind!r}")
        if self.attention not in ATTENTIONS or self.attention == "none":
            valid = ", ".join(a for a in ATTENTIONS if a != "none")
            raise ConfigError(f"a GAN needs encoder layers: attention must be one of {valid}; got {self.attention!r}")
        if self.feed_forward not in FEED_FORWARDS:
            raise ConfigError(f"feed_forward must be one of {', '.join(FEED_FORWARDS)}; got {self.feed_forward!r}")
        check_order(self.rk_order)
        if self.n_layers < 1:
            raise ConfigError(f"n_layers must be at least 1, got {self.n_layers}")

    @property
    def name(self) -> str:
        """``cnn``, or ``<attention>[-qmlp][-rk<k>]`` with ``-l<n>`` where the layers are not 3."""
        if self.kind == "cnn":
            return "cnn"
        name = self.attention + ("-qmlp" if self.feed_forward == "qmlp" else "")
        name += f"-rk{self.rk_order}" if self.rk_order > 1 else ""
        return name + (f"-l{self.n_layers}" if self.n_layers != 3 else "")


@dataclass(frozen=True)
class GANConfig:
    """Both networks of one GAN and the sizes they share."""

    generator: NetworkSpec = field(default_factory=NetworkSpec)
    discriminator: NetworkSpec = field(default_factory=NetworkSpec)
    d_token: int = 16
    n_heads: int = 4
    d_ff: int = 4  # narrow, so that the quantum feed-forward's networks can match the classical ones in size
    d_noise: int = 48  # ViT: noise values per token
    d_latent: int = 8  # CNN: the latent vector
    channels: int = 4  # CNN: feature maps of the widest layer are 2 × channels

    def __post_init__(self) -> None:
        for side in ("generator", "discriminator"):
            if not isinstance(getattr(self, side), NetworkSpec):
                raise ConfigError(f"GANConfig.{side} must be a NetworkSpec, got {getattr(self, side)!r}")
        for name in ("d_noise", "d_latent", "channels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for spec in (self.generator, self.discriminator):
            if spec.kind == "vit":
                self.layer_config(spec)  # every other rule is the classifier's

    @property
    def name(self) -> str:
        """The model's name in :data:`GAN_MODELS`, else ``gan-<g>`` or ``gan-g-<g>-d-<d>``."""
        for name, config in GAN_MODELS.items():
            if config == self:
                return name
        g, d = self.generator.name, self.discriminator.name
        return f"gan-{g}" if g == d else f"gan-g-{g}-d-{d}"

    def layer_config(self, spec: NetworkSpec, d_patch: int = 2 * D_PATCH + N_CONDITIONS + 1) -> ViTConfig:
        """The ViT configuration of one side (the discriminator's patch: energy, time, condition, response)."""
        return ViTConfig(
            attention=spec.attention,
            pooling="cmx",
            positional=True,
            n_layers=spec.n_layers,
            d_token=self.d_token,
            n_heads=self.n_heads,
            d_ff=self.d_ff,
            d_patch=d_patch,
            feed_forward=spec.feed_forward,
            rk_order=spec.rk_order,
        )

    def as_record(self) -> dict[str, object]:
        """A JSON-ready dict; :meth:`from_record` reads it back."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, object]) -> GANConfig:
        """The config a record's ``config`` field describes; a clear error for anything else."""
        try:
            sides = {side: NetworkSpec(**record[side]) for side in ("generator", "discriminator")}
            return cls(**{**record, **sides})
        except (KeyError, TypeError) as err:
            raise ConfigError(f"not a GAN configuration ({err}): {record!r}") from None


_ANGLE = NetworkSpec(attention="hybrid-angle")
_QRKT = NetworkSpec(attention="hybrid-angle", feed_forward="qmlp", rk_order=4, n_layers=4)
_CNN = NetworkSpec(kind="cnn")
GAN_MODELS: dict[str, GANConfig] = {
    "gan-classical": GANConfig(),
    "gan-hybrid-angle": GANConfig(_ANGLE, _ANGLE),
    "gan-qrkt": GANConfig(_QRKT, _QRKT),
    "gan-qrkt-generator": GANConfig(_QRKT, NetworkSpec()),
    "gan-qrkt-discriminator": GANConfig(NetworkSpec(), _QRKT),
    "gan-cnn": GANConfig(_CNN, _CNN),
}
"""Chapter 11's six models: the classical ViT-GAN, ``hybrid-angle`` attention in both networks, the
QRKT-GAN (quantum attention and feed-forward, RK4 layers, as many parameters as the classical
one within 10 %), its two ablations (quantum on one side only) and a convolutional GAN."""


class ShowerDecoder(nn.Module):
    """Logits and a response → true crystal energies, bounded as the module says, then the readout."""

    def __init__(self) -> None:
        super().__init__()
        # log mean fraction of each class, set from the training data by set_template
        self.register_buffer("template", torch.zeros(N_CLASSES, N_CRYSTALS))
        self.register_buffer("response_offset", torch.zeros(N_CLASSES))

    @torch.no_grad()
    def set_template(self, energy: torch.Tensor, labels: torch.Tensor, eta: torch.Tensor) -> None:
        """Start from each class's mean shower and mean response (training data)."""
        flat = energy.reshape(len(energy), -1).double().clamp_min(0)
        total = flat.sum(1, keepdim=True).clamp_min(1e-12)
        response = total[:, 0] / incident_energy(eta.double())
        for value in range(N_CLASSES):
            mine = labels == value
            self.template[value] = torch.log((flat[mine] / total[mine]).mean(0).clamp_min(1e-7)).float()
            share = (float(response[mine].mean()) - R_MIN) / (R_MAX - R_MIN)
            share = min(max(share, 1e-3), 1 - 1e-3)
            self.response_offset[value] = math.log(share / (1 - share))

    def forward(
        self,
        logits: torch.Tensor,
        response: torch.Tensor,
        normals: torch.Tensor,
        labels: torch.Tensor,
        eta: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``logits`` (B, 1024), ``response`` (B,), readout ``normals`` (B, 3, 32, 32) → energy and time images."""
        true = self.true_energy(logits, response, labels, eta)
        energy, time = readout(true * ENERGY_UNIT_GEV, normals.unbind(1), SIMULATION, torch)
        return energy, time

    def true_energy(
        self, logits: torch.Tensor, response: torch.Tensor, labels: torch.Tensor, eta: torch.Tensor
    ) -> torch.Tensor:
        """The crystals' true energies (B, 32, 32) in GeV/50, before the readout: r E₀ f."""
        labels = labels.long()
        logits = logits + self.template[labels]
        # Measured from the largest other logit, the centre's is at least 0.01 > 0 ≥ every other: a sharp
        # softplus, the identity for a centre that already leads (the template's), 0.01 for one that trails.
        others = torch.cat([logits[:, :CENTRE], logits[:, CENTRE + 1 :]], dim=1).max(dim=1, keepdim=True).values
        logits = logits - others
        centre = 0.01 + nn.functional.softplus(logits[:, CENTRE] - 0.01, beta=10.0)
        logits = torch.cat([logits[:, :CENTRE], centre[:, None], logits[:, CENTRE + 1 :]], dim=1)
        fractions = torch.softmax(logits, dim=1)
        r = R_MIN + (R_MAX - R_MIN) * torch.sigmoid(response + self.response_offset[labels])
        return ((r * incident_energy(eta.to(r)))[:, None] * fractions).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


class _Generator(nn.Module):
    """What both generators share: the decoder, noise, sampling."""

    decoder: ShowerDecoder

    def set_template(self, energy: torch.Tensor, labels: torch.Tensor, eta: torch.Tensor) -> None:
        self.decoder.set_template(energy, labels, eta)

    def noise(self, n: int, generator: torch.Generator | None = None) -> Latent:
        """Standard normal random numbers for ``n`` showers: the network's and the readout's."""
        device = self.decoder.template.device
        z = torch.randn(n, *self.noise_shape, generator=generator)
        normals = torch.randn(n, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
        return Latent(z.to(device), normals.to(device))

    @torch.no_grad()
    def sample(
        self, labels: torch.Tensor, eta: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Energy (GeV/50) and time (ns/50) images (B, 32, 32) for the given classes and η."""
        device = self.decoder.template.device
        return self(self.noise(len(labels), generator), labels.to(device), eta.to(device))


class ShowerGenerator(_Generator):
    """Noise, class and η → 32 tokens → encoder layers → crystal logits and a response → the readout."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.spec = config.generator
        layer_config = config.layer_config(self.spec)
        self.noise_shape = (N_TOKENS, config.d_noise)
        self.noise_embedding = nn.Linear(config.d_noise, config.d_token)
        self.condition_embedding = nn.Linear(N_CONDITIONS, config.d_token)
        self.register_buffer("positional_encoding", sinusoidal_encoding(N_TOKENS, config.d_token), persistent=False)
        self.layers = nn.ModuleList(encoder_layer(layer_config) for _ in range(self.spec.n_layers))
        self.norm = nn.LayerNorm(config.d_token)
        self.to_crystals = nn.Linear(config.d_token, D_PATCH)  # logits of the token's 32 crystals
        self.to_response = nn.Linear(config.d_token, 1)
        nn.init.zeros_(self.to_response.weight)
        nn.init.zeros_(self.to_response.bias)
        self.decoder = ShowerDecoder()

    def forward(self, noise: Latent, labels: torch.Tensor, eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Energy and time images (B, 32, 32) for random numbers (``noise``), labels (B,) and η (B,)."""
        z = self.noise_embedding(noise.z) + self.condition_embedding(conditions(labels, eta))[:, None]
        z = z + self.positional_encoding
        for layer in self.layers:
            z = layer(z)[0] if self.spec.rk_order == 1 else runge_kutta_step(layer.increment, z, self.spec.rk_order)
        z = self.norm(z)
        logits = unpatchify(self.to_crystals(z)).reshape(len(z), -1)
        return self.decoder(logits, self.to_response(z.mean(1))[:, 0], noise.readout, labels, eta)


class ConvGenerator(_Generator):
    """A small CaloGAN-kind generator: (noise, condition) → 4 × 4 maps → three transposed convolutions → 32 × 32."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.noise_shape = (config.d_latent,)
        self.project = nn.Sequential(nn.Linear(config.d_latent + N_CONDITIONS, 2 * c * 4 * 4), nn.LeakyReLU(0.2))
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * c, 2 * c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1),  # the crystals' logits
        )
        self.to_response = nn.Linear(config.d_latent + N_CONDITIONS, 1)
        self.decoder = ShowerDecoder()
        # Start from the template: the last map's weights at zero (the transposed convolutions' random
        # start otherwise imprints a checkerboard on every shower, and the discriminator wins at once).
        for layer in (self.upsample[-1], self.to_response):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, noise: Latent, labels: torch.Tensor, eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Energy and time images (B, 32, 32) for random numbers (``noise``), labels (B,) and η (B,)."""
        x = torch.cat([noise.z, conditions(labels, eta)], dim=1)
        logits = self.upsample(self.project(x).reshape(len(x), -1, 4, 4)).reshape(len(x), -1)
        return self.decoder(logits, self.to_response(x)[:, 0], noise.readout, labels, eta)


RESPONSE_SCALE = 0.02  #: the discriminator reads (E_total/E₀ − 1)/0.02: about twice the resolution, so order 1


def _globals(energy: torch.Tensor, labels: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """Per shower: the condition and the scaled response (E_total/E₀ − 1)/RESPONSE_SCALE: (B, 4)."""
    response = energy.sum((1, 2)) / incident_energy(eta.to(energy))
    return torch.cat([conditions(labels, eta).to(energy), ((response - 1) / RESPONSE_SCALE)[:, None]], dim=1)


def discriminator_tokens(
    energy: torch.Tensor, time: torch.Tensor, labels: torch.Tensor, eta: torch.Tensor
) -> torch.Tensor:
    """Patches of log energy and time, the condition and scaled response appended to each: (B, 32, 68)."""
    patches = torch.cat([patchify(to_log_energy(energy)), patchify(time)], dim=-1)
    extra = _globals(energy, labels, eta)[:, None].expand(-1, patches.shape[1], -1)
    return torch.cat([patches, extra], dim=-1)


def _spectral_norm(module: nn.Module) -> nn.Module:
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.utils.parametrizations.spectral_norm(layer)
    return module


class ShowerDiscriminator(nn.Module):
    """The book's ViT on (log energy, time, condition, response) patches: one logit, real versus generated."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.vit = _spectral_norm(VisionTransformer(config.layer_config(config.discriminator)))

    def forward(
        self, energy: torch.Tensor, time: torch.Tensor, labels: torch.Tensor, eta: torch.Tensor
    ) -> torch.Tensor:
        return self.vit(discriminator_tokens(energy, time, labels, eta))


class ConvDiscriminator(nn.Module):
    """Three strided convolutions on (log energy, time), then the condition and response: one logit."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        c = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(2, c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * c, 2 * c, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Sequential(nn.Linear(2 * c + N_CONDITIONS + 1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
        _spectral_norm(self)

    def forward(
        self, energy: torch.Tensor, time: torch.Tensor, labels: torch.Tensor, eta: torch.Tensor
    ) -> torch.Tensor:
        maps = self.features(torch.stack([to_log_energy(energy), time], dim=1)).amax((-2, -1))
        return self.head(torch.cat([maps, _globals(energy, labels, eta)], dim=1))[:, 0]


def build_gan(config: GANConfig, seed: int = 0) -> tuple[_Generator, nn.Module]:
    """A generator and a discriminator, seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = ShowerGenerator(config) if config.generator.kind == "vit" else ConvGenerator(config)
        discriminator = ShowerDiscriminator(config) if config.discriminator.kind == "vit" else ConvDiscriminator(config)
        return generator, discriminator
