"""Section 4.4, Table 4: data-free NeRN, distilling on U[-1, 1] noise instead of task images.

Cross-filter permutations. Each size is trained twice: without the distillation
losses (reconstruction only) and with KD + FMD computed on noise inputs.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern import (evaluated, fit, layouts, load_data, nern_recipe, original_network,
                                          original_recipe, original_row, original_spec, skipped)

TITLE = "NeRN, Table 4: data-free training with noise inputs"
PAPER_SIZES = {"resnet20": [160, 180], "resnet56": [280, 320]}


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {"dataset": "mnist32", "archs": {"resnet20": [32, 48]}, "slots": {"resnet20": [160, 180]},
                "nern": {"resnet20": nern_recipe(profile)}, "reference": original_recipe(profile), "eval_limit": 1000}
    resnet56 = nern_recipe(profile, alpha=1e-5, beta=1e-5, warmup=10_000)
    return {"dataset": "cifar10", "archs": PAPER_SIZES, "slots": PAPER_SIZES,
            "nern": {"resnet20": nern_recipe(profile), "resnet56": resnet56}, "reference": original_recipe(profile),
            "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    data = load_data(cfg["dataset"], ctx.profile, ctx.device)
    table, curves = [], {}
    for arch in PAPER_SIZES:
        if arch not in cfg["archs"]:
            table += [skipped(f"{arch}-{h}-{k}", f"not run at the {ctx.profile} profile")
                      for h in PAPER_SIZES[arch] for k in ("recon", "noise")]
            continue
        spec = original_spec(ctx.profile, arch, cfg["dataset"], recipe=cfg["reference"])
        original, record = original_network(ctx, spec, data)
        table.append(original_row(f"{arch}-original", spec, record))
        ordered = layouts(original)
        for h, slot in zip(cfg["archs"][arch], cfg["slots"][arch]):
            recipe = {**cfg["nern"][arch], "hidden": h}
            for kind, inputs, overrides in (("recon", "data", {"alpha": 0.0, "beta": 0.0}), ("noise", "noise", {})):
                tag = f"{arch}-{slot}-{kind}"
                row, out = fit(ctx, original, data, "cross", {**recipe, **overrides}, tag, inputs,
                               cfg["eval_limit"], ordered)
                table.append({**row, "ran": f"{spec['arch']}-w{spec['width']}, h={h}"})
                curves[tag] = evaluated(out.curve)
    return Outputs(metrics={r["row"]: r.get("accuracy") for r in table}, tables={"table4": table}, curves=curves,
                   data={"split": data.description["split"]})
