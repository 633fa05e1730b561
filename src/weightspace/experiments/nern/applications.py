"""Section 5, Fig. 5 (meta-compression; weight importance) and Appendix A, Fig. 6 (kernels).

One NeRN (cross-filter) reconstructs the original. Left panel: reconstructed
accuracy after magnitude-pruning the predictor. Right panel: mean activation
maps of the filters of one layer with the lowest and the highest relative
reconstruction error. Also: pruning the original by relative reconstruction
error against magnitude and random pruning, and Fig. 6's grid of original
against reconstructed 3x3 kernels.

The paper's Fig. 5 right and Fig. 6 use ResNet18 on ImageNet (in-filter,
h = 1256, layer4.0.conv2); here both use the CIFAR original's last 3x3 conv. At
``quick`` the original is a ResNet8 of width 4 (``original``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import ReconstructionRow, fitted, load, original, task
from weightspace.nern import fitting, originals
from weightspace.nern.applications import PRUNING_SCORES, filter_errors, prune_by_score, prune_predictor
from weightspace.nern.fitting import evaluator
from weightspace.nern.losses import capture
from weightspace.nern.models import conv_names
from weightspace.nern.train import conv_weights, reconstructed
from weightspace.tables import Row, Table

TITLE = "NeRN, Fig. 5 and Fig. 6: meta-compression, weight importance, reconstructed kernels"


@dataclass(frozen=True, kw_only=True)
class MetaCompression:
    """Fig. 5 left: the reconstructed accuracy with ``fraction`` of the predictor's weights pruned."""

    fraction: float
    accuracy: float
    predictor_mb: float


@dataclass(frozen=True, kw_only=True)
class Pruning:
    """The original's accuracy with ``fraction`` of its conv weights pruned, highest ``score`` first."""

    fraction: float
    score: str
    accuracy: float


@dataclass(frozen=True, kw_only=True)
class FilterImportance(Row):
    """Fig. 5 right: filter ``filter`` of ``layer``, its relative reconstruction error and mean activation map.

    Rows ``lowest-<i>`` / ``highest-<i>``: the filter with the i-th lowest / highest error.
    """

    layer: str
    filter: int
    error: float
    mean_map: list[list[float]]


@dataclass(frozen=True, kw_only=True)
class KernelGrid:
    """Fig. 6: the original and reconstructed 3x3 kernels of filters 0-7 by channels 0-7 of ``layer``."""

    layer: str
    original: list[list[list[list[float]]]]
    reconstructed: list[list[list[list[float]]]]


def _importance_rows(cfg: dict[str, Any]) -> list[str]:
    return [f"{end}-{i}" for end in ("lowest", "highest") for i in range(cfg["top_filters"])]


TABLES = {"nern": Table(ReconstructionRow, rows=["nern"]), "meta_compression": Table(MetaCompression),
          "pruning": Table(Pruning), "importance": Table(FilterImportance, rows=_importance_rows),
          "kernels": Table(KernelGrid)}


def config(profile: str) -> dict[str, Any]:
    base = {"predictor_fractions": [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5],
            "original_fractions": [0.1, 0.2, 0.3, 0.4, 0.5], "mode": "cross"}
    if profile == "quick":
        return {**base, **task("mnist32"), "original": originals.architecture("resnet8-w4-gray"),
                "nern": fitting.recipe("brief"), "reference": originals.recipe("brief"), "eval_limit": 1000,
                "top_filters": 4, "activation_images": 500}
    return {**base, **task("cifar10"), "original": originals.architecture("resnet56"),
            "nern": fitting.recipe("resnet56", hidden=280), "reference": originals.recipe("cifar"),
            "eval_limit": None, "top_filters": 10, "activation_images": 1000}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    data = load(cfg, ctx)
    net, record = original(cfg, ctx, cfg["original"], data)
    row, out = fitted(cfg, ctx, net, data, cfg["mode"], cfg["nern"], "nern")
    score = evaluator(data, cfg["eval_limit"])
    names = conv_names(net)
    weights = conv_weights(net, names)
    with torch.no_grad():
        rebuilt = {k: v.detach() for k, v in out.nern.weights().items()}
        meta = [MetaCompression(fraction=f, accuracy=score(reconstructed(net, prune_predictor(out.nern, f).weights())),
                                predictor_mb=row.predictor_mb * (1 - f)) for f in cfg["predictor_fractions"]]
        g = torch.Generator().manual_seed(ctx.seed)
        pruning = [Pruning(fraction=f, score=s, accuracy=score(prune_by_score(net, weights, rebuilt, f, s, g)))
                   for f in cfg["original_fractions"] for s in PRUNING_SCORES]
    layer = [n for n in names if n.endswith("conv2.weight")][-1]
    errors = filter_errors(weights[layer], rebuilt[layer])
    if not 0 < cfg["top_filters"] <= len(errors) // 2:
        raise ValueError(f"top_filters = {cfg['top_filters']}: {layer} has {len(errors)} filters, so give 1 to "
                         f"{len(errors) // 2} (the lowest and the highest must not overlap)")
    order = errors.argsort()
    k = cfg["top_filters"]
    with capture(net, [layer.removesuffix(".weight")]) as maps, torch.no_grad():
        net(data.eval.x[:cfg["activation_images"]])
    mean_maps = maps[0].mean(0)
    importance = [FilterImportance(row=f"{end}-{i}", layer=layer, filter=int(f), error=float(errors[f]),
                                   mean_map=mean_maps[f].tolist())
                  for end, chosen in (("lowest", order[:k]), ("highest", order[-k:].flip(0)))
                  for i, f in enumerate(chosen)]
    grid = (slice(0, 8), slice(0, 8))
    kernel_layer = next(n for n in names if weights[n].shape[-1] == 3 and min(weights[n].shape[:2]) >= 8)
    kernels = KernelGrid(layer=kernel_layer, original=weights[kernel_layer][grid].tolist(),
                         reconstructed=rebuilt[kernel_layer][grid].tolist())
    return Outputs(
        metrics={"original": record["accuracy"], "nern": row.accuracy, "recon": row.recon},
        tables={"nern": [row], "meta_compression": meta, "pruning": pruning, "importance": importance,
                "kernels": [kernels]},
        curves={"filter_errors": errors.tolist()}, data={"split": data.description["split"]})
