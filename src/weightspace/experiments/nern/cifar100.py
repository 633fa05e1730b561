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
from weightspace.experiments.nern import nern_recipe, original_recipe, permutation_table

TITLE = "NeRN, Tables 2 and 11: CIFAR-100 reconstruction (full profile only)"
PROFILES = ("full",)  # the quick profile has no data or model for it (its page shows the committed full result)
PAPER_SIZES = {"resnet56": [320, 360, 400]}


def config(profile: str) -> dict[str, Any]:
    recipe = nern_recipe("full", steps=88_200, alpha=1e-5, beta=1e-5, warmup=10_000)
    return {"dataset": "cifar100", "archs": PAPER_SIZES, "slots": PAPER_SIZES, "modes": ["none", "in", "cross"],
            "nern": {"resnet56": recipe}, "reference": original_recipe("full"), "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return permutation_table(cfg, ctx, PAPER_SIZES)
