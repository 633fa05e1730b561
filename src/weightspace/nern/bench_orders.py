"""NeRN benchmarks of the greedy permutation orders of Section 3.3 (collected by :mod:`weightspace.nern.bench`).

The baseline is the walk this package used before: a torch argmin per step over
a dense distance matrix (``torch.cdist``, up to 2^26 entries) or, for larger
layers, over distances recomputed to every kernel each step. Both give the same
orders (the unit tests check ours against a brute-force loop). The
ResNet18 case times only its largest 3x3 conv. A layer of at least
``permutation._INDEX_MIN`` kernels (all of ResNet18's from 256x128 up, most of its
3x3 kernels) goes through the clustered index, which scores a few thousand
kernels per step, not the ``n^2 / 2`` of a pass over the unvisited ones per step:
its cost grows about linearly with its ``n`` kernels (a little faster: 24, 25 and
30 us of CPU per kernel at 2^15, 2^16 and 2^17 kernels, measured beside other jobs).
One 512x512 layer holds :data:`RESNET18_LARGEST_SHARE` of the kernels of all
sixteen 3x3 convs, so its target is that share of 3 minutes (slightly strict, as
the largest layer costs a little more per kernel).
"""

from __future__ import annotations

import math

import torch

from weightspace.bench import Case
from weightspace.nern import permutation
from weightspace.nern.models import build, conv_names
from weightspace.nern.train import conv_weights


def _kernels_3x3(arch: str) -> list[int]:
    net = build(arch)
    return [w.shape[0] * w.shape[1] for w in conv_weights(net, conv_names(net, (3,))).values()]


RESNET18_KERNELS = _kernels_3x3("resnet18")
RESNET18_LARGEST_SHARE = max(RESNET18_KERNELS) / sum(RESNET18_KERNELS)
RESNET18_ALL_3X3_SECONDS = 180.0


def _previous_walk(points: torch.Tensor, dense_limit: int = 2**26) -> torch.Tensor:
    """The previous implementation's greedy path from 0 through ``points`` (B, n, d) (float32 Euclidean)."""
    b, n, _ = points.shape
    rows = torch.arange(b)
    path = torch.zeros(b, n, dtype=torch.long)
    current = path[:, 0]
    exact = "donot_use_mm_for_euclid_dist"
    if b * n * n <= dense_limit:
        dist = torch.cdist(points, points, compute_mode=exact)
        visited = torch.zeros(b, n, dtype=points.dtype)
        visited[:, 0] = math.inf
        for step in range(1, n):
            current = (dist[rows, current] + visited).argmin(1)
            path[:, step] = current
            visited[rows, current] = math.inf
        return path
    seen = torch.zeros(b, n, dtype=torch.bool)
    seen[:, 0] = True
    for step in range(1, n):
        dist = torch.cdist(points[rows, current].unsqueeze(1), points, compute_mode=exact).squeeze(1)
        current = dist.masked_fill(seen, math.inf).argmin(1)
        path[:, step] = current
        seen[rows, current] = True
    return path


def _previous_cross_orders(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """Cross-filter orders the previous way: one walk per layer, normalised kernels (1x1: raw values)."""
    out = []
    for w in weights:
        flat = w.detach().reshape(1, w.shape[0] * w.shape[1], -1)
        out.append(_previous_walk(flat if flat.shape[-1] == 1 else torch.nn.functional.normalize(flat, dim=-1))[0])
    return out


def _resnet56() -> list[torch.Tensor]:
    torch.manual_seed(0)
    net = build("resnet56")
    return list(conv_weights(net, conv_names(net)).values())


def _resnet18_largest() -> list[torch.Tensor]:
    torch.manual_seed(0)
    return [torch.nn.init.kaiming_normal_(torch.empty(512, 512, 3, 3))]


CASES = [
    Case(name="nern.cross_filter_order_resnet56",
         what="cross-filter orders of all 57 convs of ResNet56 (96,816 kernels), one call",
         setup=_resnet56, ours=lambda ws: permutation.orders(ws, "cross"),
         baseline=_previous_cross_orders, baseline_name="previous torch walk", max_seconds=0.7,
         items=96816, unit="kernels/s"),
    Case(name="nern.cross_filter_order_resnet18_512x512",
         what=f"cross-filter order of one 512x512x3x3 conv of ResNet18 (262,144 kernels); it is "
              f"{100 * RESNET18_LARGEST_SHARE:.1f}% of the kernels of all 16 3x3 convs (the indexed walk's cost is "
              f"about linear in the kernels), so its target is "
              f"that share of {RESNET18_ALL_3X3_SECONDS:g} s for all of them",
         setup=_resnet18_largest, ours=lambda ws: permutation.orders(ws, "cross"),
         max_seconds=RESNET18_LARGEST_SHARE * RESNET18_ALL_3X3_SECONDS, items=262144, unit="kernels/s",
         repeats=1),
]
