"""Section 6, predicting generalisation: regress an MLP classifier's test accuracy from its weights.

A zoo of small ReLU MLP classifiers is trained on MNIST with varied
hyper-parameters (learning rate, number of steps, fraction of noisy labels) and
seeds, networks of one setting trained together in one tensor program; every
method regresses a network's test accuracy from its weights and is scored by
Kendall's tau between predicted and true accuracy on held-out networks. Our copy
of the paper prints no values for this experiment. ``quick``: MNIST images
downsampled to 7x7 (classifiers 49-16-16-10) from the offline split.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from scipy.stats import kendalltau

from weightspace import data as datasets
from weightspace.dws.adaptation import train_mlp_zoo, zoo_accuracy
from weightspace.dws.models import METHODS
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws import PAPER, ZooSplits, train_method
from weightspace.results import load_or_make
from weightspace.training import REGRESSION

TITLE = "DWSNets: predicting the generalisation of MLP classifiers from their weights"


def config(profile: str) -> dict[str, Any]:
    recipe = {"steps": 3000, "batch_size": 64, "lr": 1e-3, "optimizer": "adamw", "schedule": "constant",
              "weight_decay": 5e-4, "eval_every": 100}
    full = {
        "side": 14, "widths": [196, 32, 32, 10], "per_setting": 100,
        "settings": {"lr": [3e-4, 1e-3, 3e-3, 1e-2], "steps": [100, 300, 1000], "label_noise": [0.0, 0.2, 0.5]},
        "classifier_batch": 128, "splits": [0.6, 0.1, 0.3],
        "methods": list(METHODS),
        "models": {"dwsnet": {"hidden": 16, "layers": 4, "head_hidden": 64, "batch_norm": True},
                   "mlp": {"hidden": 256, "layers": 3}, "mlp_perm": {"hidden": 256, "layers": 3},
                   "mlp_align": {"hidden": 256, "layers": 3}, "deepsets": {"hidden": 64},
                   "transformer": {"d_model": 32, "heads": 4, "layers": 2}, "inr2vec": {"hidden": 64}},
        "recipes": {m: recipe for m in METHODS}, "augment": {},
    }
    if profile == "full":
        return full
    quick_recipe = {**recipe, "steps": 150, "lr": 3e-3, "schedule": "one_cycle", "eval_every": 30}
    return {**full, "side": 7, "widths": [49, 16, 16, 10], "per_setting": 25,
            "settings": {"lr": [1e-3, 1e-2], "steps": [30, 150, 300], "label_noise": [0.0, 0.5]},
            "models": {**full["models"], "dwsnet": {"hidden": 8, "layers": 3, "head_hidden": 32, "batch_norm": True}},
            "recipes": {m: quick_recipe for m in METHODS}}


def classifier_zoo(ctx: RunContext, cfg: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Flat classifiers, their test accuracy (%) and settings; one batched training per setting, cached."""
    images = datasets.load("mnist", ctx.profile)
    side = cfg["side"]
    x_train = F.adaptive_avg_pool2d(images.train.x, side).flatten(1).to(ctx.device)
    x_test = F.adaptive_avg_pool2d(images.eval.x, side).flatten(1).to(ctx.device)
    y_train, y_test = images.train.y.to(ctx.device), images.eval.y.to(ctx.device)
    key = {k: cfg[k] for k in ("side", "widths", "per_setting", "settings", "classifier_batch")}
    key |= {"profile": ctx.profile, "data": images.description, "seed": ctx.seed, "device": ctx.device.type}

    def make() -> dict[str, torch.Tensor]:
        params, accuracy, settings = [], [], []
        combos = list(itertools.product(*cfg["settings"].values()))
        for i, (lr, steps, noise) in enumerate(combos):
            g = torch.Generator().manual_seed(ctx.seed * 7919 + i)
            flip = torch.rand(len(y_train), generator=g).to(ctx.device) < noise
            noisy = torch.where(flip, torch.randint(0, 10, (len(y_train),), generator=g).to(ctx.device), y_train)
            seeds = [ctx.seed * 1_000_003 + i * cfg["per_setting"] + k for k in range(cfg["per_setting"])]
            flat = train_mlp_zoo(x_train, noisy, cfg["widths"], seeds, steps, lr, cfg["classifier_batch"],
                                 desc=f"classifiers lr={lr} steps={steps} noise={noise}")
            params.append(flat.cpu())
            accuracy.append(zoo_accuracy(flat, cfg["widths"], x_test, y_test).cpu())
            settings += [[lr, steps, noise]] * len(flat)
        order = torch.randperm(sum(len(p) for p in params), generator=torch.Generator().manual_seed(ctx.seed))
        return {"params": torch.cat(params)[order], "accuracy": torch.cat(accuracy)[order],
                "settings": torch.tensor(settings)[order]}

    return load_or_make(f"{PAPER}/mnist_classifiers", key, make, scope=__name__)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [m for m in cfg["methods"] if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    zoo = classifier_zoo(ctx, cfg)
    n = len(zoo["params"])
    a, b = int(cfg["splits"][0] * n), int(cfg["splits"][1] * n)
    target = zoo["accuracy"] / 100
    splits = ZooSplits.cut(zoo["params"], target, (a, b, n - a - b), tuple(cfg["widths"]))
    table, curves = [], {}
    for i, method in enumerate(cfg["methods"]):
        out = train_method(method, splits, 1, cfg["models"][method], cfg["recipes"][method], cfg["augment"],
                           ctx.seed * 1000 + i, ctx.device, objective=REGRESSION)
        with torch.no_grad():
            pred = out["model"](out["test_inputs"].to(ctx.device)).view(-1).cpu()
        tau = kendalltau(pred.numpy(), splits.test.y.numpy()).statistic
        table.append({"row": method, "kendall_tau": float(tau), "mse": out["loss"],
                      "train_time_s": out["train_time_s"]})
        curves[method] = out["curve"]
    split = (f"{n:,} MLP classifiers {tuple(cfg['widths'])} on MNIST ({'offline test split, ' if ctx.profile == 'quick' else ''}"
             f"images averaged to {cfg['side']}x{cfg['side']}), {cfg['per_setting']} per setting of "
             f"{cfg['settings']}; networks split {a} / {b} / {n - a - b}")
    return Outputs(metrics={r["row"]: r["kendall_tau"] for r in table}, tables={"generalization": table},
                   curves=curves, data={"split": split, "test_accuracy": zoo["accuracy"].tolist()})
