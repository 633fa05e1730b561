"""The scale of each profile, shared by the R2R sections that train: the data and the network widths.

``full``: CIFAR-10's standard split and the report's widths (16/32/64, FC 128).
``quick``: the MNIST test split cut 8,000 / 2,000 (``"test-8k/2k"``),
average-pooled 2x to 14x14 pixels, and narrower networks (8/16/32, FC 64), so
that a page runs in about a minute on one CPU thread.
"""

from __future__ import annotations

from typing import Any

SCALES: dict[str, dict[str, Any]] = {
    "full": {"dataset": "cifar10", "split": "standard", "downsample": 1, "widths": [16, 32, 64], "fc": 128},
    "quick": {"dataset": "mnist", "split": "test-8k/2k", "downsample": 2, "widths": [8, 16, 32], "fc": 64},
}
