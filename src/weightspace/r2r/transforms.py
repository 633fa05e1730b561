"""Function-preserving transforms: R2WiderR, R2DeeperR (report Section 3), Net2WiderNet and Net2DeeperNet.

Every transform takes a teacher :class:`~weightspace.r2r.networks.ResNet` and
returns a student that computes the same function (eval-mode BatchNorm) while
sharing every module the transform does not touch. The R2R transforms rest on
the zero-initialised block of Section 3.1,

.. math:: z(x) = [\\beta \\;\\; -\\beta] \\ast \\sigma\\!\\left(\\begin{bmatrix} W \\\\ W \\end{bmatrix} \\ast x\\right) = 0,

with :math:`\\sigma` = BN followed by ReLU (channel-wise, so each duplicated
channel computes the same value). ``new="random"`` draws every new parameter
independently instead: the random-padding baseline of Figs. 6 and 8, which does
not preserve the function.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal, Sequence

import torch
from torch import nn

from weightspace.r2r.networks import Branch, ConvUnit, ResidualBlock, ResNet, Stage, check_kernel, parameter_count
from weightspace.training import TrainConfig

New = Literal["r2r", "random"]
Init = Literal["match", "he", "authors"]
NEW_KINDS = ("r2r", "random")
INITS = ("match", "he", "authors")


def _check(new: str, init: str) -> None:
    if new not in NEW_KINDS:
        raise ValueError(f"unknown initialisation of new parameters {new!r}: choose one of {', '.join(NEW_KINDS)}")
    if init not in INITS:
        raise ValueError(f"unknown weight scale init = {init!r}: choose one of {', '.join(INITS)}")


def new_weight_std(init: str, shape: tuple[int, ...], existing: torch.Tensor | None) -> float:
    """The std of new weights of ``shape`` (out, in, k, k) next to ``existing`` ones (``None``: none to match).

    ``"match"`` (the report's rule, Section 6 and App. C.3: "initialized to maintain
    the statistical variance of parameters in each layer"): the std of ``existing``,
    else He-normal :math:`\\sqrt{2 / (C_\\text{in} k^2)}`. ``"he"``: always that He-normal.
    ``"authors"`` (the authors' code): half the std of ``existing``, else He-normal
    with fan-in :math:`C_\\text{in}` (the kernel's area left out).
    """
    if init not in INITS:
        raise ValueError(f"unknown weight scale init = {init!r}: choose one of {', '.join(INITS)}")
    matchable = existing is not None and existing.numel() > 1
    if init == "match" and matchable:
        return float(existing.detach().std())
    if init == "authors":
        return 0.5 * float(existing.detach().std()) if matchable else math.sqrt(2.0 / shape[1])
    return math.sqrt(2.0 / (shape[1] * shape[2] * shape[3]))


def _normal(shape: tuple[int, ...], std: float, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * std).to(like)


@torch.no_grad()
def _fill_new_channels(unit: ConvUnit, consumer: nn.Conv2d, start: int, count: int, new: str, init: str,
                       generator: torch.Generator | None, reference: tuple[torch.Tensor, torch.Tensor] | None) -> None:
    """Initialise output channels ``start:start+count`` of ``unit`` and the matching inputs of ``consumer``.

    R2R (``new="r2r"``, ``count`` even): the channels hold ``[W; W]`` with BN
    gamma 1 and beta 0 duplicated, the consumer reads them with ``[V, -V]``, so
    their contribution is zero. ``new="random"``: independent draws everywhere.
    The stds follow ``init`` (:func:`new_weight_std`) against ``reference`` =
    (existing weights of ``unit``'s role, of ``consumer``'s role) or ``None``.
    """
    conv, bn = unit.conv, unit.bn
    half = count // 2
    if new == "r2r" and count % 2:
        raise ValueError(f"an R2R block needs an even number of new channels ([W; W]), got {count}")
    out_shape = (count if new == "random" else half, *conv.weight.shape[1:])
    in_shape = (consumer.out_channels, count if new == "random" else half, *consumer.weight.shape[2:])
    std_w = new_weight_std(init, tuple(conv.weight.shape), reference[0] if reference else None)
    std_v = new_weight_std(init, tuple(consumer.weight.shape), reference[1] if reference else None)
    w = _normal(out_shape, std_w, conv.weight, generator)
    v = _normal(in_shape, std_v, consumer.weight, generator)
    if new == "r2r":
        w, v = torch.cat([w, w]), torch.cat([v, -v], dim=1)
    rows = slice(start, start + count)
    conv.weight[rows] = w
    consumer.weight[:, rows] = v
    bn.weight[rows], bn.bias[rows] = 1.0, 0.0
    bn.running_mean[rows], bn.running_var[rows] = 0.0, 1.0


def _as_tuple(value: int | Sequence[int]) -> tuple[int, ...]:
    return (value,) if isinstance(value, int) else tuple(value)


@torch.no_grad()
def _fill_branch(branch: Branch, new: str, init: str, reference: Branch | None,
                 generator: torch.Generator | None) -> None:
    """Draw every weight of ``branch``: the last unit and the projection as an R2R block (``new="r2r"``) or at random.

    Unit ``i`` is drawn against the reference branch's unit ``i`` (its last one where
    it has fewer), the projection against its projection; the units before the last
    may hold anything (the duplicated last unit cancels whatever reaches it).
    """
    for i, unit in enumerate(branch.units[:-1]):
        ref = reference.units[min(i, len(reference.units) - 1)].conv.weight if reference is not None else None
        unit.conv.weight.copy_(_normal(tuple(unit.conv.weight.shape),
                                       new_weight_std(init, tuple(unit.conv.weight.shape), ref),
                                       unit.conv.weight, generator))
    last = len(branch.units) - 1
    ref = ((reference.units[min(last, len(reference.units) - 1)].conv.weight, reference.proj.weight)
           if reference is not None else None)
    _fill_new_channels(branch.units[-1], branch.proj, 0, branch.units[-1].out_channels, new, init, generator, ref)


def zero_branch(in_channels: int, out_channels: int, hidden: int | Sequence[int], kernel: int | Sequence[int], *,
                new: New = "r2r", init: Init = "match", reference: Branch | None = None,
                generator: torch.Generator | None = None) -> Branch:
    """The R2R block of Section 3.1 (Fig. 2): ``kernel x kernel`` conv [W; W] -> BN -> ReLU -> 1x1 [beta, -beta].

    ``hidden`` (even) is the number of channels of the concatenated conv
    (:math:`C_o` in the report). A sequence of widths (and kernels) puts conv units
    in front of the R2R block (the Section 5.2 branch: conv-BN-ReLU twice, then the
    R2R block); the output is zero all the same. ``init`` draws the weights
    against ``reference``'s of the same role (:func:`new_weight_std`).

    Example:
        >>> z = zero_branch(4, 6, 8, 3)
        >>> bool(z.eval()(torch.randn(2, 4, 5, 5)).abs().max() == 0)
        True
    """
    _check(new, init)
    widths, kernels = _as_tuple(hidden), _as_tuple(kernel)
    if len(kernels) == 1 < len(widths):
        kernels = kernels * len(widths)
    for k in kernels:
        check_kernel(k)
    if not widths or min(widths) < 1:
        raise ValueError(f"an R2R block needs positive numbers of hidden channels, got {hidden}")
    branch = Branch.make(in_channels, widths, kernels, out_channels)
    _fill_branch(branch, new, init, reference, generator)
    return branch


@torch.no_grad()
def zero_initialize(net: ResNet, *, init: Init = "he", generator: torch.Generator | None = None) -> ResNet:
    """``net`` with every residual branch an R2R block that outputs zero (the report's blocks, Section 3.1; Fig. 9).

    Every conv of every branch is drawn He-normal (``init="authors"``: fan-in
    :math:`C_\\text{in}`, as the authors' code initialises its R2R blocks; otherwise
    :math:`C_\\text{in} k^2`), the last unit duplicated and the projection negated, so
    the network starts as its residual streams: ``pad`` and pooling into the head.
    """
    he = "authors" if init == "authors" else "he"
    for stage in net.stages:
        for block in stage.blocks:
            for branch in block.branches:
                _fill_branch(branch, "r2r", he, None, generator)
    return net


def channels_before(stage: Stage, position: int) -> int:
    """Channels of the residual stream in front of block ``position`` of ``stage`` (after its plain units)."""
    if position > 0:
        return stage.blocks[position - 1].out_channels
    return stage.convs[-1].out_channels if len(stage.convs) else stage.in_channels


def _locate(net: ResNet, stage: int, block: int | None = None) -> Stage:
    if not 0 <= stage < len(net.stages):
        raise IndexError(f"stage {stage} out of range: the network has {len(net.stages)} stages")
    s = net.stages[stage]
    if block is not None and not 0 <= block < len(s.blocks):
        raise IndexError(f"block {block} out of range: stage {stage} has {len(s.blocks)} residual blocks")
    return s


def r2_wider_r(net: ResNet, stage: int, block: int, hidden: int, kernel: int | None = None, *,
               mode: Literal["parallel", "concat"] = "parallel", branch: int = 0, unit: int = -1,
               new: New = "r2r", init: Init = "match", generator: torch.Generator | None = None) -> ResNet:
    """R2WiderR (Section 3.2, Fig. 3): :math:`f_s(x) = x + F(x) + z(x)` inside residual block ``block``.

    ``mode="parallel"`` adds ``z`` as a new branch of ``hidden`` channels and
    ``kernel`` size (drawn against branch ``branch`` of the block, if it has one);
    every existing module is shared with the teacher. ``mode="concat"`` (App. C.1)
    instead appends ``hidden`` channels to conv unit ``unit`` of branch ``branch``
    (``kernel`` must be that unit's or ``None``), drawn against that unit and its
    consumer; that branch gets new tensors holding the old values, the rest is shared.
    """
    _check(new, init)
    s = _locate(net, stage, block)
    old = s.blocks[block]
    if mode not in ("parallel", "concat"):
        raise ValueError(f"unknown R2WiderR mode {mode!r}: choose parallel or concat")
    if (old.branches or mode == "concat") and not 0 <= branch < len(old.branches):
        raise IndexError(f"branch {branch} out of range: the block has {len(old.branches)} branches")
    if mode == "parallel":
        ref = old.branches[branch] if old.branches else None
        if kernel is None and ref is None:
            raise ValueError("a block without branches has no kernel size to copy: give kernel")
        z = zero_branch(old.in_channels, old.out_channels, hidden, kernel or ref.units[-1].kernel, new=new,
                        init=init, reference=ref, generator=generator)
        grown = ResidualBlock(old.in_channels, old.out_channels, [*old.branches, z])
    else:
        branches = list(old.branches)
        branches[branch] = _widen_branch_unit(old.branches[branch], unit, hidden, kernel, new, init, generator)
        grown = ResidualBlock(old.in_channels, old.out_channels, branches)
    blocks = list(s.blocks)
    blocks[block] = grown.to(next(net.parameters()))
    return net.with_stage(stage, Stage(s.convs, blocks, s.pool))


def _consumer(branch: Branch, unit: int) -> nn.Conv2d:
    return branch.units[unit + 1].conv if unit + 1 < len(branch.units) else branch.proj


def _widened_copies(branch: Branch, unit: int, extra: int) -> tuple[list[ConvUnit], nn.Conv2d, ConvUnit, nn.Conv2d]:
    """New modules for ``branch`` with ``extra`` output channels on ``unit``: old values copied, new ones zero."""
    units = [u for u in branch.units]
    old = units[unit]
    like = old.conv.weight
    wide = ConvUnit(old.in_channels, old.out_channels + extra, old.kernel).to(like)
    with torch.no_grad():
        n = old.out_channels
        wide.conv.weight.zero_()
        wide.conv.weight[:n] = old.conv.weight
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(wide.bn, name)[:n] = getattr(old.bn, name)
        wide.bn.num_batches_tracked.copy_(old.bn.num_batches_tracked)
    units[unit] = wide
    old_consumer = _consumer(branch, unit)
    if unit + 1 < len(units):
        nxt = units[unit + 1]
        consumer_unit = ConvUnit(nxt.in_channels + extra, nxt.out_channels, nxt.kernel).to(like)
        consumer_unit.bn.load_state_dict(nxt.bn.state_dict())
        units[unit + 1] = consumer_unit
        consumer = consumer_unit.conv
    else:
        consumer = nn.Conv2d(old_consumer.in_channels + extra, old_consumer.out_channels, 1, bias=False).to(like)
    with torch.no_grad():
        consumer.weight.zero_()
        consumer.weight[:, : old_consumer.in_channels] = old_consumer.weight
    proj = consumer if unit + 1 == len(units) else branch.proj
    return units, proj, wide, consumer


def _unit_index(unit: int, count: int) -> int:
    """``unit`` as an index into a branch's ``count`` units (negative counts from the end); out of range is an error."""
    if not -count <= unit < count:
        raise IndexError(f"unit {unit} does not exist: the branch has {count} unit{'s' * (count != 1)} "
                         f"(indices 0..{count - 1}, or -{count}..-1 from the end)")
    return unit % count


def _widen_branch_unit(branch: Branch, unit: int, hidden: int, kernel: int | None, new: str, init: str,
                       generator: torch.Generator | None) -> Branch:
    unit = _unit_index(unit, len(branch.units))
    old = branch.units[unit]
    if kernel is not None and kernel != old.kernel:
        raise ValueError(f"concatenation widens a {old.kernel}x{old.kernel} unit; it cannot take a {kernel}x{kernel} "
                         f"kernel (use mode='parallel')")
    ref = (old.conv.weight, _consumer(branch, unit).weight)
    units, proj, wide, consumer = _widened_copies(branch, unit, hidden)
    _fill_new_channels(wide, consumer, old.out_channels, hidden, new, init, generator, ref)
    return Branch(units, proj)


def nearest_branch(net: ResNet, stage: int, position: int) -> Branch | None:
    """The residual branch nearest to the point before block ``position`` of ``stage`` (the preceding one on a tie).

    Distance counts residual blocks along the network; ``None`` if no block has a branch.
    """
    flat = [(sum(len(st.blocks) for st in net.stages[:i]) + j, blk.branches[0])
            for i, st in enumerate(net.stages) for j, blk in enumerate(st.blocks) if blk.branches]
    point = sum(len(st.blocks) for st in net.stages[:stage]) + position
    if not flat:
        return None
    return min(flat, key=lambda jb: point - jb[0] - 0.5 if jb[0] < point else jb[0] - point + 0.5)[1]


def r2_deeper_r(net: ResNet, stage: int, position: int, hidden: int | Sequence[int], kernel: int | Sequence[int] = 3,
                *, into_identity: bool = False, new: New = "r2r", init: Init = "match",
                generator: torch.Generator | None = None) -> ResNet:
    """R2DeeperR (Section 3.3, Fig. 4): insert :math:`x \\mapsto x + z(x)` before block ``position`` of ``stage``.

    ``position`` runs from 0 (right after the stage's plain conv units) to the
    number of blocks (after the last one, before the pool): any depth. The new
    block's branch ``z`` is a zero-initialised R2R block of ``hidden`` channels (a
    sequence: conv units in front of it, see :func:`zero_branch`). With
    ``into_identity`` block ``position`` must be a block without branches
    (``pad(x)``, the identity layer of the Section 5.2 deepening teacher): ``z``
    becomes its branch, the residual connection being there already.

    ``init="match"`` draws each new layer with the std of the same layer of the
    nearest existing branch (:func:`nearest_branch`; the preceding one on a tie),
    He-normal where the network has none.
    """
    _check(new, init)
    s = _locate(net, stage)
    if into_identity:
        if not 0 <= position < len(s.blocks) or s.blocks[position].branches:
            raise ValueError(f"into_identity needs block {position} of stage {stage} to be a block without branches")
        chans, out = s.blocks[position].in_channels, s.blocks[position].out_channels
    elif not 0 <= position <= len(s.blocks):
        raise IndexError(f"position {position} out of range 0..{len(s.blocks)} in stage {stage}")
    else:
        chans = out = channels_before(s, position)
    z = zero_branch(chans, out, hidden, kernel, new=new, init=init, reference=nearest_branch(net, stage, position),
                    generator=generator)
    like = next(net.parameters())
    blocks = list(s.blocks)
    if into_identity:
        blocks[position] = ResidualBlock(chans, out, [z]).to(like)
    else:
        blocks.insert(position, ResidualBlock(chans, chans, [z]).to(like))
    return net.with_stage(stage, Stage(s.convs, blocks, s.pool))


def net2_wider_net(net: ResNet, stage: int, block: int, width: int, *, branch: int = 0, unit: int = -1,
                   noise: float = 0.0, generator: torch.Generator | None = None) -> ResNet:
    """Net2WiderNet (Chen et al., 2016) on conv unit ``unit`` of a residual branch: ``width`` channels in all.

    New channel :math:`j` copies a random old channel :math:`g(j)` (conv filter,
    BN scale, shift and running statistics); the consumer's weights on every
    replica of channel :math:`c` are divided by its replica count. ``noise`` > 0
    adds Gaussian noise of that relative size to the replicas' consumer weights
    (Chen et al.'s optional symmetry breaking; the function then changes slightly).
    """
    s = _locate(net, stage, block)
    old_block = s.blocks[block]
    br = old_block.branches[branch]
    unit = _unit_index(unit, len(br.units))
    old = br.units[unit]
    n = old.out_channels
    if width <= n:
        raise ValueError(f"Net2WiderNet must add channels: unit has {n}, asked for {width}")
    g = torch.cat([torch.arange(n), torch.randint(n, (width - n,), generator=generator)])
    counts = torch.bincount(g, minlength=n).to(old.conv.weight)
    old_consumer = _consumer(br, unit)
    units, proj, wide, consumer = _widened_copies(br, unit, width - n)
    gd = g.to(old.conv.weight.device)
    with torch.no_grad():
        wide.conv.weight.copy_(old.conv.weight[gd])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(wide.bn, name).copy_(getattr(old.bn, name)[gd])
        scaled = old_consumer.weight[:, gd] / counts[gd].view(1, -1, 1, 1)
        if noise > 0:
            jitter = torch.randn(scaled.shape, generator=generator, dtype=torch.float64).to(scaled)
            scaled = scaled + noise * scaled.std() * jitter * (counts[gd] > 1).view(1, -1, 1, 1)
        consumer.weight.copy_(scaled)
    branches = list(old_block.branches)
    branches[branch] = Branch(units, proj)
    blocks = list(s.blocks)
    blocks[block] = ResidualBlock(old_block.in_channels, old_block.out_channels, branches)
    return net.with_stage(stage, Stage(s.convs, blocks, s.pool))


@torch.no_grad()
def _identity_unit(after: ConvUnit, kernel: int, activations: torch.Tensor | None) -> ConvUnit:
    """A conv unit computing the identity on the (non-negative) output of ``after``.

    The conv is a centred identity kernel; BN gets gamma = sqrt(var + eps) and
    beta = mean with running statistics (mean, var) measured on ``activations``
    (else 0 and 1), so it is the identity in eval mode, and in train mode on that batch.
    """
    c = after.out_channels
    unit = ConvUnit(c, c, check_kernel(kernel)).to(after.conv.weight)
    unit.conv.weight.zero_()
    unit.conv.weight[torch.arange(c), torch.arange(c), kernel // 2, kernel // 2] = 1.0
    if activations is not None:
        mean, var = activations.mean((0, 2, 3)), activations.var((0, 2, 3), unbiased=False)
        unit.bn.running_mean.copy_(mean)
        unit.bn.running_var.copy_(var)
    unit.bn.weight.copy_(torch.sqrt(unit.bn.running_var + unit.bn.eps))
    unit.bn.bias.copy_(unit.bn.running_mean)
    return unit


@torch.no_grad()
def _activations(net: ResNet, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The output of ``module`` when ``net`` runs ``batch`` in train mode (BN on the batch's statistics).

    Train mode is where the student trains; the BN running statistics are restored
    afterwards, so measuring changes nothing in ``net``.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    seen = []
    handle = module.register_forward_hook(lambda _m, _i, out: seen.append(out))
    was = net.training
    net.train()
    try:
        net(batch)
    finally:
        handle.remove()
        net.train(was)
        for m, state in zip(norms, saved):
            m.load_state_dict(state)
    return seen[0]


def net2_deeper_net(net: ResNet, stage: int, after: int, *, block: int | None = None, branch: int = 0,
                    kernel: int | None = None, batch: torch.Tensor | None = None) -> ResNet:
    """Net2DeeperNet (Chen et al., 2016): insert an identity conv-BN-ReLU unit after unit ``after``.

    With ``block=None`` the unit follows plain conv unit ``after`` of the stage;
    otherwise it follows unit ``after`` inside branch ``branch`` of residual block
    ``block``. Either way its input has passed a ReLU, so ReLU(identity) is the
    identity. BN is set from ``batch``'s statistics at that point, measured in train
    mode (canonical Net2Net) when a batch is given: the new network then computes
    the old function in eval mode on any input, and in train mode on ``batch``.
    """
    s = _locate(net, stage, block)
    if block is None:
        chain = list(s.convs)
    else:
        chain = list(s.blocks[block].branches[branch].units)
    if not 0 <= after < len(chain):
        raise IndexError(f"unit {after} out of range: there are {len(chain)} conv units there")
    prev = chain[after]
    acts = _activations(net, prev, batch) if batch is not None else None
    chain.insert(after + 1, _identity_unit(prev, kernel or prev.kernel, acts))
    if block is None:
        return net.with_stage(stage, Stage(chain, s.blocks, s.pool))
    old_block = s.blocks[block]
    branches = list(old_block.branches)
    branches[branch] = Branch(chain, old_block.branches[branch].proj)
    blocks = list(s.blocks)
    blocks[block] = ResidualBlock(old_block.in_channels, old_block.out_channels, branches)
    return net.with_stage(stage, Stage(s.convs, blocks, s.pool))


TRANSFORM_KINDS = ("r2r", "net2net", "random")


def degrees_of_freedom(kind: str, new_parameters: int) -> int:
    """Free new parameters that keep the function (Section 3.4): R2R leaves K of 2K, Net2Net none.

    R2R's new tensors come in pairs (W and its copy, beta and its negation, BN
    scale and shift duplicated): one of each pair is free. Net2Net's are copies
    of old values. Random padding leaves all free but does not preserve the function.
    """
    if kind == "r2r":
        if new_parameters % 2:
            raise ValueError(f"an R2R transform adds an even number of parameters, not {new_parameters}")
        return new_parameters // 2
    if kind == "net2net":
        return 0
    if kind == "random":
        return new_parameters
    raise ValueError(f"unknown transform kind {kind!r}: choose one of {', '.join(TRANSFORM_KINDS)}")


def rescaled(cfg: TrainConfig, teacher: nn.Module, student: nn.Module) -> TrainConfig:
    """App. C.3: learning rate (and weight decay) times :math:`|\\theta_1|_c / |\\theta_2|_c` after a transform."""
    ratio = parameter_count(teacher) / parameter_count(student)
    return replace(cfg, lr=cfg.lr * ratio, weight_decay=cfg.weight_decay * ratio)
