"""Figure helpers: one style, and the facts (profile, seed, data, device) every figure's caption states.

A page shows a figure as a MyST figure, numbered, captioned in HTML and
referenceable: a hidden cell makes it and calls :func:`figure`, and a Markdown
cell places it with its alt text and caption, ending in the glued facts::

    :::{glue:figure} ne_fig3
    :name: fig-ne-fig3
    :alt: Accuracy along the straight path between two networks, for each encoding.

    **The paper's Fig. 3, ours.** Accuracy along the path. {glue:text}`ne_fig3_facts`
    :::
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

from weightspace.results import Result


def style() -> None:
    """The book's figure style."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight"})


def facts(result: Result) -> str:
    """The profile, seed, data and device that produced a result, for a figure's caption."""
    return (f"Profile: {result.profile}, seed {result.seed}; data: {result.data.get('split', 'n/a')}; "
            f"device: {result.provenance.get('device', 'n/a')}.")


def caption(result: Result, what: str) -> str:
    """``what`` followed by the :func:`facts` of the result that produced the figure."""
    return f"{what} {facts(result)}"


def figure(name: str, fig: Figure, result: Result) -> None:
    """Glue ``fig`` as ``name`` (for ``{glue:figure}``) and its facts as ``name_facts``, and close it.

    Call it in a notebook cell tagged ``remove-cell``; see the module docstring for the Markdown.
    """
    from myst_nb import glue  # the book's dependency, not the library's

    if fig.get_layout_engine() is None:  # a figure drawn with constrained layout (or a rect) keeps its own
        fig.tight_layout()
    glue(name, fig, display=False)
    glue(f"{name}_facts", facts(result), display=False)
    plt.close(fig)
