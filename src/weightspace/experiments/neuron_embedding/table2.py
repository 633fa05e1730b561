"""Section 4.2, Table 2: how well neuron embeddings of dimension d reproduce a trained network.

A direct 784-400-10 network is trained (Table 1's MNIST recipe); then, for each
d, a neuron-embedding network is fitted to its weights by eq. 4 (Adam, with the
authors' ReduceLROnPlateau), biases copied. Reported: free parameters
(embeddings), accuracy of the fitted network, and the mean squared deviation of
its weights from the reference's, and that deviation as a fraction of the
reference weights' mean square (the weight energy the embeddings leave
unexplained; the paper's d = 64 leaves 0.00036 / 0.0152 = 2.4%), beside the
smallest deviation any d-dimensional embedding can reach (the truncated SVD of
each layer), which tells a fit that falls short from a reference that is not low-rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from weightspace import data as datasets
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.neuron_embedding._presets import FIT, describe, describe_fit, fit_arguments, recipe
from weightspace.neuron_embedding.compression import low_rank_bound
from weightspace.neuron_embedding.models import FC2_SIZES, FCNet, paper_parameter_count
from weightspace.neuron_embedding.training import trained_reference
from weightspace.neuron_embedding.transfer import fit_embeddings, weight_mse
from weightspace.tables import Row, Table
from weightspace.training import evaluate

TITLE = "Neuron embeddings, Table 2: compression ability vs embedding dimension"


def config(profile: str) -> dict[str, Any]:
    quick = profile == "quick"
    return {"dataset": "mnist", "split": datasets.MNIST_TEST_CUT if quick else datasets.STANDARD,
            "dims": [64, 32, 16, 8, 4], "reference": recipe("mnist-reference-quick" if quick else "mnist"), **FIT}


@dataclass(frozen=True, kw_only=True)
class CompressionRow(Row):
    """One row of Table 2: the reference (``dim`` None) or the network fitted with embeddings of dimension ``dim``.

    ``parameters``: free parameters as the paper counts them; ``accuracy`` (%) and
    ``loss`` (cross-entropy) on the evaluation split; ``mse``: mean squared deviation
    of the weights from the reference's; ``unexplained``: ``mse`` over the mean square
    of the reference's weights; ``svd_mse``: the smallest ``mse`` any embedding of
    dimension ``dim`` can reach (:func:`~weightspace.neuron_embedding.compression.low_rank_bound`);
    ``fit_loss``: the last eq. 4 loss.
    """

    dim: int | None = None
    parameters: int
    accuracy: float
    loss: float
    mse: float | None = None
    unexplained: float | None = None
    svd_mse: float | None = None
    fit_loss: float | None = None


def summary(cfg: dict[str, Any]) -> str:
    """The reference's training and the eq. 4 fit in one line (for the page)."""
    return (f"reference 784-400-10: {describe(cfg['reference'])}, mnist {cfg['split']}; "
            f"{describe_fit(cfg)}, biases copied; d = {', '.join(map(str, cfg['dims']))}")


TABLES = {"table2": Table(CompressionRow, rows=lambda cfg: ["reference"] + [f"d{d}" for d in cfg["dims"]])}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    repeated = sorted({d for d in cfg["dims"] if cfg["dims"].count(d) > 1})
    if repeated:
        raise ValueError(f"setting 'dims' = {cfg['dims']} repeats {repeated}: each dimension is one row of Table 2")
    data = datasets.load(cfg["dataset"], cfg["split"]).to(ctx.device)
    reference, trained = trained_reference(data, cfg["reference"], ctx.seed * 1000, ctx.device, ctx.checkpoint)
    weights = torch.cat([w.detach().flatten() for w in reference.weights()])
    mean_square = (weights**2).mean().item()
    table = [CompressionRow(row="reference", parameters=paper_parameter_count(reference), accuracy=trained.accuracy,
                            loss=trained.loss)]
    curves: dict[str, Any] = {"reference": trained.curve}
    for d in cfg["dims"]:
        seed_everything(ctx.seed * 1000 + d)
        model = FCNet(FC2_SIZES, "emb", d).to(ctx.device)
        losses = fit_embeddings(model, reference, **fit_arguments(cfg), desc=f"fit d={d}")
        acc, loss = evaluate(model, data.eval)
        mse = weight_mse(model, reference)
        table.append(CompressionRow(row=f"d{d}", dim=d, parameters=paper_parameter_count(model), accuracy=acc,
                                    loss=loss, mse=mse, unexplained=mse / mean_square,
                                    svd_mse=low_rank_bound(reference, d), fit_loss=losses[-1]))
        curves[f"d{d}"] = losses[:: max(1, len(losses) // 200)]
    return Outputs(metrics={"reference_accuracy": trained.accuracy, "weight_mean_square": mean_square,
                            **{r.row: r.accuracy for r in table[1:]}},
                   tables={"table2": table}, curves=curves, data=data.description)
