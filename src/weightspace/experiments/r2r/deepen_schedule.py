"""Section 5.2.2, Fig. 7: R2DeeperR before update 0, 1500, 3000 or 4500 of 6000; accuracy against updates and FLOPs.

The teacher has two conv-BN-ReLU layers per stage; R2DeeperR adds the third,
a residual R2R block, which makes it the base network. Each run
trains the same teacher (same initialisation and batches) up to its transform
point, then the student with the learning rate rescaled by the parameter ratio
(App. C.3). Training FLOPs are counted with ``torch.utils.flop_counter``.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.r2r import schedule, schedule_config

TITLE = "R2R, Fig. 7: deepening at different points of training"


def config(profile: str) -> dict[str, Any]:
    return schedule_config(profile)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    out = schedule(cfg, ctx, "deepen")
    return Outputs(metrics={r["row"]: r["accuracy"] for r in out["rows"]}, tables={"fig7": out["rows"]},
                   curves=out["curves"], data=out["data"].description)
