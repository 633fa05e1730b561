"""The neuron-embedding paper's printed numbers, each with its table and row, and the claims the book makes."""

from weightspace.claims import Claim, Value, above, all_of, below, cell, close, decreasing, greater, increasing
from weightspace.report import Reference, printed, references

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
TABLE1_MNIST = references("Table 1", ("parameters", "accuracy", "loss"),  # experiment neuron_embedding.table1
                          [r for r in _T1 if not r[0].startswith("resnet9")], data="MNIST")
TABLE1_CIFAR10 = references("Table 1", ("parameters", "accuracy", "loss"),  # neuron_embedding.table1_cifar10
                            [r for r in _T1 if r[0].startswith("resnet9")], data="CIFAR10")
TABLE1 = TABLE1_MNIST + TABLE1_CIFAR10

_T2 = [  # row, label, free parameters, accuracy (%), weight MSE
    ("reference", "Reference (direct)", 318010, 97.48, None),
    ("d64", "Neuron embedding (64 dims)", 76416, 97.48, 0.00036),
    ("d32", "Neuron embedding (32 dims)", 38208, 97.15, 0.00053),
    ("d16", "Neuron embedding (16 dims)", 19104, 75.08, 0.00095),
    ("d8", "Neuron embedding (8 dims)", 9552, 65.61, 0.00177),
    ("d4", "Neuron embedding (4 dims)", 4776, 20.72, 0.00414),
]
TABLE2 = references("Table 2", ("parameters", "accuracy", "mse"), _T2, data="MNIST")
REFERENCE_WEIGHT_MEAN_SQUARE = Reference("Section 4.2", "reference", "weight_mean_square", 0.0152,
                                         "Mean-squared amplitude of the reference weights", "MNIST")

_T3 = [  # row, label, target, source, 50% crossover, 100% crossover (accuracy %)
    ("direct", "Direct encoding", 97.48, 97.66, 61.73, 9.83),
    ("emb", "Neuron embedding", 97.38, 97.41, 92.83, 79.03),
]
TABLE3 = references("Table 3", ("target", "source", "crossover_50", "crossover_100"), _T3, data="MNIST")


def _gap(table: list[Reference], a: str, b: str) -> float:
    """The paper's accuracy of row ``a`` minus that of row ``b``."""
    return printed(table, a, "accuracy") - printed(table, b, "accuracy")


def _lowest(encoding: str) -> Value:
    """The lowest accuracy along the Fig. 3 interpolation path of ``encoding`` (``emb_first``: first layer only)."""
    return lambda r: min(r.curves[f"interpolation_{encoding}"])


def _end(encoding: str) -> Value:
    """The accuracy at the end (t = 1) of the Fig. 3 interpolation path of ``encoding``."""
    return lambda r: r.curves[f"interpolation_{encoding}"][-1]


def _dip(encoding: str) -> Value:
    """How far the Fig. 3 path of ``encoding`` falls below the worse of its two end points (target, source)."""
    def dip(r) -> float:
        path = r.curves[f"interpolation_{encoding}"]
        return min(path[0], path[-1]) - min(path)
    return dip


_t1, _t2, _mse = cell("table1", "accuracy"), cell("table2", "accuracy"), cell("table2", "mse")
_unexplained = cell("table2", "unexplained")
# The share of the reference's weight energy that the paper's d = 64 fit leaves unexplained (%), from printed values.
PAPER_UNEXPLAINED_D64 = 100 * printed(TABLE2, "d64", "mse") / REFERENCE_WEIGHT_MEAN_SQUARE.value
_x50, _x100 = cell("table3", "crossover_50"), cell("table3", "crossover_100")
_DIMS = ("d64", "d32", "d16", "d8", "d4")

CLAIMS: dict[str, list[Claim]] = {
    "table1": [
        # The direct encoding leads on every MNIST model, by more than after the paper's 2000 steps.
        Claim("direct > emb., FC 2-layer", "Table 1: 98.05 vs 97.43", greater(_t1("fc2-direct"), _t1("fc2-emb")),
              "points", "fc2_direct_emb"),
        Claim("direct > emb., FC 5-layer", "Table 1: 98.14 vs 97.44", greater(_t1("fc5-direct"), _t1("fc5-emb")),
              "points", "fc5_direct_emb"),
        Claim("Conv: direct > sep. > emb.", "Table 1: 99.38 > 99.27 > 99.00",
              decreasing([_t1("conv-direct"), _t1("conv-sep"), _t1("conv-emb")]), "points", "conv_order"),
        Claim("Conv: sep. > emb.", "Table 1: 99.27 vs 99.00", greater(_t1("conv-sep"), _t1("conv-emb")), "points",
              "conv_sep_emb"),
        Claim("FC 2-layer gap (direct - emb.) wider than the paper's", "Table 1: 0.62 points after 2000 steps",
              greater(_t1("fc2-direct"), _t1("fc2-emb"), _gap(TABLE1, "fc2-direct", "fc2-emb")), "points",
              "fc2_gap_wider"),
        Claim("Conv gap (direct - emb.) wider than the paper's", "Table 1: 0.38 points after 2000 steps",
              greater(_t1("conv-direct"), _t1("conv-emb"), _gap(TABLE1, "conv-direct", "conv-emb")), "points",
              "conv_gap_wider"),
    ],
    "table2": [
        # d = 64 reproduces the reference within the hold-out's sampling error (about 0.45 points on 2,000 images).
        Claim("d = 64 within 0.5 points of the reference", "Table 2: 97.48 vs 97.48, within margin of error",
              close(_t2("d64"), _t2("reference"), 0.5), "points", "d64_matches"),
        Claim("accuracy falls with every halving of d", "Table 2: 97.48 > 97.15 > 75.08 > 65.61 > 20.72",
              decreasing([_t2(d) for d in _DIMS]), "points", "accuracy_falls"),
        Claim("drop from d = 32 to d = 16 smaller than the paper's", "Table 2: 97.15 to 75.08 (22.07 points)",
              lambda r: _gap(TABLE2, "d32", "d16") - (_t2("d32")(r) - _t2("d16")(r)), "points", "drop_gentler"),
        Claim("weight MSE grows as d shrinks", "Table 2: 0.00036 < 0.00053 < 0.00095 < 0.00177 < 0.00414",
              increasing([_mse(d) for d in _DIMS]), "MSE", "mse_grows"),
        Claim("d = 64 leaves more of the reference's weight energy unexplained than the paper's",
              "Table 2 and Section 4.2: MSE 0.00036 of a mean square 0.0152 (2.4%)",
              above(lambda r: 100 * _unexplained("d64")(r), PAPER_UNEXPLAINED_D64), "% of energy",
              "more_unexplained"),
    ],
    "cross_model": [
        # Transplanting neurons: the embedding encoding keeps far more of the target's accuracy.
        Claim("emb. > direct at 50% crossover", "Table 3: 92.83 vs 61.73", greater(_x50("emb"), _x50("direct")),
              "points", "emb_beats_direct_50"),
        Claim("emb. > direct at 100% crossover", "Table 3: 79.03 vs 9.83", greater(_x100("emb"), _x100("direct")),
              "points", "emb_beats_direct_100"),
        Claim("direct at 100% crossover near chance (below 20%)", "Table 3: 9.83, close to chance",
              below(_x100("direct"), 20.0), "points", "direct_collapses"),
        # Fig. 3: interpolation in stored order.
        Claim("both interpolation paths dip below their end points", "Fig. 3: accuracy is impacted in both cases",
              all_of(_dip("direct"), _dip("emb")), "points", "interp_dips"),
        Claim("embedding path dips further than the direct one", "Fig. 3: similar for both representations",
              greater(_lowest("direct"), _lowest("emb")), "points", "emb_dips_further"),
        # Fig. 3 as the authors' code draws it: only the first hidden layer moves, the target's output layer stays.
        Claim("first layer only: emb. ends (t = 1) above direct", "Fig. 3 (authors' code): not stated",
              greater(_end("emb_first"), _end("direct_first")), "points", "first_emb_above"),
        Claim("first layer only: direct ends (t = 1) near chance (below 20%)", "Table 3: 9.83 at 100% crossover",
              below(_end("direct_first"), 20.0), "points", "first_direct_collapses"),
    ],
}

# --- Where a full-profile result differs from the paper ----------------------------------------------------------

# Points: a full-profile accuracy (on the paper's data, with its architecture and recipe) further than this from
# the paper's printed value is called not reproduced, and the page says why it most likely differs.
TOLERANCE = 1.0

_REFERENCE_TRAINING = (
    "The paper does not say how its reference network was trained, and it is weaker than the "
    "paper's own Table 1 network of the same architecture (FC 2-layer, direct) trained by Table 1's recipe; ours "
    "is trained by that recipe as the paper prints it, on MNIST's whole training split, and is about as accurate as "
    "our Table 1 network (its best step is chosen on the test split it is reported on, which adds a little). The "
    "authors' public code trains differently from the printed recipe in details the paper leaves out (inputs scaled "
    "to [-1, 1], Adam with an L2 weight decay on a summed cross-entropy, a linear one-cycle schedule, 1,000 steps by "
    "default, 50,000 training images), but none of these, tried on our data, brings the reference down to the "
    "paper's accuracy. Most likely cause: the paper's reference was trained for less, or stopped earlier.")
_FOLLOWS = ("The embedding network fitted to the direct {net} follows that network (see the direct encoding's "
            "{net} row for why it differs from the paper's).")
_LOW_RANK = (
    "Not reproduced, and not because of the fit. Eq. 2 makes every generated weight matrix a product of rank at "
    "most d, so no d-dimensional embedding comes closer to the reference's weights than the truncated SVD of each "
    "layer (the SVD column of the weight MSE table); our fit comes close to that bound at every d, and more steps "
    "or a larger learning rate do not move it. Even the bound leaves a far larger share of our reference's weight "
    "energy unexplained than the paper's fit does: our reference's first-layer weights are less low-rank than the "
    "paper's, and a small d discards more of what our network computes. Training the reference as the authors' "
    "code does (inputs scaled to [-1, 1], weight decay, a shorter linear schedule) makes it somewhat more low-rank "
    "and brings d = 16 near the paper's accuracy, but leaves d = 8 as far below it. The paper's printed MSE and mean square together "
    "imply a reference that is low-rank to a degree none of our references approach, so how the paper's reference "
    "was trained, or how its MSE and mean square were computed, is the open detail.")
_DIRECT_TRANSPLANT = (
    "The cause is not established. The protocol is the authors' code's: a moved neuron takes its incoming weights "
    "and bias, the target's outgoing weights stay, nothing is re-fitted, and neurons are drawn at random. What "
    "differs is the two networks, trained by the printed recipe on our data (our target is more accurate than the "
    "paper's); training them with the authors' code's weight decay and shorter linear schedule moves neither "
    "crossover value to the paper's.")
_EMBEDDING_TRANSPLANT = (
    "The cause is not established. The protocol is the authors' code's: the source is fitted on the target's "
    "input embeddings, held fixed as in that code, and a moved neuron takes its embedding and bias, nothing "
    "re-fitted. What differs is the two networks the embeddings are fitted to: ours are less low-rank than the "
    "paper's (Table 2), so a 64-dimensional fit keeps a smoother part of each; training them with the authors' "
    "code's weight decay and shorter linear schedule leaves the crossover values as far above the paper's.")

# The most likely cause of each full-profile value further than TOLERANCE from the paper's, by (source, row, metric).
CAUSES: dict[tuple[str, str, str], str] = {
    ("Table 2", "reference", "accuracy"): _REFERENCE_TRAINING,
    ("Table 2", "d64", "accuracy"): ("The embedding network fitted to the reference follows that network (see the "
                                     "reference row for why it differs from the paper's)."),
    ("Table 2", "d16", "accuracy"): _LOW_RANK,
    ("Table 2", "d8", "accuracy"): _LOW_RANK,
    ("Table 3", "direct", "target"): "The same network as Table 2's reference. " + _REFERENCE_TRAINING,
    ("Table 3", "direct", "source"): "Trained like the target, from another seed. " + _REFERENCE_TRAINING,
    ("Table 3", "emb", "target"): _FOLLOWS.format(net="target"),
    ("Table 3", "emb", "source"): _FOLLOWS.format(net="source"),
    ("Table 3", "direct", "crossover_50"): _DIRECT_TRANSPLANT,
    ("Table 3", "direct", "crossover_100"): _DIRECT_TRANSPLANT,
    ("Table 3", "emb", "crossover_50"): _EMBEDDING_TRANSPLANT,
    ("Table 3", "emb", "crossover_100"): _EMBEDDING_TRANSPLANT,
}
_UNEXAMINED = "The cause has not been examined yet."
_METRIC_WORDS = {"accuracy": "", "target": ", target network", "source": ", source network",
                 "crossover_50": ", 50% crossover", "crossover_100": ", 100% crossover"}


def not_reproduced(references: list[Reference], table, metrics: tuple[str, ...]) -> list[dict]:
    """The comparable values of ``table`` (:func:`weightspace.report.comparison_table` of ``references``, in
    its order) among ``metrics`` (accuracies, %) that lie further than :data:`TOLERANCE` from the paper's."""
    found = []
    for ref, (_, line) in zip(references, table.iterrows(), strict=True):
        difference = line["difference"]
        if ref.metric in metrics and difference == difference and abs(difference) > TOLERANCE:
            found.append({"source": ref.source, "row": ref.row, "label": ref.label or ref.row, "metric": ref.metric,
                          "paper": ref.value, "ours": ref.value + difference, "difference": difference,
                          "cause": CAUSES.get((ref.source, ref.row, ref.metric), _UNEXAMINED)})
    return found


def not_reproduced_markdown(references: list[Reference], table, metrics: tuple[str, ...]) -> str:
    """:func:`not_reproduced` as Markdown for a page: one bullet per cause with the values it explains, or one
    sentence saying that every compared value lies within :data:`TOLERANCE` of the paper's."""
    found = not_reproduced(references, table, metrics)
    compared = sum(1 for ref, (_, line) in zip(references, table.iterrows(), strict=True)
                   if ref.metric in metrics and line["difference"] == line["difference"])
    if not compared:
        return "No full-profile value is compared with the paper's yet."
    if not found:
        return (f"All {compared} full-profile accuracies compared lie within {TOLERANCE:g} point of the "
                f"paper's.")
    by_cause: dict[str, list[str]] = {}  # one bullet per cause, its values in the table's order
    for f in found:
        by_cause.setdefault(f["cause"], []).append(
            f"**{f['label']}{_METRIC_WORDS.get(f['metric'], ', ' + f['metric'])}**: ours {f['ours']:.2f}% against "
            f"the paper's {f['paper']:.2f}% ({f['difference']:+.2f} points, ours "
            f"{'higher' if f['difference'] > 0 else 'lower'})")
    bullets = [f"- {'; '.join(values)}. {cause}" for cause, values in by_cause.items()]
    within = compared - len(found)
    return (f"{len(found)} of the {compared} full-profile accuracies compared lie further than {TOLERANCE:g} point "
            f"from the paper's ({within} lie within it):\n\n" + "\n".join(bullets))
