"""Section 4.3: cross-model compatibility. Table 3, Fig. 3 (interpolation), Fig. 4 (crossover).

Two direct 784-400-10 networks (target, source) are trained from different seeds.
A neuron-embedding network is fitted to the target (eq. 4); the source's embedding
network gets the target's input embeddings, so both have a common input basis. The
paper copies them "before fitting" and does not say whether they stay fixed;
``source_inputs`` chooses the reading:

* ``"shared"`` (the default): the target's learned input embeddings, the same
  tensors, frozen while the source is fitted, so the basis stays exactly common;
* ``"copied"``: a copy of the target's learned input embeddings, trained on with
  the source's fit;
* ``"initial"``: the target's initial input embeddings copied into the source
  before either is fitted, each fit training its own copy.

The metric ``source_input_drift`` is how far the two networks' input embeddings end
apart (Frobenius distance relative to the target's; 0 when shared).

* Fig. 3: accuracy along the straight line between the two networks, in weights
  (direct) or in embeddings (neuron embedding), neurons paired in stored order:
  every parameter moves (what the paper's text describes, the curves
  ``interpolation_<encoding>``), and only the first hidden layer's neurons move
  (what the authors' code runs, ``interpolation_<encoding>_first``).
* Fig. 4 / Table 3: a fraction of the hidden neurons of the target is replaced by
  the source's (direct: their incoming rows and biases, the target's outgoing
  columns staying; embedding: the neuron's embedding and bias), neurons drawn at
  random, several repeats, mean and 95% interval. All variants are evaluated in
  one vmapped program.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from weightspace import data as datasets
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.neuron_embedding._presets import FIT, describe, describe_fit, fit_arguments, recipe
from weightspace.neuron_embedding.models import FC2_SIZES, FCNet
from weightspace.neuron_embedding.training import trained_reference
from weightspace.neuron_embedding.transfer import accuracy_of_states, crossover_states, fit_embeddings, interpolate
from weightspace.tables import Row, Table
from weightspace.training import evaluate

TITLE = "Neuron embeddings, Table 3 and Figs. 3-4: interpolation and neuron transplant"
SOURCE_INPUTS = {"shared": "the source on the target's frozen input embeddings",
                 "copied": "the source on a copy of the target's learned input embeddings, trained on",
                 "initial": "the source on a copy of the target's initial input embeddings, both trained"}


def config(profile: str) -> dict[str, Any]:
    quick = profile == "quick"
    return {"dataset": "mnist", "split": datasets.MNIST_TEST_CUT if quick else datasets.STANDARD,
            "reference": recipe("mnist-reference-quick" if quick else "mnist"), "dim": 64, **FIT,
            "source_inputs": "shared",
            "alphas": [round(0.05 * i, 2) for i in range(21)], "fractions": [round(0.1 * i, 1) for i in range(11)],
            "repeats": 10}


def summary(cfg: dict[str, Any]) -> str:
    """The two networks' training, the eq. 4 fits and the transplant protocol in one line (for the page)."""
    return (f"target and source 784-400-10: {describe(cfg['reference'])}, {cfg['dataset']} {cfg['split']}; "
            f"{describe_fit(cfg)}, d = {cfg['dim']}, {SOURCE_INPUTS[cfg['source_inputs']]}; "
            f"{len(cfg['alphas'])} interpolation points, {len(cfg['fractions'])} crossover fractions "
            f"x {cfg['repeats']} random draws")


@dataclass(frozen=True, kw_only=True)
class CrossoverRow(Row):
    """One row of Table 3 (``row``: the encoding, ``direct`` or ``emb``): accuracies (%).

    ``target``, ``source``: the two networks; ``crossover_50``, ``crossover_100``: the
    target with 50% / 100% of its hidden neurons taken from the source, mean over
    the repeats (``None`` when ``fractions`` leaves that fraction out).
    """

    target: float
    source: float
    crossover_50: float | None = None
    crossover_100: float | None = None


TABLES = {"table3": Table(CrossoverRow, rows=("direct", "emb"))}


def _interval(acc: torch.Tensor) -> tuple[float, float]:
    """Mean and half-width of a 95% normal interval of the mean over repeats."""
    n = acc.numel()
    half = 1.96 * acc.std(unbiased=True).item() / math.sqrt(n) if n > 1 else 0.0
    return acc.mean().item(), half


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    reading = cfg["source_inputs"]
    if reading not in SOURCE_INPUTS:
        raise ValueError(f"source_inputs = {reading!r} is not allowed: choose one of {', '.join(SOURCE_INPUTS)}")
    data = datasets.load(cfg["dataset"], cfg["split"]).to(ctx.device)
    direct, emb = {}, {}
    for k, role in enumerate(("target", "source")):
        direct[role], _ = trained_reference(data, cfg["reference"], ctx.seed * 1000 + k, ctx.device, ctx.checkpoint)
    seed_everything(ctx.seed * 1000)
    emb["target"] = FCNet(FC2_SIZES, "emb", cfg["dim"]).to(ctx.device)
    inputs = emb["target"].neurons[0].embedding
    initial = inputs.detach().clone()
    fit_embeddings(emb["target"], direct["target"], **fit_arguments(cfg), desc="fit target")
    seed_everything(ctx.seed * 1000 + 1)
    shared = reading == "shared"
    emb["source"] = FCNet(FC2_SIZES, "emb", cfg["dim"], inputs=emb["target"].neurons[0] if shared else None
                          ).to(ctx.device)
    if not shared:
        with torch.no_grad():
            emb["source"].neurons[0].embedding.copy_(initial if reading == "initial" else inputs)
    fit_embeddings(emb["source"], direct["source"], **fit_arguments(cfg), freeze_inputs=shared, desc="fit source")
    drift = ((emb["source"].neurons[0].embedding - inputs).norm() / inputs.norm()).item()

    fractions, repeats = cfg["fractions"], cfg["repeats"]
    table, curves = [], {"alphas": cfg["alphas"], "fractions": fractions}
    for name, nets in (("direct", direct), ("emb", emb)):
        path = accuracy_of_states(nets["target"], interpolate(nets["target"], nets["source"], cfg["alphas"]),
                                  data.eval)
        first = accuracy_of_states(nets["target"],
                                   interpolate(nets["target"], nets["source"], cfg["alphas"], layer=1), data.eval)
        states = crossover_states(nets["target"], nets["source"], fractions, repeats, seed=ctx.seed)
        acc = accuracy_of_states(nets["target"], states, data.eval).view(len(fractions), repeats)
        stats = [_interval(a) for a in acc]
        curves[f"interpolation_{name}"] = path.tolist()
        curves[f"interpolation_{name}_first"] = first.tolist()
        curves[f"crossover_{name}_mean"] = [m for m, _ in stats]
        curves[f"crossover_{name}_ci95"] = [h for _, h in stats]
        curves[f"crossover_{name}_all"] = acc.tolist()
        at = {f: stats[i][0] for i, f in enumerate(fractions)}
        table.append(CrossoverRow(row=name, target=evaluate(nets["target"], data.eval)[0],
                                  source=evaluate(nets["source"], data.eval)[0],
                                  crossover_50=at.get(0.5), crossover_100=at.get(1.0)))
    metrics = {f"{r.row}_{k}": getattr(r, k) for r in table for k in ("crossover_50", "crossover_100")}
    return Outputs(metrics={**metrics, "source_input_drift": drift},
                   tables={"table3": table}, curves=curves, data=data.description)
