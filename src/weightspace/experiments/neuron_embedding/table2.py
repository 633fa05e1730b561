"""Section 4.2, Table 2: how well neuron embeddings of dimension d reproduce a trained network.

A direct 784-400-10 network is trained (Table 1's MNIST recipe); then, for each
d, a neuron-embedding network is fitted to its weights by eq. 4 (Adam, lr 0.002,
2000 steps, the authors' ReduceLROnPlateau(0.5, patience 100)), biases copied.
Reported: free parameters (embeddings), accuracy of the fitted network, and the
mean squared deviation of its weights from the reference's.
"""

from __future__ import annotations

from typing import Any

import torch

from weightspace import data as datasets
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.neuron_embedding import mnist_recipe, trained_reference
from weightspace.neuron_embedding.models import FC2_SIZES, FCNet, paper_parameter_count
from weightspace.neuron_embedding.transfer import fit_embeddings, weight_mse
from weightspace.training import evaluate

TITLE = "Neuron embeddings, Table 2: compression ability vs embedding dimension"


def config(profile: str) -> dict[str, Any]:
    return {"dims": [64, 32, 16, 8, 4], "reference": mnist_recipe(profile), "fit_steps": 2000, "fit_lr": 0.002,
            "plateau": True}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    data = datasets.load_mnist(ctx.profile).to(ctx.device)
    reference, trained = trained_reference(ctx, data, cfg["reference"], seed=ctx.seed * 1000)
    weights = torch.cat([w.detach().flatten() for w in reference.weights()])
    table = [{"row": "reference", "parameters": paper_parameter_count(reference), "accuracy": trained["accuracy"],
              "loss": trained["loss"], "mse": None}]
    curves: dict[str, Any] = {"reference": trained["curve"]}
    for d in cfg["dims"]:
        seed_everything(ctx.seed * 1000 + d)
        model = FCNet(FC2_SIZES, "emb", d).to(ctx.device)
        losses = fit_embeddings(model, reference, cfg["fit_steps"], cfg["fit_lr"], plateau=cfg["plateau"],
                                desc=f"fit d={d}")
        acc, loss = evaluate(model, data.eval)
        table.append({"row": f"d{d}", "dim": d, "parameters": paper_parameter_count(model), "accuracy": acc,
                      "loss": loss, "mse": weight_mse(model, reference), "fit_loss": losses[-1]})
        curves[f"d{d}"] = losses[:: max(1, len(losses) // 200)]
    return Outputs(metrics={"reference_accuracy": trained["accuracy"],
                            "weight_mean_square": (weights**2).mean().item(),
                            **{r["row"]: r["accuracy"] for r in table[1:]}},
                   tables={"table2": table}, curves=curves, data=data.description)
