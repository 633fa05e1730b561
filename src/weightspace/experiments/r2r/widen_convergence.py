"""Section 5.2.1, Fig. 6: a converged teacher widened by R2WiderR, random padding or Net2WiderNet, vs scratch.

The teacher (half the filters of every branch conv) is trained to convergence; each student
has the base network's architecture and trains for 7000 updates with the
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
from weightspace.r2r.growing import average_pooled, net2wider_all, section52_specs, widen_all
from weightspace.tables import Table

TITLE = "R2R, Fig. 6: widening a converged teacher"
TABLES = {"fig6": Table(ConvergenceRow, rows=students)}


def config(profile: str) -> dict[str, Any]:
    return convergence_config(profile)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    check_methods(cfg["methods"])
    images = average_pooled(data.load(cfg["dataset"], cfg["split"]), cfg["downsample"]).to(ctx.device)
    nets = section52_specs(images, cfg["widths"], cfg["fc"], cfg["kernel"])
    transforms = {"r2r": widen_all(nets["wide_teacher"], nets["base"], init=cfg["init"]),
                  "random": widen_all(nets["wide_teacher"], nets["base"], new="random", init=cfg["init"]),
                  "net2net": net2wider_all(nets["base"]), "scratch": None}
    return convergence(cfg, ctx, images, nets["wide_teacher"], nets["base"], transforms, "fig6", tag="widen")
