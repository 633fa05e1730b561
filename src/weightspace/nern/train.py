"""Training a NeRN (Section 3.2) and evaluating the network it reconstructs.

Each iteration predicts every kernel, lets gradients flow through a sampled
batch of them (``sampling``: all weights, a random layer, a uniform batch, or
the paper's magnitude-oriented batch), and minimises eq. 2 on a batch of task
inputs (or of U[-1, 1] noise, Section 4.4). The reconstructed network is the
original with its conv weights replaced by predictions, run functionally
(``torch.func.functional_call``), so the distillation losses back-propagate
into the predictor.
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
from weightspace.nern.models import feature_modules
from weightspace.nern.optim import cosine_decay, ranger
from weightspace.nern.predictor import DEFAULT_BASE, DEFAULT_FREQUENCIES, NeRN
from weightspace.results import Checkpoint

SAMPLING = ("all", "layer", "uniform", "weighted")
Inputs = Callable[[int], torch.Tensor]


@dataclass(frozen=True)
class NeRNConfig:
    """A NeRN training recipe. Defaults: the paper's CIFAR-10 ResNet20 setting after the authors' fix.

    ``alpha`` weighs KD and ``beta`` FMD (eq. 2); ``recon`` switches the reconstruction
    loss (Table 6); ``warmup`` iterations use the reconstruction loss alone.
    """

    hidden: int = 160
    steps: int = 68_600
    batch_size: int = 256
    kernel_batch: int = 4096
    sampling: str = "weighted"
    p_uniform: float = 0.8
    alpha: float = 1e-4
    beta: float = 1e-4
    recon: bool = True
    warmup: int = 0
    lr: float = 5e-3
    min_lr: float = 1e-6
    weight_decay: float = 1e-3
    base: float = DEFAULT_BASE
    frequencies: int = DEFAULT_FREQUENCIES
    eval_every: int = 2000
    checkpoint_every: int = 2000

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLING:
            raise ValueError(f"unknown sampling {self.sampling!r}: choose one of {', '.join(SAMPLING)}")
        if self.steps < 1 or self.kernel_batch < 1 or self.batch_size < 1:
            raise ValueError("steps, kernel_batch and batch_size must be positive")
        if not self.recon and self.alpha == 0 and self.beta == 0:
            raise ValueError("no loss left: enable recon or give alpha or beta a positive weight")
        if not self.recon and self.warmup > 0:
            raise ValueError("a reconstruction-only warm-up needs recon=True; set warmup=0 for distillation only")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NeRNOutcome:
    """A trained NeRN, its final reconstructed accuracy and the training curve."""

    nern: NeRN
    accuracy: float
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
    """Indices of the kernels gradients flow through this step (``None``: all of them)."""
    n = nern.layout.num_kernels
    if cfg.sampling == "all" or (cfg.sampling != "layer" and cfg.kernel_batch >= n):
        return None
    if cfg.sampling == "layer":
        l = int(torch.randint(len(nern.layout.specs), (1,), generator=g))
        idx = torch.arange(nern.layout.offsets[l], nern.layout.offsets[l + 1])
    elif cfg.sampling == "uniform" or torch.rand((), generator=g) < cfg.p_uniform:
        idx = torch.randperm(n, generator=g)[:cfg.kernel_batch]
    else:
        idx = torch.multinomial(norms.cpu(), cfg.kernel_batch, replacement=False, generator=g)
    return idx.to(norms.device)


def predict(nern: NeRN, index: torch.Tensor | None) -> torch.Tensor:
    """All kernels; only those at ``index`` carry gradients (all of them when ``index`` is None)."""
    if index is None:
        return nern()
    with torch.no_grad():
        full = nern()
    return full.index_put((index,), nern(index))


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
    names = [s.name for s in layout.specs]
    target, mask = layout.targets(conv_weights(original, names))
    norms = target.flatten(1).norm(dim=1).clamp_min(1e-12)
    fixed = {**dict(original.named_parameters()), **dict(original.named_buffers())}
    maps = feature_modules(original)
    distil = cfg.alpha > 0 or cfg.beta > 0
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
            index = sample_kernels(cfg, nern, norms, g)
            pred = predict(nern, index)
            rec = losses.reconstruction(pred, target, mask)
            loss = rec if cfg.recon else rec.new_zeros(())
            record = {"step": step + 1, "recon": rec.item()}
            if distil and step >= cfg.warmup:
                kd, fmd = distillation(original, fixed, layout.weights(pred), maps, inputs(step))
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
    return NeRNOutcome(nern, curve[-1]["accuracy"], curve, round(seconds, 2),
                       round((step - first) / max(seconds, 1e-9), 2))


def distillation(original: nn.Module, fixed: dict[str, torch.Tensor], weights: dict[str, torch.Tensor],
                 maps: list[str], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """KD (eq. 5) and FMD (eq. 4) between ``original`` and the network with conv ``weights``, on inputs ``x``."""
    with losses.capture(original, maps) as teacher_maps, torch.no_grad():
        teacher = original(x)
    with losses.capture(original, maps) as student_maps:
        student = functional_call(original, {**fixed, **weights}, (x,))
    return losses.knowledge_distillation(student, teacher), losses.feature_distillation(student_maps, teacher_maps)
