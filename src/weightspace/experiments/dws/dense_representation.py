"""Section 6 / App. K.2, self-supervised dense representation: InfoNCE embeddings of sine-wave INRs.

INRs of ``a sin(b x)`` (``a, b ~ U(0, 10)``) are embedded in 16 dimensions by an
encoder trained with InfoNCE (temperature 0.1) on two augmented views of each
INR (random hidden-neuron permutation, Gaussian noise, dropout); the quality of
the embedding is the test MSE of a linear regression from it to ``(a, b)``, and
a t-SNE plot of the test embeddings coloured by ``a`` and ``b``. Every method
serves as the encoder, with the same recipe.
"""

from __future__ import annotations

from typing import Any

import torch

from weightspace.data import ImageData
from weightspace.dws.augment import Augmentation, Normalized, orbit_statistics
from weightspace.dws.contrastive import INFO_NCE, TwoViews, linear_probe, tsne
from weightspace.dws.inr import SINE_INR_WIDTHS, scaled_sine_waves
from weightspace.dws.models import METHODS, build
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.dws import ZooSplits, wave_zoo
from weightspace.training import TrainConfig, train_classifier

TITLE = "DWSNets: self-supervised dense representation of sine-wave INRs"


def config(profile: str) -> dict[str, Any]:
    recipe = {"steps": 5000, "batch_size": 64, "lr": 1e-3, "optimizer": "adamw", "schedule": "constant",
              "weight_decay": 5e-4, "eval_every": 250}
    full = {
        "inr": {"widths": list(SINE_INR_WIDTHS), "steps": 2000, "lr": 1e-3, "stop_psnr": 40.0, "offset": 0.0,
                "chunk": 1000},
        "points": 2000, "splits": [4000, 500, 1000], "embedding": 16,
        "views": {"noise": 0.05, "dropout": 0.05},
        "methods": [m for m in METHODS if m != "mlp_align"],
        "models": {"dwsnet": {"hidden": 16, "layers": 4, "head_hidden": 64, "batch_norm": True},
                   "mlp": {"hidden": 256, "layers": 3}, "mlp_perm": {"hidden": 256, "layers": 3},
                   "deepsets": {"hidden": 64}, "transformer": {"d_model": 32, "heads": 4, "layers": 2},
                   "inr2vec": {"hidden": 64}},
        "recipes": {m: recipe for m in METHODS if m != "mlp_align"}, "tsne_points": 500,
    }
    if profile == "full":
        return full
    quick_recipe = {**recipe, "steps": 150, "lr": 3e-3, "schedule": "one_cycle", "eval_every": 50}
    return {**full, "inr": {**full["inr"], "widths": [1, 16, 16, 1], "steps": 150, "lr": 1e-2, "chunk": 250},
            "points": 128, "splits": [600, 100, 300],
            "models": {**full["models"], "dwsnet": {"hidden": 8, "layers": 3, "head_hidden": 32, "batch_norm": True}},
            "recipes": {m: quick_recipe for m in full["methods"]}, "tsne_points": 300}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [m for m in cfg["methods"] if m not in METHODS or m == "mlp_align"]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(m for m in METHODS if m != 'mlp_align')}")
    zoo = wave_zoo(ctx, "scaled_sine_inrs", sum(cfg["splits"]), cfg["points"], cfg["inr"], scaled_sine_waves)
    widths = tuple(cfg["inr"]["widths"])
    splits = ZooSplits.cut(zoo.params, zoo.labels.float(), tuple(cfg["splits"]), widths)
    mean, std = orbit_statistics(splits.train.x, widths)
    table, embeddings = [], {}
    for i, method in enumerate(cfg["methods"]):
        seed_everything(ctx.seed * 1000 + i)
        encoder = Normalized(build(method, widths, cfg["embedding"], **cfg["models"][method]), mean, std)
        views = Augmentation(widths, permutation=True, **cfg["views"])
        model = TwoViews(encoder, views).to(ctx.device)
        data = ImageData(method, splits.train, splits.val, cfg["embedding"]).to(ctx.device)
        out = train_classifier(model, data, TrainConfig(**cfg["recipes"][method]), seed=ctx.seed * 1000 + i,
                               desc=method, objective=INFO_NCE)
        with torch.no_grad():
            z_train = encoder(splits.train.x.to(ctx.device)).cpu()
            z_test = encoder(splits.test.x.to(ctx.device)).cpu()
        mse = linear_probe(z_train, splits.train.y, z_test, splits.test.y)
        table.append({"row": method, "probe_mse": mse, "info_nce_val": out.loss, "best_step": out.best_step})
        embeddings[method] = z_test
    raw = linear_probe(splits.train.x, splits.train.y, splits.test.x, splits.test.y)
    shown = cfg["tsne_points"]
    curves = {"tsne_dwsnet": tsne(embeddings["dwsnet"][:shown], seed=ctx.seed).tolist() if "dwsnet" in embeddings
              else [], "tsne_ab": splits.test.y[:shown].tolist()}
    summary = zoo.summary()
    split = (f"{summary['inrs']:,} INRs {widths} of a sin(bx), a, b ~ U(0, 10), {cfg['points']} points, mean PSNR "
             f"{summary['mean_psnr']:.1f} dB; split {' / '.join(map(str, cfg['splits']))}")
    return Outputs(metrics={**{r["row"]: r["probe_mse"] for r in table}, "raw_weights_probe_mse": raw,
                            **{f"zoo_{k}": v for k, v in summary.items()}},
                   tables={"dense": table}, curves=curves, data={"split": split})
