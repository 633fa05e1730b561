"""Section 4.1, Table 1 (CIFAR-10 reconstruction) and Section 4.5, Table 5 (non-smooth networks).

For each original and predictor size ``h``, one NeRN per permutation mode: none
(the non-smooth networks of Table 5), in-filter and cross-filter (Table 1).
At ``quick`` the paper's ResNet20 slots h = 160, 180 are filled by a ResNet8 of
width 4 with h = 32, 48 (``originals``, ``archs`` and ``slots`` say so), and the
ResNet56 rows and the other ResNet20 sizes are not run. Those predictors are two
and four times the size of their original, so quick does not test compression.

At ``cpu`` the slots are filled by a ResNet20 of width 8 on MNIST's standard split
(padded to 32x32) and predictors of the paper's size relative to its original:
h = 160 and 180 are 43% and 52% of ResNet20's parameters, h = 66 and 75 are 43% and
52% of ResNet20-w8's (:func:`~weightspace.nern.sizes.predictor_ratio`), so the
predictors compress their original as the paper's do.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import ReconstructionRow, permutation_rows, permutation_table, task
from weightspace.nern import fitting, originals
from weightspace.tables import Table

PROFILES = ("quick", "cpu", "full")
TITLE = "NeRN, Table 1 and Table 5: CIFAR-10 reconstruction with and without permutation smoothness"
PAPER_SIZES = {"resnet20": [140, 160, 180, 200], "resnet56": [240, 280, 320, 360]}
MODES = ["none", "in", "cross"]
CPU_SIZES = [66, 75]  # the cpu profile's predictors in the paper's h = 160, 180 slots (sizes.predictor_ratio)
TABLES = {"table": Table(ReconstructionRow, rows=permutation_rows(PAPER_SIZES))}


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {**task("mnist32"), "archs": {"resnet20": [32, 48]}, "slots": {"resnet20": [160, 180]},
                "originals": {"resnet20": originals.architecture("resnet8-w4-gray")},
                "modes": MODES, "nern": {"resnet20": fitting.recipe("brief")},
                "reference": originals.recipe("brief"), "eval_limit": 1000}
    if profile == "cpu":
        return {**task("mnist32-standard"), "archs": {"resnet20": CPU_SIZES}, "slots": {"resnet20": [160, 180]},
                "originals": {"resnet20": originals.architecture("resnet20-w8-gray")},
                "modes": MODES, "nern": {"resnet20": fitting.recipe("cpu")},
                "reference": originals.recipe("mnist"), "eval_limit": None}
    return {**task("cifar10"), "archs": PAPER_SIZES, "slots": PAPER_SIZES,
            "originals": {a: originals.architecture(a) for a in PAPER_SIZES},
            "modes": MODES, "nern": {"resnet20": fitting.recipe("resnet20"), "resnet56": fitting.recipe("resnet56")},
            "reference": originals.recipe("cifar"), "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return permutation_table(cfg, ctx, PAPER_SIZES)
