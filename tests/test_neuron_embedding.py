"""Invariants of the neuron-embedding paper (Sections 3, 4.1-4.3)."""

import pytest
import torch

from weightspace.data import Split
from weightspace.neuron_embedding import (
    FC2_SIZES, FC5_SIZES, TABLE1_MODELS, FCNet, NeuronSet, accuracy_of_states, build, crossover_states,
    embedding_weight, fit_embeddings, interpolate, paper_parameter_count, transplant, weight_mse,
)
from weightspace.neuron_embedding.reference import TABLE1, TABLE2
from weightspace.training import evaluate


@pytest.mark.parametrize("sizes", [FC2_SIZES, FC5_SIZES, (7, 5, 6, 3)])
def test_permuting_hidden_neurons_leaves_outputs_unchanged(sizes):
    # float64: the invariance is exact; in float32 a reordered sum of ~100-sized outputs rounds at 1e-5
    torch.manual_seed(0)
    net = FCNet(sizes, "emb", 16).double()
    x = torch.randn(32, sizes[0], dtype=torch.float64)
    before = net(x)
    for s in net.neurons[1:-1]:
        s.permute_(torch.randperm(s.num))
    assert (net(x) - before).abs().max().item() < 1e-5
    # the same permutation of only the embeddings (not the biases) does change the function
    s = net.neurons[1]
    with torch.no_grad():
        s.embedding.copy_(s.embedding[torch.randperm(s.num)])
    assert (net(x) - before).abs().max().item() > 1e-3


def test_weights_are_the_dot_products_of_eq_2():
    z_in, z_out = torch.randn(5, 3), torch.randn(4, 3)
    w = embedding_weight(z_in, z_out)
    assert w.shape == (4, 5)
    assert torch.allclose(w[2, 1], z_out[2] @ z_in[1])
    assert torch.allclose(embedding_weight(z_in, z_out, torch.tanh), torch.tanh(w))
    with pytest.raises(ValueError, match="dimensions differ"):
        embedding_weight(torch.randn(5, 3), torch.randn(4, 2))


def test_init_has_variance_one_over_d():
    s = NeuronSet(20000, 16)
    assert abs(s.embedding.var().item() - 1 / 16) < 0.005
    u = NeuronSet(20000, 16, init="uniform")
    assert abs(u.embedding.var().item() - 1 / 16) < 0.005


@pytest.mark.parametrize("dim,count", [(64, 76416), (32, 38208), (16, 19104), (8, 9552), (4, 4776)])
def test_embedding_parameter_counts_equal_table_2(dim, count):
    assert paper_parameter_count(FCNet(FC2_SIZES, "emb", dim)) == count


def test_every_table_1_count_equals_the_paper():
    printed = {r.row: r.value for r in TABLE1 if r.metric == "parameters"}
    assert set(printed) == set(TABLE1_MODELS)
    for row, value in printed.items():
        assert paper_parameter_count(build(row)) == value, row
    assert paper_parameter_count(build("fc2-direct")) == 318010
    assert {r.row: r.value for r in TABLE2 if r.metric == "parameters"}["reference"] == 318010


@pytest.mark.parametrize("row", list(TABLE1_MODELS))
def test_table_1_models_run_and_gradients_reach_every_parameter(row):
    model = build(row)
    x = torch.randn(4, 3, 32, 32) if TABLE1_MODELS[row][0] == "cifar10" else torch.randn(4, 1, 28, 28)
    model(x).logsumexp(1).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_model_requests_fail_clearly():
    with pytest.raises(ValueError, match="unknown model"):
        build("vgg")
    with pytest.raises(ValueError, match="convolutions only"):
        FCNet(FC2_SIZES, "sep")
    with pytest.raises(ValueError, match="embedding dimension"):
        FCNet(FC2_SIZES, "emb", None)


def _pair(sizes=(12, 9, 4), seed=0):
    torch.manual_seed(seed)
    return FCNet(sizes, "emb", 6), FCNet(sizes, "emb", 6)


@pytest.mark.parametrize("encoding", ["emb", "direct"])
def test_transplant_fraction_zero_is_the_target_and_one_moves_the_whole_layer(encoding):
    torch.manual_seed(0)
    target, source = FCNet((12, 9, 4), encoding, 6), FCNet((12, 9, 4), encoding, 6)
    states = crossover_states(target, source, [0.0, 1.0], repeats=3)
    for k, v in target.named_parameters():
        assert torch.equal(states[k][:3], v.detach().expand_as(states[k][:3])), k
    moved = ("neurons.1.",) if encoding == "emb" else ("layers.0.",)
    for k, v in target.named_parameters():
        expected = dict(source.named_parameters())[k] if k.startswith(moved) else v
        assert torch.equal(states[k][3:], expected.detach().expand_as(states[k][3:])), k


def test_transplant_moves_exactly_the_chosen_neurons():
    target, source = _pair()
    state = transplant(target, source, 1, torch.tensor([2, 5]))
    changed = (state["neurons.1.embedding"] != target.neurons[1].embedding).any(1)
    assert changed.nonzero().flatten().tolist() == [2, 5]
    with pytest.raises(ValueError, match="hidden layer"):
        transplant(target, source, 0, torch.tensor([0]))


def test_interpolation_endpoints_are_the_two_networks():
    a, b = _pair()
    states = interpolate(a, b, [0.0, 0.5, 1.0])
    for k, v in a.named_parameters():
        assert torch.equal(states[k][0], v.detach())
        assert torch.allclose(states[k][2], dict(b.named_parameters())[k].detach())


def test_vmapped_accuracy_equals_one_model_at_a_time():
    a, b = _pair()
    split = Split(torch.randn(200, 12), torch.randint(0, 4, (200,)))
    states = interpolate(a, b, [0.0, 1.0])
    acc = accuracy_of_states(a, states, split)
    assert acc[0].item() == pytest.approx(evaluate(a, split)[0])
    assert acc[1].item() == pytest.approx(evaluate(b, split)[0])


def test_fitting_eq_4_reproduces_a_network_with_enough_dimensions():
    torch.manual_seed(0)
    reference = FCNet((10, 8, 3), "direct")
    model = FCNet((10, 8, 3), "emb", 10)
    start = weight_mse(model, reference)
    losses = fit_embeddings(model, reference, steps=1500, lr=0.01)
    assert losses[-1] < losses[0] / 100
    assert weight_mse(model, reference) < start / 100
    x = torch.randn(16, 10)
    assert (model(x) - reference(x)).abs().max().item() < 0.05


def test_fitting_with_frozen_inputs_keeps_the_shared_input_embeddings():
    reference = FCNet((10, 8, 3), "direct")
    model = FCNet((10, 8, 3), "emb", 4)
    inputs = model.neurons[0].embedding.detach().clone()
    fit_embeddings(model, reference, steps=20, freeze_inputs=True)
    assert torch.equal(model.neurons[0].embedding, inputs)
    with pytest.raises(ValueError, match="sizes differ"):
        fit_embeddings(FCNet((10, 7, 3), "emb", 4), reference, steps=1)


def test_input_embeddings_can_be_shared_between_models():
    a = FCNet((12, 9, 4), "emb", 6)
    b = FCNet((12, 9, 4), "emb", 6, inputs=a.neurons[0])
    assert b.neurons[0].embedding.data_ptr() == a.neurons[0].embedding.data_ptr()
    assert b.neurons[1].embedding.data_ptr() != a.neurons[1].embedding.data_ptr()
    with pytest.raises(ValueError, match="shared input embeddings are 12 x 6"):
        FCNet((12, 9, 4), "emb", 5, inputs=a.neurons[0])
    with pytest.raises(ValueError, match="only an 'emb' FCNet"):
        FCNet((12, 9, 4), "direct", inputs=a.neurons[0])


def test_reordering_conv_filters_leaves_outputs_unchanged():
    from weightspace.neuron_embedding import BlueprintConv2d

    torch.manual_seed(0)
    net = build("conv-emb").double()
    x = torch.randn(8, 1, 28, 28, dtype=torch.float64)
    before = net(x)
    convs = [m for m in net.features if isinstance(m, BlueprintConv2d)]
    # the filters of every conv but the last (whose channels are flattened into the FC input neurons)
    for conv in convs[:-1]:
        conv.permute_(torch.randperm(conv.depthwise.out_channels))
    assert (net(x) - before).abs().max().item() < 1e-5
    with pytest.raises(TypeError, match="neuron-embedding"):
        [m for m in build("conv-sep").features if isinstance(m, BlueprintConv2d)][0].permute_(torch.arange(40))


def test_interpolating_the_first_hidden_layer_only_moves_its_neurons_alone():
    from weightspace.neuron_embedding.transfer import interpolate, layer_parameters

    for encoding in ("direct", "emb"):
        a, b = FCNet([6, 5, 4, 3], encoding, 4), FCNet([6, 5, 4, 3], encoding, 4)
        path = interpolate(a, b, [0.0, 0.5, 1.0], layer=1)
        moving = set(layer_parameters(a, 1))
        for name, p in a.named_parameters():
            end = dict(b.named_parameters())[name] if name in moving else p
            assert torch.equal(path[name][0], p.detach()) and torch.equal(path[name][2], end.detach()), name
        everything = interpolate(a, b, [1.0])
        assert all(torch.equal(everything[k][0], v.detach()) for k, v in b.named_parameters())
    with pytest.raises(ValueError, match="hidden layer, 1..2; got 3"):
        layer_parameters(a, 3)


@pytest.mark.parametrize("kwargs,message", [
    ({"steps": 0}, "fit steps must be a positive whole number, got 0"),
    ({"lr": float("nan")}, "fit learning rate must be a finite positive number"),
    ({"plateau_factor": 1.5}, "plateau factor must lie in \\(0, 1\\)"),
    ({"plateau_patience": -1}, "plateau patience must be a whole number >= 0"),
])
def test_bad_fit_settings_fail_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_embeddings(FCNet((10, 8, 3), "emb", 4), FCNet((10, 8, 3), "direct"), **{"steps": 1, **kwargs})


def test_the_plateau_schedule_halves_the_learning_rate_after_its_patience():
    torch.manual_seed(0)
    reference, model = FCNet((10, 8, 3), "direct"), FCNet((10, 8, 3), "emb", 1)
    calls = []
    step = torch.optim.Adam.step

    def spy(self, *a, **k):
        calls.append(self.param_groups[0]["lr"])
        return step(self, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.Adam, "step", spy)
        fit_embeddings(model, reference, steps=400, lr=0.5, plateau_factor=0.25, plateau_patience=3)
    assert min(calls) < 0.5 and all(lr in {0.5 * 0.25**k for k in range(40)} for lr in calls)


def test_resnet9_emb_convolutions_form_one_chain_of_sets_through_the_residuals():
    """After ``x + f(x)`` the next convolution reads ``f``'s last set (the summed channels), as the authors' code does:
    the eight convolutions read the nine conv sets pairwise in order, checked against a forward pass written out
    from those sets on CIFAR-shaped data."""
    import torch.nn.functional as F

    from weightspace.neuron_embedding import BlueprintConv2d, ResNet9

    torch.manual_seed(0)
    net = ResNet9("emb", 8).double()
    sets = list(net.neurons)
    assert [s.num for s in sets] == [3, 64, 128, 128, 128, 256, 256, 256, 256, 256, 10]
    convs = [m for m in net.features.modules() if isinstance(m, BlueprintConv2d)]
    assert [(c.pointwise.source, c.pointwise.target) for c in convs] == list(zip(sets[:8], sets[1:9]))
    assert (net.fc.source, net.fc.target) == (sets[9], sets[10])

    def block(h, k, pool=False):
        pointwise = embedding_weight(sets[k].embedding, sets[k + 1].embedding)[:, :, None, None]
        h = torch.relu(F.batch_norm(convs[k].depthwise(F.conv2d(h, pointwise)), None, None, training=True))
        return F.max_pool2d(h, 2) if pool else h

    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    h = block(block(x, 0), 1, pool=True)
    h = h + block(block(h, 2), 3)  # the residual's sum, carried by set 4 into the next convolution
    h = block(block(h, 4, pool=True), 5, pool=True)
    h = h + block(block(h, 6), 7)
    logits = h.mean((2, 3)) @ embedding_weight(sets[9].embedding, sets[10].embedding).T + sets[10].bias
    assert (net(x) - logits).abs().max().item() < 1e-10


def test_no_embedding_fits_below_the_truncated_svd_bound():
    from weightspace.neuron_embedding.compression import low_rank_bound

    torch.manual_seed(0)
    reference = FCNet((40, 20, 3), "direct")
    for d in (2, 5, 10):
        bound = low_rank_bound(reference, d)
        model = FCNet((40, 20, 3), "emb", d)
        assert weight_mse(model, reference) >= bound > 0
        fit_embeddings(model, reference, steps=500, lr=0.01)
        assert weight_mse(model, reference) >= bound, d
    assert low_rank_bound(reference, 20) < 1e-12  # d at every layer's rank: nothing is out of reach
    with pytest.raises(ValueError, match="positive whole number, got 0"):
        low_rank_bound(reference, 0)


def test_the_fit_reaches_the_bound_on_a_network_that_d_dimensional_embeddings_generate():
    from weightspace.neuron_embedding.compression import low_rank_bound

    torch.manual_seed(0)
    generator = FCNet((40, 20, 3), "emb", 5)
    reference = FCNet((40, 20, 3), "direct")
    with torch.no_grad():
        for layer, w in zip(reference.layers, generator.weights()):
            layer.weight.copy_(w)
    assert low_rank_bound(reference, 5) < 1e-12
    model = FCNet((40, 20, 3), "emb", 5)
    fit_embeddings(model, reference, steps=1500, lr=0.01)
    mean_square = sum((w**2).sum() for w in reference.weights()).item() / sum(w.numel() for w in reference.weights())
    assert weight_mse(model, reference) < 1e-5 * mean_square
