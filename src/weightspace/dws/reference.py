"""The DWSNets paper's printed numbers (project page and arXiv v1), each with its table or figure and row.

Our copy of the paper is a summary; the values are those the authors publish on
their project page and in arXiv v1 (mean over seeds; the +- is in ``*_STD``).
Sine-wave regression values are read off the paper's figure and are approximate.
``CLAIMS`` are the qualitative statements the book's pages make of the quick runs.
"""

from typing import Sequence

import pandas as pd

from weightspace.claims import Claim, Value, above, below, best, cell, decreasing, greater, lowest, metric
from weightspace.report import Reference, over_seeds, references
from weightspace.results import Result

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
                       [(r, label, mnist) for r, label, mnist, _, _ in _CLASSIFICATION if mnist is not None], data="MNIST")
FASHION_MNIST_INR = references("INR classification table (Fashion-MNIST INRs)", ("accuracy",),
                               [(r, label, f) for r, label, _, f, _ in _CLASSIFICATION if f is not None], data="Fashion-MNIST")
DOMAIN_ADAPTATION = references("Domain adaptation table (CIFAR-10 -> corrupted)", ("accuracy",),
                               [(r, label, c) for r, label, _, _, c in _CLASSIFICATION], data="CIFAR10")
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
SINE_REGRESSION = references("Sine-wave regression figure (approximate)", ("mse",),
                             [(f"{r}/{n}", f"{label}, {n} INRs", v) for r, label, *values in _SINE
                              for n, v in zip((50, 800), values)], data="sine waves")

# The name of each of our methods on the pages: the paper's table labels; DeepSets over neurons is ours only.
_LABELS = {r: label for r, label, *_ in _CLASSIFICATION} | {"deepsets": "DeepSets over neurons"}
METHODS = {m: _LABELS[m] for m in ("mlp", "mlp_perm", "mlp_align", "deepsets", "transformer", "inr2vec", "dwsnet")}

# Later systems on the same INR-classification benchmarks, quoted on the pages for context only (test accuracy %,
# mean over seeds, as the pages quoted them: one decimal). ``cite`` is the system's paper (book/references.bib);
# ``printed_in`` the paper whose INR-classification table prints the value (NFN-HNP was not run on these INR
# datasets by its authors; ScaleGMN's table gives the value for it). Not checked against the PDFs in this
# repository (no copy offline): check them there before relying on more than their order.
LATER = [  # row, label, cite, printed_in, MNIST INR acc (%), Fashion-MNIST INR acc (%)
    ("nfn_hnp", "NFN-HNP", "zhou2023nfn", "kalogeropoulos2024scalegmn", 79.1, 68.9),
    ("neural_graphs", "Neural Graphs (NG-GNN)", "kofinas2024graphs", "kofinas2024graphs", 91.4, 68.0),
    ("scalegmn", "ScaleGMN", "kalogeropoulos2024scalegmn", "kalogeropoulos2024scalegmn", 96.6, 80.5),
]
LATER_MNIST_INR = references("Later systems, INR classification (MNIST INRs)", ("accuracy",),
                             [(r, label, m) for r, label, _, _, m, _ in LATER], data="MNIST")
LATER_FASHION_MNIST_INR = references("Later systems, INR classification (Fashion-MNIST INRs)", ("accuracy",),
                                     [(r, label, f) for r, label, _, _, _, f in LATER], data="Fashion-MNIST")
# DWSNets on Fashion-MNIST INRs as the later papers' tables print it (their run of DWSNets, not the paper's value)
DWSNETS_FASHION_MNIST_LATER = 67.06
DWSNETS_FASHION_MNIST_LATER_IN = "kalogeropoulos2024scalegmn"

# The tolerances of the exactness claims (far above float rounding, far below a real error)
EQUIVARIANCE_TOL_F32 = 1e-5
EQUIVARIANCE_TOL_F64 = 1e-12
INPUT_PERMUTATION_MIN = 0.1  # permuting input neurons must change a layer's output by more than this


def _sci(x: float) -> str:
    """``1e-05`` as ``1e-5``."""
    return f"{x:.0e}".replace("e-0", "e-")


def paper_table(refs, stds: dict[str, float | None], full=None, table: str = "",
                cpu: Sequence[Result] = ()) -> pd.DataFrame:
    """The paper's values (mean +- std) beside a stored full-profile result of ours and the mean +- std of the
    stored cpu-profile results ``cpu`` (one per seed, :func:`~weightspace.report.over_seeds`), a dash where there is
    none."""
    def values(result: Result | None) -> dict[str, dict]:
        return {r["row"]: r for r in result.tables.get(table, [])} if result is not None else {}

    found, seeds = values(full), [values(r) for r in cpu]
    rows = []
    for ref in refs:
        ours = found.get(ref.row, {}).get(ref.metric)
        row = {"method": ref.label, "paper": ref.value, "paper ±": stds.get(ref.row) or "—",
               "full (ours)": "—" if ours is None else round(float(ours), 2)}
        if cpu:
            row["cpu (ours)"] = over_seeds([float(v) for s in seeds if (v := s.get(ref.row, {}).get(ref.metric))
                                            is not None])
        rows.append(row)
    return pd.DataFrame.from_records(rows).set_index("method")


def _count_gap(result: Result) -> float:
    """The largest difference between a layer's parameters and the character formula, in total or per block."""
    pairs = [("layer_parameters", "character_formula"),
             *((f"{b}_layer", f"{b}_formula") for b in ("WW", "WB", "BW", "BB"))]
    return max(abs(rec[a] - rec[b]) for rec in result.tables["counts"] for a, b in pairs)


def _unmatched(result: Result) -> float:
    """The architectures in which weight matching does not recover the planted permutation."""
    return sum(not rec["matching_exact"] for rec in result.tables["equivariance"])


_BASELINES = ("mlp", "mlp_perm", "mlp_align", "deepsets", "transformer", "inr2vec")
_SSL_BASELINES = tuple(m for m in _BASELINES if m != "mlp_align")  # the dense-representation page has no alignment
_sine = cell("sine", "mse")


def _mse(method: str, train_size: int) -> Value:
    """The test MSE of ``method`` trained on ``train_size`` INRs (row ``"<method>/<train_size>"``)."""
    return _sine(f"{method}/{train_size}")



_cls = cell("classification", "accuracy")
_abl = cell("ablation", "accuracy")
_tau = cell("generalization", "kendall_tau")
_probe = cell("dense", "probe_mse")


def _classification_claims(refs: Sequence[Reference]) -> list[Claim]:
    """The INR-classification claims, quoting the paper's accuracies ``refs`` (:data:`MNIST_INR` or
    :data:`FASHION_MNIST_INR`). On both datasets the paper orders DWSNet first, MLP + alignment second and the
    MLP on raw weights last.
    """
    paper = {r.row: r.value for r in refs}
    v = lambda m: f"{paper[m]:.2f}"  # noqa: E731
    printed = [m for m in _BASELINES if m in paper]
    top = max(printed, key=paper.__getitem__)
    runner_up = max((m for m in printed if m != "mlp_align"), key=paper.__getitem__)
    return [
        Claim("DWSNet > MLP", f"INR classification table: {v('dwsnet')} vs {v('mlp')}",
              greater(_cls("dwsnet"), _cls("mlp")), "points", "dws_mlp"),
        Claim("DWSNet above every baseline", f"{v('dwsnet')} vs {v(top)} ({_LABELS[top]}, the best baseline)",
              best(_cls("dwsnet"), [_cls(m) for m in _BASELINES]), "points", "dws_best"),
        Claim("MLP + alignment > MLP", f"{v('mlp_align')} vs {v('mlp')}",
              greater(_cls("mlp_align"), _cls("mlp")), "points", "align_mlp"),
        Claim("MLP + alignment the best baseline", f"{v('mlp_align')} vs {v(runner_up)} ({_LABELS[runner_up]}, the next)",
              best(_cls("mlp_align"), [_cls(m) for m in _BASELINES if m != "mlp_align"]), "points", "align_best"),
        Claim("MLP + permutation augmentation > MLP", f"{v('mlp_perm')} vs {v('mlp')}",
              greater(_cls("mlp_perm"), _cls("mlp")), "points", "perm_mlp"),
        Claim("Transformer > MLP", f"{v('transformer')} vs {v('mlp')}",
              greater(_cls("transformer"), _cls("mlp")), "points", "transformer_mlp"),
        Claim("INR2Vec > MLP", f"{v('inr2vec')} vs {v('mlp')}",
              greater(_cls("inr2vec"), _cls("mlp")), "points", "inr2vec_mlp"),
    ]


CLAIMS: dict[str, list[Claim]] = {
    # exact properties, up to rounding; the tolerances are far above float rounding and far below a real error
    "equivariance": [
        Claim(f"DWS layer commutes with hidden permutations, float32 error < {_sci(EQUIVARIANCE_TOL_F32)}",
              "Theorem 5.1: exactly equivariant",
              below(metric("max_equivariance_f32"), EQUIVARIANCE_TOL_F32), "abs. error", "eq_f32"),
        Claim(f"the same in float64, error < {_sci(EQUIVARIANCE_TOL_F64)}", "Theorem 5.1: exactly equivariant",
              below(metric("max_equivariance_f64"), EQUIVARIANCE_TOL_F64), "abs. error", "eq_f64"),
        Claim(f"DWSNet output invariant, float32 error < {_sci(EQUIVARIANCE_TOL_F32)}", "Prop. 5.3: invariant pooling",
              below(metric("max_invariance_f32"), EQUIVARIANCE_TOL_F32), "abs. error", "inv_f32"),
        Claim(f"permuting input neurons changes the layer's output by > {INPUT_PERMUTATION_MIN}",
              "Section 3: only hidden neurons permute",
              above(metric("min_input_permutation_error"), INPUT_PERMUTATION_MIN), "abs. error", "input_perm"),
        Claim("layer parameters = character formula, in total and per block", "App. C: the layers form a basis",
              lambda r: 0.5 - _count_gap(r), "parameters", "counts"),
        Claim("weight matching recovers a planted permutation, every architecture",
              "App. J: alignment baseline by weight matching", lambda r: 0.5 - _unmatched(r), "architectures",
              "matching"),
    ],
    # test MSE of the frequency: lower is better
    "sine_regression": [
        Claim("DWSNet < MLP, 800 INRs", "figure (approx.): 0.25 vs 10",
              greater(_mse("mlp", 800), _mse("dwsnet", 800)), "MSE", "dws_mlp"),
        Claim("DWSNet lowest of all methods, 800 INRs", "figure (approx.): 0.25 vs 0.75 (MLP + alignment)",
              lowest(_mse("dwsnet", 800), [_mse(m, 800) for m in _BASELINES]), "MSE", "dws_best_800"),
        Claim("DWSNet lowest of all methods, 50 INRs", "figure (approx.): 0.9 vs 2.4 (INR2Vec)",
              lowest(_mse("dwsnet", 50), [_mse(m, 50) for m in _BASELINES]), "MSE", "dws_best_50"),
        Claim("DWSNet MSE falls with training INRs, 50 > 200 > 800", "figure (approx.): 0.9 at 50, 0.25 at 800",
              decreasing([_mse("dwsnet", n) for n in (50, 200, 800)]), "MSE", "dws_falls"),
    ],
    "inr_classification": _classification_claims(MNIST_INR),
    "fmnist_classification": _classification_claims(FASHION_MNIST_INR),
    # App. K.2 prints no values; chance is 10% (ten digits)
    "block_ablation": [
        Claim("all four blocks > W->W alone", "App. K.2: adding the other blocks improves accuracy",
              greater(_abl("all"), _abl("WW")), "points", "all_ww"),
        Claim("all four blocks best of the variants", "App. K.2: adding the other blocks improves accuracy",
              best(_abl("all"), [_abl(v) for v in ("WW", "WW+BB", "WW+WB+BW")]), "points", "all_best"),
        Claim("W->W alone gains more over chance (10%) than the other blocks add", "App. K.2: W->W contributes most",
              lambda r: (_abl("WW")(r) - 10.0) - (_abl("all")(r) - _abl("WW")(r)), "points", "ww_most"),
    ],
    # Kendall's tau between predicted and true test accuracy: higher is better; our copy prints no values
    "generalization": [
        Claim("DWSNet > MLP, Kendall's tau", "DWSNets outperform all other methods (no values in our copy)",
              greater(_tau("dwsnet"), _tau("mlp")), "tau", "dws_mlp"),
        Claim("DWSNet above every baseline, Kendall's tau", "DWSNets outperform all other methods",
              best(_tau("dwsnet"), [_tau(m) for m in _BASELINES]), "tau", "dws_best"),
    ],
    # linear-probe test MSE of (a, b): lower is better; our copy prints no values
    "dense_representation": [
        Claim("DWSNet embedding < MLP encoder's, probe MSE", "DWSNet embedding best (no values in our copy)",
              greater(_probe("mlp"), _probe("dwsnet")), "MSE", "dws_mlp"),
        Claim("DWSNet embedding lowest of all encoders, probe MSE", "DWSNet embedding best",
              lowest(_probe("dwsnet"), [_probe(m) for m in _SSL_BASELINES]), "MSE", "dws_best"),
        Claim("DWSNet embedding < raw weights, probe MSE", "an encoder helps a linear probe",
              greater(metric("raw_weights_probe_mse"), _probe("dwsnet")), "MSE", "dws_raw"),
    ],
}
