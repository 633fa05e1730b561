"""Section 6, sine-wave regression: predict a sine wave's frequency from its INR's weights (test MSE vs data).

Each INR fits ``sin(a x)`` on ``[-pi, pi]`` with ``a ~ U(0.5, 10)``; every method
regresses ``a`` from the INR weights alone, trained on 50 to 800 INRs with the
same recipe, and is scored by test MSE (the paper's figure). ``quick`` fits fewer,
narrower INRs with SIREN's init in every layer (stated on the page) and trains for fewer steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weightspace.dws.inr import SINE_INR_WIDTHS, sine_waves
from weightspace.dws.models import METHODS
from weightspace.dws.space import Zoo
from weightspace.dws.zoos import ZooSplits, train_method, wave_zoo
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws._presets import adamw, models
from weightspace.tables import Row, Table
from weightspace.training import REGRESSION

TITLE = "DWSNets: sine-wave regression from INR weights"


@dataclass(frozen=True, kw_only=True)
class SineRow(Row):
    """One method trained on ``train_size`` INRs (row ``"<method>/<train_size>"``)."""

    method: str
    train_size: int
    mse: float
    best_step: int
    train_time_s: float


def _rows(cfg: dict[str, Any]) -> list[str]:
    return [f"{m}/{n}" for m in cfg["methods"] for n in cfg["train_sizes"]]


TABLES = {"sine": Table(SineRow, rows=_rows)}


def config(profile: str) -> dict[str, Any]:
    full = {
        "inr": {"widths": list(SINE_INR_WIDTHS), "steps": 1000, "lr": 1e-3, "stop_psnr": 40.0, "offset": 0.0,
                "init": "authors"},
        "points": 1000, "train_sizes": [50, 100, 200, 400, 800], "val": 200, "test": 1000,
        "methods": list(METHODS), "models": models("small", "8x4"),
        "recipes": {m: adamw(5000, 32, 1e-3, 100) for m in METHODS}, "augment": {},
    }
    if profile == "full":
        return full
    # SIREN's init everywhere: with the authors' last layer these narrow INRs fit to about 20 dB in 150 steps, not 33
    return {**full, "inr": {**full["inr"], "widths": [1, 16, 16, 1], "steps": 150, "lr": 3e-3, "init": "siren"},
            "points": 128, "train_sizes": [50, 200, 800], "val": 100, "test": 200,
            "recipes": {m: adamw(120, 32, 3e-3, 40, "one_cycle") for m in METHODS}}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [m for m in cfg["methods"] if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    largest = max(cfg["train_sizes"])
    fitted = wave_zoo("sine_inrs", largest + cfg["val"] + cfg["test"], cfg["points"], cfg["inr"], sine_waves,
                      ctx.seed, ctx.device)
    zoo = Zoo(fitted.zoo.params, fitted.zoo.targets.float(), fitted.zoo.widths)
    pool = ZooSplits.cut(zoo, (largest, cfg["val"], cfg["test"]))
    progress = ctx.checkpoint("runs")
    done: dict[str, Any] = progress.load() or {}
    for i, method in enumerate(cfg["methods"]):
        for n in cfg["train_sizes"]:
            key = f"{method}/{n}"
            if key in done:
                continue
            splits = ZooSplits(pool.train[:n], pool.val, pool.test)
            recipe = {**cfg["recipes"][method], "batch_size": min(cfg["recipes"][method]["batch_size"], n)}
            run = train_method(method, splits, 1, cfg["models"][method], recipe, cfg["augment"],
                               ctx.seed * 1000 + i, ctx.device, objective=REGRESSION)
            done[key] = {"mse": run.loss, "best_step": run.outcome.best_step, "train_time_s": run.train_time_s}
            progress.save(done)
    progress.remove()
    table = [SineRow(row=f"{m}/{n}", method=m, train_size=n, **done[f"{m}/{n}"])
             for m in cfg["methods"] for n in cfg["train_sizes"]]
    summary = fitted.summary()
    split = (f"{summary['inrs']:,} sine-wave INRs {zoo.widths} fitted by the project ({cfg['points']} points, "
             f"{cfg['inr']['steps']} Adam steps, mean PSNR {summary['mean_psnr']:.1f} dB); train "
             f"{'/'.join(map(str, cfg['train_sizes']))}, validation {cfg['val']}, test {cfg['test']}")
    return Outputs(metrics={r.row: r.mse for r in table} | {f"zoo_{k}": v for k, v in summary.items()},
                   tables={"sine": table}, data={"split": split})
