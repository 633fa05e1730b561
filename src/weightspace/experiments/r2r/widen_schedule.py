"""Section 5.2.1, Fig. 5: R2WiderR before update 0, 1500, 3000 or 4500 of 6000; accuracy against updates and FLOPs.

The teacher has half the filters of every conv in the base network's residual
branches; R2WiderR (concatenation, App. C.1, on each of the three convs) grows it
into the base network. Each run
trains the same teacher (same initialisation and batches) up to its transform
point, then the student with the learning rate rescaled by the parameter ratio
(App. C.3). Training FLOPs are counted with ``torch.utils.flop_counter``.
"""

from __future__ import annotations

from typing import Any

from weightspace import data
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.r2r._section52 import ScheduleRow, quarters, schedule, schedule_config
from weightspace.r2r.growing import average_pooled, widen_all, section52_specs
from weightspace.tables import Table

TITLE = "R2R, Fig. 5: widening at different points of training"
TABLES = {"fig5": Table(ScheduleRow, rows=quarters)}


def config(profile: str) -> dict[str, Any]:
    return schedule_config(profile)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    images = average_pooled(data.load(cfg["dataset"], cfg["split"]), cfg["downsample"]).to(ctx.device)
    nets = section52_specs(images, cfg["widths"], cfg["fc"], cfg["kernel"])
    transform = widen_all(nets["wide_teacher"], nets["base"], init=cfg["init"])
    return schedule(cfg, ctx, images, nets["wide_teacher"], transform, "fig5", tag="widen")
