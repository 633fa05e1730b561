"""NeRN's permutation smoothness (Section 3.3): the greedy orders equal a brute-force nearest-neighbour loop."""

import tracemalloc
from fractions import Fraction

import pytest
import torch

from weightspace.nern import permutation


def _brute_force_path(points, dist):
    """Greedy path from 0: each step the unvisited point with the smallest ``(dist, index)``."""
    n = len(points)
    path, seen = [0], {0}
    while len(path) < n:
        best = min((j for j in range(n) if j not in seen), key=lambda j: (dist(points[path[-1]], points[j]), j))
        path.append(best)
        seen.add(best)
    return path


def _cos(a, b):
    return 1 - torch.dot(a, b).item() / (a.norm().item() * b.norm().item())


def _l2(a, b):
    return (a - b).pow(2).sum().item()


def _sign(a, b):
    """The authors' 1x1 distance: 1 - cos of one-element vectors = 1 - sign(a) sign(b)."""
    return 1 - (torch.sign(a) * torch.sign(b)).item()


def _exact_cos(a, b):
    """A distance decreasing exactly in cos(a, b) for a fixed ``a`` (rationals; 0 cosine for a zero kernel)."""
    a, b = [Fraction(x) for x in a.tolist()], [Fraction(x) for x in b.tolist()]
    dot, norm2 = sum(x * y for x, y in zip(a, b)), sum(y * y for y in b)
    return -dot * abs(dot) / norm2 if norm2 else Fraction(0)


def _exact_l2(a, b):
    return sum((Fraction(x) - Fraction(y)) ** 2 for x, y in zip(a.tolist(), b.tolist()))


def _in_filter_brute_force(w, dist):
    f, c = w.shape[:2]
    channels = [_brute_force_path(list(w[i].reshape(c, -1)), dist) for i in range(f)]
    filter_dist = lambda a, b: sum(dist(w[a, channels[a][j]].flatten(), w[b, channels[b][j]].flatten())  # noqa
                                   for j in range(c))
    filters = _brute_force_path(list(range(f)), filter_dist)
    return [i * c + ch for i in filters for ch in channels[i]]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_cross_filter_order_is_the_brute_force_greedy_path(k):
    w = torch.randn(6, 5, k, k, generator=torch.Generator().manual_seed(k))
    expected = _brute_force_path(list(w.reshape(30, -1)), _cos if k > 1 else _l2)
    assert permutation.cross_filter_order(w).tolist() == expected


@pytest.mark.parametrize("k", [1, 3])
def test_in_filter_order_is_the_brute_force_greedy_path(k):
    w = torch.randn(5, 4, k, k, generator=torch.Generator().manual_seed(10 + k))
    assert permutation.in_filter_order(w).tolist() == _in_filter_brute_force(w, _cos if k > 1 else _l2)


def test_the_authors_1x1_distance_is_the_cosine_of_one_element_vectors():
    w = torch.randn(6, 5, 1, 1, generator=torch.Generator().manual_seed(4))
    w[2, 3] = 0.0  # a zero kernel: cosine 0 with every kernel
    cross = permutation.cross_filter_order(w, one_by_one="cosine")
    assert cross.tolist() == _brute_force_path(list(w.reshape(30, 1)), _sign)
    assert permutation.in_filter_order(w, one_by_one="cosine").tolist() == _in_filter_brute_force(w, _sign)
    flat = w.flatten()
    same = [i for i in range(30) if torch.sign(flat[i]) == torch.sign(flat[0])]
    assert cross[:len(same)].tolist() == same  # every kernel of kernel 0's sign first, in index order
    assert permutation.order(w, "cross").tolist() != cross.tolist()  # the default (squared difference) differs
    steps = [permutation.path_cost(w, cross, one_by_one) for one_by_one in permutation.ONE_BY_ONE]
    assert steps[1] == pytest.approx(sum(_sign(flat[a], flat[b]) for a, b in zip(cross[:-1], cross[1:])) / 29)
    assert steps[0] == pytest.approx(sum(_l2(flat[a], flat[b]) for a, b in zip(cross[:-1], cross[1:])) / 29)


def test_kernels_at_exactly_equal_distance_are_taken_lowest_index_first():
    g = torch.Generator().manual_seed(5)
    w = torch.randn(4, 4, 3, 3, generator=g)
    v = torch.randint(1, 9, (3, 3), generator=g) * torch.tensor([1.0, -1.0, 1.0]) / 8  # 3 v, 5 v, ... are exact
    for index, scale in [(0, 1.0), (13, 3.0), (6, 7.0), (9, 5.0), (2, 0.375)]:  # parallel; float32 cosines round apart
        w.view(16, 3, 3)[index] = v * scale
    cross = permutation.cross_filter_order(w).tolist()
    assert cross[:5] == [0, 2, 6, 9, 13]
    assert cross == _brute_force_path(list(w.reshape(16, -1)), _exact_cos)
    # 1x1: 0.75 and 0.25 are as far from 0.5; then 0.25 and 1.25 from 0.75
    one = torch.tensor([0.5, 2.0, 0.75, -0.25, 0.25, 1.25, -3.0]).reshape(7, 1, 1, 1)
    assert permutation.cross_filter_order(one).tolist() == [0, 2, 4, 3, 5, 1, 6]
    assert permutation.cross_filter_order(one).tolist() == _brute_force_path(list(one.reshape(7, 1)), _exact_l2)


@pytest.mark.parametrize("k,dist", [(3, _exact_cos), (1, _exact_l2)])
def test_orders_of_weights_with_many_exact_ties_equal_the_exact_brute_force_loop(k, dist):
    w = torch.randint(-2, 3, (8, 6, k, k), generator=torch.Generator().manual_seed(6)).float() / 4
    assert permutation.cross_filter_order(w).tolist() == _brute_force_path(list(w.reshape(48, -1)), dist)


def test_identical_filters_are_taken_in_index_order_by_the_in_filter_path():
    w = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(7))
    w[3], w[5] = w[1], w[1]
    filters = permutation.in_filter_order(w).reshape(6, 4)[:, 0] // 4
    first = filters.tolist().index(1)
    assert filters[first:first + 3].tolist() == [1, 3, 5]


def test_layers_walked_together_get_the_orders_of_layers_walked_alone():
    g = torch.Generator().manual_seed(8)
    weights = [torch.randn(*s, generator=g) for s in [(8, 4, 3, 3), (4, 4, 1, 1), (8, 4, 3, 3), (4, 4, 1, 1),
                                                       (8, 4, 3, 3), (3, 2, 5, 5)]]
    for mode in permutation.MODES:
        for one_by_one in permutation.ONE_BY_ONE:
            together = permutation.orders(weights, mode, one_by_one)
            assert all(torch.equal(t, permutation.order(w, mode, one_by_one)) for t, w in zip(together, weights))


def test_greedy_permutations_make_neighbouring_kernels_closer():
    w = torch.randn(16, 16, 3, 3, generator=torch.Generator().manual_seed(0))
    none = permutation.path_cost(w, permutation.order(w, "none"))
    assert permutation.path_cost(w, permutation.order(w, "cross")) < permutation.path_cost(
        w, permutation.order(w, "in")) < none


def test_the_walk_needs_memory_linear_in_the_number_of_kernels():
    w = torch.randn(128, 64, 3, 3, generator=torch.Generator().manual_seed(9))  # 8,192 kernels
    tracemalloc.start()
    try:
        order = permutation.cross_filter_order(w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sorted(order.tolist()) == list(range(8192))
    assert peak < 64 * 8192 * 8  # a distance matrix would take 8,192^2 * 4 bytes = 256 MiB


def test_layers_of_different_sizes_walked_together_get_the_orders_of_layers_walked_alone():
    g = torch.Generator().manual_seed(11)
    weights = [torch.randn(*s, generator=g) for s in [(8, 4, 3, 3), (1, 1, 3, 3), (4, 4, 3, 3), (2, 3, 3, 3),
                                                       (8, 4, 3, 3), (6, 6, 3, 3), (5, 3, 1, 1), (2, 2, 1, 1)]]
    weights[2].view(16, 9)[5] = 0.0
    for mode in ("in", "cross"):
        together = permutation.orders(weights, mode)
        assert all(torch.equal(t, permutation.order(w, mode)) for t, w in zip(together, weights))


@pytest.fixture
def indexed(monkeypatch):
    """Every walk through the clustered index, in blocks of about 4 kernels (many blocks, rebuilds)."""
    monkeypatch.setattr(permutation, "_INDEX_MIN", 1)
    monkeypatch.setattr(permutation, "_CLUSTER", 4)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_the_indexed_walk_is_the_brute_force_greedy_path(indexed, k):
    w = torch.randn(16, 12, k, k, generator=torch.Generator().manual_seed(20 + k))
    expected = _brute_force_path(list(w.reshape(192, -1)), _cos if k > 1 else _l2)
    assert permutation.cross_filter_order(w).tolist() == expected


@pytest.mark.parametrize("k,dist", [(3, _exact_cos), (1, _exact_l2)])
def test_the_indexed_walk_decides_exact_ties_and_duplicates_by_the_lowest_index(indexed, k, dist):
    g = torch.Generator().manual_seed(21)
    w = torch.randint(-2, 3, (12, 10, k, k), generator=g).float() / 4   # many kernels at equal distances
    w[6:] = w[:6]                                                       # and many duplicated kernels
    assert permutation.cross_filter_order(w).tolist() == _brute_force_path(list(w.reshape(120, -1)), dist)


def test_the_indexed_walk_handles_zero_and_parallel_kernels(indexed):
    g = torch.Generator().manual_seed(22)
    w = torch.randn(10, 12, 3, 3, generator=g)
    flat = w.view(120, 9)
    flat[0], flat[7::9] = 0.0, 0.0                                      # zero kernels, kernel 0 among them
    v = torch.randint(1, 9, (9,), generator=g) * torch.tensor([1.0, -1.0, 1.0] * 3) / 8
    for index, scale in [(3, 1.0), (50, 3.0), (21, 7.0), (99, 5.0), (44, 0.375)]:
        flat[index] = v * scale                                         # cosine 1, float32 cosines round apart
    flat[60] = -v                                                       # cosine -1
    assert permutation.cross_filter_order(w).tolist() == _brute_force_path(list(flat), _exact_cos)
    assert permutation.cross_filter_order(torch.zeros(3, 4, 3, 3)).tolist() == list(range(12))
    one = torch.zeros(3, 4, 3, 3)
    one[1, 2] = 1.0
    assert permutation.cross_filter_order(one).tolist() == list(range(12))


def test_the_indexed_walk_gives_the_in_filter_path(indexed):
    w = torch.randn(6, 40, 3, 3, generator=torch.Generator().manual_seed(23))
    assert permutation.in_filter_order(w).tolist() == _in_filter_brute_force(w, _cos)


def test_the_indexed_walk_points_in_any_dimension(indexed):
    points = torch.randn(2, 150, 2, generator=torch.Generator().manual_seed(24))
    for distance, dist in [("cosine", _cos), ("squared", _l2)]:
        paths = permutation.greedy_path(points, distance)
        assert [p.tolist() for p in paths] == [_brute_force_path(list(x), dist) for x in points]


@pytest.mark.parametrize("k", [1, 3])
def test_a_layer_large_enough_for_the_index_gets_the_dense_walks_order(monkeypatch, k):
    w = torch.nn.init.kaiming_normal_(torch.empty(256, 128, k, k), generator=torch.Generator().manual_seed(25))
    assert w.shape[0] * w.shape[1] >= permutation._INDEX_MIN
    indexed = permutation.cross_filter_order(w)
    monkeypatch.setattr(permutation, "_INDEX_MIN", 1 << 62)
    assert torch.equal(indexed, permutation.cross_filter_order(w))


def test_the_index_needs_memory_linear_in_the_number_of_kernels(indexed, monkeypatch):
    monkeypatch.setattr(permutation, "_CLUSTER", 64)
    peaks = []
    for filters in (64, 128):  # 4,096 and 8,192 kernels
        w = torch.randn(filters, 64, 3, 3, generator=torch.Generator().manual_seed(9))
        tracemalloc.start()
        try:
            order = permutation.cross_filter_order(w)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert sorted(order.tolist()) == list(range(filters * 64))
    assert peaks[1] < 1024 * 8192  # a distance matrix would take 8,192^2 * 4 bytes = 256 MiB
    assert peaks[1] < 2.5 * peaks[0]


def test_bad_settings_fail_clearly():
    with pytest.raises(ValueError, match="one_by_one = 'sign': choose one of squared, cosine"):
        permutation.order(torch.randn(2, 2, 1, 1), "cross", one_by_one="sign")
    with pytest.raises(ValueError, match="unknown permutation mode 'diagonal'"):
        permutation.orders([torch.randn(2, 2, 3, 3)], "diagonal")
    with pytest.raises(ValueError, match=r"shape \(F, C, k, k\)"):
        permutation.orders([torch.randn(2, 2, 3)], "cross")
    with pytest.raises(ValueError, match="distance = 'l1'"):
        permutation.greedy_path(torch.randn(1, 4, 2), "l1")
