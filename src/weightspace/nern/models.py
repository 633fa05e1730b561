"""The original networks NeRN represents: CIFAR ResNet20/56 (option B) and ImageNet ResNet18.

CIFAR ResNets follow He et al. (2016): a 3x3 stem of ``w`` channels, three
stages of ``n`` basic blocks with ``w``, ``2w``, ``4w`` channels (stride 2 at the
first block of stages 2 and 3), global average pooling and a linear
classifier; depth ``6n + 2``. NeRN's originals use *option B* shortcuts, a
1x1 convolution and batch norm wherever the shape changes (IMPLEMENTATION_NOTES
§2), so ResNet20 has 21 and ResNet56 57 convolutions, all of which NeRN
reconstructs. ResNet18 is torchvision's; NeRN predicts only its 3x3 convs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CIFAR_DEPTHS = (20, 32, 44, 56, 110)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the shortcut, then ReLU.

    ``residual`` is an identity module applied to the pre-ReLU sum so that a
    forward hook can read it (one of the feature maps of eq. 4).
    """

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.residual = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(self.residual(out + self.shortcut(x)))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs with option-B shortcuts; ``width`` = channels of stage 1."""

    def __init__(self, depth: int = 20, num_classes: int = 10, width: int = 16, in_channels: int = 3) -> None:
        super().__init__()
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (e.g. {CIFAR_DEPTHS}), not {depth}")
        n = (depth - 2) // 6
        self.depth, self.width = depth, width
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        blocks, cin = [], width
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            stage_blocks = []
            for b in range(n):
                stage_blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
            blocks.append(nn.Sequential(*stage_blocks))
        self.layer1, self.layer2, self.layer3 = blocks
        self.fc = nn.Linear(4 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet18(pretrained: bool = False, num_classes: int = 1000) -> nn.Module:
    """torchvision's ResNet18; ``pretrained`` loads its ImageNet weights (69.76 / 89.08 top-1 / top-5)."""
    from weightspace._compat import import_torchvision

    models = import_torchvision().models
    weights = models.ResNet18_Weights.IMAGENET1K_V1 if pretrained else None
    return models.resnet18(weights=weights, num_classes=num_classes)


def build(arch: str, num_classes: int = 10, width: int = 16, in_channels: int = 3) -> nn.Module:
    """``resnet<depth>`` (CIFAR, option B) or ``resnet18`` (ImageNet, untrained)."""
    if arch == "resnet18":
        return resnet18(num_classes=num_classes)
    if arch.startswith("resnet") and arch[6:].isdigit() and int(arch[6:]) in CIFAR_DEPTHS:
        return CifarResNet(int(arch[6:]), num_classes, width, in_channels)
    raise ValueError(f"unknown architecture {arch!r}: choose resnet18 or one of "
                     f"{', '.join(f'resnet{d}' for d in CIFAR_DEPTHS)}")


def conv_names(model: nn.Module, kernel_sizes: tuple[int, ...] = (1, 3)) -> list[str]:
    """Names of the conv weights NeRN reconstructs, in forward order (layer index ``l``).

    CIFAR ResNets: every conv (stem, 3x3, 1x1 shortcuts). ResNet18: pass
    ``kernel_sizes=(3,)`` for the paper's 3x3-only setting (no 7x7 stem, no
    downsampling 1x1 convs).
    """
    names = [f"{name}.weight" for name, m in model.named_modules()
             if isinstance(m, nn.Conv2d) and m.kernel_size[0] in kernel_sizes]
    if not names:
        raise ValueError(f"{type(model).__name__} has no convolution with kernel size in {kernel_sizes}")
    return names


FMD_MAPS = ("paper", "authors")


def feature_modules(model: nn.Module, maps: str = "paper") -> list[str]:
    """Modules whose outputs are eq. 4's feature maps.

    CIFAR ResNet: the stem's BN and, in every block, bn1 (pre-ReLU), bn2 (pre-add)
    and the residual sum (pre-ReLU), the maps the authors' code lists (``maps="paper"``).
    Their block adds the shortcut in place into the bn2 output, so the map they
    record as bn2 is the sum: ``maps="authors"`` lists the sum twice instead of bn2.
    Other ResNets (torchvision): the stem's BN and every block's output
    (``"paper"`` only).
    """
    if maps not in FMD_MAPS:
        raise ValueError(f"unknown fmd_maps {maps!r}: choose one of {', '.join(FMD_MAPS)}")
    names = ["bn1"]
    for name, m in model.named_modules():
        if isinstance(m, BasicBlock):
            second = f"{name}.residual" if maps == "authors" else f"{name}.bn2"
            names += [f"{name}.bn1", second, f"{name}.residual"]
        elif type(m).__name__ == "BasicBlock":
            if maps != "paper":
                raise ValueError(f"fmd_maps = {maps!r} applies to the CIFAR ResNets only; "
                                 f"{type(model).__name__} has fmd_maps = 'paper'")
            names.append(name)
    return names


class FoldedResNet:
    """An eval-mode :class:`CifarResNet` run with given conv weights, each BN folded into its conv.

    In eval mode ``BN(conv(x, w)) = conv(x, w * s) + t`` with ``s = γ / sqrt(var + ε)`` and
    ``t = β - mean * s``; the folded network computes the same function with one conv
    (bias fused) per conv + BN and returns eq. 4's feature maps directly (those of
    :func:`feature_modules` with the same ``maps``), so NeRN's distillation needs no
    hooks, no ``functional_call`` and no separate BN passes. (Channels-last would be about 15%
    faster on a CPU but crashes oneDNN's backward under the quick profile's AVX2 pin.)
    Rounding differs from the module's own forward in the last float32 digits.

    Shape:
        ``(weights, x)``: conv weights name -> (F, C, k, k) and images (B, C_in, H, W) ->
        logits (B, classes) and the feature maps, a list of (B, C_l, H_l, W_l).

    Example::

        >>> net = CifarResNet(8, width=4).eval()
        >>> folded = FoldedResNet(net)
        >>> logits, maps = folded({n: p for n, p in net.named_parameters() if n in folded.convs}, torch.randn(2, 3, 32, 32))
        >>> logits.shape, len(maps)
        (torch.Size([2, 10]), 10)
    """

    def __init__(self, model: CifarResNet, maps: str = "paper") -> None:
        if not isinstance(model, CifarResNet):
            raise TypeError(f"FoldedResNet folds a CifarResNet, not {type(model).__name__}")
        if model.training:
            raise ValueError("fold an original in eval mode: train-mode BN uses batch statistics")
        if maps not in FMD_MAPS:
            raise ValueError(f"unknown fmd_maps {maps!r}: choose one of {', '.join(FMD_MAPS)}")
        self.maps = maps
        self.bn: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

        def fold(conv: str, bn: nn.BatchNorm2d) -> None:
            scale = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach()
            self.bn[f"{conv}.weight"] = (scale.view(-1, 1, 1, 1), (bn.bias - bn.running_mean * scale).detach())

        fold("conv1", model.bn1)
        self.blocks: list[tuple[str, int, bool]] = []  # block name, stride, projection shortcut
        for name, m in model.named_modules():
            if isinstance(m, BasicBlock):
                fold(f"{name}.conv1", m.bn1)
                fold(f"{name}.conv2", m.bn2)
                projection = len(m.shortcut) > 0
                if projection:
                    fold(f"{name}.shortcut.0", m.shortcut[1])
                self.blocks.append((name, m.conv1.stride[0], projection))
        self.convs = list(self.bn)
        self.fc = (model.fc.weight.detach(), model.fc.bias.detach())

    def _conv(self, weights: dict[str, torch.Tensor], name: str, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
        scale, shift = self.bn[f"{name}.weight"]
        w = weights[f"{name}.weight"]
        return F.conv2d(x, w * scale, shift, stride, w.shape[-1] // 2)

    def __call__(self, weights: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out = self._conv(weights, "conv1", x)
        maps = [out]
        h = F.relu(out)
        for name, stride, projection in self.blocks:
            a = self._conv(weights, f"{name}.conv1", h, stride)
            b = self._conv(weights, f"{name}.conv2", F.relu(a), 1)
            r = b + (self._conv(weights, f"{name}.shortcut.0", h, stride) if projection else h)
            maps += [a, r if self.maps == "authors" else b, r]
            h = F.relu(r)
        return F.linear(h.mean((2, 3)), *self.fc), maps


def smoothness(model: nn.Module, names: list[str] | None = None) -> torch.Tensor:
    """Eq. 6: the sum over layers of cosine distances between kernels adjacent in filter or channel.

    For each conv ``w`` (F, C, k, k): Δ(w[f, c], w[f+1, c]) + Δ(w[f, c], w[f, c+1]),
    cosine distance for k > 1 and squared l2 distance for 1x1 kernels. Used as the
    regularisation term of Section 3.3 (times a factor) when training an original.
    """
    params = dict(model.named_parameters())
    total = params[(names or conv_names(model))[0]].new_zeros(())
    for name in names or conv_names(model):
        total = total + kernel_smoothness(params[name])
    return total


def kernel_smoothness(w: torch.Tensor) -> torch.Tensor:
    """Eq. 6 for one layer ``w`` of shape (F, C, k, k)."""
    if w.shape[-1] == 1:
        dist = lambda a, b: (a - b).pow(2).sum(-1)  # noqa: E731
    else:
        dist = lambda a, b: 1 - F.cosine_similarity(a, b, dim=-1, eps=1e-12)  # noqa: E731
    k = w.flatten(2)
    return dist(k[:-1], k[1:]).sum() + dist(k[:, :-1], k[:, 1:]).sum()
