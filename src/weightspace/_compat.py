"""Import torchvision on a CPU-only torch whose torchvision wheel is a CUDA build.

torchvision's import registers fake kernels for ``torchvision::nms`` and
``torchvision::qnms``; when its compiled extension cannot load (a CUDA
torchvision beside a CPU torch) those operators were never defined and the
import fails with "operator torchvision::nms does not exist". Datasets and
transforms do not need the extension, so we define the two schemas and import
again. Nothing is defined when the extension loads.
"""

from __future__ import annotations

import sys
from types import ModuleType

import torch

_MISSING_OPS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: torch.library.Library | None = None


def _define_missing_schemas() -> None:
    global _library
    if _library is None:
        _library = torch.library.Library("torchvision", "DEF")
        for schema in _MISSING_OPS:
            _library.define(schema)


def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, working around a missing C++ extension."""
    try:
        import torchvision
    except RuntimeError as err:
        if "torchvision::nms" not in str(err):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _define_missing_schemas()
        import torchvision
    return torchvision
