"""Section 6, INR classification on Fashion-MNIST: the MNIST experiment's recipe on Fashion-MNIST INRs.

Fashion-MNIST may be missing offline: the run then stops early with
:class:`~weightspace.data.DatasetNotFoundError` naming the files to provide (or
downloads them when online). ``quick`` is the MNIST experiment's quick recipe on
the first 1,000 images of Fashion-MNIST's standard training split.
"""

from __future__ import annotations

from typing import Any

from weightspace import data as datasets
from weightspace.experiments.dws.inr_classification import TABLES, compute, full_config, quick_config

TITLE = "DWSNets: classifying Fashion-MNIST INRs from their weights"
__all__ = ["TABLES", "TITLE", "compute", "config"]


def config(profile: str) -> dict[str, Any]:
    return full_config("fashion_mnist") if profile == "full" else quick_config("fashion_mnist", datasets.STANDARD)
