"""DWSNets and the baselines of Section 6, all taking a batch of MLPs.

Every model accepts a :class:`~weightspace.dws.space.WeightSpace` (``C = 1``) or
the same MLPs as flat vectors ``[B, D]`` (:meth:`WeightSpace.flatten` order), so
a zoo stored as one tensor trains with :func:`weightspace.training.train_classifier`.

* :class:`DWSNet`: DWS layers (ReLU, optional BatchNorm and dropout) then the
  invariant layer and an MLP head, for invariant tasks (classify or regress from weights).
* :class:`DWSEquivariant`: DWS layers ending in a 1-channel DWS layer, for
  equivariant tasks (a new weight space, e.g. an adapted network).
* Baselines: :class:`FlatMLP` (also with permutation augmentation or alignment,
  which act on the data), :class:`NeuronDeepSets`, :class:`WeightTransformer`
  and :class:`INR2VecEncoder`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from weightspace.dws.layers import BLOCKS, DWSLayer, InvariantLayer, WSBatchNorm, WSDropout, WSReLU
from weightspace.dws.space import WeightSpace, check_widths, num_parameters

BASELINES = ("mlp", "mlp_perm", "mlp_align", "deepsets", "transformer", "inr2vec")
METHODS = BASELINES + ("dwsnet",)


def as_space(x: Tensor | WeightSpace, widths: Sequence[int]) -> WeightSpace:
    """``x`` as a 1-channel weight space of MLPs of ``widths`` (flat vectors are unflattened)."""
    return x if isinstance(x, WeightSpace) else WeightSpace.from_flat(x, widths)


def _flat(x: Tensor | WeightSpace) -> Tensor:
    return x.flatten() if isinstance(x, WeightSpace) else x


def _mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers)


class _DWSTrunk(nn.Module):
    def __init__(self, widths: Sequence[int], hidden: int, layers: int, blocks: Iterable[str],
                 batch_norm: bool, dropout: float, last_batch_norm: bool = True) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"a DWSNet needs at least one DWS layer, got {layers}")
        self.widths = check_widths(widths)
        mods: list[nn.Module] = []
        channels = 1
        for i in range(layers):
            mods.append(DWSLayer(self.widths, channels, hidden, blocks))
            if batch_norm and (last_batch_norm or i < layers - 1):
                mods.append(WSBatchNorm(self.widths, hidden))
            mods.append(WSReLU(inplace=True))  # on the fresh output of the layer or BatchNorm
            if dropout:
                mods.append(WSDropout(dropout))
            channels = hidden
        self.body = nn.Sequential(*mods)


class DWSNet(_DWSTrunk):
    """Invariant DWSNet: ``layers`` DWS layers of ``hidden`` channels (BatchNorm, ReLU), the invariant layer, a head.

    The paper leaves the head open; the defaults are the authors' code: no BatchNorm
    after the last DWS layer (``last_batch_norm=False``) and the invariant layer mapping
    straight to the outputs (``head_hidden=None``, one linear layer). ``head_hidden=k``
    and ``last_batch_norm=True`` give the variant with an MLP head
    (invariant layer to ``k`` features, ReLU, linear) and BatchNorm after every layer.
    """

    def __init__(self, widths: Sequence[int], out_features: int, hidden: int = 32, layers: int = 5,
                 head_hidden: int | None = None, blocks: Iterable[str] = BLOCKS, batch_norm: bool = True,
                 dropout: float = 0.0, last_batch_norm: bool = False) -> None:
        super().__init__(widths, hidden, layers, blocks, batch_norm, dropout, last_batch_norm)
        if head_hidden is not None and head_hidden < 1:
            raise ValueError(f"DWSNet head_hidden must be a positive width or None (one linear layer); got {head_hidden}")
        self.invariant = InvariantLayer(self.widths, hidden, head_hidden or out_features)
        self.head = (nn.Identity() if head_hidden is None
                     else nn.Sequential(nn.ReLU(), nn.Linear(head_hidden, out_features)))

    def forward(self, x: Tensor | WeightSpace) -> Tensor:
        return self.head(self.invariant(self.body(as_space(x, self.widths))))


class DWSEquivariant(_DWSTrunk):
    """Equivariant DWSNet: DWS layers then a DWS layer to one channel; returns a weight space of the same MLPs."""

    def __init__(self, widths: Sequence[int], hidden: int = 32, layers: int = 4, blocks: Iterable[str] = BLOCKS,
                 batch_norm: bool = False, dropout: float = 0.0) -> None:
        super().__init__(widths, hidden, layers, blocks, batch_norm, dropout)
        self.out = DWSLayer(self.widths, hidden, 1, blocks)

    def forward(self, x: Tensor | WeightSpace) -> WeightSpace:
        return self.out(self.body(as_space(x, self.widths)))


class FlatMLP(nn.Module):
    """The naive baseline: an MLP on the flattened weights (not invariant to anything)."""

    def __init__(self, widths: Sequence[int], out_features: int, hidden: int = 512, layers: int = 3,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.net = _mlp([num_parameters(widths)] + [hidden] * (layers - 1) + [out_features], dropout)

    def forward(self, x: Tensor | WeightSpace) -> Tensor:
        return self.net(_flat(x))


def _neuron_rows(space: WeightSpace) -> list[Tensor]:
    """Per layer ``m``: ``[B, n_m, n_{m-1} + 1]``, each neuron's incoming weights and bias."""
    return [torch.cat([w[:, 0], b[:, 0].unsqueeze(-1)], dim=-1) for w, b in zip(space.weights, space.biases)]


class NeuronDeepSets(nn.Module):
    """DeepSets over the hidden neurons of each layer (Zaheer et al.).

    A hidden neuron of layer ``m`` is the vector of its incoming weights, bias and
    outgoing weights; a per-layer ``phi`` embeds it, a mean over the layer's neurons
    makes it invariant to that layer's permutation, and ``rho`` maps the
    concatenated layer summaries (and the output bias) to the prediction. The
    neighbouring layers' permutations still reorder a neuron's vector, so the
    model is invariant only to each layer's own permutation, as in the paper.
    """

    def __init__(self, widths: Sequence[int], out_features: int, hidden: int = 64) -> None:
        super().__init__()
        self.widths = check_widths(widths)
        if len(self.widths) < 3:
            raise ValueError("DeepSets over neurons needs at least one hidden layer")
        ins = [self.widths[m - 1] + 1 + self.widths[m + 1] for m in range(1, len(self.widths) - 1)]
        self.phi = nn.ModuleList(_mlp([n, hidden, hidden]) for n in ins)
        self.rho = _mlp([hidden * len(ins) + self.widths[-1], hidden, out_features])

    def forward(self, x: Tensor | WeightSpace) -> Tensor:
        space = as_space(x, self.widths)
        summaries = []
        for m, phi in enumerate(self.phi, start=1):
            incoming = torch.cat([space.weights[m - 1][:, 0], space.biases[m - 1][:, 0].unsqueeze(-1)], dim=-1)
            outgoing = space.weights[m][:, 0].transpose(1, 2)
            summaries.append(phi(torch.cat([incoming, outgoing], dim=-1)).mean(dim=1))
        return self.rho(torch.cat(summaries + [space.biases[-1][:, 0]], dim=1))


class WeightTransformer(nn.Module):
    """A Transformer over neurons: each neuron's incoming weights and bias is a token with a learned position.

    ``norm_first`` puts LayerNorm before attention and the feed-forward block (pre-LN), ``dropout`` acts inside them.
    """

    def __init__(self, widths: Sequence[int], out_features: int, d_model: int = 64, heads: int = 4,
                 layers: int = 2, dropout: float = 0.0, norm_first: bool = False) -> None:
        super().__init__()
        self.widths = check_widths(widths)
        self.width = max(self.widths[:-1]) + 1
        tokens = sum(self.widths[1:])
        self.embed = nn.Linear(self.width, d_model)
        self.position = nn.Parameter(torch.randn(tokens, d_model) * 0.02)
        block = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=dropout,
                                           batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, out_features)

    def forward(self, x: Tensor | WeightSpace) -> Tensor:
        rows = _neuron_rows(as_space(x, self.widths))
        tokens = torch.cat([nn.functional.pad(r, (0, self.width - r.shape[-1])) for r in rows], dim=1)
        return self.out(self.encoder(self.embed(tokens) + self.position).mean(dim=1))


class INR2VecEncoder(nn.Module):
    """An inr2vec-style encoder (De Luigi et al.): a shared MLP on every neuron's weight row, max-pooled, then an MLP.

    Rows of ``[W_m | b_m]`` are zero-padded to one length and tagged with their
    layer (one-hot); max pooling over all rows gives the embedding.
    """

    def __init__(self, widths: Sequence[int], out_features: int, hidden: int = 128, embedding: int = 128) -> None:
        super().__init__()
        self.widths = check_widths(widths)
        self.width = max(self.widths[:-1]) + 1
        layers = len(self.widths) - 1
        self.rows = _mlp([self.width + layers, hidden, hidden, embedding])
        self.head = _mlp([embedding, hidden, out_features])

    def forward(self, x: Tensor | WeightSpace) -> Tensor:
        rows = _neuron_rows(as_space(x, self.widths))
        layers = len(rows)
        tagged = []
        for m, r in enumerate(rows):
            tag = torch.zeros(*r.shape[:2], layers, dtype=r.dtype, device=r.device)
            tag[..., m] = 1.0
            tagged.append(torch.cat([nn.functional.pad(r, (0, self.width - r.shape[-1])), tag], dim=-1))
        return self.head(self.rows(torch.cat(tagged, dim=1)).amax(dim=1))


def build(method: str, widths: Sequence[int], out_features: int, **kwargs) -> nn.Module:
    """The model of ``method`` (one of :data:`METHODS`); ``mlp_perm`` and ``mlp_align`` are the flat MLP."""
    if method == "dwsnet":
        return DWSNet(widths, out_features, **kwargs)
    if method in ("mlp", "mlp_perm", "mlp_align"):
        return FlatMLP(widths, out_features, **kwargs)
    if method == "deepsets":
        return NeuronDeepSets(widths, out_features, **kwargs)
    if method == "transformer":
        return WeightTransformer(widths, out_features, **kwargs)
    if method == "inr2vec":
        return INR2VecEncoder(widths, out_features, **kwargs)
    raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
