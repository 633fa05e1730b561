"""NeRN's printed numbers (Ashkenazi et al., ICLR 2023), each with its table and row.

Our copy of the paper lost Table 1's values; ``TABLE1`` holds the authors'
official CIFAR-10 numbers (their repository's README, after the distillation
gradient fix; IMPLEMENTATION_NOTES §2) and says so in its source. Accuracies are
the means over 4 seeds; the paper's confidence intervals are in ``*_CI``.
Predictor sizes are MiB of float32 parameters.
"""

from weightspace.report import Reference, references

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
TABLE1 = references(f"{OFFICIAL}, CIFAR-10", ("accuracy",), _T1)

_T5 = [  # non-smooth networks (no permutation)
    ("resnet20-none-140", "ResNet20 h=140", 87.95),
    ("resnet20-none-160", "ResNet20 h=160", 89.90),
    ("resnet20-none-180", "ResNet20 h=180", 90.82),
    ("resnet56-none-240", "ResNet56 h=240", 87.54),
    ("resnet56-none-280", "ResNet56 h=280", 90.83),
    ("resnet56-none-320", "ResNet56 h=320", 92.11),
]
TABLE5 = references("Table 5", ("accuracy",), _T5)

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
TABLE10 = references("Table 10", ("original", "predictor_mb", "accuracy"), _T10)

_T11 = [  # CIFAR-100 ResNet56 (71.35)
    ("resnet56-none-320", "none h=320", 1.48, 68.76), ("resnet56-none-360", "none h=360", 1.83, 70.09),
    ("resnet56-none-400", "none h=400", 2.22, 70.83),
    ("resnet56-in-320", "in-filter h=320", 1.48, 68.92), ("resnet56-in-360", "in-filter h=360", 1.83, 70.30),
    ("resnet56-in-400", "in-filter h=400", 2.22, 70.97),
    ("resnet56-cross-320", "cross-filter h=320", 1.48, 69.30),
    ("resnet56-cross-360", "cross-filter h=360", 1.83, 70.31),
    ("resnet56-cross-400", "cross-filter h=400", 2.22, 70.86),
]
TABLE11 = references("Table 11", ("predictor_mb", "accuracy"), _T11)
TABLE2 = [r for r in TABLE11 if r.row in ("resnet56-cross-320", "resnet56-cross-360", "resnet56-in-400")]
TABLE2 = [Reference("Table 11, best per size (Table 2 lost in our copy)", r.row, r.metric, r.value, r.label)
          for r in TABLE2]
CIFAR100_OFFICIAL = references(f"{OFFICIAL}, CIFAR-100", ("accuracy",), [
    ("resnet56-original", "ResNet56 original", 71.35), ("resnet56-cross-360", "cross-filter h=360", 70.51),
    ("resnet56-cross-400", "cross-filter h=400", 71.70)])

_T12 = [  # ResNet18 on ImageNet (69.76 / 89.08); the in-filter top-1 column is lost in our copy
    ("in-1024", "in-filter h=1024", 12.99, None, 87.78), ("in-1140", "in-filter h=1140", 15.97, None, 88.29),
    ("in-1256", "in-filter h=1256", 19.27, None, 88.54), ("in-1372", "in-filter h=1372", 22.87, None, 88.72),
    ("cross-1024", "cross-filter h=1024", 12.99, 67.55, 87.82),
    ("cross-1140", "cross-filter h=1140", 15.97, 68.21, 88.27),
    ("cross-1256", "cross-filter h=1256", 19.27, 68.74, 88.57),
    ("cross-1372", "cross-filter h=1372", 22.87, 69.07, 88.79),
]
TABLE12 = references("Table 12", ("predictor_mb", "top1", "top5"), _T12)
TABLE3 = [Reference("Table 3", r.row, r.metric, r.value, r.label) for r in TABLE12 if r.row.startswith("cross")]
IMAGENET_ORIGINAL = references("Section 4.3", ("top1", "top5"), [("original", "ResNet18 (torchvision)", 69.76, 89.08)])
TABLE13 = references("Table 13 (SqueezeNet 1.1, 58.19%; not reproduced)", ("predictor_mb", "top1"), [
    ("squeezenet-a", "in-filter h=340 (printed)", 1.48, 56.94),
    ("squeezenet-b", "in-filter h=340", 1.65, 57.44),
    ("squeezenet-c", "in-filter h=360", 1.83, 57.64)])

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
TABLE4 = references("Table 4", ("accuracy",), _T4)

TABLE6 = references("Table 6", ("accuracy",), [
    ("recon", "L_recon only", 88.36), ("distill", "L_KD + L_FMD", 10.30), ("all", "L_recon + L_KD + L_FMD", 91.04)])
TABLE7 = references("Table 7", ("accuracy",), [
    ("all", "All weights", 90.99), ("layer", "Random layer", 73.77), ("uniform", "Random batch", 91.00),
    ("weighted", "Random batch (weighted)", 91.04)])

_T8 = [  # architecture-task: total MB, conv MB, conv %
    ("resnet20-cifar10", "ResNet20 CIFAR-10", 1.04, 1.03, 99.04),
    ("resnet56-cifar10", "ResNet56 CIFAR-10", 3.26, 3.25, 99.69),
    ("resnet20-cifar100", "ResNet20 CIFAR-100", 1.06, 1.03, 97.17),
    ("resnet56-cifar100", "ResNet56 CIFAR-100", 3.29, 3.25, 98.78),
    ("resnet18-imagenet", "ResNet18 ImageNet", 44.59, 42.60, 95.54),
]
TABLE8 = references("Table 8", ("total_mb", "conv_mb", "conv_pct"), _T8)
_T9 = [  # total MB, in-filter MB, %, cross-filter MB, %
    ("resnet20-cifar10", "ResNet20 CIFAR-10", 1.04, 0.02, 1.92, 0.04, 3.85),
    ("resnet56-cifar10", "ResNet56 CIFAR-10", 3.26, 0.065, 1.99, 0.128, 3.93),
    ("resnet20-cifar100", "ResNet20 CIFAR-100", 1.06, 0.02, 1.89, 0.04, 3.77),
    ("resnet56-cifar100", "ResNet56 CIFAR-100", 3.29, 0.065, 1.98, 0.128, 3.89),
    ("resnet18-imagenet", "ResNet18 ImageNet", 44.59, 1.246, 2.79, 2.505, 5.62),
]
TABLE9 = references("Table 9", ("total_mb", "in_filter_mb", "in_filter_pct", "cross_filter_mb", "cross_filter_pct"),
                    _T9)
LEARNABLE_RESNET18_MB = Reference("Table 3", "resnet18-imagenet", "learnable_mb", 41.91, "ResNet18 3x3 convs")
