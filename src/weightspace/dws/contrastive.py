"""Self-supervised dense representations of weight spaces (Section 6): InfoNCE, a linear probe, and t-SNE.

An encoder maps an MLP's weights to an embedding; two views of the same MLP (by
default, as in the authors' code, the MLP itself and a copy shifted by 0.2 std
with half its entries dropped; or two random views with hidden-neuron
permutation, Gaussian noise and dropout) are pulled together and other MLPs pushed apart
by the InfoNCE loss with temperature ``tau``. :class:`TwoViews` wraps an encoder
so that the shared training loop (:func:`weightspace.training.train_classifier`
with :data:`INFO_NCE`) trains it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from weightspace.data import Split
from weightspace.dws.augment import Augmentation
from weightspace.training import Objective


def info_nce(z: Tensor, temperature: float = 0.1) -> Tensor:
    """InfoNCE of ``z`` ``[2B, d]`` = two views stacked: view ``i`` and ``i + B`` are the positive pair."""
    if len(z) % 2:
        raise ValueError(f"InfoNCE needs two stacked views, an even number of rows; got {len(z)}")
    z = F.normalize(z, dim=1)
    n = len(z) // 2
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(len(z), dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, target)


VIEW_PAIRS = ("clean_augmented", "both_augmented")


class TwoViews(nn.Module):
    """``encoder`` applied to two views of each input MLP: ``[2B, d]`` (views stacked).

    ``pair="clean_augmented"`` (the authors' code): the MLP itself and one augmented
    view; ``"both_augmented"``: two independent augmented views.
    """

    def __init__(self, encoder: nn.Module, augment: Augmentation, pair: str = "clean_augmented") -> None:
        super().__init__()
        if pair not in VIEW_PAIRS:
            raise ValueError(f"unknown view pair {pair!r}: choose one of {', '.join(VIEW_PAIRS)}")
        self.encoder, self.augment, self.pair = encoder, augment, pair

    def forward(self, flat: Tensor) -> Tensor:
        first = flat if self.pair == "clean_augmented" else self.augment(flat)
        return self.encoder(torch.cat([first, self.augment(flat)]))


@torch.no_grad()
def _evaluate_info_nce(model: nn.Module, split: Split, batch_size: int = 256) -> tuple[float, float]:
    was_training = model.training
    model.eval()
    losses = [info_nce(model(split.x[s : s + batch_size])).item() for s in range(0, len(split), batch_size)]
    model.train(was_training)
    loss = sum(losses) / len(losses)
    return -loss, loss


INFO_NCE = Objective(loss=lambda z, _: info_nce(z), evaluate=_evaluate_info_nce)


def linear_probe(train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor, ridge: float = 1e-3) -> float:
    """Test MSE of a ridge-regularised linear regression from embeddings to targets (fitted on the train split)."""
    def design(z: Tensor) -> Tensor:
        return torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], dim=1).double()

    a = design(train_z)
    w = torch.linalg.solve(a.T @ a + ridge * torch.eye(a.shape[1], dtype=a.dtype), a.T @ train_y.double())
    return float((design(test_z) @ w - test_y.double()).pow(2).mean())


def tsne(x: Tensor, perplexity: float = 30.0, steps: int = 500, seed: int = 0) -> Tensor:
    """A plain exact t-SNE (van der Maaten and Hinton, 2008) of ``x`` ``[N, d]`` to ``[N, 2]`` for small ``N``."""
    x = x.double()
    n = len(x)
    d2 = torch.cdist(x, x).pow(2)
    lo, hi = torch.full((n, 1), 1e-10, dtype=x.dtype), torch.full((n, 1), 1e10, dtype=x.dtype)
    mask = ~torch.eye(n, dtype=torch.bool)
    for _ in range(64):  # bisection on each point's precision so that its entropy is log(perplexity)
        beta = (lo * hi).sqrt()
        p = torch.exp(-(d2 - d2.masked_fill(~mask, float("inf")).min(1, keepdim=True).values) * beta) * mask
        p = p / p.sum(1, keepdim=True)
        entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(1, keepdim=True)
        too_flat = entropy > torch.log(torch.tensor(perplexity, dtype=x.dtype))
        lo, hi = torch.where(too_flat, beta, lo), torch.where(too_flat, hi, beta)
    p = (p + p.T) / (2 * n)
    y = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=x.dtype) * 1e-2
    velocity = torch.zeros_like(y)
    for step in range(steps):
        exaggeration = 12.0 if step < 100 else 1.0
        inv = 1 / (1 + torch.cdist(y, y).pow(2)) * mask
        q = inv / inv.sum()
        grad = 4 * ((exaggeration * p - q) * inv).unsqueeze(2).mul(y.unsqueeze(1) - y.unsqueeze(0)).sum(1)
        velocity = (0.5 if step < 100 else 0.8) * velocity - 100.0 * grad
        y = y + velocity
    return y.float()
