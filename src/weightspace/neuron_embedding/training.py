"""Training the paper's networks: Table 1's protocol (Section 4.1) and the trained reference of Sections 4.2-4.3.

* :func:`trained_reference`: the direct 784-400-10 network that Table 2 fits
  (Section 4.2) and Table 3 uses as its target (Section 4.3), trained once and cached.
* :func:`selection_split`: where the best step of a Table 1 run is chosen
  (training images held out) and which split is reported.
* :func:`flip_horizontally` and :func:`cross_entropy`: the CIFAR-10 augmentation
  and the sum-reduced loss of Table 1's ResNet9 recipe.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import torch
import torch.nn.functional as F

from weightspace.data import ImageData, Split
from weightspace.neuron_embedding.models import FC2_SIZES, FCNet
from weightspace.results import Checkpoint, load_or_make
from weightspace.training import Objective, TrainConfig, TrainOutcome, seed_everything, train_classifier

REDUCTIONS = ("mean", "sum")


def trained_reference(data: ImageData, recipe: dict[str, Any], seed: int, device: torch.device,
                      checkpoint: Callable[[str], Checkpoint]) -> tuple[FCNet, TrainOutcome]:
    """A direct 784-400-10 network trained on ``data`` with ``recipe`` (a :class:`TrainConfig`'s fields) from ``seed``.

    Returns the network (in eval mode, on ``device``) and its training outcome.
    Cached by (sizes, recipe, seed, data description, device type): Table 2's
    reference and Table 3's target are the same network, as in the paper (both
    report 97.48%), trained once. ``checkpoint(tag)`` gives the file an
    interrupted training resumes from (e.g. ``RunContext.checkpoint``).
    """
    train_config = TrainConfig(**recipe)  # a bad recipe fails here, before anything is cached
    key = {"sizes": FC2_SIZES, "recipe": recipe, "seed": seed, "data": data.description, "device": device.type}

    def make() -> dict[str, Any]:
        seed_everything(seed)
        net = FCNet(FC2_SIZES, "direct").to(device)
        out = train_classifier(net, data, train_config, seed=seed, checkpoint=checkpoint(f"reference-seed{seed}"),
                               desc=f"reference (seed {seed})")
        return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "best_step": out.best_step,
                "accuracy": out.accuracy, "loss": out.loss, "curve": out.curve}

    record = load_or_make("neuron_embedding/fc2_reference", key, make, scope=__name__)
    net = FCNet(FC2_SIZES, "direct")
    net.load_state_dict(record["state"])
    outcome = TrainOutcome(record["best_step"], record["accuracy"], record["loss"], record["curve"])
    return net.to(device).eval(), outcome


def selection_split(data: ImageData, holdout: int, seed: int = 0) -> tuple[ImageData, Split]:
    """``data`` with ``holdout`` training images moved to its evaluation split (where the best step is chosen),
    and the split to report: the test split. ``holdout=0`` selects on the reported split itself."""
    if isinstance(holdout, bool) or not isinstance(holdout, int) or not 0 <= holdout < len(data.train):
        raise ValueError(f"selection_holdout must be a whole number in [0, {len(data.train)}), got {holdout!r}")
    if holdout == 0:
        return data, data.eval
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed)).to(data.train.y.device)
    fit, held = order[:-holdout], order[-holdout:]
    select = ImageData(data.name, Split(data.train.x[fit], data.train.y[fit]),
                       Split(data.train.x[held], data.train.y[held]), data.num_classes, data.description)
    return select, data.eval


def flip_horizontally(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2 (Table 1's CIFAR-10 augmentation)."""
    mirror = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(mirror.view(-1, 1, 1, 1), x.flip(-1), x)


def cross_entropy(reduction: str) -> Objective:
    """Cross-entropy with ``reduction`` ``mean`` or ``sum`` (Table 1's CIFAR-10 loss), scored by accuracy."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"loss reduction must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")
    return Objective(loss=partial(F.cross_entropy, reduction=reduction))
