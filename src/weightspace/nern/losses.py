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


def knowledge_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 5: KL(teacher softmax || student softmax), averaged over the batch, no temperature."""
    return F.kl_div(student_logits.log_softmax(-1), teacher_logits.log_softmax(-1), log_target=True,
                    reduction="batchmean")


def feature_distillation(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """Eq. 4: per-sample l2-normalised feature maps, squared differences summed over maps, / batch size."""
    if len(student) != len(teacher):
        raise ValueError(f"{len(student)} student feature maps but {len(teacher)} teacher maps")
    total = student[0].new_zeros(())
    for s, t in zip(student, teacher):
        s, t = F.normalize(s.flatten(1), dim=1), F.normalize(t.flatten(1), dim=1)
        total = total + (s - t).pow(2).sum()
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
