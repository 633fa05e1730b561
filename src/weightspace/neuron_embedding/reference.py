"""The neuron-embedding paper's printed numbers, each with its table and row."""

from weightspace.report import Reference, references

_T1 = [  # row, label, parameters, accuracy (%), CE loss
    ("fc2-direct", "MNIST FC 2-layer (direct)", 318010, 98.05, 0.0672),
    ("fc2-emb", "MNIST FC 2-layer (emb.)", 76416, 97.43, 0.0999),
    ("fc5-direct", "MNIST FC 5-layer (direct)", 417640, 98.14, 0.0710),
    ("fc5-emb", "MNIST FC 5-layer (emb.)", 97536, 97.44, 0.1077),
    ("conv-direct", "MNIST Conv (direct)", 160070, 99.38, 0.0294),
    ("conv-sep", "MNIST Conv (sep.)", 84750, 99.27, 0.03732),
    ("conv-emb", "MNIST Conv (emb.)", 51598, 99.00, 0.0412),
    ("resnet9-direct", "CIFAR-10 ResNet9 (direct)", 2438794, 89.40, 0.3962),
    ("resnet9-sep", "CIFAR-10 ResNet9 (sep.)", 287818, 88.21, 0.4312),
    ("resnet9-emb", "CIFAR-10 ResNet9 (emb.)", 98298, 86.90, 0.4469),
]
TABLE1 = references("Table 1", ("parameters", "accuracy", "loss"), _T1)

_T2 = [  # row, label, free parameters, accuracy (%), weight MSE
    ("reference", "Reference (direct)", 318010, 97.48, None),
    ("d64", "Neuron embedding (64 dims)", 76416, 97.48, 0.00036),
    ("d32", "Neuron embedding (32 dims)", 38208, 97.15, 0.00053),
    ("d16", "Neuron embedding (16 dims)", 19104, 75.08, 0.00095),
    ("d8", "Neuron embedding (8 dims)", 9552, 65.61, 0.00177),
    ("d4", "Neuron embedding (4 dims)", 4776, 20.72, 0.00414),
]
TABLE2 = references("Table 2", ("parameters", "accuracy", "mse"), _T2)
REFERENCE_WEIGHT_MEAN_SQUARE = Reference("Section 4.2", "reference", "weight_mean_square", 0.0152,
                                         "Mean-squared amplitude of the reference weights")

_T3 = [  # row, label, target, source, 50% crossover, 100% crossover (accuracy %)
    ("direct", "Direct encoding", 97.48, 97.66, 61.73, 9.83),
    ("emb", "Neuron embedding", 97.38, 97.41, 92.83, 79.03),
]
TABLE3 = references("Table 3", ("target", "source", "crossover_50", "crossover_100"), _T3)
