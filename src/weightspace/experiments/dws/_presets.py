"""Model sizes and the optimiser recipe that several DWSNets experiments share, each picked by name.

A config holds the values these return, so the printed config and its hash show them.
"""

from __future__ import annotations

from typing import Any, Sequence

from weightspace.dws.models import METHODS

_AUTHORS_HEAD = {"head_hidden": None, "batch_norm": True, "last_batch_norm": False}  # the authors' classifier head
DWSNETS: dict[str, dict[str, Any]] = {  # "<channels>x<layers>"
    "32x5": {"hidden": 32, "layers": 5, **_AUTHORS_HEAD},  # the authors' MNIST INR DWSNet
    "16x4": {"hidden": 16, "layers": 4, **_AUTHORS_HEAD},
    "16x3": {"hidden": 16, "layers": 3, **_AUTHORS_HEAD},
    "8x4": {"hidden": 8, "layers": 4, **_AUTHORS_HEAD},
    "8x3": {"hidden": 8, "layers": 3, **_AUTHORS_HEAD},
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


def _train(recipe: dict[str, Any]) -> str:
    return (f"{recipe['optimizer']} (AMSGrad) lr {recipe['lr']:g}, {recipe['schedule'].replace('_', '-')} schedule, "
            f"wd {recipe['weight_decay']:g}, {recipe['steps']:,} steps of batch {recipe['batch_size']}")


def recipe_line(cfg: dict[str, Any]) -> str:
    """One line of the recipe ``cfg`` runs: its INR fit, DWSNet, training and augmentation (for the page)."""
    parts = []
    if "inr" in cfg:
        inr = cfg["inr"]
        widths = "-".join(map(str, inr.get("widths", (2, 32, 32, 1))))
        parts.append(f"INRs {widths}, {inr.get('init', 'authors')} init, Adam lr {inr['lr']:g} for up to "
                     f"{inr['steps']:,} steps (stop at {inr['stop_psnr']:g} dB)")
    if "splits" in cfg:
        parts.append(f"split {' / '.join(f'{n:,}' if isinstance(n, int) else f'{n:g}' for n in cfg['splits'])}")
    model = cfg["models"]["dwsnet"] if "models" in cfg else cfg.get("model")
    if model:
        head = ("invariant layer to the outputs" if model.get("head_hidden") is None
                else f"invariant layer, ReLU, linear ({model['head_hidden']} hidden)")
        norm = ("BatchNorm after every DWS layer" if model.get("last_batch_norm", True)
                else "BatchNorm after all but the last DWS layer") if model.get("batch_norm") else "no BatchNorm"
        parts.append(f"DWSNet {model['layers']} layers x {model['hidden']} channels, {norm}, {head}")
    recipe = cfg["recipes"]["dwsnet"]
    parts.append(_train(recipe) + " (every method)" if "methods" in cfg else _train(recipe))
    if "augment" in cfg:
        aug = cfg["augment"]
        parts.append("augmentation: " + (", ".join(f"{k} {v}" for k, v in aug.items()) if aug else "none"))
    if "views" in cfg:
        parts.append("views: " + ", ".join(f"{k} {v}" for k, v in cfg["views"].items()))
    return "; ".join(parts)
