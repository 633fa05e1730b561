"""Section 6, predicting generalisation: regress an MLP classifier's test accuracy from its weights.

A zoo of small ReLU MLP classifiers is trained on MNIST with varied
hyper-parameters (learning rate, number of steps, fraction of noisy labels) and
seeds, networks of one setting trained together in one tensor program; every
method regresses a network's test accuracy from its weights and is scored by
Kendall's tau between predicted and true accuracy on held-out networks. Our copy
of the paper prints no values for this experiment. ``quick``: MNIST images
downsampled to 7x7 (classifiers 49-16-16-10) from the MNIST test split (``test-8k/2k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from scipy.stats import kendalltau

from weightspace import data as datasets
from weightspace.dws.models import METHODS
from weightspace.dws.space import Zoo
from weightspace.dws.zoos import ZooSplits, classifier_zoo, train_method
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws._presets import adamw, models
from weightspace.tables import Row, Table
from weightspace.training import REGRESSION

TITLE = "DWSNets: predicting the generalisation of MLP classifiers from their weights"


@dataclass(frozen=True, kw_only=True)
class GeneralizationRow(Row):
    """A method's Kendall's tau between predicted and true test accuracy of held-out classifiers, and its MSE."""

    kendall_tau: float
    mse: float
    train_time_s: float


@dataclass(frozen=True)
class Classifier:
    """One classifier of the zoo: its test accuracy (%) and the setting it was trained with."""

    test_accuracy: float
    lr: float
    steps: int
    label_noise: float


TABLES = {"generalization": Table(GeneralizationRow, rows=lambda cfg: list(cfg["methods"])),
          "zoo": Table(Classifier)}


def config(profile: str) -> dict[str, Any]:
    full = {
        "dataset": "mnist", "split": datasets.STANDARD,
        "side": 14, "widths": [196, 32, 32, 10], "per_setting": 100,
        "settings": {"lr": [3e-4, 1e-3, 3e-3, 1e-2], "steps": [100, 300, 1000], "label_noise": [0.0, 0.2, 0.5]},
        "classifier_batch": 128, "splits": [0.6, 0.1, 0.3],
        "methods": list(METHODS), "models": models("small", "16x4"),
        "recipes": {m: adamw(3000, 64, 1e-3, 100) for m in METHODS}, "augment": {},
    }
    if profile == "full":
        return full
    return {**full, "split": datasets.MNIST_TEST_CUT, "side": 7, "widths": [49, 16, 16, 10], "per_setting": 25,
            "settings": {"lr": [1e-3, 1e-2], "steps": [30, 150, 300], "label_noise": [0.0, 0.5]},
            "models": models("small", "8x3"),
            "recipes": {m: adamw(150, 64, 3e-3, 30, "one_cycle") for m in METHODS}}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [m for m in cfg["methods"] if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    images = datasets.load(cfg["dataset"], cfg["split"])
    classifiers = classifier_zoo(images, cfg["side"], tuple(cfg["widths"]), cfg["per_setting"], cfg["settings"],
                                 cfg["classifier_batch"], ctx.seed, ctx.device)
    accuracy = classifiers.zoo.targets
    n = len(accuracy)
    a, b = int(cfg["splits"][0] * n), int(cfg["splits"][1] * n)
    zoo = Zoo(classifiers.zoo.params, accuracy / 100, classifiers.zoo.widths)
    splits = ZooSplits.cut(zoo, (a, b, n - a - b))
    table, curves = [], {}
    for i, method in enumerate(cfg["methods"]):
        run = train_method(method, splits, 1, cfg["models"][method], cfg["recipes"][method], cfg["augment"],
                           ctx.seed * 1000 + i, ctx.device, objective=REGRESSION)
        with torch.no_grad():
            pred = run.model(run.test.params.to(ctx.device)).view(-1).cpu()
        tau = kendalltau(pred.numpy(), splits.test.targets.numpy()).statistic
        table.append(GeneralizationRow(row=method, kendall_tau=float(tau), mse=run.loss,
                                       train_time_s=run.train_time_s))
        curves[method] = run.outcome.curve
    zoo_rows = [Classifier(test_accuracy=acc, lr=lr, steps=int(steps), label_noise=noise)
                for acc, (lr, steps, noise) in zip(accuracy.tolist(), classifiers.settings.tolist())]
    split = (f"{n:,} MLP classifiers {tuple(cfg['widths'])} on MNIST ({images.description['split']}, "
             f"images averaged to {cfg['side']}x{cfg['side']}), {cfg['per_setting']} per setting of "
             f"{cfg['settings']}; networks split {a} / {b} / {n - a - b}")
    return Outputs(metrics={r.row: r.kendall_tau for r in table},
                   tables={"generalization": table, "zoo": zoo_rows}, curves=curves, data={"split": split})
