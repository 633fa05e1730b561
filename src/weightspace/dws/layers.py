"""DWS layers: the affine equivariant layer ``V -> V`` (Theorem 5.1, App. B-C) and the invariant layer (Prop. 5.3).

Index every axis of every tensor of the weight space by the width it runs over:
``W_m`` has axes ``(m, m-1)`` and ``b_m`` has axis ``(m,)`` for ``m = 1..M``. Axis
``j`` is a *set* axis when ``0 < j < M`` (the hidden neurons ``S_{n_j}`` permutes)
and a *free* axis when ``j in {0, M}`` (input and output neurons keep their order).

The layer is the block matrix of Prop. 5.2: for every pair (input tensor ``X``,
output tensor ``Y``), the W->W, W->B, B->W or B->B block is the sum of the basis
maps of App. C, each built from three operations:

* free axes are part of the feature: folded into channels, mapped by a full
  linear map (free dimensions multiply the count by their size);
* a set axis only ``X`` has is pooled (mean), one only ``Y`` has is broadcast
  (a factor ``bell(1) = 1``);
* a set axis both have is either kept (the identity on that axis) or pooled then
  broadcast back: a factor ``bell(2) = 2`` (``1`` on an axis of width 1, where the
  two are the same map).

Each such term is a linear map on channels, and every output tensor gets one
bias, constant over its set axes (App. B). Summing all blocks gives every affine
``G``-equivariant map and no other: the free parameters per channel pair equal
``(1/|G|) sum_g tr(rho(g))^2``, tested in ``tests/test_dws.py``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from weightspace.dws.space import Shapes, WeightSpace, check_widths

BLOCKS: tuple[str, ...] = ("WW", "WB", "BW", "BB")  # (input kind, output kind): W = weights, B = biases


def tensor_axes(widths: Shapes) -> list[tuple[int, ...]]:
    """The width labels of the axes of ``W_1, ..., W_M, b_1, ..., b_M`` (``W_m``: ``(m, m-1)``; ``b_m``: ``(m,)``)."""
    M = len(widths) - 1
    return [(m, m - 1) for m in range(1, M + 1)] + [(m,) for m in range(1, M + 1)]


def _is_set(label: int, widths: Shapes) -> bool:
    return 0 < label < len(widths) - 1


def _kind(index: int, widths: Shapes) -> str:
    return "W" if index < len(widths) - 1 else "B"


def check_blocks(blocks: Iterable[str]) -> tuple[str, ...]:
    blocks = tuple(blocks)
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown or not blocks:
        raise ValueError(f"unknown or no blocks {unknown or blocks}: choose a non-empty subset of {', '.join(BLOCKS)}")
    return blocks


@dataclass(frozen=True)
class _Term:
    """One basis map family: pool ``X`` over ``pooled`` set axes, mix channels (free axes folded), place in ``Y``."""

    src: int
    dst: int
    pooled: tuple[int, ...]  # labels of X's set axes that are averaged out
    kept: tuple[int, ...]  # labels of shared set axes kept (identity on that axis), in X's order
    free_in: tuple[int, ...]
    free_out: tuple[int, ...]


def equivariant_terms(widths: Sequence[int], blocks: Iterable[str] = BLOCKS) -> list[_Term]:
    """Every term of the equivariant layer for MLPs of ``widths`` restricted to ``blocks``."""
    widths = check_widths(widths)
    blocks = check_blocks(blocks)
    axes = tensor_axes(widths)
    terms = []
    for dst, out_axes in enumerate(axes):
        for src, in_axes in enumerate(axes):
            if _kind(src, widths) + _kind(dst, widths) not in blocks:
                continue
            set_in = [a for a in in_axes if _is_set(a, widths)]
            shared = [a for a in set_in if a in out_axes]
            free_in = tuple(a for a in in_axes if not _is_set(a, widths))
            free_out = tuple(a for a in out_axes if not _is_set(a, widths))
            # On a shared set axis of width 1, keeping it and pooling then broadcasting it are the same map:
            # count it once (kept), or the layer would hold two parameters for one direction of its space.
            choices = [(True,) if widths[a] == 1 else (False, True) for a in shared]
            for keep in itertools.product(*choices):
                kept = tuple(a for a, k in zip(shared, keep) if k)
                pooled = tuple(a for a in set_in if a not in kept)
                terms.append(_Term(src, dst, pooled, kept, free_in, free_out))
    return terms


def parameters_per_channel_pair(widths: Sequence[int], blocks: Iterable[str] = BLOCKS) -> int:
    """Free (non-bias) parameters of :class:`DWSLayer` per (input, output) channel pair."""
    widths = check_widths(widths)
    return sum(math.prod(widths[a] for a in t.free_in) * math.prod(widths[a] for a in t.free_out)
               for t in equivariant_terms(widths, blocks))


class DWSLayer(nn.Module):
    """An affine ``G``-equivariant map ``V^{c_in} -> V^{c_out}`` of weight spaces (Theorem 5.1 with App. B).

    ``blocks`` switches blocks off for the ablation of App. K.2 (e.g. ``("WW",)``
    keeps only the weight-to-weight block). Every term's map is initialised like an
    ``nn.Linear`` whose fan-in is everything that feeds the output tensor.
    """

    def __init__(self, widths: Sequence[int], in_channels: int, out_channels: int,
                 blocks: Iterable[str] = BLOCKS) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channels must be positive, got {in_channels} -> {out_channels}")
        self.widths = check_widths(widths)
        self.blocks = check_blocks(blocks)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.terms = equivariant_terms(self.widths, self.blocks)
        self.axes = tensor_axes(self.widths)
        size = lambda labels: math.prod(self.widths[a] for a in labels)  # noqa: E731
        fan_in = [0] * len(self.axes)
        for t in self.terms:
            fan_in[t.dst] += in_channels * size(t.free_in)
        self.maps = nn.ParameterList()
        for t in self.terms:
            bound = 1.0 / math.sqrt(fan_in[t.dst])
            weight = torch.empty(out_channels * size(t.free_out), in_channels * size(t.free_in))
            self.maps.append(nn.Parameter(weight.uniform_(-bound, bound)))
        self.bias = nn.ParameterList()
        for dst, out_axes in enumerate(self.axes):
            free = [a for a in out_axes if not _is_set(a, self.widths)]
            bound = 1.0 / math.sqrt(max(fan_in[dst], 1))
            self.bias.append(nn.Parameter(torch.empty(out_channels * size(free)).uniform_(-bound, bound)))

    def extra_repr(self) -> str:
        return (f"widths={self.widths}, channels={self.in_channels}->{self.out_channels}, "
                f"blocks={'+'.join(self.blocks)}, terms={len(self.terms)}")

    def _pool(self, x: Tensor, in_axes: tuple[int, ...], pooled: tuple[int, ...],
              free: tuple[int, ...]) -> tuple[Tensor, tuple[int, ...]]:
        """Average ``x`` over ``pooled`` axes and fold ``free`` axes into channels; return it and its set labels."""
        if pooled:
            x = x.mean(dim=[2 + in_axes.index(a) for a in pooled])
        left = [a for a in in_axes if a not in pooled]
        order = [a for a in left if a in free] + [a for a in left if a not in free]
        x = x.permute(0, 1, *[2 + left.index(a) for a in order])
        kept = tuple(a for a in order if a not in free)
        return x.reshape(x.shape[0], -1, *x.shape[2 + len(free):]), kept

    def _place(self, y: Tensor, kept: tuple[int, ...], free: tuple[int, ...], out_axes: tuple[int, ...]) -> Tensor:
        """``y`` ``[B, C_out * F, *kept]`` laid out on ``out_axes`` with size-1 axes where it broadcasts."""
        y = y.reshape(y.shape[0], self.out_channels, *[self.widths[a] for a in free], *y.shape[2:])
        current = list(free) + list(kept)
        present = [a for a in out_axes if a in current]
        y = y.permute(0, 1, *[2 + current.index(a) for a in present])
        return y.reshape(y.shape[0], self.out_channels,
                         *[self.widths[a] if a in current else 1 for a in out_axes])

    def forward(self, space: WeightSpace) -> WeightSpace:
        if space.widths != self.widths or space.channels != self.in_channels:
            raise ValueError(f"layer expects widths {self.widths} with {self.in_channels} channels; "
                             f"got {space.widths} with {space.channels}")
        inputs = space.tensors()
        batch = space.batch_size
        # terms that broadcast along the same output axes are summed at their small shape first
        partial: dict[tuple[int, tuple[int, ...]], Tensor] = {}
        pooled_cache: dict[tuple, tuple[Tensor, tuple[int, ...]]] = {}
        for term, weight in zip(self.terms, self.maps):
            key = (term.src, term.pooled)
            if key not in pooled_cache:
                pooled_cache[key] = self._pool(inputs[term.src], self.axes[term.src], term.pooled, term.free_in)
            x, kept = pooled_cache[key]
            x = x.permute(0, *range(2, x.dim()), 1)  # channels last for the linear map
            y = (x @ weight.T).permute(0, x.dim() - 1, *range(1, x.dim() - 1))
            y = self._place(y, kept, term.free_out, self.axes[term.dst])
            group = (term.dst, tuple(y.shape[2:]))
            partial[group] = y if group not in partial else partial[group] + y
        result = []
        for dst, out_axes in enumerate(self.axes):
            free = tuple(a for a in out_axes if not _is_set(a, self.widths))
            y = self._place(self.bias[dst].view(1, -1), (), free, out_axes)
            for (d, _), part in sorted(partial.items(), key=lambda kv: sum(kv[0][1])):
                if d == dst:
                    y = y + part
            result.append(y.expand(batch, self.out_channels, *[self.widths[a] for a in out_axes]))
        M = len(self.widths) - 1
        return WeightSpace(tuple(result[:M]), tuple(result[M:]))


def invariant_features(widths: Sequence[int]) -> int:
    """Features per channel of :class:`InvariantLayer`'s pooling (the orbits of Table 8)."""
    widths = check_widths(widths)
    return sum(math.prod(widths[a] for a in axes if not _is_set(a, widths)) for axes in tensor_axes(widths))


class InvariantLayer(nn.Module):
    """An affine ``G``-invariant map ``V^{c} -> R^{out}`` (Prop. 5.3).

    Each tensor is averaged over its set axes and keeps its free axes: ``W_1``
    keeps ``n_0``, ``W_M`` and ``b_M`` keep ``n_M``, hidden tensors pool to one
    value per channel. The pooled features are concatenated and mapped linearly.
    """

    def __init__(self, widths: Sequence[int], in_channels: int, out_features: int) -> None:
        super().__init__()
        self.widths = check_widths(widths)
        self.axes = tensor_axes(self.widths)
        self.in_channels = in_channels
        self.linear = nn.Linear(in_channels * invariant_features(self.widths), out_features)

    def pool(self, space: WeightSpace) -> Tensor:
        """``[B, C * invariant_features(widths)]``: the invariant pooled features."""
        feats = []
        for x, axes in zip(space.tensors(), self.axes):
            set_dims = [2 + i for i, a in enumerate(axes) if _is_set(a, self.widths)]
            feats.append((x.mean(dim=set_dims) if set_dims else x).flatten(1))
        return torch.cat(feats, dim=1)

    def forward(self, space: WeightSpace) -> Tensor:
        if space.widths != self.widths or space.channels != self.in_channels:
            raise ValueError(f"layer expects widths {self.widths} with {self.in_channels} channels; "
                             f"got {space.widths} with {space.channels}")
        return self.linear(self.pool(space))


class WSReLU(nn.Module):
    """Pointwise ReLU on every tensor (equivariant)."""

    def forward(self, space: WeightSpace) -> WeightSpace:
        return space.map(torch.relu)


class WSDropout(nn.Module):
    """Dropout on every entry (equivariant in distribution)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(p)

    def forward(self, space: WeightSpace) -> WeightSpace:
        return space.map(self.dropout)


class WSBatchNorm(nn.Module):
    """Batch normalisation per channel of each tensor, statistics over the batch and all entries (equivariant)."""

    def __init__(self, widths: Sequence[int], channels: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.BatchNorm1d(channels) for _ in tensor_axes(check_widths(widths)))

    def forward(self, space: WeightSpace) -> WeightSpace:
        out = [norm(x.flatten(2)).view_as(x) for norm, x in zip(self.norms, space.tensors())]
        M = space.num_layers
        return WeightSpace(tuple(out[:M]), tuple(out[M:]))


def character_dimension(widths: Sequence[int], blocks: Iterable[str] = BLOCKS) -> int:
    """``dim Hom_G(V, V)`` restricted to ``blocks``, by the character formula ``(1/|G|) sum_g tr(rho(g))^2`` (App. C).

    Brute force over every ``g in G`` (small widths only): ``tr(rho(g))`` on a tensor is
    the number of its entries ``g`` fixes, the product over its axes of the fixed
    points of ``tau_j`` (set axes) or ``n_j`` (free axes). An independent count to
    check :func:`parameters_per_channel_pair` against.
    """
    widths = check_widths(widths)
    blocks = check_blocks(blocks)
    if math.prod(math.factorial(n) for n in widths[1:-1]) > 100_000:
        raise ValueError(f"|G| is too large to enumerate for widths {widths}")
    axes = tensor_axes(widths)
    hidden = range(1, len(widths) - 1)
    total, count = 0, 0
    for g in itertools.product(*[itertools.permutations(range(widths[j])) for j in hidden]):
        fixed = {0: widths[0], len(widths) - 1: widths[-1]}
        fixed.update({j: sum(1 for i, p in enumerate(tau) if i == p) for j, tau in zip(hidden, g)})
        traces = [math.prod(fixed[a] for a in ax) for ax in axes]
        total += sum(traces[s] * traces[d] for s in range(len(axes)) for d in range(len(axes))
                     if _kind(s, widths) + _kind(d, widths) in blocks)
        count += 1
    return total // count
