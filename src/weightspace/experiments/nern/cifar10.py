"""Section 4.1, Table 1 (CIFAR-10 reconstruction) and Section 4.5, Table 5 (non-smooth networks).

For each original and predictor size ``h``, one NeRN per permutation mode: none
(the non-smooth networks of Table 5), in-filter and cross-filter (Table 1).
At ``quick`` the paper's ResNet20 slots (h = 160, 180) are filled by the quick
ResNet8 with h = 32, 48, and the ResNet56 rows are not run.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern import nern_recipe, original_recipe, permutation_table

TITLE = "NeRN, Table 1 and Table 5: CIFAR-10 reconstruction with and without permutation smoothness"
PAPER_SIZES = {"resnet20": [140, 160, 180, 200], "resnet56": [240, 280, 320, 360]}
MODES = ["none", "in", "cross"]


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {"dataset": "mnist32", "archs": {"resnet20": [32, 48]}, "slots": {"resnet20": [160, 180]},
                "modes": MODES, "nern": {"resnet20": nern_recipe(profile)}, "reference": original_recipe(profile),
                "eval_limit": 1000}
    resnet56 = nern_recipe(profile, alpha=1e-5, beta=1e-5, warmup=10_000)
    return {"dataset": "cifar10", "archs": PAPER_SIZES, "slots": PAPER_SIZES, "modes": MODES,
            "nern": {"resnet20": nern_recipe(profile), "resnet56": resnet56}, "reference": original_recipe(profile),
            "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return permutation_table(cfg, ctx, PAPER_SIZES)
