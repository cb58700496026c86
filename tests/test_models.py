"""The classical ViT: every variant's shapes, determinism, gradients and parameter counts."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from qvit_lib import models
from qvit_lib.models import ViTConfig, build_model, count_parameters, parameter_formula

VARIANTS = models.all_variants()


def tokens(batch: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_variant_names():
    assert len(VARIANTS) == 22  # 3 attentions × 3 poolings × 2 encodings + none × 2 × 2
    assert "classical-cmx-pe" in VARIANTS and "none-cmn-nope" in VARIANTS and "none-cls-pe" not in VARIANTS
    for name in VARIANTS:
        assert ViTConfig.from_variant(name).variant == name


@pytest.mark.parametrize(
    "name",
    [
        "classical-max-pe",
        "quantum-cmx-pe",
        "classical-cmx",
        "cmx-pe",
        "classical-cmx-yes",
        "classical-cmx-pe-rk",
        "classical-cmx-pe-rk4-qmlp",
        "classical-cmx-pe-qmlp-qmlp",
    ],
)
def test_unknown_variants_explain_the_grammar(name):
    with pytest.raises(ValueError, match=r"unknown variant .*<attention>-<pooling>-<pe\|nope>\[-qmlp\]\[-rk2"):
        ViTConfig.from_variant(name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("none-cmx-pe-qmlp", "no encoder layers"),
        ("none-cmn-nope-rk2", "no encoder layers"),
        ("classical-cmx-pe-rk1", "drop the -rk1 suffix"),
        ("classical-cmx-pe-rk5", "no Runge–Kutta order 5"),
        ("none-cls-pe", "class token never sees the image"),
    ],
)
def test_invalid_combinations_are_refused_with_a_reason(name, message):
    with pytest.raises(ValueError, match=message):
        ViTConfig.from_variant(name)


def test_every_variant_round_trips_through_its_name():
    names = models.every_variant()
    # 4 attention kinds with layers × 3 poolings × 2 encodings × 2 feed-forwards × 4 orders, + none's 4
    assert len(names) == len(set(names)) == 4 * 3 * 2 * 2 * 4 + 4
    for name in names:
        config = ViTConfig.from_variant(name)
        assert config.variant == name
    assert ViTConfig.from_variant("hybrid-angle-cmx-pe-qmlp-rk4").feed_forward_loader == "angle"
    assert ViTConfig.from_variant("hybrid-cmx-pe-qmlp").feed_forward_loader == "hadamard"
    assert ViTConfig.from_variant("qproj-cmx-pe-qmlp").feed_forward_loader == "angle"


def test_none_with_class_token_is_refused():
    with pytest.raises(ValueError, match="class token never sees the image"):
        ViTConfig(attention="none", pooling="cls")


@pytest.mark.parametrize("name", VARIANTS)
def test_output_shape_for_every_variant(name):
    model = build_model(name, seed=0)
    assert model(tokens()).shape == (6,)


@pytest.mark.parametrize("name", VARIANTS)
def test_batch_size_independence(name):
    model = build_model(name, seed=0).eval()
    x = tokens(8)
    full = model(x)
    assert torch.allclose(torch.cat([model(x[:3]), model(x[3:])]), full, atol=1e-6)


def test_determinism_with_a_seed():
    a, b, c = (
        build_model("classical-cls-pe", seed=3),
        build_model("classical-cls-pe", seed=3),
        build_model("classical-cls-pe", seed=4),
    )
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert torch.equal(a(tokens()), b(tokens()))
    assert not torch.equal(a(tokens()), c(tokens()))


def test_seeding_a_model_leaves_the_global_generator_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    build_model("classical-cmx-pe", seed=9)
    assert torch.equal(torch.rand(3), expected)


def blind_parameters(name: str) -> set[str]:
    """Parameters that get no gradient because the paper's data loader is blind (chapter 4).

    In ``hybrid`` every token gives the same Q and the same K, so the attention is uniform
    whatever θ_Q and θ_K are; with a class token the output never depends on the image, so
    the embedding gets no gradient either.
    """
    if not name.startswith("hybrid-") or name.startswith("hybrid-angle"):
        return set()
    blind = {f"layers.{i}.attention.{theta}" for i in range(5) for theta in ("theta_q", "theta_k")}
    if "-cls-" in name:
        blind |= {"embedding.weight", "embedding.bias"}
    return blind


@pytest.mark.parametrize("name", VARIANTS)
def test_gradient_reaches_every_parameter(name):
    model = build_model(name, seed=1).double()
    model(tokens(16).double()).sum().backward()
    blind = blind_parameters(name)
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None, parameter_name
        if parameter_name in blind:
            assert parameter.grad.abs().max() < 1e-12, parameter_name
        else:
            assert parameter.grad.abs().sum() > 1e-8, parameter_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("classical-cmx-pe", 4785),
        ("classical-cmn-nope", 4785),
        ("classical-cls-pe", 4801),
        ("classical-cls-nope", 4801),
        ("hybrid-cmx-pe", 4585),
        ("hybrid-cmn-nope", 4585),
        ("hybrid-cls-pe", 4601),
        ("hybrid-angle-cmx-pe", 4585),
        ("hybrid-angle-cls-nope", 4601),
        ("none-cmx-pe", 1105),
        # chapter 9: qmlp replaces 2·16·16 + 16 + 16 = 544 by 3·16 = 48 per layer; qproj has 4·16 = 64 angles
        ("classical-cmx-pe-qmlp", 4785 - 5 * (544 - 48)),
        ("hybrid-cmx-pe-qmlp", 4585 - 5 * (544 - 48)),
        ("hybrid-angle-cmx-pe-qmlp-rk4", 4585 - 5 * (544 - 48)),
        ("qproj-cmx-pe", 1105 + 5 * (64 + 544)),
        ("qproj-cls-pe-qmlp", 1105 + 16 + 5 * (64 + 48)),
        ("classical-cmx-pe-rk3", 4785),
    ],
)
def test_parameter_counts_of_the_paper(name, expected):
    config = ViTConfig.from_variant(name)
    assert count_parameters(build_model(config)) == expected == parameter_formula(config)


@pytest.mark.parametrize(
    ("n_layers", "d_token", "n_heads", "d_ff", "d_patch"),
    [(1, 8, 2, 8, 16), (3, 12, 3, 24, 64), (0, 16, 4, 16, 32), (2, 32, 8, 64, 32), (2, 12, 2, 8, 32)],
)
def test_parameter_formula_for_other_hyper_parameters(n_layers, d_token, n_heads, d_ff, d_patch):
    for pooling, attention, ff in itertools.product(("cls", "cmx", "cmn"), models.ATTENTIONS, models.FEED_FORWARDS):
        if attention == "none" and (pooling == "cls" or ff == "qmlp"):
            continue
        for layers in (1, 2) if attention == "qproj" and d_token <= 8 else (1,):
            config = ViTConfig(
                attention=attention,
                pooling=pooling,
                n_layers=n_layers,
                d_token=d_token,
                n_heads=n_heads,
                d_ff=d_ff,
                d_patch=d_patch,
                feed_forward=ff,
                projection_layers=layers,
            )
            assert count_parameters(build_model(config)) == parameter_formula(config)
    # A class token costs d_t; classical minus hybrid is the paper's n_l·(d_t·(3·d_h − 9) − 2·n_h).
    cls_config = ViTConfig(
        pooling="cls", n_layers=n_layers, d_token=d_token, n_heads=n_heads, d_ff=d_ff, d_patch=d_patch
    )
    assert parameter_formula(cls_config) - parameter_formula(cls_config.with_(pooling="cmx")) == d_token
    d_head = d_token // n_heads
    hybrid = cls_config.with_(attention="hybrid")
    assert parameter_formula(cls_config) - parameter_formula(hybrid) == n_layers * (
        d_token * (3 * d_head - 9) - 2 * n_heads
    )


def test_positional_encoding_changes_nothing_in_the_count():
    assert count_parameters(build_model("classical-cmx-pe")) == count_parameters(build_model("classical-cmx-nope"))


def test_sinusoidal_encoding_differs_per_position_constant_does_not():
    sinusoidal = models.sinusoidal_encoding(33, 16)
    constant = models.constant_encoding(33, 16)
    assert sinusoidal.shape == constant.shape == (33, 16)
    assert torch.cdist(sinusoidal, sinusoidal).fill_diagonal_(1).min() > 0.1
    assert torch.equal(constant, constant[:1].expand(33, 16))
    assert torch.allclose(sinusoidal[0], torch.tensor([0.0, 1.0] * 8))


@pytest.mark.parametrize("pooling", ["cmx", "cmn"])
def test_without_position_information_a_shuffled_image_gives_the_same_output(pooling):
    permutation = torch.randperm(32, generator=torch.Generator().manual_seed(0))
    x = tokens(4)
    blind = build_model(f"classical-{pooling}-nope", seed=0).eval()
    assert torch.allclose(blind(x), blind(x[:, permutation]), atol=1e-5)
    blind.positional_encoding = models.constant_encoding(32, 16)  # the public code's encoding
    assert torch.allclose(blind(x), blind(x[:, permutation]), atol=1e-5)
    aware = build_model(f"classical-{pooling}-pe", seed=0).eval()
    assert not torch.allclose(aware(x), aware(x[:, permutation]), atol=1e-3)


def test_wrong_input_shape_is_explained():
    with pytest.raises(
        ValueError,
        match=r"expected tokens of shape \(batch, 32, 32\), got \(2, 16, 64\); "
        r"cut images with qvit_lib.data.dataset.patchify",
    ):
        build_model("classical-cmx-pe")(torch.zeros(2, 16, 64))


def test_attention_maps_are_distributions():
    maps = build_model("classical-cls-pe", seed=0).attention_maps(tokens(2))
    assert maps.shape == (5, 2, 4, 33, 33)
    assert torch.allclose(maps.sum(-1), torch.ones(5, 2, 4, 33), atol=1e-5)
    with pytest.raises(ValueError, match="no attention layers"):
        build_model("none-cmx-pe").attention_maps(tokens(2))


@pytest.mark.parametrize("variant", ["classical-cmx-pe", "hybrid-cmx-pe", "hybrid-angle-cmx-pe"])
def test_a_training_step_runs_wherever_the_model_is(variant):
    """Every constant the models use follows the model's device (no GPU needed to check this).

    On PyTorch's "meta" device tensors have shapes but no data: a constant left on the CPU
    would meet a meta tensor and raise, as it would meet a CUDA tensor on a GPU.
    """
    from torch.nn import functional as F

    model = build_model(variant, seed=0).to("meta")
    tokens, labels = torch.empty(4, 32, 32, device="meta"), torch.empty(4, device="meta")
    loss = F.binary_cross_entropy_with_logits(model(tokens), labels)
    loss.backward()
    assert loss.device.type == "meta" and all(p.grad.device.type == "meta" for p in model.parameters())


# ----- the paper's public code: initial parameters and its positional vector


def test_circuit_angles_start_as_the_public_code_draws_them():
    """N(0, 1/√P) for P angles (``QViT/circuits.py``, ``QLayer``), not uniform on [0, 2π)."""
    angles = {"q": [], "k": [], "v": []}
    for seed in range(20):
        for layer in models.build_model("hybrid-cmx-pe", seed=seed).layers:
            angles["q"].append(layer.attention.theta_q.detach().flatten())
            angles["k"].append(layer.attention.theta_k.detach().flatten())
            angles["v"].append(layer.attention.theta_v.detach().flatten())
    for kind, count in (("q", 13), ("k", 13), ("v", 12)):
        values = torch.cat(angles[kind])  # 20 models × 5 layers × 4 heads × P angles
        assert abs(float(values.mean())) < 0.03
        assert float(values.std()) == pytest.approx(1 / math.sqrt(count), rel=0.05)
        assert float(values.abs().max()) < 1.5  # not spread over [0, 2π)


def test_class_token_starts_as_the_public_code_draws_it():
    """|U(0, 1)|/√d_t per component (``QViT/model.py``), not zero."""
    tokens = torch.cat(
        [models.build_model("classical-cls-pe", seed=s).class_token.detach().flatten() for s in range(50)]
    )
    assert float(tokens.min()) >= 0 and float(tokens.max()) < 1 / math.sqrt(16)
    assert float(tokens.mean()) == pytest.approx(0.5 / math.sqrt(16), rel=0.1)


def test_constant_encoding_is_the_public_codes_vector():
    vector = models.constant_encoding(3, 16)[0]
    assert vector[:3].tolist() == pytest.approx([1.0, math.sin(1.0), math.cos(2 / 10000 ** (1 / 16))], abs=1e-7)
    assert [round(v, 3) for v in vector[:3].tolist()] == [1.0, 0.841, 0.431]
    assert torch.equal(models.constant_encoding(3, 16)[2], vector)  # the same for every position


NEW_VARIANTS = [
    "classical-cmx-pe-qmlp",
    "hybrid-cmx-pe-qmlp",
    "hybrid-angle-cls-pe-qmlp",
    "qproj-cmx-pe",
    "qproj-cls-nope-qmlp",
    "classical-cmn-pe-rk2",
    "hybrid-angle-cmx-pe-rk3",
    "qproj-cmx-pe-qmlp-rk4",
    "hybrid-cmx-nope-rk4",
]


@pytest.mark.parametrize("name", NEW_VARIANTS)
def test_new_variants_run_batch_independently_and_train_every_parameter(name):
    model = build_model(name, seed=0).double()
    x = tokens(8).double()
    full = model(x)
    assert full.shape == (8,)
    assert torch.allclose(torch.cat([model(x[:3]), model(x[3:])]), full, atol=1e-12)
    full.sum().backward()
    blind = blind_parameters(name.split("-qmlp")[0].split("-rk")[0])
    if name.startswith("hybrid-") and not name.startswith("hybrid-angle") and "-qmlp" in name:
        # H·RX in the feed-forward too: a constant output, so the value circuits feeding it get no gradient
        blind |= {f"layers.{i}.attention.theta_v" for i in range(5)}
    for parameter_name, parameter in model.named_parameters():
        grad = torch.zeros(()) if parameter.grad is None else parameter.grad
        if parameter_name in blind:
            assert grad.abs().max() < 1e-12, parameter_name
        else:
            assert grad.abs().sum() > 1e-8, parameter_name


@pytest.mark.parametrize("name", ["classical-cmx-pe", "hybrid-angle-cls-pe", "hybrid-cmn-nope", "qproj-cmx-pe-qmlp"])
def test_order_one_is_todays_layer_bit_for_bit(name):
    model = build_model(name, seed=2)
    x = tokens(4)
    z = model.embed(x)
    for layer in model.layers:
        reference = layer(z)[0]
        assert torch.equal(model.integrate(layer, z, None), reference)
        # and the layer is x + f(x) with the f the higher orders use, to rounding
        assert torch.allclose(z + layer.increment(z), reference, atol=1e-6)
        z = reference


def test_runge_kutta_steps_have_their_order_on_a_linear_ode():
    from qvit_lib.models.integrators import runge_kutta_step

    lam = torch.tensor(0.1, dtype=torch.float64)
    for order in (1, 2, 3, 4):
        step = runge_kutta_step(lambda x: lam * x, torch.tensor(1.0, dtype=torch.float64), order)
        taylor = sum(lam**k / math.factorial(k) for k in range(order + 1))
        assert abs(float(step - taylor)) < 1e-15  # an order-k method is exact to the λ^k term on dx/dt = λx
        assert abs(float(step - torch.exp(lam))) > 0.5 * float(lam ** (order + 1)) / math.factorial(order + 1)


def test_higher_orders_evaluate_the_layer_k_times():
    for order in (2, 3, 4):
        model = build_model(f"classical-cmx-pe-rk{order}", seed=0)
        calls: list[int] = []
        handle = model.layers[0].mlp.register_forward_hook(lambda *_, seen=calls: seen.append(1))
        model(tokens(2))
        handle.remove()
        assert len(calls) == order
