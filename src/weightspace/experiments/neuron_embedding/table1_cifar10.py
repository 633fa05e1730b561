"""Section 4.1, Table 1, CIFAR-10 rows: ResNet9 direct, separable and neuron-embedding (full profile only).

The authors' ResNet9 trained by Table 1's protocol (:mod:`._table1`) with their
CIFAR-10 recipe: SGD with Nesterov momentum, linear one-cycle, max lr 2e-4,
batch 512, weight decay 0.512 on a *sum*-reduced cross-entropy (512 times the
mean's gradient), random horizontal flips, 2000 steps; the best step chosen on
10,000 training images held out (40k / 10k) and reported on the test split.
CIFAR-10 is not part of the quick profile; without it the run stops before
training, with a DatasetNotFoundError naming the files and WEIGHTSPACE_DATA.
"""

from __future__ import annotations

from typing import Any

from weightspace import data as datasets
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.neuron_embedding import _table1
from weightspace.experiments.neuron_embedding._presets import recipe
from weightspace.tables import Table

TITLE = "Neuron embeddings, Table 1 (CIFAR-10 rows): ResNet9 from random initialisation (full profile only)"
PROFILES = ("full",)  # the quick profile has no CIFAR-10 (its page shows the committed full result)
ROWS = _table1.CIFAR10_ROWS
TABLES = {"table1": Table(_table1.Table1Row, rows=ROWS)}


def config(profile: str) -> dict[str, Any]:
    return {"rows": list(ROWS), "split": {"cifar10": datasets.STANDARD}, "dim_conv": 48,
            "selection_holdout": 10_000, "recipes": {"cifar10": recipe("cifar10")}, "loss": {"cifar10": "sum"},
            "flip": {"cifar10": True}}


def summary(cfg: dict[str, Any]) -> str:
    """The recipe of the ResNet9 rows in one line (for the page)."""
    return f"ResNet9 rows: {_table1.summary(cfg, 'cifar10')}."


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return _table1.compute(cfg, ctx, ROWS)
