"""Coordinates, positional embeddings (eq. 1), the NeRN predictor and network reconstruction.

Every reconstructed kernel has a coordinate ``(l, f, c)``: layer, filter and
channel. The paper embeds these integer indices (Section 3.1 maps "a 3-tuple
(l, f, c)" to its kernel; Fig. 8 embeds ``(0, 0, c)`` for ``c`` in 0..63), and so
does the authors' code: it also computes per-layer normalised indices
(``l / L``, ``f / F_l``, ``c / C_l``) but embeds the integer ones. ``indices``
chooses: ``"integer"`` (the paper's and the code's, the default) or
``"normalised"``. Eq. 1 maps a coordinate to

    PE(l, f, c) = [γ(l), γ(f), γ(c)],
    γ(v) = [sin(b^0 π v), cos(b^0 π v), ..., sin(b^{N-1} π v), cos(b^{N-1} π v)],

``3 * 2 * N`` features (240 for the paper's N = 40, b = 0.76: on integer indices
the frequencies fall from π, the highest an integer grid resolves, to
π b^{N-1}, about 7e-5). The predictor,
a 5-layer MLP of width ``h`` (Section 3.1), maps an embedding to a 3x3 kernel;
a 1x1 kernel is its centre element.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from weightspace.nern import permutation

DEFAULT_BASE = 0.76
DEFAULT_FREQUENCIES = 40
INDICES = ("integer", "normalised")


def gamma(v: torch.Tensor, base: float = DEFAULT_BASE, frequencies: int = DEFAULT_FREQUENCIES) -> torch.Tensor:
    """Eq. 1's γ(v) for coordinates ``v`` (...,): (..., 2N), sin and cos interleaved (computed in float64)."""
    scales = torch.pi * base ** torch.arange(frequencies, dtype=torch.float64)
    angles = v.to(torch.float64).unsqueeze(-1) * scales
    return torch.stack((angles.sin(), angles.cos()), -1).flatten(-2).float()


def positional_embedding(coords: torch.Tensor, base: float = DEFAULT_BASE,
                         frequencies: int = DEFAULT_FREQUENCIES) -> torch.Tensor:
    """Eq. 1: PE of coordinates (..., 3) = concat(γ(l), γ(f), γ(c)): (..., 6N)."""
    return torch.cat([gamma(coords[..., i], base, frequencies) for i in range(3)], -1)


@dataclass(frozen=True)
class LayerSpec:
    """One reconstructed conv: its parameter name and weight shape (F, C, k, k)."""

    name: str
    shape: tuple[int, int, int, int]

    @property
    def kernels(self) -> int:
        return self.shape[0] * self.shape[1]


class KernelLayout:
    """Which kernels NeRN predicts, in which coordinate order.

    ``orders[l][j]`` is the flat index ``f * C + c`` of the kernel in layer ``l``
    that coordinate ``j = f' * C + c'`` predicts (identity without permutation).
    :meth:`targets` gathers the original kernels in coordinate order;
    :meth:`weights` puts predicted kernels back where they belong, so the
    network's weights never move whatever the permutation.
    """

    def __init__(self, specs: list[LayerSpec], orders: list[torch.Tensor] | None = None, size: int = 3) -> None:
        for s in specs:
            if s.shape[-1] > size or s.shape[-1] % 2 == 0 or s.shape[-1] != s.shape[-2]:
                raise ValueError(f"{s.name}: kernel {s.shape[-2]}x{s.shape[-1]} cannot be the centre of "
                                 f"a {size}x{size} prediction")
        self.specs, self.size = specs, size
        self.orders = orders or [torch.arange(s.kernels) for s in specs]
        for s, o in zip(specs, self.orders, strict=True):
            if sorted(o.tolist()) != list(range(s.kernels)):
                raise ValueError(f"{s.name}: order is not a permutation of its {s.kernels} kernels")
        self.offsets = [0]
        for s in specs:
            self.offsets.append(self.offsets[-1] + s.kernels)
        self._inverse = [torch.argsort(o) for o in self.orders]

    @classmethod
    def of(cls, weights: dict[str, torch.Tensor], mode: str = "none", size: int = 3) -> KernelLayout:
        """The layout of conv ``weights`` (name -> (F, C, k, k)) with a permutation ``mode`` (none, in, cross)."""
        specs = [LayerSpec(n, tuple(w.shape)) for n, w in weights.items()]
        return cls(specs, [permutation.order(w.detach().cpu(), mode) for w in weights.values()], size)

    @property
    def num_kernels(self) -> int:
        return self.offsets[-1]

    def coordinates(self, indices: str = "integer") -> torch.Tensor:
        """(l, f, c) of every coordinate, layer by layer: (num_kernels, 3), float64.

        ``indices="integer"``: the indices themselves (the paper's); ``"normalised"``:
        ``(l / L, f / F_l, c / C_l)``.
        """
        if indices not in INDICES:
            raise ValueError(f"unknown indices {indices!r}: choose one of {', '.join(INDICES)}")
        parts = []
        for l, s in enumerate(self.specs):
            f, c = torch.meshgrid(torch.arange(s.shape[0], dtype=torch.float64),
                                  torch.arange(s.shape[1], dtype=torch.float64), indexing="ij")
            coords = torch.stack((torch.full((s.kernels,), float(l), dtype=torch.float64), f.reshape(-1), c.reshape(-1)), 1)
            if indices == "normalised":
                coords = coords / torch.tensor([len(self.specs), s.shape[0], s.shape[1]], dtype=torch.float64)
            parts.append(coords)
        return torch.cat(parts)

    def targets(self, weights: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Original kernels in coordinate order as (num_kernels, size, size), and the mask of real entries.

        A k x k kernel (k < size) sits at the centre; the mask marks those entries.
        """
        device = next(iter(weights.values())).device
        out = torch.zeros(self.num_kernels, self.size, self.size, device=device)
        mask = torch.zeros_like(out, dtype=torch.bool)
        for s, o, start in zip(self.specs, self.orders, self.offsets):
            k, lo = s.shape[-1], (self.size - s.shape[-1]) // 2
            w = weights[s.name].detach().reshape(s.kernels, k, k)[o.to(device)]
            out[start:start + s.kernels, lo:lo + k, lo:lo + k] = w
            mask[start:start + s.kernels, lo:lo + k, lo:lo + k] = True
        return out, mask

    def weights(self, kernels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Conv weights (name -> (F, C, k, k)) from predicted kernels (num_kernels, size, size); differentiable."""
        out = {}
        for s, inv, start in zip(self.specs, self._inverse, self.offsets):
            k, lo = s.shape[-1], (self.size - s.shape[-1]) // 2
            layer = kernels[start:start + s.kernels, lo:lo + k, lo:lo + k]
            out[s.name] = layer[inv.to(kernels.device)].reshape(s.shape)
        return out


class Predictor(nn.Module):
    """NeRN's predictor (Section 3.1): Linear(in, h), three Linear(h, h), Linear(h, size^2); ReLU between.

    PyTorch's default Linear initialisation, as in the authors' runs.
    """

    def __init__(self, hidden: int, in_features: int = 6 * DEFAULT_FREQUENCIES, size: int = 3) -> None:
        super().__init__()
        if hidden < 1:
            raise ValueError(f"hidden size must be positive, got {hidden}")
        dims = [in_features] + [hidden] * 4
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden, size * size))
        self.size = size

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """Kernels (..., size, size) for positional embeddings (..., in_features)."""
        return self.net(embedding).unflatten(-1, (self.size, self.size))


def predictor_size_mb(hidden: int, in_features: int = 6 * DEFAULT_FREQUENCIES, size: int = 3) -> float:
    """Size of a predictor's float32 parameters in MiB (the paper's "MB")."""
    params = in_features * hidden + hidden + 3 * (hidden * hidden + hidden) + hidden * size * size + size * size
    return params * 4 / 2**20


class NeRN(nn.Module):
    """A predictor with the embeddings of every coordinate of a layout: ``forward()`` predicts all kernels.

    ``indices``: whether the integer or the per-layer normalised (l, f, c) reach eq. 1
    (see the module docstring).

    Shape:
        ``forward(index)``: ``index`` (k,) -> (k, size, size); ``forward()`` -> (num_kernels, size, size).

    Example::

        >>> layout = KernelLayout([LayerSpec("conv.weight", (4, 2, 3, 3))])
        >>> NeRN(layout, hidden=8)().shape
        torch.Size([8, 3, 3])
    """

    def __init__(self, layout: KernelLayout, hidden: int, base: float = DEFAULT_BASE,
                 frequencies: int = DEFAULT_FREQUENCIES, indices: str = "integer") -> None:
        super().__init__()
        self.layout = layout
        self.predictor = Predictor(hidden, 6 * frequencies, layout.size)
        self.register_buffer("embedding", positional_embedding(layout.coordinates(indices), base, frequencies),
                             persistent=False)

    def forward(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted kernels of all coordinates (or of ``index``): (n, size, size)."""
        return self.predictor(self.embedding if index is None else self.embedding[index])

    def sampled(self, index: torch.Tensor | None) -> torch.Tensor:
        """All kernels, gradients flowing only through those at ``index`` (through all when ``index`` is None).

        Each kernel is predicted once: ``index`` with autograd, the others without.
        ``index`` must hold distinct coordinates.
        """
        if index is None:
            return self()
        rest = torch.ones(self.layout.num_kernels, dtype=torch.bool, device=self.embedding.device)
        rest[index] = False
        with torch.no_grad():
            out = torch.empty(self.layout.num_kernels, self.layout.size, self.layout.size,
                              device=self.embedding.device)
            out[rest] = self.predictor(self.embedding[rest])
        return out.index_put((index,), self(index))

    def weights(self) -> dict[str, torch.Tensor]:
        """Every reconstructed conv weight, name -> tensor."""
        return self.layout.weights(self())
