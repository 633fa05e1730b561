"""Settings the neuron-embedding experiments share, each defined once and picked by name in a ``config``.

``RECIPES``: training recipes (the fields of :class:`weightspace.training.TrainConfig`).
``mnist`` is Section 4.1's (Adam, one-cycle with cosine annealing, max lr 0.01,
batch 1000, 2000 steps), which also trains the reference networks of Sections
4.2-4.3; ``cifar10`` is the ResNet9 recipe of Table 1 (SGD with Nesterov momentum,
linear one-cycle, max lr 2e-4, batch 512, weight decay 0.512 on a sum-reduced
cross-entropy). The ``-quick`` recipes are the quick profile's substitutions:
the same schedule over fewer, smaller steps on the 8,000-image split.

``FIT``: fitting embeddings to a network by eq. 4 (Section 4.2): Adam, lr 0.002,
2000 steps, with the authors' ReduceLROnPlateau (factor 0.5, patience 100).
"""

from __future__ import annotations

from typing import Any

_MNIST = {"steps": 2000, "batch_size": 1000, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle",
          "eval_every": 100}
RECIPES: dict[str, dict[str, Any]] = {
    "mnist": _MNIST,
    "mnist-quick": {**_MNIST, "steps": 400, "batch_size": 500, "eval_every": 50},
    "mnist-conv-quick": {**_MNIST, "steps": 80, "batch_size": 100, "eval_every": 40},
    "cifar10": {"steps": 2000, "batch_size": 512, "lr": 2e-4, "optimizer": "sgd", "schedule": "linear",
                "eval_every": 100, "momentum": 0.9, "nesterov": True, "weight_decay": 0.512},
}
FIT: dict[str, Any] = {"fit_steps": 2000, "fit_lr": 0.002, "plateau": True, "plateau_factor": 0.5,
                       "plateau_patience": 100}


def recipe(name: str) -> dict[str, Any]:
    """A copy of recipe ``name`` of :data:`RECIPES`; an unknown name is an error naming the known ones."""
    if name not in RECIPES:
        raise KeyError(f"unknown training recipe {name!r}; known recipes: {', '.join(RECIPES)}")
    return dict(RECIPES[name])


def fit_arguments(cfg: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`~weightspace.neuron_embedding.transfer.fit_embeddings` from a config's
    :data:`FIT` settings."""
    return {"steps": cfg["fit_steps"], "lr": cfg["fit_lr"], "plateau": cfg["plateau"],
            "plateau_factor": cfg["plateau_factor"], "plateau_patience": cfg["plateau_patience"]}
