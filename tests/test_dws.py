"""DWSNets: the invariants the paper rests on (Theorem 5.1, Prop. 5.3, Section 3), INR zoos and weight matching."""

import itertools
import math

import pytest
import torch

from weightspace.dws.align import align_to, weight_matching
from weightspace.dws.augment import Augmentation, Normalized, orbit_statistics
from weightspace.dws.contrastive import TwoViews
from weightspace.dws.inr import INRRecipe, fit_inrs, grid, init_inrs, inr_forward, loss_and_grad, product_axes
from weightspace.dws.layers import BLOCKS, character_dimension, DWSLayer, InvariantLayer, invariant_features, parameters_per_channel_pair
from weightspace.dws.models import METHODS, DWSEquivariant, DWSNet, build
from weightspace.dws.space import WeightSpace, Zoo, make_mlp, mlp_forward, num_parameters

SHAPES = [(2, 3, 1), (3, 4, 5, 2), (2, 5, 3, 4, 3), (4, 6, 6, 6, 6, 1)]


def random_space(widths, batch=3, channels=1, seed=0):
    return WeightSpace.randn(widths, batch, channels, torch.Generator().manual_seed(seed), torch.float64)


def max_diff(a: WeightSpace, b: WeightSpace) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a.tensors(), b.tensors()))


@pytest.mark.parametrize("widths", SHAPES)
@pytest.mark.parametrize("blocks", [BLOCKS, ("WW",), ("WB", "BB")])
def test_dws_layer_is_equivariant_to_hidden_permutations(widths, blocks):
    torch.manual_seed(0)
    layer = DWSLayer(widths, 3, 4, blocks).double()
    x = random_space(widths, channels=3)
    perms = x.random_permutations(torch.Generator().manual_seed(1))
    err = max_diff(layer(x.permute(perms)), layer(x).permute(perms))
    assert err < 1e-5
    # a permutation of the input or output neurons is NOT a symmetry: the layer is not equivariant to it
    shuffle = torch.arange(widths[0]).flip(0)
    moved = WeightSpace((x.weights[0][..., shuffle],) + x.weights[1:], x.biases)
    moved_out = layer(moved).weights[0][..., shuffle.argsort()]
    if "WW" in blocks and widths[0] > 1:
        assert (moved_out - layer(x).weights[0]).abs().max() > 1e-3


@pytest.mark.parametrize("widths", SHAPES)
def test_invariant_layer_and_dwsnet_are_invariant(widths):
    torch.manual_seed(0)
    x = random_space(widths, batch=4).map(lambda t: t.float())
    perms = x.random_permutations(torch.Generator().manual_seed(2))
    inv = InvariantLayer(widths, 1, 5)
    assert (inv(x.permute(perms)) - inv(x)).abs().max() < 1e-5
    net = DWSNet(widths, 3, hidden=4, layers=2, head_hidden=8).eval()
    assert (net(x.permute(perms)) - net(x)).abs().max() < 1e-5
    eq = DWSEquivariant(widths, hidden=4, layers=2)
    assert max_diff(eq(x.permute(perms)), eq(x).permute(perms)) < 1e-5


def _character_dimension(widths, source, target):
    """dim Hom_G(source, target) = (1/|G|) sum_g tr(rho_source(g)) tr(rho_target(g)), by brute force over G.

    ``source``/``target`` list tensors by their axis labels; tr(rho(g)) on a tensor is the number of its
    entries that ``g`` fixes = product over axes of (fixed points of tau_j if j is hidden else n_j).
    """
    hidden = range(1, len(widths) - 1)
    total, count = 0, 0
    for g in itertools.product(*[itertools.permutations(range(widths[j])) for j in hidden]):
        fixed = {0: widths[0], len(widths) - 1: widths[-1]}
        fixed.update({j: sum(1 for i, p in enumerate(tau) if i == p) for j, tau in zip(hidden, g)})
        trace = lambda tensors: sum(math.prod(fixed[a] for a in axes) for axes in tensors)  # noqa: E731
        total += trace(source) * trace(target)
        count += 1
    return total // count


@pytest.mark.parametrize("widths", [(2, 3, 1), (1, 2, 3, 2), (2, 3, 2), (3, 2, 2, 2),
                                    (2, 1, 3), (1, 1, 1), (3, 2, 1, 2)])  # width-1 hidden layers
def test_parameters_per_channel_pair_equal_the_dimension_of_equivariant_maps(widths):
    M = len(widths) - 1
    weights = [(m, m - 1) for m in range(1, M + 1)]
    biases = [(m,) for m in range(1, M + 1)]
    space = weights + biases
    assert parameters_per_channel_pair(widths) == _character_dimension(widths, space, space)
    for block, (src, dst) in {"WW": (weights, weights), "WB": (weights, biases), "BW": (biases, weights),
                              "BB": (biases, biases)}.items():
        assert parameters_per_channel_pair(widths, (block,)) == _character_dimension(widths, src, dst)
    # the invariant layer: one feature per orbit of G on the indices (Prop. 5.3)
    assert invariant_features(widths) == _character_dimension(widths, space, [()])
    assert character_dimension(widths) == parameters_per_channel_pair(widths)
    assert character_dimension(widths, ("WB",)) == _character_dimension(widths, weights, biases)


@pytest.mark.parametrize("widths", [(2, 3, 1), (1, 2, 3, 2), (2, 1, 3), (3, 2, 1, 2)])
def test_the_basis_maps_are_linearly_independent(widths):
    """Each parameter alone (the rest zero) gives one linear map V -> V; together they have full rank."""
    layer = DWSLayer(widths, 1, 1).double()
    dim = num_parameters(widths)
    basis = WeightSpace.from_flat(torch.eye(dim, dtype=torch.float64), widths)
    maps = []
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
        for p in layer.maps:
            for i in range(p.numel()):
                p.view(-1)[i] = 1.0
                maps.append(layer(basis).flatten().flatten())
                p.view(-1)[i] = 0.0
    assert len(maps) == parameters_per_channel_pair(widths)
    assert torch.linalg.matrix_rank(torch.stack(maps, dim=1)).item() == len(maps)


@pytest.mark.parametrize("widths", [(3, 5, 2), (4, 6, 7, 3)])
def test_mlp_round_trip_and_permuted_mlp_compute_the_same_function(widths):
    torch.manual_seed(0)
    mlps = [make_mlp(widths) for _ in range(3)]
    space = WeightSpace.from_mlps(mlps)
    x = torch.randn(10, widths[0])
    for i, mlp in enumerate(mlps):
        assert torch.allclose(space.to_mlp(i)(x), mlp(x), atol=1e-6)
    assert torch.equal(WeightSpace.from_flat(space.flatten(), widths).flatten(), space.flatten())
    permuted = space.permute(space.random_permutations(torch.Generator().manual_seed(3)))
    assert max_diff(permuted, space) > 1e-3
    assert torch.allclose(mlp_forward(permuted, x), mlp_forward(space, x), atol=1e-5)
    for i, mlp in enumerate(mlps):
        assert torch.allclose(permuted.to_mlp(i)(x), mlp(x), atol=1e-5)


def test_bad_inputs_fail_clearly():
    with pytest.raises(ValueError, match="chain"):
        WeightSpace((torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 2, 4)), (torch.zeros(1, 1, 3), torch.zeros(1, 1, 2)))
    with pytest.raises(ValueError, match="expected flat parameters"):
        WeightSpace.from_flat(torch.zeros(2, 10), (2, 3, 1))
    with pytest.raises(ValueError, match="unknown or no blocks"):
        DWSLayer((2, 3, 1), 1, 1, ("WX",))
    with pytest.raises(ValueError, match="layer expects widths"):
        DWSLayer((2, 3, 1), 1, 1)(random_space((2, 4, 1)).map(lambda t: t.float()))
    with pytest.raises(ValueError, match="unknown method"):
        build("resnet", (2, 3, 1), 2)


def test_weight_spaces_build_from_tensors_concatenate_and_draw_at_random():
    widths = (3, 4, 2)
    a, b = WeightSpace.randn(widths, 2, 3), WeightSpace.randn(widths, 5, 3, torch.Generator().manual_seed(1))
    assert (a.widths, a.batch_size, a.channels) == (widths, 2, 3) and a.weights[0].dtype == torch.float32
    assert torch.equal(WeightSpace.randn(widths, 5, 3, torch.Generator().manual_seed(1)).flatten(), b.flatten())
    both = WeightSpace.cat([a, b])
    assert both.batch_size == 7 and torch.equal(both[2:].flatten(), b.flatten())
    assert torch.equal(WeightSpace.from_tensors(both.tensors()).flatten(), both.flatten())
    perms = both.random_permutations(torch.Generator().manual_seed(2))
    assert torch.equal(WeightSpace.cat([a, b]).permute(perms)[:2].flatten(), a.permute([p[:2] for p in perms]).flatten())
    with pytest.raises(ValueError, match="different widths or channels"):
        WeightSpace.cat([a, WeightSpace.randn((3, 5, 2), 1, 3)])
    with pytest.raises(ValueError, match="no weight spaces"):
        WeightSpace.cat([])
    with pytest.raises(ValueError, match="even number"):
        WeightSpace.from_tensors(a.tensors()[:3])
    with pytest.raises(ValueError, match="batch and channels must be positive"):
        WeightSpace.randn(widths, 0)
    with pytest.raises(ValueError, match="all positive"):
        WeightSpace.randn((3, 0, 2), 1)
    zoo = Zoo.from_space(a.map(lambda t: t[:, :1]), torch.arange(2))
    assert zoo.widths == widths and torch.equal(zoo.space.flatten(), a.map(lambda t: t[:, :1]).flatten())
    with pytest.raises(ValueError, match="1-channel"):
        Zoo.from_space(a, torch.arange(2))


@pytest.mark.parametrize("init", ["authors", "siren"])
def test_batched_inr_fitting_equals_one_at_a_time(init):
    recipe = INRRecipe(widths=(2, 8, 8, 1), steps=30, lr=1e-3, init=init, chunk=6)
    g = torch.Generator().manual_seed(0)
    targets = torch.rand(6, 49, 1, generator=g)
    coords = grid(7)
    batched = fit_inrs(targets, coords, range(100, 106), recipe)
    single = [fit_inrs(targets[i : i + 1], coords, [100 + i], INRRecipe(**{**recipe.__dict__, "chunk": 1}))
              for i in range(6)]
    assert (batched.zoo.params - torch.cat([s.zoo.params for s in single])).abs().max() < 1e-5
    assert torch.equal(batched.zoo.params[2], fit_inrs(targets[2:3], coords, [102], recipe).zoo.params[0])
    auto = fit_inrs(targets, coords, range(100, 106), INRRecipe(**{**recipe.__dict__, "chunk": "auto"}))
    assert (auto.zoo.params - batched.zoo.params).abs().max() < 1e-5  # the automatic chunk changes nothing
    assert batched.zoo.widths == (2, 8, 8, 1) and batched.zoo.space.widths == (2, 8, 8, 1)
    assert (batched.mse < ((targets - 0.5) ** 2).mean(dim=(1, 2))).all()  # fitting reduced the error


@pytest.mark.parametrize("coords", ["grid", "scattered", "per_inr"])
def test_inr_gradient_equals_autograd_and_early_stop_freezes(coords):
    recipe = INRRecipe(widths=(2, 8, 8, 1), steps=5)
    params = init_inrs(range(3), recipe.widths).double() + 0.05 * torch.randn(3, num_parameters((2, 8, 8, 1)),
                                                                               dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    x = {"grid": grid(5).double(), "scattered": torch.rand(25, 2, generator=g, dtype=torch.float64) * 2 - 1,
         "per_inr": torch.rand(3, 25, 2, generator=g, dtype=torch.float64) * 2 - 1}[coords]
    assert (product_axes(x) is not None) == (coords == "grid")  # the grid takes the angle-addition path
    targets = torch.rand(3, 25, 1, dtype=torch.float64)
    p = params.clone().requires_grad_(True)
    mse = (inr_forward(p, x, recipe) - targets).pow(2).mean(dim=(1, 2))
    (grad,) = torch.autograd.grad(mse.sum(), p)
    mse2, grad2 = loss_and_grad(params, x, targets, recipe)
    assert (mse - mse2).abs().max() < 1e-12 and (grad - grad2).abs().max() < 1e-10
    f32 = loss_and_grad(params.float(), x.float(), targets.float(), recipe)  # float32 to float tolerance
    assert (f32[1].double() - grad).abs().max() < 1e-4 * grad.abs().max()
    stopped = fit_inrs(targets.float(), grid(5), range(3), INRRecipe(widths=(2, 8, 8, 1), steps=5, stop_psnr=-100.0))
    assert (stopped.steps == 0).all() and torch.equal(stopped.zoo.params, init_inrs(range(3), (2, 8, 8, 1)))


def test_product_axes_finds_only_row_major_grids():
    u, v = product_axes(grid(28))
    assert torch.equal(u, torch.linspace(-1, 1, 28)) and torch.equal(v, u)
    rect = torch.cartesian_prod(torch.linspace(0, 1, 3), torch.linspace(-1, 1, 5))
    assert [len(a) for a in product_axes(rect)] == [3, 5]
    assert product_axes(grid(5)[torch.randperm(25, generator=torch.Generator().manual_seed(0))]) is None
    assert product_axes(torch.rand(25, 2)) is None and product_axes(torch.rand(25, 1)) is None


def test_inr_init_follows_the_authors_code_or_siren():
    """Authors: sine layers U(+-sqrt(6/n_in)/omega), zero bias; the last nn.Linear U(+-1/sqrt(n_in)), bias too."""
    widths = (2, 32, 32, 1)
    authors = WeightSpace.from_flat(init_inrs(range(50), widths), widths)
    siren = WeightSpace.from_flat(init_inrs(range(50), widths, init="siren"), widths)
    for space in (authors, siren):
        for m in (0, 1):
            bound = math.sqrt(6 / widths[m]) / 30
            assert space.weights[m].abs().max() <= bound and space.weights[m].abs().max() > 0.9 * bound
            assert torch.equal(space.biases[m], torch.zeros_like(space.biases[m]))
    bound = 1 / math.sqrt(32)
    assert 0.9 * bound < authors.weights[2].abs().max() <= bound
    assert 0.5 * bound < authors.biases[2].abs().max() <= bound
    assert torch.equal(siren.biases[2], torch.zeros_like(siren.biases[2]))
    assert siren.weights[2].abs().max() <= math.sqrt(6 / 32) / 30
    assert torch.equal(authors.weights[0], siren.weights[0])  # the sine layers draw the same numbers


def test_inr_recipe_settings_fail_clearly():
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        INRRecipe(init="xavier")
    with pytest.raises(ValueError, match="chunk must be a positive number of INRs or 'auto'"):
        INRRecipe(chunk=0)
    with pytest.raises(ValueError, match="chunk must be"):
        INRRecipe(chunk="big")
    with pytest.raises(ValueError, match=r"steps \(0\) must be >= 1"):
        INRRecipe(steps=0)
    assert INRRecipe().chunk_for(torch.device("cpu"), 784) == 2**20 // (784 * 32)
    assert INRRecipe(chunk=7).chunk_for(torch.device("cuda"), 784) == 7


def test_dwsnet_head_is_the_authors_or_an_mlp():
    """Default (authors' code): no BatchNorm after the last DWS layer, the invariant layer maps to the outputs."""
    from weightspace.dws.layers import WSBatchNorm

    widths = (2, 3, 4, 1)
    net = DWSNet(widths, 10, hidden=4, layers=3)
    assert sum(isinstance(m, WSBatchNorm) for m in net.body) == 2 and not isinstance(net.body[-2], WSBatchNorm)
    assert net.invariant.linear.out_features == 10 and isinstance(net.head, torch.nn.Identity)
    mlp = DWSNet(widths, 10, hidden=4, layers=3, head_hidden=8, last_batch_norm=True)
    assert sum(isinstance(m, WSBatchNorm) for m in mlp.body) == 3 and mlp.invariant.linear.out_features == 8
    x = random_space(widths, batch=4).map(lambda t: t.float())
    assert net(x).shape == mlp(x).shape == (4, 10)
    with pytest.raises(ValueError, match="head_hidden must be a positive width or None"):
        DWSNet(widths, 10, head_hidden=0)


def test_two_views_pair_the_clean_mlp_with_an_augmented_one():
    widths = (1, 4, 4, 1)
    flat = random_space(widths, batch=5).flatten().float()
    augment = Augmentation(widths, noise=0.2, noise_kind="authors_shift", dropout=0.5)
    clean = TwoViews(torch.nn.Identity(), augment)(flat)
    assert torch.equal(clean[:5], flat) and not torch.equal(clean[5:], flat)
    both = TwoViews(torch.nn.Identity(), augment, "both_augmented")(flat)
    assert not torch.equal(both[:5], flat)
    with pytest.raises(ValueError, match="unknown view pair 'clean'"):
        TwoViews(torch.nn.Identity(), augment, "clean")
    with pytest.raises(ValueError, match=r"dropout \(1.0\) in \[0, 1\)"):
        Augmentation(widths, dropout=1.0)
    with pytest.raises(ValueError, match="scale must be a range"):
        Augmentation(widths, scale=(1.2, 0.8))


@pytest.mark.parametrize("widths", [(2, 6, 1), (3, 7, 5, 2), (2, 8, 8, 8, 1)])
def test_weight_matching_recovers_a_known_permutation(widths):
    a = random_space(widths, batch=1, seed=4).map(lambda t: t.float())
    perms = a.random_permutations(torch.Generator().manual_seed(5), per_mlp=False)
    b = a.permute(perms)
    found = weight_matching(a, b)
    assert torch.equal(b.permute(found).flatten(), a.flatten())
    assert torch.equal(align_to(a, WeightSpace.cat([b, b])).flatten(), a.flatten().repeat(2, 1))


def test_augmentations_keep_the_function_where_they_should():
    widths = (2, 6, 1)
    space = random_space(widths, batch=4).map(lambda t: t.float())
    flat = space.flatten()
    x = torch.randn(20, 2)
    same = Augmentation(widths, permutation=True)(flat)
    assert torch.allclose(mlp_forward(WeightSpace.from_flat(same, widths), x), mlp_forward(space, x), atol=1e-5)
    torch.manual_seed(0)
    moved = Augmentation(widths, translation=0.3)(flat)  # only b_1 (entries 12:18) changes: b_1 + W_1 t
    assert torch.equal(moved[:, :12], flat[:, :12]) and torch.equal(moved[:, 18:], flat[:, 18:])
    assert (moved[:, 12:18] - flat[:, 12:18]).abs().max() > 1e-4
    rotated = Augmentation(widths, rotation_deg=45)(flat)  # W_1 R: each neuron's input weights keep their norm
    w1, r1 = flat[:, :12].view(4, 6, 2), rotated[:, :12].view(4, 6, 2)
    assert torch.allclose(w1.norm(dim=2), r1.norm(dim=2), atol=1e-5) and not torch.allclose(w1, r1)
    shifted = Augmentation(widths, noise=0.1, noise_kind="authors_shift")(flat)
    assert torch.allclose(shifted, flat + 0.1 * flat.std(dim=1, keepdim=True))
    with pytest.raises(ValueError, match="rotation needs 2-D"):
        Augmentation((3, 4, 1), rotation_deg=45)


def test_normalisation_keeps_invariance():
    widths = (2, 5, 4, 1)
    zoo = random_space(widths, batch=20).map(lambda t: t.float() * 3 + 1).flatten()
    mean, std = orbit_statistics(zoo, widths)
    net = Normalized(DWSNet(widths, 2, hidden=3, layers=1, head_hidden=4), mean, std).eval()
    space = WeightSpace.from_flat(zoo, widths)
    permuted = space.permute(space.random_permutations(torch.Generator().manual_seed(0))).flatten()
    assert (net(permuted) - net(zoo)).abs().max() < 1e-5


@pytest.mark.parametrize("method", METHODS)
def test_every_method_maps_a_batch_and_gets_gradients(method):
    widths = (2, 8, 8, 1)
    model = build(method, widths, 10)
    x = random_space(widths, batch=5).map(lambda t: t.float()).flatten()
    out = model(x)
    assert out.shape == (5, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_float64_weight_spaces_keep_their_dtype_through_to_mlp_augmentation_and_interpolation():
    from weightspace.dws.augment import Augmentation
    from weightspace.neuron_embedding.models import FCNet
    from weightspace.neuron_embedding.transfer import interpolate

    widths = (2, 4, 1)
    space = WeightSpace.from_mlps([make_mlp(widths).double() for _ in range(3)])
    mlp = space.to_mlp(1)
    assert all(p.dtype == torch.float64 for p in mlp.parameters())
    x = torch.randn(5, 2, dtype=torch.float64)
    assert torch.equal(mlp(x), mlp_forward(space, x)[1])
    augment = Augmentation(widths, translation=0.2, rotation_deg=30.0, scale=(0.8, 1.2), dropout=0.1, noise=0.1,
                           permutation=True)
    assert augment(space.flatten(), torch.Generator().manual_seed(0)).dtype == torch.float64
    a, b = FCNet([6, 5, 3]).double(), FCNet([6, 5, 3]).double()
    path = interpolate(a, b, [0.0, 0.5, 1.0])
    assert all(v.dtype == torch.float64 for v in path.values())
    assert all(torch.equal(path[k][2], p.detach()) for k, p in b.named_parameters())
