"""The one training loop the experiments share: steps, schedules, best-of selection, resume."""

from __future__ import annotations

import copy
import random
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from weightspace.data import ImageData, Split
from weightspace.results import Checkpoint

OPTIMIZERS = ("adam", "sgd", "adamw")
SCHEDULES = ("one_cycle", "linear", "constant", "step")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators with ``seed`` (before building or training a model)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe counted in optimizer steps.

    ``optimizer``: ``adam`` (AMSGrad with ``amsgrad``), ``adamw`` (AdamW with
    AMSGrad, as DWSNets train) or ``sgd`` (momentum, Nesterov unless ``nesterov`` is off).
    ``schedule``: ``one_cycle`` (warm-up then cosine annealing, Smith & Topin),
    ``linear`` (the same cycle with linear ramps), ``constant``, or ``step``
    (learning rate times ``gamma`` at each of the ``milestones`` steps).
    The best model over the run is chosen on the evaluation split every
    ``eval_every`` steps, as the neuron-embedding paper does ("best of 2000 steps").
    """

    steps: int
    batch_size: int
    lr: float
    optimizer: str = "adam"
    schedule: str = "one_cycle"
    momentum: float = 0.9
    weight_decay: float = 0.0
    eval_every: int = 100
    checkpoint_every: int = 500
    amsgrad: bool = False
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    nesterov: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("steps, batch_size and eval_every must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainOutcome:
    """The best model seen and the curve that led to it."""

    best_step: int
    accuracy: float
    loss: float
    curve: list[dict[str, float]] = field(default_factory=list)


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, amsgrad=cfg.amsgrad)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, amsgrad=True)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                           nesterov=cfg.nesterov)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), cfg.gamma)
    strategy = "cos" if cfg.schedule == "one_cycle" else "linear"
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, anneal_strategy=strategy,
                                               cycle_momentum=False)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = 1000) -> tuple[float, float]:
    """Accuracy (%) and mean cross-entropy of ``model`` on ``split``."""
    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(split), batch_size):
        x, y = split.x[start : start + batch_size], split.y[start : start + batch_size]
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    model.train(was_training)
    return 100.0 * correct / len(split), loss / len(split)


@torch.no_grad()
def evaluate_regression(model: nn.Module, split: Split, batch_size: int = 1000) -> tuple[float, float]:
    """Negative mean squared error (higher is better, for best-of selection) and the MSE of ``model`` on ``split``."""
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(split), batch_size):
        x, y = split.x[start : start + batch_size], split.y[start : start + batch_size]
        total += F.mse_loss(model(x).view_as(y), y, reduction="sum").item() / (y[0].numel() if y.dim() > 1 else 1)
    model.train(was_training)
    return -total / len(split), total / len(split)


@dataclass(frozen=True)
class Objective:
    """What :func:`train_classifier` minimises and how it scores a model (higher ``score`` is better).

    The default is classification: cross-entropy, scored by accuracy (%).
    """

    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy
    evaluate: Callable[[nn.Module, Split], tuple[float, float]] = evaluate


REGRESSION = Objective(loss=lambda pred, y: F.mse_loss(pred.view_as(y), y), evaluate=evaluate_regression)


def _batches_from(split: Split, batch_size: int, seed: int, step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled mini-batches, epoch ``e`` ordered by a generator seeded with ``(seed, e)``.

    The batch of every step is a function of ``(seed, step)`` alone, so a resumed run
    sees exactly the batches an uninterrupted one would.
    """
    per_epoch = len(split) // batch_size
    epoch, offset = divmod(step, per_epoch)
    while True:
        order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        for b in range(offset, per_epoch):
            idx = order[b * batch_size : (b + 1) * batch_size].to(split.x.device)
            yield split.x[idx], split.y[idx]
        epoch, offset = epoch + 1, 0


def train_classifier(model: nn.Module, data: ImageData, cfg: TrainConfig, *, seed: int = 0,
                     checkpoint: Checkpoint | None = None, desc: str = "train",
                     augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
                     regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
                     objective: Objective = Objective(), start_step: int = 0, keep: str = "best") -> TrainOutcome:
    """Train ``model`` with cross-entropy; leave it holding the best evaluated weights.

    ``augment(x, generator)`` transforms each training batch's inputs, with a CPU
    generator seeded by ``(seed, step)`` so a resumed run draws the same
    augmentations; ``regularizer(model)`` is added to the loss (e.g. NeRN's
    smoothness term); ``objective`` replaces the loss and the score (e.g.
    :data:`REGRESSION`: MSE, scored by its negative, so the outcome's ``accuracy``
    is then ``-MSE``).

    With a ``checkpoint``, state is saved every ``cfg.checkpoint_every`` steps and an
    interrupted run resumes from the last save; the file is removed at the end.

    A run can continue another with a new model (a network that changed its
    architecture mid-run): ``start_step`` > 0 trains steps ``start_step + 1 ..
    cfg.steps`` with a fresh optimiser, the batch stream and the schedule taken
    up where that step left them, and the curve counting global steps.
    ``keep="last"`` leaves the final weights in the model instead of the best.
    """
    if cfg.batch_size > len(data.train):
        raise ValueError(f"batch size {cfg.batch_size} exceeds the {len(data.train)} training examples")
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    if not 0 <= start_step < cfg.steps:
        raise ValueError(f"start_step {start_step} must lie in [0, {cfg.steps})")
    opt = make_optimizer(model.parameters(), cfg)
    sched = make_scheduler(opt, cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # stepping the schedule before the first optimiser step
        for _ in range(start_step):
            sched.step()
    step, best, curve = start_step, {"step": 0, "accuracy": float("-inf"), "loss": float("inf"), "state": None}, []
    state = checkpoint.load() if checkpoint else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, best, curve = state["step"], state["best"], state["curve"]
    stream = _batches_from(data.train, cfg.batch_size, seed, step)
    model.train()
    with tqdm(total=cfg.steps, initial=step, desc=desc, leave=False) as bar:
        while step < cfg.steps:
            x, y = next(stream)
            if augment is not None:
                x = augment(x, torch.Generator().manual_seed(seed * 1_000_003 + step))
            loss = objective.loss(model(x), y)
            if regularizer is not None:
                loss = loss + regularizer(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                acc, eval_loss = objective.evaluate(model, data.eval)
                curve.append({"step": step, "train_loss": loss.item(), "accuracy": acc, "loss": eval_loss})
                bar.set_postfix(acc=f"{acc:.2f}")
                if acc > best["accuracy"]:
                    best = {"step": step, "accuracy": acc, "loss": eval_loss,
                            "state": copy.deepcopy(model.state_dict())}
            if checkpoint and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                checkpoint.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                                 "scheduler": sched.state_dict(),
                                 "step": step, "best": best, "curve": curve})
    if keep == "best":
        model.load_state_dict(best["state"])
    model.eval()
    if checkpoint:
        checkpoint.remove()
    return TrainOutcome(best["step"], best["accuracy"], best["loss"], curve)
