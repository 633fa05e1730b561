"""Neuroevolution with shared parameters (report Section 4, Algorithms 1-4) and the hierarchical ensemble.

A mutation :math:`m(h)` applies a random R2R transform to :math:`h`: widen or
deepen with probability 1/2 each, kernel size 1, 3 or 5 with probability 0.3,
0.35, 0.35, a uniformly chosen layer (residual block); the new R2R block is as
wide as that layer, and deepening inserts it right after the layer (as the
authors' code does). The child shares every parameter tensor of
its parent, so a whole population lives in memory, and :func:`joint_train`
(Algorithm 4) updates one random member per step, through the shared tensors
moving its relatives as well. Each child gets its own optimiser with its
parent's learning rate and weight decay times :math:`|\\Theta_h|_c / |\\Theta_{m(h)}|_c`
(App. C.3, and the authors' code); ``optimizers="shared"`` instead runs one
optimiser over every distinct tensor, recreated every round. The locality threshold :math:`\\tau` of Section 4.2
(:math:`|\\Theta_h|_c / |\\Theta_{m(h)}|_c > \\tau`) is not in the authors' code;
it is implemented here by redrawing a mutation until it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from weightspace.data import Split
from weightspace.r2r.networks import ResNet, architecture, parameter_count
from weightspace.r2r.transforms import INITS, r2_deeper_r, r2_wider_r, rescaled
from weightspace.training import TrainConfig, _batches_from, make_optimizer

KERNEL_PROBS = {1: 0.3, 3: 0.35, 5: 0.35}
SELECTIONS = ("best", "coevolution")
OPTIMIZERS = ("per_model", "shared")


@dataclass(frozen=True)
class Mutation:
    """One random R2R transform: ``op`` (widen/deepen) at ``stage`` and ``index`` (block or insert position).

    ``init`` draws the new weights (:func:`~weightspace.r2r.transforms.new_weight_std`).
    """

    op: Literal["widen", "deepen"]
    stage: int
    index: int
    kernel: int
    hidden: int
    init: str = "match"

    def apply(self, net: ResNet, generator: torch.Generator | None = None) -> ResNet:
        if self.op == "widen":
            return r2_wider_r(net, self.stage, self.index, self.hidden, self.kernel, mode="parallel",
                              init=self.init, generator=generator)
        return r2_deeper_r(net, self.stage, self.index, self.hidden, self.kernel, init=self.init, generator=generator)


def _choice(weights: Sequence[float], generator: torch.Generator) -> int:
    return int(torch.multinomial(torch.tensor(weights, dtype=torch.float64), 1, generator=generator))


def random_mutation(net: ResNet, generator: torch.Generator, init: str = "match") -> Mutation:
    """Draw a mutation: a residual block uniformly, widen/deepen 1/2 each, kernel 1/3/5 with 0.3/0.35/0.35.

    Widening adds a parallel R2R branch to the block; deepening inserts an
    identity block (residual + zero branch) right after it. Either way the new
    R2R block has as many hidden channels as the block has output channels.
    """
    blocks = [(s, b) for s, stage in enumerate(net.stages) for b in range(len(stage.blocks))]
    if not blocks:
        raise ValueError("a mutation needs a residual block to widen or deepen after; the network has none")
    kernel = list(KERNEL_PROBS)[_choice(list(KERNEL_PROBS.values()), generator)]
    s, b = blocks[int(torch.randint(len(blocks), (1,), generator=generator))]
    width = net.stages[s].blocks[b].out_channels
    if width % 2:
        raise ValueError(f"stage {s} block {b} has {width} output channels: a full-width R2R block needs an even number")
    if _choice([0.5, 0.5], generator) == 0:
        return Mutation("widen", s, b, kernel, width, init)
    return Mutation("deepen", s, b + 1, kernel, width, init)


def mutate(net: ResNet, generator: torch.Generator, tau: float = 0.0, max_tries: int = 100,
           init: str = "match") -> tuple[ResNet, Mutation]:
    """:math:`m(h)`: a random R2R child of ``net`` with :math:`|\\Theta_h|_c / |\\Theta_{m(h)}|_c > \\tau`."""
    if not 0.0 <= tau < 1.0:
        raise ValueError(f"the locality threshold tau must lie in [0, 1), got {tau}")
    before = parameter_count(net)
    for _ in range(max_tries):
        mutation = random_mutation(net, generator, init)
        child = mutation.apply(net, generator)
        if before / parameter_count(child) > tau:
            return child, mutation
    raise RuntimeError(f"no mutation of a {before}-parameter network met tau = {tau} in {max_tries} draws")


@dataclass
class Member:
    """A model of the population with its lineage, its training recipe and (per-model optimisers) its optimiser.

    ``cfg``: the recipe its optimiser uses (a child's is its parent's rescaled by
    App. C.3); ``optimizer`` is made on the model's first step and kept while it survives.
    """

    net: ResNet
    name: str
    cfg: TrainConfig
    parent: str | None = None
    mutation: Mutation | None = None
    optimizer: torch.optim.Optimizer | None = None

    @property
    def parameters(self) -> int:
        return parameter_count(self.net)

    def describe(self) -> dict:
        return {"name": self.name, "parent": self.parent, "parameters": self.parameters,
                "architecture": architecture(self.net), "lr": self.cfg.lr,
                "mutation": None if self.mutation is None else self.mutation.__dict__}


def mutate_population(models: list[Member], size: int, generator: torch.Generator, tau: float,
                      counter: Callable[[], int], init: str = "match") -> list[Member]:
    """Algorithm 3: add children of uniformly chosen members until there are ``size`` models."""
    models = list(models)
    while len(models) < size:
        parent = models[int(torch.randint(len(models), (1,), generator=generator))]
        child, mutation = mutate(parent.net, generator, tau, init=init)
        models.append(Member(child, f"m{counter()}", rescaled(parent.cfg, parent.net, child), parent.name, mutation))
    return models


def shared_parameters(models: Sequence[nn.Module]) -> list[nn.Parameter]:
    """The distinct parameter tensors of a population (shared ones once)."""
    return list({id(p): p for m in models for p in m.parameters()}.values())


def optimizers_for(members: Sequence[Member], mode: str, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """One optimiser per member: its own (``"per_model"``, made once from its recipe) or one ``"shared"`` by all.

    ``"shared"`` makes a fresh optimiser over every distinct tensor with ``cfg``.
    """
    if mode == "shared":
        return [make_optimizer(shared_parameters([m.net for m in members]), cfg)] * len(members)
    if mode != "per_model":
        raise ValueError(f"optimizers = {mode!r} is not allowed: choose one of {', '.join(OPTIMIZERS)}")
    for m in members:
        if m.optimizer is None:
            m.optimizer = make_optimizer(m.net.parameters(), m.cfg)
    return [m.optimizer for m in members]


def joint_train(models: Sequence[nn.Module], optimizers: Sequence[torch.optim.Optimizer], train: Split, steps: int,
                batch_size: int, *, seed: int, start_step: int = 0, generator: torch.Generator,
                desc: str = "joint training") -> None:
    """Algorithm 4: ``steps`` times pick a model uniformly and take one step of its optimiser on it.

    A step on a child updates the tensors it shares with its parent. Batches
    continue the shared training stream from ``start_step``.
    """
    if len(models) != len(optimizers):
        raise ValueError(f"{len(models)} models but {len(optimizers)} optimisers")
    stream = _batches_from(train, batch_size, seed, start_step)
    for _ in tqdm(range(steps), desc=desc, leave=False):
        i = int(torch.randint(len(models), (1,), generator=generator))
        model, opt = models[i], optimizers[i]
        model.train()
        x, y = next(stream)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


@torch.no_grad()
def correctness(models: Sequence[nn.Module], split: Split, batch_size: int = 1000) -> torch.Tensor:
    """(models, examples) boolean matrix: is model ``i`` right on example ``j`` (eval mode)."""
    rows = []
    for model in models:
        model.eval()
        rows.append(torch.cat([model(split.x[i : i + batch_size]).argmax(1) == split.y[i : i + batch_size]
                               for i in range(0, len(split), batch_size)]))
    return torch.stack(rows).cpu()


def select_best(correct: torch.Tensor, k: int) -> list[int]:
    """Algorithm 2 with ``select_best_model`` = highest validation accuracy: the top ``k`` indices."""
    acc = correct.double().mean(1)
    return sorted(range(len(acc)), key=lambda i: (-acc[i].item(), i))[:k]


def select_coevolution(correct: torch.Tensor, k: int) -> list[int]:
    """Co-evolution selection (Section 4.3): example ``j`` weighs :math:`(1 + c_j)^{-2}`.

    :math:`c_j` counts the already selected models that are right on ``j``, so each
    pick favours models that are right where the earlier picks are wrong.
    """
    chosen: list[int] = []
    covered = torch.zeros(correct.shape[1], dtype=torch.float64)
    while len(chosen) < min(k, len(correct)):
        weights = (1.0 + covered) ** -2
        score = (correct.double() * weights).sum(1)
        score[chosen] = -1.0
        best = int(torch.argmax(score))
        chosen.append(best)
        covered += correct[best].double()
    return chosen


SELECTORS = {"best": select_best, "coevolution": select_coevolution}


@dataclass
class NEConfig:
    """Algorithm 1's settings (report App. D, Table 2): N_i, N_j, K, M, num_iters, tau.

    ``optimizers``: ``"per_model"`` (each model its own optimiser, a child's learning
    rate and weight decay rescaled by the parameter ratio, App. C.3) or ``"shared"``
    (one optimiser over the population, recreated every round). ``init``: how the
    mutations draw new weights (:data:`~weightspace.r2r.transforms.INITS`).
    """

    n_initial: int
    n_joint: int
    k: int
    m: int
    iterations: int
    tau: float = 0.0
    optimizers: str = "per_model"
    init: str = "match"

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.m:
            raise ValueError(f"need 1 <= K <= M, got K = {self.k}, M = {self.m}")
        if self.optimizers not in OPTIMIZERS:
            raise ValueError(f"optimizers = {self.optimizers!r} is not allowed: choose one of {', '.join(OPTIMIZERS)}")
        if self.init not in INITS:
            raise ValueError(f"init = {self.init!r} is not allowed: choose one of {', '.join(INITS)}")


@dataclass
class NEOutcome:
    """The selected models (best first), their validation accuracies, and the history of the search."""

    selected: list[Member]
    val_accuracy: list[float]
    history: list[dict] = field(default_factory=list)


def _snapshot(models: list[Member], val: Split, k: int, select: Callable, iteration: int, step: int,
              history: list[dict]) -> list[int]:
    correct = correctness([m.net for m in models], val)
    keep = select(correct, k)
    history.append({"iteration": iteration, "step": step,
                    "population": [{**m.describe(), "val_accuracy": correct[i].double().mean().item(),
                                    "selected": i in keep} for i, m in enumerate(models)]})
    return keep


def neuroevolution(base: ResNet, train: Split, val: Split, ne: NEConfig, train_cfg: TrainConfig, *,
                   selection: str = "best", seed: int = 0) -> NEOutcome:
    """Algorithm 1: train the base network, then ``iterations`` x (select K, mutate to M, joint-train N_j)."""
    if selection not in SELECTORS:
        raise ValueError(f"unknown selection {selection!r}: choose one of {', '.join(SELECTORS)}")
    select = SELECTORS[selection]
    generator = torch.Generator().manual_seed(seed)
    serial = iter(range(1, 1 << 30))
    models = [Member(base, "m0", replace(train_cfg))]

    def train_round(steps: int, start: int, desc: str) -> None:
        joint_train([m.net for m in models], optimizers_for(models, ne.optimizers, train_cfg), train, steps,
                    train_cfg.batch_size, seed=seed, start_step=start, generator=generator, desc=desc)

    train_round(ne.n_initial, 0, "initial training")
    step, history = ne.n_initial, []
    for it in tqdm(range(ne.iterations), desc=f"neuroevolution ({selection})", leave=False):
        keep = _snapshot(models, val, ne.k, select, it, step, history)
        models = mutate_population([models[i] for i in keep], ne.m, generator, ne.tau, lambda: next(serial), ne.init)
        train_round(ne.n_joint, step, f"joint training {it + 1}/{ne.iterations}")
        step += ne.n_joint
    keep = _snapshot(models, val, ne.k, select, ne.iterations, step, history)
    accuracy = [h["val_accuracy"] for h in history[-1]["population"]]
    return NEOutcome([models[i] for i in keep], [accuracy[i] for i in keep], history)


class HierarchicalEnsemble(nn.Module):
    """Section 4.3: the selected models' logits, concatenated, feed FC ``hidden`` -> ReLU -> FC classes.

    The members are frozen feature extractors and stay in eval mode; only the
    head trains ("a network that learns which of the co-evolved networks are correct").
    """

    def __init__(self, members: Sequence[nn.Module], num_classes: int = 10, hidden: int = 64) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)  # frozen by running under no_grad; their tensors stay shared and trainable
        self.head = nn.Sequential(nn.Linear(len(members) * num_classes, hidden), nn.ReLU(),
                                  nn.Linear(hidden, num_classes))

    def train(self, mode: bool = True) -> HierarchicalEnsemble:
        super().train(mode)
        self.members.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            logits = torch.cat([m(x) for m in self.members], dim=1)
        return self.head(logits)
