"""Section 4.6: loss ablation (Table 6), weight-sampling ablation (Table 7) and training curves (Fig. 4).

Setup of the paper: ResNet20, cross-filter permutations, h = 160. Table 6 trains
with L_recon alone, with L_KD + L_FMD alone, and with all three; Table 7 with
gradients through all weights, a random layer, a uniform random batch, or the
magnitude-weighted batch (the full setting, shared with Table 6's last row).
Fig. 4 is the reconstructed accuracy along training with and without the
distillation losses; curves are evaluated every ``curve_every`` iterations.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern import (evaluated, fit, layouts, load_data, nern_recipe, original_network,
                                          original_recipe, original_spec)

TITLE = "NeRN, Tables 6 and 7 and Fig. 4: loss and sampling ablations"
LOSSES = {"recon": {"alpha": 0.0, "beta": 0.0}, "distill": {"recon": False, "warmup": 0}, "all": {}}
SAMPLING = ["all", "layer", "uniform", "weighted"]


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {"dataset": "mnist32", "nern": nern_recipe(profile, eval_every=170),
                "reference": original_recipe(profile), "eval_limit": 1000}
    return {"dataset": "cifar10", "nern": nern_recipe(profile, eval_every=2000), "reference": original_recipe(profile),
            "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    data = load_data(cfg["dataset"], ctx.profile, ctx.device)
    spec = original_spec(ctx.profile, "resnet20", cfg["dataset"], recipe=cfg["reference"])
    original, record = original_network(ctx, spec, data)
    ordered = layouts(original)
    ran = f"{spec['arch']}-w{spec['width']}, h={cfg['nern']['hidden']}"
    losses_table, sampling_table, curves = [], [], {}
    for name, overrides in LOSSES.items():
        row, out = fit(ctx, original, data, "cross", {**cfg["nern"], **overrides}, f"loss-{name}",
                       eval_limit=cfg["eval_limit"], layout=ordered)
        losses_table.append({**row, "row": name, "ran": ran})
        curves[f"loss-{name}"] = evaluated(out.curve)
    for name in SAMPLING:
        if name == "weighted":
            sampling_table.append({**losses_table[-1], "row": name})
            continue
        row, out = fit(ctx, original, data, "cross", {**cfg["nern"], "sampling": name}, f"sampling-{name}",
                       eval_limit=cfg["eval_limit"], layout=ordered)
        sampling_table.append({**row, "row": name, "ran": ran})
        curves[f"sampling-{name}"] = evaluated(out.curve)
    return Outputs(metrics={"original": record["accuracy"]},
                   tables={"table6": losses_table, "table7": sampling_table}, curves=curves,
                   data={"split": data.description["split"]})
