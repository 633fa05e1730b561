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
from torch.autograd.function import once_differentiable

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


@dataclass(frozen=True)
class _Slot:
    """Where one tensor sits in a group's matrix ``[rows, B, columns]``: its rows, how it is read and written.

    The tensor ``[B, C, *axes]`` summed over ``pooled`` (its set axes of width above
    1 that the group does not keep; size 1 after), permuted by ``order``
    (channels, free axes, batch, kept axes, then the size-1 axes) and viewed as
    ``[*row_sizes, B, *column_sizes]`` is rows ``start:stop`` of the matrix
    (channels times free axes) by the batch and the columns (the kept axes, in the
    group's order). ``inverse`` undoes ``order``; ``scale`` is the mean's factor,
    ``1 / prod`` of the pooled widths. ``natural``: nothing is pooled and the
    tensor's own layout ``[B, C, *axes]`` is already ``[B, rows, columns]``.
    """

    tensor: int
    start: int
    stop: int
    pooled: tuple[int, ...]
    scale: float
    order: tuple[int, ...]
    inverse: tuple[int, ...]
    row_sizes: tuple[int, ...]
    column_sizes: tuple[int, ...]
    natural: bool


@dataclass(frozen=True)
class _Product:
    """One group's matrix product: ``sources`` read into ``[cols, B, columns]``, mapped, written to ``targets``.

    A product of ``columns`` per batch element (1 when the group keeps no axis),
    run as one matrix product over the batch. A ``direct`` group (one source and
    one target, both ``natural``: the W->W map of a hidden weight that keeps both of
    its axes) reads its input as it lies (``[B, cols, columns]``, a view) and adds
    its product into the output in place, as its backward adds the transposed
    product into the input's gradient (``baddbmm_``).
    """

    columns: int
    sources: tuple[_Slot, ...]
    targets: tuple[_Slot, ...]

    @property
    def direct(self) -> bool:
        return len(self.sources) == 1 and len(self.targets) == 1 and self.sources[0].natural and self.targets[0].natural


Reduction = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]  # (dims summed, the sum it starts from, dims it adds)


@dataclass(frozen=True)
class _Plan:
    """Everything :class:`_DWSFunction` needs besides the tensors, fixed when the layer is built.

    ``reads[i]``: the sums of input ``i`` its source slots take, each from the
    smallest sum already made (see :func:`_reductions`); ``grad_reads[d]``: the same
    for the gradient of output ``d``, its target slots and its bias (``bias_dims[d]``,
    the batch and every set axis). ``bias_shapes[d]`` views output ``d``'s bias on
    its axes; ``in_shapes`` / ``out_shapes`` are the tensors' shapes after the batch.
    """

    products: tuple[_Product, ...]
    reads: tuple[tuple[Reduction, ...], ...]
    grad_reads: tuple[tuple[Reduction, ...], ...]
    bias_dims: tuple[tuple[int, ...], ...]
    bias_shapes: tuple[tuple[int, ...], ...]
    in_shapes: tuple[tuple[int, ...], ...]
    out_shapes: tuple[tuple[int, ...], ...]


def _reductions(keys: Iterable[tuple[int, ...]], sizes: Sequence[int]) -> tuple[Reduction, ...]:
    """The order to sum a tensor of ``sizes`` over each of ``keys`` (sorted dims), each from the smallest sum made.

    A sum over ``(2, 3)`` starts from the sum over ``(2,)`` or ``(3,)`` where one is
    made (the one with fewer entries left), not from the tensor again.
    """
    made: list[tuple[int, ...]] = [()]
    steps = []
    for key in sorted(set(keys) - {()}, key=lambda k: (len(k), k)):
        base = max((m for m in made if set(m) <= set(key)), key=lambda m: math.prod(sizes[d] for d in m))
        steps.append((key, base, tuple(d for d in key if d not in base)))
        made.append(key)
    return tuple(steps)


def _reduce(x: Tensor, steps: tuple[Reduction, ...]) -> dict[tuple[int, ...], Tensor]:
    """``{dims: x summed over dims (kept as size 1)}`` for ``()`` and every key of ``steps`` (:func:`_reductions`)."""
    made = {(): x}
    for key, base, dims in steps:
        made[key] = made[base].sum(dims, keepdim=True)
    return made


def _matrix(slots: Sequence[_Slot], made: Sequence[dict[tuple[int, ...], Tensor]], batch: int, columns: int,
            scaled: bool) -> Tensor:
    """A group's input matrix: each slot's tensor summed (times its ``scale`` if ``scaled``) into its rows.

    Shape:
        ``[rows, B, columns]``.
    """
    first = made[slots[0].tensor][()]
    out = torch.empty(slots[-1].stop, batch, columns, dtype=first.dtype, device=first.device)
    for s in slots:
        block = out[s.start:s.stop].view(*s.row_sizes, batch, *s.column_sizes)
        source = made[s.tensor][s.pooled].permute(s.order)
        if scaled and s.scale != 1.0:
            torch.mul(source, s.scale, out=block)
        else:
            block.copy_(source)
    return out


def _place(y: Tensor, slot: _Slot, batch: int) -> Tensor:
    """Rows ``slot.start:slot.stop`` of ``y`` ``[rows, B, columns]`` on the axes of ``slot``'s tensor (size 1 where
    they broadcast): a view ``[B, C, *axes]``."""
    return y[slot.start:slot.stop].view(*slot.row_sizes, batch, *slot.column_sizes).permute(slot.inverse)


def _batched(w: Tensor, batch: int) -> Tensor:
    """``w`` ``[rows, cols]`` as a ``[B, rows, cols]`` batch of one matrix (a broadcast view, for ``bmm``)."""
    return w.expand(batch, *w.shape)


def _sum(shape: tuple[int, ...], parts: Sequence[Tensor], product: tuple[Tensor, Tensor] | None) -> Tensor:
    """``sum(parts)`` broadcast to ``shape`` plus ``w @ x[b]`` for every batch element (``product = (w, x)``).

    One new contiguous tensor: the parts that stay smaller than ``shape`` are summed
    first, the full-size ones added into one buffer, and the product accumulated
    into it by the matrix multiply itself (``baddbmm_``, no separate pass).

    Shape:
        ``product``'s ``x``: ``[B, cols, N]``, ``w``: ``[rows, cols]``, ``rows * N``
        the entries of ``shape`` per batch element.
    """
    total = math.prod(shape)
    small, rest = None, []
    for p in sorted(parts, key=Tensor.numel):
        joint = p.shape if small is None else [max(a, b) for a, b in zip(small.shape, p.shape)]  # same ranks
        if math.prod(joint) < total:
            small = p if small is None else small + p
        else:
            rest.append(p)
    like = product[1] if product is not None else parts[0]
    out = torch.empty(shape, dtype=like.dtype, device=like.device)
    if product is not None and small is None and not rest:
        w, x = product
        torch.bmm(_batched(w, shape[0]), x, out=out.view(shape[0], w.shape[0], -1))
        return out
    if not rest:
        out.copy_(small.expand(shape))
    elif small is None:
        out.copy_(rest[0])
    else:
        torch.add(rest[0], small, out=out)
    for p in rest[1:]:
        out.add_(p)
    if product is not None:
        w, x = product
        out.view(shape[0], w.shape[0], -1).baddbmm_(_batched(w, shape[0]), x)
    return out


class _DWSFunction(torch.autograd.Function):
    """The DWS layer as one autograd node: ``(plan, *inputs, *maps, *biases) -> outputs``.

    The forward runs every group's product (:class:`_Product`) and sums each
    output's parts once (:func:`_sum`). The backward is the adjoint layer: each
    output gradient summed over the axes its part was broadcast on (the adjoint of
    a broadcast), the transposed products, and the result broadcast back over the
    axes the input was averaged on, times the mean's factor (the adjoint of a mean);
    each map's gradient is ``G X^T`` of the product's output gradient ``G`` and
    input ``X``, summed over the batch and the columns. It saves only those inputs
    ``X`` (the input itself for a ``direct`` group) and the maps, never an output, so
    the outputs may be overwritten in place (the in-place ReLU after the layer).
    """

    @staticmethod
    def forward(ctx, plan: _Plan, *tensors: Tensor) -> tuple[Tensor, ...]:
        count, groups = len(plan.in_shapes), len(plan.products)
        inputs, maps, biases = tensors[:count], tensors[count:count + groups], tensors[count + groups:]
        batch = inputs[0].shape[0]
        made = [_reduce(x, steps) for x, steps in zip(inputs, plan.reads)]
        parts: list[list[Tensor]] = [[b.view(shape)] for b, shape in zip(biases, plan.bias_shapes)]
        fused: list[tuple[Tensor, Tensor] | None] = [None] * count
        matrices = []
        for product, w in zip(plan.products, maps):
            if product.direct:
                x = inputs[product.sources[0].tensor].reshape(batch, w.shape[1], product.columns)
                fused[product.targets[0].tensor] = (w, x)
            else:
                x = _matrix(product.sources, made, batch, product.columns, scaled=True)
                y = (w @ x.view(w.shape[1], -1)).view(w.shape[0], batch, product.columns)
                for slot in product.targets:
                    parts[slot.tensor].append(_place(y, slot, batch))
            matrices.append(x)
        ctx.plan = plan
        ctx.save_for_backward(*matrices, *maps)
        return tuple(_sum((batch, *shape), p, f) for shape, p, f in zip(plan.out_shapes, parts, fused))

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: Tensor) -> tuple[Tensor | None, ...]:
        plan: _Plan = ctx.plan
        count, groups = len(plan.in_shapes), len(plan.products)
        saved = ctx.saved_tensors
        matrices, maps = saved[:groups], saved[groups:]
        needs = ctx.needs_input_grad[1:]
        needs_input, needs_map, needs_bias = needs[:count], needs[count:count + groups], needs[count + groups:]
        batch = grads[0].shape[0]
        made = [_reduce(g, steps) for g, steps in zip(grads, plan.grad_reads)]
        parts: list[list[Tensor]] = [[] for _ in range(count)]
        fused: list[tuple[Tensor, Tensor] | None] = [None] * count
        map_grads: list[Tensor | None] = []
        for product, w, x, needed in zip(plan.products, maps, matrices, needs_map):
            rows, cols = w.shape
            if product.direct:
                g = grads[product.targets[0].tensor].reshape(batch, rows, product.columns)
                map_grads.append(torch.bmm(g, x.transpose(1, 2)).sum(0) if needed else None)
                if needs_input[product.sources[0].tensor]:
                    fused[product.sources[0].tensor] = (w.T, g)
                continue
            g = _matrix(product.targets, made, batch, product.columns, scaled=False).view(rows, -1)
            map_grads.append(g @ x.view(cols, -1).T if needed else None)
            if not any(needs_input[s.tensor] for s in product.sources):
                continue
            h = (w.T @ g).view(cols, batch, product.columns)
            for slot in product.sources:
                if needs_input[slot.tensor]:
                    part = _place(h, slot, batch)
                    parts[slot.tensor].append(part * slot.scale if slot.scale != 1.0 else part)
        input_grads = [_sum((batch, *shape), p, f) if needed and (p or f is not None) else None  # None: unread
                       for shape, p, f, needed in zip(plan.in_shapes, parts, fused, needs_input)]
        bias_grads = [m[dims].reshape(-1) if needed else None
                      for m, dims, needed in zip(made, plan.bias_dims, needs_bias)]
        return (None, *input_grads, *map_grads, *bias_grads)


class DWSLayer(nn.Module):
    """An affine ``G``-equivariant map ``V^{c_in} -> V^{c_out}`` of weight spaces (Theorem 5.1 with App. B).

    ``blocks`` switches blocks off for the ablation of App. K.2 (e.g. ``("WW",)``
    keeps only the weight-to-weight block). Every term's map is initialised like an
    ``nn.Linear`` whose fan-in is everything that feeds the output tensor. The
    terms run as one matrix product per group of :func:`product_groups`:
    ``maps[k]`` is group ``k``'s block matrix (rows: its targets, columns: its
    sources), :meth:`term_maps` gives each term's block, and every output tensor
    is contiguous. The whole layer is one autograd node (its backward is the
    adjoint layer, see :class:`_DWSFunction`); its layout is fixed at construction.

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
        self._plan = self._make_plan()

    def extra_repr(self) -> str:
        return (f"widths={self.widths}, channels={self.in_channels}->{self.out_channels}, "
                f"blocks={'+'.join(self.blocks)}, terms={len(self.terms)}, products={len(self.groups)}")

    def _size(self, labels: Iterable[int]) -> int:
        return math.prod(self.widths[a] for a in labels)

    def _free(self, index: int) -> tuple[int, ...]:
        return tuple(a for a in self.axes[index] if not _is_set(a, self.widths))

    def _slot(self, index: int, kept: tuple[int, ...], channels: int, start: int) -> _Slot:
        """Tensor ``index`` (``channels`` channels) in a group keeping ``kept``, from row ``start``."""
        axes = self.axes[index]
        dim = {a: 2 + i for i, a in enumerate(axes)}
        free = [a for a in axes if not _is_set(a, self.widths)]
        rest = [a for a in axes if a not in free and a not in kept]
        pooled = tuple(dim[a] for a in rest if self.widths[a] > 1)
        order = (1, *[dim[a] for a in free], 0, *[dim[a] for a in list(kept) + rest])
        inverse = tuple(order.index(d) for d in range(len(order)))
        natural = not pooled and [dim[a] for a in free + list(kept) + rest] == sorted(dim.values())
        return _Slot(index, start, start + channels * self._size(free), pooled,
                     1.0 / math.prod(self.widths[a] for a in rest), order, inverse,
                     (channels, *[self.widths[a] for a in free]), (*[self.widths[a] for a in kept], *[1] * len(rest)),
                     natural)

    def _make_plan(self) -> _Plan:
        """The :class:`_Plan` of this layer's widths, blocks and channels."""
        products = []
        for g in self.groups:
            slots = []
            for indices, channels in ((g.sources, self.in_channels), (g.targets, self.out_channels)):
                start, row = 0, []
                for index in indices:
                    row.append(self._slot(index, g.kept, channels, start))
                    start = row[-1].stop
                slots.append(tuple(row))
            products.append(_Product(self._size(g.kept), *slots))
        in_shapes = tuple((self.in_channels, *[self.widths[a] for a in axes]) for axes in self.axes)
        out_shapes = tuple((self.out_channels, *[self.widths[a] for a in axes]) for axes in self.axes)
        bias_dims = tuple((0, *[2 + i for i, a in enumerate(axes) if _is_set(a, self.widths) and self.widths[a] > 1])
                          for axes in self.axes)
        bias_shapes = tuple((1, self.out_channels, *[1 if _is_set(a, self.widths) else self.widths[a] for a in axes])
                            for axes in self.axes)
        reads = tuple(_reductions([s.pooled for p in products for s in p.sources if s.tensor == i], (1, *shape))
                      for i, shape in enumerate(in_shapes))
        grad_reads = tuple(_reductions([s.pooled for p in products for s in p.targets if s.tensor == d] + [bias_dims[d]],
                                       (1, *shape)) for d, shape in enumerate(out_shapes))
        return _Plan(tuple(products), reads, grad_reads, bias_dims, bias_shapes, in_shapes, out_shapes)

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
        return WeightSpace.from_tensors(_DWSFunction.apply(self._plan, *space.tensors(), *self.maps, *self.bias))


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


class _BatchNormFunction(torch.autograd.Function):
    """Batch normalisation of several tensors with their batch statistics, as one autograd node.

    Tensor ``i`` ``[B, C, ...]`` is normalised per channel over the batch and its
    entries, as ``nn.BatchNorm1d`` in training: ``y = x * a + s`` with
    ``a = w / sqrt(var + eps)`` and ``s = b - mean * a`` (``var`` biased). Where
    ``stats[i]`` is ``(running_mean, running_var, factor)`` they move towards the
    batch mean and unbiased variance by ``factor``. The backward reads only the
    inputs and the statistics, so the outputs may be overwritten in place (the
    in-place ReLU after it); every output and input gradient is one new tensor
    that also serves as the scratch buffer of its reductions.
    """

    @staticmethod
    def forward(ctx, eps: tuple[float, ...], stats: tuple[tuple[Tensor, Tensor, float] | None, ...],
                *tensors: Tensor) -> tuple[Tensor, ...]:
        count = len(eps)
        xs, weights, biases = tensors[:count], tensors[count:2 * count], tensors[2 * count:]
        outs, means, invstds = [], [], []
        for x, w, b, e, stat in zip(xs, weights, biases, eps, stats):
            flat = x.reshape(x.shape[0], x.shape[1], -1)
            n = flat.shape[0] * flat.shape[2]
            if n == 1:
                raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
            y = torch.empty(x.shape, dtype=x.dtype, device=x.device)
            out = y.view(flat.shape)
            mean = flat.sum((0, 2)) / n
            var = torch.sub(flat, mean.view(1, -1, 1), out=out).square_().sum((0, 2)) / n
            invstd = (var + e).rsqrt()
            scale = w * invstd
            torch.mul(flat, scale.view(1, -1, 1), out=out).add_((b - mean * scale).view(1, -1, 1))
            if stat is not None:
                running_mean, running_var, factor = stat
                running_mean.mul_(1 - factor).add_(mean, alpha=factor)
                running_var.mul_(1 - factor).add_(var * (n / (n - 1)), alpha=factor)
            outs.append(y)
            means.append(mean)
            invstds.append(invstd)
        ctx.save_for_backward(*xs, *weights, *means, *invstds)
        return tuple(outs)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: Tensor) -> tuple[Tensor | None, ...]:
        count = len(grads)
        saved = ctx.saved_tensors
        xs, weights, means, invstds = (saved[i * count:(i + 1) * count] for i in range(4))
        needs = ctx.needs_input_grad[2:]
        input_grads, weight_grads, bias_grads = [], [], []
        for i, (x, w, mean, invstd, grad) in enumerate(zip(xs, weights, means, invstds, grads)):
            flat = x.reshape(x.shape[0], x.shape[1], -1)
            dy = grad.reshape(flat.shape)
            n = flat.shape[0] * flat.shape[2]
            sum_dy = dy.sum((0, 2))
            dx = torch.empty(x.shape, dtype=x.dtype, device=x.device)
            buf = dx.view(flat.shape)
            dot = torch.sub(flat, mean.view(1, -1, 1), out=buf).mul_(dy).sum((0, 2))  # sum(dy * (x - mean))
            a, k = w * invstd, dot * invstd * invstd / n
            # dx = a * (dy - mean(dy) - (x - mean) * k)
            torch.mul(flat, (-a * k).view(1, -1, 1), out=buf).addcmul_(dy, a.view(1, -1, 1))
            buf.add_((a * (k * mean - sum_dy / n)).view(1, -1, 1))
            input_grads.append(dx if needs[i] else None)
            weight_grads.append(dot * invstd if needs[count + i] else None)
            bias_grads.append(sum_dy if needs[2 * count + i] else None)
        return (None, None, *input_grads, *weight_grads, *bias_grads)


class WSBatchNorm(nn.Module):
    """Batch normalisation per channel of each tensor, statistics over the batch and all entries (equivariant).

    One ``nn.BatchNorm1d`` per tensor holds its parameters and running statistics.
    In training (or without running statistics) every tensor is normalised in one
    autograd node (:class:`_BatchNormFunction`), each output a new contiguous
    tensor; in evaluation each ``nn.BatchNorm1d`` applies its running statistics.

    Shape:
        input and output: a :class:`WeightSpace` of ``widths`` with ``channels`` channels.
    """

    def __init__(self, widths: Sequence[int], channels: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.BatchNorm1d(channels) for _ in tensor_axes(check_widths(widths)))

    def _stats(self, norm: nn.BatchNorm1d) -> tuple[Tensor, Tensor, float] | None:
        """``norm``'s running statistics and this step's factor (as ``nn.BatchNorm1d``), if they are updated."""
        if not (self.training and norm.track_running_stats):
            return None
        norm.num_batches_tracked.add_(1)
        factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
        return norm.running_mean, norm.running_var, factor

    def forward(self, space: WeightSpace) -> WeightSpace:
        tensors = space.tensors()
        if not self.training and all(norm.track_running_stats for norm in self.norms):
            out = [norm(x.flatten(2)).view_as(x) for norm, x in zip(self.norms, tensors)]
        else:
            out = _BatchNormFunction.apply(tuple(norm.eps for norm in self.norms),
                                           tuple(self._stats(norm) for norm in self.norms), *tensors,
                                           *[norm.weight for norm in self.norms], *[norm.bias for norm in self.norms])
        return WeightSpace.from_tensors(out)


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
