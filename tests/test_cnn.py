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


def test_the_output_is_a_weighing_of_the_pooled_features():
    model = build_cnn("resnet15-time", seed=0)
    images = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    features = model.features(images)
    assert features.shape == (4, 32) and (features >= 0).all()  # after a ReLU and a max pool
    assert torch.allclose(model(images), model.head(features).squeeze(-1))
    with torch.no_grad():  # dead ReLUs: every feature zero, the same score for every event
        for conv in (m for m in model.modules() if isinstance(m, torch.nn.Conv2d)):
            conv.bias.fill_(-1e3)
    assert (model.features(images) == 0).all()
    assert torch.equal(model(images), model.head.bias.expand(4))


def test_bad_names_and_shapes_say_what_was_expected():
    with pytest.raises(ConfigError, match="expected resnet15-<energy|time|both>"):
        CNNConfig.from_variant("resnet15-colour")
    with pytest.raises(ConfigError, match="inputs must be one of"):
        CNNConfig("colour")
    with pytest.raises(ConfigError, match=r"expected images of shape \(batch, 1, 32, 32\)"):
        build_cnn("resnet15-energy")(torch.rand(2, 2, 32, 32))


# ----- the CNN in the run store: trained, recorded, loaded and scored like every other run


def test_variant_names_reach_the_right_network():
    from qvit_lib.models.classifiers import build_classifier, config_from_variant, model_inputs
    from qvit_lib.models.variants import ViTConfig
    from qvit_lib.runs.experiments import check_variant

    assert model_inputs(config_from_variant("resnet15-time")) == "time"
    assert model_inputs(config_from_variant("classical-cmx-pe")) == "tokens"
    assert isinstance(config_from_variant("classical-cmx-pe"), ViTConfig)
    assert type(build_classifier("resnet15-both", seed=0)).__name__ == "ResNet15"
    assert check_variant("resnet15-energy") == "resnet15-energy"
    with pytest.raises(ConfigError, match="expected resnet15-<energy|time|both>"):
        check_variant("resnet15-colour")


def test_images_are_the_tokens_events_whole(tmp_path):
    from qvit_lib.core.config import DEFAULT_DATA_DIR
    from qvit_lib.data.dataset import EcalDataset, unpatchify

    with EcalDataset(DEFAULT_DATA_DIR) as data:
        tokens, labels = data.tokens("test", 50)
        energy, energy_labels = data.images("test", 50, "energy")
        both, _ = data.images("test", 50, "both")
        time_, _ = data.images("test", 50, "time")
    assert energy.shape == (50, 1, 32, 32) and both.shape == (50, 2, 32, 32)
    assert torch.equal(labels, energy_labels)
    assert torch.equal(torch.as_tensor(unpatchify(tokens.numpy())), energy[:, 0])  # the same events, whole
    assert torch.equal(both[:, 0], energy[:, 0]) and torch.equal(both[:, 1], time_[:, 0])


def test_a_cnn_run_goes_through_the_run_store(tmp_path):
    from qvit_lib.runs import experiments

    results = tmp_path / "results"
    record = experiments.run_variant("resnet15-both", "quick", results_dir=results, progress=False)
    assert record["data"]["inputs"] == "both" and record["parameters"] == resnet_parameter_formula(CNNConfig("both"))
    model, loaded = experiments.load_trained("resnet15-both", "quick", results_dir=results)
    assert type(model).__name__ == "ResNet15" and loaded["finished"] == record["finished"]
    scores = experiments.test_scores("quick", "resnet15-both", results_dir=results)
    assert len(scores) >= record["test_slice"]["events"]
    assert [v for v, _ in experiments.sweep_plan((0, 1), "quick", "cnn")] == [
        "resnet15-energy",
        "resnet15-time",
        "resnet15-both",
    ] * 2


def test_a_record_of_another_input_is_refused(tmp_path):
    import json

    from qvit_lib.core.errors import RecordError
    from qvit_lib.runs import experiments

    results = tmp_path / "results"
    experiments.run_variant("resnet15-time", "quick", results_dir=results, progress=False)
    path = results / "quick" / "resnet15-time.json"
    record = json.loads(path.read_text())
    record["config"]["inputs"] = "energy"
    path.write_text(json.dumps(record))
    with pytest.raises(RecordError, match="describes resnet15-energy"):
        experiments.load_trained("resnet15-time", "quick", results_dir=results)


def test_events_read_for_another_model_are_refused():
    from qvit_lib.runs import experiments

    protocol = experiments.get_protocol("quick")
    tokens = experiments.load_protocol_data(protocol)
    with pytest.raises(ConfigError, match="resnet15-energy reads energy, but the events passed as data are tokens"):
        experiments.run_variant("resnet15-energy", protocol, data=tokens, progress=False)
    with pytest.raises(ConfigError, match="inputs must be one of tokens, energy, time, both"):
        experiments.load_protocol_data(protocol, inputs="colour")


def test_scores_of_a_cnn_and_a_transformer_side_by_side(tmp_path):
    from qvit_lib.runs import experiments
    from qvit_lib.runs.scores import load_scores, score_runs

    results = tmp_path / "results"
    for variant in ("resnet15-energy", "none-cmx-pe"):
        experiments.run_variant(variant, "quick", results_dir=results, progress=False)
    assert score_runs("quick", results) == {"resnet15-energy": "scored", "none-cmx-pe": "scored"}
    assert score_runs("quick", results) == {"resnet15-energy": "kept", "none-cmx-pe": "kept"}
    scores, labels = load_scores("quick", results)
    assert set(scores) == {("resnet15-energy", 0), ("none-cmx-pe", 0)} and len(labels) > 0
