"""Permutation smoothness (Section 3.3, Fig. 2, Fig. 7, Appendix D).

A greedy nearest-neighbour path through a layer's kernels approximates the
minimum-weight Hamiltonian path of eq. 6's distances: start at kernel 0, then
repeatedly go to the closest kernel not yet visited. The distance is the cosine
distance ``1 - cos(u, v)`` between flattened kernels (eq. 6; a zero kernel has
cosine 0 with every kernel). For 1x1 kernels (the option-B shortcuts) the cosine
of one-element vectors is only the product of their signs, so by default they use
the squared difference ``(u - v)^2`` instead (``one_by_one="squared"``);
``one_by_one="cosine"`` is the authors' code, which applies the cosine to 1x1
kernels too.

The result is an *order*: ``order[j]`` is the flat index ``f * C + c`` of the
original kernel that coordinate ``j`` predicts. The network's weights never
move; only the coordinate that predicts each kernel changes.

- cross-filter: one path over all ``F * C`` kernels of the layer (Fig. 7);
- in-filter: a path over the ``C`` kernels inside each filter, then a path over
  the filters, their distance being the sum of the kernel distances between the
  channel-ordered filters (Fig. 2). Every kernel stays in its filter.

Ties. The nearest kernel is decided in exact arithmetic on the float32 weights,
and among kernels at exactly equal distance the lowest index wins (so ``v``,
``3 v`` and ``5 v`` are all at cosine distance 0 from each other and are visited in
index order, although their float32 cosines round apart). Each step scores the
unvisited kernels in floating point with a rigorous error bound; only when a
second kernel scores within twice that bound of the best are the candidates
compared exactly (rationals: the cosine's sign times its square, or the squared
difference). Filters of the in-filter path compare sums of cosines, which are
irrational: those near-ties are decided on the sums computed to
``FILTER_DIGITS`` significant digits (identical filters always tie exactly).
The orders therefore do not depend on the BLAS, the thread count or the machine.

Cost: there is no distance matrix (memory is linear in the number of kernels). A
walk keeps only its unvisited kernels, compacted in a ``(d, m)`` block, and spends
one matrix-vector product per step; walks of one kind (distance and kernel size)
go together (:func:`orders`): a shorter one joins once the longer have as many
kernels left as it has, and each step is one batched product.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import torch

MODES = ("none", "in", "cross")
ONE_BY_ONE = ("squared", "cosine")  # distance between 1x1 kernels: ours (default), the authors' code
FILTER_DIGITS = 50  # precision of the exact comparison of in-filter filter distances (sums of cosines)
_TORCH_SCORES = 1 << 15  # score blocks larger than this run through torch (its thread setting; no BLAS threads)

Key = Callable[[np.ndarray, np.ndarray], object]  # (query, candidate) raw points -> exact score (larger is closer)


def _check_one_by_one(one_by_one: str) -> None:
    if one_by_one not in ONE_BY_ONE:
        raise ValueError(f"one_by_one = {one_by_one!r}: choose one of {', '.join(ONE_BY_ONE)}")


def _distance(kernel_size: int, one_by_one: str) -> str:
    """The kernel distance for ``kernel_size`` x ``kernel_size`` kernels: ``cosine`` or ``squared``."""
    _check_one_by_one(one_by_one)
    return "squared" if kernel_size == 1 and one_by_one == "squared" else "cosine"


def _unit(points: np.ndarray, group: int) -> np.ndarray:
    """``points`` (..., d) with every run of ``group`` coordinates scaled to unit norm (zeros stay zero), float64."""
    p = points.astype(np.float64).reshape(*points.shape[:-1], -1, group)
    norm = np.sqrt((p * p).sum(-1, keepdims=True))
    return np.divide(p, norm, out=np.zeros_like(p), where=norm > 0).reshape(points.shape)


def _cosine_key(q: np.ndarray, x: np.ndarray) -> Fraction:
    """``|q|^2 cos(q, x) |cos(q, x)|`` exactly: increasing in the cosine; 0 for a zero kernel."""
    dot = sum(Fraction(a) * Fraction(b) for a, b in zip(q.tolist(), x.tolist()))
    norm2 = sum(Fraction(b) ** 2 for b in x.tolist())
    return dot * abs(dot) / norm2 if norm2 else Fraction(0)


def _squared_key(q: np.ndarray, x: np.ndarray) -> Fraction:
    """``-|q - x|^2`` exactly."""
    return -sum((Fraction(a) - Fraction(b)) ** 2 for a, b in zip(q.tolist(), x.tolist()))


def _cosine_sum_key(group: int) -> Key:
    """The sum over runs of ``group`` coordinates of their cosines, to ``FILTER_DIGITS`` digits."""
    def key(q: np.ndarray, x: np.ndarray) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = FILTER_DIGITS
            total = Decimal(0)
            for i in range(0, q.size, group):
                a, b = q[i:i + group].tolist(), x[i:i + group].tolist()
                dot = sum(Fraction(u) * Fraction(v) for u, v in zip(a, b))
                norms = sum(Fraction(u) ** 2 for u in a) * sum(Fraction(v) ** 2 for v in b)
                if norms:
                    total += (Decimal(dot.numerator) / Decimal(dot.denominator)) / (
                        Decimal(norms.numerator) / Decimal(norms.denominator)).sqrt()
            return total
    return key


class _Walk:
    """The scoring of one greedy path: larger scores are closer.

    Scores are ``query . column`` over a block of columns, one column per point:
    ``cosine`` stores unit vectors (score = cosine, or the sum of the cosines of
    runs of ``group`` coordinates); ``squared`` stores ``[x, |x|^2]`` and queries with
    ``[2 q, -1]`` (score = ``|q|^2 - |q - x|^2``). ``tol`` bounds the rounding error
    of a score; ``key`` is the exact score that decides candidates within ``2 tol``.
    """

    def __init__(self, raw: np.ndarray, distance: str, group: int, dtype: type) -> None:
        self.raw = raw                                            # (B, n, d) float32 weights
        d = raw.shape[-1]
        if distance == "squared":
            dtype = np.float64  # |q|^2 - |q - x|^2 cancels: neighbours' differences need float64 to be resolved
            sq = (raw.astype(np.float64) ** 2).sum(-1, keepdims=True)
            cols = np.concatenate((raw.astype(np.float64), sq), -1)
            self.scale = np.r_[np.full(d, 2.0), 0.0]
            self.shift = np.r_[np.zeros(d), -1.0]
            bound = 3 * float(sq.max(initial=0.0))                # sum of |terms| <= 2 |q||x| + |x|^2
            self.key: Key = _squared_key
            self.exact = False
        else:
            cols = _unit(raw, group)
            self.scale, self.shift = np.ones(d), np.zeros(d)
            bound = d / group                                     # a sum of d / group cosines
            self.key = _cosine_key if group == d else _cosine_sum_key(group)
            self.exact = group == 1                               # 1x1 cosines are signs: exact small integers
        self.cols = np.ascontiguousarray(np.swapaxes(cols, 1, 2), dtype=dtype)  # (B, D, n)
        self.scale, self.shift = self.scale.astype(dtype), self.shift.astype(dtype)
        self.cosine = distance == "cosine"
        self.kind = (distance, group, self.cols.shape[1], np.dtype(dtype).str)  # walks of one kind go together
        unit = np.finfo(dtype).eps / 2
        self.tol = 0.0 if self.exact else 8 * unit * (self.cols.shape[1] + 2) * bound


def _scores(q: np.ndarray, block: np.ndarray) -> np.ndarray:
    """``q`` (B, D) times ``block`` (B, D, m): (B, m)."""
    if block.size > _TORCH_SCORES:
        if len(q) == 1:  # a matrix-vector product
            return (torch.from_numpy(q[0]) @ torch.from_numpy(block[0])).numpy()[None]
        return torch.matmul(torch.from_numpy(q).unsqueeze(1), torch.from_numpy(block)).squeeze(1).numpy()
    return np.matmul(q[:, None, :], block)[:, 0, :]


def _resolve(walk: _Walk, b: int, query: int, s: np.ndarray, best: float, ids: np.ndarray) -> int:
    """The position, among the unvisited ``ids``, of the exactly closest point of problem ``b`` (lowest id on ties)."""
    cands = np.flatnonzero(s >= best - 2 * walk.tol)
    q = walk.raw[b, query]
    if walk.exact or (walk.cosine and not q.any()):   # exact scores, or a zero kernel: cosine 0 to all
        return int(cands[np.argmin(ids[cands])])
    keyed = [(walk.key(q, walk.raw[b, ids[p]]), -ids[p], p) for p in cands.tolist()]
    return max(keyed)[2]


def _greedy(walks: Sequence[_Walk]) -> list[np.ndarray]:
    """The greedy paths from point 0 of every problem of ``walks`` (of one kind): a (B, n) visiting order each.

    The problems are walked together, each joining once the largest have as many points
    left as it has after its first step, so that all advance through equally long blocks,
    one batched product per step.
    """
    paths = [np.zeros((w.cols.shape[0], w.cols.shape[2]), dtype=np.int64) for w in walks]
    walk = walks[0]
    size = np.concatenate([np.full(w.cols.shape[0], w.cols.shape[2]) for w in walks])
    owner = [(w, b) for w in walks for b in range(w.cols.shape[0])]  # the problem of each row
    path = np.zeros((len(size), int(size.max())), dtype=np.int64)
    joining = sorted(range(len(size)), key=lambda r: -size[r])
    cols = np.empty((0, walk.cols.shape[1], path.shape[1]), dtype=walk.cols.dtype)
    ids = np.empty((0, path.shape[1]), dtype=np.int64)
    q = np.empty((0, walk.cols.shape[1]), dtype=walk.cols.dtype)
    member = np.empty(0, dtype=np.int64)        # the rows walking: cols[i], ids[i] are those of row member[i]
    tol = np.empty(0)
    current = np.empty(0, dtype=np.int64)       # the last visited point of each row walking
    for m in range(int(size.max()) - 1, 0, -1):
        new = []
        while joining and size[joining[0]] - 1 == m:
            new.append(joining.pop(0))
        if new:  # rows with m + 1 points start: point 0 visited, the last point in its place
            start = np.stack([owner[r][0].cols[owner[r][1]] for r in new])
            q = np.concatenate((q, start[:, :, 0] * walk.scale + walk.shift))  # cosine: scale 1, shift 0
            start[:, :, 0] = start[:, :, m]
            cols = np.concatenate((cols[:, :, :m], start[:, :, :m]))
            ids = np.concatenate((ids[:, :m], np.tile(np.r_[m, 1:m], (len(new), 1))))
            member = np.r_[member, new]
            tol = np.r_[tol, [owner[r][0].tol for r in new]]
            current = np.r_[current, np.zeros(len(new), dtype=np.int64)]
            rows, ends = np.arange(len(member)), size[member]
        s = _scores(q, cols[:, :, :m])
        pos = s.argmax(1)
        if m > 1:
            top = s[rows, pos]
            s[rows, pos] = -math.inf
            for i in np.flatnonzero(s.max(1) >= top - 2 * tol):
                s[i, pos[i]] = top[i]
                w, b = owner[member[i]]
                pos[i] = _resolve(w, b, int(current[i]), s[i], float(top[i]), ids[i, :m])
        current = ids[rows, pos]
        path[member, ends - m] = current
        q = cols[rows, :, pos] if walk.cosine else cols[rows, :, pos] * walk.scale + walk.shift
        cols[rows, :, pos], ids[rows, pos] = cols[:, :, m - 1], ids[:, m - 1]
    for r, (w, b) in enumerate(owner):
        paths[walks.index(w)][b] = path[r, :size[r]]
    return paths


def _together(walks: Sequence[_Walk]) -> list[np.ndarray]:
    """:func:`_greedy` on ``walks`` of any kinds, those of one kind together."""
    kinds: dict[tuple, list[int]] = {}
    for i, w in enumerate(walks):
        kinds.setdefault(w.kind, []).append(i)
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(walks)
    for members in kinds.values():
        for i, path in zip(members, _greedy([walks[i] for i in members]), strict=True):
            out[i] = path
    return out


def greedy_path(points: torch.Tensor, distance: str = "cosine") -> torch.Tensor:
    """Greedy nearest-neighbour paths from index 0 through ``points`` (B, n, d): (B, n) visiting orders.

    ``distance`` is ``cosine`` (``1 - cos``) or ``squared`` (``|u - v|^2``); all ``B``
    problems advance together, and ties in exact arithmetic go to the lowest index.
    """
    if points.dim() != 3:
        raise ValueError(f"expected points of shape (batch, n, d), got {tuple(points.shape)}")
    if distance not in ("cosine", "squared"):
        raise ValueError(f"distance = {distance!r}: choose cosine or squared")
    raw = points.detach().cpu().to(torch.float32).numpy()
    return torch.from_numpy(_greedy([_Walk(raw, distance, raw.shape[-1], np.float32)])[0]).to(points.device)


def _kernels(weights: Sequence[torch.Tensor]) -> np.ndarray:
    """The kernels of equally shaped conv weights (F, C, k, k) as float32 (L, F, C, k*k)."""
    return np.stack([w.detach().cpu().to(torch.float32).reshape(*w.shape[:2], -1).numpy() for w in weights])


def _shapes(weights: Sequence[torch.Tensor]) -> list[list[int]]:
    """The indices of ``weights`` grouped by shape."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, w in enumerate(weights):
        groups.setdefault(tuple(w.shape), []).append(i)
    return list(groups.values())


def _cross(weights: Sequence[torch.Tensor], one_by_one: str) -> list[np.ndarray]:
    groups = _shapes(weights)
    walks = []
    for members in groups:
        (f, c), k = weights[members[0]].shape[:2], weights[members[0]].shape[-1]
        raw = _kernels([weights[i] for i in members]).reshape(len(members), f * c, k * k)
        walks.append(_Walk(raw, _distance(k, one_by_one), k * k, np.float32))
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(weights)
    for members, paths in zip(groups, _together(walks)):
        for i, path in zip(members, paths):
            out[i] = path
    return out


def _in(weights: Sequence[torch.Tensor], one_by_one: str) -> list[np.ndarray]:
    groups = _shapes(weights)
    raws = [_kernels([weights[i] for i in members]) for members in groups]        # (L, F, C, k*k) each
    distances = [_distance(weights[members[0]].shape[-1], one_by_one) for members in groups]
    channels = _together([_Walk(raw.reshape(-1, *raw.shape[2:]), distance, raw.shape[-1], np.float32)
                          for raw, distance in zip(raws, distances)])
    channels = [c.reshape(raw.shape[:3]) for c, raw in zip(channels, raws)]
    ordered = [np.take_along_axis(raw, c[..., None], 2).reshape(*raw.shape[:2], -1) for raw, c in zip(raws, channels)]
    filters = _together([_Walk(o, distance, raw.shape[-1], np.float64)                # sums of kernel distances
                         for o, raw, distance in zip(ordered, raws, distances)])
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(weights)
    for members, raw, c, f in zip(groups, raws, channels, filters):
        flat = f[:, :, None] * raw.shape[2] + np.take_along_axis(c, f[:, :, None], 1)
        for i, path in zip(members, flat.reshape(len(members), -1)):
            out[i] = path
    return out


def orders(weights: Sequence[torch.Tensor], mode: str, one_by_one: str = "squared") -> list[torch.Tensor]:
    """The coordinate -> kernel order of each conv weight (F, C, k, k) for a permutation ``mode``.

    Layers with kernels of one size are walked together, whatever their numbers of kernels
    (:func:`_greedy`; the in-filter paths over filters also need one number of channels);
    every order equals that of :func:`order`.
    """
    if mode not in MODES:
        raise ValueError(f"unknown permutation mode {mode!r}: choose one of {', '.join(MODES)}")
    _check_one_by_one(one_by_one)
    for w in weights:
        if w.dim() != 4 or w.shape[-1] != w.shape[-2]:
            raise ValueError(f"expected conv weights of shape (F, C, k, k), got {tuple(w.shape)}")
    if mode == "none":
        return [torch.arange(w.shape[0] * w.shape[1], device=w.device) for w in weights]
    paths = (_cross if mode == "cross" else _in)(weights, one_by_one)
    return [torch.from_numpy(p).to(w.device) for p, w in zip(paths, weights)]


def cross_filter_order(weight: torch.Tensor, one_by_one: str = "squared") -> torch.Tensor:
    """Cross-filter order of a conv weight (F, C, k, k): a path over all F*C kernels."""
    return orders([weight], "cross", one_by_one)[0]


def in_filter_order(weight: torch.Tensor, one_by_one: str = "squared") -> torch.Tensor:
    """In-filter order of a conv weight (F, C, k, k): channels within each filter, then the filters."""
    return orders([weight], "in", one_by_one)[0]


def order(weight: torch.Tensor, mode: str, one_by_one: str = "squared") -> torch.Tensor:
    """The coordinate -> kernel order of one layer for a permutation ``mode`` (none, in, cross)."""
    return orders([weight], mode, one_by_one)[0]


def path_cost(weight: torch.Tensor, layer_order: torch.Tensor, one_by_one: str = "squared") -> float:
    """Mean of eq. 6's distances between consecutive kernels along ``layer_order`` (per step of the path)."""
    pts = weight.detach().reshape(-1, weight.shape[-2] * weight.shape[-1])
    if _distance(weight.shape[-1], one_by_one) == "squared":
        pts = pts[layer_order]
        d = (pts[1:] - pts[:-1]).pow(2).sum(-1)
    else:
        pts = torch.nn.functional.normalize(pts, dim=-1, eps=1e-12)[layer_order]
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
