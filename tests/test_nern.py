"""NeRN's invariants: sizes of Tables 8/9, permutations, the predictor, losses and optimiser."""

import math

import pytest
import torch

from weightspace.nern import losses, permutation, reference
from weightspace.nern.models import (CifarResNet, FoldedResNet, build, conv_names, feature_modules, kernel_smoothness,
                                     smoothness)
from weightspace.nern.optim import ranger
from weightspace.nern.predictor import KernelLayout, NeRN, gamma, positional_embedding, predictor_size_mb
from weightspace.nern.sizes import size_rows
from weightspace.nern.train import Distiller, NeRNConfig, conv_weights, reconstructed, sample_kernels, train_nern


def _ref(table, row, metric):
    return next(r.value for r in table if r.row == row and r.metric == metric)


def test_resnet18_sizes_equal_the_papers_digits():
    row = size_rows("resnet18", 1000)
    assert round(row["total_mb"], 2) == 44.59
    assert round(row["conv_mb"], 2) == 42.60
    assert round(row["learnable_mb"], 2) == reference.LEARNABLE_RESNET18_MB.value == 41.91
    assert round(row["in_filter_mb"], 3) == 1.246
    assert round(row["cross_filter_mb"], 3) == 2.505
    assert round(row["conv_pct"], 2) == 95.53  # the paper prints 95.54: 42.60 / 44.59 of the rounded sizes
    assert round(row["in_filter_pct"], 2) == 2.79 and round(row["cross_filter_pct"], 2) == 5.62


@pytest.mark.parametrize("arch,classes,task", [("resnet20", 10, "cifar10"), ("resnet56", 10, "cifar10"),
                                               ("resnet20", 100, "cifar100"), ("resnet56", 100, "cifar100")])
def test_cifar_sizes_equal_tables_8_and_9_to_the_printed_precision(arch, classes, task):
    row, key = size_rows(arch, classes), f"{arch}-{task}"
    total, conv = round(row["total_mb"], 2), round(row["conv_mb"], 2)
    assert total == _ref(reference.TABLE8, key, "total_mb") == _ref(reference.TABLE9, key, "total_mb")
    assert conv == _ref(reference.TABLE8, key, "conv_mb")
    # the printed percentages are ratios of the rounded sizes
    assert round(100 * conv / total, 2) == _ref(reference.TABLE8, key, "conv_pct")
    digits = 2 if arch == "resnet20" else 3
    for mode in ("in_filter", "cross_filter"):
        printed = _ref(reference.TABLE9, key, f"{mode}_mb")
        assert round(row[f"{mode}_mb"], digits) == printed
        assert round(100 * printed / total, 2) == _ref(reference.TABLE9, key, f"{mode}_pct")


def test_cifar_resnets_have_option_b_shortcuts_and_the_papers_conv_counts():
    assert len(conv_names(build("resnet20"))) == 21 and len(conv_names(build("resnet56"))) == 57
    assert len(conv_names(build("resnet18"), (3,))) == 16


def test_predictor_sizes_match_the_printed_ones():
    for h, mb in [(240, 0.89), (280, 1.17), (320, 1.48), (360, 1.83), (400, 2.22), (1024, 12.99), (1372, 22.87)]:
        assert round(predictor_size_mb(h), 2) == mb
    assert sum(p.numel() for p in NeRN(KernelLayout.of({"w": torch.randn(4, 2, 3, 3)}), 240).parameters()) * 4 \
        == pytest.approx(predictor_size_mb(240) * 2**20)


@pytest.mark.parametrize("mode", permutation.MODES)
def test_permutation_moves_no_weight_and_a_perfect_predictor_reconstructs_exactly(mode):
    torch.manual_seed(0)
    net = CifarResNet(20, 10, 4, 1).eval()
    names = conv_names(net)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    layout = KernelLayout.of(conv_weights(net, names), mode)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    targets, mask = layout.targets(conv_weights(net, names))
    rebuilt = layout.weights(targets)  # a perfect predictor outputs exactly the targets
    for name in names:
        assert torch.equal(rebuilt[name], before[name])
    x = torch.randn(4, 1, 32, 32)
    assert torch.equal(reconstructed(net, rebuilt)(x), net(x))
    if mode != "none":
        assert not torch.equal(targets, layout.__class__.of(conv_weights(net, names)).targets(
            conv_weights(net, names))[0])


def test_positional_embedding_follows_eq_1():
    v = torch.tensor([0.25])
    g = gamma(v, 0.76, 40)
    assert g.shape == (1, 80)
    assert g[0, 2 * 3] == pytest.approx(math.sin(0.76**3 * math.pi * 0.25), abs=1e-6)
    assert g[0, 2 * 3 + 1] == pytest.approx(math.cos(0.76**3 * math.pi * 0.25), abs=1e-6)
    pe = positional_embedding(torch.tensor([[0.1, 0.2, 0.3]]))
    assert pe.shape == (1, 240) and torch.allclose(pe[0, 80:160], gamma(torch.tensor([0.2]))[0])


def test_coordinates_are_the_integer_indices_or_normalised_per_layer():
    layout = KernelLayout.of({"a": torch.randn(2, 3, 3, 3), "b": torch.randn(4, 2, 1, 1)})
    coords = layout.coordinates()  # the paper's (l, f, c): Section 3.1, Fig. 8's c in 0..63
    assert coords.shape == (14, 3)
    assert coords[5].tolist() == [0.0, 1.0, 2.0] and coords[-1].tolist() == [1.0, 3.0, 1.0]
    normalised = layout.coordinates("normalised")
    assert normalised[5].tolist() == pytest.approx([0.0, 0.5, 2 / 3])
    assert normalised[-1].tolist() == pytest.approx([0.5, 0.75, 0.5])
    nern = NeRN(layout, 8, indices="integer")
    assert torch.equal(nern.embedding, positional_embedding(coords))
    with pytest.raises(ValueError, match="indices"):
        layout.coordinates("global")


def test_one_by_one_kernels_are_the_centre_of_the_prediction():
    layout = KernelLayout.of({"a": torch.randn(2, 2, 1, 1)})
    kernels = torch.arange(4 * 9, dtype=torch.float).reshape(4, 3, 3)
    assert layout.weights(kernels)["a"].flatten().tolist() == [4.0, 13.0, 22.0, 31.0]


def test_distillation_gradients_reach_the_predictor():
    torch.manual_seed(0)
    net = CifarResNet(20, 10, 4, 1).eval().requires_grad_(False)
    nern = NeRN(KernelLayout.of(conv_weights(net, conv_names(net)), "cross"), 16)
    pred = nern.sampled(torch.arange(50))
    kd, fmd = Distiller(net)(nern.layout.weights(pred), torch.randn(4, 1, 32, 32))
    for loss in (kd, fmd):
        grads = torch.autograd.grad(loss, list(nern.parameters()), retain_graph=True)
        assert all(g.abs().sum() > 0 for g in grads)


def test_each_kernel_is_predicted_once_and_only_the_sampled_carry_gradients():
    torch.manual_seed(0)
    nern = NeRN(KernelLayout.of({"a": torch.randn(6, 5, 3, 3)}), 8)
    index = torch.tensor([3, 17, 4])
    pred = nern.sampled(index)
    assert torch.allclose(pred, nern(), atol=1e-6)
    grad = torch.autograd.grad(pred.sum(), pred, retain_graph=True)[0]  # the graph reaches only the sampled rows
    weight = torch.autograd.grad(pred.sum(), nern.predictor.net[0].weight)[0]
    assert torch.allclose(weight, torch.autograd.grad(nern(index).sum(), nern.predictor.net[0].weight)[0], atol=1e-6)
    assert grad.shape == pred.shape


@pytest.mark.parametrize("maps", ["paper", "authors"])
def test_folded_network_equals_the_module_with_hooks(maps):
    torch.manual_seed(0)
    net = CifarResNet(20, 10, 4, 1)
    with torch.no_grad():  # non-trivial BN statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2), m.weight.uniform_(0.5, 1.5)
    net.eval()
    x = torch.randn(3, 1, 32, 32)
    folded = FoldedResNet(net, maps)
    logits, fmaps = folded({n: p for n, p in net.named_parameters() if n in folded.convs}, x)
    with losses.capture(net, feature_modules(net, maps)) as hooked, torch.no_grad():
        expected = net(x)
    assert torch.allclose(logits, expected, atol=1e-5, rtol=1e-5)
    assert len(fmaps) == len(hooked) == 1 + 3 * 9
    assert all((a - b).abs().max() <= 1e-5 * b.abs().max() for a, b in zip(fmaps, hooked))  # float32 rounding
    if maps == "authors":  # the in-place add: the second map of every block is the sum
        assert torch.equal(fmaps[2], fmaps[3])
    with pytest.raises(ValueError, match="eval mode"):
        FoldedResNet(net.train())


def test_fast_fmd_equals_normalise_and_subtract_and_kd_eps_is_the_authors():
    torch.manual_seed(0)
    s = [torch.randn(4, 3, 5, 5, requires_grad=True), torch.randn(4, 2, 3, 3, requires_grad=True)]
    t = [torch.randn(4, 3, 5, 5), torch.randn(4, 2, 3, 3)]
    direct = sum((torch.nn.functional.normalize(a.flatten(1), dim=1) - torch.nn.functional.normalize(
        b.flatten(1), dim=1)).pow(2).sum() for a, b in zip(s, t)) / 4
    fast = losses.feature_distillation(s, t)
    assert fast.item() == pytest.approx(direct.item(), rel=1e-5)
    for g1, g2 in zip(torch.autograd.grad(fast, s), torch.autograd.grad(direct, s)):
        assert torch.allclose(g1, g2, atol=1e-6)
    a, b = torch.randn(6, 10), torch.randn(6, 10)
    stable = torch.nn.functional.kl_div((a.softmax(1) + 1e-4).log(), b.softmax(1), reduction="batchmean")
    assert losses.knowledge_distillation(a, b, 1e-4).item() == pytest.approx(stable.item(), rel=1e-5)
    with pytest.raises(ValueError, match="kd_eps"):
        losses.knowledge_distillation(a, b, -1.0)


def test_losses_follow_the_equations():
    p, t = torch.zeros(2, 3, 3), torch.ones(2, 3, 3)
    assert losses.reconstruction(p, t).item() == pytest.approx(1.0)
    logits = torch.randn(5, 10)
    assert losses.knowledge_distillation(logits, logits).item() == pytest.approx(0.0, abs=1e-6)
    a = [torch.randn(4, 2, 3, 3)]
    assert losses.feature_distillation(a, [2 * a[0]]).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("sampling,size,replacement", [("uniform", 64, False), ("weighted", 64, False),
                                                        ("weighted", 64, True), ("all", None, False)])
def test_weight_sampling_sizes(sampling, size, replacement):
    nern = NeRN(KernelLayout.of({"a": torch.randn(16, 16, 3, 3), "b": torch.randn(8, 16, 1, 1)}), 8)
    cfg = NeRNConfig(sampling=sampling, kernel_batch=64, replacement=replacement, p_uniform=0.0)
    norms = torch.rand(nern.layout.num_kernels)
    idx = sample_kernels(cfg, nern, norms, torch.Generator().manual_seed(0))
    if size is None:
        assert idx is None
    elif replacement:  # the authors' draw: repeats are kept once
        assert 0 < len(idx) <= size and len(set(idx.tolist())) == len(idx)
    else:
        assert len(idx) == size and len(set(idx.tolist())) == size
    layer = sample_kernels(NeRNConfig(sampling="layer"), nern, torch.rand(384), torch.Generator().manual_seed(1))
    assert len(layer) in (256, 128)


def test_weighted_sampling_with_replacement_follows_the_magnitudes():
    nern = NeRN(KernelLayout.of({"a": torch.randn(4, 4, 3, 3)}), 8)
    cfg = NeRNConfig(kernel_batch=4, p_uniform=0.0, replacement=True)
    norms = torch.tensor([100.0] + [1e-6] * 15)
    for seed in range(5):
        assert sample_kernels(cfg, nern, norms, torch.Generator().manual_seed(seed)).tolist() == [0]


def test_selection_reports_the_final_or_the_best_evaluation():
    torch.manual_seed(0)
    net = CifarResNet(8, 10, 4, 1).eval()
    scores = iter([10.0, 30.0, 20.0])
    out = {}
    for selection in ("final", "best"):
        scores = iter([10.0, 30.0, 20.0])
        cfg = NeRNConfig(hidden=8, steps=3, batch_size=2, kernel_batch=16, eval_every=1, selection=selection)
        out[selection] = train_nern(net, NeRN(KernelLayout.of(conv_weights(net, conv_names(net))), 8), cfg,
                                    lambda step: torch.randn(2, 1, 32, 32), lambda m: next(scores))
    assert (out["final"].accuracy, out["best"].accuracy) == (20.0, 30.0)
    assert out["final"].best_accuracy == 30.0 and out["best"].final_accuracy == 20.0


@pytest.mark.parametrize("foreach", [True, False])
def test_ranger_syncs_slow_weights_every_k_steps(foreach):
    p = torch.nn.Parameter(torch.zeros(3))
    opt = ranger([p], lr=0.1, k=2, alpha=0.5, foreach=foreach)
    for step in range(2):
        p.grad = torch.ones(3)
        opt.step()
        if step == 0:
            fast = p.detach().clone()
    assert torch.allclose(opt._slow[0][0], p.detach())
    assert not torch.allclose(p.detach(), fast)


def test_multi_tensor_ranger_equals_the_one_tensor_loop():
    torch.manual_seed(0)
    runs = []
    for foreach in (True, False):
        params = [torch.nn.Parameter(t.clone()) for t in (torch.ones(3, 2), torch.arange(4.0))]
        opt = ranger(params, foreach=foreach)
        for step in range(13):
            for i, p in enumerate(params):
                p.grad = torch.sin(p.detach() * (step + 1) + i)
            opt.step()
        runs.append([p.detach() for p in params])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*runs))


def test_smoothness_regulariser_is_eq_6():
    w = torch.randn(3, 4, 3, 3)
    cos = lambda a, b: 1 - torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)  # noqa
    expected = sum(cos(w[f, c], w[f + 1, c]) for f in range(2) for c in range(4)) + \
        sum(cos(w[f, c], w[f, c + 1]) for f in range(3) for c in range(3))
    assert kernel_smoothness(w).item() == pytest.approx(expected.item(), rel=1e-5)
    net = CifarResNet(20, 10, 4, 1)
    assert smoothness(net).requires_grad and smoothness(net).item() > 0


def test_bad_inputs_fail_clearly():
    with pytest.raises(ValueError, match="unknown architecture"):
        build("vgg16")
    with pytest.raises(ValueError, match="depth 6n"):
        CifarResNet(21)
    with pytest.raises(ValueError, match="unknown permutation"):
        permutation.order(torch.randn(2, 2, 3, 3), "diagonal")
    with pytest.raises(ValueError, match="7x7"):
        KernelLayout.of({"stem": torch.randn(4, 3, 7, 7)})
    with pytest.raises(ValueError, match="unknown sampling"):
        NeRNConfig(sampling="magnitude")
    with pytest.raises(ValueError, match="no loss"):
        NeRNConfig(recon=False, alpha=0, beta=0)


def test_predictor_pruning_zeroes_the_smallest_weights():
    from weightspace.nern.applications import prune_predictor

    nern = NeRN(KernelLayout.of({"a": torch.randn(4, 4, 3, 3)}), 16)
    pruned = prune_predictor(nern, 0.5)
    weights = [m.weight for m in pruned.predictor.modules() if isinstance(m, torch.nn.Linear)]
    zeros = sum((w == 0).sum().item() for w in weights)
    total = sum(w.numel() for w in weights)
    assert abs(zeros - total // 2) <= 1
    assert all((m.weight != 0).all() for m in nern.predictor.modules() if isinstance(m, torch.nn.Linear))
    with pytest.raises(ValueError, match="fraction"):
        prune_predictor(nern, 1.0)


def test_filter_errors_and_pruning_by_score():
    from weightspace.nern.applications import filter_errors, prune_by_score

    w = torch.ones(3, 2, 3, 3)
    rec = w.clone()
    rec[1] *= 1.5
    assert filter_errors(w, rec).tolist() == pytest.approx([0.0, 0.5, 0.0])
    net = CifarResNet(8, 10, 4, 1)
    names = conv_names(net)
    weights = conv_weights(net, names)
    rebuilt = {n: v + 0.01 * torch.randn_like(v) for n, v in weights.items()}
    for score in ("reconstruction", "magnitude", "random"):
        pruned = prune_by_score(net, weights, rebuilt, 0.25, score, torch.Generator().manual_seed(0))
        params = dict(pruned.named_parameters())
        zeroed = sum((params[n] == 0).sum().item() for n in names)
        assert zeroed == int(0.25 * sum(v.numel() for v in weights.values()))
    magnitude = dict(prune_by_score(net, weights, rebuilt, 0.25, "magnitude").named_parameters())
    kept = torch.cat([magnitude[n].detach().abs().flatten() for n in names])
    dropped = torch.cat([weights[n].abs().flatten() for n in names])[kept == 0]
    assert dropped.max() <= kept[kept > 0].min()


def test_nern_settings_are_checked_with_the_setting_named():
    for bad, match in (({"indices": "global"}, "indices"), ({"fmd_maps": "both"}, "fmd_maps"),
                       ({"selection": "mean"}, "selection"), ({"p_uniform": 1.5}, "p_uniform"),
                       ({"kd_eps": -1e-4}, "kd_eps"), ({"warmup": 10, "steps": 5}, "warmup"),
                       ({"eval_every": 0}, "eval_every")):
        with pytest.raises(ValueError, match=match):
            NeRNConfig(**bad)
    line = NeRNConfig().summary()
    assert "68,600 iterations" in line and "with replacement" in line and "integer indices" in line


def test_the_bench_baseline_and_ours_train_the_same_objective():
    from weightspace.nern.bench import authors_step, iteration, ours

    a, b = iteration(True, "resnet20", 8, 4), iteration(False, "resnet20", 8, 4)
    for it, step in ((a, ours), (b, authors_step)):
        step(it)
    for p, q in zip(a.nern.parameters(), b.nern.parameters()):  # one step from the same start, same sample
        assert torch.allclose(p, q, atol=1e-5)


def test_the_bench_floor_runs_every_convolution_of_the_step_forward_and_backward():
    from weightspace.nern.bench import Convolutions, convolutions, iteration

    c = Convolutions.of(iteration(True, "resnet20", 8, 4))
    reached = set()
    for name, leaf in c.student.items():
        leaf.register_hook(lambda grad, name=name: reached.add(name))
    convolutions(c)
    assert reached == set(c.folded.convs) and len(reached) == 21  # the stem, 18 3x3 convs and 2 shortcuts
    assert all(not w.requires_grad for w in c.teacher.values())


def test_the_gpu_time_counts_one_paper_time_per_nern_fit():
    from weightspace.nern import reference

    assert reference.gpu_hours("nern.cifar10").startswith("about 24-72 GPU-hours per seed (24 NeRN fits")
    assert "training 2 originals for 78,000 SGD steps" in reference.gpu_hours("nern.cifar10")
    imagenet = reference.gpu_hours("nern.imagenet")
    assert imagenet.startswith("about 160-240 GPU-hours per seed (8 NeRN fits at the paper's 20-30 hours")
    assert "original" not in imagenet, "the ImageNet original is torchvision's, loaded and never trained"
