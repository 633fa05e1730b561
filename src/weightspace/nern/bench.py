"""NeRN benchmarks (``python -m weightspace bench nern``): see :mod:`weightspace.bench`.

The orderings of Section 3.3 are timed in :mod:`weightspace.nern.bench_orders`.
``nern.training_iteration_resnet20``: one training iteration at the paper's CIFAR
setting (ResNet20, h = 160, a batch of 256 images, 4,096 sampled kernels, KD + FMD)
against :func:`authors_step`, an in-project step that does what the authors' step
does: every kernel predicted without gradients and the sampled ones again with
them, the predictions copied into the module's conv weights, the distillation
through forward hooks on the module (each BN its own pass, each feature map
normalised and subtracted), back-propagated to those weights and from them, in a
second backward, into the predictor, and a one-tensor-at-a-time Ranger.
``nern.iteration_convolutions_resnet20``: the convolutions alone of that iteration
(:func:`convolutions`), the arithmetic both steps share, against the same baseline:
its ratio is the least any step at this size and precision can reach on the machine.
Both run on a GPU too (``..._gpu``, skipped where there is none).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from weightspace.bench import Case
from weightspace.nern import losses
from weightspace.nern.models import FoldedResNet, build, conv_names, feature_modules
from weightspace.nern.optim import Lookahead, ranger
from weightspace.nern.predictor import KernelLayout, NeRN
from weightspace.nern.bench_orders import CASES as ORDER_CASES
from weightspace.nern.train import Distiller, NeRNConfig, conv_weights, sample_kernels


@dataclass
class Iteration:
    """The inputs of one NeRN iteration: the original, its targets, a NeRN, an optimiser and a batch."""

    cfg: NeRNConfig
    original: torch.nn.Module
    nern: NeRN
    target: torch.Tensor
    mask: torch.Tensor
    norms: torch.Tensor
    x: torch.Tensor
    generator: torch.Generator
    optimizer: Lookahead
    step: Callable[[], None] | None = None  # ours, built on first use
    student: torch.nn.Module | None = None  # the baseline's module copy that receives the predictions


def iteration(foreach: bool, arch: str = "resnet20", hidden: int = 160, batch: int = 256,
              device: str = "cpu") -> Iteration:
    """A NeRN of width ``hidden`` on an untrained (He-initialised) ``arch`` and a batch of ``batch`` images, on
    ``device``.

    The predictor's last layer is scaled down 100 times: the near-constant kernels of a freshly
    initialised predictor make the untrained, un-normalised reconstructed network overflow.
    """
    torch.manual_seed(0)
    net = build(arch).eval().requires_grad_(False).to(device)
    weights = conv_weights(net, conv_names(net))
    layout = KernelLayout.of(weights, "none")
    cfg = NeRNConfig(hidden=hidden, batch_size=batch)
    nern = NeRN(layout, hidden, cfg.base, cfg.frequencies, cfg.indices).to(device)
    with torch.no_grad():
        for p in nern.predictor.net[-1].parameters():
            p.mul_(0.01)
    target, mask = layout.targets(weights)
    return Iteration(cfg, net, nern, target, mask, target.flatten(1).norm(dim=1),
                     torch.randn(batch, 3, 32, 32).to(device), torch.Generator().manual_seed(0),
                     ranger(nern.parameters(), cfg.lr, foreach=foreach))


def ours(it: Iteration) -> None:
    """One iteration of :func:`weightspace.nern.train.train_nern`."""
    if it.step is None:
        distil = Distiller(it.original, it.cfg.fmd_maps, it.cfg.kd_eps)

        def step() -> None:
            pred = it.nern.sampled(sample_kernels(it.cfg, it.nern, it.norms, it.generator))
            kd, fmd = distil(it.nern.layout.weights(pred), it.x)
            loss = losses.reconstruction(pred, it.target, it.mask) + it.cfg.alpha * kd + it.cfg.beta * fmd
            it.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            it.optimizer.step()
        it.step = step
    it.step()


@dataclass
class Convolutions:
    """The convolutions of one iteration: the folded original, its weights, a copy that takes gradients, a batch."""

    folded: FoldedResNet
    teacher: dict[str, torch.Tensor]
    student: dict[str, torch.Tensor]
    x: torch.Tensor

    @classmethod
    def of(cls, it: Iteration) -> Convolutions:
        folded = FoldedResNet(it.original)
        teacher = conv_weights(it.original, folded.convs)
        return cls(folded, teacher, {n: w.clone().requires_grad_() for n, w in teacher.items()}, it.x)


def convolutions(c: Convolutions) -> None:
    """What any iteration at this size computes however it is written: the original's forward and a forward
    and backward of the network with predicted weights (ReLUs and residual adds included), without the
    predictor, the losses or the optimiser; a floor under :func:`ours` and :func:`authors_step` alike."""
    with torch.no_grad():
        c.folded(c.teacher, c.x)
    logits, _ = c.folded(c.student, c.x)
    logits.sum().backward()
    for leaf in c.student.values():
        leaf.grad = None


def _normalised_fmd(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher):
        total = total + (F.normalize(s.flatten(1), dim=1) - F.normalize(t.flatten(1), dim=1)).pow(2).sum()
    return total / student[0].shape[0]


def authors_step(it: Iteration) -> None:
    """One iteration as the authors' step computes it (see the module docstring)."""
    net, nern = it.original, it.nern
    if it.student is None:
        it.student = copy.deepcopy(net).requires_grad_(False)
    maps = feature_modules(net)
    params = dict(it.student.named_parameters())
    index = sample_kernels(it.cfg, nern, it.norms, it.generator)
    with torch.no_grad():
        full = nern()
    pred = full.index_put((index,), nern(index))
    predicted = nern.layout.weights(pred)
    leaves = {}
    for name, w in predicted.items():
        params[name].data = w.detach().clone()
        leaves[name] = params[name].requires_grad_()
    with losses.capture(net, maps) as teacher_maps, torch.no_grad():
        teacher = net(it.x)
    with losses.capture(it.student, maps) as student_maps:
        student = it.student(it.x)
    kd = losses.knowledge_distillation(student, teacher)
    distil = it.cfg.alpha * kd + it.cfg.beta * _normalised_fmd(student_maps, teacher_maps)
    distil.backward()
    it.optimizer.zero_grad(set_to_none=True)
    rec = losses.reconstruction(pred, it.target, it.mask)
    torch.autograd.backward([rec] + list(predicted.values()), [None] + [leaves[n].grad for n in predicted])
    for leaf in leaves.values():
        leaf.grad = None
    it.optimizer.step()


class _Pair:
    """Ours and the baseline on separate, identically built inputs (each keeps its own optimiser)."""

    def __init__(self, device: str = "cpu") -> None:
        self.ours, self.baseline = iteration(True, device=device), iteration(False, device=device)


class _Floor:
    """The convolutions of an iteration and the authors' step, on identically built inputs."""

    def __init__(self, device: str = "cpu") -> None:
        self.ours = Convolutions.of(iteration(True, device=device))
        self.baseline = iteration(False, device=device)


def _cases() -> list[Case]:
    cases = list(ORDER_CASES)
    for device, suffix in (("cpu", ""), ("cuda", "_gpu")):
        on, repeats = (", on a GPU", 20) if device == "cuda" else ("", 5)
        cases += [
            Case(name=f"nern.training_iteration_resnet20{suffix}",
                 what=f"one NeRN iteration: ResNet20, h = 160, batch 256, 4,096 sampled kernels, KD + FMD{on}",
                 setup=functools.partial(_Pair, device), ours=lambda p: ours(p.ours),
                 baseline=lambda p: authors_step(p.baseline), baseline_name="authors' step", max_ratio=0.5,
                 repeats=repeats, device=device),
            Case(name=f"nern.iteration_convolutions_resnet20{suffix}",
                 what="the convolutions alone of that iteration (original forward, reconstructed forward and "
                      f"backward): the floor of any step doing its arithmetic, against the authors' step{on}",
                 setup=functools.partial(_Floor, device), ours=lambda p: convolutions(p.ours),
                 baseline=lambda p: authors_step(p.baseline), baseline_name="authors' step",
                 repeats=repeats, device=device),
        ]
    return cases


CASES = _cases()
