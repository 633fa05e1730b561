"""Section 4.1, Fig. 3 and Appendix E.1, Table 10: smoothness by regularising the original's training.

Each original is trained with eq. 6's smoothness term times a factor; NeRN
(no permutation) then reconstructs it. A larger factor makes the weights
smoother and easier to reconstruct but costs the original accuracy. At
``quick`` the original is a ResNet8 of width 4 (``original``), the paper's
factor slots (1e-6 ... 5e-5, for ResNet56's 94,000 kernels) are filled by
factors 100 times larger, for the ResNet8's 676 kernels (eq. 6 is a sum over
kernel pairs), and only the first predictor size runs (``sizes`` fills the
paper's sizes in order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import (ReconstructionRow, fitted, load, original, original_row, ran,
                                                          task)
from weightspace.nern import fitting, originals
from weightspace.tables import Table

TITLE = "NeRN, Fig. 3 and Table 10: regularisation-based smoothness"
PAPER_FACTORS = [1e-6, 5e-6, 1e-5, 5e-5]
PAPER_SIZES = [240, 280]


@dataclass(frozen=True, kw_only=True)
class RegularizedRow(ReconstructionRow):
    """A row of Table 10 (or of an original): ``factor`` times eq. 6 trained the original of accuracy ``original``."""

    factor: float | None = None
    original: float | None = None


def _slot(factor: float) -> str:
    return f"{factor:.0e}"


TABLES = {"table10": Table(RegularizedRow, rows=[f"{_slot(f)}-{h}" for f in PAPER_FACTORS for h in PAPER_SIZES]),
          "originals": Table(RegularizedRow, rows=[_slot(f) for f in PAPER_FACTORS])}


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {**task("mnist32"), "original": originals.architecture("resnet8-w4-gray"),
                "factors": [1e-4, 5e-4, 1e-3, 5e-3], "sizes": [48], "nern": fitting.recipe("brief"),
                "reference": originals.recipe("brief"), "eval_limit": 1000}
    return {**task("cifar10"), "original": originals.architecture("resnet56"), "factors": PAPER_FACTORS,
            "sizes": PAPER_SIZES, "nern": fitting.recipe("resnet56"), "reference": originals.recipe("cifar"),
            "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    if len(cfg["factors"]) != len(PAPER_FACTORS) or len(cfg["sizes"]) > len(PAPER_SIZES):
        raise ValueError(f"factors = {cfg['factors']}, sizes = {cfg['sizes']}: give {len(PAPER_FACTORS)} factors "
                         f"and at most {len(PAPER_SIZES)} sizes (one per slot of Table 10)")
    data = load(cfg, ctx)
    spec = cfg["original"]
    table, trained = [], []
    for factor, slot in zip(cfg["factors"], PAPER_FACTORS):
        net, record = original(cfg, ctx, spec, data, smooth=factor)
        trained.append(original_row(_slot(slot), spec, record, factor=factor, row_type=RegularizedRow))
        for i, size_slot in enumerate(PAPER_SIZES):
            tag = f"{_slot(slot)}-{size_slot}"
            if i >= len(cfg["sizes"]):
                table.append(RegularizedRow(row=tag, status=f"not run: this config's sizes fill the first "
                                                            f"{len(cfg['sizes'])} of h = {PAPER_SIZES}"))
                continue
            h = cfg["sizes"][i]
            row, _ = fitted(cfg, ctx, net, data, "none", {**cfg["nern"], "hidden": h}, tag, row_type=RegularizedRow,
                            original=record["accuracy"], factor=factor,
                            ran=f"{ran(spec)}, factor {factor:g}, h={h}")
            table.append(row)
    return Outputs(metrics={r.row: r.accuracy for r in table},
                   tables={"table10": table, "originals": trained}, data={"split": data.description["split"]})
