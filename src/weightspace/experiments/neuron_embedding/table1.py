"""Section 4.1, Table 1: training from random initialisation, direct vs separable vs neuron-embedding.

Every model is trained with the paper's recipe and the checkpoint with the best
evaluation over the run is reported (accuracy, cross-entropy), with its parameter
count computed from the model. MNIST: Adam, one-cycle (cosine), max lr 0.01,
batch 1000, 2000 steps. CIFAR-10 (the authors' code): SGD with Nesterov momentum,
linear one-cycle, max lr 2e-4, batch 512, weight decay 0.512 on a *sum*-reduced
cross-entropy (512 times the mean's gradient), random horizontal flips, 2000 steps.

``full`` selects the best step on 10,000 training images held out for it (the
authors' 50k / 10k split) and reports that step's test accuracy; ``quick`` trains
the seven MNIST rows for a few hundred steps on the offline 8,000-image split and
selects on the 2,000 images it reports (the quick profile has no other split).
The ResNet9 rows need CIFAR-10 and run at ``full``; a run whose rows need data
that is missing stops before training anything, naming the files and
``WEIGHTSPACE_DATA`` (``--set rows=[...]`` runs the MNIST rows alone).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from weightspace import data as datasets
from weightspace.data import ImageData, Split
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.neuron_embedding import mnist_recipe
from weightspace.neuron_embedding.models import TABLE1_MODELS, build, paper_parameter_count
from weightspace.training import Objective, TrainConfig, evaluate, train_classifier

TITLE = "Neuron embeddings, Table 1: training from random initialisation"
MNIST_ROWS = [r for r, (ds, _) in TABLE1_MODELS.items() if ds == "mnist"]


def config(profile: str) -> dict[str, Any]:
    mnist = mnist_recipe(profile)
    cifar = {"steps": 2000, "batch_size": 512, "lr": 2e-4, "optimizer": "sgd", "schedule": "linear",
             "eval_every": 100, "momentum": 0.9, "nesterov": True, "weight_decay": 0.512}
    losses = {"mnist-fc": "mean", "mnist-conv": "mean", "cifar10": "sum"}
    flips = {"mnist-fc": False, "mnist-conv": False, "cifar10": True}
    if profile == "quick":
        conv = {**mnist, "steps": 80, "batch_size": 100, "eval_every": 40}
        return {"rows": MNIST_ROWS, "dim_fc": 64, "dim_conv": 48, "selection_holdout": 0,
                "recipes": {"mnist-fc": mnist, "mnist-conv": conv, "cifar10": cifar}, "loss": losses, "flip": flips}
    return {"rows": list(TABLE1_MODELS), "dim_fc": 64, "dim_conv": 48, "selection_holdout": 10_000,
            "recipes": {"mnist-fc": mnist, "mnist-conv": mnist, "cifar10": cifar}, "loss": losses, "flip": flips}


def _key(row: str) -> str:
    dataset = TABLE1_MODELS[row][0]
    return "cifar10" if dataset == "cifar10" else ("mnist-fc" if row.startswith("fc") else "mnist-conv")


def _objective(reduction: str) -> Objective:
    """Cross-entropy with ``reduction`` ``mean`` or ``sum`` (the authors' CIFAR-10 loss), scored by accuracy."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"loss reduction must be 'mean' or 'sum', got {reduction!r}")
    return Objective(loss=partial(F.cross_entropy, reduction=reduction))


def flip_horizontally(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2 (the authors' CIFAR-10 augmentation)."""
    mirror = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(mirror.view(-1, 1, 1, 1), x.flip(-1), x)


def selection_split(data: ImageData, holdout: int, seed: int = 0) -> tuple[ImageData, Split]:
    """``data`` with ``holdout`` training images moved to its evaluation split (where the best step is chosen),
    and the split to report: the test split. ``holdout=0`` selects on the reported split itself."""
    if holdout == 0:
        return data, data.eval
    if not 0 < holdout < len(data.train):
        raise ValueError(f"selection_holdout must lie in [0, {len(data.train)}), got {holdout}")
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed)).to(data.train.y.device)
    fit, held = order[:-holdout], order[-holdout:]
    select = ImageData(data.name, Split(data.train.x[fit], data.train.y[fit]),
                       Split(data.train.x[held], data.train.y[held]), data.num_classes, data.description)
    return select, data.eval


def _recipe(cfg: dict[str, Any], row: str) -> TrainConfig:
    return TrainConfig(**cfg["recipes"][_key(row)])


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [r for r in cfg["rows"] if r not in TABLE1_MODELS]
    if unknown:
        raise ValueError(f"unknown Table 1 rows {unknown}: choose from {', '.join(TABLE1_MODELS)}")
    loaded = {dataset: datasets.load(dataset, ctx.profile).to(ctx.device)  # missing data stops the run here
              for dataset in dict.fromkeys(TABLE1_MODELS[r][0] for r in cfg["rows"])}
    progress = ctx.checkpoint("rows")
    done: dict[str, Any] = progress.load() or {"table": {}, "curves": {}}
    table, curves = [], {}
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
        model.to(ctx.device)
        started = time.time()
        select, report = selection_split(loaded[dataset], cfg["selection_holdout"])
        key = _key(row)
        out = train_classifier(model, select, _recipe(cfg, row), seed=ctx.seed * 1000 + i,
                               checkpoint=ctx.checkpoint(row), desc=row, objective=_objective(cfg["loss"][key]),
                               augment=flip_horizontally if cfg["flip"][key] else None)
        accuracy, loss = (out.accuracy, out.loss) if report is select.eval else evaluate(model, report)
        record.update({"accuracy": accuracy, "loss": loss, "best_step": out.best_step,
                       "selection_accuracy": out.accuracy, "train_time_s": round(time.time() - started, 1),
                       "status": ""})
        table.append(record)
        curves[row] = out.curve
        done["table"][row], done["curves"][row] = record, out.curve
        progress.save(done)
    progress.remove()
    return Outputs(metrics={r["row"]: r.get("accuracy") for r in table}, tables={"table1": table}, curves=curves,
                   data={"split": "; ".join(d.description["split"] for d in loaded.values()),
                         "datasets": {name: d.description for name, d in loaded.items()}})
