"""Section 6, INR classification: classify the image an INR represents from the INR's weights, every method.

One sine INR (2 -> 32 -> 32 -> 1, 1,185 weights) is fitted per image with the
authors' recipe (:mod:`weightspace.dws.inr`); every method then learns the
image's class from the INR weights alone, with the same optimiser, steps and
batch size, keeping the best validation step and reporting test accuracy.
``full``: 70,000 MNIST INRs (55k / 5k / 10k), the authors' DWSNet (5 layers of 32
channels, BatchNorm) and AdamW (AMSGrad) lr 5e-3, wd 5e-4, batch 512, 100 epochs.
``quick``: INRs of the offline MNIST test split, fitted for fewer steps at a higher
learning rate, and smaller models trained for a few hundred steps.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from weightspace.dws.inr import MNIST_INR_WIDTHS, INRRecipe, fit_inrs, mnist_inr_targets
from weightspace.dws.models import METHODS
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws import ZooSplits, image_inr_zoo, train_method

TITLE = "DWSNets: classifying MNIST INRs from their weights"
DATASET = "mnist"


def full_config(dataset: str) -> dict[str, Any]:
    """The paper's recipe for the INR classification of ``dataset`` (70,000 INRs, 55k / 5k / 10k)."""
    recipe = {"steps": 10_800, "batch_size": 512, "lr": 5e-3, "optimizer": "adamw", "schedule": "constant",
              "weight_decay": 5e-4, "eval_every": 108}  # 100 epochs of 55,000 INRs
    return {
        "dataset": dataset, "inrs": 70_000, "splits": [55_000, 5_000, 10_000],
        "inr": {"steps": 1000, "lr": 5e-4, "stop_psnr": 40.0, "chunk": 1000},
        "methods": list(METHODS),
        "models": {"dwsnet": {"hidden": 32, "layers": 5, "head_hidden": 128, "batch_norm": True},
                   "mlp": {"hidden": 512, "layers": 4}, "mlp_perm": {"hidden": 512, "layers": 4},
                   "mlp_align": {"hidden": 512, "layers": 4}, "deepsets": {"hidden": 128},
                   "transformer": {"d_model": 64, "heads": 4, "layers": 4}, "inr2vec": {"hidden": 256}},
        "recipes": {m: recipe for m in METHODS},
        "augment": {"translation": 0.1, "rotation_deg": 45.0, "scale": [0.8, 1.2], "dropout": 0.01},
        "speed_sample": 64,
    }


def config(profile: str) -> dict[str, Any]:
    full = full_config(DATASET)
    if profile == "full":
        return full
    recipe = {"steps": 250, "batch_size": 32, "lr": 5e-3, "optimizer": "adamw", "schedule": "one_cycle",
              "weight_decay": 5e-4, "eval_every": 25}
    return {**full, "inrs": 1000, "splits": [800, 50, 150],
            "inr": {"steps": 40, "lr": 5e-3, "stop_psnr": 40.0, "chunk": 100},
            "models": {**full["models"], "dwsnet": {"hidden": 16, "layers": 3, "head_hidden": 64,
                                                    "batch_norm": True},
                       "transformer": {"d_model": 32, "heads": 4, "layers": 1}, "inr2vec": {"hidden": 128}},
            "recipes": {m: recipe for m in METHODS}, "augment": {}, "speed_sample": 16}


def fitting_speed(ctx: RunContext, recipe: dict[str, Any], sample: int) -> dict[str, float]:
    """INRs fitted per second on random 28x28 targets: ``recipe["chunk"]`` INRs as one tensor program, and
    ``sample`` INRs one at a time (same recipe, every INR running every step)."""
    timed = {"stop_psnr": float("inf")}
    rates = {}
    for name, n, chunk in (("batched", recipe["chunk"], recipe["chunk"]), ("single", sample, 1)):
        targets, coords = mnist_inr_targets(torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
        started = time.time()
        fit_inrs(targets.to(ctx.device), coords.to(ctx.device), range(n),
                 INRRecipe(**{**recipe, **timed, "chunk": chunk}), desc=name)
        rates[f"inrs_per_second_{name}"] = n / (time.time() - started)
    return {**rates, "speed_batch": recipe["chunk"], "speed_sample": sample, "speed_steps": recipe["steps"]}


def classification(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    """Fit (or load) the zoo and train every method of ``cfg`` on it."""
    unknown = [m for m in cfg["methods"] if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    zoo = image_inr_zoo(ctx, cfg["dataset"], cfg["inrs"], cfg["inr"], ctx.seed)
    splits = ZooSplits.cut(zoo.params, zoo.labels, tuple(cfg["splits"]), MNIST_INR_WIDTHS)
    progress = ctx.checkpoint("methods")
    done: dict[str, Any] = progress.load() or {}
    for i, method in enumerate(cfg["methods"]):
        if method in done:
            continue
        out = train_method(method, splits, 10, cfg["models"][method], cfg["recipes"][method], cfg["augment"],
                           ctx.seed * 1000 + i, ctx.device)
        out.pop("model")
        out.pop("test_inputs")
        done[method] = out
        progress.save(done)
    progress.remove()
    table = [{k: v for k, v in done[m].items() if k != "curve"} | {"accuracy": done[m]["score"]}
             for m in cfg["methods"]]
    speed = fitting_speed(ctx, cfg["inr"], cfg["speed_sample"])
    summary = zoo.summary()
    metrics = {**{r["row"]: r["accuracy"] for r in table}, **speed,
               **{f"zoo_{k}": v for k, v in summary.items()}}
    split = (f"{summary['inrs']:,} INRs of {cfg['dataset']} images ({'offline MNIST test split' if ctx.profile == 'quick' else 'train + test'}), "
             f"split {' / '.join(f'{n:,}' for n in cfg['splits'])}; INR fit: {cfg['inr']['steps']} Adam steps, "
             f"lr {cfg['inr']['lr']}, mean PSNR {summary['mean_psnr']:.1f} dB")
    return Outputs(metrics=metrics, tables={"classification": table},
                   curves={m: done[m]["curve"] for m in cfg["methods"]},
                   data={"split": split, "zoo": summary, "psnr": zoo.psnr.tolist()[:2000]})


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return classification(cfg, ctx)
