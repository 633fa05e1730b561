"""Residual networks that R2R and Net2Net transform: stages of conv units, residual blocks and pooling.

A network is a list of :class:`Stage` objects and a fully connected head. A stage
is ``plain conv units -> residual blocks -> 2x2 max-pool``; a residual block is

.. math:: y = \\operatorname{pad}(x) + \\sum_b F_b(x),

where ``pad`` adds zero channels when the block widens the residual stream (the
report's Fig. 9 pads 3 -> 16 channels this way; a block without branches is
``pad`` alone, the identity layer of the Section 5.2 deepening teacher) and every branch
:math:`F_b = P \\ast \\sigma_L(\\cdots \\sigma_1(x))` is a chain of
``k x k conv -> BN -> ReLU`` units followed by a bias-free ``1 x 1`` projection
:math:`P` (the report's R2R block, Fig. 2). Modules are built from other modules,
never copied, so a transformed network can hold the very same sub-modules as its
teacher (parameter sharing, report Section 4.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

KERNEL_SIZES = (1, 3, 5)


def check_kernel(kernel: int) -> int:
    """An odd, positive kernel size (``same`` padding keeps the spatial size); else a ``ValueError``."""
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive so that padding k // 2 keeps the size, got {kernel}")
    return kernel


class ConvUnit(nn.Sequential):
    """``k x k`` convolution (no bias: BN follows) -> BatchNorm -> ReLU; spatial size kept."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int) -> None:
        check_kernel(kernel)
        super().__init__(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())

    @property
    def conv(self) -> nn.Conv2d:
        return self[0]

    @property
    def bn(self) -> nn.BatchNorm2d:
        return self[1]

    @property
    def kernel(self) -> int:
        return self.conv.kernel_size[0]

    @property
    def in_channels(self) -> int:
        return self.conv.in_channels

    @property
    def out_channels(self) -> int:
        return self.conv.out_channels


class Branch(nn.Module):
    """A residual branch :math:`F(x) = P \\ast \\sigma_L(\\cdots \\sigma_1(x))`: conv units then a 1x1 projection."""

    def __init__(self, units: Sequence[ConvUnit], proj: nn.Conv2d) -> None:
        super().__init__()
        if not units:
            raise ValueError("a branch needs at least one conv unit")
        for a, b in zip(units, units[1:]):
            if a.out_channels != b.in_channels:
                raise ValueError(f"unit widths do not chain: {a.out_channels} -> {b.in_channels}")
        if proj.in_channels != units[-1].out_channels or proj.kernel_size != (1, 1) or proj.bias is not None:
            raise ValueError("the projection must be a bias-free 1x1 conv from the last unit's width")
        self.units = nn.ModuleList(units)
        self.proj = proj

    @classmethod
    def make(cls, in_channels: int, widths: Sequence[int], kernels: Sequence[int], out_channels: int) -> Branch:
        if len(widths) != len(kernels):
            raise ValueError(f"{len(widths)} widths but {len(kernels)} kernel sizes")
        chans = [in_channels, *widths]
        units = [ConvUnit(chans[i], chans[i + 1], k) for i, k in enumerate(kernels)]
        return cls(units, nn.Conv2d(chans[-1], out_channels, 1, bias=False))

    @property
    def in_channels(self) -> int:
        return self.units[0].in_channels

    @property
    def out_channels(self) -> int:
        return self.proj.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.units:
            x = unit(x)
        return self.proj(x)


def pad_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """``x`` with zero channels appended up to ``channels`` (the residual path of a widening block)."""
    extra = channels - x.shape[1]
    if extra < 0:
        raise ValueError(f"cannot pad {x.shape[1]} channels down to {channels}")
    return x if extra == 0 else F.pad(x, (0, 0, 0, 0, 0, extra))


class ResidualBlock(nn.Module):
    """:math:`y = \\operatorname{pad}(x) + \\sum_b F_b(x)` with any number of parallel branches (none: ``pad(x)``)."""

    def __init__(self, in_channels: int, out_channels: int, branches: Sequence[Branch]) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"a residual block cannot narrow the stream ({in_channels} -> {out_channels})")
        for b in branches:
            if (b.in_channels, b.out_channels) != (in_channels, out_channels):
                raise ValueError(f"branch maps {b.in_channels} -> {b.out_channels}, block {in_channels} -> "
                                 f"{out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = pad_channels(x, self.out_channels)
        for branch in self.branches:
            y = y + branch(x)
        return y


class Stage(nn.Module):
    """Plain conv units, then residual blocks, then (optionally) a 2x2 max-pool."""

    def __init__(self, convs: Sequence[ConvUnit], blocks: Sequence[ResidualBlock], pool: bool = True) -> None:
        super().__init__()
        layers = [*convs, *blocks]
        for a, b in zip(layers, layers[1:]):
            if a.out_channels != b.in_channels:
                raise ValueError(f"stage layers do not chain: {a.out_channels} -> {b.in_channels}")
        if not layers:
            raise ValueError("a stage needs at least one conv unit or residual block")
        self.convs = nn.ModuleList(convs)
        self.blocks = nn.ModuleList(blocks)
        self.pool = pool

    @property
    def in_channels(self) -> int:
        return (self.convs[0] if len(self.convs) else self.blocks[0]).in_channels

    @property
    def out_channels(self) -> int:
        return (self.blocks[-1] if len(self.blocks) else self.convs[-1]).out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (*self.convs, *self.blocks):
            x = layer(x)
        return F.max_pool2d(x, 2) if self.pool else x


class ResNet(nn.Module):
    """Stages, then ``flatten -> FC -> ReLU -> FC`` (the report's Fig. 9 head: 1024 -> 128 -> 10)."""

    def __init__(self, stages: Sequence[Stage], head: nn.Sequential, in_channels: int, image_size: int) -> None:
        super().__init__()
        for a, b in zip(stages, stages[1:]):
            if a.out_channels != b.in_channels:
                raise ValueError(f"stages do not chain: {a.out_channels} -> {b.in_channels}")
        if stages[0].in_channels != in_channels:
            raise ValueError(f"first stage takes {stages[0].in_channels} channels, images have {in_channels}")
        self.stages = nn.ModuleList(stages)
        self.head = head
        self.in_channels, self.image_size = in_channels, image_size

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def with_stage(self, index: int, stage: Stage) -> ResNet:
        """A network that shares every module with this one except stage ``index``."""
        stages = list(self.stages)
        stages[index] = stage
        return ResNet(stages, self.head, self.in_channels, self.image_size)


@dataclass(frozen=True)
class BlockSpec:
    """A residual block with one branch of conv units ``widths`` / ``kernels`` (both empty: no branch, ``pad(x)``)."""

    widths: tuple[int, ...]
    kernels: tuple[int, ...]


@dataclass(frozen=True)
class StageSpec:
    """A stage: ``convs`` plain units of ``width`` channels (their kernels), then ``blocks``, then a max-pool."""

    width: int
    convs: tuple[int, ...] = ()
    blocks: tuple[BlockSpec, ...] = ()
    pool: bool = True


@dataclass(frozen=True)
class NetSpec:
    """A whole network: input channels and size, stages, hidden FC width, classes."""

    in_channels: int
    image_size: int
    stages: tuple[StageSpec, ...]
    fc: int = 128
    num_classes: int = 10
    extra: dict = field(default_factory=dict, compare=False)


def build(spec: NetSpec) -> ResNet:
    """A freshly initialised (PyTorch default init) network for ``spec``."""
    stages, chans, size = [], spec.in_channels, spec.image_size
    for s in spec.stages:
        convs = []
        for k in s.convs:
            convs.append(ConvUnit(chans, s.width, k))
            chans = s.width
        blocks = []
        for b in s.blocks:
            branches = [Branch.make(chans, b.widths, b.kernels, s.width)] if b.widths or b.kernels else []
            blocks.append(ResidualBlock(chans, s.width, branches))
            chans = s.width
        stages.append(Stage(convs, blocks, s.pool))
        size = size // 2 if s.pool else size
    if size < 1:
        raise ValueError(f"{len(spec.stages)} pooled stages shrink a {spec.image_size}-pixel image to nothing")
    head = nn.Sequential(nn.Flatten(), nn.Linear(chans * size * size, spec.fc), nn.ReLU(),
                         nn.Linear(spec.fc, spec.num_classes))
    return ResNet(stages, head, spec.in_channels, spec.image_size)


def base_spec(in_channels: int = 3, image_size: int = 32, widths: Sequence[int] = (16, 32, 64), fc: int = 128,
              kernel: int = 3) -> NetSpec:
    """The report's base network (Fig. 9): per stage one residual R2R block (hidden = width / 2), max-pool.

    CIFAR-10: 3 -> 16 (hidden 8) -> 32 (16) -> 64 (32), then FC 1024 -> 128 -> 10.
    """
    return NetSpec(in_channels, image_size,
                   tuple(StageSpec(w, blocks=(BlockSpec((w // 2,), (kernel,)),)) for w in widths), fc)


def section52_spec(in_channels: int = 3, image_size: int = 32, widths: Sequence[int] = (16, 32, 64), fc: int = 128,
                   hidden: float = 2.0, depth: int = 3, kernel: int = 3) -> NetSpec:
    """The Section 5.2 test network: per stage one residual block, then a 2x2 max-pool.

    The block's branch is ``k x k`` conv-BN-ReLU twice followed by an R2R block
    (``k x k`` conv-BN-ReLU -> ``1 x 1`` projection), the skip around all three; its
    convs have ``hidden`` times the stream's width (the authors' base: 2, streams
    16/32/64, branch convs 32/64/128; 578,602 parameters on CIFAR-10). The widening
    teacher ("exactly half the number of filters at every layer", Section 5.2.1) is
    ``hidden=1.0`` (258,778 parameters); the deepening teacher ("a two layer
    network", 5.2.2) is ``depth=2``: the blocks of stages ``depth`` onwards have no
    branch (``pad(x)``, as in the authors' code), and R2DeeperR gives them theirs.
    """
    if not 0 <= depth <= len(widths):
        raise ValueError(f"depth = {depth} is not allowed: it counts the residual blocks that have a branch, "
                         f"0..{len(widths)}")
    if hidden <= 0:
        raise ValueError(f"hidden = {hidden} is not allowed: the branch width is a positive multiple of the stream's")
    return NetSpec(in_channels, image_size, tuple(
        StageSpec(w, blocks=(BlockSpec((max(1, round(w * hidden)),) * 3, (kernel,) * 3) if i < depth
                             else BlockSpec((), ()),))
        for i, w in enumerate(widths)), fc)


@torch.no_grad()
def randomize_batch_norm(net: nn.Module) -> nn.Module:
    """``net`` in eval mode with random BN statistics and affine parameters (from the global RNG).

    Freshly built BN layers compute the identity in eval mode; random ones make a
    function-preservation check see every BN a transform copies or inserts.
    """
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.normal_(1, 0.3)
            m.bias.normal_(0, 0.3)
    return net.eval()


def parameter_count(model: nn.Module) -> int:
    """Distinct parameters (a tensor shared by two modules counts once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def architecture(net: ResNet) -> str:
    """A compact description, e.g. ``[c16k3 c16k3 | r(8k3)+(4k1)] [..]``: units, blocks and their branches."""
    parts = []
    for stage in net.stages:
        convs = " ".join(f"c{u.out_channels}k{u.kernel}" for u in stage.convs)
        blocks = " ".join("r" + ("+".join("(" + ",".join(f"{u.out_channels}k{u.kernel}" for u in b.units) + ")"
                                         for b in block.branches) or "()") for block in stage.blocks)
        parts.append("[" + " | ".join(p for p in (convs, blocks) if p) + "]")
    return " ".join(parts)


def training_flops(model: nn.Module, input_shape: Sequence[int], batch_size: int) -> int:
    """FLOPs of one training step (forward and backward of a batch), counted by ``torch.utils.flop_counter``."""
    param = next(model.parameters())
    x = torch.zeros(batch_size, *input_shape, device=param.device, dtype=param.dtype)
    was_training = model.training
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    model.load_state_dict(state)
    for p in model.parameters():
        p.grad = None
    model.train(was_training)
    return int(counter.get_total_flops())
