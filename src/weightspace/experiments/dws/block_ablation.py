"""App. K.2, block ablation: which of the W->W, W->B, B->W, B->B blocks a DWSNet needs (MNIST INR classification).

The same DWSNet is trained on the same INR zoo with only some blocks of every
DWS layer switched on (``DWSLayer(blocks=...)``); the paper finds the W->W block
contributes most and each added block helps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weightspace import data as datasets
from weightspace.dws.layers import check_blocks
from weightspace.dws.zoos import ZooSplits, image_inr_zoo, train_method
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws.inr_classification import config as classification_config
from weightspace.tables import Row, Table

TITLE = "DWSNets, App. K.2: block ablation on MNIST INR classification"
VARIANTS = {"WW": ["WW"], "WW+BB": ["WW", "BB"], "WW+WB+BW": ["WW", "WB", "BW"], "all": ["WW", "WB", "BW", "BB"]}


@dataclass(frozen=True, kw_only=True)
class AblationRow(Row):
    """A DWSNet with the blocks ``blocks`` only: test and best validation accuracy (%), size, training time."""

    blocks: str
    accuracy: float
    val_accuracy: float
    parameters: int
    train_time_s: float


TABLES = {"ablation": Table(AblationRow, rows=lambda cfg: list(cfg["variants"]))}


def config(profile: str) -> dict[str, Any]:
    """The zoo and DWSNet recipe of the MNIST INR classification at ``profile`` (quick: 8 channels, 200 steps)."""
    base = classification_config(profile)
    cfg = {k: base[k] for k in ("dataset", "split", "inrs", "splits", "inr", "augment", "zoo_seed")}
    recipe = base["recipes"]["dwsnet"]
    model = base["models"]["dwsnet"]
    if profile == "quick":
        model = {**model, "hidden": 8}
        recipe = {**recipe, "steps": 200}
    return {**cfg, "variants": VARIANTS, "model": model, "recipes": {"dwsnet": recipe}}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    for blocks in cfg["variants"].values():
        check_blocks(blocks)
    images = datasets.load(cfg["dataset"], cfg["split"])
    fitted = image_inr_zoo(images, cfg["inrs"], cfg["inr"], cfg["zoo_seed"], ctx.device)
    splits = ZooSplits.cut(fitted.zoo, tuple(cfg["splits"]))
    progress = ctx.checkpoint("variants")
    done: dict[str, Any] = progress.load() or {}
    for name, blocks in cfg["variants"].items():
        if name in done:
            continue
        run = train_method("dwsnet", splits, 10, {**cfg["model"], "blocks": blocks}, cfg["recipes"]["dwsnet"],
                           cfg["augment"], ctx.seed * 1000, ctx.device)
        done[name] = {"accuracy": run.score, "val_accuracy": run.outcome.accuracy, "parameters": run.parameters,
                      "train_time_s": run.train_time_s, "curve": run.outcome.curve}
        progress.save(done)
    progress.remove()
    table = [AblationRow(row=name, blocks="+".join(cfg["variants"][name]),
                         **{k: v for k, v in done[name].items() if k != "curve"}) for name in cfg["variants"]]
    summary = fitted.summary()
    split = (f"{summary['inrs']:,} MNIST INRs ({images.description['split']}), "
             f"split {' / '.join(f'{n:,}' for n in cfg['splits'])}; mean PSNR {summary['mean_psnr']:.1f} dB")
    return Outputs(metrics={r.row: r.accuracy for r in table}, tables={"ablation": table},
                   curves={name: done[name]["curve"] for name in cfg["variants"]}, data={"split": split})
