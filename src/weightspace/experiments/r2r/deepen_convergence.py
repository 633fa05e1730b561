"""Section 5.2.2, Fig. 8: a converged teacher deepened by R2DeeperR, random padding or Net2DeeperNet, vs scratch.

The two-layer teacher is trained to convergence; the R2R and random students
have the base network's architecture (Net2DeeperNet adds a plain identity conv
unit instead); each trains for 7000 updates with the
learning rate rescaled by the parameter ratio (App. C.3); the base network
trained from scratch is the comparison. ``updates_to_teacher`` is the first
evaluated update at which a run reaches the teacher's accuracy,
``updates_to_converge`` the first within half a point of the run's best.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.r2r import convergence, convergence_config

TITLE = "R2R, Fig. 8: deepening a converged teacher"


def config(profile: str) -> dict[str, Any]:
    return convergence_config(profile)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    out = convergence(cfg, ctx, "deepen")
    return Outputs(metrics={r["row"]: r["accuracy"] for r in out["rows"]}, tables={"fig8": out["rows"]},
                   curves=out["curves"], data=out["data"].description)
