"""The field's CNN baseline: ResNet-15 of the CMS end-to-end studies (Andrews et al. 2018).

The layout follows the authors' public PyTorch code (mbandrews/h2aa, ``torch_resnet_concat.py``,
``ResNet(2, 3, [16, 32], …)``): a 7×7 convolution to 16 channels, three residual blocks at 16
channels, one block that halves the image and doubles the channels (its shortcut a 1×1
convolution), three blocks at 32 channels, a global max pool and one linear layer — 1 + 2 × 7
= 15 convolutions. Each block is x ↦ relu(x + conv(relu(conv(x)))), with no batch
normalisation, as there. (That code also creates a 1×1 shortcut in every block, used only in
the one that halves the image, and feeds two seed coordinates to the head: 3 986 parameters
more than here, for the same network.) It reads whole 32 × 32 crops: the energy channel (what
the vision transformers see), the time channel, or both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from qvit_lib.core.errors import ConfigError

__all__ = ["CHANNELS", "CNNConfig", "ResidualBlock", "ResNet15", "build_cnn", "resnet_parameter_formula"]

CHANNELS = {"energy": 1, "time": 1, "both": 2}  #: input channels of each variant


@dataclass(frozen=True)
class CNNConfig:
    """A ResNet-15 variant: ``resnet15-<energy|time|both>``."""

    inputs: str = "energy"
    widths: tuple[int, int] = (16, 32)
    blocks_per_width: int = 3

    def __post_init__(self) -> None:
        if self.inputs not in CHANNELS:
            raise ConfigError(f"inputs must be one of {', '.join(CHANNELS)}, got {self.inputs!r}")

    @property
    def variant(self) -> str:
        return f"resnet15-{self.inputs}"

    @classmethod
    def from_variant(cls, name: str) -> CNNConfig:
        prefix, _, inputs = name.partition("-")
        if prefix != "resnet15" or inputs not in CHANNELS:
            raise ConfigError(
                f"unknown CNN variant {name!r}; expected resnet15-<{'|'.join(CHANNELS)}>, e.g. resnet15-energy"
            )
        return cls(inputs)


def resnet_parameter_formula(config: CNNConfig) -> int:
    """Trainable parameters in closed form: the stem, the blocks, the shortcut and the head."""
    c_in, (a, b), k = CHANNELS[config.inputs], config.widths, config.blocks_per_width
    conv = lambda n_in, n_out, size: n_in * n_out * size * size + n_out  # noqa: E731 - weights and bias
    return (
        conv(c_in, a, 7)
        + k * 2 * conv(a, a, 3)
        + conv(a, b, 3)
        + conv(b, b, 3)
        + conv(a, b, 1)
        + k * 2 * conv(b, b, 3)
        + b
        + 1
    )


class ResidualBlock(nn.Module):
    """x ↦ relu(shortcut(x) + conv₂(relu(conv₁(x)))); conv₁ may halve the image (stride 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride) if (c_in, stride) != (c_out, 1) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x) + self.conv2(F.relu(self.conv1(x))))


class ResNet15(nn.Module):
    """ResNet-15 on (B, C, 32, 32) crops; returns one logit per event (electron = 1)."""

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self.config = config
        (a, b), k = config.widths, config.blocks_per_width
        self.stem = nn.Conv2d(CHANNELS[config.inputs], a, 7, 1, 1)
        self.blocks = nn.Sequential(
            *[ResidualBlock(a, a) for _ in range(k)],
            ResidualBlock(a, b, stride=2),
            *[ResidualBlock(b, b) for _ in range(k)],
        )
        self.head = nn.Linear(b, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)).squeeze(-1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The (B, 32) max-pooled features the output layer weighs: all zero when the ReLUs have died."""
        expected = (CHANNELS[self.config.inputs], 32, 32)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ConfigError(
                f"{self.config.variant}: expected images of shape (batch, {', '.join(map(str, expected))}), "
                f"got {tuple(images.shape)}"
            )
        images = images.contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout on CPUs
        return self.blocks(F.relu(self.stem(images))).amax(dim=(-2, -1))  # global max pool


def build_cnn(variant: str | CNNConfig, seed: int | None = None) -> ResNet15:
    """A ResNet-15 for a variant name (or config); ``seed`` fixes its initial weights."""
    config = variant if isinstance(variant, CNNConfig) else CNNConfig.from_variant(variant)
    if seed is None:
        return ResNet15(config).to(memory_format=torch.channels_last)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNet15(config).to(memory_format=torch.channels_last)
