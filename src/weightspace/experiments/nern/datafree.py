"""Section 4.4, Table 4: data-free NeRN, distilling on U[-1, 1] noise instead of task images.

Cross-filter permutations. Each size is trained twice: without the distillation
losses (reconstruction only) and with KD + FMD computed on noise inputs. At
``quick`` the paper's ResNet20 slots h = 160, 180 are filled by a ResNet8 of
width 4 with h = 32, 48, and the ResNet56 rows are not run.
"""

from __future__ import annotations

from typing import Any

from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.nern._reconstruction import (ReconstructionRow, check_slots, fitted, load, original,
                                                          original_row, ran, task, unrun)
from weightspace.nern import fitting, originals
from weightspace.nern.fitting import evaluated, layouts
from weightspace.tables import Table

TITLE = "NeRN, Table 4: data-free training with noise inputs"
PAPER_SIZES = {"resnet20": [160, 180], "resnet56": [280, 320]}
KINDS = {"recon": ("data", {"alpha": 0.0, "beta": 0.0}), "noise": ("noise", {})}  # kind -> inputs, recipe overrides
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
    check_slots(cfg, PAPER_SIZES)
    data = load(cfg, ctx)
    table, curves = [], {}
    for arch in PAPER_SIZES:
        if unrun(arch, cfg):
            table.append(ReconstructionRow(row=f"{arch}-original", status=unrun(arch, cfg)))
            continue
        spec = cfg["originals"][arch]
        net, record = original(cfg, ctx, spec, data)
        table.append(original_row(f"{arch}-original", spec, record))
        ordered = layouts(net)
        for h, slot in zip(cfg["archs"][arch], cfg["slots"][arch]):
            for kind, (inputs, overrides) in KINDS.items():
                tag = f"{arch}-{slot}-{kind}"
                row, out = fitted(cfg, ctx, net, data, "cross", {**cfg["nern"][arch], "hidden": h, **overrides}, tag,
                                  inputs=inputs, layout=ordered, ran=ran(spec, h))
                table.append(row)
                curves[tag] = evaluated(out.curve)
    table += [ReconstructionRow(row=f"{arch}-{h}-{k}", status=unrun(arch, cfg, h))
              for arch, sizes in PAPER_SIZES.items() for h in sizes for k in KINDS if unrun(arch, cfg, h)]
    return Outputs(metrics={r.row: r.accuracy for r in table}, tables={"table4": table}, curves=curves,
                   data={"split": data.description["split"]})
