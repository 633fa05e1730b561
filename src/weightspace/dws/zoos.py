"""Zoos as data (Section 6): the cached INR and classifier zoos, their train / validation / test splits, and
one way to train every method of the paper on a split zoo.

Zoos take minutes to hours to fit, so each is cached (:func:`weightspace.results.load_or_make`)
under a key of everything that makes it: the data it was fitted to (dataset and
split), its sizes and recipe, the seed and the device type. Network ``k`` of a
zoo starts from seed ``seed * 1_000_003 + k``. INR zoos are fitted and cached in
parts of about :data:`FIT_PART` INRs (:func:`fit_in_parts`), so an interrupted fit
resumes at its first missing part.
"""

from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from weightspace import data as datasets
from weightspace.data import ImageData, Split
from weightspace.dws.adaptation import train_mlp_zoo, zoo_accuracy
from weightspace.dws.align import align_to
from weightspace.dws.augment import Augmentation, Normalized, orbit_statistics
from weightspace.dws.inr import INRRecipe, INRZoo, fit_inrs, mnist_inr_targets
from weightspace.dws.models import build
from weightspace.dws.space import Shapes, Zoo
from weightspace.results import load_or_make
from weightspace.training import Objective, TrainConfig, TrainOutcome, seed_everything, train_classifier

CACHE = "dws"  # the cache folder of the paper's zoos
IMAGE_STATS = {"mnist": (datasets.MNIST_MEAN, datasets.MNIST_STD),
               "fashion_mnist": (datasets.FASHION_MNIST_MEAN, datasets.FASHION_MNIST_STD)}
CLASSIFIER_SETTINGS = ("lr", "steps", "label_noise")  # the hyper-parameters a classifier zoo varies, in this order
FIT_PART = 1000  # INRs per cached part of a zoo fit, rounded up to whole tensor programs (INRRecipe.chunk_for)


def _seeds(seed: int, n: int, start: int = 0) -> list[int]:
    return [seed * 1_000_003 + start + k for k in range(n)]


def fit_in_parts(kind: str, key: dict[str, Any], targets: Tensor, coords: Tensor, seeds: Sequence[int],
                 recipe: dict[str, Any], labels: Tensor, device: torch.device, desc: str) -> INRZoo:
    """:func:`fit_inrs` of ``targets`` (with ``coords``, ``seeds``, ``recipe``, ``labels``) in parts, each cached.

    A part is the INRs ``a`` to ``b - 1``, cached as ``kind`` under ``key`` plus
    ``"part": [a, b]``; its size is :data:`FIT_PART` rounded up to whole tensor
    programs of the recipe on ``device``, so the parts are fitted in exactly the
    tensor programs of one whole fit and the joined zoo equals it bit for bit
    (:func:`fit_inrs`; the tensor program's size itself changes INRs at float
    rounding, and enters the key through the recipe and the device). The part size
    therefore is no part of a zoo's identity. A fit that stops resumes at the first
    missing part.
    """
    fit_recipe = INRRecipe(**recipe)
    programs = fit_recipe.chunk_for(device, targets.shape[1])
    size = -(-FIT_PART // programs) * programs
    parts = []
    for start in tqdm(range(0, len(targets), size), desc=f"{desc} (parts of {size:,})"):
        stop = min(start + size, len(targets))
        part_coords = coords[start:stop] if coords.dim() == 3 else coords  # per-signal or shared coordinates
        fit = functools.partial(fit_inrs, targets[start:stop].to(device), part_coords.to(device), seeds[start:stop],
                                fit_recipe, labels=labels[start:stop], desc=f"{desc} {start:,}-{stop:,}")
        parts.append(load_or_make(kind, {**key, "part": [start, stop]}, fit, scope=__name__))
    return INRZoo.cat(parts)


def image_inr_zoo(images: ImageData, inrs: int, recipe: dict[str, Any], seed: int, device: torch.device) -> INRZoo:
    """INRs of the first ``inrs`` images of ``images`` (its train split, then its evaluation split), cached in parts.

    ``images`` is MNIST or Fashion-MNIST as :func:`weightspace.data.load` returns it
    (normalised); each INR fits the image's pixel intensities in ``[0, 1]``. INR ``k``
    depends only on image ``k``, its seed and its tensor program, so the parts'
    key leaves out the zoo's size: a zoo's parts are the first parts of any larger zoo
    of the same data, recipe, seed and device.
    """
    if images.name not in IMAGE_STATS:
        raise ValueError(f"INR zoos are fitted to {' or '.join(IMAGE_STATS)} images, not {images.name!r}")
    x = torch.cat([images.train.x, images.eval.x])[:inrs]
    y = torch.cat([images.train.y, images.eval.y])[:inrs]
    if len(x) < inrs:
        raise ValueError(f"{images.description.get('split', images.name)} has {len(x)} images; {inrs} INRs requested")
    mean, std = IMAGE_STATS[images.name]
    targets, coords = mnist_inr_targets((x * std + mean).clamp(0, 1))
    key = {"dataset": images.name, "split": images.description["split"], "recipe": recipe, "seed": seed,
           "device": device.type}
    fitted = fit_in_parts(f"{CACHE}/{images.name}_inrs", key, targets, coords, _seeds(seed, inrs), recipe, y, device,
                          f"{images.name} INRs")
    fitted.zoo = Zoo(fitted.zoo.params, fitted.zoo.targets.long(), fitted.zoo.widths)
    return fitted


def wave_zoo(kind: str, n: int, points: int, recipe: dict[str, Any],
             waves: Callable[[int, int, torch.Generator], tuple[Tensor, Tensor, Tensor]], seed: int,
             device: torch.device) -> INRZoo:
    """INRs of ``n`` 1-D waves drawn by ``waves(n, points, generator)`` (targets, coords, labels), cached as ``kind``.

    The waves come from a generator seeded with ``seed``; they depend on ``n``, which is
    therefore in the key of every part.
    """
    key = {"n": n, "points": points, "inr": recipe, "seed": seed, "device": device.type}
    targets, coords, labels = waves(n, points, torch.Generator().manual_seed(seed))
    return fit_in_parts(f"{CACHE}/{kind}", key, targets, coords, _seeds(seed, n), recipe, labels, device,
                        kind.replace("_", " "))


@dataclass(frozen=True)
class ClassifierZoo:
    """MLP classifiers with their test accuracy (%) as the targets, and each one's training setting."""

    zoo: Zoo
    settings: Tensor  # [N, 3]: learning rate, steps, fraction of noisy labels (CLASSIFIER_SETTINGS)


def classifier_zoo(images: ImageData, side: int, widths: Shapes, per_setting: int, settings: dict[str, list],
                   batch_size: int, seed: int, device: torch.device) -> ClassifierZoo:
    """``per_setting`` ReLU MLP classifiers for every combination of ``settings`` (``lr``, ``steps``, ``label_noise``:
    that fraction of training labels redrawn at random), on ``images`` averaged to ``side x side``; cached.

    The networks of one setting train together (:func:`train_mlp_zoo`); the zoo is
    shuffled with ``seed``.
    """
    if tuple(settings) != CLASSIFIER_SETTINGS or not all(settings.values()):
        raise ValueError(f"classifier zoo settings must give non-empty lists for {', '.join(CLASSIFIER_SETTINGS)} "
                         f"(in that order); got {settings}")
    if widths[0] != side * side or widths[-1] != images.num_classes:
        raise ValueError(f"classifier widths {tuple(widths)} must take side^2 = {side * side} inputs and give "
                         f"{images.num_classes} classes")
    x_train = F.adaptive_avg_pool2d(images.train.x, side).flatten(1).to(device)
    x_test = F.adaptive_avg_pool2d(images.eval.x, side).flatten(1).to(device)
    y_train, y_test = images.train.y.to(device), images.eval.y.to(device)
    key = {"side": side, "widths": list(widths), "per_setting": per_setting, "settings": settings,
           "classifier_batch": batch_size, "data": images.description, "seed": seed, "device": device.type}

    def make() -> ClassifierZoo:
        params, accuracy, chosen = [], [], []
        for i, (lr, steps, noise) in enumerate(itertools.product(*settings.values())):
            g = torch.Generator().manual_seed(seed * 7919 + i)
            flip = torch.rand(len(y_train), generator=g).to(device) < noise
            noisy = torch.where(flip, torch.randint(0, 10, (len(y_train),), generator=g).to(device), y_train)
            space = train_mlp_zoo(x_train, noisy, widths, _seeds(seed, per_setting, i * per_setting), steps, lr,
                                  batch_size, desc=f"classifiers lr={lr} steps={steps} noise={noise}")
            params.append(space.flatten().cpu())
            accuracy.append(zoo_accuracy(space, x_test, y_test).cpu())
            chosen += [[lr, steps, noise]] * len(space)
        order = torch.randperm(sum(len(p) for p in params), generator=torch.Generator().manual_seed(seed))
        return ClassifierZoo(Zoo(torch.cat(params)[order], torch.cat(accuracy)[order], widths),
                             torch.tensor(chosen, dtype=torch.float64)[order])

    return load_or_make(f"{CACHE}/mnist_classifiers", key, make, scope=__name__)


@dataclass(frozen=True)
class ZooSplits:
    """A zoo cut into train / validation / test zoos of the same MLPs."""

    train: Zoo
    val: Zoo
    test: Zoo

    def __post_init__(self) -> None:
        if len({self.train.widths, self.val.widths, self.test.widths}) > 1:
            raise ValueError(f"the splits of a zoo hold MLPs of one architecture; got {self.train.widths}, "
                             f"{self.val.widths} and {self.test.widths}")

    @classmethod
    def cut(cls, zoo: Zoo, sizes: tuple[int, int, int]) -> ZooSplits:
        """The first ``sizes[0]`` MLPs for training, the next ``sizes[1]`` for validation, then ``sizes[2]`` for test."""
        if len(sizes) != 3:
            raise ValueError(f"splits are three sizes (train, validation, test); got {list(sizes)}")
        return cls(*zoo.split(sizes))

    @property
    def widths(self) -> Shapes:
        return self.train.widths

    def aligned(self) -> ZooSplits:
        """Every MLP aligned to the first training MLP by weight matching (the alignment baseline)."""
        reference = self.train.space[:1]

        def align(zoo: Zoo) -> Zoo:
            return Zoo.from_space(align_to(reference, zoo.space), zoo.targets)

        return ZooSplits(align(self.train), align(self.val), align(self.test))


@dataclass
class MethodRun:
    """A method trained on a split zoo: its test score and loss, its training, and the trained model.

    ``test`` is the test zoo the model was scored on (aligned for ``mlp_align``).
    """

    score: float
    loss: float
    outcome: TrainOutcome
    parameters: int
    train_time_s: float
    model: nn.Module
    test: Zoo


def train_method(method: str, splits: ZooSplits, out_features: int, model_kwargs: dict[str, Any],
                 recipe: dict[str, Any], augment: dict[str, Any], seed: int, device: torch.device,
                 objective: Objective = Objective()) -> MethodRun:
    """Train ``method`` on ``splits`` (best validation step kept) and score it on the test split.

    Weights are normalised with the training zoo's statistics; ``augment``
    (:class:`Augmentation` options) applies to training batches, plus a random
    hidden-neuron permutation for ``mlp_perm``; ``mlp_align`` trains on aligned MLPs.
    The model is initialised from ``seed_everything(seed)``.
    """
    started = time.time()
    if method == "mlp_align":
        splits = splits.aligned()
    seed_everything(seed)
    mean, std = orbit_statistics(splits.train.params, splits.widths)
    model = Normalized(build(method, splits.widths, out_features, **model_kwargs), mean, std).to(device)
    aug = Augmentation(splits.widths, **{**augment, "permutation": method == "mlp_perm"})
    data = ImageData(method, Split(splits.train.params, splits.train.targets),
                     Split(splits.val.params, splits.val.targets), out_features).to(device)
    outcome = train_classifier(model, data, TrainConfig(**recipe), seed=seed, desc=method,
                               augment=aug, objective=objective)
    score, loss = objective.evaluate(model, Split(splits.test.params, splits.test.targets).to(device))
    return MethodRun(score, loss, outcome, sum(p.numel() for p in model.parameters()),
                     round(time.time() - started, 1), model, splits.test)

