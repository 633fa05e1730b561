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

INIT_WORDS = {"match": "new weights with the std of the existing ones beside them (the report's variance matching)",
              "he": "new weights He-normal, fan-in C_in k^2",
              "authors": "new weights at half the std of the existing ones, else He-normal with fan-in C_in "
                         "(the authors' code)"}


def _train_words(name: str, r: dict[str, Any]) -> str:
    opt = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD"}[r["optimizer"]] + (" (AMSGrad)" if r.get("amsgrad") else "")
    return (f"{name}: {r['steps']:,} updates of {opt}, lr {r['lr']:g} ({r['schedule']}), weight decay "
            f"{r['weight_decay']:g}, batch {r['batch_size']}")


def recipe_line(cfg: dict[str, Any]) -> str:
    """A one-line summary of an R2R training config: data, widths, initialisation, each recipe, the search."""
    data = f"{cfg['dataset']} ({cfg['split']}" + (f", pooled {cfg['downsample']}x" if cfg["downsample"] > 1 else "")
    parts = [f"{data}), stream widths {'/'.join(map(str, cfg['widths']))}, FC {cfg['fc']}",
             "blocks start zero-initialised" if cfg["zero_init"] else "PyTorch's default initialisation"]
    ne = cfg.get("ne")
    init = ne["init"] if ne else cfg["init"]
    parts.append(INIT_WORDS[init])
    parts += [_train_words(name, r) for name, r in cfg["recipes"].items()]
    if ne:
        parts.append(f"search N_i {ne['n_initial']:,}, N_j {ne['n_joint']:,}, K {ne['k']}, M {ne['m']}, "
                     f"{ne['iterations']} iterations, tau {ne['tau']}, "
                     + ("one optimiser per model, lr rescaled by the parameter ratio (App. C.3)"
                        if ne["optimizers"] == "per_model" else "one optimiser shared by the population"))
    elif "transform_at" not in cfg:
        parts.append("each student's lr and weight decay rescaled by the parameter ratio (App. C.3)")
    else:
        parts.append(f"transform before update {', '.join(map(str, cfg['transform_at']))}, then lr and weight "
                     "decay rescaled by the parameter ratio (App. C.3)")
    return "; ".join(parts) + "."
