"""Section 6, domain adaptation: adapt CIFAR-10 classifiers to corrupted CIFAR-10 by editing their weights.

A zoo of MLP classifiers is trained on (downsampled) CIFAR-10; an editor maps a
classifier's weights to a weight edit so that the edited classifier works on
CIFAR-10 images with the paper's corruptions (rotation, colour jitter, blur).
Rows: the classifiers without adaptation, an MLP editor on flattened weights, and
an equivariant DWSNet editor; test accuracy of adapted held-out classifiers on
corrupted test images. Needs CIFAR-10: offline it stops at once with a
:class:`~weightspace.data.DatasetNotFoundError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from weightspace import data as datasets
from weightspace.dws.adaptation import FlatEdit, adapt_accuracy, corrupt, train_editor, train_mlp_zoo, zoo_accuracy
from weightspace.dws.augment import Normalized, orbit_statistics
from weightspace.dws.models import DWSEquivariant
from weightspace.dws.space import WeightSpace
from weightspace.dws.zoos import CACHE
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.results import load_or_make
from weightspace.tables import Row, Table
from weightspace.training import TrainConfig

TITLE = "DWSNets: adapting CIFAR-10 classifiers to corrupted CIFAR-10 in weight space"
PROFILES = ("full",)  # the quick profile has no data or model for it (its page shows the committed full result)
EDITORS = ("mlp", "dwsnet")
GPU_MINUTES_ESTIMATE = 10  # one GPU, from the full config's operation counts (not a measured run)


@dataclass(frozen=True, kw_only=True)
class AdaptationRow(Row):
    """Mean test accuracy (%) of the held-out classifiers on corrupted images, adapted by the row's editor.

    ``clean_accuracy``: without adaptation, on clean images (``no_adaptation`` only);
    ``accuracy_std_over_networks``: the spread over classifiers (editors only).
    """

    accuracy: float
    clean_accuracy: float | None = None
    accuracy_std_over_networks: float | None = None


TABLES = {"adaptation": Table(AdaptationRow, rows=lambda cfg: ["no_adaptation", *cfg["editors"]])}


def config(profile: str) -> dict[str, Any]:
    side = 16
    return {
        "dataset": "cifar10", "split": datasets.STANDARD,
        "side": side, "classifier_widths": [3 * side * side, 32, 32, 10],
        "classifiers": {"train": 800, "val": 100, "test": 200, "steps": 2000, "lr": 1e-3, "batch_size": 128},
        "editors": list(EDITORS),
        "models": {"dwsnet": {"hidden": 16, "layers": 4}, "mlp": {"hidden": 256}},
        # the editors' recipe: nets_per_step classifiers adapted per step (not a batch of examples)
        "editor": {"steps": 3000, "nets_per_step": 32, "lr": 1e-3, "optimizer": "adamw", "schedule": "constant",
                   "weight_decay": 5e-4, "eval_every": 100},
        "images_per_step": 128, "edit_scale": 0.1, "corruption": {"max_degrees": 30.0, "jitter": 0.4,
                                                                  "max_sigma": 1.5},
    }


def editor_recipe(recipe: dict[str, Any]) -> TrainConfig:
    """``recipe`` (``nets_per_step`` classifiers adapted per step, and a :class:`TrainConfig`'s other settings)
    as the :class:`TrainConfig` that :func:`train_editor` reads (its ``batch_size``: classifiers per step)."""
    if "nets_per_step" not in recipe or "batch_size" in recipe:
        raise ValueError(f"the editor recipe sets nets_per_step (classifiers adapted per step), not batch_size; "
                         f"got {sorted(recipe)}")
    settings = {k: v for k, v in recipe.items() if k != "nets_per_step"}
    return TrainConfig(**settings, batch_size=recipe["nets_per_step"])


def _inputs(x: torch.Tensor, side: int) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x, side).flatten(1)


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [e for e in cfg["editors"] if e not in EDITORS]
    if unknown:
        raise ValueError(f"unknown editors {unknown}: choose from {', '.join(EDITORS)}")
    recipe = editor_recipe(cfg["editor"])
    data = datasets.load(cfg["dataset"], cfg["split"])  # DatasetNotFoundError offline, before any work
    widths = tuple(cfg["classifier_widths"])
    side = cfg["side"]
    if widths[0] != 3 * side * side:
        raise ValueError(f"classifier input width {widths[0]} must be 3 * side^2 = {3 * side * side}")
    g = torch.Generator().manual_seed(ctx.seed)
    shifted_train = corrupt(data.train.x, g, **cfg["corruption"])
    shifted_test = corrupt(data.eval.x, g, **cfg["corruption"])
    dev = ctx.device
    x_clean, y_train = _inputs(data.train.x, side).to(dev), data.train.y.to(dev)
    x_shift, x_shift_test = _inputs(shifted_train, side).to(dev), _inputs(shifted_test, side).to(dev)
    y_test = data.eval.y.to(dev)
    z = cfg["classifiers"]
    n = z["train"] + z["val"] + z["test"]
    key = {"widths": widths, "classifiers": z, "seed": ctx.seed, "data": data.description, "device": dev.type}

    def make() -> WeightSpace:
        return train_mlp_zoo(x_clean, y_train, widths, [ctx.seed * 1_000_003 + k for k in range(n)], z["steps"],
                             z["lr"], z["batch_size"]).to("cpu")

    zoo = load_or_make(f"{CACHE}/cifar10_mlps", key, make, scope=__name__).to(dev)
    train, val, test = zoo[: z["train"]], zoo[z["train"] : z["train"] + z["val"]], zoo[z["train"] + z["val"] :]
    half = len(x_shift_test) // 2  # corrupted test images: first half validates, second half tests
    table = [AdaptationRow(row="no_adaptation",
                           accuracy=zoo_accuracy(test, x_shift_test[half:], y_test[half:]).mean().item(),
                           clean_accuracy=zoo_accuracy(test, _inputs(data.eval.x, side).to(dev), y_test).mean().item())]
    mean, std = orbit_statistics(train.flatten(), widths)
    curves = {}
    for i, editor_name in enumerate(cfg["editors"]):
        seed_everything(ctx.seed * 1000 + i)
        body = DWSEquivariant(widths, **cfg["models"][editor_name]) if editor_name == "dwsnet" else FlatEdit(
            widths, **cfg["models"][editor_name])
        editor = Normalized(body, mean, std).to(dev)
        editor, curve = train_editor(editor, train, val, x_shift, y_train, x_shift_test[:half], y_test[:half],
                                     recipe, cfg["images_per_step"], cfg["edit_scale"], ctx.seed * 1000 + i,
                                     desc=editor_name)
        acc = adapt_accuracy(editor, test, x_shift_test[half:], y_test[half:], cfg["edit_scale"])
        table.append(AdaptationRow(row=editor_name, accuracy=acc.mean().item(),
                                   accuracy_std_over_networks=acc.std().item()))
        curves[editor_name] = curve
    split = (f"{data.description['split']}, downsampled to {side}x{side}; corrupted copies (rotation, colour "
             f"jitter, blur); {n} MLP classifiers {widths} split {z['train']} / {z['val']} / {z['test']}")
    return Outputs(metrics={r.row: r.accuracy for r in table}, tables={"adaptation": table}, curves=curves,
                   data={"split": split})
