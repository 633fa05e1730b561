"""Section 6, INR classification: classify the image an INR represents from the INR's weights, every method.

One sine INR (2 -> 32 -> 32 -> 1, 1,185 weights) is fitted per image with the
authors' recipe (:mod:`weightspace.dws.inr`); every method then learns the
image's class from the INR weights alone, with the same optimiser, steps and
batch size, keeping the best validation step and reporting test accuracy.
The zoo is one dataset whatever the run's seed (fitted with ``zoo_seed``, as the
authors fitted theirs once); the seeds of the paper's mean and std vary the
models' initialisation, batches and augmentation only.
``full``: 70,000 MNIST INRs (55k / 5k / 10k), the authors' DWSNet (5 layers of 32
channels, BatchNorm) and AdamW (AMSGrad) lr 5e-3, wd 5e-4, batch 512, 100 epochs.
``cpu`` (ours, the paper's regime at CPU scale, never the paper's number): the full
recipe (the authors' INR fit, models, augmentation and optimiser) on the INRs of
the first 10,000 images of the standard split (all training images), cut in the
paper's 55 : 5 : 10 proportions, for :data:`CPU_EPOCHS` epochs of the training
INRs, validated once an epoch; about 30 minutes a seed on one core once the zoo is
cached (its fit, about 45 minutes, is a one-off, cached in resumable parts).
``quick``: INRs of the MNIST test split (``test-8k/2k``), fitted for fewer steps
at a higher learning rate with SIREN's init in every layer, and smaller models
trained for a few hundred steps without augmentation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from weightspace import data as datasets
from weightspace.dws.inr import INRRecipe, fit_inrs, mnist_inr_targets
from weightspace.dws.models import METHODS
from weightspace.dws.zoos import ZooSplits, image_inr_zoo, train_method
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws._presets import adamw, models
from weightspace.tables import Row, Table

TITLE = "DWSNets: classifying MNIST INRs from their weights"
PROFILES = ("quick", "cpu", "full")
CPU_INRS = 10_000  # the cpu profile's zoo
CPU_EPOCHS = 40  # the cpu profile's training in epochs of its training INRs (the paper: 100 of 55,000): ~30 min
ZOO_SEED = 0  # the zoo is one dataset for every seed, as the authors' (fitted once); a run's seed varies the models
PSNR_SHOWN = 2000  # INRs whose fit the result records (the page's histogram)
AUTHORS_AUGMENT = {"translation": 0.25, "rotation_deg": 45.0, "scale": [0.8, 1.2], "dropout": 0.01}  # train only


@dataclass(frozen=True, kw_only=True)
class ClassificationRow(Row):
    """A method's test accuracy (%) and loss, its best validation accuracy and step, its size and training time."""

    accuracy: float
    loss: float
    val_accuracy: float
    best_step: int
    parameters: int
    train_time_s: float


@dataclass(frozen=True)
class INRFit:
    """How well INR ``inr`` of the zoo fits its image."""

    inr: int
    psnr: float


TABLES = {"classification": Table(ClassificationRow, rows=lambda cfg: list(cfg["methods"])),
          "inr_fit": Table(INRFit)}


def full_config(dataset: str) -> dict[str, Any]:
    """The paper's recipe for the INR classification of ``dataset`` (70,000 INRs, 55k / 5k / 10k)."""
    return {
        "dataset": dataset, "split": datasets.STANDARD, "inrs": 70_000, "splits": [55_000, 5_000, 10_000],
        "inr": {"steps": 1000, "lr": 5e-4, "stop_psnr": 40.0, "init": "authors"},
        "methods": list(METHODS), "models": models("mnist_inr", "32x5"),
        "recipes": {m: adamw(10_800, 512, 5e-3, 108) for m in METHODS},  # 100 epochs of 55,000 INRs
        "augment": dict(AUTHORS_AUGMENT),
        "zoo_seed": ZOO_SEED,
        "speed_sample": 64,
    }


def quick_config(dataset: str, split: str) -> dict[str, Any]:
    """The quick recipe: 1,200 INRs of ``dataset``'s ``split`` fitted for 100 steps with SIREN's init everywhere
    (faster to fit than the authors'), smaller models (the flat MLPs with dropout, a pre-LN Transformer), 300 steps."""
    full = full_config(dataset)
    flat = {"hidden": 256, "layers": 3, "dropout": 0.3}
    return {**full, "split": split, "inrs": 1200, "splits": [900, 100, 200],
            "inr": {"steps": 100, "lr": 5e-3, "stop_psnr": 40.0, "init": "siren"},
            "models": {**models("mnist_inr", "16x3"), "mlp": dict(flat), "mlp_perm": dict(flat), "mlp_align": dict(flat),
                       "transformer": {"d_model": 32, "heads": 4, "layers": 1, "dropout": 0.1, "norm_first": True},
                       "inr2vec": {"hidden": 128}},
            "recipes": {m: adamw(300, 32, 5e-3, 30, "one_cycle") for m in METHODS}, "augment": {},
            "speed_sample": 8}


def proportional(sizes: list[int], total: int) -> list[int]:
    """``sizes`` scaled to add up to ``total``, rounded by largest remainder (``[55, 5, 10]``, 14 -> ``[11, 1, 2]``)."""
    shares = [n * total / sum(sizes) for n in sizes]
    cut = [math.floor(share) for share in shares]
    for i in sorted(range(len(shares)), key=lambda i: cut[i] - shares[i])[: total - sum(cut)]:
        cut[i] += 1
    return cut


def cpu_config(dataset: str) -> dict[str, Any]:
    """The cpu profile: :func:`full_config` on :data:`CPU_INRS` INRs cut in its proportions, every method trained for
    :data:`CPU_EPOCHS` epochs of the training INRs in its batches and validated once an epoch."""
    full = full_config(dataset)
    splits = proportional(full["splits"], CPU_INRS)
    recipes = {}
    for method, recipe in full["recipes"].items():
        epoch = math.ceil(splits[0] / recipe["batch_size"])  # steps per epoch, rounded up as the full recipe's
        recipes[method] = {**recipe, "steps": CPU_EPOCHS * epoch, "eval_every": epoch}
    return {**full, "inrs": CPU_INRS, "splits": splits, "recipes": recipes}


def config(profile: str) -> dict[str, Any]:
    if profile == "cpu":
        return cpu_config("mnist")
    return full_config("mnist") if profile == "full" else quick_config("mnist", datasets.MNIST_TEST_CUT)


def fitting_speed(recipe: dict[str, Any], sample: int, device: torch.device) -> dict[str, float]:
    """INRs fitted per second on random 28x28 targets: one chunk of the recipe's size on ``device`` as one tensor
    program, and ``sample`` INRs one at a time (same recipe, every INR running every step)."""
    fixed = INRRecipe(**{**recipe, "stop_psnr": float("inf")})
    batch = fixed.chunk_for(device, 28 * 28)
    rates = {}
    for name, n, chunk in (("batched", batch, batch), ("single", sample, 1)):
        targets, coords = mnist_inr_targets(torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
        started = time.time()
        fit_inrs(targets.to(device), coords.to(device), range(n), INRRecipe(**{**fixed.__dict__, "chunk": chunk}),
                 desc=name)
        rates[f"inrs_per_second_{name}"] = n / (time.time() - started)
    return {**rates, "speed_batch": batch, "speed_sample": sample, "speed_steps": recipe["steps"]}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    """Fit (or load) the zoo of ``cfg["dataset"]`` and train every method of ``cfg`` on it."""
    unknown = [m for m in cfg["methods"] if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    images = datasets.load(cfg["dataset"], cfg["split"])
    fitted = image_inr_zoo(images, cfg["inrs"], cfg["inr"], cfg["zoo_seed"], ctx.device)
    splits = ZooSplits.cut(fitted.zoo, tuple(cfg["splits"]))
    progress = ctx.checkpoint("methods")
    done: dict[str, Any] = progress.load() or {}
    for i, method in enumerate(cfg["methods"]):
        if method in done:
            continue
        run = train_method(method, splits, 10, cfg["models"][method], cfg["recipes"][method], cfg["augment"],
                           ctx.seed * 1000 + i, ctx.device)
        done[method] = {"accuracy": run.score, "loss": run.loss, "val_accuracy": run.outcome.accuracy,
                        "best_step": run.outcome.best_step, "parameters": run.parameters,
                        "train_time_s": run.train_time_s, "curve": run.outcome.curve}
        progress.save(done)
    progress.remove()
    table = [ClassificationRow(row=m, **{k: v for k, v in done[m].items() if k != "curve"}) for m in cfg["methods"]]
    speed = fitting_speed(cfg["inr"], cfg["speed_sample"], ctx.device)
    summary = fitted.summary()
    metrics = {**{r.row: r.accuracy for r in table}, **speed, **{f"zoo_{k}": v for k, v in summary.items()}}
    split = (f"{summary['inrs']:,} INRs of {cfg['dataset']} images ({images.description['split']}), "
             f"split {' / '.join(f'{n:,}' for n in cfg['splits'])}; INR fit: {cfg['inr']['steps']} Adam steps, "
             f"lr {cfg['inr']['lr']}, mean PSNR {summary['mean_psnr']:.1f} dB")
    fits = [INRFit(inr=k, psnr=p) for k, p in enumerate(fitted.psnr.tolist()[:PSNR_SHOWN])]
    return Outputs(metrics=metrics, tables={"classification": table, "inr_fit": fits},
                   curves={m: done[m]["curve"] for m in cfg["methods"]}, data={"split": split})
