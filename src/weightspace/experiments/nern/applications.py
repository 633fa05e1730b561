"""Section 5, Fig. 5 (meta-compression; weight importance) and Appendix A, Fig. 6 (kernels).

One NeRN (cross-filter) reconstructs the original. Left panel: reconstructed
accuracy after magnitude-pruning the predictor. Right panel: mean activation
maps of the filters of one layer with the lowest and the highest relative
reconstruction error. Also: pruning the original by relative reconstruction
error against magnitude and random pruning, and Fig. 6's grid of original
against reconstructed 3x3 kernels.

The paper's Fig. 5 right and Fig. 6 use ResNet18 on ImageNet (in-filter,
h = 1256, layer4.0.conv2); here both use the CIFAR original's last 3x3 conv.
"""

from __future__ import annotations

from typing import Any

import torch

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern import (evaluator, fit, load_data, nern_recipe, original_network, original_recipe,
                                          original_spec)
from weightspace.nern.applications import PRUNING_SCORES, filter_errors, prune_by_score, prune_predictor
from weightspace.nern.losses import capture
from weightspace.nern.models import conv_names
from weightspace.nern.train import conv_weights, reconstructed

TITLE = "NeRN, Fig. 5 and Fig. 6: meta-compression, weight importance, reconstructed kernels"


def config(profile: str) -> dict[str, Any]:
    base = {"predictor_fractions": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5],
            "original_fractions": [0.1, 0.2, 0.3, 0.4, 0.5], "mode": "cross"}
    if profile == "quick":
        return {**base, "dataset": "mnist32", "arch": "resnet56", "nern": nern_recipe(profile),
                "reference": original_recipe(profile),
                "eval_limit": 1000, "top_filters": 4, "activation_images": 500}
    return {**base, "dataset": "cifar10", "arch": "resnet56",
            "nern": nern_recipe(profile, hidden=280, alpha=1e-5, beta=1e-5, warmup=10_000),
            "reference": original_recipe(profile),
            "eval_limit": None, "top_filters": 10, "activation_images": 1000}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    data = load_data(cfg["dataset"], ctx.profile, ctx.device)
    spec = original_spec(ctx.profile, cfg["arch"], cfg["dataset"], recipe=cfg["reference"])
    original, record = original_network(ctx, spec, data)
    row, out = fit(ctx, original, data, cfg["mode"], cfg["nern"], "nern", eval_limit=cfg["eval_limit"])
    score = evaluator(data, cfg["eval_limit"])
    names = conv_names(original)
    weights = conv_weights(original, names)
    with torch.no_grad():
        rebuilt = {k: v.detach() for k, v in out.nern.weights().items()}
        meta = [{"fraction": f, "accuracy": score(reconstructed(original, prune_predictor(out.nern, f).weights())),
                 "predictor_mb": row["predictor_mb"] * (1 - f)} for f in cfg["predictor_fractions"]]
        g = torch.Generator().manual_seed(ctx.seed)
        pruning = [{"fraction": f, "score": s,
                    "accuracy": score(prune_by_score(original, weights, rebuilt, f, s, g))}
                   for f in cfg["original_fractions"] for s in PRUNING_SCORES]
    layer = [n for n in names if n.endswith("conv2.weight")][-1]
    errors = filter_errors(weights[layer], rebuilt[layer])
    order = errors.argsort()
    k = cfg["top_filters"]
    module = layer.removesuffix(".weight")
    with capture(original, [module]) as maps, torch.no_grad():
        original(data.eval.x[:cfg["activation_images"]])
    mean_maps = maps[0].mean(0)
    grid = (slice(0, 8), slice(0, 8))
    kernel_layer = next(n for n in names if weights[n].shape[-1] == 3 and min(weights[n].shape[:2]) >= 8)
    return Outputs(
        metrics={"original": record["accuracy"], "nern": row["accuracy"], "recon": row["recon"]},
        tables={"nern": [row], "meta_compression": meta, "pruning": pruning},
        curves={"filter_errors": errors.tolist()},
        data={"split": data.description["split"], "layer": layer, "kernel_layer": kernel_layer,
              "lowest": order[:k].tolist(), "highest": order[-k:].flip(0).tolist(),
              "lowest_maps": mean_maps[order[:k]].tolist(), "highest_maps": mean_maps[order[-k:].flip(0)].tolist(),
              "kernels_original": weights[kernel_layer][grid].tolist(),
              "kernels_reconstructed": rebuilt[kernel_layer][grid].tolist()})
