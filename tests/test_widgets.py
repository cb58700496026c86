"""The circuit explorer: the Python side equals PennyLane, the page's front end equals the
Python side, and the paper's blind loader shows in both."""

from __future__ import annotations

import pytest
import torch

from qvit_lib.display.widgets import SHOT_CHOICES, CircuitExplorer
from qvit_lib.quantum import circuits, qnodes


def pennylane_expectations(explorer: CircuitExplorer) -> list[float]:
    qnode = qnodes.make_qnode(explorer.kind, explorer.n_qubits, "default.qubit", explorer.loader)
    out = qnode(torch.tensor(explorer.x, dtype=torch.float64), torch.tensor(explorer.theta, dtype=torch.float64))
    return [float(v) for v in (out if explorer.kind == "value" else [out])]


@pytest.mark.parametrize("loader", qnodes.DATA_LOADERS)
@pytest.mark.parametrize("kind", ["query_key", "value"])
@pytest.mark.parametrize("n_qubits", [2, 4])
def test_python_side_equals_pennylane(loader, kind, n_qubits):
    explorer = CircuitExplorer(loader, kind, n_qubits=n_qubits, seed=n_qubits)
    assert explorer.expectations == pytest.approx(pennylane_expectations(explorer), abs=1e-12)
    assert explorer.probabilities.shape == (2**n_qubits,) and explorer.probabilities.sum() == pytest.approx(1.0)


def test_angle_loader_responds_to_inputs_and_the_paper_loader_does_not():
    angle, paper = CircuitExplorer("angle", seed=3), CircuitExplorer("hadamard", seed=3)
    before = angle.expectations, paper.expectations
    for explorer in (angle, paper):
        explorer.x = [-2.0, 1.5, 0.7, -1.1]
    assert abs(angle.expectations[0] - before[0][0]) > 1e-3
    assert paper.expectations == pytest.approx(before[1], abs=1e-14)
    paper.theta = [*paper.theta[:12], paper.theta[12] + 1.0]  # the last RY of the ansatz, on the measured qubit
    assert abs(paper.expectations[0] - before[1][0]) > 1e-3


def test_sliders_start_on_their_grid_and_the_sizes_follow_the_circuit():
    value = CircuitExplorer("angle", "value", seed=0)
    assert len(value.x) == 4 and len(value.theta) == 12 and len(value.measured) == 4
    assert len(CircuitExplorer("angle", "query_key").theta) == 13
    assert all(abs(v * 100 - round(v * 100)) < 1e-9 for v in value.x + value.theta)


def test_shot_estimates_scatter_around_the_exact_values_with_their_standard_error():
    explorer = CircuitExplorer("angle", "value", seed=4, shots=10_000)
    estimates = explorer.estimates
    assert sum(explorer.sampled_counts) == 10_000
    for (mean, error), exact in zip(estimates, explorer.expectations):
        assert abs(mean - exact) < 4.5 * error and error == pytest.approx(((1 - exact**2) / 10_000) ** 0.5, rel=0.05)
    explorer.sample_seed = 1  # another seed, another sample; the same seed, the same sample
    assert explorer.estimates != estimates
    explorer.sample_seed = 4
    assert explorer.estimates == estimates
    explorer.shots = 0
    assert explorer.estimates is None and CircuitExplorer("angle").estimates is None  # exact: no sample


def test_the_generator_is_mulberry32():
    from qvit_lib.display.widgets import mulberry32

    draws = mulberry32(1)
    assert [round(next(draws), 12) for _ in range(2)] == [0.627073940588, 0.002735721180]


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown circuit 'key'"):
        CircuitExplorer(kind="key")
    with pytest.raises(ValueError, match="unknown data loader 'dense'"):
        CircuitExplorer(loader="dense")
    with pytest.raises(ValueError, match="at least 2 qubits"):
        CircuitExplorer(n_qubits=1)
    with pytest.raises(ValueError, match="shots must be one of the slider's stops"):
        CircuitExplorer(shots=50)


# ----- the front end, in a page made from saved widget state (as the built book is)


@pytest.fixture(scope="module")
def explorer_page(tmp_path_factory, browser):
    from .browser import serve
    from .widget_page import write_widget_page

    widgets = [
        CircuitExplorer("angle", "query_key", seed=1),
        CircuitExplorer("hadamard", "query_key", seed=1),
        CircuitExplorer("angle", "value", seed=2),
        CircuitExplorer("hadamard", "value", seed=2, n_qubits=3),
        CircuitExplorer("angle", "value", seed=5, shots=1_000),  # chapter 10's, with the shots slider
    ]
    directory = tmp_path_factory.mktemp("explorer-page")
    write_widget_page(widgets, directory)
    with serve(directory) as url:
        page = browser.new_page(viewport={"width": 800, "height": 1200})
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(f"{url}/index.html")
        page.wait_for_function(
            "document.querySelectorAll('.qvit-explorer .qx-value').length === 1 + 1 + 4 + 3 + 4", timeout=30_000
        )
        yield page, widgets, errors
        page.close()


def page_values(page, index: int) -> list[float]:
    script = "i => [...document.querySelectorAll('.qvit-explorer')[i].querySelectorAll('.qx-value')]"
    return page.evaluate(script + ".map(e => +e.dataset.value)", index)


def move_slider(page, index: int, slider: int, value: float) -> None:
    page.evaluate(
        """([i, s, v]) => {
            const input = document.querySelectorAll('.qvit-explorer')[i].querySelectorAll('input[type=range]')[s];
            input.value = v;
            input.dispatchEvent(new Event('input', {bubbles: true}));
        }""",
        [index, slider, value],
    )


@pytest.mark.browser
def test_the_page_computes_what_python_computes(explorer_page):
    page, widgets, errors = explorer_page
    for index, explorer in enumerate(widgets):
        assert page_values(page, index) == pytest.approx(explorer.expectations, abs=1e-12)
    assert not errors


@pytest.mark.browser
def test_dragging_in_the_page_recomputes_there(explorer_page):
    page, widgets, _ = explorer_page
    for index, explorer in enumerate(widgets):
        before = page_values(page, index)
        move_slider(page, index, 1, 2.5)  # input x1
        explorer.x = [explorer.x[0], 2.5, *explorer.x[2:]]
        after = page_values(page, index)
        assert after == pytest.approx(explorer.expectations, abs=1e-12)
        if explorer.loader == "angle":
            assert max(abs(a - b) for a, b in zip(after, before)) > 1e-4  # against 1e-12 for the blind loader
        else:
            assert after == pytest.approx(before, abs=1e-12)
        move_slider(page, index, explorer.n_qubits + 1, 0.3)  # the second ansatz angle: both loaders move
        explorer.theta = [explorer.theta[0], 0.3, *explorer.theta[2:]]
        assert page_values(page, index) == pytest.approx(explorer.expectations, abs=1e-12)


@pytest.mark.browser
def test_a_wrong_front_end_would_be_caught(explorer_page):
    """Planted failure: the same comparison, against numbers of the other loader."""
    page, widgets, _ = explorer_page
    angle, paper = widgets[0], CircuitExplorer("hadamard", "query_key", seed=1)
    paper.x, paper.theta = angle.x, angle.theta
    assert page_values(page, 0) != pytest.approx(paper.expectations, abs=1e-6)


def page_estimates(page, index: int) -> list[float]:
    """The page's ⟨Z⟩ estimates and their errors, flattened: mean, error, mean, error, …"""
    script = "i => [...document.querySelectorAll('.qvit-explorer')[i].querySelectorAll('.qx-estimate')]"
    return page.evaluate(script + ".flatMap(e => [+e.dataset.value, +e.dataset.error])", index)


def flat(estimates: list[tuple[float, float]] | None) -> list[float]:
    return [v for pair in estimates or [] for v in pair]


@pytest.mark.browser
def test_the_shots_slider_samples_in_the_page_what_python_samples(explorer_page):
    page, widgets, errors = explorer_page
    index, explorer = len(widgets) - 1, widgets[-1]
    assert all(not page_estimates(page, i) for i in range(index))  # only chapter 10's explorer has shots
    for stop in (1_000, 10, 100_000):
        shots_slider = 3 * explorer.n_qubits + explorer.n_qubits  # after the inputs and the angles
        move_slider(page, index, shots_slider, SHOT_CHOICES.index(stop))
        explorer.shots = stop
        assert page_estimates(page, index) == pytest.approx(flat(explorer.estimates), abs=1e-12)
        counts = page.evaluate(
            "i => [...document.querySelectorAll('.qvit-explorer')[i].querySelectorAll('.qx-count')]"
            ".map(e => +e.dataset.count)",
            index,
        )
        assert counts == explorer.sampled_counts
    wrong = CircuitExplorer("angle", "value", seed=5, shots=100_000)
    wrong.x, wrong.theta, wrong.sample_seed = explorer.x, explorer.theta, explorer.sample_seed + 1
    assert page_estimates(page, index) != pytest.approx(flat(wrong.estimates), abs=1e-12)  # another seed is caught
    assert not errors


def test_the_page_receives_the_one_gate_list():
    """The explorer's gates are the library's (qvit_lib.quantum.circuits), drawn in the plot's columns."""
    explorer = CircuitExplorer("hadamard", "query_key", n_qubits=3)
    circuit = circuits.build_circuit("query_key", 3, "hadamard")
    assert [(g["name"], tuple(g["wires"]), g["source"], g["index"], g["role"]) for g in explorer.gates] == [
        (g.name, g.wires, g.source, g.index, g.role) for g in circuit.gates
    ]
    assert explorer.measured == [0]
    assert [g["label"] for g in explorer.gates[:4]] == ["H", "H", "H", "RX(x₀)"]
    assert len({g["column"] for g in explorer.gates}) == len(circuits.columns(circuit.gates))


@pytest.mark.browser
def test_the_page_simulates_the_gates_it_is_sent(tmp_path, browser):
    """The front end writes no circuit of its own: sent the paper loader's gates, an explorer
    labelled ``angle`` computes what the paper-loader explorer computes, and its x sliders do nothing."""
    from .browser import serve
    from .widget_page import write_widget_page

    paper = CircuitExplorer("hadamard", "query_key", seed=1)
    relabelled = CircuitExplorer("angle", "query_key", seed=1)
    relabelled.gates = paper.gates
    write_widget_page([relabelled], tmp_path)
    with serve(tmp_path) as url:
        page = browser.new_page()
        page.goto(f"{url}/index.html")
        page.wait_for_function("document.querySelectorAll('.qvit-explorer .qx-value').length === 1", timeout=30_000)
        assert page_values(page, 0) == pytest.approx(paper.expectations, abs=1e-12)
        assert page_values(page, 0) != pytest.approx(relabelled.expectations, abs=1e-6)
        assert page.evaluate("document.querySelectorAll('.qvit-explorer svg rect.qx-loader').length") == 8  # H and RX
        page.close()
