"""Section 5's applications: meta-compression (Fig. 5 left) and weight importance (Fig. 5 right).

- :func:`prune_predictor`: unstructured magnitude pruning of the predictor's
  linear weights (one global threshold), a smaller representation of the network.
- :func:`filter_errors`: per-filter relative reconstruction error
  ``|w_f - ŵ_f| / |w_f|``; filters NeRN reconstructs best are the important ones.
- :func:`prune_by_score`: prune the original's conv weights with the highest
  scores (relative reconstruction error, negative magnitude, or random).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from weightspace.nern.predictor import NeRN

PRUNING_SCORES = ("reconstruction", "magnitude", "random")


def prune_predictor(nern: NeRN, fraction: float) -> NeRN:
    """A copy of ``nern`` with the ``fraction`` smallest-magnitude linear weights (over all layers) set to 0."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"pruning fraction must be in [0, 1), got {fraction}")
    pruned = copy.deepcopy(nern)
    weights = [m.weight for m in pruned.predictor.modules() if isinstance(m, nn.Linear)]
    flat = torch.cat([w.detach().abs().flatten() for w in weights])
    k = int(fraction * flat.numel())
    if k == 0:
        return pruned
    threshold = flat.kthvalue(k).values
    with torch.no_grad():
        for w in weights:
            w.mul_(w.abs() > threshold)
    return pruned


def filter_errors(original: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Relative reconstruction error of each filter of a conv weight (F, C, k, k): (F,)."""
    diff = (original - reconstructed).flatten(1).norm(dim=1)
    return diff / original.flatten(1).norm(dim=1).clamp_min(1e-12)


def prune_by_score(model: nn.Module, weights: dict[str, torch.Tensor], reconstructed: dict[str, torch.Tensor],
                   fraction: float, score: str, generator: torch.Generator | None = None) -> nn.Module:
    """A copy of ``model`` with ``fraction`` of the conv ``weights`` zeroed, those with the highest ``score``.

    ``reconstruction``: relative error |w - ŵ| / |w| (the authors' later pruning
    experiment); ``magnitude``: smallest |w| first; ``random``.
    """
    if score not in PRUNING_SCORES:
        raise ValueError(f"unknown pruning score {score!r}: choose one of {', '.join(PRUNING_SCORES)}")
    flat_w = torch.cat([w.flatten() for w in weights.values()])
    if score == "reconstruction":
        flat_r = torch.cat([reconstructed[n].flatten() for n in weights])
        s = (flat_w - flat_r).abs() / flat_w.abs().clamp_min(1e-12)
    elif score == "magnitude":
        s = -flat_w.abs()
    else:
        s = torch.rand(flat_w.shape, generator=generator).to(flat_w.device)
    keep = torch.ones_like(flat_w, dtype=torch.bool)
    keep[s.topk(int(fraction * flat_w.numel())).indices] = False
    pruned = copy.deepcopy(model)
    params = dict(pruned.named_parameters())
    start = 0
    with torch.no_grad():
        for name, w in weights.items():
            params[name].copy_(w * keep[start:start + w.numel()].view_as(w))
            start += w.numel()
    return pruned.eval()
