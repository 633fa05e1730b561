"""NeRN's objective, eq. 2: L = L_recon + α L_KD + β L_FMD."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


def reconstruction(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 3 as the authors compute it: a global RMSE, sqrt(sum of squared errors / |W|), over all layers.

    ``mask`` marks the real entries (1x1 kernels fill only the centre of a 3x3 prediction).
    """
    err = (pred - target).pow(2)
    if mask is None:
        return err.mean().sqrt()
    return (err * mask).sum().div(mask.sum()).sqrt()


def knowledge_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Eq. 5: KL(teacher softmax || student softmax), averaged over the batch, no temperature.

    ``eps > 0``: the authors' variant, ``log(softmax(student) + eps)`` in place of the
    student's log-softmax (their runs use 1e-4).
    """
    if eps < 0:
        raise ValueError(f"kd_eps = {eps} must be >= 0 (0: eq. 5; the authors' code adds 1e-4)")
    log_student = student_logits.log_softmax(-1) if eps == 0 else (student_logits.softmax(-1) + eps).log()
    return F.kl_div(log_student, teacher_logits.log_softmax(-1), log_target=True, reduction="batchmean")


def feature_distillation(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 4: per-sample l2-normalised feature maps, squared differences summed over maps, / batch size.

    Each map adds :class:`NormalisedDistance` of its rows (:func:`rows`): the
    normalise-and-subtract form of ``F.normalize`` up to float rounding, computed from
    two norms and one dot product per sample. The teacher's maps carry no gradient.
    """
    if len(student) != len(teacher):
        raise ValueError(f"{len(student)} student feature maps but {len(teacher)} teacher maps")
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher):
        total = total + NormalisedDistance.apply(rows(s), rows(t.detach()))
    return total / student[0].shape[0]


class NormalisedDistance(torch.autograd.Function):
    """``sum_b |s_b / max(|s_b|, eps) - t_b / max(|t_b|, eps)|^2`` over rows (``F.normalize``, eps = 1e-12).

    Per sample, with ``c_s = max(|s|, eps)`` and ``c_t = max(|t|, eps)``, the distance is
    ``|s|^2 / c_s^2 + |t|^2 / c_t^2 - 2 s.t / (c_s c_t)``, and its gradient in ``s`` is
    ``a s + b t`` with ``b = -2 / (c_s c_t)`` and ``a = 2 s.t / (|s|^3 c_t)`` (or ``2 / eps^2``
    where ``|s| <= eps``). The forward reads each map twice (a norm and a dot product, no
    normalised copy) and the backward writes the gradient in one fused pass; ``t`` gets none.

    Shape:
        ``(s, t)``: (B, n) and (B, n) -> a scalar.
    """

    EPS = 1e-12

    @staticmethod
    def forward(ctx: Any, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ns, nt = torch.linalg.vector_norm(s, dim=1), torch.linalg.vector_norm(t, dim=1)
        dot = torch.linalg.vecdot(s, t)
        cs, ct = ns.clamp_min(NormalisedDistance.EPS), nt.clamp_min(NormalisedDistance.EPS)
        ctx.save_for_backward(s, t, ns, cs, ct, dot)
        return ((ns / cs).square() + (nt / ct).square() - 2 * dot / (cs * ct)).sum()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        s, t, ns, cs, ct, dot = ctx.saved_tensors
        a = torch.where(ns > NormalisedDistance.EPS, 2 * dot / (cs.pow(3) * ct), 2 / cs.square())
        b = -2 / (cs * ct)
        return torch.addcmul(s * (grad * a).unsqueeze(1), t, (grad * b).unsqueeze(1)), None


def rows(maps: torch.Tensor) -> torch.Tensor:
    """Each sample's feature map as one row (B, C * H * W), without a copy for NCHW or channels-last maps.

    The order within a row follows the memory layout, so two maps of one layout pair up element by element.
    """
    if maps.dim() == 4 and not maps.is_contiguous() and maps.is_contiguous(memory_format=torch.channels_last):
        return maps.permute(0, 2, 3, 1).flatten(1)
    return maps.flatten(1)


@contextmanager
def capture(model: nn.Module, names: list[str]) -> Iterator[list[torch.Tensor]]:
    """Within the block, every forward of ``model`` appends the outputs of modules ``names`` to the yielded list."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(f"{type(model).__name__} has no modules {missing}")
    maps: list[torch.Tensor] = []
    handles = [modules[n].register_forward_hook(lambda _m, _i, out: maps.append(out)) for n in names]
    try:
        yield maps
    finally:
        for h in handles:
            h.remove()
