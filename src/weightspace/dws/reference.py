"""The DWSNets paper's printed numbers (project page and arXiv v1), each with its table or figure and row.

Our copy of the paper is a summary; the values are those the authors publish on
their project page and in arXiv v1 (mean over seeds; the +- is in ``*_STD``).
Sine-wave regression values are read off the paper's figure and are approximate.
"""

import pandas as pd

from weightspace.report import references

_CLASSIFICATION = [  # row, label, MNIST INR acc (%), Fashion-MNIST INR acc (%), CIFAR-10 -> corrupted acc (%)
    ("no_adaptation", "No adaptation", None, None, 60.92),
    ("mlp", "MLP", 17.55, 19.96, 64.33),
    ("mlp_perm", "MLP + permutation augmentation", 29.26, 22.47, 64.69),
    ("mlp_align", "MLP + alignment", 58.98, 47.98, 67.66),
    ("inr2vec", "INR2Vec (architecture)", 23.69, 22.62, 65.69),
    ("transformer", "Transformer", 26.57, 26.97, 61.37),
    ("dwsnet", "DWSNets", 85.71, 65.59, 71.36),
]
_CLASSIFICATION_STD = {
    "no_adaptation": (None, None, 0.41), "mlp": (0.01, 0.38, 0.36), "mlp_perm": (0.18, 0.26, 0.56),
    "mlp_align": (0.52, 0.46, 0.90), "inr2vec": (0.10, 0.06, 0.41), "transformer": (0.18, 0.33, 0.13),
    "dwsnet": (0.57, 0.48, 0.38),
}
MNIST_INR = references("INR classification table (MNIST INRs)", ("accuracy",),
                       [(r, label, mnist) for r, label, mnist, _, _ in _CLASSIFICATION if mnist is not None])
FASHION_MNIST_INR = references("INR classification table (Fashion-MNIST INRs)", ("accuracy",),
                               [(r, label, f) for r, label, _, f, _ in _CLASSIFICATION if f is not None])
DOMAIN_ADAPTATION = references("Domain adaptation table (CIFAR-10 -> corrupted)", ("accuracy",),
                               [(r, label, c) for r, label, _, _, c in _CLASSIFICATION])
MNIST_INR_STD = {r: s[0] for r, s in _CLASSIFICATION_STD.items() if s[0] is not None}
FASHION_MNIST_INR_STD = {r: s[1] for r, s in _CLASSIFICATION_STD.items() if s[1] is not None}
DOMAIN_ADAPTATION_STD = {r: s[2] for r, s in _CLASSIFICATION_STD.items()}

_SINE = [  # row, label, test MSE with 50 training INRs, with 800 (read off the figure)
    ("mlp", "MLP", 10.0, 10.0),
    ("mlp_perm", "MLP + permutation augmentation", 7.0, 7.0),
    ("mlp_align", "MLP + alignment", 3.5, 0.75),
    ("inr2vec", "INR2Vec (architecture)", 2.4, 1.1),
    ("transformer", "Transformer", 6.0, 2.4),
    ("dwsnet", "DWSNets", 0.9, 0.25),
]
SINE_REGRESSION = references("Sine-wave regression figure (approximate)", ("mse_50", "mse_800"), _SINE)


def paper_table(refs, stds: dict[str, float | None], full=None, table: str = "") -> pd.DataFrame:
    """The paper's values (mean +- std) beside a stored full-profile result of ours, a dash where there is none."""
    found = {r["row"]: r for r in full.tables.get(table, [])} if full is not None else {}
    rows = []
    for ref in refs:
        ours = found.get(ref.row, {}).get(ref.metric)
        rows.append({"method": ref.label, "paper": ref.value, "paper ±": stds.get(ref.row) or "—",
                     "full (ours)": "—" if ours is None else round(float(ours), 2)})
    return pd.DataFrame.from_records(rows).set_index("method")
