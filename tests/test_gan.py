"""The shower GAN (chapter 11): shapes and conditioning, seeded reproducibility, exact resume."""

from __future__ import annotations

import pytest
import torch

from qvit_lib.core.errors import CheckpointError, ConfigError
from qvit_lib.models import count_parameters, gan
from qvit_lib.training.gan import GANSchedule, train_gan


def _showers(n: int = 64, seed: int = 0):
    """Toy showers: a core whose width depends on the class, as log energies."""
    g = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % 2).float()
    rows = torch.arange(32.0)[:, None] - 16
    cols = torch.arange(32.0)[None, :] - 16
    width = 0.8 + 0.6 * labels[:, None, None]
    energy = torch.exp(-(rows**2) / 1.2 - cols**2 / width) * (0.8 + 0.2 * torch.rand(n, 1, 1, generator=g))
    return gan.to_log_energy(energy), labels


@pytest.mark.parametrize("attention", ["classical", "hybrid-angle"])
def test_shapes_non_negative_energies_and_class_conditioning(attention):
    generator, discriminator = gan.build_gan(gan.GANConfig(attention=attention), seed=0)
    noise = generator.noise(6, torch.Generator().manual_seed(1))
    photons = generator(noise, torch.zeros(6))
    electrons = generator(noise, torch.ones(6))
    assert photons.shape == (6, 32, 32) and bool((photons >= 0).all())
    assert (photons - electrons).abs().max() > 1e-4  # the same noise, another class: another shower
    assert discriminator(photons, torch.zeros(6)).shape == (6,)
    energy = generator.sample(torch.tensor([0, 1, 1]), torch.Generator().manual_seed(2))
    assert energy.shape == (3, 32, 32) and bool((energy >= 0).all())
    assert torch.allclose(gan.from_log_energy(gan.to_log_energy(energy)), energy, rtol=1e-5, atol=1e-9)


def test_the_generator_starts_from_the_mean_shower_of_each_class():
    u, labels = _showers(64)
    generator, _ = gan.build_gan(gan.GANConfig(), seed=0)
    generator.set_template(u, labels)
    with torch.no_grad():
        torch.nn.init.zeros_(generator.to_crystals.weight)
        torch.nn.init.zeros_(generator.to_crystals.bias)  # the layers add nothing: the template alone
        out = generator(generator.noise(2), torch.tensor([0, 1]))
    for value in (0, 1):
        assert torch.allclose(out[value], u[labels == value].clamp_min(1e-4).mean(0), atol=1e-4)


def test_quantum_and_classical_gans_have_comparable_sizes():
    sizes = {
        a: [count_parameters(m) for m in gan.build_gan(gan.GANConfig(attention=a))]
        for a in ("classical", "hybrid-angle")
    }
    assert all(0.9 < h / c < 1.0 for h, c in zip(sizes["hybrid-angle"], sizes["classical"]))
    assert gan.GANConfig(attention="hybrid-angle", feed_forward="qmlp", rk_order=4).name == "gan-hybrid-angle-qmlp-rk4"


def test_bad_configurations_are_explained():
    with pytest.raises(ConfigError, match="a GAN needs encoder layers"):
        gan.GANConfig(attention="none")
    with pytest.raises(ConfigError, match="steps must be at least 1"):
        GANSchedule(steps=0)


def _train(steps, checkpoint=None, resume=False, seed=0):
    generator, discriminator = gan.build_gan(gan.GANConfig(n_layers=1), seed=3)
    schedule = GANSchedule(steps=steps, batch_size=16, log_every=2, checkpoint_every=3)
    history = train_gan(
        generator, discriminator, _showers(), schedule, seed=seed, checkpoint=checkpoint, resume=resume, progress=False
    )
    return generator, discriminator, history


def test_training_is_seeded_and_resumes_exactly(tmp_path):
    straight_g, straight_d, straight = _train(6)
    again_g, _, _ = _train(6)
    assert all(torch.equal(a, b) for a, b in zip(straight_g.state_dict().values(), again_g.state_dict().values()))
    checkpoint = tmp_path / "gan.ckpt"
    _train(3, checkpoint)  # as if stopped after the checkpoint at step 3
    resumed_g, resumed_d, resumed = _train(6, checkpoint, resume=True)
    for a, b in ((straight_g, resumed_g), (straight_d, resumed_d)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    without_time = [[{k: v for k, v in r.items() if k != "seconds"} for r in h.records] for h in (straight, resumed)]
    assert without_time[0] == without_time[1] and len(without_time[0]) == 3
    other_g, _, _ = _train(6, seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(straight_g.state_dict().values(), other_g.state_dict().values()))


def test_a_foreign_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.ckpt"
    torch.save({"step": 1}, bad)
    with pytest.raises(CheckpointError, match="not a GAN checkpoint of qvit_lib"):
        _train(2, bad, resume=True)


@pytest.mark.slow
def test_a_quick_run_is_trained_evaluated_and_recorded(tmp_path, monkeypatch):
    import json

    from qvit_lib.runs import gan_runs

    monkeypatch.delenv("QVIT_DATA", raising=False)
    record = gan_runs.run_gan(
        gan.GANConfig(n_layers=1), "quick", results_dir=tmp_path, progress=False, n_eval_per_class=60
    )
    written = json.loads((tmp_path / "gan" / "quick" / "gan-classical.json").read_text())
    assert written["history"] == record["history"] and len(written["history"]) == 4
    for name in ("photon", "electron"):
        result = written["evaluation"]["classes"][name]
        assert result["events"] == 60 and set(result["generated"]) == set(result["floor"])
        # 20 steps teach it little: the generated showers are far from the floor
        assert result["generated"]["two_sample_auc"] > result["floor"]["two_sample_auc"]
    fidelity = written["evaluation"]["fidelity"]
    assert fidelity["simulated"]["auc"] > 0.7  # the judge itself tells simulated electrons from photons
    assert (tmp_path / "gan" / "quick" / "gan-classical.pt").is_file() and "commit" in written["code"]


def test_committed_generators_load_and_foreign_files_are_refused(tmp_path):
    import json
    import shutil

    import torch

    from qvit_lib.core.errors import CheckpointError
    from qvit_lib.runs import gan_runs

    generator, record = gan_runs.load_generator("gan-hybrid-angle")
    assert record["config"]["attention"] == "hybrid-angle" and not generator.training
    showers = generator.sample(torch.tensor([0.0, 1.0]), torch.Generator().manual_seed(0))
    assert showers.shape == (2, 32, 32) and bool((showers >= 0).all())
    with pytest.raises(CheckpointError, match="no committed GAN run 'gan-qproj'.*--attention qproj"):
        gan_runs.load_generator("gan-qproj")
    # the classical record beside the hybrid weights: the weights do not fit the architecture
    committed = gan_runs.gan_paths("gan-classical", "cpu")
    target = gan_runs.gan_paths("gan-classical", "cpu", results_dir=tmp_path)
    target.record.parent.mkdir(parents=True)
    shutil.copy(committed.record, target.record)
    shutil.copy(gan_runs.gan_paths("gan-hybrid-angle", "cpu").weights, target.weights)
    with pytest.raises(CheckpointError, match="gan-classical.pt: these are not the weights this run recorded"):
        gan_runs.load_generator("gan-classical", results_dir=tmp_path)
    assert json.loads(target.record.read_text())["name"] == "gan-classical"


def test_ctrl_c_in_gan_training_says_which_checkpoint_is_kept(tmp_path):
    """The GAN loop's interrupt message comes from the shared checkpoint module, as the classifier's."""
    from qvit_lib.core.errors import TrainingInterrupted

    generator, discriminator = gan.build_gan(gan.GANConfig(n_layers=1), seed=3)
    calls = []
    forward = discriminator.forward

    def interrupt_at_the_fifth_step(*args):
        calls.append(1)
        if len(calls) == 3 * 4 + 1:  # three calls per step (real, fake, the generator's step): in step 5
            raise KeyboardInterrupt
        return forward(*args)

    discriminator.forward = interrupt_at_the_fifth_step
    path = tmp_path / "gan.ckpt"
    schedule = GANSchedule(steps=8, batch_size=8, log_every=2, checkpoint_every=3)
    with pytest.raises(TrainingInterrupted, match=rf"stopped at step 5; the checkpoint after step 3 is kept in {path}"):
        train_gan(generator, discriminator, _showers(), schedule, checkpoint=path, progress=False)
