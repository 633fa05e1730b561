"""Settings the neuron-embedding experiments share, each defined once and picked by name in a ``config``.

``RECIPES``: training recipes (the fields of :class:`weightspace.training.TrainConfig`).
``mnist`` is Section 4.1's (Adam, one-cycle with cosine annealing, max lr 0.01,
batch 1000, 2000 steps), which also trains the reference networks of Sections
4.2-4.3; ``cifar10`` is the ResNet9 recipe of Table 1 (SGD with Nesterov momentum,
linear one-cycle, max lr 2e-4, batch 512, weight decay 0.512 on a sum-reduced
cross-entropy). The ``-quick`` recipes are the quick profile's substitutions on
the 8,000-image split. Table 1's rows: the same schedule over fewer, smaller
steps; the conv rows take 240 steps of 50 (after one epoch of 100, 80 steps, the
embedding model, slower to converge in steps, trailed by ten times the paper's
gap). The reference networks of Sections 4.2-4.3: the paper's 2000 steps in
batches of 100 (after 400 steps a fifth of the reference's weight energy was
still its random initialisation, which no low-dimensional embedding explains).

``FIT``: fitting embeddings to a network by eq. 4 (Section 4.2): Adam, lr 0.002,
2000 steps, with the authors' ReduceLROnPlateau (factor 0.5, patience 100).
"""

from __future__ import annotations

from typing import Any

from weightspace.training import TrainConfig

_MNIST = {"steps": 2000, "batch_size": 1000, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle",
          "eval_every": 100}
RECIPES: dict[str, dict[str, Any]] = {
    "mnist": _MNIST,
    "mnist-quick": {**_MNIST, "steps": 400, "batch_size": 500, "eval_every": 50},
    "mnist-conv-quick": {**_MNIST, "steps": 240, "batch_size": 50, "eval_every": 120},
    "mnist-reference-quick": {**_MNIST, "batch_size": 100},
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


def describe(train: dict[str, Any]) -> str:
    """A training recipe (the fields of :class:`~weightspace.training.TrainConfig`) in one line, for a page."""
    r = TrainConfig(**train)
    optimizer = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD" + (" with Nesterov momentum" if r.nesterov else
                                                                 " with momentum")}[r.optimizer]
    schedule = {"one_cycle": "one-cycle schedule (cosine)", "linear": "one-cycle schedule (linear)"}.get(
        r.schedule, f"{r.schedule} schedule")
    decay = f", weight decay {r.weight_decay:g}" if r.weight_decay else ", no weight decay"
    return (f"{optimizer}, {schedule}, max lr {r.lr:g}, batch {r.batch_size}, {r.steps} steps{decay}, "
            f"best of an evaluation every {r.eval_every} steps")


def describe_fit(cfg: dict[str, Any]) -> str:
    """The eq. 4 fit of a config's :data:`FIT` settings in one line, for a page."""
    plateau = (f", ReduceLROnPlateau (factor {cfg['plateau_factor']:g}, patience {cfg['plateau_patience']})"
               if cfg["plateau"] else ", constant learning rate")
    return f"eq. 4 fit: Adam, lr {cfg['fit_lr']:g}, {cfg['fit_steps']} steps{plateau}"


def fit_arguments(cfg: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`~weightspace.neuron_embedding.transfer.fit_embeddings` from a config's
    :data:`FIT` settings."""
    return {"steps": cfg["fit_steps"], "lr": cfg["fit_lr"], "plateau": cfg["plateau"],
            "plateau_factor": cfg["plateau_factor"], "plateau_patience": cfg["plateau_patience"]}
