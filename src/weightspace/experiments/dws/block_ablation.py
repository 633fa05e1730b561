"""App. K.2, block ablation: which of the W->W, W->B, B->W, B->B blocks a DWSNet needs (MNIST INR classification).

The same DWSNet is trained on the same INR zoo with only some blocks of every
DWS layer switched on (``DWSLayer(blocks=...)``); the paper finds the W->W block
contributes most and each added block helps.
"""

from __future__ import annotations

from typing import Any

from weightspace.dws.inr import MNIST_INR_WIDTHS
from weightspace.dws.layers import check_blocks
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws import ZooSplits, image_inr_zoo, train_method
from weightspace.experiments.dws.inr_classification import config as classification_config

TITLE = "DWSNets, App. K.2: block ablation on MNIST INR classification"
VARIANTS = {"WW": ["WW"], "WW+BB": ["WW", "BB"], "WW+WB+BW": ["WW", "WB", "BW"], "all": ["WW", "WB", "BW", "BB"]}


def config(profile: str) -> dict[str, Any]:
    base = classification_config(profile)
    cfg = {k: base[k] for k in ("dataset", "inrs", "splits", "inr", "augment")}
    recipe = base["recipes"]["dwsnet"]
    model = base["models"]["dwsnet"]
    if profile == "quick":
        model = {**model, "hidden": 8}
        recipe = {**recipe, "steps": 150}
    return {**cfg, "variants": VARIANTS, "model": model, "recipes": {"dwsnet": recipe}}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    for blocks in cfg["variants"].values():
        check_blocks(blocks)
    zoo = image_inr_zoo(ctx, cfg["dataset"], cfg["inrs"], cfg["inr"], ctx.seed)
    splits = ZooSplits.cut(zoo.params, zoo.labels, tuple(cfg["splits"]), MNIST_INR_WIDTHS)
    progress = ctx.checkpoint("variants")
    done: dict[str, Any] = progress.load() or {}
    for name, blocks in cfg["variants"].items():
        if name in done:
            continue
        out = train_method("dwsnet", splits, 10, {**cfg["model"], "blocks": blocks}, cfg["recipes"]["dwsnet"],
                           cfg["augment"], ctx.seed * 1000, ctx.device)
        out.pop("model")
        out.pop("test_inputs")
        done[name] = out
        progress.save(done)
    progress.remove()
    table = [{"row": name, "blocks": "+".join(cfg["variants"][name]), "accuracy": done[name]["score"],
              "val_accuracy": done[name]["val_score"], "parameters": done[name]["parameters"],
              "train_time_s": done[name]["train_time_s"]} for name in cfg["variants"]]
    summary = zoo.summary()
    split = (f"{summary['inrs']:,} MNIST INRs ({'offline MNIST test split' if ctx.profile == 'quick' else 'train + test'}), "
             f"split {' / '.join(f'{n:,}' for n in cfg['splits'])}; mean PSNR {summary['mean_psnr']:.1f} dB")
    return Outputs(metrics={r["row"]: r["accuracy"] for r in table}, tables={"ablation": table},
                   curves={name: done[name]["curve"] for name in cfg["variants"]}, data={"split": split})
