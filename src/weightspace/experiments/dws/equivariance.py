"""Sections 3-5 checked numerically: the symmetry, the layer's equivariance, the invariant layer, the basis count.

For random MLPs of several depths and widths: a random hidden-neuron permutation
leaves the MLP's function unchanged (Section 3); a DWS layer commutes with it and
a DWSNet is invariant to it (Theorem 5.1, Prop. 5.3), in float32 and float64;
permuting the *input* neurons is not a symmetry, and the layer does not commute
with it; the layer's free parameters per channel pair equal the dimension of the
space of equivariant maps counted by the character formula (App. C); weight
matching recovers a planted permutation.
"""

from __future__ import annotations

from typing import Any

import torch

from weightspace.dws.align import weight_matching
from weightspace.dws.layers import DWSLayer, character_dimension, parameters_per_channel_pair
from weightspace.dws.models import DWSNet
from weightspace.dws.space import WeightSpace, mlp_forward, num_parameters
from weightspace.experiments import Outputs, RunContext

TITLE = "DWSNets: equivariance and invariance on random MLPs"


def config(profile: str) -> dict[str, Any]:
    return {"architectures": [[2, 32, 32, 1], [3, 8, 1], [4, 16, 8, 16, 2], [5, 10, 10, 10, 10, 3]],
            "count_architectures": [[2, 3, 1], [1, 2, 3, 2], [2, 3, 2], [3, 2, 2, 2], [2, 4, 3, 1]],
            "batch": 8, "channels": [3, 5], "recipes": {}}  # nothing is trained


def _random_space(widths: list[int], batch: int, channels: int, dtype: torch.dtype,
                  g: torch.Generator) -> WeightSpace:
    weights = tuple(torch.randn(batch, channels, b, a, generator=g).to(dtype) for a, b in zip(widths[:-1], widths[1:]))
    biases = tuple(torch.randn(batch, channels, b, generator=g).to(dtype) for b in widths[1:])
    return WeightSpace(weights, biases)


def _max_diff(a: WeightSpace, b: WeightSpace) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a.tensors(), b.tensors()))


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    g = torch.Generator().manual_seed(ctx.seed)
    c_in, c_out = cfg["channels"]
    rows = []
    for widths in cfg["architectures"]:
        row: dict[str, Any] = {"row": "-".join(map(str, widths)), "parameters": num_parameters(widths)}
        for dtype, name in ((torch.float32, "f32"), (torch.float64, "f64")):
            x = _random_space(widths, cfg["batch"], c_in, dtype, g)
            perms = x.random_permutations(g)
            layer = DWSLayer(widths, c_in, c_out).to(dtype)
            net = DWSNet(widths, 4, hidden=8, layers=3, head_hidden=16).to(dtype).eval()
            with torch.no_grad():
                row[f"equivariance_{name}"] = _max_diff(layer(x.permute(perms)), layer(x).permute(perms))
                single = x.map(lambda t: t[:, :1])
                row[f"invariance_{name}"] = (net(single.permute(perms)) - net(single)).abs().max().item()
        x = _random_space(widths, cfg["batch"], 1, torch.float32, g)
        perms = x.random_permutations(g)
        inputs = torch.randn(50, widths[0], generator=g)
        row["function_change"] = (mlp_forward(x.permute(perms), inputs) - mlp_forward(x, inputs)).abs().max().item()
        row["weight_change"] = _max_diff(x.permute(perms), x)
        flip = torch.arange(widths[0]).flip(0)
        moved = WeightSpace((x.weights[0][..., flip],) + x.weights[1:], x.biases)
        with torch.no_grad():
            layer = DWSLayer(widths, 1, 1)
            row["input_permutation_error"] = (layer(moved).weights[0][..., flip] - layer(x).weights[0]).abs().max().item()
        one = x[:1]
        planted = one.random_permutations(g, per_mlp=False)
        row["matching_exact"] = bool(torch.equal(one.permute(planted).permute(
            weight_matching(one, one.permute(planted))).flatten(), one.flatten()))
        rows.append(row)
    counts = [{"row": "-".join(map(str, w)), "layer_parameters": parameters_per_channel_pair(w),
               "character_formula": character_dimension(w),
               **{f"{b}_layer": parameters_per_channel_pair(w, (b,)) for b in ("WW", "WB", "BW", "BB")},
               **{f"{b}_formula": character_dimension(w, (b,)) for b in ("WW", "WB", "BW", "BB")}}
              for w in cfg["count_architectures"]]
    worst = {k: max(r[k] for r in rows) for k in ("equivariance_f32", "equivariance_f64", "invariance_f32",
                                                  "invariance_f64", "function_change")}
    return Outputs(metrics={**{f"max_{k}": v for k, v in worst.items()},
                            "min_input_permutation_error": min(r["input_permutation_error"] for r in rows),
                            "counts_match": all(c["layer_parameters"] == c["character_formula"] for c in counts),
                            "matching_exact": all(r["matching_exact"] for r in rows)},
                   tables={"equivariance": rows, "counts": counts},
                   data={"split": f"random Gaussian MLP weights, {cfg['batch']} MLPs per architecture (no dataset)"})
