"""Figure helpers: one style, and captions that say which profile and seed made a figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns

from weightspace.results import Result


def style() -> None:
    """The book's figure style."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight"})


def caption(result: Result, what: str) -> str:
    """``what`` followed by the profile, seed and data that produced the figure."""
    return (f"{what} Profile: {result.profile}, seed {result.seed}; data: {result.data.get('split', 'n/a')}; "
            f"device: {result.provenance.get('device', 'n/a')}.")
