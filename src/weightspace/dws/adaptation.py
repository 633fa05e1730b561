"""Domain adaptation in weight space (Section 6): edit a classifier's weights so it works on shifted data.

An equivariant model ``f`` maps a classifier's weights ``w`` to an edit, and the
adapted classifier ``w + s f(w)`` is trained to classify images of the new domain
(cross-entropy of the *adapted* network on new-domain images), over a zoo of
classifiers; test classifiers are adapted without seeing their own training.
The new domain is CIFAR-10 with the corruptions of the paper: rotation, colour
jitter and blur, drawn per image (:func:`corrupt`).
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from weightspace.dws.space import WeightSpace, check_widths, mlp_forward, num_parameters
from weightspace.training import TrainConfig, make_optimizer, make_scheduler


def corrupt(images: Tensor, generator: torch.Generator, max_degrees: float = 30.0,
            jitter: float = 0.4, max_sigma: float = 1.5) -> Tensor:
    """Rotate (``U(+-max_degrees)``), colour-jitter (brightness, contrast, saturation ``U(1 +- jitter)``) and
    Gaussian-blur (``sigma ~ U(0.1, max_sigma)``, 5x5) each image of ``[N, 3, H, W]``, parameters drawn per image."""
    n = len(images)
    u = lambda: torch.rand(n, generator=generator)  # noqa: E731
    theta = (u() * 2 - 1) * math.radians(max_degrees)
    affine = torch.stack([torch.stack([theta.cos(), -theta.sin(), torch.zeros(n)], 1),
                          torch.stack([theta.sin(), theta.cos(), torch.zeros(n)], 1)], 1)
    grid = F.affine_grid(affine.to(images), list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    view = lambda t: (1 + (t * 2 - 1) * jitter).view(n, 1, 1, 1).to(images)  # noqa: E731
    x = x * view(u())
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * view(u()) + mean
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * view(u()) + gray
    sigma = (0.1 + (max_sigma - 0.1) * u()).view(n, 1, 1).to(images)
    offsets = torch.arange(-2, 3, dtype=images.dtype, device=images.device)
    kernel1d = torch.exp(-offsets.view(1, 1, 5) ** 2 / (2 * sigma**2))
    kernel1d = kernel1d / kernel1d.sum(-1, keepdim=True)  # [n, 1, 5]
    channels = images.shape[1]
    x = x.reshape(1, n * channels, *images.shape[2:])
    row = kernel1d.repeat_interleave(channels, 0).view(n * channels, 1, 1, 5)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), row, groups=n * channels)
    x = F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), row.transpose(2, 3), groups=n * channels)
    return x.view_as(images)


def train_mlp_zoo(x: Tensor, y: Tensor, widths: Sequence[int], seeds: Sequence[int], steps: int, lr: float,
                  batch_size: int, desc: str = "classifier zoo") -> WeightSpace:
    """``len(seeds)`` ReLU MLP classifiers trained together (one Adam on the stacked parameters,
    which is elementwise, so each network trains as if alone); network ``k`` is initialised from ``seeds[k]``
    like ``nn.Linear``. All networks see the same mini-batches."""
    widths = check_widths(widths)
    rows = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        parts = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            bound = 1 / math.sqrt(n_in)
            parts += [(torch.rand(n_out * n_in, generator=g) * 2 - 1) * bound,
                      (torch.rand(n_out, generator=g) * 2 - 1) * bound]
        rows.append(torch.cat(parts))
    params = torch.stack(rows).to(x.device).requires_grad_(True)
    opt = torch.optim.Adam([params], lr=lr)
    order = torch.Generator().manual_seed(int(seeds[0]) if len(seeds) else 0)
    for _ in tqdm(range(steps), desc=desc, leave=False):
        idx = torch.randint(len(x), (batch_size,), generator=order).to(x.device)
        logits = mlp_forward(WeightSpace.from_flat(params, widths), x[idx])  # [N, B, classes]
        loss = F.cross_entropy(logits.flatten(0, 1), y[idx].repeat(len(params)), reduction="mean")
        opt.zero_grad(set_to_none=True)
        (loss * len(params)).backward()
        opt.step()
    return WeightSpace.from_flat(params.detach(), widths)


@torch.no_grad()
def zoo_accuracy(space: WeightSpace, x: Tensor, y: Tensor, batch: int = 2000) -> Tensor:
    """``[N]`` accuracy (%) of every MLP of ``space`` on ``(x, y)``."""
    correct = torch.zeros(len(space), device=space.weights[0].device)
    for start in range(0, len(x), batch):
        pred = mlp_forward(space, x[start : start + batch]).argmax(-1)
        correct += (pred == y[start : start + batch]).float().sum(1)
    return 100 * correct / len(x)


class FlatEdit(nn.Module):
    """The baseline editor: an MLP from the flat weights to a flat edit (no symmetry)."""

    def __init__(self, widths: Sequence[int], hidden: int = 256) -> None:
        super().__init__()
        d = num_parameters(widths)
        self.widths = check_widths(widths)
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, d))

    def forward(self, flat: Tensor) -> WeightSpace:
        return WeightSpace.from_flat(self.net(flat), self.widths)


def train_editor(editor: nn.Module, train: WeightSpace, val: WeightSpace, x: Tensor, y: Tensor, x_val: Tensor,
                 y_val: Tensor, recipe: TrainConfig, images_per_step: int, scale: float, seed: int,
                 desc: str = "adapt") -> tuple[nn.Module, list[dict]]:
    """Train ``editor`` so that ``w + scale * editor(w)`` classifies ``(x, y)``; keep the best validation state.

    ``train``/``val`` are classifier zoos; each step adapts ``recipe.batch_size``
    classifiers drawn from ``train`` and scores them on ``images_per_step`` images;
    the optimiser, learning rate, schedule, weight decay, steps and evaluation
    interval are ``recipe``'s. Validation is the mean accuracy of the adapted
    ``val`` classifiers on ``(x_val, y_val)``.
    """
    if images_per_step < 1:
        raise ValueError(f"images_per_step must be positive, got {images_per_step}")
    g = torch.Generator().manual_seed(seed)
    flat = train.flatten()
    opt = make_optimizer(editor.parameters(), recipe)
    sched = make_scheduler(opt, recipe)
    best, curve = (-1.0, copy.deepcopy(editor.state_dict())), []
    for step in tqdm(range(1, recipe.steps + 1), desc=desc, leave=False):
        editor.train()
        nets = flat[torch.randint(len(flat), (recipe.batch_size,), generator=g).to(flat.device)]
        idx = torch.randint(len(x), (images_per_step,), generator=g).to(x.device)
        adapted = nets + scale * editor(nets).flatten()
        logits = mlp_forward(WeightSpace.from_flat(adapted, train.widths), x[idx])
        loss = F.cross_entropy(logits.flatten(0, 1), y[idx].repeat(len(nets)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % recipe.eval_every == 0 or step == recipe.steps:
            acc = adapt_accuracy(editor, val, x_val, y_val, scale).mean().item()
            curve.append({"step": step, "train_loss": loss.item(), "accuracy": acc})
            if acc > best[0]:
                best = (acc, copy.deepcopy(editor.state_dict()))
    editor.load_state_dict(best[1])
    return editor.eval(), curve


@torch.no_grad()
def adapt_accuracy(editor: nn.Module, space: WeightSpace, x: Tensor, y: Tensor, scale: float,
                   batch: int = 256) -> Tensor:
    """``[N]`` accuracy (%) of the adapted classifiers ``w + scale * editor(w)`` of ``space`` on ``(x, y)``."""
    editor.eval()
    adapted = torch.cat([f + scale * editor(f).flatten() for f in space.flatten().split(batch)])
    return zoo_accuracy(WeightSpace.from_flat(adapted, space.widths), x, y)
