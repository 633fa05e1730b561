"""Fitting embeddings to a network (Section 4.2, eq. 4) and moving neurons between networks (4.3).

Everything here works on :class:`~weightspace.neuron_embedding.models.FCNet` in
either encoding. Many variants of one network (interpolation points, crossover
repeats) are evaluated in one program: their parameters are stacked and the
model is called through ``torch.func.vmap`` + ``functional_call``.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch.func import functional_call, vmap
from tqdm.auto import tqdm

from weightspace.data import Split
from weightspace.neuron_embedding.models import FCNet

State = dict[str, torch.Tensor]


def weight_loss(model: FCNet, reference: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. 4: ``sum_i ||W_i - Z_{i-1} Z_i^T||_F^2 / (m_i n_i)``."""
    weights = model.weights()
    if [tuple(w.shape) for w in weights] != [tuple(r.shape) for r in reference]:
        raise ValueError(f"shape mismatch: model weights {[tuple(w.shape) for w in weights]} "
                         f"vs reference {[tuple(r.shape) for r in reference]}")
    return sum(((w - r) ** 2).mean() for w, r in zip(weights, reference))


@torch.no_grad()
def weight_mse(model: FCNet, reference: FCNet) -> float:
    """Mean squared deviation over all generated weights from the reference's (Table 2's "MSE")."""
    sse = sum(((w - r) ** 2).sum().item() for w, r in zip(model.weights(), reference.weights()))
    return sse / sum(w.numel() for w in reference.weights())


def fit_embeddings(model: FCNet, reference: FCNet, steps: int = 2000, lr: float = 2e-3, *,
                   freeze_inputs: bool = False, plateau: bool = True, plateau_factor: float = 0.5,
                   plateau_patience: int = 100, desc: str = "fit") -> list[float]:
    """Fit an ``emb`` network's embeddings to a ``direct`` reference by eq. 4 (Adam, Section 4.2).

    Biases are per-neuron and copied from the reference. ``freeze_inputs`` keeps the
    input embeddings fixed (the crossover experiment shares them between models).
    ``plateau`` adds the authors' ReduceLROnPlateau (the learning rate times
    ``plateau_factor`` after ``plateau_patience`` steps without improvement).
    Returns the loss per step.
    """
    if model.encoding != "emb" or reference.encoding != "direct":
        raise ValueError("fit_embeddings fits an 'emb' FCNet to a 'direct' FCNet")
    if model.sizes != reference.sizes:
        raise ValueError(f"layer sizes differ: {model.sizes} vs {reference.sizes}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"fit steps must be a positive whole number, got {steps!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"fit learning rate must be a finite positive number, got {lr!r}")
    if plateau and not 0 < plateau_factor < 1:
        raise ValueError(f"plateau factor must lie in (0, 1), got {plateau_factor!r}")
    if plateau and (isinstance(plateau_patience, bool) or not isinstance(plateau_patience, int)
                    or plateau_patience < 0):
        raise ValueError(f"plateau patience must be a whole number >= 0, got {plateau_patience!r}")
    target = [w.detach() for w in reference.weights()]
    with torch.no_grad():
        for s, b in zip(model.neurons[1:], reference.biases()):
            s.bias.copy_(b)
    params = [s.embedding for s in model.neurons[int(freeze_inputs):]]
    opt = torch.optim.Adam(params, lr=lr)
    sched = (torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=plateau_factor, patience=plateau_patience)
             if plateau else None)
    losses = []
    for _ in tqdm(range(steps), desc=desc, leave=False):
        loss = weight_loss(model, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step(loss.item())
        losses.append(loss.item())
    return losses


def stack_states(states: Sequence[Mapping[str, torch.Tensor]]) -> State:
    """Stack R parameter dicts of one architecture into one dict of (R, ...) tensors."""
    return {k: torch.stack([s[k] for s in states]) for k in states[0]}


@torch.no_grad()
def accuracy_of_states(model: torch.nn.Module, states: Mapping[str, torch.Tensor], split: Split,
                       chunk: int = 16) -> torch.Tensor:
    """Accuracy (%) of ``model`` under each of R stacked parameter sets -> (R,), via vmap."""
    def logits(params: State) -> torch.Tensor:
        return functional_call(model, params, (split.x,))

    n = next(iter(states.values())).shape[0]
    out = []
    for s in range(0, n, chunk):
        part = {k: v[s : s + chunk] for k, v in states.items()}
        out.append((vmap(logits)(part).argmax(-1) == split.y).float().mean(-1) * 100)
    return torch.cat(out)


def layer_parameters(net: FCNet, layer: int) -> tuple[str, str]:
    """The names of the parameters that make up hidden layer ``layer``'s neurons.

    ``emb``: their embeddings and biases; ``direct``: their incoming weights (rows
    of the ``(out, in)`` matrix) and biases. The next layer's weights are not theirs.
    """
    if not 1 <= layer <= len(net.sizes) - 2:
        raise ValueError(f"layer must be a hidden layer, 1..{len(net.sizes) - 2}; got {layer}")
    if net.encoding == "emb":
        return f"neurons.{layer}.embedding", f"neurons.{layer}.bias"
    return f"layers.{layer - 1}.weight", f"layers.{layer - 1}.bias"


def interpolate(a: FCNet, b: FCNet, alphas: Sequence[float], layer: int | None = None) -> State:
    """Stacked parameters ``(1 - t) a + t b`` for each ``t`` (weights, or embeddings, in stored order).

    ``layer=None`` interpolates every parameter (what the paper's Section 4.3 text
    describes); ``layer=1`` only the first hidden layer's neurons
    (:func:`layer_parameters`), the rest staying ``a``'s (what the authors' code runs).
    """
    sa, sb = dict(a.named_parameters()), dict(b.named_parameters())
    moving = set(sa) if layer is None else set(layer_parameters(a, layer))
    t = torch.as_tensor(list(alphas), dtype=torch.float64)
    return {k: torch.lerp(sa[k].detach().unsqueeze(0), sb[k].detach().unsqueeze(0),
                          t.to(sa[k]).view(-1, *[1] * sa[k].dim())) if k in moving
            else sa[k].detach().unsqueeze(0).expand(len(t), *sa[k].shape) for k in sa}


def transplant(target: FCNet, source: FCNet, layer: int, neurons: torch.Tensor) -> State:
    """Target's parameters with hidden ``neurons`` of ``layer`` replaced by the source's (crossover).

    ``emb``: a neuron is its embedding and bias, so those move; its weights to the
    next layer are then generated against the target's next-layer embeddings.
    ``direct``: the layer's weights move, i.e. the neurons' incoming weights (rows of
    the ``(out, in)`` matrix) and biases; the target's outgoing weights stay. This is
    the paper's setting: moving the whole layer leaves the direct network at chance
    (Table 3), whereas also moving the outgoing weights would rebuild the source.
    """
    if target.encoding != source.encoding or target.sizes != source.sizes:
        raise ValueError("transplant needs two networks of the same encoding and sizes")
    state = {k: v.detach().clone() for k, v in target.named_parameters()}
    src = {k: v.detach() for k, v in source.named_parameters()}
    for key in layer_parameters(target, layer):
        state[key][neurons] = src[key][neurons]
    return state


def crossover_states(target: FCNet, source: FCNet, fractions: Sequence[float], repeats: int, layer: int = 1,
                     seed: int = 0) -> State:
    """Stacked transplants for every fraction x repeat (neurons drawn at random per repeat)."""
    gen = torch.Generator().manual_seed(seed)
    n = target.sizes[layer]
    states = []
    for f in fractions:
        k = round(f * n)
        for _ in range(repeats):
            states.append(transplant(target, source, layer, torch.randperm(n, generator=gen)[:k]))
    return stack_states(states)
