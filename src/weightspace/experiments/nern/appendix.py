"""Appendices C, D and F: Table 8 (conv sizes), Table 9 (permutation overhead), Fig. 8 (embedding similarity),
and the cost and effect of the greedy permutations (Section 3.3).

Sizes are computed from the model definitions (no training). The permutation
timing orders every conv of a ResNet56 (57 layers, 94,000 kernels; He
initialisation, as the greedy search costs the same for any weights), and the
smoothness gain is the mean eq. 6 distance between consecutive kernels of the
trained original (at ``quick`` a ResNet8 of width 4, ``original``), before and
after ordering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import load, original, task
from weightspace.nern import originals, permutation
from weightspace.nern.models import build, conv_names
from weightspace.nern.predictor import gamma
from weightspace.nern.sizes import size_rows
from weightspace.nern.train import conv_weights
from weightspace.tables import Row, Table

TITLE = "NeRN, Tables 8 and 9 and Fig. 8: sizes, permutation overhead, positional embeddings"
ARCHS = [("resnet20-cifar10", "resnet20", 10), ("resnet56-cifar10", "resnet56", 10),
         ("resnet20-cifar100", "resnet20", 100), ("resnet56-cifar100", "resnet56", 100),
         ("resnet18-imagenet", "resnet18", 1000)]
ORDERINGS = {"none": "none", "in": "in_filter", "cross": "cross_filter"}  # permutation mode -> field


@dataclass(frozen=True, kw_only=True)
class SizeRow(Row):
    """Tables 8 and 9 for one architecture and task (MiB of float32 parameters; see ``nern.sizes.size_rows``)."""

    total_mb: float
    conv_mb: float
    conv_pct: float
    learnable_mb: float
    in_filter_mb: float
    in_filter_pct: float
    in_filter_all_mb: float
    cross_filter_mb: float
    cross_filter_pct: float
    cross_filter_all_mb: float


@dataclass(frozen=True, kw_only=True)
class LayerSmoothness:
    """Mean eq. 6 distance between the kernels at consecutive coordinates of ``layer``, by ordering."""

    layer: str
    none: float
    in_filter: float
    cross_filter: float


_SIZE_ROWS = [row for row, _, _ in ARCHS]
TABLES = {"table8": Table(SizeRow, rows=_SIZE_ROWS), "table9": Table(SizeRow, rows=_SIZE_ROWS),
          "smoothness": Table(LayerSmoothness)}


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        data = {**task("mnist32"), "original": originals.architecture("resnet8-w4-gray"),
                "reference": originals.recipe("brief")}
    else:
        data = {**task("cifar10"), "original": originals.architecture("resnet20"),
                "reference": originals.recipe("cifar")}
    return {**data, "timing_arch": "resnet56", "bases": [0.76, 1.0, 1.25, 1.5, 2.0], "frequencies": 40,
            "channels": 64, "anchor": 31}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    if not 0 <= cfg["anchor"] < cfg["channels"]:
        raise ValueError(f"anchor = {cfg['anchor']} must be a channel index below channels = {cfg['channels']}")
    sizes = [SizeRow(row=row, **size_rows(arch, classes)) for row, arch, classes in ARCHS]
    net = build(cfg["timing_arch"])
    weights = conv_weights(net, conv_names(net))
    timing = {}
    for mode in ("in", "cross"):
        started = time.perf_counter()
        for w in weights.values():
            permutation.order(w, mode)
        timing[mode] = round(time.perf_counter() - started, 2)
    data = load(cfg, ctx)
    trained, _ = original(cfg, ctx, cfg["original"], data)
    smooth = [LayerSmoothness(layer=name, **{field: permutation.path_cost(w.cpu(), permutation.order(w.cpu(), m))
                                             for m, field in ORDERINGS.items()})
              for name, w in conv_weights(trained, conv_names(trained)).items()]
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
        curves={"similarity": similarity}, data={"split": data.description["split"]})
