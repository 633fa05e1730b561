"""The R2R report's printed numbers, each with its table, figure or section and row, and the claims of its pages.

Accuracies are fractions (the report's scale). Figures 5-8 print no values;
the numbers below are the ones its text states about them. :data:`CLAIMS` holds
the qualitative statements each page makes of a quick run, checked over seeds
(:mod:`weightspace.claims`).
"""

import math
from typing import Callable, Sequence

from weightspace.claims import Claim, Value, above, all_of, below, best, cell, decreasing, greater
from weightspace.report import references

# Section 3 states these as properties of the transforms (exact preservation; R2R leaves half of its new
# parameters free, Net2Net none): the claims our measured errors and counted degrees of freedom are checked against.
PRESERVATION = references("Section 3 (stated properties, not measurements)", ("max_error", "free_fraction"), [
    ("R2WiderR", "R2WiderR", 0.0, 0.5),
    ("R2DeeperR", "R2DeeperR", 0.0, 0.5),
    ("Net2WiderNet", "Net2WiderNet", 0.0, 0.0),
    ("Net2DeeperNet", "Net2DeeperNet", 0.0, 0.0),
], data=None)

# Section 5.2.1: "widening at step 4500 had the fastest training time, finishing in 136 seconds. Training the
# model from scratch (widen at step 0) took 44 seconds longer"; "both networks converge to ... around 0.7".
# relative_cost: wall time relative to widening at 0 (the report's measure; ours counts training FLOPs).
FIG5 = references("Fig. 5", ("accuracy", "relative_cost"), [
    ("quarter0", "Widen before update 0", 0.70, 1.0),
    ("quarter3", "Widen before update 4500 (3/4 of the run)", 0.70, 136 / 180),
], data="CIFAR10")

# Section 5.2.2: "By deepening after 4500 updates, the fastest network to be trained was 142 seconds, rather than
# the full 180 seconds to train the model from scratch."
FIG7 = references("Fig. 7", ("relative_cost",), [
    ("quarter0", "Deepen before update 0", 1.0),
    ("quarter3", "Deepen before update 4500 (3/4 of the run)", 142 / 180),
], data="CIFAR10")

# Section 5.2.1 on Fig. 6: "R2WiderR converges at around 3000 updates, whereas the randomly initialized model has
# only just reached the accuracy of the teacher network at 7000 updates." Fig. 8: "similar performance".
FIG6 = references("Fig. 6", ("updates_to_teacher", "updates_to_converge"), [
    ("r2r", "R2WiderR", None, 3000),
    ("scratch", "From scratch", 7000, None),
], data="CIFAR10")

TABLE1 = references("Table 1", ("test_accuracy",), [
    ("base", "Base network (sampled test set)", 0.70),
    ("ne_best", "NE (best model)", 0.74),
    ("coevolution_best", "NE (co-evolution selection, best model)", 0.72),
    ("coevolution_ensemble", "NE (co-evolution selection, ensemble)", 0.75),
], data="CIFAR10")

# The claims: margins in accuracy (a fraction, so 0.01 is one point), updates, parameters or output difference.
def _same(a: Value, b: Value) -> Value:
    """``a`` and ``b`` count the same correct evaluation images: margin, half an image less ``|a - b|``."""
    return lambda r: 0.5 / r.data["eval"] - abs(a(r) - b(r))


def _within(values: Sequence[Value], tol: float) -> Value:
    """All of ``values`` within ``tol`` of each other: margin ``tol - (max - min)``."""
    return lambda r: tol - (max(v(r) for v in values) - min(v(r) for v in values))


def _half_free(row: str) -> Value:
    """Exactly half of the transform's new parameters are free: margin, half a parameter less the miscount."""
    free, new = cell("preservation", "free_parameters")(row), cell("preservation", "new_parameters")(row)
    return lambda r: 0.5 - abs(free(r) - new(r) / 2)


def _before_transform(table: str) -> Callable[[str], Value]:
    """The evaluation accuracy of run ``row`` just before its transform (the teacher's, at the same step)."""
    def at(row: str) -> Value:
        step = cell(table, "at")(row)
        return lambda r: next(p["accuracy"] for p in r.curves[row] if p["step"] == step(r) and not p.get("transform"))
    return at


def _lowest(row: str) -> Value:
    """The lowest evaluation accuracy along run ``row``."""
    return lambda r: min(p["accuracy"] for p in r.curves[row])


def _updates_to_teacher(table: str) -> Callable[[str], Value]:
    """Updates until run ``row`` first reaches the teacher's accuracy; one that never does counts one past its end."""
    def at(row: str) -> Value:
        updates = cell(table, "updates_to_teacher")(row)
        return lambda r: r.config["recipes"]["student"]["steps"] + 1 if math.isnan(updates(r)) else updates(r)
    return at


def _schedule_claims(table: str, figure: str, verb: str, seconds: int, paper_accuracy: str) -> list[Claim]:
    """Figs. 5 and 7: later transforms are cheaper, cost no accuracy, and the transform itself changes none."""
    acc, cost = cell(table, "accuracy"), cell(table, "relative_cost")
    after, before = cell(table, "accuracy_after_transform"), _before_transform(table)
    return [
        Claim(f"the later the {verb}, the fewer the training FLOPs",
              f"{figure}: {verb} at 4500 takes {seconds} s, at 0 180 s",
              decreasing([cost(q) for q in ("quarter0", "quarter1", "quarter2", "quarter3")]), "relative cost",
              "cost_falls"),
        Claim(f"{verb} at 3/4 of the run ends at most 0.01 below {verb} at 0",
              f"{figure}: {paper_accuracy}", greater(acc("quarter3"), acc("quarter0"), by=-0.01),
              "accuracy", "late_no_loss"),
        Claim("right after the transform the student scores the teacher's accuracy",
              "Section 3: the transform preserves the function",
              all_of(*[_same(after(q), before(q)) for q in ("quarter1", "quarter2", "quarter3")]), "accuracy",
              "preserved"),
    ]


def _convergence_claims(table: str, figure: str, r2r: str, net2net: str, paper_close: str) -> list[Claim]:
    """Figs. 6 and 8: the preserving students start at the teacher, the network from scratch catches up later."""
    best_acc, after = cell(table, "best_accuracy"), cell(table, "accuracy_after_transform")
    reach, teacher = _updates_to_teacher(table), cell(table, "accuracy")("teacher")
    return [
        Claim(f"{r2r} and {net2net} start at the teacher's accuracy", "Section 3: the transforms preserve the function",
              all_of(_same(after("r2r"), teacher), _same(after("net2net"), teacher)), "accuracy", "preserved"),
        Claim("random padding starts below the teacher's accuracy", f"{figure}: random padding, the control",
              greater(teacher, after("random")), "accuracy", "random_below"),
        Claim(f"from scratch reaches the teacher's accuracy later than {r2r} and {net2net}",
              f"{figure}: from scratch only reaches the teacher at 7000 updates",
              all_of(greater(reach("scratch"), reach("r2r")), greater(reach("scratch"), reach("net2net"))), "updates",
              "head_start"),
        Claim("random padding reaches the teacher's accuracy before from scratch",
              f"{figure}: random padding converges significantly faster than from scratch",
              greater(reach("scratch"), reach("random")), "updates", "random_head_start"),
        Claim(f"the fresh optimiser first drops {r2r} below the teacher's accuracy",
              "not stated (App. C.3 prescribes a fresh optimiser)", greater(teacher, _lowest("r2r")), "accuracy",
              "adam_dip"),
        Claim("the four students' best accuracies lie within 0.02", paper_close,
              _within([best_acc(m) for m in ("r2r", "random", "net2net", "scratch")], 0.02), "accuracy",
              "close_end"),
    ]


_error, _error32 = cell("preservation", "max_error"), cell("preservation", "max_error_float32")
_free = cell("preservation", "free_parameters")
_PRESERVING = ("R2WiderR", "R2DeeperR", "Net2WiderNet", "Net2DeeperNet")
_test_acc, _parameters = cell("table1", "test_accuracy"), cell("table1", "parameters")

CLAIMS: dict[str, list[Claim]] = {
    "preservation": [
        Claim("every transform preserves the output to float64 rounding (< 1e-12)", "Section 3: exactly (error 0)",
              all_of(*[below(_error(t), 1e-12) for t in _PRESERVING]), "|f_s - f_t|", "exact64"),
        Claim("every transform preserves the output to float32 rounding (< 1e-5)", "Section 3: exactly (error 0)",
              all_of(*[below(_error32(t), 1e-5) for t in _PRESERVING]), "|f_s - f_t|", "exact32"),
        Claim("random padding changes the output (> 1e-3)", "Fig. 6: random padding, the non-preserving control",
              above(_error("Random padding"), 1e-3), "|f_s - f_t|", "random_moves"),
        Claim("R2R leaves exactly half of its new parameters free", "Section 3.4: K of 2K free",
              all_of(_half_free("R2WiderR"), _half_free("R2DeeperR")), "parameters", "r2r_half_free"),
        Claim("Net2Net leaves none of its new parameters free", "Section 3.4: zero degrees of freedom",
              all_of(below(_free("Net2WiderNet"), 0.5), below(_free("Net2DeeperNet"), 0.5)), "parameters",
              "net2net_none_free"),
    ],
    "widen_schedule": _schedule_claims("fig5", "Fig. 5", "widening", 136, "both converge to about 0.70"),
    "deepen_schedule": _schedule_claims("fig7", "Fig. 7", "deepening", 142,
                                        "the curves hug each other far more tightly"),
    "widen_convergence": _convergence_claims("fig6", "Fig. 6", "R2WiderR", "Net2WiderNet",
                                             "not stated (from scratch only reaches the teacher at 7000 updates)"),
    "deepen_convergence": _convergence_claims("fig8", "Fig. 8, as Fig. 6", "R2DeeperR", "Net2DeeperNet",
                                              "Fig. 8: similar performance to Fig. 6"),
    "neuroevolution": [
        Claim("NE's best model beats the base network", "Table 1: 0.74 vs 0.70",
              greater(_test_acc("ne_best"), _test_acc("base")), "accuracy", "ne_base"),
        Claim("co-evolution's best model beats the base network", "Table 1: 0.72 vs 0.70",
              greater(_test_acc("coevolution_best"), _test_acc("base")), "accuracy", "coevolution_base"),
        Claim("NE's best model beats co-evolution's", "Table 1: 0.74 vs 0.72",
              greater(_test_acc("ne_best"), _test_acc("coevolution_best")), "accuracy", "ne_coevolution"),
        Claim("the co-evolution ensemble beats its best member", "Table 1: 0.75 vs 0.72",
              greater(_test_acc("coevolution_ensemble"), _test_acc("coevolution_best")), "accuracy", "ensemble_member"),
        Claim("the co-evolution ensemble is the best row", "Table 1: 0.75, above 0.74, 0.72 and 0.70",
              best(_test_acc("coevolution_ensemble"), [_test_acc(r) for r in ("base", "ne_best", "coevolution_best")]),
              "accuracy", "ensemble_best"),
        Claim("both searches' picks are larger than the base network", "Section 4: R2R mutations only grow a network",
              all_of(greater(_parameters("ne_best"), _parameters("base")),
                     greater(_parameters("coevolution_best"), _parameters("base"))), "parameters", "grown"),
    ],
}
