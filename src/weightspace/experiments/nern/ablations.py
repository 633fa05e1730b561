"""Section 4.6: loss ablation (Table 6), weight-sampling ablation (Table 7) and training curves (Fig. 4).

Setup of the paper: ResNet20, cross-filter permutations, h = 160. Table 6 trains
with L_recon alone, with L_KD + L_FMD alone, and with all three; Table 7 with
gradients through all weights, a random layer, a uniform random batch, or the
magnitude-weighted batch (the full setting, shared with Table 6's last row).
Fig. 4 is the reconstructed accuracy along training with and without the
distillation losses; curves are evaluated every ``nern.eval_every`` iterations.
At ``quick`` the original is a ResNet8 of width 4 (``original``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import ReconstructionRow, fitted, load, original, ran, task
from weightspace.nern import fitting, originals
from weightspace.nern.fitting import evaluated, layouts
from weightspace.tables import Table

TITLE = "NeRN, Tables 6 and 7 and Fig. 4: loss and sampling ablations"
LOSSES = {"recon": {"alpha": 0.0, "beta": 0.0}, "distill": {"recon": False, "warmup": 0}, "all": {}}
SAMPLING = ["all", "layer", "uniform", "weighted"]
TABLES = {"table6": Table(ReconstructionRow, rows=list(LOSSES)), "table7": Table(ReconstructionRow, rows=SAMPLING)}


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {**task("mnist32"), "original": originals.architecture("resnet8-w4-gray"),
                "nern": fitting.recipe("brief", eval_every=170), "reference": originals.recipe("brief"),
                "eval_limit": 1000}
    return {**task("cifar10"), "original": originals.architecture("resnet20"),
            "nern": fitting.recipe("resnet20", eval_every=2000), "reference": originals.recipe("cifar"),
            "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    data = load(cfg, ctx)
    net, record = original(cfg, ctx, cfg["original"], data)
    ordered = layouts(net)
    what = ran(cfg["original"], cfg["nern"]["hidden"])
    losses_table, sampling_table, curves = [], [], {}
    for name, overrides in LOSSES.items():
        row, out = fitted(cfg, ctx, net, data, "cross", {**cfg["nern"], **overrides}, f"loss-{name}",
                          layout=ordered, ran=what)
        losses_table.append(dataclasses.replace(row, row=name))
        curves[f"loss-{name}"] = evaluated(out.curve)
    for name in SAMPLING:
        if name == "weighted":
            sampling_table.append(dataclasses.replace(losses_table[-1], row=name))
            continue
        row, out = fitted(cfg, ctx, net, data, "cross", {**cfg["nern"], "sampling": name}, f"sampling-{name}",
                          layout=ordered, ran=what)
        sampling_table.append(dataclasses.replace(row, row=name))
        curves[f"sampling-{name}"] = evaluated(out.curve)
    return Outputs(metrics={"original": record["accuracy"]},
                   tables={"table6": losses_table, "table7": sampling_table}, curves=curves,
                   data={"split": data.description["split"]})
