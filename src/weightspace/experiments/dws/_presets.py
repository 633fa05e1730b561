"""Model sizes and the optimiser recipe that several DWSNets experiments share, each picked by name.

A config holds the values these return, so the printed config and its hash show them.
"""

from __future__ import annotations

from typing import Any, Sequence

from weightspace.dws.models import METHODS

DWSNETS: dict[str, dict[str, Any]] = {  # "<channels>x<layers>"
    "32x5": {"hidden": 32, "layers": 5, "head_hidden": 128, "batch_norm": True},  # the authors' MNIST INR DWSNet
    "16x4": {"hidden": 16, "layers": 4, "head_hidden": 64, "batch_norm": True},
    "16x3": {"hidden": 16, "layers": 3, "head_hidden": 64, "batch_norm": True},
    "8x4": {"hidden": 8, "layers": 4, "head_hidden": 32, "batch_norm": True},
    "8x3": {"hidden": 8, "layers": 3, "head_hidden": 32, "batch_norm": True},
}
_MLP_BASELINES = ("mlp", "mlp_perm", "mlp_align")  # one flat MLP; they differ in the data they see
BASELINE_SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "mnist_inr": {**{m: {"hidden": 512, "layers": 4} for m in _MLP_BASELINES}, "deepsets": {"hidden": 128},
                  "transformer": {"d_model": 64, "heads": 4, "layers": 4}, "inr2vec": {"hidden": 256}},
    "small": {**{m: {"hidden": 256, "layers": 3} for m in _MLP_BASELINES}, "deepsets": {"hidden": 64},
              "transformer": {"d_model": 32, "heads": 4, "layers": 2}, "inr2vec": {"hidden": 64}},
}


def models(baselines: str, dwsnet: str, methods: Sequence[str] = METHODS) -> dict[str, dict[str, Any]]:
    """The model settings of each of ``methods``: the baselines of size ``baselines``, the DWSNet ``dwsnet``."""
    if baselines not in BASELINE_SIZES or dwsnet not in DWSNETS:
        raise KeyError(f"unknown model preset {baselines!r} / {dwsnet!r}: baselines {', '.join(BASELINE_SIZES)}; "
                       f"DWSNets {', '.join(DWSNETS)}")
    sizes = {**BASELINE_SIZES[baselines], "dwsnet": DWSNETS[dwsnet]}
    return {m: dict(sizes[m]) for m in methods}


def adamw(steps: int, batch_size: int, lr: float, eval_every: int, schedule: str = "constant") -> dict[str, Any]:
    """A training recipe with the authors' optimiser: AdamW (AMSGrad), weight decay 5e-4."""
    return {"steps": steps, "batch_size": batch_size, "lr": lr, "optimizer": "adamw", "schedule": schedule,
            "weight_decay": 5e-4, "eval_every": eval_every}
