"""Permutation smoothness (Section 3.3, Fig. 2, Fig. 7, Appendix D).

A greedy nearest-neighbour path through a layer's kernels approximates the
minimum-weight Hamiltonian path of eq. 6's distances: start at kernel 0, then
repeatedly go to the closest kernel not yet visited. Distances are cosine
distances between flattened kernels, squared l2 distances for 1x1 kernels.

The result is an *order*: ``order[j]`` is the flat index ``f * C + c`` of the
original kernel that coordinate ``j`` predicts. The network's weights never
move; only the coordinate that predicts each kernel changes.

- cross-filter: one path over all ``F * C`` kernels of the layer (Fig. 7);
- in-filter: a path over the ``C`` kernels inside each filter, then a path over
  the filters, their distance being the sum of the kernel distances between the
  channel-ordered filters (Fig. 2). Every kernel stays in its filter.

Both compute a layer's distances with one batched ``torch.cdist`` (all filters
of a layer at once for the in-filter variant) and then take one vectorised
argmin per step of the path, so ResNet56 is ordered in seconds on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MODES = ("none", "in", "cross")


def _points(kernels: torch.Tensor) -> torch.Tensor:
    """Flattened kernels (..., n, k*k) whose Euclidean distances order pairs like eq. 6's distance.

    For k > 1 the kernels are normalised: |u - v|^2 = 2 - 2 cos(u, v) is monotone in the
    cosine distance. 1x1 kernels keep their values (l2 distance).
    """
    flat = kernels.flatten(-2) if kernels.dim() > 2 else kernels
    return flat if flat.shape[-1] == 1 else F.normalize(flat, dim=-1, eps=1e-12)


def greedy_path(points: torch.Tensor, dense_limit: int = 2**26) -> torch.Tensor:
    """Greedy nearest-neighbour paths from index 0 through ``points`` (B, n, d): (B, n) visiting orders.

    All ``B`` problems advance together, one step per iteration, ties going to the
    lowest index. When the ``B * n * n`` distances fit in ``dense_limit`` entries they
    are computed once with ``torch.cdist`` and each step reads the current point's row
    plus an infinite penalty on visited points; otherwise each step computes the distances from the current points.
    """
    if points.dim() != 3:
        raise ValueError(f"expected points of shape (batch, n, d), got {tuple(points.shape)}")
    b, n, _ = points.shape
    rows = torch.arange(b, device=points.device)
    path = torch.zeros(b, n, dtype=torch.long, device=points.device)
    current = path[:, 0]
    exact = "donot_use_mm_for_euclid_dist"
    if b * n * n <= dense_limit:
        dist = torch.cdist(points, points, compute_mode=exact)
        visited = torch.zeros(b, n, dtype=points.dtype, device=points.device)
        visited[:, 0] = math.inf
        for step in range(1, n):
            current = (dist[rows, current] + visited).argmin(1)
            path[:, step] = current
            visited[rows, current] = math.inf
        return path
    visited = torch.zeros(b, n, dtype=torch.bool, device=points.device)
    visited[:, 0] = True
    for step in range(1, n):
        dist = torch.cdist(points[rows, current].unsqueeze(1), points, compute_mode=exact).squeeze(1)
        current = dist.masked_fill(visited, math.inf).argmin(1)
        path[:, step] = current
        visited[rows, current] = True
    return path


def cross_filter_order(weight: torch.Tensor) -> torch.Tensor:
    """Cross-filter order of a conv weight (F, C, k, k): a path over all F*C kernels."""
    f, c = weight.shape[:2]
    return greedy_path(_points(weight.detach().reshape(1, f * c, *weight.shape[2:])))[0]


def in_filter_order(weight: torch.Tensor) -> torch.Tensor:
    """In-filter order of a conv weight (F, C, k, k): channels within each filter, then the filters."""
    f, c = weight.shape[:2]
    pts = _points(weight.detach().reshape(f, c, *weight.shape[2:]))   # (F, C, d)
    channels = greedy_path(pts)                                        # (F, C)
    ordered = torch.gather(pts, 1, channels.unsqueeze(-1).expand_as(pts))
    filters = greedy_path(ordered.reshape(1, f, -1))[0]                # sum of kernel distances
    return (filters.unsqueeze(1) * c + channels[filters]).reshape(-1)


def order(weight: torch.Tensor, mode: str) -> torch.Tensor:
    """The coordinate -> kernel order of one layer for a permutation ``mode`` (none, in, cross)."""
    if mode == "none":
        return torch.arange(weight.shape[0] * weight.shape[1], device=weight.device)
    if mode == "in":
        return in_filter_order(weight)
    if mode == "cross":
        return cross_filter_order(weight)
    raise ValueError(f"unknown permutation mode {mode!r}: choose one of {', '.join(MODES)}")


def path_cost(weight: torch.Tensor, layer_order: torch.Tensor) -> float:
    """Mean of eq. 6's distances between consecutive kernels along ``layer_order`` (per step of the path)."""
    pts = _points(weight.detach().reshape(-1, *weight.shape[2:]))[layer_order]
    if pts.shape[-1] == 1:
        d = (pts[1:] - pts[:-1]).pow(2).sum(-1)
    else:
        d = 1 - (pts[1:] * pts[:-1]).sum(-1)
    return d.mean().item()


def overhead_bits(filters: int, channels: int, mode: str) -> float:
    """Appendix D.1: bits to store one layer's permutation.

    cross-filter: F*C*(log2 F + log2 C); in-filter: F*C*log2 C + F*log2 F.
    """
    lf, lc = math.log2(filters), math.log2(channels)
    if mode == "cross":
        return filters * channels * (lf + lc)
    if mode == "in":
        return filters * channels * lc + filters * lf
    if mode == "none":
        return 0.0
    raise ValueError(f"unknown permutation mode {mode!r}: choose one of {', '.join(MODES)}")
