"""Section 6 / App. K.2, self-supervised dense representation: InfoNCE embeddings of sine-wave INRs.

INRs of ``a sin(b x)`` (``a, b ~ U(0, 10)``) are embedded in 16 dimensions by an
encoder trained with InfoNCE (temperature 0.1) on two views of each INR. The
paper does not give the views; ``views`` defaults to the authors' code: the INR
itself paired with a copy shifted by 0.2 of its weights' std (``noise_kind
"authors_shift"``) with dropout 0.5, no permutation (``pair "clean_augmented"``);
``pair "both_augmented"`` with permutation, Gaussian noise 0.05 and dropout 0.05
is the variant this page ran before. The quality of
the embedding is the test MSE of a linear regression from it to ``(a, b)``, and
a t-SNE plot of the test embeddings coloured by ``a`` and ``b``. Every method
serves as the encoder, with the same recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from weightspace.data import ImageData, Split
from weightspace.dws.augment import Augmentation, Normalized, orbit_statistics
from weightspace.dws.contrastive import INFO_NCE, VIEW_PAIRS, TwoViews, linear_probe, tsne
from weightspace.dws.inr import SINE_INR_WIDTHS, scaled_sine_waves
from weightspace.dws.models import METHODS, build
from weightspace.dws.space import Zoo
from weightspace.dws.zoos import ZooSplits, wave_zoo
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.dws._presets import adamw, models
from weightspace.tables import Row, Table
from weightspace.training import TrainConfig, train_classifier

TITLE = "DWSNets: self-supervised dense representation of sine-wave INRs"
ENCODERS = tuple(m for m in METHODS if m != "mlp_align")  # alignment transforms the data, it is no encoder
AUTHORS_VIEWS = {"pair": "clean_augmented", "noise": 0.2, "noise_kind": "authors_shift", "dropout": 0.5,
                 "permutation": False}


@dataclass(frozen=True, kw_only=True)
class DenseRow(Row):
    """An encoder: linear-probe test MSE of ``(a, b)`` from its embedding, its best validation InfoNCE and step."""

    probe_mse: float
    info_nce_val: float
    best_step: int


@dataclass(frozen=True)
class TSNEPoint:
    """A test INR's DWSNet embedding in the t-SNE plane, with the wave's ``a`` and ``b``."""

    x: float
    y: float
    a: float
    b: float


TABLES = {"dense": Table(DenseRow, rows=lambda cfg: list(cfg["methods"])), "tsne": Table(TSNEPoint)}


def config(profile: str) -> dict[str, Any]:
    full = {
        "inr": {"widths": list(SINE_INR_WIDTHS), "steps": 2000, "lr": 1e-3, "stop_psnr": 40.0, "offset": 0.0,
                "init": "authors"},
        "points": 2000, "splits": [4000, 500, 1000], "embedding": 16,
        "views": dict(AUTHORS_VIEWS),
        "methods": list(ENCODERS), "models": models("small", "16x4", ENCODERS),
        "recipes": {m: adamw(5000, 64, 1e-3, 250) for m in ENCODERS}, "tsne_points": 500,
    }
    if profile == "full":
        return full
    return {**full, "inr": {**full["inr"], "widths": [1, 16, 16, 1], "steps": 150, "lr": 1e-2},
            "points": 128, "splits": [600, 100, 300], "models": models("small", "8x3", ENCODERS),
            "recipes": {m: adamw(150, 64, 3e-3, 50, "one_cycle") for m in ENCODERS}, "tsne_points": 300}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    unknown = [m for m in cfg["methods"] if m not in ENCODERS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(ENCODERS)}")
    view_settings = dict(cfg["views"])
    pair = view_settings.pop("pair")
    if pair not in VIEW_PAIRS:
        raise ValueError(f"views.pair {pair!r} is not one of {', '.join(VIEW_PAIRS)}")
    views = Augmentation(tuple(cfg["inr"]["widths"]), **view_settings)
    fitted = wave_zoo("scaled_sine_inrs", sum(cfg["splits"]), cfg["points"], cfg["inr"], scaled_sine_waves,
                      ctx.seed, ctx.device)
    splits = ZooSplits.cut(Zoo(fitted.zoo.params, fitted.zoo.targets.float(), fitted.zoo.widths),
                           tuple(cfg["splits"]))
    train, test, widths = splits.train, splits.test, splits.widths
    mean, std = orbit_statistics(train.params, widths)
    table, embeddings = [], {}
    for i, method in enumerate(cfg["methods"]):
        seed_everything(ctx.seed * 1000 + i)
        encoder = Normalized(build(method, widths, cfg["embedding"], **cfg["models"][method]), mean, std)
        model = TwoViews(encoder, views, pair).to(ctx.device)
        data = ImageData(method, Split(train.params, train.targets), Split(splits.val.params, splits.val.targets),
                         cfg["embedding"]).to(ctx.device)
        out = train_classifier(model, data, TrainConfig(**cfg["recipes"][method]), seed=ctx.seed * 1000 + i,
                               desc=method, objective=INFO_NCE)
        with torch.no_grad():
            z_train = encoder(train.params.to(ctx.device)).cpu()
            z_test = encoder(test.params.to(ctx.device)).cpu()
        mse = linear_probe(z_train, train.targets, z_test, test.targets)
        table.append(DenseRow(row=method, probe_mse=mse, info_nce_val=out.loss, best_step=out.best_step))
        embeddings[method] = z_test
    raw = linear_probe(train.params, train.targets, test.params, test.targets)
    shown = cfg["tsne_points"]
    points = []
    if "dwsnet" in embeddings:
        plane = tsne(embeddings["dwsnet"][:shown], seed=ctx.seed).tolist()
        points = [TSNEPoint(x, y, a, b) for (x, y), (a, b) in zip(plane, test.targets[:shown].tolist())]
    summary = fitted.summary()
    split = (f"{summary['inrs']:,} INRs {widths} of a sin(bx), a, b ~ U(0, 10), {cfg['points']} points, mean PSNR "
             f"{summary['mean_psnr']:.1f} dB; split {' / '.join(map(str, cfg['splits']))}")
    return Outputs(metrics={**{r.row: r.probe_mse for r in table}, "raw_weights_probe_mse": raw,
                            **{f"zoo_{k}": v for k, v in summary.items()}},
                   tables={"dense": table, "tsne": points}, data={"split": split})
