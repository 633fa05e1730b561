"""The results dashboard: every table and figure of the four papers on one line, built from the results.

Each :class:`Line` names one paper table or figure, the row and metric that
stand for it (its headline), the experiment table that reproduces it and the
data and architecture the paper used. :func:`frame` fills each line from the
paper's reference values (:mod:`weightspace.<paper>.reference`), the committed
full-profile result (its data, hardware and wall time), the committed cpu-profile
(CPU-scale tier) and quick results of seeds 0-2 (mean ± std), and computes a status:

* ``reproduced``: a full result on the paper's data, within the paper's interval
  (its ± where printed, else :data:`TOLERANCE` points);
* ``not reproduced``: the same, outside it, by how much;
* ``full recipe on other data``: the paper's recipe run on the data here (no
  difference is shown: the data is not the paper's);
* ``stale``: a full result whose cache key no longer matches the code;
* ``quick scale only``, ``CPU scale and quick only``: no full result (the smaller
  profiles are never compared with the paper);
* ``not run``: nothing committed; the line names the data needed and the command.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from weightspace.report import (Reference, committed, dataset_of, lookup, over_seeds, printed, ran_where, same_data,
                                stale)
from weightspace.results import Result, ResultFileError, load_result

TOLERANCE = 1.0  # points, where the paper prints no interval (the paper-scale issue's rule)
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Line:
    """One paper table or figure on the dashboard.

    Args:
        paper: the paper's short name.
        item: the table or figure ("Table 1", "Fig. 5").
        what: the headline it is shown by, for people.
        experiment, table, row, metric: where our value is (``result.tables[table]``'s ``row``).
        references: the paper's printed values for this table (``None``: the paper prints none).
        data: the dataset the paper used, as result descriptions name it ("MNIST", "CIFAR10").
        interval: the paper's ± for the headline, if it prints one.
        percent: the value (ours and the paper's) is an accuracy printed as a fraction, shown ×100.
        page: the book page that shows it.
    """

    paper: str
    item: str
    what: str
    experiment: str
    table: str
    row: str
    metric: str
    references: Sequence[Reference] | None
    data: str
    page: str
    interval: float | None = None
    percent: bool = False

    def paper_value(self) -> float | None:
        """The paper's printed headline, on the dashboard's scale (percent where ``percent``)."""
        if self.references is None:
            return None
        return printed(self.references, self.row, self.metric) * (100.0 if self.percent else 1.0)


def _value(result: Result, line: Line) -> float | None:
    value, _ = lookup(result, line.table, line.row, line.metric)
    return None if math.isnan(value) else value * (100.0 if line.percent else 1.0)


class _Stored:
    """The committed results, each file read once while a dashboard is built (lines share experiments)."""

    def __init__(self) -> None:
        self._read: dict[tuple[str, str, int], Result | None] = {}
        self._full: dict[str, Result | None] = {}

    def __call__(self, profile: str, experiment: str, seed: int) -> Result | None:
        key = (profile, experiment, seed)
        if key not in self._read:
            try:
                self._read[key] = load_result(profile, experiment, seed)
            except ResultFileError:
                self._read[key] = None
        return self._read[key]

    def full(self, line: Line) -> Result | None:
        """The full result of ``line``'s experiment, as its page shows it (:func:`~weightspace.report.committed`)."""
        if line.experiment not in self._full:
            try:
                self._full[line.experiment] = committed("full", line.experiment, 0)
            except ResultFileError:
                self._full[line.experiment] = None
        return self._full[line.experiment]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _over_seeds(line: Line, stored: _Stored, profile: str) -> str:
    """The line's value in the committed ``profile`` results of :data:`SEEDS`, as mean ± std."""
    return over_seeds([v for s in SEEDS if (r := stored(profile, line.experiment, s)) is not None
                       and (v := _value(r, line)) is not None])


def _status(line: Line, full: Result | None, ours: float | None, quick: str, cpu: str) -> str:
    command = f"python -m weightspace run {line.experiment} --profile full"
    if full is None:
        if quick == "—" and cpu == "—":
            return f"not run: needs {line.data} ({command})"
        scale = "quick scale only" if cpu == "—" else "CPU scale and quick only"
        return f"{scale} (full, on {line.data}: {command})"
    if stale(full):
        return "stale: the code changed since this full result (rerun it)"
    dataset = dataset_of(full)
    if not same_data(dataset, line.data):
        return f"full recipe on {dataset or 'other data'} (paper: {line.data}); not compared"
    paper = line.paper_value()
    if ours is None or paper is None:
        return "full result; the paper prints no value" if paper is None else "full result without this row"
    band = line.interval if line.interval is not None else TOLERANCE
    gap = ours - paper
    if abs(gap) <= band:
        return f"reproduced (within ±{band:g})"
    return f"not reproduced (by {gap:+.2f})"


def frame(lines: Sequence[Line] | None = None, links: bool = False) -> pd.DataFrame:
    """The dashboard: paper | item | headline | paper value | ours at full (data, hardware, time) | cpu | quick |
    status.

    With ``links`` the item is an HTML link to its page (for the book, relative to ``notebooks/``).
    """
    rows, stored = [], _Stored()
    for line in lines if lines is not None else LINES:
        full = stored.full(line)
        if full is not None and lookup(full, line.table, line.row, line.metric)[1]:
            full = None  # a full run of other rows: this line's row has a status there (did not run at full scale)
        ours = _value(full, line) if full is not None else None
        quick, cpu = (_over_seeds(line, stored, profile) for profile in ("quick", "cpu"))
        where = ran_where(full) if full is not None else ""
        item = f'<a href="{line.page.removeprefix("notebooks/")}.html">{line.item}</a>' if links else line.item
        rows.append({"paper": line.paper, "item": item, "headline": line.what,
                     "paper value": _fmt(line.paper_value()), "ours, full": _fmt(ours),
                     "full run (data, hardware, time)": where or "—", "ours, cpu (mean ± std)": cpu,
                     "ours, quick (mean ± std)": quick, "status": _status(line, full, ours, quick, cpu)})
    return pd.DataFrame.from_records(rows)


def _lines() -> list[Line]:
    from weightspace.dws import reference as dws
    from weightspace.nern import reference as nern
    from weightspace.neuron_embedding import reference as ne
    from weightspace.r2r import reference as r2r

    NE, NR, DW, RR = "Neuron embeddings", "NeRN", "DWSNets", "R2R"
    ne_page, nern_page = "notebooks/neuron_embedding/", "notebooks/nern/"
    dws_page, r2r_page = "notebooks/dws/", "notebooks/r2r/"
    return [
        Line(NE, "Table 1", "FC 2-layer, embedding: test accuracy (%)", "neuron_embedding.table1", "table1",
             "fc2-emb", "accuracy", ne.TABLE1, "MNIST", ne_page + "01_table1_from_scratch"),
        Line(NE, "Table 1", "Conv, embedding: test accuracy (%)", "neuron_embedding.table1", "table1",
             "conv-emb", "accuracy", ne.TABLE1, "MNIST", ne_page + "01_table1_from_scratch"),
        Line(NE, "Table 1", "ResNet9, embedding: CIFAR-10 test accuracy (%)", "neuron_embedding.table1_cifar10",
             "table1", "resnet9-emb", "accuracy", ne.TABLE1, "CIFAR10", ne_page + "01_table1_from_scratch"),
        Line(NE, "Table 2", "d = 16: accuracy of the fitted network (%)", "neuron_embedding.table2", "table2",
             "d16", "accuracy", ne.TABLE2, "MNIST", ne_page + "02_table2_compression"),
        Line(NE, "Table 3", "Embedding, 50% crossover: accuracy (%)", "neuron_embedding.cross_model", "table3",
             "emb", "crossover_50", ne.TABLE3, "MNIST", ne_page + "03_cross_model"),
        Line(NR, "Table 1", "ResNet20, cross-filter, h = 160: reconstructed accuracy (%)", "nern.cifar10", "table",
             "resnet20-cross-160", "accuracy", nern.TABLE1, "CIFAR10", nern_page + "01_cifar10"),
        Line(NR, "Table 4", "ResNet20, h = 160, noise inputs: accuracy (%)", "nern.datafree", "table4",
             "resnet20-160-noise", "accuracy", nern.TABLE4, "CIFAR10", nern_page + "05_datafree"),
        Line(NR, "Table 6", "All losses: accuracy (%)", "nern.ablations", "table6", "all", "accuracy",
             nern.TABLE6, "CIFAR10", nern_page + "06_ablations"),
        Line(NR, "Table 7", "Magnitude-oriented sampling: accuracy (%)", "nern.ablations", "table7", "weighted",
             "accuracy", nern.TABLE7, "CIFAR10", nern_page + "06_ablations"),
        Line(NR, "Table 10", "Factor 1e-5, h = 240: reconstructed accuracy (%)", "nern.regularization", "table10",
             "1e-05-240", "accuracy", nern.TABLE10, "CIFAR10", nern_page + "02_regularization"),
        Line(NR, "Table 11", "ResNet56, cross-filter, h = 360: accuracy (%)", "nern.cifar100", "table",
             "resnet56-cross-360", "accuracy", nern.TABLE11, "CIFAR100", nern_page + "03_cifar100"),
        Line(NR, "Table 12", "ResNet18, cross-filter, h = 1372: top-1 (%)", "nern.imagenet", "table12",
             "cross-1372", "top1", nern.TABLE12, "ImageNet", nern_page + "04_imagenet"),
        Line(DW, "INR classification", "DWSNet on MNIST INRs: accuracy (%)", "dws.inr_classification",
             "classification", "dwsnet", "accuracy", dws.MNIST_INR, "MNIST", dws_page + "03_inr_classification",
             interval=dws.MNIST_INR_STD.get("dwsnet")),
        Line(DW, "INR classification", "DWSNet on Fashion-MNIST INRs: accuracy (%)", "dws.fmnist_classification",
             "classification", "dwsnet", "accuracy", dws.FASHION_MNIST_INR, "Fashion-MNIST",
             dws_page + "05_full_only", interval=dws.FASHION_MNIST_INR_STD.get("dwsnet")),
        Line(DW, "Domain adaptation", "DWSNet, CIFAR-10 to corrupted: accuracy (%)", "dws.domain_adaptation",
             "adaptation", "dwsnet", "accuracy", dws.DOMAIN_ADAPTATION, "CIFAR10", dws_page + "05_full_only",
             interval=dws.DOMAIN_ADAPTATION_STD.get("dwsnet")),
        Line(DW, "Sine regression", "DWSNet, 800 training INRs: test MSE", "dws.sine_regression", "sine",
             "dwsnet/800", "mse", dws.SINE_REGRESSION, "sine waves", dws_page + "02_sine_regression"),
        Line(RR, "Section 3", "R2WiderR: largest output change", "r2r.preservation", "preservation", "R2WiderR",
             "max_error", r2r.PRESERVATION, "random networks", r2r_page + "01_function_preservation"),
        Line(RR, "Fig. 5", "Widen at 3/4 of the run: final accuracy (%)", "r2r.widen_schedule", "fig5",
             "quarter3", "accuracy", r2r.FIG5, "CIFAR10", r2r_page + "02_widen_schedule", percent=True),
        Line(RR, "Fig. 6", "R2WiderR: updates to converge", "r2r.widen_convergence", "fig6", "r2r",
             "updates_to_converge", r2r.FIG6, "CIFAR10", r2r_page + "03_widen_convergence"),
        Line(RR, "Fig. 7", "Deepen at 3/4 of the run: relative cost", "r2r.deepen_schedule", "fig7", "quarter3",
             "relative_cost", r2r.FIG7, "CIFAR10", r2r_page + "04_deepen_schedule"),
        Line(RR, "Fig. 8", "R2DeeperR: final accuracy (%)", "r2r.deepen_convergence", "fig8", "r2r", "accuracy",
             None, "CIFAR10", r2r_page + "05_deepen_convergence", percent=True),
        Line(RR, "Table 1", "Co-evolution ensemble: test accuracy (%)", "r2r.neuroevolution", "table1",
             "coevolution_ensemble", "test_accuracy", r2r.TABLE1, "CIFAR10", r2r_page + "06_neuroevolution",
             percent=True),
    ]


LINES: list[Line] = _lines()
