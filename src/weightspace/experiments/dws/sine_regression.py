"""Section 6, sine-wave regression: predict a sine wave's frequency from its INR's weights (test MSE vs data).

Each INR fits ``sin(a x)`` on ``[-pi, pi]`` with ``a ~ U(0.5, 10)``; every method
regresses ``a`` from the INR weights alone, trained on 50 to 800 INRs with the
same recipe, and is scored by test MSE (the paper's figure). ``quick`` fits fewer,
narrower INRs (stated on the page) and trains for fewer steps.
"""

from __future__ import annotations

from typing import Any

from weightspace.data import Split
from weightspace.dws.inr import SINE_INR_WIDTHS, sine_waves
from weightspace.dws.models import METHODS
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws import ZooSplits, train_method, wave_zoo
from weightspace.training import REGRESSION

TITLE = "DWSNets: sine-wave regression from INR weights"


def config(profile: str) -> dict[str, Any]:
    recipe = {"steps": 5000, "batch_size": 32, "lr": 1e-3, "optimizer": "adamw", "schedule": "constant",
              "weight_decay": 5e-4, "eval_every": 100}
    full = {
        "inr": {"widths": list(SINE_INR_WIDTHS), "steps": 1000, "lr": 1e-3, "stop_psnr": 40.0, "offset": 0.0,
                "chunk": 1000},
        "points": 1000, "train_sizes": [50, 100, 200, 400, 800], "val": 200, "test": 1000,
        "methods": list(METHODS),
        "models": {"dwsnet": {"hidden": 8, "layers": 4, "head_hidden": 32, "batch_norm": True},
                   "mlp": {"hidden": 256, "layers": 3}, "mlp_perm": {"hidden": 256, "layers": 3},
                   "mlp_align": {"hidden": 256, "layers": 3}, "deepsets": {"hidden": 64},
                   "transformer": {"d_model": 32, "heads": 4, "layers": 2}, "inr2vec": {"hidden": 64}},
        "recipes": {m: recipe for m in METHODS}, "augment": {},
    }
    if profile == "full":
        return full
    quick_recipe = {**recipe, "steps": 120, "lr": 3e-3, "schedule": "one_cycle", "eval_every": 40}
    return {**full, "inr": {**full["inr"], "widths": [1, 16, 16, 1], "steps": 150, "lr": 3e-3, "chunk": 250},
            "points": 128, "train_sizes": [50, 200, 800], "val": 100, "test": 200,
            "recipes": {m: quick_recipe for m in METHODS}}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [m for m in cfg["methods"] if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    n = max(cfg["train_sizes"]) + cfg["val"] + cfg["test"]
    zoo = wave_zoo(ctx, "sine_inrs", n, cfg["points"], cfg["inr"], sine_waves)
    widths = tuple(cfg["inr"]["widths"])
    largest = max(cfg["train_sizes"])
    pool = ZooSplits.cut(zoo.params, zoo.labels.float(), (largest, cfg["val"], cfg["test"]), widths)
    progress = ctx.checkpoint("runs")
    done: dict[str, Any] = progress.load() or {}
    for i, method in enumerate(cfg["methods"]):
        for n in cfg["train_sizes"]:
            key = f"{method}/{n}"
            if key in done:
                continue
            splits = ZooSplits(Split(pool.train.x[:n], pool.train.y[:n]), pool.val, pool.test, widths)
            recipe = {**cfg["recipes"][method], "batch_size": min(cfg["recipes"][method]["batch_size"], n)}
            out = train_method(method, splits, 1, cfg["models"][method], recipe, cfg["augment"],
                               ctx.seed * 1000 + i, ctx.device, objective=REGRESSION)
            done[key] = {"mse": out["loss"], "best_step": out["best_step"], "train_time_s": out["train_time_s"]}
            progress.save(done)
    progress.remove()
    table = [{"row": m, **{f"mse_{n}": done[f"{m}/{n}"]["mse"] for n in cfg["train_sizes"]}} for m in cfg["methods"]]
    summary = zoo.summary()
    split = (f"{summary['inrs']:,} sine-wave INRs {tuple(widths)} fitted by the project ({cfg['points']} points, "
             f"{cfg['inr']['steps']} Adam steps, mean PSNR {summary['mean_psnr']:.1f} dB); train "
             f"{'/'.join(map(str, cfg['train_sizes']))}, validation {cfg['val']}, test {cfg['test']}")
    return Outputs(metrics={f"{m}/{n}": done[f"{m}/{n}"]["mse"] for m in cfg["methods"] for n in cfg["train_sizes"]}
                   | {f"zoo_{k}": v for k, v in summary.items()},
                   tables={"sine": table}, curves={"train_sizes": cfg["train_sizes"]}, data={"split": split})
