"""Plain MLPs as data: build them, read their layers, and run many at once.

``batched_mlp`` evaluates R networks of one architecture in a single tensor
program (batched matmuls), the way the experiments evaluate interpolation
paths, crossover repeats and zoos instead of looping over models.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """``Flatten -> Linear(s0, s1) -> act -> ... -> Linear(s_{L-1}, s_L)`` (no activation at the end)."""
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"an MLP needs at least two positive layer sizes, got {list(sizes)}")
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of a model, in order."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def mlp_parameters(model: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Weights ``(out, in)`` and biases ``(out,)`` of an MLP's linear layers (detached)."""
    layers = linear_layers(model)
    return [m.weight.detach() for m in layers], [m.bias.detach() for m in layers]


def batched_mlp(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits of R ReLU MLPs on the same inputs.

    ``weights[l]``: (R, out, in), ``biases[l]``: (R, out), ``x``: (N, ...) -> (R, N, out).
    """
    if len(weights) != len(biases):
        raise ValueError(f"{len(weights)} weight tensors but {len(biases)} bias tensors")
    h = x.flatten(1).unsqueeze(0).expand(weights[0].shape[0], -1, -1)
    for i, (w, b) in enumerate(zip(weights, biases)):
        if w.shape[-1] != h.shape[-1]:
            raise ValueError(f"layer {i} expects {w.shape[-1]} inputs but receives {h.shape[-1]}")
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if i < len(weights) - 1:
            h = h.relu()
    return h


@torch.no_grad()
def batched_accuracy(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor], x: torch.Tensor,
                     y: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """Accuracy (%) of each of R MLPs on ``(x, y)``, evaluated ``chunk`` networks at a time -> (R,)."""
    out = []
    for s in range(0, weights[0].shape[0], chunk):
        logits = batched_mlp([w[s : s + chunk] for w in weights], [b[s : s + chunk] for b in biases], x)
        out.append((logits.argmax(-1) == y).float().mean(-1) * 100)
    return torch.cat(out)
