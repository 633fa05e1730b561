"""Section 5.2.1, Fig. 5: R2WiderR before update 0, 1500, 3000 or 4500 of 6000; accuracy against updates and FLOPs.

The teacher has half the internal width of the base network's residual blocks;
R2WiderR (concatenation, App. C.1) grows it into the base network. Each run
trains the same teacher (same initialisation and batches) up to its transform
point, then the student with the learning rate rescaled by the parameter ratio
(App. C.3). Training FLOPs are counted with ``torch.utils.flop_counter``.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.r2r import schedule, schedule_config

TITLE = "R2R, Fig. 5: widening at different points of training"


def config(profile: str) -> dict[str, Any]:
    return schedule_config(profile)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    out = schedule(cfg, ctx, "widen")
    return Outputs(metrics={r["row"]: r["accuracy"] for r in out["rows"]}, tables={"fig5": out["rows"]},
                   curves=out["curves"], data=out["data"].description)
