"""The grouped DWS layer (issue 13): the same function as the term-by-term layer, in fewer matrix products."""

import copy
import math

import pytest
import torch

from weightspace.dws.bench import LAYER_CASES as CASES, ReferenceBatchNorm, reference_forward, reference_model
from weightspace.dws.layers import (
    BLOCKS, DWSLayer, WSBatchNorm, WSReLU, equivariant_terms, parameters_per_channel_pair, product_groups,
)
from weightspace.dws.models import DWSEquivariant, DWSNet
from weightspace.dws.space import WeightSpace

# width-1 hidden layers: (2, 1, 3), (1, 1, 1), (3, 2, 1, 2), (4, 1, 1, 2); no hidden layer: (5, 3)
SHAPES = [(2, 3, 1), (3, 4, 5, 2), (2, 5, 3, 4, 3), (2, 1, 3), (1, 1, 1), (3, 2, 1, 2), (4, 1, 1, 2), (5, 3)]
ABLATIONS = [BLOCKS, ("WW",), ("WB", "BB"), ("BW",), ("WB",)]


def space(widths, batch=4, channels=3, seed=1, dtype=torch.float64):
    return WeightSpace.randn(widths, batch, channels, torch.Generator().manual_seed(seed), dtype)


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


@pytest.mark.parametrize("widths", SHAPES)
@pytest.mark.parametrize("blocks", ABLATIONS)
def test_grouped_layer_computes_the_term_by_term_layer_and_its_gradients(widths, blocks):
    torch.manual_seed(0)
    layer = DWSLayer(widths, 3, 4, blocks).double()
    x = space(widths).map(lambda t: t.requires_grad_())
    ours, ref = layer(x), reference_forward(layer, x)
    assert max_diff(ours.tensors(), ref.tensors()) < 1e-12
    assert all(t.is_contiguous() for t in ours.tensors())
    probes = [torch.randn_like(t) for t in ours.tensors()]
    wrt = list(layer.parameters()) + x.tensors()

    def grads(out):
        loss = sum((t * p).sum() for t, p in zip(out.tensors(), probes))
        return torch.autograd.grad(loss, wrt, allow_unused=True, materialize_grads=True)

    assert max_diff(grads(layer(x)), grads(reference_forward(layer, x))) < 1e-12


@pytest.mark.parametrize("widths", [(2, 32, 32, 1), (3, 2, 1, 2), (2, 5, 3, 4, 3)])
def test_float32_rounding_of_the_regrouped_products_is_about_1e_6_relative(widths):
    torch.manual_seed(0)
    layer = DWSLayer(widths, 8, 8)
    x = space(widths, channels=8, dtype=torch.float32)
    exact = reference_forward(layer.double(), x.to(torch.float64))
    layer = layer.float()
    for out in (layer(x), reference_forward(layer, x)):
        scale = max(t.abs().max().item() for t in exact.tensors())
        assert max_diff([t.double() for t in out.tensors()], exact.tensors()) / scale < 1e-5


def test_terms_are_grouped_into_few_products_and_every_term_has_one_block():
    assert (len(equivariant_terms((2, 32, 32, 1))), len(product_groups((2, 32, 32, 1)))) == (55, 4)
    assert (len(equivariant_terms((2, 128, 128, 128, 1))), len(product_groups((2, 128, 128, 128, 1)))) == (93, 6)
    for widths in SHAPES:
        for blocks in ABLATIONS:
            placed = sorted(i for g in product_groups(widths, blocks) for row in g.blocks for i in row)
            assert placed == list(range(len(equivariant_terms(widths, blocks))))


@pytest.mark.parametrize("widths", SHAPES)
def test_block_parameters_hold_each_term_once_and_are_drawn_as_one_map_per_term(widths):
    torch.manual_seed(0)
    layer = DWSLayer(widths, 2, 3)
    assert sum(p.numel() for p in layer.maps) == 2 * 3 * parameters_per_channel_pair(widths)
    views = layer.term_maps()
    assert all(v.untyped_storage().data_ptr() in {p.untyped_storage().data_ptr() for p in layer.maps} for v in views)
    # the same draws as one nn.Linear-like map per term, in term order (then the biases)
    torch.manual_seed(0)
    drawn = []
    fan_in = [0] * len(layer.axes)
    for t in layer.terms:
        fan_in[t.dst] += 2 * math.prod(widths[a] for a in t.free_in)
    for t, v in zip(layer.terms, views):
        bound = 1.0 / fan_in[t.dst] ** 0.5
        drawn.append(torch.empty(v.shape).uniform_(-bound, bound))
    assert all(torch.equal(a, b) for a, b in zip(views, drawn))


@pytest.mark.parametrize("batch_norm", [True, False])
def test_dwsnet_equals_the_dwsnet_of_term_by_term_layers(batch_norm):
    widths = (2, 5, 3, 4, 3)
    torch.manual_seed(0)
    net = DWSNet(widths, 3, hidden=4, layers=3, head_hidden=8, batch_norm=batch_norm).double()
    ref = reference_model(net)
    assert not any(isinstance(m, WSReLU) and m.inplace for m in ref.modules())
    x = space(widths, batch=6, channels=1)
    ours, theirs = net(x), ref(x)
    assert (ours - theirs).abs().max() < 1e-12
    ours.square().sum().backward()
    theirs.square().sum().backward()
    assert max_diff([p.grad for p in net.parameters()], [p.grad for p in ref.parameters()]) < 1e-12
    eq = DWSEquivariant(widths, hidden=4, layers=2).double()
    assert max_diff(eq(x).tensors(), reference_model(eq)(x).tensors()) < 1e-12


def test_in_place_relu_overwrites_and_the_default_does_not():
    x = space((2, 3, 1), channels=1)
    before = x.weights[0].clone()
    WSReLU()(x)
    assert torch.equal(x.weights[0], before)
    out = WSReLU(inplace=True)(x)
    assert out.weights[0].data_ptr() == x.weights[0].data_ptr() and (x.weights[0] >= 0).all()


def test_bench_cases_time_the_layer_and_dwsnet_at_both_sizes_against_the_nfn_targets():
    names = {c.name for c in CASES}
    for arch in ("2-32-32-1", "2-128-128-128-1"):
        assert {f"dws.layer_{arch}", f"dws.dwsnet_{arch}"} <= names
    limits = {c.name: c.max_seconds for c in CASES}
    assert limits["dws.layer_2-32-32-1"] == 0.018 and limits["dws.dwsnet_no_bn_2-32-32-1"] == 0.066
    assert all(c.baseline is not None and c.max_ratio is not None for c in CASES)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_fused_batch_norm_equals_one_batch_norm_per_tensor(momentum):
    """Outputs, gradients and running statistics of WSBatchNorm against nn.BatchNorm1d per tensor (as before)."""
    widths = (2, 5, 3, 4, 3)
    torch.manual_seed(0)
    norm = WSBatchNorm(widths, 3).double()
    for n in norm.norms:
        n.momentum = momentum
        n.weight.data.uniform_(0.5, 1.5), n.bias.data.uniform_(-1, 1)
    ref = ReferenceBatchNorm(copy.deepcopy(norm))
    flat = (space(widths, batch=6, channels=3).flatten() * 3 + 2).requires_grad_()
    probes = [torch.randn_like(t) for t in WeightSpace.from_flat(flat, widths, 3).tensors()]
    for _ in range(2):  # the running statistics move twice
        grads = []
        for module in (norm, ref):
            out = module(WeightSpace.from_flat(flat, widths, 3)).tensors()  # non-contiguous views of one tensor
            assert all(t.is_contiguous() for t in out) or module is ref
            loss = sum((t * p).sum() for t, p in zip(out, probes))
            grads.append((out, torch.autograd.grad(loss, [flat, *module.parameters()])))
        (ours, ours_grads), (theirs, their_grads) = grads
        assert max_diff(ours, theirs) < 1e-12 and max_diff(ours_grads, their_grads) < 1e-12
    stats = lambda m: [b for n in m.norms for b in (n.running_mean, n.running_var, n.num_batches_tracked)]
    assert max_diff(stats(norm), stats(ref.norm)) < 1e-12
    norm.eval(), ref.eval()
    x = space(widths, batch=2, channels=3)
    assert max_diff(norm(x).tensors(), ref(x).tensors()) < 1e-12


def test_fused_batch_norm_is_stable_in_float32_and_refuses_one_value_per_channel():
    """Two-pass statistics: an offset of 1000 standard deviations costs float rounding, not the digits of the offset."""
    torch.manual_seed(0)
    norm = WSBatchNorm((2, 32, 32, 1), 4)
    x = space((2, 32, 32, 1), batch=8, channels=4, dtype=torch.float32).map(lambda t: (t * 0.1 + 100).requires_grad_())
    x64 = x.map(lambda t: t.detach().double().requires_grad_())
    out, exact = norm(x).tensors(), copy.deepcopy(norm).double()(x64).tensors()
    assert max_diff([t.double() for t in out], exact) < 1e-3  # outputs of unit scale
    probes = [torch.randn_like(t) for t in exact]
    torch.autograd.backward(out, [p.float() for p in probes])
    torch.autograd.backward(exact, probes)
    for ours, theirs in zip(x.tensors(), x64.tensors()):
        assert (ours.grad.double() - theirs.grad).abs().max() < 1e-3 * theirs.grad.abs().max()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        WSBatchNorm((2, 3, 1), 2)(space((2, 3, 1), batch=1, channels=2, dtype=torch.float32))


def test_dwsnet_equals_the_dwsnet_as_before_in_float32_at_the_bench_size():
    """The bench's DWSNet (2-32-32-1, 32 channels, BatchNorm): outputs and parameter gradients to float rounding."""
    torch.manual_seed(0)
    net = DWSNet((2, 32, 32, 1), 10)
    ref = reference_model(net)
    x = space((2, 32, 32, 1), batch=8, channels=1, dtype=torch.float32)
    ours, theirs = net(x), ref(x)
    assert (ours - theirs).abs().max() / theirs.abs().max() < 1e-5
    ours.square().sum().backward()
    theirs.square().sum().backward()
    scale = max(p.grad.abs().max() for p in ref.parameters())  # the biases before a BatchNorm get ~0: rounding
    assert max_diff([p.grad for p in net.parameters()], [p.grad for p in ref.parameters()]) < 1e-5 * scale
    stats = lambda m: [b for n in m.modules() if isinstance(n, torch.nn.BatchNorm1d) for b in (n.running_mean, n.running_var)]
    assert max_diff(stats(net), stats(ref)) < 1e-5


def test_bench_times_the_dwsnet_with_and_without_batch_norm_at_both_sizes_against_the_network_as_before():
    names = {c.name for c in CASES}
    for arch in ("2-32-32-1", "2-128-128-128-1"):
        assert {f"dws.dwsnet_{arch}", f"dws.dwsnet_no_bn_{arch}"} <= names
    _, ref, _ = next(c for c in CASES if c.name == "dws.dwsnet_2-32-32-1").setup()
    kinds = [type(m).__name__ for m in ref.body]
    assert kinds[:3] == ["ReferenceLayer", "ReferenceBatchNorm", "WSReLU"] and kinds.count("ReferenceBatchNorm") == 4
