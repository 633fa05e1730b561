"""Settings of the R2R report that several experiments share, each picked by name.

:data:`RECIPES` holds the training recipe of App. D, Table 2 (the constant rate
and AMSGrad as the authors' code uses them); :data:`SEARCHES` the
neuroevolution settings of the same table (Algorithm 1's :math:`N_i`,
:math:`N_j`, :math:`K`, :math:`M` and iterations). An experiment's config holds
the picked values themselves, so the printed config and its hash show them.
"""

from __future__ import annotations

from typing import Any

RECIPES: dict[str, dict[str, Any]] = {
    "app_d": {"steps": 6000, "batch_size": 32, "lr": 0.003, "optimizer": "adam", "schedule": "constant",
              "weight_decay": 1e-6, "amsgrad": True, "eval_every": 250, "checkpoint_every": 1000},
}
SEARCHES: dict[str, dict[str, Any]] = {
    "app_d": {"n_initial": 5000, "n_joint": 5000, "k": 3, "m": 10, "iterations": 15},
}


def _pick(presets: dict[str, dict[str, Any]], kind: str, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    if name not in presets:
        raise KeyError(f"unknown {kind} {name!r}: choose one of {', '.join(map(repr, presets))}")
    unknown = sorted(set(changes) - set(presets[name]))
    if unknown:
        raise KeyError(f"the {kind} {name!r} has no setting {', '.join(map(repr, unknown))}; "
                       f"its settings are: {', '.join(presets[name])}")
    return {**presets[name], **changes}


def recipe(name: str, **changes: Any) -> dict[str, Any]:
    """The training recipe ``name`` of :data:`RECIPES` (a :class:`~weightspace.training.TrainConfig`'s fields), with ``changes``."""
    return _pick(RECIPES, "recipe", name, changes)


def search(name: str, **changes: Any) -> dict[str, Any]:
    """The neuroevolution settings ``name`` of :data:`SEARCHES`, with ``changes``."""
    return _pick(SEARCHES, "search", name, changes)
