"""Section 4.1, Table 1: training from random initialisation, direct vs separable vs neuron-embedding.

Every model is trained with the paper's recipe and the checkpoint with the best
evaluation over the run is reported (accuracy, cross-entropy), with its parameter
count computed from the model. MNIST: Adam, one-cycle (cosine), max lr 0.01,
batch 1000, 2000 steps. CIFAR-10 (the authors' code): SGD with Nesterov momentum,
linear one-cycle, max lr 2e-4, batch 512, weight decay 0.512 on a *sum*-reduced
cross-entropy (512 times the mean's gradient), random horizontal flips, 2000 steps.

``full`` selects the best step on 10,000 training images held out for it (the
authors' 50k / 10k split) and reports that step's test accuracy; ``quick`` trains
the seven MNIST rows for a few hundred steps on the 8,000-image split of the
MNIST test set and selects on the 2,000 images it reports (that split has no
other). The config's ``rows`` are the rows a run trains; the others are listed
with their parameter counts and a status saying they did not run. The ResNet9
rows need CIFAR-10 and are among the ``full`` rows; a run whose rows need data
that is missing stops before training anything, naming the files and
``WEIGHTSPACE_DATA`` (``--set rows=[...]`` runs the MNIST rows alone).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from weightspace import data as datasets
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.neuron_embedding._presets import recipe
from weightspace.neuron_embedding.models import TABLE1_MODELS, build, paper_parameter_count
from weightspace.neuron_embedding.training import cross_entropy, flip_horizontally, selection_split
from weightspace.tables import Row, Table
from weightspace.training import TrainConfig, evaluate, train_classifier

TITLE = "Neuron embeddings, Table 1: training from random initialisation"
MNIST_ROWS = [r for r, (ds, _) in TABLE1_MODELS.items() if ds == "mnist"]


def config(profile: str) -> dict[str, Any]:
    losses = {"mnist-fc": "mean", "mnist-conv": "mean", "cifar10": "sum"}
    flips = {"mnist-fc": False, "mnist-conv": False, "cifar10": True}
    if profile == "quick":
        return {"rows": MNIST_ROWS, "split": {"mnist": datasets.MNIST_TEST_CUT}, "dim_fc": 64, "dim_conv": 48,
                "selection_holdout": 0,
                "recipes": {"mnist-fc": recipe("mnist-quick"), "mnist-conv": recipe("mnist-conv-quick"),
                            "cifar10": recipe("cifar10")},
                "loss": losses, "flip": flips}
    return {"rows": list(TABLE1_MODELS), "split": {"mnist": datasets.STANDARD, "cifar10": datasets.STANDARD},
            "dim_fc": 64, "dim_conv": 48, "selection_holdout": 10_000,
            "recipes": {"mnist-fc": recipe("mnist"), "mnist-conv": recipe("mnist"), "cifar10": recipe("cifar10")},
            "loss": losses, "flip": flips}


@dataclass(frozen=True, kw_only=True)
class Table1Row(Row):
    """One row of Table 1: a model (``row``, a key of ``TABLE1_MODELS``) trained from random initialisation.

    ``parameters``: as the paper counts them (the embeddings only for the fully
    connected embedding models), ``parameters_all``: every parameter. The rest is
    ``None`` for a row the config does not run (``status`` says so): ``accuracy``
    (%) and ``loss`` on the reported split at the best step ``best_step``, chosen by
    ``selection_accuracy`` on the selection split; ``train_time_s``: wall time.
    """

    dataset: str
    parameters: int
    parameters_all: int
    accuracy: float | None = None
    loss: float | None = None
    best_step: int | None = None
    selection_accuracy: float | None = None
    train_time_s: float | None = None


TABLES = {"table1": Table(Table1Row, rows=tuple(TABLE1_MODELS))}


def _key(row: str) -> str:
    """The recipe (and loss, flip) key of a Table 1 row."""
    dataset = TABLE1_MODELS[row][0]
    return "cifar10" if dataset == "cifar10" else ("mnist-fc" if row.startswith("fc") else "mnist-conv")


def _check(cfg: dict[str, Any]) -> None:
    """Clear errors for rows, splits, recipes, losses and flips the config lacks, before any data is loaded."""
    unknown = [r for r in cfg["rows"] if r not in TABLE1_MODELS]
    if unknown:
        raise ValueError(f"unknown Table 1 rows {unknown}: choose from {', '.join(TABLE1_MODELS)}")
    for dataset in dict.fromkeys(TABLE1_MODELS[r][0] for r in cfg["rows"]):
        if dataset not in cfg["split"]:
            raise ValueError(f"setting 'split' = {cfg['split']!r} has no split for {dataset!r}, which rows "
                             f"{[r for r in cfg['rows'] if TABLE1_MODELS[r][0] == dataset]} need "
                             f"(its splits: {', '.join(map(repr, datasets.SPLITS[dataset]))})")
        datasets.check_split(dataset, cfg["split"][dataset])
    for key in dict.fromkeys(_key(r) for r in cfg["rows"]):
        for setting in ("recipes", "loss", "flip"):
            if key not in cfg[setting]:
                raise ValueError(f"setting {setting!r} has no entry {key!r}, which rows "
                                 f"{[r for r in cfg['rows'] if _key(r) == key]} need")
        try:
            TrainConfig(**cfg["recipes"][key])
            cross_entropy(cfg["loss"][key])
        except (TypeError, ValueError) as err:
            raise ValueError(f"setting 'recipes.{key}' or 'loss.{key}' is not allowed: {err}") from err


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    _check(cfg)
    loaded = {dataset: datasets.load(dataset, cfg["split"][dataset]).to(ctx.device)  # missing data stops here
              for dataset in dict.fromkeys(TABLE1_MODELS[r][0] for r in cfg["rows"])}
    splits = {name: selection_split(d, cfg["selection_holdout"]) for name, d in loaded.items()}
    progress = ctx.checkpoint("rows")
    done: dict[str, Any] = progress.load() or {"table": {}, "curves": {}}
    table, curves = [], {}
    for i, row in enumerate(TABLE1_MODELS):
        dataset = TABLE1_MODELS[row][0]
        dim = cfg["dim_fc"] if row.startswith("fc") else cfg["dim_conv"]
        seed_everything(ctx.seed * 1000 + i)
        model = build(row, dim)
        counts = {"row": row, "dataset": dataset, "parameters": paper_parameter_count(model),
                  "parameters_all": sum(p.numel() for p in model.parameters())}
        if row not in cfg["rows"]:
            table.append(Table1Row(**counts, status=f"not run: not among the config's rows (needs {dataset.upper()})"))
            continue
        if row in done["table"]:
            table.append(Table1Row(**done["table"][row]))
            curves[row] = done["curves"][row]
            continue
        model.to(ctx.device)
        started = time.time()
        select, report = splits[dataset]
        key = _key(row)
        out = train_classifier(model, select, TrainConfig(**cfg["recipes"][key]), seed=ctx.seed * 1000 + i,
                               checkpoint=ctx.checkpoint(row), desc=row, objective=cross_entropy(cfg["loss"][key]),
                               augment=flip_horizontally if cfg["flip"][key] else None)
        accuracy, loss = (out.accuracy, out.loss) if report is select.eval else evaluate(model, report)
        record = Table1Row(**counts, accuracy=accuracy, loss=loss, best_step=out.best_step,
                           selection_accuracy=out.accuracy, train_time_s=round(time.time() - started, 1))
        table.append(record)
        curves[row] = out.curve
        done["table"][row], done["curves"][row] = asdict(record), out.curve
        progress.save(done)
    progress.remove()
    return Outputs(metrics={r.row: r.accuracy for r in table}, tables={"table1": table}, curves=curves,
                   data={"split": "; ".join(d.description["split"] for d in loaded.values()),
                         "datasets": {name: d.description for name, d in loaded.items()}})
