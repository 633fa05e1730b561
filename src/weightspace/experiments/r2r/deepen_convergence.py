"""Section 5.2.2, Fig. 8: a converged teacher deepened by R2DeeperR, random padding or Net2DeeperNet, vs scratch.

The two-layer teacher (the third residual block has no branch: the zero padding
of the stream) is trained to convergence; R2DeeperR gives that block its branch
(conv-BN-ReLU twice and an R2R block), so the R2R and random students have the
base network's architecture (Net2DeeperNet, which has no zero block, adds an
identity conv unit to each existing branch instead); each trains for 7000 updates with the
learning rate rescaled by the parameter ratio (App. C.3); the base network
trained from scratch is the comparison. ``updates_to_teacher`` is the first
evaluated update at which a run reaches the teacher's accuracy,
``updates_to_converge`` the first within half a point of the run's best.
"""

from __future__ import annotations

from typing import Any

from weightspace import data
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.r2r._section52 import (ConvergenceRow, check_methods, convergence, convergence_config,
                                                   students)
from weightspace.r2r.growing import average_pooled, deepen_all, net2deeper_all, section52_specs
from weightspace.tables import Table

TITLE = "R2R, Fig. 8: deepening a converged teacher"
TABLES = {"fig8": Table(ConvergenceRow, rows=students)}


def config(profile: str) -> dict[str, Any]:
    return convergence_config(profile)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    check_methods(cfg["methods"])
    images = average_pooled(data.load(cfg["dataset"], cfg["split"]), cfg["downsample"]).to(ctx.device)
    nets = section52_specs(images, cfg["widths"], cfg["fc"], cfg["kernel"])
    transforms = {"r2r": deepen_all(nets["deep_teacher"], nets["base"], init=cfg["init"]),
                  "random": deepen_all(nets["deep_teacher"], nets["base"], new="random", init=cfg["init"]),
                  "net2net": net2deeper_all(), "scratch": None}
    return convergence(cfg, ctx, images, nets["deep_teacher"], nets["base"], transforms, "fig8", tag="deepen")
