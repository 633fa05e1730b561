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
kernels left as it has, and each step is one batched product. That is ``n^2 / 2``
kernel scores for ``n`` kernels, so a walk over at least ``_INDEX_MIN`` kernels
goes through a clustered index instead (:class:`_Index`): blocks of about
``_CLUSTER`` nearby kernels, each with a bound on its kernels' scores (a cone around
the block's centre; a ball for the squared difference), and each step scores only
the blocks whose bound reaches the score of a first candidate (the best of the
current kernel's block, or the last step's runner-up): a few thousand of the
262,144 kernels of ResNet18's 512x512 layer. The bounds allow for their rounding,
so a block is skipped only if none of its kernels can be as close, and near-ties
are decided as above: both ways give the same orders. The index is rebuilt on the
unvisited kernels when half of them is left.
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
_INDEX_MIN = 1 << 15    # walks over at least this many points use the clustered index; the dense walk is faster below
_CLUSTER = 64           # mean points per cluster of the index (a block holds at most twice as many)
_NEAR_GROUPS = 8        # groups whose clusters a point may join in the last step of the clustering
_CENTRE_STEPS = 20      # steps of the blocks' centres toward their farthest points
_REBUILD = 2            # the index is rebuilt on its unvisited points once they fall below 1 / _REBUILD of its points

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

    Problems of at least ``_INDEX_MIN`` points take the clustered index. The others are
    walked together, each joining once the largest have as many points left as it has
    after its first step, so that all advance through equally long blocks, one batched
    product per step.
    """
    paths = [np.zeros((w.cols.shape[0], w.cols.shape[2]), dtype=np.int64) for w in walks]
    dense = []
    for w, path in zip(walks, paths):
        if w.cols.shape[2] >= _INDEX_MIN and w.key in (_cosine_key, _squared_key) and not w.exact:
            path[:] = [_indexed_path(w, b) for b in range(len(path))]
        else:
            dense.append(w)
    if not dense:
        return paths
    walk = dense[0]
    size = np.concatenate([np.full(w.cols.shape[0], w.cols.shape[2]) for w in dense])
    owner = [(w, b) for w in dense for b in range(w.cols.shape[0])]  # the problem of each row
    path = np.zeros((len(size), int(size.max())), dtype=np.int64)
    joining, joined = sorted(range(len(size)), key=lambda r: -size[r]), 0   # rows by size; those walking
    cols = np.empty((0, walk.cols.shape[1], path.shape[1]), dtype=walk.cols.dtype)
    ids = np.empty((0, path.shape[1]), dtype=np.int64)
    q = np.empty((0, walk.cols.shape[1]), dtype=walk.cols.dtype)
    member = np.empty(0, dtype=np.int64)        # the rows walking: cols[i], ids[i] are those of row member[i]
    tol = np.empty(0)
    current = np.empty(0, dtype=np.int64)       # the last visited point of each row walking
    for m in range(int(size.max()) - 1, 0, -1):
        new = []
        while joined < len(joining) and size[joining[joined]] - 1 == m:
            new.append(joining[joined])
            joined += 1
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
            for i in (s.max(1) >= top - 2 * tol).nonzero()[0]:
                s[i, pos[i]] = top[i]
                w, b = owner[member[i]]
                pos[i] = _resolve(w, b, int(current[i]), s[i], float(top[i]), ids[i, :m])
        current = ids[rows, pos]
        path[member, ends - m] = current
        q = cols[rows, :, pos] if walk.cosine else cols[rows, :, pos] * walk.scale + walk.shift
        cols[rows, :, pos], ids[rows, pos] = cols[:, :, m - 1], ids[:, m - 1]
    for r, (w, b) in enumerate(owner):
        paths[dense.index(w)][b] = path[r, :size[r]]
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


def _torch_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` through torch (its thread setting; no BLAS threads)."""
    return (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()


def _nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of the Euclidean-nearest of ``centres`` (k, d) to each row of ``x`` (m, d), float32."""
    half = torch.from_numpy((centres * centres).sum(1) / 2)
    transposed = torch.from_numpy(np.ascontiguousarray(centres.T))
    rows = torch.from_numpy(x)
    return torch.cat([torch.addmm(-half, part, transposed).argmax(1) for part in rows.split(4096)]).numpy()


def _kmeans(x: np.ndarray, count: int) -> np.ndarray:
    """Labels of ``count`` clusters of the rows of ``x`` (float32): Lloyd iterations on a sample, then all rows."""
    rng = np.random.default_rng(0)
    centres = x[rng.choice(len(x), count, replace=False)]
    sample = x[rng.choice(len(x), min(len(x), 32 * count), replace=False)]
    for _ in range(4):
        label = _nearest_centre(sample, centres)
        size = np.bincount(label, minlength=count)[:, None]
        sums = np.stack([np.bincount(label, column, minlength=count) for column in sample.T], 1)
        centres = np.where(size > 0, sums / np.maximum(size, 1), centres).astype(np.float32)
    return _nearest_centre(x, centres)


def _clusters(x: np.ndarray, count: int) -> np.ndarray:
    """Labels of about ``count`` clusters of the rows of ``x`` (float32); only the index's speed depends on them.

    k-means in two levels (``sqrt(count)`` groups, then clusters within each), then one
    Lloyd step in which each row picks the nearest centre among the clusters of
    ``_NEAR_GROUPS`` groups near its own (the groups' borders would cut clusters).
    """
    groups = min(len(x), max(1, round(math.sqrt(count))))
    group = _kmeans(x, groups)
    members = [rows for rows in np.split(np.argsort(group, kind="stable"),
                                         np.cumsum(np.bincount(group, minlength=groups))[:-1]) if len(rows)]
    label = np.empty(len(x), dtype=np.int64)
    children, first = [], 0
    for rows in members:
        k = min(len(rows), max(1, round(len(rows) * count / len(x))))
        label[rows] = first + (_kmeans(x[rows], k) if k > 1 else 0)
        children.append(np.arange(first, first + k))
        first += k
    size = np.bincount(label, minlength=first)[:, None]
    centres = (np.stack([np.bincount(label, column, minlength=first) for column in x.T], 1) / np.maximum(size, 1))
    centres = centres.astype(np.float32)
    tops = np.stack([x[rows].mean(0) for rows in members])
    near = np.argsort(((tops[:, None] - tops[None]) ** 2).sum(-1), 1)[:, :_NEAR_GROUPS]
    for rows, close in zip(members, near):
        candidates = np.concatenate([children[c] for c in close])
        label[rows] = candidates[_nearest_centre(x[rows], centres[candidates])]
    return label


def _centres(x: np.ndarray, block: np.ndarray, start: np.ndarray, sphere: bool) -> np.ndarray:
    """Centres of blocks of the rows of ``x`` (sorted by ``block``; block ``j`` from row ``start[j]``), near those
    of the smallest balls (cones, on the ``sphere``) around them.

    From the mean, each centre steps toward its farthest row (Badoiu and Clarkson's iteration,
    with shrinking steps); any centre makes valid bounds, closer ones prune more.
    """
    centre = np.add.reduceat(x, start, axis=0) / np.diff(np.r_[start, len(x)])[:, None]
    for i in range(_CENTRE_STEPS + 1):
        if sphere:
            norm = np.sqrt((centre * centre).sum(1, keepdims=True))
            centre = np.divide(centre, norm, out=x[start].copy(), where=norm > 0)
        if i == _CENTRE_STEPS:
            return centre
        far = -(x * centre[block]).sum(1) if sphere else ((x - centre[block]) ** 2).sum(1)
        rows = np.flatnonzero(far == np.maximum.reduceat(far, start)[block])
        farthest = centre.copy()
        farthest[block[rows]] = x[rows]
        centre += (farthest - centre) * (0.3 * 0.85 ** i)
    return centre


class _Index:
    """The unvisited points of problem ``b`` of a walk, in blocks of nearby points with bounds on their scores.

    Block ``j`` keeps its unvisited points in the first ``count[j]`` columns of ``cols[j]``
    (the walk's scoring columns; a free column scores far below any point). Its bound is
    a linear test ``v . bounds[:, j] >= 0`` that passes for every block that may hold a
    point scoring at least ``s`` against the query ``g`` (:meth:`_test`): for the cosine,
    a cone around the block's centre (``a`` wide: a point makes an angle of at least
    ``angle(g, centre) - a`` with ``g``); for the squared distance, a ball around it
    (radius ``r``: a point is at least ``|g - centre| - r`` from ``g``). The test of an
    emptied block fails.
    """

    def __init__(self, walk: _Walk, b: int, ids: np.ndarray) -> None:
        self.walk, self.b = walk, b
        raw = walk.raw[b]
        n, d = raw.shape
        self.geometry = _unit(raw, d) if walk.cosine else raw.astype(np.float64)
        rows = walk.cols[b].T
        if walk.cosine:  # a flag column, 0 for a point: a free column [0, -4] scores below any cosine
            self.rows = np.concatenate((rows, np.zeros((n, 1), rows.dtype)), 1)
            self.queries = np.concatenate((rows * walk.scale + walk.shift, np.ones((n, 1), rows.dtype)), 1)
            self.free = np.r_[np.zeros(d), -4.0].astype(rows.dtype)
        else:            # a free column [0, huge] scores -huge
            self.rows, self.queries = rows, rows * walk.scale + walk.shift
            self.free = np.r_[np.zeros(d), np.finfo(rows.dtype).max / 4]
        self.block_of = np.full(n, -1, dtype=np.int64)
        self.slot_of = np.zeros(n, dtype=np.int64)
        self.v = np.ones(d + 3, dtype=np.float32 if walk.cosine else np.float64)
        self.runner = -1  # an unvisited point, the last step's runner-up, or -1
        self._build(ids)

    def _build(self, ids: np.ndarray) -> None:
        """Cluster the points ``ids`` and split the clusters evenly into blocks of at most ``2 _CLUSTER``."""
        m = len(ids)
        x = self.geometry[ids]
        x32 = x.astype(np.float32)
        label = _clusters(x32, -(-m // _CLUSTER))
        order = np.argsort(label, kind="stable")
        ids, x, x32, label = ids[order], x[order], x32[order], label[order]
        size = np.bincount(label)
        width = min(2 * _CLUSTER, int(size.max()))
        pieces = -(-size // width)
        first = np.cumsum(size) - size
        block = (np.cumsum(pieces) - pieces)[label] + (np.arange(m) - first[label]) * pieces[label] // size[label]
        blocks = int(pieces.sum())
        self.count = np.bincount(block, minlength=blocks)
        start = np.cumsum(self.count) - self.count
        slot = np.arange(m) - start[block]
        self.block_of[self.block_of >= 0] = -1
        self.block_of[ids], self.slot_of[ids] = block, slot
        self.cols = np.empty((blocks, len(self.free), width), dtype=self.rows.dtype)
        self.cols[:] = self.free[None, :, None]
        self.cols[block, :, slot] = self.rows[ids]
        self.ids = np.full((blocks, width), -1, dtype=np.int64)
        self.ids[block, slot] = ids
        self.size = self.left = m
        centre = _centres(x32, block, start, self.walk.cosine).astype(np.float64)
        if self.walk.cosine:
            centre /= np.sqrt((centre * centre).sum(1, keepdims=True))
            low = np.minimum.reduceat((x * centre[block]).sum(1), start)
            angle = np.minimum(np.arccos(np.clip(low, -1.0, 1.0)) + 1e-7, math.pi)  # + the rounding of low and arccos
            # cos angle(g, centre) >= cos(a + arccos s) = cos(a) s - sin(a) sqrt(1 - s^2), tested in float32:
            # 1e-5 covers its rounding (of the terms, at most 1 each, and of centre, g and s: below 3e-6 in all)
            self.bounds = np.c_[centre, -np.cos(angle), np.sin(angle), np.full(blocks, 1e-5)].T.astype(np.float32)
            self.wrap = float(-np.cos(angle).min())  # arccos s past pi - a: the cone test does not hold
        else:
            r = np.sqrt(np.maximum.reduceat(((x - centre[block]) ** 2).sum(1), start)) * (1 + 1e-9)
            # |g - centre| <= r + e:  2 g.centre + 2 r e + (e^2 - |g|^2) + r^2 - |centre|^2 >= 0
            self.bounds = np.c_[2 * centre, 2 * r, np.ones(blocks), r * r - (centre * centre).sum(1)].T
            self.scale = float(np.sqrt((centre * centre).sum(1)).max() + r.max())
        self.bounds = np.ascontiguousarray(self.bounds)

    def _test(self, g: np.ndarray, s: float) -> np.ndarray:
        """The blocks that may hold a point scoring at least ``s`` against the query point ``g``."""
        v, d = self.v, len(g)
        v[:d] = g
        if self.walk.cosine:
            v[d], v[d + 1] = s, math.sqrt(max(0.0, 1.0 - s * s))
            if s <= self.wrap:  # blocks with a + arccos s >= pi: every angle to g is within reach
                return np.flatnonzero(((v @ self.bounds >= 0) | (self.bounds[d] >= s)) & (self.count > 0))
        else:
            gg = float(g @ g)
            e = math.sqrt(max(0.0, gg - s) + 1e-12 * gg) * (1 + 1e-9)  # the largest distance of a point scoring s
            v[d], v[d + 1] = e, e * e - gg + 1e-12 * (math.sqrt(gg) + self.scale + e) ** 2  # + its rounding
        return (v @ self.bounds >= 0).nonzero()[0]

    def remove(self, i: int) -> None:
        """Mark point ``i`` visited (its block stays recorded: the next query's); rebuild once few are left."""
        j, p = int(self.block_of[i]), int(self.slot_of[i])
        last = int(self.count[j]) - 1
        moved = int(self.ids[j, last])
        self.cols[j, :, p], self.ids[j, p], self.slot_of[moved] = self.cols[j, :, last], moved, p
        self.cols[j, :, last], self.ids[j, last], self.count[j] = self.free, -1, last
        if not last:
            self.bounds[-1, j] = -math.inf
        if i == self.runner:
            self.runner = -1
        self.left -= 1
        if self.left and self.left * _REBUILD < self.size and self.size > 2 * _CLUSTER:
            self._build(self.ids[self.ids >= 0])

    def nearest(self, query: int, zero: int) -> int:
        """The exactly closest unvisited point to ``query``, lowest id on ties (``zero``: a zero kernel left, or -1).

        A first candidate (the best of the query's block, or of the block with the nearest
        centre, or the last step's runner-up) bounds the best score from below; every block
        whose test passes at that bound is scored, and near-ties are decided exactly
        (:func:`_resolve`).
        """
        tol, cols, count, runner = self.walk.tol, self.cols, self.count, self.runner
        q, g = self.queries[query], self.geometry[query]
        s0 = 0.0 if zero >= 0 else -math.inf    # a zero kernel scores exactly 0
        if self.left:
            j = self.block_of[query]
            if j < 0 or not count[j]:
                j = int(np.argmax(g @ self.bounds[:len(g)] + self.bounds[-1]))
            s0 = max(s0, float((q @ cols[j, :, :count[j]]).max()))
            if runner >= 0:
                s0 = max(s0, float(q @ self.rows[runner]))
            blocks = self._test(g, s0 - tol)
        else:
            blocks = np.empty(0, dtype=np.int64)
        s = np.matmul(q, cols.take(blocks, 0)).ravel()
        self.runner = -1
        if zero < 0 or (s.size and s.max() >= 2 * tol):
            best = int(s.argmax())
            top = s[best]
            s[best] = -math.inf
            second = int(s.argmax())
            if s[second] < top - 2 * tol:     # no near-tie; the runner-up (or a free column) goes next
                width = cols.shape[2]
                self.runner = int(self.ids[blocks[second // width], second % width]) if second != best else -1
                return int(self.ids[blocks[best // width], best % width])
            s[best] = top
            ids = self.ids.take(blocks, 0).ravel()
        else:  # the zero kernel may be as close
            s, ids = np.r_[s, 0.0], np.r_[self.ids.take(blocks, 0).ravel(), zero]
        return int(ids[_resolve(self.walk, self.b, query, s, float(s.max()), ids)])


def _indexed_path(walk: _Walk, b: int) -> np.ndarray:
    """The greedy path of problem ``b`` from point 0 through an :class:`_Index` (the same as the dense walk's)."""
    raw = walk.raw[b]
    n = len(raw)
    zero = ~raw.any(1) if walk.cosine else np.zeros(n, dtype=bool)
    zeros = np.flatnonzero(zero).tolist()
    if len(zeros) == n:                          # only zero kernels: each step to the lowest id left
        return np.arange(n)
    index = _Index(walk, b, np.flatnonzero(~zero))
    zero, visited, path = zero.tolist(), bytearray(n), [0] * n
    lowest = first_zero = 0                      # no unvisited id below ``lowest``; zeros[first_zero] the first left
    current = 0
    for step in range(n):
        if step:
            while visited[lowest]:
                lowest += 1
            while first_zero < len(zeros) and visited[zeros[first_zero]]:
                first_zero += 1
            if zero[current]:                    # a zero kernel has cosine 0 with every kernel
                current = lowest
            else:
                current = index.nearest(current, zeros[first_zero] if first_zero < len(zeros) else -1)
        visited[current] = 1
        path[step] = current
        if not zero[current]:
            index.remove(current)
    return np.array(path, dtype=np.int64)


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
