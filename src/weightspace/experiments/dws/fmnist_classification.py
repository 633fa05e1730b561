"""Section 6, INR classification on Fashion-MNIST: the MNIST experiment's recipe on Fashion-MNIST INRs.

Fashion-MNIST may be missing offline: the run then stops early with
:class:`~weightspace.data.DatasetNotFoundError` naming the files to provide (or
downloads them when online). ``quick`` is the MNIST experiment's quick recipe on
the first 1,000 images of Fashion-MNIST's standard training split; ``cpu`` its cpu
recipe (:func:`~weightspace.experiments.dws.inr_classification.cpu_config`: the full
recipe on the INRs of the first 10,000 Fashion-MNIST training images); ``full`` its
full recipe on all 70,000 Fashion-MNIST images.
"""

from __future__ import annotations

from typing import Any

from weightspace import data as datasets
from weightspace.experiments.dws.inr_classification import TABLES, compute, cpu_config, full_config, quick_config

TITLE = "DWSNets: classifying Fashion-MNIST INRs from their weights"
PROFILES = ("quick", "cpu", "full")
__all__ = ["PROFILES", "TABLES", "TITLE", "compute", "config"]


def config(profile: str) -> dict[str, Any]:
    if profile == "cpu":
        return cpu_config("fashion_mnist")
    return full_config("fashion_mnist") if profile == "full" else quick_config("fashion_mnist", datasets.STANDARD)
