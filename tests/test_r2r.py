"""The R2R report's invariants: exact function preservation, promised parameter counts, broken symmetry,
parameter sharing in neuroevolution, co-evolution selection."""

import copy

import pytest
import torch
import torch.nn.functional as F

from weightspace.data import Split
from weightspace.r2r import (BlockSpec, HierarchicalEnsemble, NEConfig, NetSpec, StageSpec, base_spec, build,
                             degrees_of_freedom, joint_train, mutate, net2_deeper_net, net2_wider_net,
                             neuroevolution, parameter_count, r2_deeper_r, r2_wider_r, rescaled, section52_spec,
                             select_best, select_coevolution, training_flops)
from weightspace.r2r.evolution import Member, mutate_population, optimizers_for, random_mutation, shared_parameters
from weightspace.r2r.growing import deepen_all, fresh, net2deeper_all, net2wider_all, widen_all
from weightspace.r2r.networks import randomize_batch_norm
from weightspace.r2r.transforms import nearest_branch, new_weight_std
from weightspace.training import TrainConfig

KERNELS = (1, 3, 5)


def random_net(kernel, seed=0):
    """A random residual network: plain units, two residual blocks with two-unit branches, a widening block."""
    torch.manual_seed(seed)
    spec = NetSpec(3, 8, (
        StageSpec(6, convs=(kernel, kernel), blocks=(BlockSpec((4, 6), (kernel, kernel)), BlockSpec((4,), (kernel,)))),
        StageSpec(8, blocks=(BlockSpec((4, 4), (kernel, kernel)),)),
    ), fc=16)
    net = build(spec).double()
    return randomize_batch_norm(net)


def branch_units(net):
    """Every (stage, block, unit) conv unit inside a residual branch."""
    return [(s, b, u) for s, st in enumerate(net.stages) for b, blk in enumerate(st.blocks)
            for u in range(len(blk.branches[0].units))]


def max_diff(teacher, student, x):
    teacher.eval(), student.eval()
    with torch.no_grad():
        return (teacher(x) - student(x)).abs().max().item()


def inputs(n=4):
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


@pytest.mark.parametrize("kernel", KERNELS)
def test_r2_wider_r_preserves_the_function_everywhere(kernel):
    net, x = random_net(kernel), inputs()
    g = torch.Generator().manual_seed(0)
    for s, st in enumerate(net.stages):
        for b in range(len(st.blocks)):
            for k in KERNELS:
                student = r2_wider_r(net, s, b, 6, k, mode="parallel", generator=g)
                assert max_diff(net, student, x) < 1e-5
    for s, b, u in branch_units(net):
        student = r2_wider_r(net, s, b, 4, mode="concat", unit=u, generator=g)
        assert max_diff(net, student, x) < 1e-5
        assert student.stages[s].blocks[b].branches[0].units[u].out_channels == \
            net.stages[s].blocks[b].branches[0].units[u].out_channels + 4


@pytest.mark.parametrize("kernel", KERNELS)
def test_r2_deeper_r_preserves_the_function_at_every_depth(kernel):
    net, x = random_net(kernel), inputs()
    g = torch.Generator().manual_seed(0)
    for s, st in enumerate(net.stages):
        for pos in range(len(st.blocks) + 1):
            student = r2_deeper_r(net, s, pos, 4, kernel, generator=g)
            assert len(student.stages[s].blocks) == len(st.blocks) + 1
            assert max_diff(net, student, x) < 1e-5


@pytest.mark.parametrize("kernel", KERNELS)
def test_net2net_preserves_the_function_everywhere(kernel):
    net, x = random_net(kernel), inputs()
    g = torch.Generator().manual_seed(0)
    for s, b, u in branch_units(net):
        width = net.stages[s].blocks[b].branches[0].units[u].out_channels
        assert max_diff(net, net2_wider_net(net, s, b, width + 5, unit=u, generator=g), x) < 1e-5
        assert max_diff(net, net2_deeper_net(net, s, u, block=b, batch=inputs(6)), x) < 1e-5
    for u in range(len(net.stages[0].convs)):
        assert max_diff(net, net2_deeper_net(net, 0, u, batch=inputs(6)), x) < 1e-5
        assert max_diff(net, net2_deeper_net(net, 0, u), x) < 1e-5


def test_random_padding_changes_the_function():
    net, x = random_net(3), inputs()
    assert max_diff(net, r2_wider_r(net, 0, 0, 4, mode="concat", new="random"), x) > 1e-3
    assert max_diff(net, r2_deeper_r(net, 1, 1, 4, new="random"), x) > 1e-3


def test_the_section_5_2_base_and_teachers_have_the_authors_structure_and_parameter_counts():
    # CIFAR-10 (32x32x3), streams 16/32/64, FC 128: every stage one residual block whose branch is conv-BN-ReLU
    # twice and an R2R block (conv-BN-ReLU -> 1x1), the skip around all three, then a 2x2 max-pool
    base, wide, deep = (build(section52_spec()), build(section52_spec(hidden=1.0)), build(section52_spec(depth=2)))
    for net, inner, branched in ((base, (32, 64, 128), 3), (wide, (16, 32, 64), 3), (deep, (32, 64, 128), 2)):
        assert [len(s.blocks) for s in net.stages] == [1, 1, 1] and all(s.pool and not s.convs for s in net.stages)
        assert [(s.in_channels, s.out_channels) for s in net.stages] == [(3, 16), (16, 32), (32, 64)]
        for i, (stage, w) in enumerate(zip(net.stages, inner)):
            branches = stage.blocks[0].branches
            if i >= branched:  # the deepening teacher's third block: the zero padding of the stream, no branch
                assert len(branches) == 0
                continue
            (branch,) = branches
            assert [(u.out_channels, u.kernel) for u in branch.units] == [(w, 3)] * 3
            assert (branch.proj.in_channels, branch.proj.out_channels, branch.proj.kernel_size) == \
                (w, stage.out_channels, (1, 1))
        assert (net.head[1].in_features, net.head[1].out_features, net.head[3].out_features) == (1024, 128, 10)
    # the authors' counts (no conv biases; BN and FC parameters counted): base 578,602, widening teacher 258,778
    assert (parameter_count(base), parameter_count(wide), parameter_count(deep)) == (578_602, 258_778, 237_866)


def _section52_nets():
    kw = {"widths": (4, 6, 8), "fc": 16}
    return (section52_spec(3, 8, **kw), section52_spec(3, 8, hidden=1.0, **kw), section52_spec(3, 8, depth=2, **kw))


@pytest.mark.parametrize("which", ["r2wider", "net2wider", "r2deeper", "net2deeper", "random"])
def test_the_section_5_2_teachers_grow_into_the_base_network_preserving_the_function(which):
    base, wide_spec, deep_spec = _section52_nets()
    teacher_spec = wide_spec if "wider" in which else deep_spec
    torch.manual_seed(0)
    teacher = randomize_batch_norm(build(teacher_spec).double())
    data = type("D", (), {"train": Split(inputs(8), torch.zeros(8, dtype=torch.long))})()
    transform = {"r2wider": widen_all(wide_spec, base), "net2wider": net2wider_all(base),
                 "r2deeper": deepen_all(deep_spec, base), "net2deeper": net2deeper_all(),
                 "random": deepen_all(deep_spec, base, new="random")}[which]
    student = transform(teacher, data, torch.Generator().manual_seed(0))
    if which != "net2deeper":  # Net2DeeperNet cannot add a branch: it deepens the branches there are
        assert [p.shape for p in student.parameters()] == [p.shape for p in build(base).parameters()]
    if which == "random":
        assert max_diff(teacher, student, inputs()) > 1e-3
    else:
        assert max_diff(teacher, student, inputs()) < 1e-10


@pytest.mark.parametrize("kernel", KERNELS)
def test_r2_deeper_r_into_an_identity_block_preserves_the_function(kernel):
    torch.manual_seed(0)
    net = randomize_batch_norm(build(section52_spec(3, 8, (4, 6, 8), 16, depth=1, kernel=kernel)).double())
    for s in (1, 2):
        student = r2_deeper_r(net, s, 0, (6, 6, 6), kernel, into_identity=True, generator=torch.Generator())
        assert len(student.stages[s].blocks[0].branches) == 1
        assert max_diff(net, student, inputs()) < 1e-10
    with pytest.raises(ValueError, match="into_identity"):
        r2_deeper_r(net, 0, 0, 4, into_identity=True)


def test_parameter_counts_are_what_the_transforms_promise():
    net = random_net(3)
    before = parameter_count(net)
    # parallel R2R block, hidden h, kernel k, on a block c_in -> c_out: h*c_in*k*k (conv) + 2h (BN) + c_out*h (1x1)
    for k in KERNELS:
        h, cin, cout = 6, 6, 8  # stage 1, block 0 maps 6 -> 8 channels
        grown = r2_wider_r(net, 1, 0, h, k)
        new = parameter_count(grown) - before
        assert new == h * cin * k * k + 2 * h + cout * h
        assert degrees_of_freedom("r2r", new) == new // 2
    # concatenation on unit 0 (3x3, 6 -> 4 channels) of block 0, whose consumer is a 3x3 unit 4 -> 6
    grown = r2_wider_r(net, 0, 0, 2, mode="concat", unit=0)
    assert parameter_count(grown) - before == 2 * 6 * 9 + 2 * 2 + 6 * 2 * 9
    # deepening inserts a block of width c: h*c*k*k + 2h + c*h
    assert parameter_count(r2_deeper_r(net, 0, 2, 4, 5)) - before == 4 * 6 * 25 + 8 + 6 * 4
    # Net2WiderNet by m channels on the last unit (4 -> 4 + m) of block 1: m*6*9 + 2m + 6*m
    assert parameter_count(net2_wider_net(net, 0, 1, 7)) - before == 3 * 6 * 9 + 6 + 6 * 3
    # Net2DeeperNet inserts a c -> c unit: c*c*k*k + 2c
    assert parameter_count(net2_deeper_net(net, 0, 0)) - before == 6 * 6 * 9 + 12
    assert degrees_of_freedom("net2net", 123) == 0


def _train_step(net, lr=0.01):
    torch.manual_seed(3)
    x, y = inputs(16), torch.randint(0, 10, (16,))
    opt = torch.optim.Adam([p for p in net.parameters()], lr=lr)
    net.train()
    F.cross_entropy(net(x), y).backward()
    opt.step()


@pytest.mark.parametrize("where", ["parallel", "concat", "deeper"])
def test_training_breaks_the_r2r_symmetry(where):
    net = random_net(3)
    if where == "parallel":  # a new 6-channel branch on block 0 of stage 1 (6 -> 8 channels)
        student = r2_wider_r(net, 1, 0, 6, 3)
        z, rows = student.stages[1].blocks[0].branches[-1], slice(0, 6)
    elif where == "concat":  # 6 channels appended to the last unit (4 wide) of that block's branch
        student = r2_wider_r(net, 1, 0, 6, mode="concat")
        z, rows = student.stages[1].blocks[0].branches[0], slice(4, 10)
    else:  # a new 8-channel block at the end of stage 1
        student = r2_deeper_r(net, 1, 1, 6, 3)
        z, rows = student.stages[1].blocks[1].branches[0], slice(0, 6)
    w, v = z.units[-1].conv.weight[rows], z.proj.weight[:, rows]
    assert torch.equal(w[:3], w[3:]) and torch.equal(v[:, :3], -v[:, 3:])
    before = [t.detach().clone() for t in (w, v)]
    _train_step(student)
    w, v = z.units[-1].conv.weight[rows], z.proj.weight[:, rows]
    assert not torch.equal(w, before[0]) and not torch.equal(v, before[1]), "the new parameters train"
    assert (w[:3] - w[3:]).abs().max() > 1e-4, "the two copies of W must diverge"
    assert (v[:, :3] + v[:, 3:]).abs().max() > 1e-4, "beta and -beta must stop cancelling"
    if where != "concat":
        student.eval()
        with torch.no_grad():
            assert z(torch.ones(2, z.in_channels, 6, 6, dtype=torch.float64)).abs().max() > 1e-6, \
                "the new block no longer outputs zero"


def test_net2wider_replicas_stay_symmetric_without_noise_and_split_with_it():
    for noise, symmetric in ((0.0, True), (0.1, False)):
        net = random_net(3)
        g = torch.Generator().manual_seed(0)
        student = net2_wider_net(net, 1, 0, 8, unit=0, noise=noise, generator=g)  # unit 0: 4 -> 8 channels
        unit = student.stages[1].blocks[0].branches[0].units[0]
        before = unit.conv.weight.detach().clone()
        _train_step(student)
        assert not torch.equal(before[4:], unit.conv.weight[4:]), "the new parameters train"
        # every new channel j copies some old channel c: find it and compare after the step
        match = [int((before[:4] - before[j]).flatten(1).abs().sum(1).argmin()) for j in range(4, 8)]
        diffs = [(unit.conv.weight[j] - unit.conv.weight[c]).abs().max().item() for j, c in zip(range(4, 8), match)]
        assert (max(diffs) < 1e-12) == symmetric


def test_rescaled_learning_rate_is_the_parameter_ratio():
    net = random_net(3)
    student = r2_deeper_r(net, 0, 0, 4)
    cfg = rescaled(TrainConfig(steps=1, batch_size=1, lr=0.003, weight_decay=1e-6), net, student)
    ratio = parameter_count(net) / parameter_count(student)
    assert cfg.lr == pytest.approx(0.003 * ratio) and cfg.weight_decay == pytest.approx(1e-6 * ratio)


def test_child_shares_parent_storage_and_trains_it():
    torch.manual_seed(0)
    parent = build(base_spec(1, 12, (4, 8), 16))
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        child, mutation = mutate(parent, g)
        parent_ptrs = {p.data_ptr() for p in parent.parameters()}
        child_ptrs = {p.data_ptr() for p in child.parameters()}
        assert parent_ptrs <= child_ptrs, f"{mutation}: the child must hold every parent tensor"
        assert len(child_ptrs) > len(parent_ptrs)
    before = {n: p.detach().clone() for n, p in parent.named_parameters()}
    x, y = torch.randn(8, 1, 12, 12), torch.randint(0, 10, (8,))
    split = Split(x, y)
    cfg = TrainConfig(steps=1, batch_size=8, lr=0.01)
    joint_train([child], optimizers_for([Member(child, "c", cfg)], "per_model", cfg), split, 1, 8, seed=0,
                generator=g)
    changed = [n for n, p in parent.named_parameters() if not torch.equal(before[n], p)]
    assert len(changed) == len(before), "a step on the child moves every shared parent tensor"


def test_mutations_respect_the_locality_threshold():
    torch.manual_seed(0)
    net = build(base_spec(1, 12, (4, 8), 16))
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        child, _ = mutate(net, g, tau=0.9)
        assert parameter_count(net) / parameter_count(child) > 0.9
    with pytest.raises(RuntimeError, match="tau"):
        mutate(net, g, tau=0.999, max_tries=3)
    with pytest.raises(ValueError, match="tau"):
        mutate(net, g, tau=1.5)


def test_coevolution_picks_the_model_right_where_the_first_is_wrong():
    # model 0 is best; model 1 is right on the same examples as 0 plus one; model 2 is right exactly where 0 is wrong
    correct = torch.tensor([
        [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 1, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1, 1, 1, 1],
    ], dtype=torch.bool)
    assert select_best(correct, 2) == [0, 1]
    assert select_coevolution(correct, 2) == [0, 2]
    assert select_coevolution(correct, 3) == [0, 2, 1]


def test_flop_counter_sees_the_growth():
    net = build(base_spec(1, 12, (4, 8), 16))
    before = training_flops(net, (1, 12, 12), 4)
    wide = r2_wider_r(net, 1, 0, 8, 5)
    assert training_flops(wide, (1, 12, 12), 4) > before > 0
    # one 5x5 conv 4 -> 8 at 6x6 adds 2*8*4*25*36 FLOPs per image forward
    conv_forward = 2 * 8 * 4 * 25 * 36 * 4
    assert training_flops(wide, (1, 12, 12), 4) - before >= conv_forward


def test_neuroevolution_runs_and_ensemble_trains_only_its_head():
    torch.manual_seed(0)
    x, y = torch.randn(96, 1, 12, 12), torch.randint(0, 3, (96,))
    train, val = Split(x[:64], y[:64]), Split(x[64:], y[64:])
    spec = NetSpec(1, 12, base_spec(1, 12, (4, 8), 8).stages, fc=8, num_classes=3)
    cfg = TrainConfig(steps=1, batch_size=16, lr=0.01, schedule="constant")
    out = neuroevolution(build(spec), train, val, NEConfig(4, 4, 2, 4, 2, tau=0.5), cfg, selection="coevolution")
    assert len(out.selected) == 2 and len(out.history) == 3
    assert all(len(h["population"]) == (1 if i == 0 else 4) for i, h in enumerate(out.history))
    ens = HierarchicalEnsemble([m.net for m in out.selected], num_classes=3, hidden=8)
    ens.zero_grad(set_to_none=True)
    ens(x[:4]).sum().backward()
    with_grad = [p for p in ens.parameters() if p.grad is not None]
    assert sum(p.numel() for p in with_grad) == (6 * 8 + 8) + (8 * 3 + 3)  # only the head learns
    assert all(p.requires_grad for m in out.selected for p in m.net.parameters())  # the population stays trainable
    ens.train()
    assert not any(m.training for m in ens.members.modules())
    assert shared_parameters([m.net for m in out.selected])


def test_bad_input_fails_clearly():
    net = random_net(3)
    with pytest.raises(ValueError, match="odd"):
        r2_wider_r(net, 0, 0, 4, 2)
    with pytest.raises(ValueError, match="even"):
        r2_wider_r(net, 0, 0, 3)
    with pytest.raises(IndexError, match="stage 5"):
        r2_deeper_r(net, 5, 0, 4)
    with pytest.raises(ValueError, match="cannot take"):
        r2_wider_r(net, 0, 0, 4, 5, mode="concat")
    with pytest.raises(ValueError, match="must add channels"):
        net2_wider_net(net, 0, 0, 2)
    with pytest.raises(ValueError, match="unknown"):
        r2_wider_r(net, 0, 0, 4, new="zeros")


def test_base_network_is_the_report_fig9():
    net = build(base_spec())  # CIFAR-10: 3 -> 16 (hidden 8) -> 32 (16) -> 64 (32), FC 1024 -> 128 -> 10
    assert [(s.in_channels, s.out_channels, s.blocks[0].branches[0].units[0].out_channels) for s in net.stages] == \
        [(3, 16, 8), (16, 32, 16), (32, 64, 32)]
    assert all(s.blocks[0].branches[0].units[0].kernel == 3 and s.pool for s in net.stages)
    assert (net.head[1].in_features, net.head[1].out_features, net.head[3].out_features) == (1024, 128, 10)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_fresh_networks_start_with_zero_branches():
    # the report's blocks are R2R blocks, zero by construction (Section 3.1); the authors' code starts Fig. 9 so
    net = fresh(base_spec(1, 12, (4, 8), 16), 0, torch.device("cpu")).eval()
    x = torch.randn(3, 1, 12, 12)
    with torch.no_grad():
        for stage in net.stages:
            for branch in stage.blocks[0].branches:
                assert branch(torch.randn(3, branch.in_channels, 6, 6)).abs().max() < 1e-6
        h = x
        for stage in net.stages:  # the network is its residual streams: pad and pool into the head
            h = torch.nn.functional.max_pool2d(torch.nn.functional.pad(h, (0, 0, 0, 0, 0, stage.out_channels
                                                                                - h.shape[1])), 2)
        assert torch.allclose(net(x), net.head(h), atol=1e-5)
    default = fresh(base_spec(1, 12, (4, 8), 16), 0, torch.device("cpu"), zero_init=False).eval()
    with torch.no_grad():
        assert default.stages[0].blocks[0].branches[0](torch.randn(2, 1, 6, 6)).abs().max() > 0


def test_new_weights_are_drawn_by_the_chosen_rule():
    shape = (64, 32, 3, 3)
    existing = torch.randn(64, 16, 3, 3) * 0.048
    assert new_weight_std("match", shape, existing) == pytest.approx(float(existing.std()))  # the report
    assert new_weight_std("authors", shape, existing) == pytest.approx(0.5 * float(existing.std()))  # their code
    assert new_weight_std("he", shape, existing) == pytest.approx((2 / (32 * 9)) ** 0.5)
    assert new_weight_std("match", shape, None) == pytest.approx((2 / (32 * 9)) ** 0.5)
    assert new_weight_std("authors", shape, None) == pytest.approx((2 / 32) ** 0.5)
    with pytest.raises(ValueError, match="init"):
        new_weight_std("xavier", shape, None)


def test_r2_deeper_r_matches_the_nearest_branch_layer_by_layer():
    torch.manual_seed(0)
    base, _, deep_spec = _section52_nets()
    teacher = build(deep_spec)
    with torch.no_grad():  # give the existing branch recognisable stds
        for i, u in enumerate(teacher.stages[1].blocks[0].branches[0].units):
            u.conv.weight.normal_(0, 0.02 * (i + 1))
        teacher.stages[1].blocks[0].branches[0].proj.weight.normal_(0, 0.3)
    assert nearest_branch(teacher, 2, 0) is teacher.stages[1].blocks[0].branches[0]
    student = r2_deeper_r(teacher, 2, 0, (64, 64, 64), 3, into_identity=True, generator=torch.Generator())
    z = student.stages[2].blocks[0].branches[0]
    ref = teacher.stages[1].blocks[0].branches[0]
    for u, r in zip(z.units, ref.units):
        assert float(u.conv.weight.detach().std()) == pytest.approx(float(r.conv.weight.detach().std()), rel=0.1)
    assert float(z.proj.weight.detach().std()) == pytest.approx(float(ref.proj.weight.detach().std()), rel=0.1)
    he = r2_deeper_r(build(section52_spec(3, 8, (4, 6, 8), 16, depth=0)), 2, 0, (64,), 3, into_identity=True,
                     generator=torch.Generator())  # no branch anywhere to match: He-normal
    assert float(he.stages[2].blocks[0].branches[0].units[0].conv.weight.detach().std()) == \
        pytest.approx((2 / (6 * 9)) ** 0.5, rel=0.05)


def test_mutations_add_full_width_blocks_after_a_layer_and_children_rescale_their_learning_rate():
    net = build(base_spec(1, 12, (4, 8), 16))
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(60):
        m = random_mutation(net, g)
        width = net.stages[m.stage].blocks[m.index if m.op == "widen" else m.index - 1].out_channels
        assert m.hidden == width  # the new block is as wide as the layer (the authors' code)
        assert m.op == "widen" or m.index >= 1  # deepening inserts after a block, never on the raw input
        seen.add(m.op)
    assert seen == {"widen", "deepen"}
    cfg = TrainConfig(steps=1, batch_size=8, lr=0.003, weight_decay=1e-6)
    parent = Member(net, "m0", cfg)
    _, child = mutate_population([parent], 2, g, 0.0, lambda: 1)
    ratio = parameter_count(net) / parameter_count(child.net)
    assert child.cfg.lr == pytest.approx(0.003 * ratio) and child.cfg.weight_decay == pytest.approx(1e-6 * ratio)
    own = optimizers_for([parent, child], "per_model", cfg)
    assert own[0] is not own[1] and own[1].param_groups[0]["lr"] == pytest.approx(0.003 * ratio)
    assert optimizers_for([parent, child], "per_model", cfg) == own  # kept while the models survive
    shared = optimizers_for([parent, child], "shared", cfg)
    assert shared[0] is shared[1] and shared[0].param_groups[0]["lr"] == 0.003
    with pytest.raises(ValueError, match="optimizers"):
        NEConfig(1, 1, 1, 2, 1, optimizers="global")


def _train_mode_diff(teacher, student, x):
    """Largest output difference in train mode on ``x`` (BN on the batch), the running statistics left untouched."""
    saved = [copy.deepcopy(m.state_dict()) for m in (teacher, student)]
    teacher.train(), student.train()
    with torch.no_grad():
        diff = (teacher(x) - student(x)).abs().max().item()
    for m, state in zip((teacher, student), saved):
        m.load_state_dict(state)
    return diff


@pytest.mark.parametrize("kernel", KERNELS)
def test_net2deepernet_preserves_the_function_in_train_mode_on_its_batch_and_in_eval_mode(kernel):
    net, batch = random_net(kernel), inputs(6)
    for s, b, u in branch_units(net):
        student = net2_deeper_net(net, s, u, block=b, batch=batch)
        assert _train_mode_diff(net, student, batch) < 1e-10
        assert max_diff(net, student, inputs()) < 1e-10
    for u in range(len(net.stages[0].convs)):
        student = net2_deeper_net(net, 0, u, batch=batch)
        assert _train_mode_diff(net, student, batch) < 1e-10
        assert max_diff(net, student, inputs()) < 1e-10
