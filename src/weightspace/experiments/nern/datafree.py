"""Section 4.4, Table 4: data-free NeRN, distilling on U[-1, 1] noise instead of task images.

Cross-filter permutations. Each size is trained twice: without the distillation
losses (reconstruction only) and with KD + FMD computed on noise inputs. At
``quick`` the paper's ResNet20 slots h = 160, 180 are filled by a ResNet8 of
width 4 with h = 32, 48, and the ResNet56 rows are not run.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import ReconstructionRow, slot_table, task
from weightspace.nern import fitting, originals
from weightspace.tables import Table

TITLE = "NeRN, Table 4: data-free training with noise inputs"
PAPER_SIZES = {"resnet20": [160, 180], "resnet56": [280, 320]}
# kind -> the Fit of its slot: cross-filter, on task images with L_recon alone or on noise with all losses
KINDS = {"recon": ("cross", "data", {"alpha": 0.0, "beta": 0.0}), "noise": ("cross", "noise", {})}
TABLES = {"table4": Table(ReconstructionRow, rows=[tag for arch, sizes in PAPER_SIZES.items() for tag in
                                                   [f"{arch}-original"] + [f"{arch}-{h}-{k}" for h in sizes
                                                                           for k in KINDS]])}


def config(profile: str) -> dict[str, Any]:
    if profile == "quick":
        return {**task("mnist32"), "archs": {"resnet20": [32, 48]}, "slots": {"resnet20": [160, 180]},
                "originals": {"resnet20": originals.architecture("resnet8-w4-gray")},
                "nern": {"resnet20": fitting.recipe("brief")}, "reference": originals.recipe("brief"),
                "eval_limit": 1000}
    return {**task("cifar10"), "archs": PAPER_SIZES, "slots": PAPER_SIZES,
            "originals": {a: originals.architecture(a) for a in PAPER_SIZES},
            "nern": {"resnet20": fitting.recipe("resnet20"), "resnet56": fitting.recipe("resnet56")},
            "reference": originals.recipe("cifar"), "eval_limit": None}


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    return slot_table(cfg, ctx, PAPER_SIZES, KINDS, lambda arch, h, kind: f"{arch}-{h}-{kind}", "table4")
