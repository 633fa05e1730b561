"""INR zoos: many sine networks (SIREN-style) fitted in one tensor program.

An INR of widths ``(n_0, ..., n_M)`` is ``f(x) = W_M h_{M-1} + b_M + offset`` with
``h_m = sin(omega_0 (W_m h_{m-1} + b_m))`` and ``h_0 = x``. The authors' MNIST
recipe: widths ``(2, 32, 32, 1)`` (1,185 parameters), ``omega_0 = 30``, output
``+ 0.5``, SIREN's hidden-layer init ``U(-sqrt(6/n_in)/omega_0, sqrt(6/n_in)/omega_0)``
with zero biases for the sine layers (no special SIREN first-layer init) and PyTorch's
``nn.Linear`` default for the last layer, Adam with lr ``5e-4`` on the MSE over the
28x28 grid in ``[-1, 1]^2`` for 1000 steps, stopping an INR once its PSNR reaches 40 dB.

:func:`fit_inrs` fits a whole zoo at once: all INRs' parameters are one ``[N, D]``
tensor, the forward pass is batched matrix products, and Adam is written out
elementwise with a per-INR "still fitting" mask, so INR ``k`` follows exactly the
trajectory it would follow alone (its initialisation comes from its own seed). On
a product grid (images) the first layer's trigonometry is computed per row and per
column and combined by the angle-addition formulas (:class:`Backprop`).
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


INITS = ("authors", "siren")  # INRRecipe.init
AUTO_CHUNK = {"cpu": 2**20, "cuda": 2**28}  # activations (points x widest layer x INRs) per tensor program, chunk="auto"


@dataclass(frozen=True)
class INRRecipe:
    """How an INR zoo is fitted (defaults: the authors' MNIST recipe).

    ``init``: ``"authors"`` (the authors' code: SIREN's hidden-layer rule with zero
    biases for the sine layers, PyTorch's default ``nn.Linear`` init for the last,
    linear layer) or ``"siren"`` (SIREN's hidden-layer rule with zero biases for every
    layer, the last included). ``chunk``: INRs per tensor program, or ``"auto"``: as
    many as make :data:`AUTO_CHUNK` activations on the device (on a CPU a few megabytes,
    so that the buffers stay in cache: 41 MNIST INRs; on a GPU enough to fill it).
    The chunk changes the fitted INRs at float rounding only (the batched matrix
    kernels round an INR's products differently in batches of other sizes: about
    1e-8 after 40 steps); INRs fitted in the same tensor programs are bit for bit equal.
    """

    widths: tuple[int, ...] = MNIST_INR_WIDTHS
    omega: float = 30.0
    offset: float = 0.5
    lr: float = 5e-4
    steps: int = 1000
    stop_psnr: float = 40.0
    init: str = "authors"
    chunk: int | str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", check_widths(self.widths))
        if self.steps < 1 or self.lr <= 0 or self.omega <= 0:
            raise ValueError(f"INR recipe: steps ({self.steps}) must be >= 1, lr ({self.lr}) and omega "
                             f"({self.omega}) > 0")
        if self.init not in INITS:
            raise ValueError(f"INR recipe: unknown init {self.init!r}: choose one of {', '.join(INITS)}")
        if self.chunk != "auto" and (isinstance(self.chunk, bool) or not isinstance(self.chunk, int)
                                     or self.chunk < 1):
            raise ValueError(f"INR recipe: chunk must be a positive number of INRs or 'auto'; got {self.chunk!r}")

    def chunk_for(self, device: torch.device, points: int) -> int:
        """The number of INRs fitted as one tensor program on ``device`` when each fits ``points`` points."""
        if self.chunk != "auto":
            return int(self.chunk)
        return max(1, AUTO_CHUNK.get(device.type, AUTO_CHUNK["cpu"]) // (points * max(self.widths)))


def grid(side: int) -> Tensor:
    """``[side * side, 2]`` pixel coordinates in ``[-1, 1]^2``, row-major (``(row, column)``)."""
    axis = torch.linspace(-1.0, 1.0, side)
    return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)


def product_axes(coords: Tensor) -> tuple[Tensor, Tensor] | None:
    """``(u, v)`` if the 2-D ``coords`` ``[P, 2]`` are the row-major product grid ``{(u_i, v_j)}``, else ``None``.

    Example: ``product_axes(grid(28))`` is ``(axis, axis)`` with the 28 values of the grid's axis.
    """
    if coords.dim() != 2 or coords.shape[1] != 2:
        return None
    u, v = torch.unique(coords[:, 0]), torch.unique(coords[:, 1])
    if len(u) * len(v) != len(coords) or not torch.equal(torch.cartesian_prod(u, v), coords):
        return None
    return u, v


def init_inrs(seeds: Sequence[int], widths: Sequence[int], omega: float = 30.0, init: str = "authors") -> Tensor:
    """``[N, D]`` initial parameters, INR ``k`` drawn from ``torch.Generator().manual_seed(seeds[k])``.

    Sine layers: weights ``U(-sqrt(6/n_in)/omega, sqrt(6/n_in)/omega)`` (SIREN's hidden-layer
    rule, also for the first layer: the authors do not use SIREN's first-layer init), biases
    zero. The last, linear layer: with ``init="authors"`` PyTorch's ``nn.Linear`` default,
    weights and biases ``U(-1/sqrt(n_in), 1/sqrt(n_in))``; with ``init="siren"`` the sine
    layers' rule (zero bias).
    """
    widths = check_widths(widths)
    if init not in INITS:
        raise ValueError(f"unknown INR init {init!r}: choose one of {', '.join(INITS)}")
    last = len(widths) - 2
    rows = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        parts = []
        for m, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            if m == last and init == "authors":
                bound = 1.0 / math.sqrt(n_in)
                parts += [(torch.rand(n_out * n_in, generator=g) * 2 - 1) * bound,
                          (torch.rand(n_out, generator=g) * 2 - 1) * bound]
            else:
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


class Backprop:
    """Each INR's MSE and its gradient for a chunk of ``n`` INRs fitting ``targets`` at fixed ``coords``, by hand.

    Equal to autograd's (tested); written out because the elementwise passes over the
    ``[N, P, n_m]`` activations dominate the cost. The activation buffers are allocated
    once and reused every step (a fresh multi-megabyte tensor per operation costs
    its page faults again each time), the scalar ``omega_0`` folds into the batched
    matrix products (``baddbmm``'s ``alpha``/``beta``), and with shared coordinates
    the first layer's gradient is one product with the coordinates.

    On a row-major product grid ``x = (u_i, v_j)`` (:func:`product_axes`; images) the
    first layer's pre-activation splits as ``A_i + B_j``, ``A_i = omega (W_1[:, 0] u_i + b_1)``,
    ``B_j = omega W_1[:, 1] v_j``, and the angle-addition formulas give its ``sin`` and
    ``cos`` from those of the ``len(u) + len(v)`` terms instead of the ``len(u) len(v)``
    points: the same values to float rounding, with a fraction of the trigonometry.

    Shape:
        ``targets`` ``[N, P, n_M]``, ``coords`` ``[P, n_0]`` or ``[N, P, n_0]``; a call on
        ``flat`` ``[N, D]`` returns ``([N], [N, D])``.

    Example:
        >>> step = Backprop(targets, grid(28), INRRecipe())
        >>> mse, grad = step(params)
    """

    def __init__(self, targets: Tensor, coords: Tensor, recipe: INRRecipe) -> None:
        self.recipe, self.widths = recipe, recipe.widths
        n, points = targets.shape[:2]
        self.points = points * targets.shape[2]
        self.shift = recipe.offset - targets  # err = f(x) - y = W_M h + b_M + (offset - y)
        self.coords = coords.expand(n, *coords.shape[-2:]) if coords.dim() == 2 else coords
        self.axes = product_axes(coords)
        # [n_0 + 1, P]: coordinates and ones, so that one product gives the first layer's weight and bias gradient
        self.design = (torch.cat([coords, torch.ones(points, 1, dtype=coords.dtype, device=coords.device)], 1).T
                       .contiguous() if coords.dim() == 2 else None)
        empty = lambda width: torch.empty(n, points, width, dtype=targets.dtype, device=targets.device)  # noqa: E731
        hidden = self.widths[1:-1]
        self.act, self.cos, self.delta = ([empty(h) for h in hidden] for _ in range(3))

    def _first_layer_on_grid(self, w: Tensor, b: Tensor) -> None:
        u, v = self.axes
        omega = self.recipe.omega
        a = torch.baddbmm(b.unsqueeze(1), u.view(1, -1, 1).expand(len(w), -1, 1), w[:, :, :1].transpose(1, 2),
                          beta=omega, alpha=omega)  # [N, R, n_1]
        c = (omega * v).view(1, -1, 1) * w[:, :, 1].unsqueeze(1)  # [N, C, n_1]
        sa, ca = torch.sin(a).unsqueeze(2), torch.cos(a).unsqueeze(2)
        sc, cc = torch.sin(c).unsqueeze(1), torch.cos(c).unsqueeze(1)
        grid_shape = (len(w), len(u), len(v), w.shape[1])
        torch.mul(sa, cc, out=self.act[0].view(grid_shape)).addcmul_(ca, sc)  # sin(A + B)
        torch.mul(ca, cc, out=self.cos[0].view(grid_shape)).addcmul_(sa, sc, value=-1.0)  # cos(A + B)

    def __call__(self, flat: Tensor) -> tuple[Tensor, Tensor]:
        space = WeightSpace.from_flat(flat, self.widths)
        weights = [w[:, 0] for w in space.weights]
        biases = [b[:, 0] for b in space.biases]
        omega = self.recipe.omega
        h = self.coords
        for m, (w, b) in enumerate(zip(weights[:-1], biases[:-1])):
            if m == 0 and self.axes is not None:
                self._first_layer_on_grid(w, b)
            else:
                z = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2), beta=omega, alpha=omega,
                                  out=self.delta[m])  # the delta buffer is free until the backward pass
                torch.sin(z, out=self.act[m])
                torch.cos(z, out=self.cos[m])
            h = self.act[m]
        err = torch.baddbmm(biases[-1].unsqueeze(1), h, weights[-1].transpose(1, 2)).add_(self.shift)
        mse = err.pow(2).sum(dim=(1, 2)) / self.points
        delta = err.mul_(2.0 / self.points)  # dL/d(output pre-activation)
        inputs = [self.coords] + self.act
        grads: list[Tensor] = []
        for m in range(len(weights) - 1, -1, -1):
            if m == 0 and self.design is not None:
                gwb = torch.bmm(self.design.expand(len(flat), -1, -1), delta)  # [N, n_0 + 1, n_1]
                grads = [gwb[:, :-1].transpose(1, 2).flatten(1), gwb[:, -1]] + grads
                break
            grads = [torch.bmm(delta.transpose(1, 2), inputs[m]).flatten(1), delta.sum(dim=1)] + grads
            if m:
                out = self.delta[m - 1]
                if delta.shape[2] == 1:  # an outer product: a broadcast multiply is far cheaper than a bmm
                    torch.mul(delta, weights[m] * omega, out=out)
                else:
                    torch.bmm(delta, weights[m] * omega, out=out)
                delta = out.mul_(self.cos[m - 1])
        return mse, torch.cat(grads, dim=1)


def loss_and_grad(flat: Tensor, coords: Tensor, targets: Tensor, recipe: INRRecipe) -> tuple[Tensor, Tensor]:
    """Each INR's MSE ``[N]`` and its gradient ``[N, D]`` (one :class:`Backprop` step)."""
    return Backprop(targets, coords, recipe)(flat)


def _fit_chunk(params: Tensor, coords: Tensor, targets: Tensor, recipe: INRRecipe,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[Tensor, Tensor, Tensor]:
    """Adam on every INR of the chunk until it reaches ``stop_psnr`` or ``steps``; returns params, mse, steps."""
    params = params.clone()
    m, v = torch.zeros_like(params), torch.zeros_like(params)
    active = torch.ones(len(params), dtype=torch.bool, device=params.device)
    steps = torch.zeros(len(params), dtype=torch.long, device=params.device)
    step = Backprop(targets, coords, recipe)
    b1, b2 = betas
    for _ in range(recipe.steps):
        mse, grad = step(params)
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

    @classmethod
    def cat(cls, parts: Sequence[INRZoo]) -> INRZoo:
        """The INRs of ``parts`` (fitted with one recipe) in order, as one zoo; its fit time is theirs summed."""
        if not parts or any(part.recipe != parts[0].recipe for part in parts):
            raise ValueError(f"INR zoos join when there is at least one and all share a recipe; got "
                             f"{[part.recipe for part in parts]}")
        return cls(Zoo(torch.cat([part.zoo.params for part in parts]), torch.cat([part.zoo.targets for part in parts]),
                       parts[0].zoo.widths),
                   torch.cat([part.mse for part in parts]), torch.cat([part.steps for part in parts]), parts[0].recipe,
                   sum(part.fit_seconds for part in parts))

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

    INRs are fitted ``recipe.chunk_for(device, P)`` at a time, the tensor programs starting at
    INR 0. Each INR's init comes from its own seed and its Adam state is its own, so the chunk
    size changes the result at float rounding only (:class:`INRRecipe`), and fitting the INRs
    ``a`` to ``b - 1`` alone gives exactly their rows of the whole fit when ``a`` and ``b`` are
    multiples of the chunk (or ``b`` is ``N``): the same tensor programs.
    """
    if targets.dim() != 3 or targets.shape[2] != recipe.widths[-1] or len(seeds) != len(targets):
        raise ValueError(f"targets must be [N, P, {recipe.widths[-1]}] with one seed per signal; got "
                         f"{tuple(targets.shape)} and {len(seeds)} seeds")
    if coords.shape[-1] != recipe.widths[0] or coords.shape[-2] != targets.shape[1]:
        raise ValueError(f"coords {tuple(coords.shape)} do not match {targets.shape[1]} points of "
                         f"dimension {recipe.widths[0]}")
    started = time.time()
    init = init_inrs(seeds, recipe.widths, recipe.omega, recipe.init).to(targets.device)
    chunk = recipe.chunk_for(targets.device, targets.shape[1])
    out_p, out_mse, out_steps = [], [], []
    for start in tqdm(range(0, len(targets), chunk), desc=desc, leave=False):
        sl = slice(start, start + chunk)
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


__all__ = ["AUTO_CHUNK", "Backprop", "INITS", "INRRecipe", "INRZoo", "MNIST_INR_WIDTHS", "SINE_INR_WIDTHS", "fit_inrs", "grid",
           "init_inrs", "inr_forward", "loss_and_grad", "mnist_inr_targets", "num_parameters", "product_axes", "psnr",
           "scaled_sine_waves", "sine_waves"]
