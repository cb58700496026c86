"""Figures published on the CMS electron/photon files, outside the paper, each with its source.

The book's default data is our simulation; these are what the same measurements gave on the
real files (the ML4Sci 32 × 32 crops of Andrews et al.), read from the public code or README
that reports them, at the commit named. None is a peer-reviewed table: they are public task
solutions and notebooks, and the setups differ (split, epochs, width), as each entry says.
Chapter 1 sets them beside the same measurements on our simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PublishedFigure", "CMS_FIGURES", "figures_for"]


@dataclass(frozen=True)
class PublishedFigure:
    """One test AUC on the CMS files: what was measured, the value, and where it is printed."""

    measurement: str  # the row of chapter 1's table it belongs to
    model: str
    auc: float
    setup: str
    source: str  # a key of book/references.bib
    repository: str  # owner/name@commit where the figure is printed
    where: str  # file (and line or cell) at that commit
    decimals: int = 4  # as printed there


CMS_FIGURES = (
    PublishedFigure(
        "ResNet-15, energy channel",
        "ResNet-15-like CNN with batch norm ([2, 2, 2] blocks, 16/32/64 channels)",
        0.8158,
        "80/20 split (the 20 % also validates), AdamW, 20 epochs",
        "aadi2025common",
        "AADI-234/GSoC25_Foundation-Models_End-to-End_Event_Reconstruction@0c9e013",
        "Common_Task_1/Photon_Electron_Classification_Channel1_Only_ResNet15.ipynb, output 'Test ROC-AUC: 0.8158'",
    ),
    PublishedFigure(
        "other CNNs (inputs not stated)",
        "ResNet-15-like CNN (64/128/256 channels)",
        0.8143,
        "stratified 80/20 split, AdamW, 50 epochs",
        "fractaloid2024tasks",
        "fractaloid007/ML4Sci_Tasks@4dff293",
        "README.md",
    ),
    PublishedFigure(
        "other CNNs (inputs not stated)",
        "ResNet v2, 295 074 parameters",
        0.80,
        "15 % held out for testing, Adam, 200 epochs",
        "muten2021qcnn",
        "ML4SCI/QMLHEP@198fa01",
        "Quantum_CNN_for_HEP_Eraraya_Ricardo_Muten/README.md, line 174",
        decimals=2,
    ),
    PublishedFigure(
        "ResNet-15, time channel",
        "ResNet-15-like CNN with batch norm, time channel alone",
        0.6665,
        "as its energy-channel run",
        "aadi2025common",
        "AADI-234/GSoC25_Foundation-Models_End-to-End_Event_Reconstruction@0c9e013",
        "Common_Task_1/Photon_Electron_Classification_Channel2_Only_ResNet15.ipynb, output 'Test ROC-AUC: 0.6665'",
    ),
    PublishedFigure(
        "the paper's classical ViT, 40 epochs",
        "classical ViT, column max, positional encoding (about 4 800 parameters)",
        0.7833,
        "energy channel, 80/10/10 split, Adam 5e-3, 40 epochs",
        "unlu2024code",
        "EyupBunlu/QViT_HEP_ML4Sci@c98deb9",
        "Introduction.ipynb, cell 82",
    ),
    PublishedFigure(
        "other transformers",
        "quantum ViT of Comajoan Cara et al., 17 578 parameters, both channels",
        0.7793,
        "439 200 / 48 800 / 10 000 events, 100 epochs",
        "comajoan2024code",
        "salcc/QuantumTransformers@9ffee5b",
        "notebooks/quantum/electron-photon.ipynb, cell 9",
    ),
    PublishedFigure(
        "other transformers",
        "classical ViT of Comajoan Cara et al., 93 890 parameters, both channels",
        0.7910,
        "439 200 / 48 800 / 10 000 events, 50 epochs",
        "comajoan2024code",
        "salcc/QuantumTransformers@9ffee5b",
        "notebooks/classical/electron-photon.ipynb, cell 7",
    ),
)
"""Every figure, in the order of chapter 1's table."""


def figures_for(measurement: str) -> list[PublishedFigure]:
    """The published figures of one row of chapter 1's table (e.g. ``"ResNet-15, time channel"``)."""
    found = [f for f in CMS_FIGURES if f.measurement == measurement]
    if not found:
        rows = sorted({f.measurement for f in CMS_FIGURES})
        raise KeyError(f"no published figure for {measurement!r}; rows: {', '.join(rows)}")
    return found
