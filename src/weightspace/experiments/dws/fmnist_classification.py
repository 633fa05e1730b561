"""Section 6, INR classification on Fashion-MNIST: the MNIST experiment's full recipe on Fashion-MNIST INRs.

Full profile only in practice: Fashion-MNIST is not available offline, so at any
profile the run stops early with :class:`~weightspace.data.DatasetNotFoundError`
naming the files to provide (or downloads them when online). ``quick`` is the
MNIST experiment's quick recipe on the first Fashion-MNIST images.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.dws import inr_classification
from weightspace.experiments.dws.inr_classification import classification

TITLE = "DWSNets: classifying Fashion-MNIST INRs from their weights"


def config(profile: str) -> dict[str, Any]:
    return {**inr_classification.config(profile), "dataset": "fashion_mnist"}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return classification(cfg, ctx)
