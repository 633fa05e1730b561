"""Section 4.2, Table 2 and Appendix E.2, Table 11: CIFAR-100 ResNet56 (full profile only).

ResNet56 trained on CIFAR-100 with the CIFAR recipe; NeRN with h = 320, 360, 400
and each permutation mode, 88,200 iterations (alpha = beta = 1e-5 after a
10,000-iteration reconstruction-only warm-up, the authors' ResNet56 setting).
It needs CIFAR-100, which is not available offline: without it the run stops
at once with a DatasetNotFoundError naming the files and WEIGHTSPACE_DATA.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import ReconstructionRow, permutation_rows, permutation_table, task
from weightspace.nern import fitting, originals
from weightspace.tables import Table

TITLE = "NeRN, Tables 2 and 11: CIFAR-100 reconstruction (full profile only)"
PROFILES = ("full",)  # the quick profile has no data or model for it (its page shows the committed full result)
PAPER_SIZES = {"resnet56": [320, 360, 400]}
TABLES = {"table": Table(ReconstructionRow, rows=permutation_rows(PAPER_SIZES))}


def config(profile: str) -> dict[str, Any]:
    return {**task("cifar100"), "archs": PAPER_SIZES, "slots": PAPER_SIZES,
            "originals": {"resnet56": originals.architecture("resnet56")}, "modes": ["none", "in", "cross"],
            "nern": {"resnet56": fitting.recipe("resnet56", steps=88_200)}, "reference": originals.recipe("cifar"),
            "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return permutation_table(cfg, ctx, PAPER_SIZES)
