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

from dataclasses import dataclass
from typing import Any

import torch

from weightspace.dws.align import weight_matching
from weightspace.dws.layers import BLOCKS, DWSLayer, character_dimension, parameters_per_channel_pair
from weightspace.dws.models import DWSNet
from weightspace.dws.space import WeightSpace, mlp_forward, num_parameters
from weightspace.experiments import Outputs, RunContext
from weightspace.tables import Row, Table

TITLE = "DWSNets: equivariance and invariance on random MLPs"


@dataclass(frozen=True, kw_only=True)
class EquivarianceRow(Row):
    """Largest absolute errors on random MLPs of one architecture (row: its widths joined by ``-``)."""

    parameters: int
    equivariance_f32: float
    invariance_f32: float
    equivariance_f64: float
    invariance_f64: float
    function_change: float
    weight_change: float
    input_permutation_error: float
    matching_exact: bool


@dataclass(frozen=True, kw_only=True)
class CountRow(Row):
    """A DWS layer's free parameters per channel pair against the character formula, in total and per block."""

    layer_parameters: int
    character_formula: int
    WW_layer: int
    WB_layer: int
    BW_layer: int
    BB_layer: int
    WW_formula: int
    WB_formula: int
    BW_formula: int
    BB_formula: int


def _ids(architectures: list[list[int]]) -> list[str]:
    return ["-".join(map(str, w)) for w in architectures]


TABLES = {"equivariance": Table(EquivarianceRow, rows=lambda cfg: _ids(cfg["architectures"])),
          "counts": Table(CountRow, rows=lambda cfg: _ids(cfg["count_architectures"]))}


def config(profile: str) -> dict[str, Any]:
    return {"architectures": [[2, 32, 32, 1], [3, 8, 1], [4, 16, 8, 16, 2], [5, 10, 10, 10, 10, 3]],
            "count_architectures": [[2, 3, 1], [1, 2, 3, 2], [2, 3, 2], [3, 2, 2, 2], [2, 4, 3, 1]],
            "batch": 8, "channels": [3, 5]}  # nothing is trained


def _max_diff(a: WeightSpace, b: WeightSpace) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a.tensors(), b.tensors()))


def _check(widths: list[int], cfg: dict[str, Any], g: torch.Generator) -> EquivarianceRow:
    c_in, c_out = cfg["channels"]
    row: dict[str, Any] = {"row": "-".join(map(str, widths)), "parameters": num_parameters(widths)}
    for dtype, name in ((torch.float32, "f32"), (torch.float64, "f64")):
        x = WeightSpace.randn(widths, cfg["batch"], c_in, g, dtype)
        perms = x.random_permutations(g)
        layer = DWSLayer(widths, c_in, c_out).to(dtype)
        net = DWSNet(widths, 4, hidden=8, layers=3, head_hidden=16).to(dtype).eval()
        with torch.no_grad():
            row[f"equivariance_{name}"] = _max_diff(layer(x.permute(perms)), layer(x).permute(perms))
            single = x.map(lambda t: t[:, :1])
            row[f"invariance_{name}"] = (net(single.permute(perms)) - net(single)).abs().max().item()
    x = WeightSpace.randn(widths, cfg["batch"], 1, g)
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
    return EquivarianceRow(**row)


def _count(widths: list[int]) -> CountRow:
    return CountRow(row="-".join(map(str, widths)), layer_parameters=parameters_per_channel_pair(widths),
                    character_formula=character_dimension(widths),
                    **{f"{b}_layer": parameters_per_channel_pair(widths, (b,)) for b in BLOCKS},
                    **{f"{b}_formula": character_dimension(widths, (b,)) for b in BLOCKS})


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    if len(cfg["channels"]) != 2:
        raise ValueError(f"channels must be [input channels, output channels]; got {cfg['channels']}")
    g = torch.Generator().manual_seed(ctx.seed)
    rows = [_check(widths, cfg, g) for widths in cfg["architectures"]]
    counts = [_count(widths) for widths in cfg["count_architectures"]]
    worst = {k: max(getattr(r, k) for r in rows) for k in ("equivariance_f32", "equivariance_f64", "invariance_f32",
                                                           "invariance_f64", "function_change")}
    return Outputs(metrics={**{f"max_{k}": v for k, v in worst.items()},
                            "min_input_permutation_error": min(r.input_permutation_error for r in rows),
                            "counts_match": all(c.layer_parameters == c.character_formula for c in counts),
                            "matching_exact": all(r.matching_exact for r in rows)},
                   tables={"equivariance": rows, "counts": counts},
                   data={"split": f"random Gaussian MLP weights, {cfg['batch']} MLPs per architecture (no dataset)"})
