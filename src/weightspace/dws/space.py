"""The weight space of an MLP as data: a batch of weights and biases with channels (Section 3).

An ``M``-layer MLP ``x_m = sigma(W_m x_{m-1} + b_m)`` has weights
``W_m in R^{n_m x n_{m-1}}`` and biases ``b_m in R^{n_m}``. A :class:`WeightSpace`
holds a batch of ``B`` such MLPs with ``C`` feature channels per entry:
``weights[m]`` of shape ``[B, C, n_m, n_{m-1}]`` and ``biases[m]`` of shape
``[B, C, n_m]`` (the layout of the ``nfn`` library). Input data of a weight-space
network has ``C = 1``; hidden DWS layers carry more channels. A :class:`Zoo` is
the data a method learns from: ``N`` MLPs of one architecture as flat vectors
with their widths and one target each.

The symmetry group is ``G = S_{n_1} x ... x S_{n_{M-1}}``: permuting the hidden
neurons of layer ``m`` by ``tau_m`` maps ``W_m -> P_m W_m P_{m-1}^T`` and
``b_m -> P_m b_m`` (``P_0 = P_M = I``) and leaves the function unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

Shapes = tuple[int, ...]  # layer widths (n_0, n_1, ..., n_M)


def check_widths(widths: Sequence[int]) -> Shapes:
    """``widths`` as a tuple, refusing fewer than two entries or non-positive widths."""
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"an MLP needs at least an input and an output width, all positive; got {widths}")
    return widths


@dataclass(frozen=True)
class WeightSpace:
    """A batch of MLP parameters with channels: ``weights[m]`` ``[B, C, n_{m+1}, n_m]``, ``biases[m]`` ``[B, C, n_{m+1}]``."""

    weights: tuple[Tensor, ...]
    biases: tuple[Tensor, ...]

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.biases) or not self.weights:
            raise ValueError(f"{len(self.weights)} weights but {len(self.biases)} biases; need the same, at least one")
        batch, channels = self.weights[0].shape[:2]
        prev = self.weights[0].shape[3] if self.weights[0].dim() == 4 else None
        for m, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.dim() != 4 or b.dim() != 3:
                raise ValueError(f"layer {m}: weight must be [B, C, n_out, n_in] and bias [B, C, n_out]; "
                                 f"got {tuple(w.shape)} and {tuple(b.shape)}")
            if w.shape[:2] != (batch, channels) or b.shape[:2] != (batch, channels):
                raise ValueError(f"layer {m}: batch/channels {tuple(w.shape[:2])}, {tuple(b.shape[:2])} "
                                 f"differ from layer 0's {(batch, channels)}")
            if w.shape[3] != prev or b.shape[2] != w.shape[2]:
                raise ValueError(f"layer {m}: weight {tuple(w.shape)} does not chain with the previous layer "
                                 f"(n_in should be {prev}) or with its bias {tuple(b.shape)}")
            prev = w.shape[2]

    # ----- building -----------------------------------------------------------------------------
    @classmethod
    def from_tensors(cls, tensors: Sequence[Tensor]) -> WeightSpace:
        """Inverse of :meth:`tensors`: ``W_1, ..., W_M, b_1, ..., b_M`` (``[B, C, n_m, n_{m-1}]``, ``[B, C, n_m]``)."""
        if len(tensors) % 2 or not tensors:
            raise ValueError(f"expected W_1..W_M then b_1..b_M, an even number of tensors; got {len(tensors)}")
        half = len(tensors) // 2
        return cls(tuple(tensors[:half]), tuple(tensors[half:]))

    @classmethod
    def cat(cls, spaces: Sequence[WeightSpace]) -> WeightSpace:
        """The batches of ``spaces`` (MLPs of the same widths and channels) one after another."""
        if not spaces:
            raise ValueError("no weight spaces to concatenate")
        shapes = {(s.widths, s.channels) for s in spaces}
        if len(shapes) > 1:
            raise ValueError(f"cannot concatenate weight spaces of different widths or channels: {sorted(shapes)}")
        return cls.from_tensors([torch.cat(parts) for parts in zip(*(s.tensors() for s in spaces))])

    @classmethod
    def randn(cls, widths: Sequence[int], batch: int, channels: int = 1, generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float32) -> WeightSpace:
        """``batch`` MLPs of ``widths`` with standard Gaussian entries (drawn in float32: every weight, then every
        bias), cast to ``dtype``."""
        widths = check_widths(widths)
        if batch < 1 or channels < 1:
            raise ValueError(f"batch and channels must be positive, got batch={batch}, channels={channels}")
        weights = tuple(torch.randn(batch, channels, b, a, generator=generator).to(dtype)
                        for a, b in zip(widths[:-1], widths[1:]))
        biases = tuple(torch.randn(batch, channels, b, generator=generator).to(dtype) for b in widths[1:])
        return cls(weights, biases)

    # ----- shape facts -------------------------------------------------------------------------
    @property
    def widths(self) -> Shapes:
        """``(n_0, n_1, ..., n_M)``."""
        return (self.weights[0].shape[3],) + tuple(w.shape[2] for w in self.weights)

    @property
    def batch_size(self) -> int:
        return self.weights[0].shape[0]

    @property
    def channels(self) -> int:
        return self.weights[0].shape[1]

    @property
    def num_layers(self) -> int:
        return len(self.weights)

    def __len__(self) -> int:
        return self.batch_size

    def tensors(self) -> list[Tensor]:
        """All tensors in the order ``W_1, ..., W_M, b_1, ..., b_M``."""
        return [*self.weights, *self.biases]

    def map(self, fn: Callable[[Tensor], Tensor]) -> WeightSpace:
        """Apply ``fn`` to every weight and bias tensor."""
        return WeightSpace(tuple(fn(w) for w in self.weights), tuple(fn(b) for b in self.biases))

    def __add__(self, other: WeightSpace) -> WeightSpace:
        return WeightSpace(tuple(a + b for a, b in zip(self.weights, other.weights)),
                           tuple(a + b for a, b in zip(self.biases, other.biases)))

    def __getitem__(self, index) -> WeightSpace:
        """Select MLPs of the batch (``index`` into the batch dimension)."""
        return self.map(lambda t: t[index])

    def to(self, *args, **kwargs) -> WeightSpace:
        return self.map(lambda t: t.to(*args, **kwargs))

    # ----- flat vectors ------------------------------------------------------------------------
    def flatten(self) -> Tensor:
        """``[B, C * D]``: every MLP's parameters in ``W_1, b_1, ..., W_M, b_M`` order (the state-dict order)."""
        parts = []
        for w, b in zip(self.weights, self.biases):
            parts += [w.flatten(2), b]
        return torch.cat(parts, dim=2).flatten(1)

    @classmethod
    def from_flat(cls, flat: Tensor, widths: Sequence[int], channels: int = 1) -> WeightSpace:
        """Inverse of :meth:`flatten` for MLPs of ``widths``."""
        widths = check_widths(widths)
        size = num_parameters(widths)
        if flat.dim() != 2 or flat.shape[1] != channels * size:
            raise ValueError(f"expected flat parameters [B, {channels} * {size}] for widths {widths}; "
                             f"got {tuple(flat.shape)}")
        flat = flat.view(flat.shape[0], channels, size)
        weights, biases, at = [], [], 0
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            weights.append(flat[:, :, at : at + n_out * n_in].unflatten(2, (n_out, n_in)))
            at += n_out * n_in
            biases.append(flat[:, :, at : at + n_out])
            at += n_out
        return cls(tuple(weights), tuple(biases))

    # ----- MLPs and state dicts ----------------------------------------------------------------
    @classmethod
    def from_state_dicts(cls, states: Sequence[dict[str, Tensor]]) -> WeightSpace:
        """Stack the ``nn.Linear`` weights and biases (in key order) of MLP state dicts (``C = 1``)."""
        if not states:
            raise ValueError("no state dicts given")
        per_model = []
        for state in states:
            weights = [v for k, v in state.items() if k.endswith("weight")]
            biases = [v for k, v in state.items() if k.endswith("bias")]
            if len(weights) != len(biases) or any(w.dim() != 2 for w in weights):
                raise ValueError("a state dict must hold one 2-D weight and one bias per linear layer "
                                 f"(got keys {list(state)})")
            per_model.append((weights, biases))
        weights = tuple(torch.stack([m[0][i] for m in per_model]).unsqueeze(1) for i in range(len(per_model[0][0])))
        biases = tuple(torch.stack([m[1][i] for m in per_model]).unsqueeze(1) for i in range(len(per_model[0][1])))
        return cls(weights, biases)

    @classmethod
    def from_mlps(cls, mlps: Sequence[nn.Module]) -> WeightSpace:
        """The weight space of MLPs made of ``nn.Linear`` layers (and parameter-free activations)."""
        return cls.from_state_dicts([{k: v.detach() for k, v in m.state_dict().items()} for m in mlps])

    def state_dict(self, index: int = 0, channel: int = 0, names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """The ``nn.Sequential`` state dict of MLP ``index`` (channel ``channel``); ``names``: its linear layers' names."""
        names = list(names) if names is not None else [str(2 * m) for m in range(self.num_layers)]
        if len(names) != self.num_layers:
            raise ValueError(f"{len(names)} layer names for {self.num_layers} layers")
        state = {}
        for name, w, b in zip(names, self.weights, self.biases):
            state[f"{name}.weight"] = w[index, channel].clone()
            state[f"{name}.bias"] = b[index, channel].clone()
        return state

    def to_mlp(self, index: int = 0, activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
        """MLP ``index`` as ``nn.Sequential(Linear, activation, ..., Linear)`` (channel 0), in this space's dtype."""
        first = self.weights[0]
        mlp = make_mlp(self.widths, activation).to(dtype=first.dtype, device=first.device)
        mlp.load_state_dict(self.state_dict(index))
        return mlp

    # ----- the symmetry ------------------------------------------------------------------------
    def permute(self, perms: Sequence[Tensor]) -> WeightSpace:
        """Act by ``g = (tau_1, ..., tau_{M-1})``: ``W_m -> P_m W_m P_{m-1}^T``, ``b_m -> P_m b_m``.

        ``perms[m-1]`` is a permutation of ``range(n_m)`` (one per hidden layer), or a
        ``[B, n_m]`` batch of permutations, one per MLP.
        """
        if len(perms) != self.num_layers - 1:
            raise ValueError(f"need {self.num_layers - 1} hidden-layer permutations, got {len(perms)}")
        for m, perm in enumerate(perms, start=1):
            _check_permutation(perm, self.widths[m], m)
        full = [None, *perms, None]
        weights, biases = [], []
        for m, (w, b) in enumerate(zip(self.weights, self.biases)):
            out_p, in_p = full[m + 1], full[m]
            if out_p is not None:
                w, b = _take(w, out_p, 2), _take(b, out_p, 2)
            if in_p is not None:
                w = _take(w, in_p, 3)
            weights.append(w)
            biases.append(b)
        return WeightSpace(tuple(weights), tuple(biases))

    def random_permutations(self, generator: torch.Generator | None = None, per_mlp: bool = True) -> list[Tensor]:
        """Uniform random hidden-neuron permutations (``[B, n_m]`` each if ``per_mlp``, else ``[n_m]``)."""
        device = self.weights[0].device
        perms = []
        for n in self.widths[1:-1]:
            if per_mlp:
                keys = torch.rand(self.batch_size, n, generator=generator)
                perms.append(keys.argsort(dim=1).to(device))
            else:
                perms.append(torch.randperm(n, generator=generator).to(device))
        return perms


@dataclass(frozen=True)
class Zoo:
    """``N`` MLPs of one architecture with a target each: the data a weight-space method learns from.

    ``params`` ``[N, D]`` holds the MLPs as flat vectors (:meth:`WeightSpace.flatten`
    order, ``D = num_parameters(widths)``), ``targets`` one label or regression
    target per MLP; :attr:`space` gives the same MLPs as a :class:`WeightSpace`.
    """

    params: Tensor
    targets: Tensor
    widths: Shapes

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", check_widths(self.widths))
        size = num_parameters(self.widths)
        if self.params.dim() != 2 or self.params.shape[1] != size:
            raise ValueError(f"a zoo of MLPs {self.widths} holds flat parameters [N, {size}]; "
                             f"got {tuple(self.params.shape)}")
        if len(self.targets) != len(self.params):
            raise ValueError(f"{len(self.params)} MLPs but {len(self.targets)} targets")

    @classmethod
    def from_space(cls, space: WeightSpace, targets: Tensor) -> Zoo:
        """The 1-channel MLPs of ``space`` with one target each."""
        if space.channels != 1:
            raise ValueError(f"a zoo holds 1-channel weight spaces, got {space.channels} channels")
        return cls(space.flatten(), targets, space.widths)

    @property
    def space(self) -> WeightSpace:
        return WeightSpace.from_flat(self.params, self.widths)

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, index) -> Zoo:
        """The MLPs (and targets) at ``index`` of the zoo."""
        return Zoo(self.params[index], self.targets[index], self.widths)

    def to(self, device: str | torch.device) -> Zoo:
        return Zoo(self.params.to(device), self.targets.to(device), self.widths)

    def split(self, sizes: Sequence[int]) -> list[Zoo]:
        """Consecutive parts of ``sizes`` MLPs each, from the start of the zoo."""
        if any(int(n) < 1 for n in sizes):
            raise ValueError(f"every part of a zoo split needs at least one MLP; got sizes {list(sizes)}")
        if sum(sizes) > len(self):
            raise ValueError(f"splits {list(sizes)} need {sum(sizes)} MLPs; the zoo has {len(self)}")
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        return [self[a : a + int(n)] for a, n in zip(starts, sizes)]


def _check_permutation(perm: Tensor, n: int, layer: int) -> None:
    """``perm`` (``[n]`` or ``[B, n]``) must hold every index of ``range(n)`` exactly once (per row)."""
    perm = torch.as_tensor(perm)
    if perm.shape[-1:] != (n,) or perm.dim() not in (1, 2) or perm.dtype in (torch.bool,) or perm.is_floating_point():
        raise ValueError(f"the permutation of hidden layer {layer} must be an integer tensor of shape [{n}] or "
                         f"[B, {n}], got {perm.dtype} of shape {list(perm.shape)}")
    expected = torch.arange(n, device=perm.device)
    if not torch.equal(perm.sort(dim=-1).values, expected.expand_as(perm)):
        raise ValueError(f"the permutation of hidden layer {layer} is not a permutation of range({n}): it repeats "
                         f"or misses an index")


def _take(t: Tensor, perm: Tensor, dim: int) -> Tensor:
    """``t`` reordered along ``dim`` by ``perm`` (``[n]``, or ``[B, n]`` per batch element)."""
    if perm.dim() == 1:
        return t.index_select(dim, perm)
    shape = [1] * t.dim()
    shape[0], shape[dim] = perm.shape[0], perm.shape[1]
    index = perm.view(shape).expand(*[t.shape[i] if i not in (0, dim) else shape[i] for i in range(t.dim())])
    return t.gather(dim, index)


def num_parameters(widths: Sequence[int]) -> int:
    """Number of weights and biases of an MLP of ``widths`` (1,185 for the MNIST INR 2-32-32-1)."""
    widths = check_widths(widths)
    return sum(n_out * n_in + n_out for n_in, n_out in zip(widths[:-1], widths[1:]))


def make_mlp(widths: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """``nn.Sequential(Linear(n_0, n_1), activation(), ..., Linear(n_{M-1}, n_M))``."""
    widths = check_widths(widths)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(widths) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def mlp_forward(space: WeightSpace, x: Tensor, activation: Callable[[Tensor], Tensor] = torch.relu,
                channel: int = 0) -> Tensor:
    """Evaluate every MLP of the batch on inputs ``x`` ``[B, N, n_0]`` (or ``[N, n_0]``, shared) -> ``[B, N, n_M]``."""
    h = x.expand(space.batch_size, *x.shape[-2:]) if x.dim() == 2 else x
    for m, (w, b) in enumerate(zip(space.weights, space.biases)):
        h = torch.baddbmm(b[:, channel].unsqueeze(1), h, w[:, channel].transpose(1, 2))
        if m < space.num_layers - 1:
            h = activation(h)
    return h
