"""What the NeRN sections share: the tasks they run on, the row of a reconstruction table and its making.

``TASKS`` names the data a section's config uses: at ``quick`` CIFAR is not
available offline, so the originals train on the MNIST test split cut 8,000 /
2,000, padded from 28x28 to 32x32 (``mnist32``); at ``cpu`` on MNIST's standard
60,000 / 10,000 split padded the same way (``mnist32-standard``); at ``full`` the
paper's CIFAR.
:func:`permutation_table` is the experiment of Tables 1, 5 and 11 (one NeRN per
original, predictor size and permutation mode), which the CIFAR-10 and CIFAR-100
sections run on their own configs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from weightspace.data import ImageData
from weightspace.experiments import Outputs, RunContext
from weightspace.nern.fitting import evaluated, fit, layouts
from weightspace.nern.originals import preset, task_data, train_original
from weightspace.nern.predictor import KernelLayout, predictor_size_mb
from weightspace.nern.train import NeRNConfig, NeRNOutcome
from weightspace.tables import Row

# ``seeds``: the runs a page's mean and interval are over (``python -m weightspace sweep nern --seeds 0-3``
# at full: the paper runs every experiment with 4 seeds, Section 4; seeds 0-2 at quick and cpu).
TASKS: dict[str, dict[str, Any]] = {
    "mnist32": {"dataset": "mnist", "split": "test-8k/2k", "pad_to": 32, "augment": False, "seeds": 3},
    "mnist32-standard": {"dataset": "mnist", "split": "standard", "pad_to": 32, "augment": False, "seeds": 3},
    "cifar10": {"dataset": "cifar10", "split": "standard", "pad_to": None, "augment": True, "seeds": 4},
    "cifar100": {"dataset": "cifar100", "split": "standard", "pad_to": None, "augment": True, "seeds": 4},
}


def task(name: str) -> dict[str, Any]:
    """The data settings of task ``name`` for a config: ``dataset``, ``split``, ``pad_to``, ``augment``
    (the originals train with CIFAR's random crop and flip) and ``seeds`` (how many seeds its pages report)."""
    return preset(TASKS, name, "task")


@dataclass(frozen=True, kw_only=True)
class ReconstructionRow(Row):
    """One row of a reconstruction table: an original (``arch``, ``width``) or a NeRN fitted to it.

    ``ran`` says what ran in the paper's slot (e.g. ``resnet8-w4, h=32``); ``recon`` is the
    final reconstruction RMSE (eq. 3), ``predictor_mb`` the predictor's float32 MiB.
    ``accuracy`` is the reported one (the recipe's ``selection``), ``final_accuracy`` the
    last evaluation's and ``best_accuracy`` the best evaluation's (the authors' selection,
    made on the split it reports).
    """

    ran: str | None = None
    arch: str | None = None
    width: int | None = None
    mode: str | None = None
    hidden: int | None = None
    inputs: str | None = None
    accuracy: float | None = None
    final_accuracy: float | None = None
    best_accuracy: float | None = None
    recon: float | None = None
    predictor_mb: float | None = None
    seconds: float | None = None
    iterations_per_second: float | None = None


def load(cfg: dict[str, Any], ctx: RunContext) -> ImageData:
    """The data of ``cfg`` (its ``dataset``, ``split`` and ``pad_to``) on the run's device."""
    return task_data(cfg["dataset"], cfg["split"], cfg["pad_to"], ctx.device)


def original(cfg: dict[str, Any], ctx: RunContext, arch: dict[str, Any], data: ImageData,
             smooth: float = 0.0) -> tuple[nn.Module, dict[str, Any]]:
    """The original of architecture ``arch`` trained with ``cfg["reference"]`` (cached) and its record."""
    return train_original(arch, cfg["reference"], smooth, data, augment=cfg["augment"], seed=ctx.seed,
                          device=ctx.device, checkpoint=ctx.checkpoint)


def ran(arch: dict[str, Any], hidden: int | None = None) -> str:
    """What ran in a slot: the original's architecture and width, and the predictor size."""
    return f"{arch['arch']}-w{arch['width']}" + ("" if hidden is None else f", h={hidden}")


def original_row(tag: str, arch: dict[str, Any], record: dict[str, Any],
                 row_type: type[ReconstructionRow] = ReconstructionRow, **extra: Any) -> ReconstructionRow:
    """The row (a ``row_type``, with ``extra`` fields) of an original network."""
    return row_type(row=tag, arch=arch["arch"], width=arch["width"], accuracy=record["accuracy"],
                    seconds=record["seconds"], **extra)


def fitted(cfg: dict[str, Any], ctx: RunContext, net: nn.Module, data: ImageData, mode: str,
           settings: dict[str, Any], tag: str, *, inputs: str = "data",
           layout: Callable[[str], KernelLayout] | None = None, row_type: type[ReconstructionRow] = ReconstructionRow,
           **extra: Any) -> tuple[ReconstructionRow, NeRNOutcome]:
    """One NeRN fitted to ``net`` (evaluated on ``cfg["eval_limit"]`` images): its row (a ``row_type``, with
    ``extra`` fields) and its outcome."""
    out = fit(net, data, mode, settings, seed=ctx.seed, device=ctx.device, inputs=inputs,
              eval_limit=cfg["eval_limit"], layout=layout, checkpoint=ctx.checkpoint(tag), desc=tag)
    recipe = NeRNConfig(**settings)
    return row_type(row=tag, mode=mode, hidden=recipe.hidden, inputs=inputs, accuracy=out.accuracy,
                    final_accuracy=out.final_accuracy, best_accuracy=out.best_accuracy, recon=out.curve[-1]["recon"],
                    predictor_mb=predictor_size_mb(recipe.hidden, 6 * recipe.frequencies), seconds=out.seconds, iterations_per_second=out.iterations_per_second, **extra), out


def check_slots(cfg: dict[str, Any], paper_sizes: dict[str, list[int]]) -> None:
    """``cfg["archs"]`` (architecture -> sizes run) fills ``cfg["slots"]`` (the paper's sizes they stand in for)."""
    for arch, sizes in cfg["archs"].items():
        if arch not in paper_sizes:
            raise ValueError(f"archs: {arch!r} is not an architecture of this table; choose from "
                             f"{', '.join(paper_sizes)}")
        slots, originals = cfg["slots"].get(arch), cfg["originals"]
        if slots is None or len(slots) != len(sizes) or not set(slots) <= set(paper_sizes[arch]):
            raise ValueError(f"slots[{arch!r}] = {slots!r} must give one of the paper's sizes "
                             f"{paper_sizes[arch]} for each size in archs[{arch!r}] = {sizes}")
        if arch not in originals:
            raise ValueError(f"originals has no architecture for {arch!r} (give e.g. "
                             f"originals={{{arch!r}: {{'arch': {arch!r}, 'width': 16, 'in_channels': 3}}}})")


def unrun(arch: str, cfg: dict[str, Any], slot: int | None = None) -> str:
    """Why ``arch`` (the row of its paper size ``slot`` if given) did not run, or ``""`` if it ran."""
    if arch not in cfg["archs"]:
        return f"not run: {arch} is not in this config's archs"
    if slot is None or slot in cfg["slots"][arch]:
        return ""
    return f"not run: h = {slot} is not in this config's slots"


Fit = tuple[str, str, dict[str, Any]]  # a NeRN of a slot: permutation mode, inputs, recipe overrides
Tag = Callable[[str, int, str], str]  # (architecture, the paper's size, kind) -> row id


def permutation_rows(paper_sizes: dict[str, list[int]]) -> Callable[[dict[str, Any]], list[str]]:
    """The row ids of a permutation table: each architecture's original and mode x paper size."""
    return lambda cfg: [tag for arch, sizes in paper_sizes.items()
                        for tag in [f"{arch}-original"] + [f"{arch}-{m}-{h}" for h in sizes for m in cfg["modes"]]]


def slot_table(cfg: dict[str, Any], ctx: RunContext, paper_sizes: dict[str, list[int]], fits: dict[str, Fit],
               tag: Tag, name: str) -> Outputs:
    """Table ``name``: for each architecture its original and, for each of its sizes, one NeRN per kind of ``fits``.

    ``cfg["archs"]`` maps the architectures that run to their sizes, ``cfg["slots"]``
    to the paper's sizes they stand in for and ``cfg["originals"]`` to the network
    that runs in their place (each row's ``ran`` says what ran); rows are named
    ``tag(arch, paper size, kind)``. The other rows say they did not run.
    """
    check_slots(cfg, paper_sizes)
    data = load(cfg, ctx)
    table, curves = [], {}
    for arch in paper_sizes:
        if unrun(arch, cfg):
            table.append(ReconstructionRow(row=f"{arch}-original", status=unrun(arch, cfg)))
            continue
        spec = cfg["originals"][arch]
        net, record = original(cfg, ctx, spec, data)
        ordered = layouts(net)
        table.append(original_row(f"{arch}-original", spec, record, ran=ran(spec)))
        for h, slot in zip(cfg["archs"][arch], cfg["slots"][arch]):
            for kind, (mode, inputs, overrides) in fits.items():
                row, out = fitted(cfg, ctx, net, data, mode, {**cfg["nern"][arch], "hidden": h, **overrides},
                                  tag(arch, slot, kind), inputs=inputs, layout=ordered, ran=ran(spec, h))
                table.append(row)
                curves[row.row] = evaluated(out.curve)
    table += [ReconstructionRow(row=tag(arch, h, kind), status=unrun(arch, cfg, h))
              for arch, sizes in paper_sizes.items() for h in sizes for kind in fits if unrun(arch, cfg, h)]
    return Outputs(metrics={r.row: r.accuracy for r in table}, tables={name: table}, curves=curves,
                   data={"split": data.description["split"]})


def permutation_table(cfg: dict[str, Any], ctx: RunContext, paper_sizes: dict[str, list[int]]) -> Outputs:
    """Tables 1, 5 and 11: for each original and size, one NeRN per permutation mode (rows ``<arch>-<mode>-<h>``)."""
    return slot_table(cfg, ctx, paper_sizes, {m: (m, "data", {}) for m in cfg["modes"]},
                      lambda arch, h, mode: f"{arch}-{mode}-{h}", "table")
