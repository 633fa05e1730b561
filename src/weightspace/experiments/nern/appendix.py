"""Appendices C, D and F: Table 8 (conv sizes), Table 9 (permutation overhead), Fig. 8 (embedding similarity),
and the cost and effect of the greedy permutations (Section 3.3).

Sizes are computed from the model definitions (no training). The permutation
timing orders every conv of a ResNet56 (57 layers, 94,000 kernels; He
initialisation, as the greedy search costs the same for any weights), and the
smoothness gain is the mean eq. 6 distance between consecutive kernels of the
trained quick/full original, before and after ordering.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern import load_data, original_network, original_recipe, original_spec
from weightspace.nern import permutation
from weightspace.nern.models import build, conv_names
from weightspace.nern.predictor import gamma
from weightspace.nern.sizes import size_rows
from weightspace.nern.train import conv_weights

TITLE = "NeRN, Tables 8 and 9 and Fig. 8: sizes, permutation overhead, positional embeddings"
ARCHS = [("resnet20-cifar10", "resnet20", 10), ("resnet56-cifar10", "resnet56", 10),
         ("resnet20-cifar100", "resnet20", 100), ("resnet56-cifar100", "resnet56", 100),
         ("resnet18-imagenet", "resnet18", 1000)]


def config(profile: str) -> dict[str, Any]:
    return {"dataset": "mnist32" if profile == "quick" else "cifar10", "reference": original_recipe(profile),
            "timing_arch": "resnet56",
            "bases": [0.76, 1.0, 1.25, 1.5, 2.0], "frequencies": 40, "channels": 64, "anchor": 31}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    sizes = [{"row": row, **size_rows(arch, classes)} for row, arch, classes in ARCHS]
    net = build(cfg["timing_arch"])
    weights = conv_weights(net, conv_names(net))
    timing = {}
    for mode in ("in", "cross"):
        started = time.perf_counter()
        for w in weights.values():
            permutation.order(w, mode)
        timing[mode] = round(time.perf_counter() - started, 2)
    data = load_data(cfg["dataset"], ctx.profile, ctx.device)
    spec = original_spec(ctx.profile, "resnet20", cfg["dataset"], recipe=cfg["reference"])
    original, _ = original_network(ctx, spec, data)
    smooth = []
    for name, w in conv_weights(original, conv_names(original)).items():
        smooth.append({"layer": name, **{m: permutation.path_cost(w.cpu(), permutation.order(w.cpu(), m))
                                         for m in permutation.MODES}})
    c = torch.arange(cfg["channels"]) / cfg["channels"]
    similarity = {}
    for b in cfg["bases"]:
        emb = gamma(c, b, cfg["frequencies"])
        sim = F.cosine_similarity(emb, emb[cfg["anchor"]].expand_as(emb), dim=1)
        similarity[str(b)] = ((sim - sim.min()) / (sim.max() - sim.min())).tolist()
    return Outputs(
        metrics={"timing_in_s": timing["in"], "timing_cross_s": timing["cross"],
                 "kernels": sum(w.shape[0] * w.shape[1] for w in weights.values())},
        tables={"table8": sizes, "table9": sizes, "smoothness": smooth},
        curves={"similarity": similarity},
        data={"split": data.description["split"], "timing_arch": cfg["timing_arch"]})
