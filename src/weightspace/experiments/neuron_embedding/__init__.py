"""Experiments of the neuron-embedding paper: Table 1 (4.1), Table 2 (4.2), Table 3 and Figs. 3-4 (4.3)."""

from __future__ import annotations

from typing import Any

from weightspace.data import ImageData
from weightspace.experiments import RunContext, seed_everything
from weightspace.neuron_embedding.models import FC2_SIZES, FCNet
from weightspace.results import load_or_make
from weightspace.training import TrainConfig, train_classifier


def mnist_recipe(profile: str) -> dict[str, Any]:
    """Table 1's MNIST recipe, also used to train the reference networks of Sections 4.2-4.3.

    ``full``: Adam, one-cycle with cosine annealing, max lr 0.01, batch 1000, 2000 steps.
    ``quick``: the same schedule over 400 steps of batch 500 (the 8,000-image split).
    """
    full = {"steps": 2000, "batch_size": 1000, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle",
            "eval_every": 100}
    return full if profile == "full" else {**full, "steps": 400, "batch_size": 500, "eval_every": 50}


def trained_reference(ctx: RunContext, data: ImageData, recipe: dict[str, Any], seed: int) -> tuple[FCNet, dict]:
    """A direct 784-400-10 network trained with ``recipe`` from ``seed``, and its training record.

    Cached by (recipe, seed, profile, data, device): Table 2's reference and Table 3's
    target are the same network, as in the paper (both report 97.48%), trained once.
    """
    key = {"sizes": FC2_SIZES, "recipe": recipe, "seed": seed, "profile": ctx.profile, "data": data.description,
           "device": ctx.device.type}

    def make() -> dict[str, Any]:
        seed_everything(seed)
        net = FCNet(FC2_SIZES, "direct").to(ctx.device)
        out = train_classifier(net, data, TrainConfig(**recipe), seed=seed,
                               checkpoint=ctx.checkpoint(f"reference-seed{seed}"), desc=f"reference (seed {seed})")
        return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "accuracy": out.accuracy,
                "loss": out.loss, "curve": out.curve}

    record = load_or_make("neuron_embedding/fc2_reference", key, make, scope=__name__)
    net = FCNet(FC2_SIZES, "direct")
    net.load_state_dict(record["state"])
    return net.to(ctx.device).eval(), record
