"""Training a NeRN (Section 3.2) and evaluating the network it reconstructs.

Each iteration predicts every kernel once, gradients flowing through a sampled
batch of them (``sampling``: all weights, a random layer, a uniform batch, or
the paper's magnitude-oriented batch), and minimises eq. 2 on a batch of task
inputs (or of U[-1, 1] noise, Section 4.4). The reconstructed network is the
original with its conv weights replaced by predictions, run functionally so
that the distillation losses back-propagate into the predictor: a CIFAR ResNet
with each BN folded into its conv (:class:`~weightspace.nern.models.FoldedResNet`),
any other network through ``torch.func.functional_call`` with forward hooks.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.func import functional_call
from tqdm.auto import tqdm

from weightspace.nern import losses
from weightspace.nern.models import FMD_MAPS, CifarResNet, FoldedResNet, feature_modules
from weightspace.nern.optim import cosine_decay, ranger
from weightspace.nern.predictor import DEFAULT_BASE, DEFAULT_FREQUENCIES, INDICES, NeRN
from weightspace.results import Checkpoint

SAMPLING = ("all", "layer", "uniform", "weighted")
SELECTION = ("final", "best")
Inputs = Callable[[int], torch.Tensor]


@dataclass(frozen=True)
class NeRNConfig:
    """A NeRN training recipe. Defaults: the paper's CIFAR-10 ResNet20 setting after the authors' fix.

    ``alpha`` weighs KD and ``beta`` FMD (eq. 2); ``recon`` switches the reconstruction
    loss (Table 6); ``warmup`` iterations use the reconstruction loss alone.

    Where the paper is silent or its code differs, a setting names both:

    - ``replacement``: the magnitude-weighted batch is drawn with replacement (the
      authors' code; each distinct kernel then carries its gradient once) or
      without (``False``); the paper does not say.
    - ``indices``: the integer (l, f, c) reach eq. 1 (the paper's and the code's) or
      the per-layer normalised ones (``"normalised"``).
    - ``kd_eps``: 0 is eq. 5; the authors' code takes ``log(softmax + 1e-4)``.
    - ``fmd_maps``: ``"paper"`` (bn1, bn2, sum per block) or ``"authors"`` (their
      in-place shortcut add makes the recorded bn2 map the sum, which counts twice).
    - ``selection``: the reconstructed accuracy reported is the last evaluation's
      (``"final"``) or the best over the evaluations (``"best"``, the authors' code:
      it selects on the split it reports, the test split at ``full``). Both are kept.
    """

    hidden: int = 160
    steps: int = 68_600
    batch_size: int = 256
    kernel_batch: int = 4096
    sampling: str = "weighted"
    p_uniform: float = 0.8
    replacement: bool = True
    alpha: float = 1e-4
    beta: float = 1e-4
    recon: bool = True
    warmup: int = 0
    lr: float = 5e-3
    min_lr: float = 1e-6
    weight_decay: float = 1e-3
    base: float = DEFAULT_BASE
    frequencies: int = DEFAULT_FREQUENCIES
    indices: str = "integer"
    kd_eps: float = 0.0
    fmd_maps: str = "paper"
    selection: str = "final"
    eval_every: int = 2000
    checkpoint_every: int = 2000

    def __post_init__(self) -> None:
        for name, value, allowed in (("sampling", self.sampling, SAMPLING), ("indices", self.indices, INDICES),
                                     ("fmd_maps", self.fmd_maps, FMD_MAPS), ("selection", self.selection, SELECTION)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}: choose one of {', '.join(allowed)}")
        for name in ("steps", "kernel_batch", "batch_size", "hidden", "frequencies", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} = {getattr(self, name)} must be positive")
        if not 0.0 <= self.p_uniform <= 1.0:
            raise ValueError(f"p_uniform = {self.p_uniform} must be a probability in [0, 1]")
        if not 0 <= self.warmup <= self.steps:
            raise ValueError(f"warmup = {self.warmup} must be in [0, steps = {self.steps}]")
        for name in ("alpha", "beta", "kd_eps", "weight_decay", "min_lr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} = {getattr(self, name)} must be >= 0")
        if self.lr <= 0 or self.base <= 0:
            raise ValueError(f"lr = {self.lr} and base = {self.base} must be positive")
        if not self.recon and self.alpha == 0 and self.beta == 0:
            raise ValueError("no loss left: enable recon or give alpha or beta a positive weight")
        if not self.recon and self.warmup > 0:
            raise ValueError("a reconstruction-only warm-up needs recon=True; set warmup=0 for distillation only")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line of the recipe, for a page: iterations, batches, sampling, losses, optimiser, embedding."""
        sampled = {"all": "all kernels", "layer": "one random layer",
                   "uniform": f"{self.kernel_batch:,} uniform kernels",
                   "weighted": f"{self.kernel_batch:,} kernels (uniform with p = {self.p_uniform:g}, else by "
                               f"magnitude {'with' if self.replacement else 'without'} replacement)"}[self.sampling]
        losses_used = " + ".join(([r"L_recon"] if self.recon else [])
                                 + ([f"{self.alpha:g} L_KD"] if self.alpha else [])
                                 + ([f"{self.beta:g} L_FMD"] if self.beta else []))
        warm = f" after {self.warmup:,} reconstruction-only" if self.warmup and (self.alpha or self.beta) else ""
        return (f"h = {self.hidden}, {self.steps:,} iterations of {self.batch_size} images; gradients through "
                f"{sampled}; {losses_used}{warm}; Ranger lr {self.lr:g} (cosine to {self.min_lr:g}), weight decay "
                f"{self.weight_decay:g}; eq. 1 on {self.indices} indices, b = {self.base:g}, N = {self.frequencies}; "
                f"KD eps {self.kd_eps:g}, FMD maps {self.fmd_maps}; evaluated every {self.eval_every:,}, "
                f"reporting the {self.selection} evaluation")


@dataclass
class NeRNOutcome:
    """A trained NeRN, its reported accuracy (by the recipe's ``selection``), the final and best evaluated
    accuracies and the training curve."""

    nern: NeRN
    accuracy: float
    final_accuracy: float
    best_accuracy: float
    curve: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    iterations_per_second: float = 0.0


def image_batches(x: torch.Tensor, batch_size: int, seed: int) -> Inputs:
    """Step -> a batch of images drawn uniformly from ``x`` (labels are never used)."""
    def draw(step: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        return x[torch.randint(len(x), (batch_size,), generator=g).to(x.device)]
    return draw


def noise_batches(shape: tuple[int, ...], batch_size: int, seed: int, device: str | torch.device = "cpu") -> Inputs:
    """Step -> a batch of U[-1, 1] noise images (Section 4.4, data-free training)."""
    def draw(step: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        return (torch.rand(batch_size, *shape, generator=g) * 2 - 1).to(device)
    return draw


def sample_kernels(cfg: NeRNConfig, nern: NeRN, norms: torch.Tensor, g: torch.Generator) -> torch.Tensor | None:
    """Distinct indices of the kernels gradients flow through this step (``None``: all of them).

    With ``replacement`` the magnitude-weighted draw of ``kernel_batch`` kernels may repeat
    a kernel; each kernel is kept once (as in the authors' code, where a repeated
    kernel's prediction is written once), so fewer than ``kernel_batch`` may carry gradients.
    """
    n = nern.layout.num_kernels
    if cfg.sampling == "all" or (cfg.sampling != "layer" and cfg.kernel_batch >= n):
        return None
    if cfg.sampling == "layer":
        l = int(torch.randint(len(nern.layout.specs), (1,), generator=g))
        idx = torch.arange(nern.layout.offsets[l], nern.layout.offsets[l + 1])
    elif cfg.sampling == "uniform" or torch.rand((), generator=g) < cfg.p_uniform:
        idx = torch.randperm(n, generator=g)[:cfg.kernel_batch]
    else:
        idx = torch.multinomial(norms.cpu(), cfg.kernel_batch, replacement=cfg.replacement, generator=g)
        if cfg.replacement:
            idx = idx.unique()
    return idx.to(norms.device)


def conv_weights(model: nn.Module, names: list[str]) -> dict[str, torch.Tensor]:
    """The named conv weights of ``model`` (detached)."""
    params = dict(model.named_parameters())
    return {n: params[n].detach() for n in names}


def reconstructed(original: nn.Module, weights: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of ``original`` (BN, FC and everything else copied) with conv ``weights`` put in."""
    model = copy.deepcopy(original)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, w in weights.items():
            params[name].copy_(w)
    return model.eval()


def train_nern(original: nn.Module, nern: NeRN, cfg: NeRNConfig, inputs: Inputs,
               evaluate: Callable[[nn.Module], float], *, seed: int = 0, checkpoint: Checkpoint | None = None,
               desc: str = "NeRN") -> NeRNOutcome:
    """Fit ``nern`` to the conv weights of ``original`` with eq. 2; ``evaluate`` scores a reconstructed network.

    The original (teacher) stays in eval mode; the reconstructed network uses its
    BN statistics. With a ``checkpoint`` an interrupted run resumes.
    """
    original = original.eval().requires_grad_(False)
    layout = nern.layout
    target, mask = layout.targets(conv_weights(original, [s.name for s in layout.specs]))
    norms = target.flatten(1).norm(dim=1).clamp_min(1e-12)
    student = Distiller(original, cfg.fmd_maps, cfg.kd_eps) if cfg.alpha > 0 or cfg.beta > 0 else None
    opt = ranger(nern.parameters(), cfg.lr, weight_decay=cfg.weight_decay)
    sched = cosine_decay(opt, cfg.steps, cfg.min_lr)
    g = torch.Generator().manual_seed(seed)
    step, curve = 0, []
    state = checkpoint.load() if checkpoint else None
    if state is not None:
        nern.load_state_dict(state["nern"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        g.set_state(state["generator"])
        step, curve = state["step"], state["curve"]
    started, first = time.time(), step
    with tqdm(total=cfg.steps, initial=step, desc=desc, leave=False) as bar:
        while step < cfg.steps:
            pred = nern.sampled(sample_kernels(cfg, nern, norms, g))
            rec = losses.reconstruction(pred, target, mask)
            loss = rec if cfg.recon else rec.new_zeros(())
            record = {"step": step + 1, "recon": rec.item()}
            if student is not None and step >= cfg.warmup:
                kd, fmd = student(layout.weights(pred), inputs(step))
                loss = loss + cfg.alpha * kd + cfg.beta * fmd
                record.update(kd=kd.item(), fmd=fmd.item())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                with torch.no_grad():
                    record["accuracy"] = evaluate(reconstructed(original, nern.weights()))
                bar.set_postfix(acc=f"{record['accuracy']:.2f}")
            curve.append(record)
            if checkpoint and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                checkpoint.save({"nern": nern.state_dict(), "optimizer": opt.state_dict(),
                                 "scheduler": sched.state_dict(), "generator": g.get_state(),
                                 "step": step, "curve": curve})
    seconds = time.time() - started
    if checkpoint:
        checkpoint.remove()
    nern.eval()
    final = curve[-1]["accuracy"]
    best = max(c["accuracy"] for c in curve if "accuracy" in c)
    return NeRNOutcome(nern, best if cfg.selection == "best" else final, final, best, curve, round(seconds, 2),
                       round((step - first) / max(seconds, 1e-9), 2))


class Distiller:
    """KD (eq. 5) and FMD (eq. 4) between a frozen ``original`` and the network with given conv weights.

    A :class:`~weightspace.nern.models.CifarResNet` runs folded
    (:class:`~weightspace.nern.models.FoldedResNet`: no hooks, no BN passes), the
    teacher under ``no_grad``; any other network runs with ``torch.func.functional_call``
    and forward hooks on the modules of :func:`~weightspace.nern.models.feature_modules`.
    ``fmd_maps`` and ``kd_eps`` are :class:`NeRNConfig`'s.

    Shape:
        ``(weights, x)``: conv weights name -> (F, C, k, k) and inputs (B, ...) -> two scalars (KD, FMD).
    """

    def __init__(self, original: nn.Module, fmd_maps: str = "paper", kd_eps: float = 0.0) -> None:
        self.original, self.kd_eps = original.eval(), kd_eps
        self.folded = FoldedResNet(original, fmd_maps) if isinstance(original, CifarResNet) else None
        params = dict(original.named_parameters())
        if self.folded is None:
            self.maps = feature_modules(original, fmd_maps)
            self.fixed = {**params, **dict(original.named_buffers())}
        else:
            self.teacher_weights = {n: params[n].detach() for n in self.folded.convs}

    def __call__(self, weights: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.folded is not None:
            with torch.no_grad():
                teacher, teacher_maps = self.folded(self.teacher_weights, x)
            student, student_maps = self.folded(weights, x)
        else:
            with losses.capture(self.original, self.maps) as teacher_maps, torch.no_grad():
                teacher = self.original(x)
            with losses.capture(self.original, self.maps) as student_maps:
                student = functional_call(self.original, {**self.fixed, **weights}, (x,))
        return (losses.knowledge_distillation(student, teacher, self.kd_eps),
                losses.feature_distillation(student_maps, teacher_maps))
