"""Experiments of the DWSNets paper: shared zoos (cached) and one way to train every method on a zoo."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from weightspace import data as datasets
from weightspace.data import ImageData, Split
from weightspace.dws.align import align_to
from weightspace.dws.augment import Augmentation, Normalized, orbit_statistics
from weightspace.dws.inr import INRRecipe, Zoo, fit_inrs, mnist_inr_targets
from weightspace.dws.models import build
from weightspace.dws.space import WeightSpace
from weightspace.experiments import RunContext, seed_everything
from weightspace.results import load_or_make
from weightspace.training import Objective, TrainConfig, train_classifier

PAPER = "dws"


def image_inr_zoo(ctx: RunContext, dataset: str, inrs: int, recipe: dict[str, Any], seed: int) -> Zoo:
    """INRs of the first ``inrs`` images of ``dataset`` (train split then evaluation split), cached.

    ``quick`` MNIST: the offline 10,000-image MNIST test split (8,000 + 2,000);
    ``full``: the 60,000 + 10,000 MNIST (or Fashion-MNIST) images. INR ``k`` starts
    from seed ``seed * 1_000_003 + k``.
    """
    if dataset not in ("mnist", "fashion_mnist"):
        raise ValueError(f"INR zoos are fitted to mnist or fashion_mnist images, not {dataset!r}")
    images = datasets.load(dataset, ctx.profile)
    x = torch.cat([images.train.x, images.eval.x])[:inrs]
    y = torch.cat([images.train.y, images.eval.y])[:inrs]
    if len(x) < inrs:
        raise ValueError(f"{dataset} has {len(x)} images at the {ctx.profile} profile; {inrs} INRs requested")
    mean, std = {"mnist": (datasets.MNIST_MEAN, datasets.MNIST_STD),
                 "fashion_mnist": (datasets.FASHION_MNIST_MEAN, datasets.FASHION_MNIST_STD)}[dataset]
    pixels = x * std + mean
    key = {"dataset": dataset, "profile": ctx.profile, "split": images.description["split"], "inrs": inrs,
           "recipe": recipe, "seed": seed, "device": ctx.device.type}

    def make() -> Zoo:
        targets, coords = mnist_inr_targets(pixels.clamp(0, 1))
        seeds = [seed * 1_000_003 + k for k in range(inrs)]
        return fit_inrs(targets.to(ctx.device), coords.to(ctx.device), seeds, INRRecipe(**recipe), labels=y,
                        desc=f"{dataset} INRs")

    zoo = load_or_make(f"{PAPER}/{dataset}_inrs", key, make, scope=__name__)
    zoo.labels = zoo.labels.long()
    return zoo


def wave_zoo(ctx: RunContext, kind: str, n: int, points: int, recipe: dict[str, Any],
             waves: Callable[[int, int, torch.Generator], tuple[Tensor, Tensor, Tensor]]) -> Zoo:
    """INRs of ``n`` 1-D waves drawn by ``waves(n, points, generator)`` (targets, coords, labels), cached as ``kind``.

    The waves come from a generator seeded with the run's seed; INR ``k`` starts
    from seed ``seed * 1_000_003 + k``.
    """
    key = {"profile": ctx.profile, "n": n, "points": points, "inr": recipe, "seed": ctx.seed,
           "device": ctx.device.type}

    def make() -> Zoo:
        targets, coords, labels = waves(n, points, torch.Generator().manual_seed(ctx.seed))
        seeds = [ctx.seed * 1_000_003 + k for k in range(n)]
        return fit_inrs(targets.to(ctx.device), coords.to(ctx.device), seeds, INRRecipe(**recipe), labels=labels,
                        desc=kind.replace("_", " "))

    return load_or_make(f"{PAPER}/{kind}", key, make, scope=__name__)


@dataclass
class ZooSplits:
    """A zoo cut into train / validation / test (flat parameters ``[N, D]`` and targets)."""

    train: Split
    val: Split
    test: Split
    widths: tuple[int, ...]

    @classmethod
    def cut(cls, params: torch.Tensor, targets: torch.Tensor, sizes: tuple[int, int, int],
            widths: tuple[int, ...]) -> ZooSplits:
        a, b, c = sizes
        if a + b + c > len(params):
            raise ValueError(f"splits {sizes} need {a + b + c} networks; the zoo has {len(params)}")
        return cls(Split(params[:a], targets[:a]), Split(params[a : a + b], targets[a : a + b]),
                   Split(params[a + b : a + b + c], targets[a + b : a + b + c]), tuple(widths))

    def aligned(self) -> ZooSplits:
        """Every network aligned to the first training network by weight matching (the alignment baseline)."""
        ref = WeightSpace.from_flat(self.train.x[:1], self.widths)

        def al(s: Split) -> Split:
            return Split(align_to(ref, WeightSpace.from_flat(s.x, self.widths)).flatten(), s.y)

        return ZooSplits(al(self.train), al(self.val), al(self.test), self.widths)


def train_method(method: str, splits: ZooSplits, out_features: int, model_kwargs: dict[str, Any],
                 recipe: dict[str, Any], augment: dict[str, Any], seed: int, device: torch.device,
                 objective: Objective = Objective()) -> dict[str, Any]:
    """Train ``method`` on ``splits`` (best validation step kept) and score it on the test split.

    Returns the scores and the trained ``model`` with the ``test_inputs`` it was scored on
    (aligned ones for ``mlp_align``).

    Weights are normalised with the training zoo's statistics; ``augment``
    (:class:`Augmentation` options) applies to training batches, plus a random
    hidden-neuron permutation for ``mlp_perm``; ``mlp_align`` trains on aligned MLPs.
    """
    started = time.time()
    if method == "mlp_align":
        splits = splits.aligned()
    seed_everything(seed)
    mean, std = orbit_statistics(splits.train.x, splits.widths)
    model = Normalized(build(method, splits.widths, out_features, **model_kwargs), mean, std).to(device)
    aug = Augmentation(splits.widths, **{**augment, "permutation": method == "mlp_perm"})
    data = ImageData(method, splits.train, splits.val, out_features).to(device)
    outcome = train_classifier(model, data, TrainConfig(**recipe), seed=seed, desc=method,
                               augment=aug, objective=objective)
    test_score, test_loss = objective.evaluate(model, splits.test.to(device))
    return {"row": method, "score": test_score, "loss": test_loss, "val_score": outcome.accuracy,
            "best_step": outcome.best_step, "parameters": sum(p.numel() for p in model.parameters()),
            "train_time_s": round(time.time() - started, 1), "curve": outcome.curve, "model": model,
            "test_inputs": splits.test.x}
