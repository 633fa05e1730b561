"""Sizes of Appendix C (Table 8) and Appendix D (Table 9), computed from the model definitions.

"MB" in the paper is MiB (2^20 bytes) of float32 parameters; the permutation
overhead uses exact (not rounded-up) log2 bits per index. :func:`predictor_ratio`
is a predictor's size relative to its original's (the compression NeRN achieves).
"""

from __future__ import annotations

from torch import nn

from weightspace.nern.models import build, conv_names
from weightspace.nern.permutation import overhead_bits
from weightspace.nern.predictor import DEFAULT_FREQUENCIES, predictor_size_mb

MIB = 2**20


def parameter_mb(model: nn.Module, names: list[str] | None = None) -> float:
    """MiB of float32 parameters of ``model`` (only those named in ``names`` if given)."""
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in (names or params)) * 4 / MIB


def predictor_ratio(hidden: int, original: nn.Module, frequencies: int = DEFAULT_FREQUENCIES) -> float:
    """A predictor of width ``hidden`` over all of ``original``'s parameters (Table 8's total), in float32 MiB.

    The paper's ResNet20 on CIFAR-10 gives 0.43 at h = 160 and 0.52 at h = 180.
    """
    return predictor_size_mb(hidden, 6 * frequencies) / parameter_mb(original)


def permutation_overhead_mb(model: nn.Module, names: list[str], mode: str) -> float:
    """MiB needed to store the permutations of the conv weights ``names`` (Appendix D.1)."""
    params = dict(model.named_parameters())
    return sum(overhead_bits(params[n].shape[0], params[n].shape[1], mode) for n in names) / 8 / MIB


def size_rows(arch: str, num_classes: int) -> dict[str, float]:
    """Table 8 and Table 9 values of one architecture and task.

    ``learnable_mb``: the convs NeRN reconstructs (every conv of a CIFAR ResNet, the
    3x3 convs of ResNet18). Table 9 as printed counts the permutations of the 3x3
    convs only (for the CIFAR ResNets too); ``*_all_mb`` adds the 1x1 shortcuts.
    """
    model = build(arch, num_classes)
    learnable = conv_names(model, (3,)) if arch == "resnet18" else conv_names(model)
    total = parameter_mb(model)
    conv = parameter_mb(model, conv_names(model, (1, 3, 7)))
    row = {"total_mb": total, "conv_mb": conv, "conv_pct": 100 * conv / total,
           "learnable_mb": parameter_mb(model, learnable)}
    for mode, key in (("in", "in_filter"), ("cross", "cross_filter")):
        row[f"{key}_mb"] = permutation_overhead_mb(model, conv_names(model, (3,)), mode)
        row[f"{key}_pct"] = 100 * row[f"{key}_mb"] / total
        row[f"{key}_all_mb"] = permutation_overhead_mb(model, learnable, mode)
    return row
