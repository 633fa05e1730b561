"""Section 4.1, Table 1: training from random initialisation, direct vs separable vs neuron-embedding.

Every model is trained with the paper's recipe and the best evaluation
checkpoint over the run is reported (accuracy, cross-entropy), with its
parameter count computed from the model. MNIST: Adam, one-cycle (cosine), max
lr 0.01, batch 1000, 2000 steps. CIFAR-10: SGD with momentum, linear one-cycle,
max lr 2e-4, batch 512, 2000 steps. ``quick`` trains the seven MNIST rows for a
few hundred steps on the offline 8,000-image split; the ResNet9 rows need
CIFAR-10 and run at ``full``.
"""

from __future__ import annotations

import time
from typing import Any

from weightspace import data as datasets
from weightspace.data import DatasetNotFoundError
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.neuron_embedding import mnist_recipe
from weightspace.neuron_embedding.models import TABLE1_MODELS, build, paper_parameter_count
from weightspace.training import TrainConfig, train_classifier

TITLE = "Neuron embeddings, Table 1: training from random initialisation"
MNIST_ROWS = [r for r, (ds, _) in TABLE1_MODELS.items() if ds == "mnist"]


def config(profile: str) -> dict[str, Any]:
    mnist = mnist_recipe(profile)
    cifar = {"steps": 2000, "batch_size": 512, "lr": 2e-4, "optimizer": "sgd", "schedule": "linear",
             "eval_every": 100}
    if profile == "quick":
        conv = {**mnist, "steps": 80, "batch_size": 100, "eval_every": 40}
        return {"rows": MNIST_ROWS, "dim_fc": 64, "dim_conv": 48,
                "recipes": {"mnist-fc": mnist, "mnist-conv": conv, "cifar10": cifar}}
    return {"rows": list(TABLE1_MODELS), "dim_fc": 64, "dim_conv": 48,
            "recipes": {"mnist-fc": mnist, "mnist-conv": mnist, "cifar10": cifar}}


def _recipe(cfg: dict[str, Any], row: str) -> TrainConfig:
    dataset = TABLE1_MODELS[row][0]
    key = "cifar10" if dataset == "cifar10" else ("mnist-fc" if row.startswith("fc") else "mnist-conv")
    return TrainConfig(**cfg["recipes"][key])


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [r for r in cfg["rows"] if r not in TABLE1_MODELS]
    if unknown:
        raise ValueError(f"unknown Table 1 rows {unknown}: choose from {', '.join(TABLE1_MODELS)}")
    progress = ctx.checkpoint("rows")
    done: dict[str, Any] = progress.load() or {"table": {}, "curves": {}}
    loaded: dict[str, Any] = {}
    table, curves, described = [], {}, {}
    for i, row in enumerate(TABLE1_MODELS):
        dataset = TABLE1_MODELS[row][0]
        dim = cfg["dim_fc"] if row.startswith("fc") else cfg["dim_conv"]
        seed_everything(ctx.seed * 1000 + i)
        model = build(row, dim)
        record = {"row": row, "dataset": dataset, "parameters": paper_parameter_count(model),
                  "parameters_all": sum(p.numel() for p in model.parameters())}
        if row not in cfg["rows"]:
            table.append({**record, "status": f"not run at the {ctx.profile} profile (needs {dataset.upper()})"})
            continue
        if row in done["table"]:
            table.append(done["table"][row])
            curves[row] = done["curves"][row]
            continue
        if dataset not in loaded:
            try:
                loaded[dataset] = datasets.load(dataset, ctx.profile).to(ctx.device)
                described[dataset] = loaded[dataset].description
            except DatasetNotFoundError as err:
                loaded[dataset] = err
        if isinstance(loaded[dataset], DatasetNotFoundError):
            table.append({**record, "status": f"data unavailable: {loaded[dataset]}"})
            continue
        model.to(ctx.device)
        started = time.time()
        out = train_classifier(model, loaded[dataset], _recipe(cfg, row), seed=ctx.seed * 1000 + i,
                               checkpoint=ctx.checkpoint(row), desc=row)
        record.update({"accuracy": out.accuracy, "loss": out.loss, "best_step": out.best_step,
                       "train_time_s": round(time.time() - started, 1), "status": ""})
        table.append(record)
        curves[row] = out.curve
        done["table"][row], done["curves"][row] = record, out.curve
        progress.save(done)
    progress.remove()
    return Outputs(metrics={r["row"]: r.get("accuracy") for r in table}, tables={"table1": table}, curves=curves,
                   data={"split": "; ".join(d["split"] for d in described.values()), "datasets": described})
