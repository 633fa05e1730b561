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


@dataclass(frozen=True)
class _Group:
    """Terms that share one matrix product: every source pooled to ``kept``, concatenated on channels, one map.

    ``kept`` are the set axes of width above 1 that the terms keep (descending
    labels); ``blocks[t][s]`` is the index in :func:`equivariant_terms` of the term
    from ``sources[s]`` to ``targets[t]``.
    """

    kept: tuple[int, ...]
    sources: tuple[int, ...]
    targets: tuple[int, ...]
    blocks: tuple[tuple[int, ...], ...]


def _mean(x: Tensor, dims: int | list[int], keepdim: bool = True) -> Tensor:
    """``x.mean(dims, keepdim)`` as a sum times ``1/n``: its backward is a broadcast view, not a new tensor."""
    count = math.prod(x.shape[d] for d in ([dims] if isinstance(dims, int) else dims))
    return x.sum(dims, keepdim=keepdim) * (1.0 / count)


def product_groups(widths: Sequence[int], blocks: Iterable[str] = BLOCKS) -> list[_Group]:
    """The terms of :func:`equivariant_terms` grouped into one matrix product per kept axes (and source set).

    A term reads its source averaged over every set axis it does not keep and
    writes its target broadcast over them, so terms that keep the same axes read and
    write at one shape: their maps stacked block-wise (rows: targets, columns:
    sources) form one product. A width-1 axis is kept and pooled at once (size 1),
    so it does not split a group. Every target in the kept axes' reach takes every
    source there (the choice of kept axes is free per pair), so the block matrix
    is dense; where ``blocks`` drops a kind of pair, targets with different sources
    get separate products. At 2-32-32-1 the 55 terms are 4 products.
    """
    widths = check_widths(widths)
    terms = equivariant_terms(widths, blocks)
    index, by_kept = {}, {}
    for i, t in enumerate(terms):
        kept = tuple(sorted((a for a in t.kept if widths[a] > 1), reverse=True))
        index[t.src, t.dst, kept] = i
        by_kept.setdefault(kept, {}).setdefault(t.dst, []).append(t.src)
    groups = []
    for kept, sources in by_kept.items():
        by_sources: dict[tuple[int, ...], list[int]] = {}
        for dst, srcs in sorted(sources.items()):
            by_sources.setdefault(tuple(sorted(srcs)), []).append(dst)
        for srcs, dsts in by_sources.items():
            groups.append(_Group(kept, srcs, tuple(dsts), tuple(tuple(index[s, d, kept] for s in srcs) for d in dsts)))
    return groups


class _BroadcastSum(torch.autograd.Function):
    """``sum(parts)`` broadcast to ``shape``, as one new contiguous tensor; the backward reduces once per shape.

    The forward sums the parts that stay smaller than ``shape`` first, then adds the
    rest into one preallocated output (one pass over it per full-size addend). The
    backward reduces the output gradient to each part's shape from the smallest
    reduction already made (``[B, C, n, n']`` -> ``[B, C, n, 1]`` -> ``[B, C, 1, 1]``
    -> ``[1, C, 1, 1]``), not from the full gradient each time.
    """

    @staticmethod
    def forward(ctx, shape: tuple[int, ...], *parts: Tensor) -> Tensor:
        ctx.shapes = [p.shape for p in parts]
        order = sorted(parts, key=Tensor.numel)
        small, rest = None, []
        for p in order:
            joint = p.shape if small is None else torch.broadcast_shapes(small.shape, p.shape)
            if math.prod(joint) < math.prod(shape):
                small = p if small is None else small + p
            else:
                rest.append(p)
        out = torch.empty(shape, dtype=parts[0].dtype, device=parts[0].device)
        if not rest:
            return out.copy_(small.expand(shape))
        if small is None:
            out.copy_(rest[0])
        else:
            torch.add(rest[0], small, out=out)
        for p in rest[1:]:
            out.add_(p)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        made = {tuple(grad.shape): grad}
        grads: dict[int, Tensor] = {}
        for i in sorted(range(len(ctx.shapes)), key=lambda i: -math.prod(ctx.shapes[i])):
            want = tuple(ctx.shapes[i])
            if want not in made:
                fits = [g for g in made.values() if all(w in (1, h) for w, h in zip(want, g.shape))]
                src = min(fits, key=Tensor.numel)
                made[want] = src.sum([d for d, (w, h) in enumerate(zip(want, src.shape)) if w != h], keepdim=True)
            grads[i] = made[want]
        return (None, *[grads[i] for i in range(len(ctx.shapes))])


class DWSLayer(nn.Module):
    """An affine ``G``-equivariant map ``V^{c_in} -> V^{c_out}`` of weight spaces (Theorem 5.1 with App. B).

    ``blocks`` switches blocks off for the ablation of App. K.2 (e.g. ``("WW",)``
    keeps only the weight-to-weight block). Every term's map is initialised like an
    ``nn.Linear`` whose fan-in is everything that feeds the output tensor. The
    terms run as one matrix product per group of :func:`product_groups`:
    ``maps[k]`` is group ``k``'s block matrix (rows: its targets, columns: its
    sources), :meth:`term_maps` gives each term's block, and every output tensor
    is contiguous.

    Shape:
        input: a :class:`WeightSpace` of ``widths`` with ``in_channels`` channels
        (``W_m`` ``[B, c_in, n_m, n_{m-1}]``, ``b_m`` ``[B, c_in, n_m]``); output: the
        same widths with ``out_channels`` channels.

    Example:
        >>> layer = DWSLayer((2, 32, 32, 1), 1, 16)
        >>> layer(WeightSpace.randn((2, 32, 32, 1), batch=4)).weights[1].shape
        torch.Size([4, 16, 32, 32])
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
        self.groups = product_groups(self.widths, self.blocks)
        self.axes = tensor_axes(self.widths)
        fan_in = [0] * len(self.axes)
        for t in self.terms:
            fan_in[t.dst] += in_channels * self._size(t.free_in)
        term_maps = []
        for t in self.terms:
            bound = 1.0 / math.sqrt(fan_in[t.dst])
            weight = torch.empty(out_channels * self._size(t.free_out), in_channels * self._size(t.free_in))
            term_maps.append(weight.uniform_(-bound, bound))
        self.maps = nn.ParameterList(
            nn.Parameter(torch.cat([torch.cat([term_maps[i] for i in row], dim=1) for row in g.blocks]))
            for g in self.groups)
        self.bias = nn.ParameterList()
        for dst, out_axes in enumerate(self.axes):
            bound = 1.0 / math.sqrt(max(fan_in[dst], 1))
            size = out_channels * self._size(self._free(dst))
            self.bias.append(nn.Parameter(torch.empty(size).uniform_(-bound, bound)))

    def extra_repr(self) -> str:
        return (f"widths={self.widths}, channels={self.in_channels}->{self.out_channels}, "
                f"blocks={'+'.join(self.blocks)}, terms={len(self.terms)}, products={len(self.groups)}")

    def _size(self, labels: Iterable[int]) -> int:
        return math.prod(self.widths[a] for a in labels)

    def _free(self, index: int) -> tuple[int, ...]:
        return tuple(a for a in self.axes[index] if not _is_set(a, self.widths))

    def _read(self, x: Tensor, src: int, kept: tuple[int, ...], means: dict[tuple[int, int], Tensor]) -> Tensor:
        """``x`` (tensor ``src``) averaged over its set axes not in ``kept``, free axes folded into channels.

        Returns ``[B, C * F, prod(kept)]`` (``[B, C * F]`` when nothing is kept). A
        tensor averaged over both of its set axes reuses its mean over the first
        (``means``, keyed by (tensor, first axis averaged)).
        """
        axes = self.axes[src]
        pooled = [a for a in axes if _is_set(a, self.widths) and self.widths[a] > 1 and a not in kept]
        if pooled:
            key = (src, pooled[0])
            if key not in means:
                means[key] = _mean(x, 2 + axes.index(pooled[0]))
            x = _mean(means[key], 2 + axes.index(pooled[1])) if len(pooled) == 2 else means[key]
        order = [a for a in axes if not _is_set(a, self.widths)] + list(kept)
        rest = [a for a in axes if a not in order]  # pooled or width-1 axes: size 1 here
        x = x.permute(0, 1, *[2 + axes.index(a) for a in order + rest])
        return x.reshape(x.shape[0], -1, self._size(kept)) if kept else x.reshape(x.shape[0], -1)

    def _place(self, y: Tensor, dst: int, kept: tuple[int, ...]) -> Tensor:
        """``y`` ``[B, C_out * F, prod(kept)]`` (or ``[B, C_out * F]``) on the axes of tensor ``dst``, size 1 elsewhere."""
        free, out_axes = self._free(dst), self.axes[dst]
        y = y.reshape(y.shape[0], self.out_channels, *[self.widths[a] for a in free + kept])
        current = list(free + kept)
        present = [a for a in out_axes if a in current]
        y = y.permute(0, 1, *[2 + current.index(a) for a in present])
        return y.reshape(y.shape[0], self.out_channels, *[self.widths[a] if a in current else 1 for a in out_axes])

    def term_maps(self) -> list[Tensor]:
        """Each term's map ``[C_out F_out, C_in F_in]`` (in :attr:`terms` order), a view of its block in :attr:`maps`."""
        found: dict[int, Tensor] = {}
        for group, weight in zip(self.groups, self.maps):
            rows = [self.out_channels * self._size(self._free(t)) for t in group.targets]
            cols = [self.in_channels * self._size(self._free(s)) for s in group.sources]
            for row, band in zip(group.blocks, weight.split(rows, dim=0)):
                found.update(zip(row, band.split(cols, dim=1)))
        return [found[i] for i in range(len(self.terms))]

    def forward(self, space: WeightSpace) -> WeightSpace:
        if space.widths != self.widths or space.channels != self.in_channels:
            raise ValueError(f"layer expects widths {self.widths} with {self.in_channels} channels; "
                             f"got {space.widths} with {space.channels}")
        inputs = space.tensors()
        batch = space.batch_size
        means: dict[tuple[int, int], Tensor] = {}
        parts: list[list[Tensor]] = [[] for _ in self.axes]
        for group, weight in zip(self.groups, self.maps):
            xs = [self._read(inputs[s], s, group.kept, means) for s in group.sources]
            x = torch.cat(xs, dim=1) if len(xs) > 1 else xs[0]
            y = torch.bmm(weight.expand(x.shape[0], *weight.shape), x) if group.kept else x @ weight.T
            rows = [self.out_channels * self._size(self._free(t)) for t in group.targets]
            for dst, part in zip(group.targets, y.split(rows, dim=1)):
                parts[dst].append(self._place(part, dst, group.kept))
        result = []
        for dst, out_axes in enumerate(self.axes):
            full = (batch, self.out_channels, *[self.widths[a] for a in out_axes])
            result.append(_BroadcastSum.apply(full, self._place(self.bias[dst].view(1, -1), dst, ()), *parts[dst]))
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
            feats.append((_mean(x, set_dims, keepdim=False) if set_dims else x).flatten(1))
        return torch.cat(feats, dim=1)

    def forward(self, space: WeightSpace) -> Tensor:
        if space.widths != self.widths or space.channels != self.in_channels:
            raise ValueError(f"layer expects widths {self.widths} with {self.in_channels} channels; "
                             f"got {space.widths} with {space.channels}")
        return self.linear(self.pool(space))


class WSReLU(nn.Module):
    """Pointwise ReLU on every tensor (equivariant); ``inplace`` overwrites the input (as ``nn.ReLU``)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, space: WeightSpace) -> WeightSpace:
        return space.map(torch.relu_ if self.inplace else torch.relu)


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
