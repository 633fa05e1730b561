"""Section 5.2.2, Fig. 7: R2DeeperR before update 0, 1500, 3000 or 4500 of 6000; accuracy against updates and FLOPs.

The teacher has two of the base network's three residual blocks (the third is
the zero padding of the stream alone); R2DeeperR adds the third block's branch,
which makes it the base network. Each run
trains the same teacher (same initialisation and batches) up to its transform
point, then the student with the learning rate rescaled by the parameter ratio
(App. C.3). Training FLOPs are counted with ``torch.utils.flop_counter``.
"""

from __future__ import annotations

from typing import Any

from weightspace import data
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.r2r._section52 import ScheduleRow, quarters, schedule, schedule_config
from weightspace.r2r.growing import average_pooled, deepen_all, section52_specs
from weightspace.tables import Table

TITLE = "R2R, Fig. 7: deepening at different points of training"
TABLES = {"fig7": Table(ScheduleRow, rows=quarters)}


def config(profile: str) -> dict[str, Any]:
    return schedule_config(profile)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    images = average_pooled(data.load(cfg["dataset"], cfg["split"]), cfg["downsample"]).to(ctx.device)
    nets = section52_specs(images, cfg["widths"], cfg["fc"], cfg["kernel"])
    transform = deepen_all(nets["deep_teacher"], nets["base"], init=cfg["init"])
    return schedule(cfg, ctx, images, nets["deep_teacher"], transform, "fig7", tag="deepen")
