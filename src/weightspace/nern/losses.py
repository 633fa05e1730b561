"""NeRN's objective, eq. 2: L = L_recon + α L_KD + β L_FMD."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn


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

    With ``a = s / max(|s|, 1e-12)`` and ``b = t / max(|t|, 1e-12)`` (``F.normalize``), each map
    adds ``|a - b|^2 = |a|^2 + |b|^2 - 2 s.b / max(|s|, 1e-12)`` per sample: one norm and one
    dot product of the student's map, so no normalised copy of it is made (forward or
    backward). Equal to the normalise-and-subtract form up to float rounding. The
    teacher's maps carry no gradient.
    """
    if len(student) != len(teacher):
        raise ValueError(f"{len(student)} student feature maps but {len(teacher)} teacher maps")
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher):
        s, t = s.flatten(1), t.detach().flatten(1)
        ns = torch.linalg.vector_norm(s, dim=1)
        nt = torch.linalg.vector_norm(t, dim=1)
        b = t / nt.clamp_min(1e-12).unsqueeze(1)
        total = total + (ns / ns.clamp_min(1e-12)).square().sum() + (nt / nt.clamp_min(1e-12)).square().sum() \
            - 2 * ((s * b).sum(1) / ns.clamp_min(1e-12)).sum()
    return total / student[0].shape[0]


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
