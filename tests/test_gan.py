"""The conditional shower GAN (chapter 11): bounded showers, conditioning, the six models, seeded and exact resume."""

from __future__ import annotations

import math

import pytest
import torch

from qvit_lib.core.errors import CheckpointError, ConfigError, DataError
from qvit_lib.models import count_parameters, gan
from qvit_lib.training.gan import GANSchedule, Showers, train_gan


def _showers(n: int = 64, seed: int = 0) -> Showers:
    """Toy showers: a core whose φ width depends on the class, total energy E₀ cosh-scaled, times near 0."""
    g = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % 2).float()
    eta = torch.rand(n, generator=g) * 2.4 - 1.2
    rows = torch.arange(32.0)[:, None] - 16
    cols = torch.arange(32.0)[None, :] - 16
    width = 0.8 + 0.6 * labels[:, None, None]
    shape = torch.exp(-(rows**2) / 1.2 - cols**2 / width)
    energy = shape / shape.sum((1, 2), keepdim=True) * gan.incident_energy(eta)[:, None, None] * 0.97
    energy = torch.where(energy > 0.1 / 50, energy, torch.zeros_like(energy))
    time = torch.where(energy > 0, 0.01 * torch.randn(n, 32, 32, generator=g), torch.zeros_like(energy))
    return Showers(energy, time, labels, eta)


@pytest.mark.parametrize("name", list(gan.GAN_MODELS))
def test_every_model_makes_bounded_showers_of_the_files_format(name):
    generator, discriminator = gan.build_gan(gan.GAN_MODELS[name], seed=0)
    labels, eta = torch.tensor([0.0, 1.0, 1.0]), torch.tensor([-1.2, 0.0, 1.1])
    energy, time = generator.sample(labels, eta, torch.Generator().manual_seed(2))
    assert energy.shape == time.shape == (3, 32, 32)
    assert discriminator(energy, time, labels, eta).shape == (3,)
    assert bool((energy >= 0).all()) and bool((time.abs() <= 2.5).all())  # the readout window, ns/50
    assert bool((time[energy == 0] == 0).all())  # zero suppression: no time without energy
    assert bool((energy[energy > 0] > 0.1 / 50).all())


def test_the_generators_readout_is_the_simulators():
    """The same true energies and random numbers read the same in NumPy (simulator) and torch (generators)."""
    import numpy as np

    from qvit_lib.data.readout import readout
    from qvit_lib.data.simulation import SimulationConfig

    rng = np.random.default_rng(0)
    true = rng.exponential(0.3, (8, 32, 32)) * (rng.random((8, 32, 32)) < 0.2)  # GeV, many empty crystals
    normals = [rng.standard_normal(true.shape) for _ in range(3)]
    settings = SimulationConfig()
    with np.errstate(divide="ignore"):
        expected = readout(true, normals, settings, np)
    got = readout(torch.from_numpy(true), [torch.from_numpy(x) for x in normals], settings, torch)
    assert np.array_equal(expected[0], got[0].numpy())  # energy: the same sums
    assert np.allclose(expected[1], got[1].numpy(), rtol=1e-12, atol=0)  # time: vector sqrt may round differently
    energy, time = got
    assert 0 < float((energy > 0).double().mean()) < 0.5 and bool((time[energy == 0] == 0).all())


def test_the_energy_parametrisation_cannot_exceed_its_bounds():
    """Weights blown up a thousandfold: the true energies stay within R_MAX · E₀, hottest at the centre.

    (Read without noise: the readout's noise may move a reading, as it does in the simulator.)"""
    generator, _ = gan.build_gan(gan.GAN_MODELS["gan-classical"], seed=1)
    with torch.no_grad():
        for p in generator.parameters():
            p.mul_(1000.0)
    n = 256
    g = torch.Generator().manual_seed(0)
    labels, eta = (torch.arange(n) % 2).float(), torch.rand(n, generator=g) * 2.4 - 1.2
    z = generator.noise(n, g).z
    with torch.no_grad():
        energy, time = generator(gan.Latent(z, torch.zeros(n, 3, 32, 32)), labels, eta)
    incident = gan.incident_energy(eta)
    assert bool(torch.isfinite(energy).all()) and bool(torch.isfinite(time).all())
    assert bool((energy.sum((1, 2)) <= gan.R_MAX * incident * (1 + 1e-6)).all())
    flat = energy.reshape(n, -1)
    assert bool((flat.argmax(1) == 16 * 32 + 16).all())
    # and the bound is reached: the response is not stuck far below it
    assert float((energy.sum((1, 2)) / incident).max()) > 0.5


def test_conditioning_on_eta_moves_the_energy_with_the_incident_energy():
    """Same noise, same class: a shower at |η| = 1.2 carries about cosh 1.2 ≈ 1.8 times the energy at η = 0."""
    showers = _showers(256)
    generator, _ = gan.build_gan(gan.GAN_MODELS["gan-classical"], seed=0)
    generator.set_template(showers.energy, showers.labels, showers.eta)
    noise = generator.noise(64, torch.Generator().manual_seed(3))
    labels = torch.ones(64)
    with torch.no_grad():
        central = generator(noise, labels, torch.zeros(64))[0].sum((1, 2))
        forward = generator(noise, labels, torch.full((64,), 1.2))[0].sum((1, 2))
    ratio = float((forward / central).median())
    assert ratio == pytest.approx(math.cosh(1.2), rel=0.25)
    # the template starts every shower at its class's mean response
    assert float((central / gan.incident_energy(torch.zeros(64))).median()) == pytest.approx(0.97, abs=0.1)


def test_the_template_is_each_class_mean_shower():
    showers = _showers(128)
    generator, _ = gan.build_gan(gan.GAN_MODELS["gan-classical"], seed=0)
    generator.set_template(showers.energy, showers.labels, showers.eta)
    with torch.no_grad():
        for layer in (generator.to_crystals, generator.to_response):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)  # the layers add nothing: the template alone
        z = generator.noise(2).z
        energy, _ = generator(gan.Latent(z, torch.zeros(2, 3, 32, 32)), torch.tensor([0.0, 1.0]), torch.zeros(2))
    for value in (0, 1):
        mine = showers.labels == value
        fractions = (showers.energy[mine] / showers.energy[mine].sum((1, 2), keepdim=True)).mean(0)
        made = energy[value] / energy[value].sum()
        assert float((made - fractions).abs().sum()) < 0.05


def test_the_qrkt_gan_is_parameter_matched_and_the_ablations_are_one_sided():
    sizes = {name: [count_parameters(m) for m in gan.build_gan(c)] for name, c in gan.GAN_MODELS.items()}
    for side in (0, 1):
        assert 0.9 <= sizes["gan-qrkt"][side] / sizes["gan-classical"][side] <= 1.1
    assert sizes["gan-qrkt-generator"] == [sizes["gan-qrkt"][0], sizes["gan-classical"][1]]
    assert sizes["gan-qrkt-discriminator"] == [sizes["gan-classical"][0], sizes["gan-qrkt"][1]]
    qrkt = gan.GAN_MODELS["gan-qrkt"].generator
    assert (qrkt.attention, qrkt.feed_forward, qrkt.rk_order) == ("hybrid-angle", "qmlp", 4)
    assert gan.GAN_MODELS["gan-cnn"].generator.kind == "cnn"
    for name, config in gan.GAN_MODELS.items():
        assert config.name == name and gan.GANConfig.from_record(config.as_record()) == config


def test_bad_configurations_are_explained():
    with pytest.raises(ConfigError, match="a GAN needs encoder layers"):
        gan.NetworkSpec(attention="none")
    with pytest.raises(ConfigError, match="network kind must be one of vit, cnn"):
        gan.NetworkSpec(kind="mlp")
    with pytest.raises(ConfigError, match="not a GAN configuration"):
        gan.GANConfig.from_record({"attention": "classical"})
    with pytest.raises(ConfigError, match="steps must be at least 1"):
        GANSchedule(steps=0)
    generator, discriminator = gan.build_gan(gan.GAN_MODELS["gan-cnn"])
    with pytest.raises(ConfigError, match="energy and time images"):
        train_gan(generator, discriminator, _showers()._replace(eta=torch.zeros(3)), GANSchedule(steps=1))


def test_the_truth_of_simulated_files_is_replayed_and_foreign_files_are_refused(tmp_path):
    import h5py
    import numpy as np

    from qvit_lib.data import simulation
    from qvit_lib.data.dataset import EcalDataset
    from qvit_lib.data.truth import incident_eta

    for target in (tmp_path / "mixed.h5", tmp_path / "pair"):
        simulation.write_dataset(target, 400)
        with EcalDataset(target) as data:
            images, _ = data.load("train", normalise=False)
            response = images.sum((1, 2)) * 50 / (50 * np.cosh(incident_eta(data, "train")))
        assert 0.9 < response.min() and response.max() < gan.R_MAX  # the right η for every event
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        images = np.zeros((40, 32, 32, 2), np.float32)
        images[:, 16, 16, 0] = 1.0
        f["X"] = images
        f["y"] = (np.arange(40) % 2).astype(np.float32)
    with EcalDataset(foreign) as data, pytest.raises(DataError, match="the true η of its events is unknown"):
        incident_eta(data, "train")


def test_data_without_the_truth_is_replaced_by_our_simulation_with_a_note(tmp_path, monkeypatch):
    import h5py
    import numpy as np

    from qvit_lib.core.config import DEFAULT_DATA_DIR
    from qvit_lib.data import simulation
    from qvit_lib.data.dataset import EcalDataset
    from qvit_lib.data.truth import knows_eta
    from qvit_lib.runs.gan_runs import truth_location

    ours = tmp_path / "ours.h5"
    simulation.write_dataset(ours, 100)
    foreign = tmp_path / "cms.h5"
    with h5py.File(foreign, "w") as f:
        f["X"] = np.ones((40, 32, 32, 2), np.float32)
        f["y"] = (np.arange(40) % 2).astype(np.float32)
    with EcalDataset(ours) as a, EcalDataset(foreign) as b:
        assert knows_eta(a) and not knows_eta(b)
    assert truth_location(ours) == (ours, "")
    monkeypatch.setenv("QVIT_DATA", str(foreign))
    path, note = truth_location()
    assert path == DEFAULT_DATA_DIR.resolve() and "cms.h5: the true η of its events is unknown" in note


def _train(steps, checkpoint=None, resume=False, seed=0, validate=None):
    generator, discriminator = gan.build_gan(gan.GAN_MODELS["gan-cnn"], seed=3)
    showers = _showers()
    generator.set_template(showers.energy, showers.labels, showers.eta)
    schedule = GANSchedule(steps=steps, batch_size=16, log_every=2, checkpoint_every=3, validate_every=2)
    history = train_gan(
        generator,
        discriminator,
        showers,
        schedule,
        validate=validate,
        seed=seed,
        checkpoint=checkpoint,
        resume=resume,
        progress=False,
    )
    return generator, discriminator, history


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_training_is_seeded_and_resumes_exactly(tmp_path):
    straight_g, straight_d, straight = _train(6)
    again_g, _, _ = _train(6)
    assert _same(straight_g, again_g)
    checkpoint = tmp_path / "gan.ckpt"
    _train(3, checkpoint)  # as if stopped after the checkpoint at step 3
    resumed_g, resumed_d, resumed = _train(6, checkpoint, resume=True)
    assert _same(straight_g, resumed_g) and _same(straight_d, resumed_d)
    without_time = [[{k: v for k, v in r.items() if k != "seconds"} for r in h.records] for h in (straight, resumed)]
    assert without_time[0] == without_time[1] and len(without_time[0]) == 3
    other_g, _, _ = _train(6, seed=1)
    assert not _same(straight_g, other_g)


def test_the_run_keeps_the_weights_with_the_best_validation_score(tmp_path):
    scores = iter([3.0, 1.0, 2.0])  # steps 2, 4, 6: the best is step 4
    kept = {}

    def validate(generator):
        score = next(scores)
        kept[score] = {k: v.clone() for k, v in generator.state_dict().items()}
        return score

    generator, _, history = _train(6, validate=validate)
    assert history.best_step == 4 and [v["score"] for v in history.validation] == [3.0, 1.0, 2.0]
    assert all(torch.equal(generator.state_dict()[k], v) for k, v in kept[1.0].items())
    # and the best survives an interruption: resumed after step 3, it still ends with step 4's weights
    scores = iter([3.0, 1.0, 2.0])
    checkpoint = tmp_path / "gan.ckpt"
    _train(3, checkpoint, validate=validate)
    resumed, _, history = _train(6, checkpoint, resume=True, validate=validate)
    assert history.best_step == 4 and _same(resumed, generator)


def test_a_foreign_checkpoint_is_refused(tmp_path):
    bad = tmp_path / "bad.ckpt"
    torch.save({"step": 1}, bad)
    with pytest.raises(CheckpointError, match="not a GAN checkpoint of qvit_lib"):
        _train(2, bad, resume=True)


def test_ctrl_c_in_gan_training_says_which_checkpoint_is_kept(tmp_path):
    """The GAN loop's interrupt message comes from the shared checkpoint module, as the classifier's."""
    from qvit_lib.core.errors import TrainingInterrupted

    generator, discriminator = gan.build_gan(gan.GAN_MODELS["gan-cnn"], seed=3)
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
