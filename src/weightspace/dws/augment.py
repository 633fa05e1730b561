"""Weight normalisation and weight-space augmentations (App. J), all on flat zoos ``[N, D]``.

Augmentations act on the raw weights of the training MLPs only:

* ``translation``: an INR ``f(x)`` becomes ``f(x + t)`` by ``b_1 <- b_1 + W_1 t``;
* ``rotation``: ``W_1 <- W_1 R(theta)`` for 2-D inputs, ``theta ~ U(-45, 45)`` degrees;
* ``scale``: ``W_1 <- s W_1`` with ``s ~ U(0.8, 1.2)`` (a rescaled input domain);
* ``dropout``: each entry zeroed with probability ``p``;
* ``noise``: Gaussian noise ``w + eps * std(w)``; the authors' code instead adds the
  deterministic shift ``w + 0.1 std(w)``, kept only as ``noise_kind="authors_shift"``;
* ``permutation``: a uniformly random hidden-neuron permutation per MLP (the
  "MLP + permutation augmentation" baseline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from weightspace.dws.layers import _is_set, tensor_axes
from weightspace.dws.space import WeightSpace, check_widths

NOISE_KINDS = ("gaussian", "authors_shift")


@dataclass(frozen=True)
class Augmentation:
    """A random transformation of a batch of flat MLPs of ``widths``; ``None``/0 switches a part off."""

    widths: tuple[int, ...]
    translation: float = 0.0  # t ~ U(-translation, translation)^{n_0}
    rotation_deg: float = 0.0  # 2-D inputs only
    scale: tuple[float, float] | None = None
    dropout: float = 0.0
    noise: float = 0.0
    noise_kind: str = "gaussian"
    permutation: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", check_widths(self.widths))
        if self.noise_kind not in NOISE_KINDS:
            raise ValueError(f"unknown noise kind {self.noise_kind!r}: choose one of {', '.join(NOISE_KINDS)}")
        if min(self.translation, self.rotation_deg, self.noise) < 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"augmentation: translation ({self.translation}), rotation_deg ({self.rotation_deg}) and "
                             f"noise ({self.noise}) must be >= 0 and dropout ({self.dropout}) in [0, 1)")
        if self.scale is not None and not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"augmentation: scale must be a range (lo, hi) with 0 < lo <= hi; got {self.scale}")
        if self.rotation_deg and self.widths[0] != 2:
            raise ValueError(f"rotation needs 2-D inputs; these MLPs take {self.widths[0]}")

    def __call__(self, flat: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``flat`` [B, D] transformed; random draws come from the CPU ``generator`` (the global RNG if ``None``)."""
        space = WeightSpace.from_flat(flat, self.widths)
        w1, b1 = space.weights[0], space.biases[0]
        batch, device = flat.shape[0], flat.device

        def rand(*shape: int) -> Tensor:  # drawn in float32 on the CPU whatever the weights' dtype and device
            return torch.rand(shape, generator=generator).to(device=device, dtype=flat.dtype)

        if self.rotation_deg:
            theta = (rand(batch) * 2 - 1) * math.radians(self.rotation_deg)
            c, s = torch.cos(theta), torch.sin(theta)
            rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # [B, 2, 2]
            w1 = w1 @ rot.unsqueeze(1)
        if self.scale is not None:
            lo, hi = self.scale
            w1 = w1 * (lo + (hi - lo) * rand(batch, 1, 1, 1))
        if self.translation:
            t = (rand(batch, 1, self.widths[0], 1) * 2 - 1) * self.translation
            b1 = b1 + (w1 @ t).squeeze(-1)
        space = WeightSpace((w1,) + space.weights[1:], (b1,) + space.biases[1:])
        if self.permutation:
            space = space.permute(space.random_permutations(generator))
        out = space.flatten()
        if self.noise:
            std = out.std(dim=1, keepdim=True)
            eps = (torch.randn(out.shape, generator=generator).to(device=device, dtype=out.dtype)
                   if self.noise_kind == "gaussian"
                   else torch.ones_like(out))
            out = out + self.noise * std * eps
        if self.dropout:
            out = out * (rand(*out.shape) >= self.dropout)
        return out


def orbit_statistics(flat: Tensor, widths: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Mean and std ``[D]`` of a training zoo per entry, pooled over the entries a permutation can exchange.

    Per-entry statistics (the authors' choice) would differ between neurons that the
    symmetry exchanges and so break invariance slightly; pooling them over the set
    axes keeps the normalisation ``G``-equivariant and equals per-entry statistics in
    expectation (hidden neurons are exchangeable in distribution).
    """
    widths = check_widths(widths)
    first = WeightSpace.from_flat(flat.mean(0, keepdim=True), widths)
    second = WeightSpace.from_flat(flat.pow(2).mean(0, keepdim=True), widths)

    def pool(space: WeightSpace) -> WeightSpace:
        pooled = []
        for x, axes in zip(space.tensors(), tensor_axes(widths)):
            dims = [2 + i for i, a in enumerate(axes) if _is_set(a, widths)]
            pooled.append(x.mean(dim=dims, keepdim=True).expand_as(x) if dims else x)
        M = len(widths) - 1
        return WeightSpace(tuple(pooled[:M]), tuple(pooled[M:]))

    mean, sq = pool(first).flatten()[0], pool(second).flatten()[0]
    return mean, (sq - mean.pow(2)).clamp_min(1e-12).sqrt()


class Normalized(nn.Module):
    """``model((x - mean) / std)``: a model that takes raw flat weights."""

    def __init__(self, model: nn.Module, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, flat: Tensor) -> Tensor:
        return self.model((flat - self.mean) / self.std)
