"""The models of Table 1, each in three encodings.

``direct``: ordinary weights. ``sep``: blueprint separable convolutions with a
direct 1x1 pointwise part. ``emb``: the pointwise part and every fully
connected layer generated from neuron embeddings (eq. 1-2). All models use
ReLU everywhere except the output; convolutional models use BatchNorm without
affine parameters or running statistics, as the authors' models do.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import torch
from torch import nn

from weightspace.neuron_embedding.layers import BlueprintConv2d, Kernel, NeuronEmbeddingLinear, NeuronSet

ENCODINGS = ("direct", "sep", "emb")
Units = Union[int, NeuronSet]  # a channel count (direct, sep) or a neuron set (emb)


class Encoder:
    """Makes layers in one encoding and owns the neuron sets an ``emb`` model consists of.

    A "units" handle is a channel count for ``direct``/``sep`` and a :class:`NeuronSet`
    for ``emb``, so one architecture definition serves all three encodings.
    """

    def __init__(self, encoding: str, dim: int | None = None, sigma: Kernel | None = None) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}: choose one of {', '.join(ENCODINGS)}")
        if encoding == "emb" and (dim is None or dim < 1):
            raise ValueError("the 'emb' encoding needs a positive embedding dimension `dim`")
        self.encoding, self.dim, self.sigma = encoding, dim, sigma
        self.neurons = nn.ModuleList()

    def _set(self, num: int, bias_fan_in: int | None, init: str) -> NeuronSet:
        s = NeuronSet(num, self.dim, bias_fan_in, init)
        self.neurons.append(s)
        return s

    @staticmethod
    def size(units: Units) -> int:
        return units.num if isinstance(units, NeuronSet) else int(units)

    def inputs(self, num: int, init: str = "normal", shared: NeuronSet | None = None) -> Units:
        """The network's input units: learned input embeddings for ``emb``.

        ``shared``: use this existing set (the same tensors) instead of a new one, so
        models trained on one dataset can share their input embeddings (Section 3).
        """
        if self.encoding != "emb":
            return num
        if shared is None:
            return self._set(num, None, init)
        if (shared.num, shared.dim) != (num, self.dim):
            raise ValueError(f"shared input embeddings are {shared.num} x {shared.dim}, need {num} x {self.dim}")
        self.neurons.append(shared)
        return shared

    def linear(self, src: Units, num: int) -> tuple[nn.Module, Units]:
        """A fully connected layer ``src -> num`` with bias (neuron-embedding for ``emb``)."""
        if self.encoding == "emb":
            dst = self._set(num, self.size(src), "normal")
            return NeuronEmbeddingLinear(src, dst, self.sigma), dst
        return nn.Linear(self.size(src), num), num

    def conv(self, src: Units, channels: int, kernel_size: int, padding: int = 0) -> tuple[nn.Module, Units]:
        """A k x k convolution ``src -> channels`` with one bias per output channel.

        For ``sep``/``emb`` the bias sits on the depthwise half. The authors' models
        keep conv biases because their BatchNorm has no affine parameters; with them
        the ResNet9 counts equal Table 1's exactly.
        """
        c_in = self.size(src)
        if self.encoding == "direct":
            return nn.Conv2d(c_in, channels, kernel_size, padding=padding), channels
        if self.encoding == "sep":
            pointwise = nn.Conv2d(c_in, channels, 1, bias=False)
            return BlueprintConv2d(pointwise, channels, kernel_size, padding=padding, bias=True), channels
        dst = self._set(channels, None, "uniform")
        pointwise = NeuronEmbeddingLinear(src, dst, self.sigma)
        return BlueprintConv2d(pointwise, channels, kernel_size, padding=padding, bias=True), dst


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, affine=False, track_running_stats=False)


class EncodedModel(nn.Module):
    """Base for the Table 1 models: ``neurons`` holds the neuron sets of an ``emb`` model."""

    encoding: str

    def _adopt(self, enc: Encoder) -> None:
        self.encoding = enc.encoding
        self.neurons = enc.neurons

    def embedding_parameters(self) -> int:
        """Parameters as the paper counts an ``emb`` model's: the embeddings only."""
        return sum(s.embedding.numel() for s in self.neurons)


class FCNet(EncodedModel):
    """Fully connected ReLU network with layer sizes ``sizes`` (input first).

    ``inputs``: an ``emb`` model's input embeddings taken from another model (shared
    tensors, not a copy), e.g. ``FCNet(sizes, "emb", 64, inputs=other.neurons[0])``.
    """

    def __init__(self, sizes: Sequence[int], encoding: str = "direct", dim: int | None = 64,
                 sigma: Kernel | None = None, inputs: NeuronSet | None = None) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"an FCNet needs at least two layer sizes, got {list(sizes)}")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError(f"FCNet layer sizes must be positive whole numbers, got {list(sizes)}")
        if encoding == "sep":
            raise ValueError("the 'sep' encoding applies to convolutions only; use 'direct' or 'emb' for FCNet")
        if inputs is not None and encoding != "emb":
            raise ValueError("only an 'emb' FCNet has input embeddings to share")
        enc = Encoder(encoding, dim, sigma)
        units = enc.inputs(sizes[0], shared=inputs)
        layers = []
        for n in sizes[1:]:
            layer, units = enc.linear(units, n)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)
        self.sizes = tuple(int(s) for s in sizes)
        self._adopt(enc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h

    def weights(self) -> list[torch.Tensor]:
        """The weight matrices ``(out, in)`` the network computes with (generated for ``emb``)."""
        return [layer.weight for layer in self.layers]

    def biases(self) -> list[torch.Tensor]:
        return [layer.bias if isinstance(layer, nn.Linear) else layer.target.bias for layer in self.layers]


class ConvNet(EncodedModel):
    """The MNIST convolutional network of Table 1: conv -> ReLU -> BN -> max-pool blocks, then FC.

    ``convs``: (channels, kernel, pool) per convolution ('same' padding); ``hidden``:
    sizes of the fully connected layers after flattening, the last being the class
    count. The Table 1 model is 1 -> 40 -> 80 -> 80 channels, 3x3 kernels, 2x2 pools
    (28 -> 14 -> 7 -> 3), then FC 720 -> 100 -> 10: it reproduces all three printed
    counts (160,070 / 84,750 / 51,598), which the printed widths (16c, 40c, 1000,
    100, 10) do not.
    """

    def __init__(self, encoding: str = "direct", dim: int | None = 48, convs: Sequence[tuple[int, int, int]] = (),
                 hidden: Sequence[int] = (), in_channels: int = 1, image_size: int = 28,
                 sigma: Kernel | None = None) -> None:
        super().__init__()
        enc = Encoder(encoding, dim, sigma)
        units = enc.inputs(in_channels, init="uniform")
        body: list[nn.Module] = []
        size = image_size
        for channels, kernel, pool in convs:
            conv, units = enc.conv(units, channels, kernel, padding=kernel // 2)
            body += [conv, nn.ReLU(), _bn(channels)]
            if pool > 1:
                body.append(nn.MaxPool2d(pool))
                size //= pool
        self.features = nn.Sequential(*body, nn.Flatten())
        flat = Encoder.size(units) * size * size
        units = enc.inputs(flat) if encoding == "emb" else flat
        head: list[nn.Module] = []
        for i, n in enumerate(hidden):
            layer, units = enc.linear(units, n)
            head.append(layer)
            if i < len(hidden) - 1:
                head.append(nn.ReLU())
        self.head = nn.Sequential(*head)
        self._adopt(enc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Residual(nn.Module):
    """``x + f(x)``."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(EncodedModel):
    """The neuron-embedding paper's ResNet9 for CIFAR-10 (Table 1), as the authors' code builds it.

    Not David Page's network: prep conv 64, conv 128 + max-pool, residual (2 convs),
    conv 256 + pool, conv 256 + pool, residual (2 convs), global average pool,
    FC 256 -> 10; 3x3 kernels, BatchNorm without affine parameters.

    In the ``emb`` encoding the eight convolutions form one chain of nine neuron
    sets (3, 64, 128, 128, 128, 256, 256, 256, 256 channels), each convolution
    reading the set before it: the convolution after a residual ``x + f(x)`` reads
    the embeddings of ``f``'s last set, which stand for the summed channels (as
    in the authors' code). The classifier has its own 256 input embeddings.

    Shape:
        input (N, 3, 32, 32) -> logits (N, ``num_classes``).

    Example::

        >>> net = ResNet9("emb", 48)
        >>> net(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, encoding: str = "direct", dim: int | None = 48, num_classes: int = 10,
                 sigma: Kernel | None = None) -> None:
        super().__init__()
        enc = Encoder(encoding, dim, sigma)
        units = enc.inputs(3, init="uniform")

        def block(src: Units, channels: int, pool: bool) -> tuple[nn.Module, Units]:
            conv, dst = enc.conv(src, channels, 3, padding=1)
            layers = [conv, _bn(channels), nn.ReLU()] + ([nn.MaxPool2d(2)] if pool else [])
            return nn.Sequential(*layers), dst

        def residual(src: Units) -> tuple[Residual, Units]:
            """``x + f(x)`` and the units that stand for the sum: those of ``f``'s last convolution."""
            a, mid = block(src, Encoder.size(src), False)
            b, summed = block(mid, Encoder.size(src), False)
            return Residual(nn.Sequential(a, b)), summed

        stages = []
        for channels, pool, res in ((64, False, False), (128, True, True), (256, True, False), (256, True, True)):
            stage, units = block(units, channels, pool)
            stages.append(stage)
            if res:
                stage, units = residual(units)
                stages.append(stage)
        self.features = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc, _ = enc.linear(enc.inputs(Encoder.size(units)), num_classes)
        self._adopt(enc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def _mnist_conv(encoding: str, dim: int | None = 48) -> ConvNet:
    return ConvNet(encoding, dim, convs=MNIST_CONVS, hidden=MNIST_CONV_HEAD)


MNIST_CONVS: tuple[tuple[int, int, int], ...] = ((40, 3, 2), (80, 3, 2), (80, 3, 2))
MNIST_CONV_HEAD: tuple[int, ...] = (100, 10)
FC2_SIZES = (784, 400, 10)
FC5_SIZES = (784, 400, 200, 100, 30, 10)

def _dim(dim: int | None, default: int) -> int:
    """The embedding dimension ``dim`` (``None``: the paper's ``default``); zero or negative is an error."""
    if dim is None:
        return default
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"an embedding dimension must be a positive whole number, got {dim!r}")
    return dim


# Table 1 rows: name -> (dataset, encoding, builder(dim))
TABLE1_MODELS: dict[str, tuple[str, Callable[[int | None], nn.Module]]] = {
    "fc2-direct": ("mnist", lambda d: FCNet(FC2_SIZES, "direct")),
    "fc2-emb": ("mnist", lambda d: FCNet(FC2_SIZES, "emb", _dim(d, 64))),
    "fc5-direct": ("mnist", lambda d: FCNet(FC5_SIZES, "direct")),
    "fc5-emb": ("mnist", lambda d: FCNet(FC5_SIZES, "emb", _dim(d, 64))),
    "conv-direct": ("mnist", lambda d: _mnist_conv("direct")),
    "conv-sep": ("mnist", lambda d: _mnist_conv("sep")),
    "conv-emb": ("mnist", lambda d: _mnist_conv("emb", _dim(d, 48))),
    "resnet9-direct": ("cifar10", lambda d: ResNet9("direct")),
    "resnet9-sep": ("cifar10", lambda d: ResNet9("sep")),
    "resnet9-emb": ("cifar10", lambda d: ResNet9("emb", _dim(d, 48))),
}


def build(name: str, dim: int | None = None) -> nn.Module:
    """A Table 1 model by row name (see ``TABLE1_MODELS``)."""
    if name not in TABLE1_MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(TABLE1_MODELS)}")
    return TABLE1_MODELS[name][1](dim)


def paper_parameter_count(model: nn.Module) -> int:
    """Parameters as Table 1 counts them.

    A fully connected ``emb`` model counts its embeddings only: (784 + 400 + 10) * 64
    = 76,416, biases left out. Every other model counts all its parameters; for the
    convolutional ``emb`` models that includes depthwise kernels and biases, which is
    how the ResNet9 rows (2,438,794 / 287,818 / 98,298) come out exactly.
    """
    if isinstance(model, FCNet) and model.encoding == "emb":
        return model.embedding_parameters()
    return sum(p.numel() for p in model.parameters())
