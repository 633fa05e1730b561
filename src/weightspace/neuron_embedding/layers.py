"""Neuron-embedding layers (Section 3, eq. 1-3, Fig. 2).

Every neuron ``j`` of layer ``l`` owns a vector ``z_j^(l)`` in R^d. The weight
between neuron ``i`` of layer ``l`` and neuron ``j`` of layer ``l+1`` is the
alignment score

    alpha_ij = sigma(z_i^(l) . z_j^(l+1))                          (eq. 1)

so a whole weight matrix is ``W^(l) = sigma(Z^(l) Z^(l+1)^T)`` (eq. 2). The
network is a sequence of *unordered* sets of neurons (:class:`NeuronSet`);
layers (:class:`NeuronEmbeddingLinear`) hold no parameters of their own, they
read the embeddings of the two sets they connect. Permuting a hidden set
(embeddings and biases together) therefore leaves the function unchanged.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Kernel = Callable[[torch.Tensor], torch.Tensor]
INITS = ("normal", "uniform")


def embedding_weight(z_in: torch.Tensor, z_out: torch.Tensor, sigma: Kernel | None = None) -> torch.Tensor:
    """Eq. 1-2 in PyTorch's ``(out, in)`` order: ``sigma(Z_out Z_in^T)``.

    ``z_in``: (n_in, d), ``z_out``: (n_out, d) -> (n_out, n_in). ``sigma=None`` is the
    identity, the setting of all the paper's experiments (plain, unscaled dot product).
    """
    if z_in.shape[-1] != z_out.shape[-1]:
        raise ValueError(f"embedding dimensions differ: {z_in.shape[-1]} (inputs) vs {z_out.shape[-1]} (outputs)")
    w = z_out @ z_in.transpose(-1, -2)
    return w if sigma is None else sigma(w)


class NeuronSet(nn.Module):
    """A layer of ``num`` neurons: embeddings ``Z`` (num, d) and an optional bias (num,).

    ``init="normal"``: z ~ N(0, 1/d) (eq. 3, fully connected layers), so |z| is about 1.
    ``init="uniform"``: z ~ U(-sqrt(3/d), sqrt(3/d)) (same variance; the authors' conv layers).
    ``bias_fan_in``: give the neurons a bias, initialised U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    as in ``nn.Linear``; ``None`` for input neurons and neurons followed by BatchNorm.
    """

    def __init__(self, num: int, dim: int, bias_fan_in: int | None = None, init: str = "normal") -> None:
        super().__init__()
        if num < 1 or dim < 1:
            raise ValueError(f"a neuron set needs num >= 1 and dim >= 1, got num={num}, dim={dim}")
        if init not in INITS:
            raise ValueError(f"unknown embedding init {init!r}: choose one of {', '.join(INITS)}")
        self.init = init
        self.embedding = nn.Parameter(torch.empty(num, dim))
        self.bias = nn.Parameter(torch.empty(num)) if bias_fan_in is not None else None
        self._bias_fan_in = bias_fan_in
        self.reset_parameters()

    def reset_parameters(self) -> None:
        d = self.embedding.shape[1]
        if self.init == "normal":
            nn.init.normal_(self.embedding, std=1.0 / math.sqrt(d))
        else:
            bound = math.sqrt(3.0 / d)
            nn.init.uniform_(self.embedding, -bound, bound)
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self._bias_fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def num(self) -> int:
        return self.embedding.shape[0]

    @property
    def dim(self) -> int:
        return self.embedding.shape[1]

    @torch.no_grad()
    def permute_(self, perm: torch.Tensor) -> NeuronSet:
        """Reorder the neurons in place (embeddings and biases together)."""
        if sorted(perm.tolist()) != list(range(self.num)):
            raise ValueError(f"not a permutation of {self.num} neurons")
        self.embedding.copy_(self.embedding[perm])
        if self.bias is not None:
            self.bias.copy_(self.bias[perm])
        return self

    def extra_repr(self) -> str:
        return f"num={self.num}, dim={self.dim}, bias={self.bias is not None}, init={self.init}"


class NeuronEmbeddingLinear(nn.Module):
    """``y = x W^T + b`` with ``W = sigma(Z_target Z_source^T)`` (eq. 2) and the target's bias.

    On a 4-D input (N, C, H, W) it acts on channels: a 1x1 convolution, the
    pointwise half of the blueprint convolution (Fig. 2). The two neuron sets are
    owned by the model; this layer only refers to them, so neighbouring layers
    share the set between them, as neurons do in the paper.
    """

    def __init__(self, source: NeuronSet, target: NeuronSet, sigma: Kernel | None = None) -> None:
        super().__init__()
        if source.dim != target.dim:
            raise ValueError(f"source and target embeddings differ in dimension: {source.dim} vs {target.dim}")
        self._sets = (source, target)  # a tuple, so the sets are not registered twice
        self.sigma = sigma

    @property
    def source(self) -> NeuronSet:
        return self._sets[0]

    @property
    def target(self) -> NeuronSet:
        return self._sets[1]

    @property
    def weight(self) -> torch.Tensor:
        return embedding_weight(self.source.embedding, self.target.embedding, self.sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.weight, self.target.bias
        if x.dim() == 4:
            return F.conv2d(x, w[:, :, None, None], b)
        return F.linear(x, w, b)

    def extra_repr(self) -> str:
        return f"{self.source.num} -> {self.target.num}, d={self.source.dim}, sigma={self.sigma or 'identity'}"


class BlueprintConv2d(nn.Module):
    """Reverse-order depthwise-separable ("blueprint") convolution, Fig. 2.

    A pointwise map first (C_in -> C_out: a neuron-embedding layer, or a direct
    1x1 convolution for the "sep." baseline), then one k x k depthwise kernel per
    output channel (direct weights). Each (embedding, depthwise kernel) pair is
    one self-contained output filter.
    """

    def __init__(self, pointwise: nn.Module, channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, bias: bool = False) -> None:
        super().__init__()
        self.pointwise = pointwise
        self.depthwise = nn.Conv2d(channels, channels, kernel_size, stride, padding, groups=channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.depthwise(self.pointwise(x))

    @torch.no_grad()
    def permute_(self, perm: torch.Tensor) -> BlueprintConv2d:
        """Reorder the output filters in place: each filter's embedding, bias and depthwise kernel move together.

        Only for a neuron-embedding pointwise part: the next layer reads the reordered
        embeddings, so the network's function is unchanged.
        """
        if not isinstance(self.pointwise, NeuronEmbeddingLinear):
            raise TypeError("only a neuron-embedding blueprint convolution can reorder its filters in place")
        self.pointwise.target.permute_(perm)
        self.depthwise.weight.copy_(self.depthwise.weight[perm])
        if self.depthwise.bias is not None:
            self.depthwise.bias.copy_(self.depthwise.bias[perm])
        return self
