"""Table 1's protocol (Section 4.1), shared by its MNIST rows (:mod:`.table1`) and its CIFAR-10 rows (:mod:`.table1_cifar10`).

Every model of a row is built from random initialisation, trained with its
recipe, and the checkpoint with the best evaluation on the selection split is
reported on the test split (accuracy, cross-entropy), with its parameter count
computed from the model. A config names the ``rows`` a run trains and, per
recipe key (``mnist-fc``, ``mnist-conv``, ``cifar10``), the training recipe, the
loss reduction and whether training images are flipped. The declared rows the
config leaves out are listed with their parameter counts and a status saying
they did not run; a row whose data is missing stops the run before anything
trains, naming the files and ``WEIGHTSPACE_DATA`` (no result is written).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from weightspace import data as datasets
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.experiments.neuron_embedding._presets import describe
from weightspace.neuron_embedding.models import TABLE1_MODELS, build, paper_parameter_count
from weightspace.neuron_embedding.training import cross_entropy, flip_horizontally, selection_split
from weightspace.tables import Row
from weightspace.training import TrainConfig, evaluate, train_classifier

MNIST_ROWS = tuple(r for r, (ds, _) in TABLE1_MODELS.items() if ds == "mnist")
CIFAR10_ROWS = tuple(r for r, (ds, _) in TABLE1_MODELS.items() if ds == "cifar10")


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


def recipe_key(row: str) -> str:
    """The recipe (and loss, flip) key of a Table 1 row: ``mnist-fc``, ``mnist-conv`` or ``cifar10``."""
    dataset = TABLE1_MODELS[row][0]
    return "cifar10" if dataset == "cifar10" else ("mnist-fc" if row.startswith("fc") else "mnist-conv")


def summary(cfg: dict[str, Any], key: str) -> str:
    """One line saying how the rows of recipe ``key`` train under ``cfg`` (for the page)."""
    dataset = next(TABLE1_MODELS[row][0] for row in TABLE1_MODELS if recipe_key(row) == key)
    holdout = cfg["selection_holdout"]
    selection = (f"best step chosen on {holdout:,} held-out training images, reported on the test split" if holdout
                 else "best step chosen on the split it is reported on")
    return (f"{describe(cfg['recipes'][key])}; {cfg['loss'][key]}-reduced cross-entropy, "
            f"{'random horizontal flips' if cfg['flip'][key] else 'no augmentation'}; "
            f"{dataset} {cfg['split'][dataset]}; {selection}")


def check(cfg: dict[str, Any], declared: Sequence[str]) -> None:
    """Clear errors for rows, splits, recipes, losses and flips the config lacks, before any data is loaded."""
    unknown = [r for r in cfg["rows"] if r not in declared]
    if unknown:
        raise ValueError(f"setting 'rows' = {cfg['rows']!r} names unknown Table 1 rows {unknown}: this experiment's "
                         f"rows are {', '.join(declared)}")
    for dataset in dict.fromkeys(TABLE1_MODELS[r][0] for r in cfg["rows"]):
        if dataset not in cfg["split"]:
            raise ValueError(f"setting 'split' = {cfg['split']!r} has no split for {dataset!r}, which rows "
                             f"{[r for r in cfg['rows'] if TABLE1_MODELS[r][0] == dataset]} need "
                             f"(its splits: {', '.join(map(repr, datasets.SPLITS[dataset]))})")
        datasets.check_split(dataset, cfg["split"][dataset])
    for key in dict.fromkeys(recipe_key(r) for r in cfg["rows"]):
        for setting in ("recipes", "loss", "flip"):
            if key not in cfg[setting]:
                raise ValueError(f"setting {setting!r} has no entry {key!r}, which rows "
                                 f"{[r for r in cfg['rows'] if recipe_key(r) == key]} need")
        try:
            TrainConfig(**cfg["recipes"][key])
            cross_entropy(cfg["loss"][key])
        except (TypeError, ValueError) as err:
            raise ValueError(f"setting 'recipes.{key}' or 'loss.{key}' is not allowed: {err}") from err


def compute(cfg: dict[str, Any], ctx: RunContext, declared: Sequence[str]) -> Outputs:
    """Train the config's rows among ``declared`` (the experiment's rows, in Table 1's order) and list the rest."""
    check(cfg, declared)
    loaded = {dataset: datasets.load(dataset, cfg["split"][dataset]).to(ctx.device)  # missing data stops here
              for dataset in dict.fromkeys(TABLE1_MODELS[r][0] for r in cfg["rows"])}
    splits = {name: selection_split(d, cfg["selection_holdout"]) for name, d in loaded.items()}
    progress = ctx.checkpoint("rows")
    done: dict[str, Any] = progress.load() or {"table": {}, "curves": {}}
    table, curves = [], {}
    for row in declared:
        i = list(TABLE1_MODELS).index(row)  # the row's seed offset: its place in the paper's table
        dataset = TABLE1_MODELS[row][0]
        seed_everything(ctx.seed * 1000 + i)
        model = build(row, cfg["dim_fc" if row.startswith("fc") else "dim_conv"])
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
        key = recipe_key(row)
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
