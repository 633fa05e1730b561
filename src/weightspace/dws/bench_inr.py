"""DWSNets benchmarks of fitting an MNIST INR zoo at the authors' recipe (collected by :mod:`weightspace.dws.bench`):
a chunk on the CPU against one INR at a time, and (where there is a GPU) a whole zoo of the paper's size."""

from __future__ import annotations

import torch

from weightspace.bench import Case
from weightspace.dws.inr import INRRecipe, fit_inrs, mnist_inr_targets

_FIT_STEPS = 50  # of the recipe's 1,000: every INR runs every step (no early stop), so the rate scales exactly
_RECIPE = INRRecipe(steps=_FIT_STEPS, stop_psnr=float("inf"))  # the authors' recipe otherwise (lr 5e-4, 2-32-32-1)
_CPU = torch.device("cpu")
_INRS = _RECIPE.chunk_for(_CPU, 28 * 28)  # one chunk of the automatic size


def _setup() -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(_INRS, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return mnist_inr_targets(images)


def _batched(inputs: tuple[torch.Tensor, torch.Tensor]) -> None:
    targets, coords = inputs
    fit_inrs(targets, coords, range(_INRS), _RECIPE, desc="INRs, batched")


def _one_at_a_time(inputs: tuple[torch.Tensor, torch.Tensor]) -> None:
    targets, coords = inputs
    fit_inrs(targets, coords, range(_INRS), INRRecipe(**{**_RECIPE.__dict__, "chunk": 1}), desc="INRs, one at a time")


ZOO_INRS = 70_000  # the paper's MNIST zoo: one INR per image of MNIST's train and test splits


def _zoo_setup() -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(ZOO_INRS, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    targets, coords = (t.to("cuda") for t in mnist_inr_targets(images))
    fit_inrs(targets[:64], coords, range(64), INRRecipe(steps=2), desc="warming up")  # CUDA context, kernels
    return targets, coords


def _zoo(inputs: tuple[torch.Tensor, torch.Tensor]) -> None:
    targets, coords = inputs
    fit_inrs(targets, coords, range(ZOO_INRS), INRRecipe(), desc=f"{ZOO_INRS:,} INRs")


CASES = [
    Case("dws.inr_fitting_mnist", f"fit {_INRS} MNIST INRs (2-32-32-1, Adam lr 5e-4) for {_FIT_STEPS} of the "
         f"authors' 1,000 steps, every INR every step; rate in INRs at 1,000 steps",
         _setup, _batched, _one_at_a_time, "one INR at a time", items=_INRS * _FIT_STEPS / 1000, unit="INRs/s",
         min_rate=3.0),
    Case("dws.inr_zoo_mnist_70k_gpu", f"fit a {ZOO_INRS:,}-INR zoo of 28x28 images at the authors' recipe (1,000 "
         "Adam steps, early stop at 40 dB) on a GPU; the images are noise, so no INR stops early", _zoo_setup, _zoo,
         items=ZOO_INRS, unit="INRs/s", max_seconds=120.0, repeats=1, warmup=0, device="cuda"),
]
