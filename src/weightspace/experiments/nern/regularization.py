"""Section 4.1, Fig. 3 and Appendix E.1, Table 10: smoothness by regularising the original's training.

Each original is trained with eq. 6's smoothness term times a factor; NeRN
(no permutation) then reconstructs it. A larger factor makes the weights
smoother and easier to reconstruct but costs the original accuracy. At
``quick`` the paper's factor slots (1e-6 ... 5e-5, for ResNet56's 94,000
kernels) are filled by factors 100 times larger, for the quick ResNet8's 676
kernels (eq. 6 is a sum over kernel pairs), and only the first predictor size
runs.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern import (fit, load_data, nern_recipe, original_network, original_recipe, original_row,
                                          original_spec, skipped)

TITLE = "NeRN, Fig. 3 and Table 10: regularisation-based smoothness"
PAPER_FACTORS = [1e-6, 5e-6, 1e-5, 5e-5]
PAPER_SIZES = [240, 280]


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {"dataset": "mnist32", "arch": "resnet56", "factors": [1e-4, 5e-4, 1e-3, 5e-3], "sizes": [48],
                "nern": nern_recipe(profile), "reference": original_recipe(profile), "eval_limit": 1000}
    return {"dataset": "cifar10", "arch": "resnet56", "factors": PAPER_FACTORS, "sizes": PAPER_SIZES,
            "nern": nern_recipe(profile, alpha=1e-5, beta=1e-5, warmup=10_000), "reference": original_recipe(profile),
            "eval_limit": None}


def _slot(factor: float) -> str:
    return f"{factor:.0e}"


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    if len(cfg["factors"]) != len(PAPER_FACTORS) or len(cfg["sizes"]) > len(PAPER_SIZES):
        raise ValueError(f"give {len(PAPER_FACTORS)} factors and at most {len(PAPER_SIZES)} sizes "
                         f"(one per slot of Table 10)")
    data = load_data(cfg["dataset"], ctx.profile, ctx.device)
    table, originals = [], []
    for factor, slot in zip(cfg["factors"], PAPER_FACTORS):
        spec = original_spec(ctx.profile, cfg["arch"], cfg["dataset"], smooth=factor, recipe=cfg["reference"])
        original, record = original_network(ctx, spec, data)
        originals.append({**original_row(f"{_slot(slot)}", spec, record), "factor": factor})
        for size_slot in PAPER_SIZES:
            tag = f"{_slot(slot)}-{size_slot}"
            if PAPER_SIZES.index(size_slot) >= len(cfg["sizes"]):
                table.append(skipped(tag, f"not run at the {ctx.profile} profile"))
                continue
            h = cfg["sizes"][PAPER_SIZES.index(size_slot)]
            row, _ = fit(ctx, original, data, "none", {**cfg["nern"], "hidden": h}, tag,
                         eval_limit=cfg["eval_limit"])
            table.append({**row, "original": record["accuracy"], "factor": factor,
                          "ran": f"{spec['arch']}-w{spec['width']}, factor {factor:g}, h={h}"})
    return Outputs(metrics={r["row"]: r.get("accuracy") for r in table},
                   tables={"table10": table, "originals": originals}, data={"split": data.description["split"]})
