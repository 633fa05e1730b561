"""INR zoos: many sine networks (SIREN-style) fitted in one tensor program.

An INR of widths ``(n_0, ..., n_M)`` is ``f(x) = W_M h_{M-1} + b_M + offset`` with
``h_m = sin(omega_0 (W_m h_{m-1} + b_m))`` and ``h_0 = x``. The authors' MNIST
recipe: widths ``(2, 32, 32, 1)`` (1,185 parameters), ``omega_0 = 30``, output
``+ 0.5``, SIREN's hidden-layer init ``U(-sqrt(6/n_in)/omega_0, sqrt(6/n_in)/omega_0)``
for every layer with zero biases (no special SIREN first-layer init), Adam with lr ``5e-4`` on the MSE over
the 28x28 grid in ``[-1, 1]^2`` for 1000 steps, stopping an INR once its PSNR
reaches 40 dB.

:func:`fit_inrs` fits a whole zoo at once: all INRs' parameters are one ``[N, D]``
tensor, the forward pass is batched matrix products, and Adam is written out
elementwise with a per-INR "still fitting" mask, so INR ``k`` follows exactly the
trajectory it would follow alone (its initialisation comes from its own seed).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from weightspace.dws.space import WeightSpace, Zoo, check_widths, mlp_forward, num_parameters

MNIST_INR_WIDTHS = (2, 32, 32, 1)
SINE_INR_WIDTHS = (1, 32, 32, 1)


@dataclass(frozen=True)
class INRRecipe:
    """How an INR zoo is fitted (defaults: the authors' MNIST recipe)."""

    widths: tuple[int, ...] = MNIST_INR_WIDTHS
    omega: float = 30.0
    offset: float = 0.5
    lr: float = 5e-4
    steps: int = 1000
    stop_psnr: float = 40.0
    chunk: int = 1000  # INRs per tensor program

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", check_widths(self.widths))
        if self.steps < 1 or self.chunk < 1 or self.lr <= 0:
            raise ValueError("steps and chunk must be positive and lr > 0")


def grid(side: int) -> Tensor:
    """``[side * side, 2]`` pixel coordinates in ``[-1, 1]^2``, row-major (``(row, column)``)."""
    axis = torch.linspace(-1.0, 1.0, side)
    return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)


def init_inrs(seeds: Sequence[int], widths: Sequence[int], omega: float = 30.0) -> Tensor:
    """``[N, D]`` initial parameters, INR ``k`` drawn from ``torch.Generator().manual_seed(seeds[k])``.

    Weights ``U(-sqrt(6/n_in)/omega, sqrt(6/n_in)/omega)`` (SIREN's hidden-layer rule, used
    for every layer: the authors do not use SIREN's first-layer init), biases zero.
    """
    widths = check_widths(widths)
    rows = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        parts = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            bound = math.sqrt(6.0 / n_in) / omega
            parts += [(torch.rand(n_out * n_in, generator=g) * 2 - 1) * bound, torch.zeros(n_out)]
        rows.append(torch.cat(parts))
    return torch.stack(rows)


def inr_forward(flat: Tensor, coords: Tensor, recipe: INRRecipe) -> Tensor:
    """Evaluate INRs ``flat`` ``[N, D]`` at ``coords`` ``[P, n_0]`` (or ``[N, P, n_0]``) -> ``[N, P, n_M]``."""
    space = WeightSpace.from_flat(flat, recipe.widths)
    return mlp_forward(space, coords, lambda h: torch.sin(recipe.omega * h)) + recipe.offset


def psnr(mse: Tensor, peak: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB of a mean squared error for signals of range ``peak``."""
    return 10 * torch.log10(peak**2 / mse.clamp_min(1e-20))


def loss_and_grad(flat: Tensor, coords: Tensor, targets: Tensor, recipe: INRRecipe) -> tuple[Tensor, Tensor]:
    """Each INR's MSE ``[N]`` and its gradient ``[N, D]``, by hand-written backpropagation.

    Equal to autograd's (tested); written out because the elementwise passes over
    ``[N, P, n_m]`` activations dominate the cost, and the scalar ``omega_0`` folds
    into the batched matrix products (``baddbmm``'s ``alpha``/``beta``) instead of
    costing passes of its own.
    """
    space = WeightSpace.from_flat(flat, recipe.widths)
    weights = [w[:, 0] for w in space.weights]
    biases = [b[:, 0] for b in space.biases]
    h = coords.expand(len(flat), *coords.shape[-2:]) if coords.dim() == 2 else coords
    inputs, pre = [h], []
    for w, b in zip(weights[:-1], biases[:-1]):
        z = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), beta=recipe.omega, alpha=recipe.omega)
        pre.append(z)
        h = torch.sin(z)
        inputs.append(h)
    err = torch.baddbmm(biases[-1].unsqueeze(1), h, weights[-1].transpose(1, 2)) + (recipe.offset - targets)
    points = targets.shape[1] * targets.shape[2]
    mse = err.pow(2).sum(dim=(1, 2)) / points
    delta = err * (2.0 / points)  # dL/d(output pre-activation)
    grads_w, grads_b = [], []
    for m in range(len(weights) - 1, -1, -1):
        grads_w.append(torch.bmm(delta.transpose(1, 2), inputs[m]))
        grads_b.append(delta.sum(dim=1))
        if m:
            delta = torch.bmm(delta, weights[m] * recipe.omega).mul_(torch.cos_(pre[m - 1]))
    parts = []
    for gw, gb in zip(reversed(grads_w), reversed(grads_b)):
        parts += [gw.flatten(1), gb]
    return mse, torch.cat(parts, dim=1)


def _fit_chunk(params: Tensor, coords: Tensor, targets: Tensor, recipe: INRRecipe,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[Tensor, Tensor, Tensor]:
    """Adam on every INR of the chunk until it reaches ``stop_psnr`` or ``steps``; returns params, mse, steps."""
    params = params.clone()
    m, v = torch.zeros_like(params), torch.zeros_like(params)
    active = torch.ones(len(params), dtype=torch.bool, device=params.device)
    steps = torch.zeros(len(params), dtype=torch.long, device=params.device)
    b1, b2 = betas
    for _ in range(recipe.steps):
        mse, grad = loss_and_grad(params, coords, targets, recipe)
        active &= psnr(mse) < recipe.stop_psnr
        if not active.any():
            break
        mask = active.unsqueeze(1)
        steps += active.long()
        k = steps.unsqueeze(1).to(params.dtype)  # each INR's own Adam step count
        m = torch.where(mask, b1 * m + (1 - b1) * grad, m)
        v = torch.where(mask, b2 * v + (1 - b2) * grad * grad, v)
        update = recipe.lr * (m / (1 - b1**k)) / ((v / (1 - b2**k)).sqrt() + eps)
        params = torch.where(mask, params - update, params)
    with torch.no_grad():
        mse = (inr_forward(params, coords, recipe) - targets).pow(2).mean(dim=(1, 2))
    return params, mse, steps


@dataclass
class INRZoo:
    """A fitted INR zoo: the INRs with their labels (:class:`Zoo`) and each INR's fit (MSE, PSNR, steps)."""

    zoo: Zoo
    mse: Tensor
    steps: Tensor
    recipe: dict
    fit_seconds: float

    @property
    def psnr(self) -> Tensor:
        return psnr(self.mse)

    def summary(self) -> dict[str, float]:
        return {"inrs": len(self.zoo), "parameters_per_inr": self.zoo.params.shape[1],
                "mean_psnr": float(self.psnr.mean()), "mean_steps": float(self.steps.float().mean()),
                "fit_seconds": round(self.fit_seconds, 2),
                "inrs_per_second": round(len(self.zoo) / max(self.fit_seconds, 1e-9), 2)}


def fit_inrs(targets: Tensor, coords: Tensor, seeds: Sequence[int], recipe: INRRecipe,
             labels: Tensor | None = None, desc: str = "fitting INRs") -> INRZoo:
    """Fit one INR per signal: ``targets`` ``[N, P, n_M]`` sampled at ``coords`` ``[P, n_0]`` (or ``[N, P, n_0]``).

    INRs are fitted ``recipe.chunk`` at a time; the result does not depend on the
    chunk size (each INR's init comes from its own seed, its Adam state is its own).
    """
    if targets.dim() != 3 or targets.shape[2] != recipe.widths[-1] or len(seeds) != len(targets):
        raise ValueError(f"targets must be [N, P, {recipe.widths[-1]}] with one seed per signal; got "
                         f"{tuple(targets.shape)} and {len(seeds)} seeds")
    if coords.shape[-1] != recipe.widths[0] or coords.shape[-2] != targets.shape[1]:
        raise ValueError(f"coords {tuple(coords.shape)} do not match {targets.shape[1]} points of "
                         f"dimension {recipe.widths[0]}")
    started = time.time()
    init = init_inrs(seeds, recipe.widths, recipe.omega).to(targets.device)
    out_p, out_mse, out_steps = [], [], []
    for start in tqdm(range(0, len(targets), recipe.chunk), desc=desc, leave=False):
        sl = slice(start, start + recipe.chunk)
        c = coords[sl] if coords.dim() == 3 else coords
        p, mse, steps = _fit_chunk(init[sl], c, targets[sl], recipe)
        out_p.append(p)
        out_mse.append(mse)
        out_steps.append(steps)
    labels = labels if labels is not None else torch.zeros(len(targets))
    return INRZoo(Zoo(torch.cat(out_p).cpu(), labels.cpu(), recipe.widths), torch.cat(out_mse).cpu(),
                  torch.cat(out_steps).cpu(), {**recipe.__dict__, "widths": list(recipe.widths)}, time.time() - started)


def mnist_inr_targets(images: Tensor) -> tuple[Tensor, Tensor]:
    """Pixel intensities in ``[0, 1]`` of ``[N, 1, 28, 28]`` images as INR targets ``[N, 784, 1]`` and the grid."""
    side = images.shape[-1]
    return images.reshape(len(images), side * side, 1), grid(side)


def sine_waves(n: int, points: int, generator: torch.Generator,
               freq_range: tuple[float, float] = (0.5, 10.0)) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` waves ``sin(a x)``, ``a ~ U(freq_range)``, on ``points`` of ``[-pi, pi]``: (targets, coords, a).

    ``coords`` are scaled to ``[-1, 1]`` (the INR's domain); ``targets`` are ``[n, points, 1]``.
    """
    lo, hi = freq_range
    freq = lo + (hi - lo) * torch.rand(n, generator=generator)
    x = torch.linspace(-math.pi, math.pi, points)
    return torch.sin(freq[:, None] * x[None, :]).unsqueeze(-1), (x / math.pi).unsqueeze(-1), freq


def scaled_sine_waves(n: int, points: int, generator: torch.Generator, high: float = 10.0) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` waves ``a sin(b x)``, ``a, b ~ U(0, high)``, on ``points`` of ``[-pi, pi]``: (targets, coords, ``[n, 2]`` (a, b)).

    The dense-representation data of the paper; ``coords`` scaled to ``[-1, 1]``.
    """
    ab = high * torch.rand(n, 2, generator=generator)
    x = torch.linspace(-math.pi, math.pi, points)
    targets = ab[:, :1] * torch.sin(ab[:, 1:] * x[None, :])
    return targets.unsqueeze(-1), (x / math.pi).unsqueeze(-1), ab


__all__ = ["INRRecipe", "INRZoo", "MNIST_INR_WIDTHS", "SINE_INR_WIDTHS", "fit_inrs", "grid", "init_inrs",
           "inr_forward", "loss_and_grad", "mnist_inr_targets", "num_parameters", "psnr", "scaled_sine_waves", "sine_waves"]
