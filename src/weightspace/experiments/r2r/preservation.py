"""Section 3: every transform on every layer and kernel size preserves the function; degrees of freedom (3.4).

For each kernel size, a random residual network (plain conv units, residual
blocks with one- and two-unit branches, a block that pads the stream to more
channels, a block without a branch: the identity layer of the Section 5.2
deepening teacher) with random BatchNorm statistics and affine parameters in eval mode is
transformed at every place each transform applies: R2WiderR as a parallel block
and by concatenation, R2DeeperR at every depth and into the identity block,
Net2WiderNet and Net2DeeperNet.
The largest absolute output difference between student and teacher is measured
on random inputs in float64 and float32; random padding is the control that
does not preserve the function. The new parameters and the free ones (Section
3.4: R2R keeps K of 2K, Net2Net none) are counted from the networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.r2r.networks import (BlockSpec, NetSpec, ResNet, StageSpec, build, parameter_count,
                                      randomize_batch_norm)
from weightspace.r2r.transforms import degrees_of_freedom, net2_deeper_net, net2_wider_net, r2_deeper_r, r2_wider_r
from weightspace.tables import Row, Table

TITLE = "R2R, Section 3: function preservation of every transform"
TRANSFORMS = ("R2WiderR", "R2DeeperR", "Net2WiderNet", "Net2DeeperNet", "Random padding")
KIND = {"R2WiderR": "r2r", "R2DeeperR": "r2r", "Net2WiderNet": "net2net", "Net2DeeperNet": "net2net",
        "Random padding": "random"}


@dataclass(frozen=True, kw_only=True)
class PreservationRow(Row):
    """One transform over every place it was applied: the largest output difference and its new and free parameters."""

    places: int
    max_error: float
    max_error_float32: float
    new_parameters: int
    free_parameters: int
    free_fraction: float


@dataclass(frozen=True, kw_only=True)
class Detail:
    """One transformed network: the transform, where it acted, kernel size, precision, error and parameters."""

    transform: str
    place: str
    kernel: int
    dtype: str
    max_error: float
    new_parameters: int
    free_parameters: int


TABLES = {"preservation": Table(PreservationRow, rows=TRANSFORMS), "details": Table(Detail)}


def config(profile: str) -> dict[str, Any]:
    # no training: the same check at both profiles
    return {"kernels": [1, 3, 5], "widths": [8, 12], "image_size": 16, "batch": 16, "hidden": 4}


def random_network(cfg: dict[str, Any], kernel: int, seed: int) -> ResNet:
    """The test network: stage 1 = 2 plain units + blocks with 2- and 1-unit branches; stage 2 pads to more channels,
    then an identity block (no branch)."""
    seed_everything(seed)
    w1, w2 = cfg["widths"]
    spec = NetSpec(3, cfg["image_size"], (
        StageSpec(w1, convs=(kernel, kernel), blocks=(BlockSpec((w1 // 2, w1), (kernel, kernel)),
                                                       BlockSpec((w1 // 2,), (kernel,)))),
        StageSpec(w2, blocks=(BlockSpec((w2 // 2, w2 // 2), (kernel, kernel)), BlockSpec((), ()))),
    ), fc=32)
    net = build(spec)
    return randomize_batch_norm(net)


def sites(net: ResNet, cfg: dict[str, Any], kernel: int, batch: torch.Tensor,
          g: torch.Generator) -> list[tuple[str, str, Callable[[ResNet], ResNet]]]:
    """(transform, place, student maker) for every place each transform applies to."""
    h = cfg["hidden"]
    out: list[tuple[str, str, Callable[[ResNet], ResNet]]] = []
    for s, stage in enumerate(net.stages):
        for b, block in enumerate(stage.blocks):
            out.append(("R2WiderR", f"stage {s} block {b}, parallel k{kernel}",
                        lambda n, s=s, b=b: r2_wider_r(n, s, b, h, kernel, generator=g)))
            if not block.branches:
                out.append(("R2DeeperR", f"stage {s} block {b}, into the identity block",
                            lambda n, s=s, b=b: r2_deeper_r(n, s, b, (h, h), kernel, into_identity=True,
                                                            generator=g)))
                continue
            for u, unit in enumerate(block.branches[0].units):
                place = f"stage {s} block {b} unit {u}"
                out.append(("R2WiderR", f"{place}, concatenated",
                            lambda n, s=s, b=b, u=u: r2_wider_r(n, s, b, h, mode="concat", unit=u, generator=g)))
                out.append(("Net2WiderNet", place, lambda n, s=s, b=b, u=u, w=unit.out_channels:
                            net2_wider_net(n, s, b, w + h, unit=u, generator=g)))
                out.append(("Net2DeeperNet", f"{place}, after",
                            lambda n, s=s, b=b, u=u: net2_deeper_net(n, s, u, block=b, batch=batch)))
                out.append(("Random padding", f"{place}, concatenated",
                            lambda n, s=s, b=b, u=u: r2_wider_r(n, s, b, h, mode="concat", unit=u, new="random",
                                                                generator=g)))
        for pos in range(len(stage.blocks) + 1):
            out.append(("R2DeeperR", f"stage {s} position {pos}",
                        lambda n, s=s, p=pos: r2_deeper_r(n, s, p, h, kernel, generator=g)))
        for u in range(len(stage.convs)):
            out.append(("Net2DeeperNet", f"stage {s} plain unit {u}, after",
                        lambda n, s=s, u=u: net2_deeper_net(n, s, u, batch=batch)))
    return out


@torch.no_grad()
def _error(teacher: ResNet, student: ResNet, x: torch.Tensor) -> float:
    teacher.eval(), student.eval()
    return (teacher(x) - student(x)).abs().max().item()


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    details = []
    for kernel in cfg["kernels"]:
        base = random_network(cfg, kernel, ctx.seed * 100 + kernel)
        for dtype in (torch.float64, torch.float32):
            net = base.to(dtype)
            g = torch.Generator().manual_seed(ctx.seed)
            x = torch.randn(cfg["batch"], 3, cfg["image_size"], cfg["image_size"], generator=g).to(dtype)
            batch = torch.randn(4 * cfg["batch"], 3, cfg["image_size"], cfg["image_size"], generator=g).to(dtype)
            for transform, place, make in sites(net, cfg, kernel, batch, g):
                student = make(net)
                new = parameter_count(student) - parameter_count(net)
                details.append(Detail(transform=transform, place=place, kernel=kernel,
                                      dtype=str(dtype).replace("torch.", ""), max_error=_error(net, student, x),
                                      new_parameters=new, free_parameters=degrees_of_freedom(KIND[transform], new)))
    rows = []
    for transform in TRANSFORMS:
        mine = [d for d in details if d.transform == transform]
        f64 = [d.max_error for d in mine if d.dtype == "float64"]
        f32 = [d.max_error for d in mine if d.dtype == "float32"]
        new, free = sum(d.new_parameters for d in mine), sum(d.free_parameters for d in mine)
        rows.append(PreservationRow(row=transform, places=len(f64), max_error=max(f64), max_error_float32=max(f32),
                                    new_parameters=new, free_parameters=free, free_fraction=free / new))
    return Outputs(metrics={r.row: r.max_error for r in rows}, tables={"preservation": rows, "details": details},
                   data={"split": "random inputs and random networks (no dataset)"})
