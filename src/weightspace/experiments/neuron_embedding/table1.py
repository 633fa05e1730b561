"""Section 4.1, Table 1, MNIST rows: training from random initialisation, direct vs separable vs neuron-embedding.

The seven MNIST models (FC 2-layer and 5-layer, direct and embedding; conv
direct, separable and embedding), trained by Table 1's protocol
(:mod:`._table1`). ``full`` is the paper's recipe: Adam, one-cycle (cosine), max
lr 0.01, batch 1000, 2000 steps on MNIST's 60,000 training images, the best
step chosen on 10,000 of them held out (the authors' 50k / 10k split) and
reported on the test split; it needs no CIFAR-10 (those rows are
:mod:`.table1_cifar10`). ``quick`` trains on the 8,000-image split of the MNIST
test set for a few hundred steps and selects on the 2,000 images it reports
(that split has no other). ``rows`` chooses the rows a run trains; the others
are listed with their counts and a status saying they did not run.
"""

from __future__ import annotations

from typing import Any

from weightspace import data as datasets
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.neuron_embedding import _table1
from weightspace.experiments.neuron_embedding._presets import recipe
from weightspace.tables import Table

TITLE = "Neuron embeddings, Table 1 (MNIST rows): training from random initialisation"
ROWS = _table1.MNIST_ROWS
TABLES = {"table1": Table(_table1.Table1Row, rows=ROWS)}


def config(profile: str) -> dict[str, Any]:
    quick = profile == "quick"
    return {"rows": list(ROWS), "split": {"mnist": datasets.MNIST_TEST_CUT if quick else datasets.STANDARD},
            "dim_fc": 64, "dim_conv": 48, "selection_holdout": 0 if quick else 10_000,
            "recipes": ({"mnist-fc": recipe("mnist-quick"), "mnist-conv": recipe("mnist-conv-quick")} if quick
                        else {"mnist-fc": recipe("mnist"), "mnist-conv": recipe("mnist")}),
            "loss": {"mnist-fc": "mean", "mnist-conv": "mean"}, "flip": {"mnist-fc": False, "mnist-conv": False}}


def summary(cfg: dict[str, Any]) -> str:
    """How the FC and the conv rows train, in one line (for the page)."""
    return (f"FC rows: {_table1.summary(cfg, 'mnist-fc')}. "
            f"Conv rows: {_table1.summary(cfg, 'mnist-conv')}.")


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return _table1.compute(cfg, ctx, ROWS)
