"""ResNet-15, the CNN baseline: its layout, parameter count, shapes, seeds and errors."""

from __future__ import annotations

import pytest
import torch

from qvit_lib.core.errors import ConfigError
from qvit_lib.models.cnn import CNNConfig, build_cnn, resnet_parameter_formula


@pytest.mark.parametrize("inputs", ["energy", "time", "both"])
def test_parameter_formula_counts_the_network(inputs):
    model = build_cnn(f"resnet15-{inputs}", seed=0)
    counted = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert counted == resnet_parameter_formula(model.config)
    convolutions = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)]
    assert len(convolutions) == 15  # 1 stem + 2 × 7 blocks: the "15"


def test_shapes_seeds_and_gradients():
    model = build_cnn("resnet15-both", seed=3)
    images = torch.rand(5, 2, 32, 32, generator=torch.Generator().manual_seed(0), requires_grad=True)
    logits = model(images)
    assert logits.shape == (5,)
    logits.sum().backward()
    assert images.grad.abs().sum() > 0 and all(p.grad is not None for p in model.parameters())
    again = build_cnn("resnet15-both", seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    other = build_cnn("resnet15-both", seed=4)
    assert not torch.equal(model.stem.weight, other.stem.weight)


def test_bad_names_and_shapes_say_what_was_expected():
    with pytest.raises(ConfigError, match="expected resnet15-<energy|time|both>"):
        CNNConfig.from_variant("resnet15-colour")
    with pytest.raises(ConfigError, match="inputs must be one of"):
        CNNConfig("colour")
    with pytest.raises(ConfigError, match=r"expected images of shape \(batch, 1, 32, 32\)"):
        build_cnn("resnet15-energy")(torch.rand(2, 2, 32, 32))
