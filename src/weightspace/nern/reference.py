"""NeRN's printed numbers (Ashkenazi et al., ICLR 2023), each with its table and row.

Our copy of the paper lost Table 1's values; ``TABLE1`` holds the authors'
official CIFAR-10 numbers (their repository's README, after the distillation
gradient fix; IMPLEMENTATION_NOTES §2) and says so in its source. Accuracies are
the means over 4 seeds; the paper's confidence intervals are in ``*_CI``.
Predictor sizes are MiB of float32 parameters. ``CLAIMS`` holds what each quick
page concludes from its run, checked over seeds (:mod:`weightspace.claims`).
"""

import numpy as np

from weightspace.claims import Claim, Value, above, all_of, below, cell, decreasing, greater
from weightspace.report import Reference, printed, references
from weightspace.results import Result

OFFICIAL = "Official (README)"

_T1 = [  # row, label, reconstructed accuracy (%) (the README prints no predictor sizes)
    ("resnet20-original", "ResNet20 original", 91.69),
    ("resnet20-in-160", "ResNet20 in-filter h=160", 90.85),
    ("resnet20-in-180", "ResNet20 in-filter h=180", 91.30),
    ("resnet20-cross-160", "ResNet20 cross-filter h=160", 91.16),
    ("resnet20-cross-180", "ResNet20 cross-filter h=180", 91.50),
    ("resnet56-original", "ResNet56 original", 93.52),
    ("resnet56-in-280", "ResNet56 in-filter h=280", 92.48),
    ("resnet56-in-320", "ResNet56 in-filter h=320", 92.75),
    ("resnet56-cross-280", "ResNet56 cross-filter h=280", 92.54),
    ("resnet56-cross-320", "ResNet56 cross-filter h=320", 92.96),
]
TABLE1 = references(f"{OFFICIAL}, CIFAR-10", ("accuracy",), _T1, data="CIFAR10")

_T5 = [  # non-smooth networks (no permutation)
    ("resnet20-none-140", "ResNet20 h=140", 87.95),
    ("resnet20-none-160", "ResNet20 h=160", 89.90),
    ("resnet20-none-180", "ResNet20 h=180", 90.82),
    ("resnet56-none-240", "ResNet56 h=240", 87.54),
    ("resnet56-none-280", "ResNet56 h=280", 90.83),
    ("resnet56-none-320", "ResNet56 h=320", 92.11),
]
TABLE5 = references("Table 5", ("accuracy",), _T5, data="CIFAR10")

_T10 = [  # regularisation factor, hidden size: original accuracy, predictor MB, reconstructed accuracy
    ("1e-06-240", "factor 1e-6, h=240", 93.35, 0.89, 90.14),
    ("5e-06-240", "factor 5e-6, h=240", 92.07, 0.89, 90.96),
    ("1e-05-240", "factor 1e-5, h=240", 91.55, 0.89, 90.82),
    ("5e-05-240", "factor 5e-5, h=240", 90.35, 0.89, 89.82),
    ("1e-06-280", "factor 1e-6, h=280", 93.35, 1.17, 91.74),
    ("5e-06-280", "factor 5e-6, h=280", 92.07, 1.17, 91.45),
    ("1e-05-280", "factor 1e-5, h=280", 91.55, 1.17, 91.08),
    ("5e-05-280", "factor 5e-5, h=280", 90.35, 1.17, 90.10),
]
TABLE10 = references("Table 10", ("original", "predictor_mb", "accuracy"), _T10, data="CIFAR10")

_T11 = [  # CIFAR-100 ResNet56 (71.35)
    ("resnet56-none-320", "none h=320", 1.48, 68.76), ("resnet56-none-360", "none h=360", 1.83, 70.09),
    ("resnet56-none-400", "none h=400", 2.22, 70.83),
    ("resnet56-in-320", "in-filter h=320", 1.48, 68.92), ("resnet56-in-360", "in-filter h=360", 1.83, 70.30),
    ("resnet56-in-400", "in-filter h=400", 2.22, 70.97),
    ("resnet56-cross-320", "cross-filter h=320", 1.48, 69.30),
    ("resnet56-cross-360", "cross-filter h=360", 1.83, 70.31),
    ("resnet56-cross-400", "cross-filter h=400", 2.22, 70.86),
]
TABLE11 = references("Table 11", ("predictor_mb", "accuracy"), _T11, data="CIFAR100")
TABLE2 = [r for r in TABLE11 if r.row in ("resnet56-cross-320", "resnet56-cross-360", "resnet56-in-400")]
TABLE2 = [Reference("Table 11, best per size (Table 2 lost in our copy)", r.row, r.metric, r.value, r.label, r.data)
          for r in TABLE2]
CIFAR100_OFFICIAL = references(f"{OFFICIAL}, CIFAR-100", ("accuracy",), [
    ("resnet56-original", "ResNet56 original", 71.35), ("resnet56-cross-360", "cross-filter h=360", 70.51),
    ("resnet56-cross-400", "cross-filter h=400", 71.70)], data="CIFAR100")

_T12 = [  # ResNet18 on ImageNet (69.76 / 89.08); the in-filter top-1 column is lost in our copy
    ("in-1024", "in-filter h=1024", 12.99, None, 87.78), ("in-1140", "in-filter h=1140", 15.97, None, 88.29),
    ("in-1256", "in-filter h=1256", 19.27, None, 88.54), ("in-1372", "in-filter h=1372", 22.87, None, 88.72),
    ("cross-1024", "cross-filter h=1024", 12.99, 67.55, 87.82),
    ("cross-1140", "cross-filter h=1140", 15.97, 68.21, 88.27),
    ("cross-1256", "cross-filter h=1256", 19.27, 68.74, 88.57),
    ("cross-1372", "cross-filter h=1372", 22.87, 69.07, 88.79),
]
TABLE12 = references("Table 12", ("predictor_mb", "top1", "top5"), _T12, data="ImageNet")
TABLE3 = [Reference("Table 3", r.row, r.metric, r.value, r.label, r.data) for r in TABLE12 if r.row.startswith("cross")]
IMAGENET_ORIGINAL = references("Section 4.3", ("top1", "top5"), [("original", "ResNet18 (torchvision)", 69.76, 89.08)], data="ImageNet")
TABLE13 = references("Table 13 (SqueezeNet 1.1, 58.19%; not reproduced)", ("predictor_mb", "top1"), [
    ("squeezenet-a", "in-filter h=340 (printed)", 1.48, 56.94),
    ("squeezenet-b", "in-filter h=340", 1.65, 57.44),
    ("squeezenet-c", "in-filter h=360", 1.83, 57.64)], data="ImageNet")

_T4 = [  # cross-filter; "recon" = distillation losses omitted, "noise" = distillation on U[-1, 1] noise
    ("resnet20-160-recon", "ResNet20 h=160, no distillation", 88.36),
    ("resnet20-160-noise", "ResNet20 h=160, noise inputs", 89.08),
    ("resnet20-180-recon", "ResNet20 h=180, no distillation", 90.21),
    ("resnet20-180-noise", "ResNet20 h=180, noise inputs", 90.64),
    ("resnet56-280-recon", "ResNet56 h=280, no distillation", 90.93),
    ("resnet56-280-noise", "ResNet56 h=280, noise inputs", 91.40),
    ("resnet56-320-recon", "ResNet56 h=320, no distillation", 92.06),
    ("resnet56-320-noise", "ResNet56 h=320, noise inputs", 92.42),
]
TABLE4 = references("Table 4", ("accuracy",), _T4, data="CIFAR10")

TABLE6 = references("Table 6", ("accuracy",), [
    ("recon", "L_recon only", 88.36), ("distill", "L_KD + L_FMD", 10.30), ("all", "L_recon + L_KD + L_FMD", 91.04)], data="CIFAR10")
TABLE7 = references("Table 7", ("accuracy",), [
    ("all", "All weights", 90.99), ("layer", "Random layer", 73.77), ("uniform", "Random batch", 91.00),
    ("weighted", "Random batch (weighted)", 91.04)], data="CIFAR10")

_T8 = [  # architecture-task: total MB, conv MB, conv %
    ("resnet20-cifar10", "ResNet20 CIFAR-10", 1.04, 1.03, 99.04),
    ("resnet56-cifar10", "ResNet56 CIFAR-10", 3.26, 3.25, 99.69),
    ("resnet20-cifar100", "ResNet20 CIFAR-100", 1.06, 1.03, 97.17),
    ("resnet56-cifar100", "ResNet56 CIFAR-100", 3.29, 3.25, 98.78),
    ("resnet18-imagenet", "ResNet18 ImageNet", 44.59, 42.60, 95.54),
]
TABLE8 = references("Table 8", ("total_mb", "conv_mb", "conv_pct"), _T8, data=None)
_T9 = [  # total MB, in-filter MB, %, cross-filter MB, %
    ("resnet20-cifar10", "ResNet20 CIFAR-10", 1.04, 0.02, 1.92, 0.04, 3.85),
    ("resnet56-cifar10", "ResNet56 CIFAR-10", 3.26, 0.065, 1.99, 0.128, 3.93),
    ("resnet20-cifar100", "ResNet20 CIFAR-100", 1.06, 0.02, 1.89, 0.04, 3.77),
    ("resnet56-cifar100", "ResNet56 CIFAR-100", 3.29, 0.065, 1.98, 0.128, 3.89),
    ("resnet18-imagenet", "ResNet18 ImageNet", 44.59, 1.246, 2.79, 2.505, 5.62),
]
TABLE9 = references("Table 9", ("total_mb", "in_filter_mb", "in_filter_pct", "cross_filter_mb", "cross_filter_pct"),
                    _T9, data=None)
LEARNABLE_RESNET18_MB = Reference("Table 3", "resnet18-imagenet", "learnable_mb", 41.91, "ResNet18 3x3 convs", None)

HOURS_PER_FIT = {"CIFAR": (1, 3), "ImageNet": (20, 30)}
"""The paper's time for one NeRN on one RTX 3090, by task (Section 4: "The CIFAR experiments take about 1-3 hours,
depending on the sizes of the original model and NeRN. ImageNet experiments take about 20-30 hours")."""


def gpu_hours(experiment: str) -> str:
    """How long ``experiment`` takes at the paper's recipe on one GPU, per seed, from the paper's time per NeRN.

    Each row of its tables but the originals' is one NeRN fit; an experiment that
    trains its originals (CIFAR) adds their training, which the paper does not time.

    Example::

        >>> gpu_hours("nern.cifar100")
        'about 9-27 GPU-hours per seed (9 NeRN fits at the paper's 1-3 hours each on one RTX 3090, Section 4; plus training 1 original for 78,000 SGD steps, which the paper does not time)'
    """
    from weightspace import experiments

    cfg = experiments.config(experiment, "full")
    rows = [r for table in experiments.tables_of(experiment).values() for r in table.row_ids(cfg) or []]
    fits = sum(not r.endswith("original") for r in rows)
    lo, hi = HOURS_PER_FIT["CIFAR" if str(cfg.get("dataset", "")).startswith("cifar") else "ImageNet"]
    text = (f"about {fits * lo:,}-{fits * hi:,} GPU-hours per seed ({fits} NeRN fits at the paper's {lo}-{hi} hours "
            "each on one RTX 3090, Section 4")
    if "originals" in cfg:
        n = len(cfg["originals"])
        text += (f"; plus training {n} original{'s' * (n > 1)} for {cfg['reference']['steps']:,} SGD steps, which the "
                 "paper does not time")
    return text + ")"


# Claims the quick pages make, each checked over seeds (weightspace.claims). Slots are the paper's rows
# ("resnet20-cross-160"), whatever size the profile runs in them.
def _pruned(score: str, fraction: float) -> Value:
    """Accuracy of the original with ``fraction`` of its conv weights pruned by ``score`` first."""
    def read(result: Result) -> float:
        for rec in result.tables["pruning"]:
            if rec["score"] == score and rec["fraction"] == fraction:
                return float(rec["accuracy"])
        raise KeyError(f"{result.experiment} has no pruning row {score!r} at {fraction}")
    return read


def _map_strength(which: str) -> Value:
    """Mean absolute activation of the filters with the lowest or highest reconstruction error."""
    return lambda r: float(np.abs(np.asarray([rec["mean_map"] for rec in r.tables["importance"]
                                              if rec["row"].startswith(f"{which}-")])).mean())


def _kernel_correlation(r: Result) -> float:
    """Pearson correlation of the original and reconstructed kernels shown in Fig. 6."""
    a, b = (np.asarray(r.tables["kernels"][0][k]).ravel() for k in ("original", "reconstructed"))
    return float(np.corrcoef(a, b)[0, 1])


def _mean_distance(ordering: str) -> Value:
    """Eq. 6 distance between consecutive kernels under ``ordering`` (none, in_filter, cross_filter), averaged over
    the original's layers."""
    return lambda r: float(np.mean([rec[ordering] for rec in r.tables["smoothness"]]))


def _distill_off_chance(r: Result) -> float:
    """Largest distance from chance (10%) of the distillation-only run along training."""
    return max(abs(c["accuracy"] - 10.0) for c in r.curves["loss-distill"])


_MODES, _SLOTS = ("none", "in", "cross"), (160, 180)
_acc, _rec = cell("table", "accuracy"), cell("table", "recon")
_t1 = {m: {h: printed(TABLE5 if m == "none" else TABLE1, f"resnet20-{m}-{h}", "accuracy") for h in _SLOTS}
       for m in _MODES}
_SMOOTH = "Section 3.3: smoother orderings reconstruct better"
_FACTORS = ("1e-06-240", "5e-06-240", "1e-05-240", "5e-05-240")
_reg, _reg_rec, _reg_orig = cell("table10", "accuracy"), cell("table10", "recon"), cell("table10", "original")
_t10 = {f: printed(TABLE10, f, "accuracy") for f in _FACTORS}
_t10_orig = {f: printed(TABLE10, f, "original") for f in _FACTORS}
_df = cell("table4", "accuracy")
_t4 = {h: {k: printed(TABLE4, f"resnet20-{h}-{k}", "accuracy") for k in ("recon", "noise")} for h in _SLOTS}
_t6, _t6_rec, _t7 = cell("table6", "accuracy"), cell("table6", "recon"), cell("table7", "accuracy")
_p6 = {k: printed(TABLE6, k, "accuracy") for k in ("recon", "distill", "all")}
_p7 = {k: printed(TABLE7, k, "accuracy") for k in ("all", "layer", "uniform", "weighted")}
_meta = cell("meta_compression", "accuracy", key="fraction")
_NO_VALUES = "(no values printed)"

CLAIMS: dict[str, list[Claim]] = {
    "cifar10": [
        Claim("larger predictor, lower RMSE, every mode", "Section 4.1: larger predictors reconstruct better",
              all_of(*(greater(_rec(f"resnet20-{m}-160"), _rec(f"resnet20-{m}-180")) for m in _MODES)),
              "RMSE", "larger_recon"),
        Claim("larger predictor, higher accuracy, every mode",
              "Tables 1, 5: " + ", ".join(f"{_t1[m][160]:.2f} → {_t1[m][180]:.2f} ({m})" for m in _MODES),
              all_of(*(greater(_acc(f"resnet20-{m}-180"), _acc(f"resnet20-{m}-160")) for m in _MODES)),
              "points", "larger_acc"),
        Claim("RMSE none > in-filter > cross-filter, smaller size", _SMOOTH,
              decreasing([_rec(f"resnet20-{m}-160") for m in _MODES]), "RMSE", "smooth_small"),
        Claim("RMSE none > in-filter > cross-filter, larger size", _SMOOTH,
              decreasing([_rec(f"resnet20-{m}-180") for m in _MODES]), "RMSE", "smooth_large"),
        Claim("cross-filter accuracy > none, both sizes",
              "Tables 1, 5: " + ", ".join(f"{_t1['cross'][h]:.2f} vs {_t1['none'][h]:.2f} (h = {h})" for h in _SLOTS),
              all_of(*(greater(_acc(f"resnet20-cross-{h}"), _acc(f"resnet20-none-{h}")) for h in _SLOTS)),
              "points", "acc_cross_none"),
    ],
    "regularization": [
        Claim("RMSE falls at every step of the factor", "Fig. 3: smoother originals are easier to reconstruct",
              decreasing([_reg_rec(f) for f in _FACTORS]), "RMSE", "recon"),
        Claim("original's accuracy lower at the largest factor than at the smallest",
              f"Table 10: {_t10_orig[_FACTORS[0]]:.2f} → {_t10_orig[_FACTORS[-1]]:.2f}",
              greater(_reg_orig(_FACTORS[0]), _reg_orig(_FACTORS[-1])), "points", "original_ends"),
        Claim("original's accuracy falls at every step of the factor",
              "Table 10: " + ", ".join(f"{_t10_orig[f]:.2f}" for f in _FACTORS),
              decreasing([_reg_orig(f) for f in _FACTORS]), "points", "original"),
        Claim("best reconstruction at an intermediate factor",
              "Table 10, h = 240: " + ", ".join(f"{_t10[f]:.2f}" for f in _FACTORS),
              greater(lambda r: max(_reg(f)(r) for f in _FACTORS[1:-1]),
                      lambda r: max(_reg(f)(r) for f in (_FACTORS[0], _FACTORS[-1]))), "points", "tradeoff"),
    ],
    "datafree": [
        *(Claim(f"noise distillation > no distillation, {size} size",
                f"Table 4: {_t4[h]['noise']:.2f} vs {_t4[h]['recon']:.2f}",
                greater(_df(f"resnet20-{h}-noise"), _df(f"resnet20-{h}-recon")), "points", f"noise_{size}")
          for h, size in zip(_SLOTS, ("smaller", "larger"))),
    ],
    "ablations": [
        Claim("all losses > L_recon only > distillation only",
              f"Table 6: {_p6['all']:.2f}, {_p6['recon']:.2f}, {_p6['distill']:.2f}",
              decreasing([_t6("all"), _t6("recon"), _t6("distill")]), "points", "loss_order"),
        Claim("all losses > L_recon only", f"Table 6: {_p6['all']:.2f} vs {_p6['recon']:.2f}",
              greater(_t6("all"), _t6("recon")), "points", "all_recon"),
        Claim("all losses: RMSE within 5% of L_recon only's", "Fig. 4: distillation gains accuracy, not RMSE",
              lambda r: 0.05 * _t6_rec("recon")(r) - abs(_t6_rec("all")(r) - _t6_rec("recon")(r)),
              "RMSE", "same_recon"),
        Claim("distillation only within 2 points of chance (10%) throughout",
              f"Table 6: {_p6['distill']:.2f}; Fig. 4", below(_distill_off_chance, 2.0), "points", "distill_chance"),
        Claim("random layer < every other sampling", f"Table 7: {_p7['layer']:.2f} vs ≥ {_p7['all']:.2f}",
              all_of(*(greater(_t7(s), _t7("layer")) for s in ("all", "uniform", "weighted"))),
              "points", "layer_worst"),
        Claim("batch sampling (uniform, weighted) ≥ all weights",
              f"Table 7: {_p7['uniform']:.2f}, {_p7['weighted']:.2f} vs {_p7['all']:.2f}",
              all_of(greater(_t7("uniform"), _t7("all")), greater(_t7("weighted"), _t7("all"))), "points", "batch"),
        Claim("weighted batch > uniform batch", f"Table 7: {_p7['weighted']:.2f} vs {_p7['uniform']:.2f}",
              greater(_t7("weighted"), _t7("uniform")), "points", "weighted"),
    ],
    "applications": [
        Claim("pruning 5% of the predictor costs < 1 point", f"Fig. 5 left: the predictor can be pruned {_NO_VALUES}",
              greater(_meta(0.05), _meta(0.0), -1.0), "points", "meta_small"),
        Claim("pruning 20% of the predictor costs > 10 points", f"Fig. 5 left: ResNet56's predictor {_NO_VALUES}",
              greater(_meta(0.0), _meta(0.2), 10.0), "points", "meta_20"),
        Claim("lowest-error filters have stronger maps (mean |activation|)",
              "Fig. 5 right: low-error filters have high-valued maps",
              greater(_map_strength("lowest"), _map_strength("highest")), "activation", "importance"),
        Claim("pruning by reconstruction error > random, 20%", f"authors' later code {_NO_VALUES}",
              greater(_pruned("reconstruction", 0.2), _pruned("random", 0.2)), "points", "prune_random"),
        Claim("pruning by magnitude > by reconstruction error, 20%", f"authors' later code {_NO_VALUES}",
              greater(_pruned("magnitude", 0.2), _pruned("reconstruction", 0.2)), "points", "prune_magnitude"),
        Claim("Fig. 6 kernels: correlation of reconstruction and original > 0.8",
              "Fig. 6: the reconstructed kernels look like the originals",
              above(_kernel_correlation, 0.8), "correlation", "kernels"),
    ],
    "appendix": [
        Claim("mean eq. (6) distance none > in-filter > cross-filter",
              "Section 3.3, Fig. 2: the orderings smooth the kernels",
              decreasing([_mean_distance(m) for m in ("none", "in_filter", "cross_filter")]), "distance", "smooth"),
    ],
}
