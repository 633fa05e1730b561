"""The R2R report's printed numbers, each with its table, figure or section and row, and the claims of its pages.

Accuracies are fractions (the report's scale; pages show them as percent). Figures 5-8 print no
values; the numbers below are the ones its text states about them, each a named constant so that pages
glue them rather than type them. :data:`CLAIMS` holds the qualitative statements each page makes of a
quick run, checked over seeds (:mod:`weightspace.claims`); their accuracy margins are in percentage points.
"""

import math
from typing import Callable, Sequence

from weightspace.claims import Claim, Value, above, all_of, below, best, cell, decreasing, greater
from weightspace.report import printed, references

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
WIDEN_LATE_S = 136  # wall time of the run widened before update 4500 (s)
WIDEN_EXTRA_S = 44  # how much longer the run widened at 0 (from scratch) took (s)
WIDEN_SCRATCH_S = WIDEN_LATE_S + WIDEN_EXTRA_S  # the run widened at 0 (s): 180
# Section 5.2.2: "By deepening after 4500 updates, the fastest network to be trained was 142 seconds, rather than
# the full 180 seconds to train the model from scratch."
DEEPEN_LATE_S = 142  # wall time of the run deepened before update 4500 (s)
DEEPEN_SCRATCH_S = 180  # the run deepened at 0 (s)
LATE_AT = 4500  # the report's last transform point, of its 6000 updates
CONVERGED_ACCURACY = 0.70  # Fig. 5: "both networks converge to ... around 0.7" (validation accuracy, CIFAR-10)

# relative_cost: wall time relative to transforming at 0 (the report's measure; ours counts training FLOPs).
FIG5 = references("Fig. 5", ("accuracy", "relative_cost"), [
    ("quarter0", "Widen before update 0", CONVERGED_ACCURACY, WIDEN_SCRATCH_S / WIDEN_SCRATCH_S),
    ("quarter3", f"Widen before update {LATE_AT} (3/4 of the run)", CONVERGED_ACCURACY,
     WIDEN_LATE_S / WIDEN_SCRATCH_S),
], data="CIFAR10")

FIG7 = references("Fig. 7", ("relative_cost",), [
    ("quarter0", "Deepen before update 0", DEEPEN_SCRATCH_S / DEEPEN_SCRATCH_S),
    ("quarter3", f"Deepen before update {LATE_AT} (3/4 of the run)", DEEPEN_LATE_S / DEEPEN_SCRATCH_S),
], data="CIFAR10")

# Section 5.2.1 on Fig. 6: "R2WiderR converges at around 3000 updates, whereas the randomly initialized model has
# only just reached the accuracy of the teacher network at 7000 updates." Fig. 8: "similar performance".
R2R_CONVERGE_UPDATES = 3000  # Fig. 6: updates until R2WiderR converges
SCRATCH_REACH_UPDATES = 7000  # Fig. 6: updates until the network from scratch reaches the teacher's accuracy
FIG6 = references("Fig. 6", ("updates_to_teacher", "updates_to_converge"), [
    ("r2r", "R2WiderR", None, R2R_CONVERGE_UPDATES),
    ("scratch", "From scratch", SCRATCH_REACH_UPDATES, None),
], data="CIFAR10")

TABLE1 = references("Table 1", ("test_accuracy",), [
    ("base", "Base network (sampled test set)", 0.70),
    ("ne_best", "NE (best model)", 0.74),
    ("coevolution_best", "NE (co-evolution selection, best model)", 0.72),
    ("coevolution_ensemble", "NE (co-evolution selection, ensemble)", 0.75),
], data="CIFAR10")


def _pct(row: str) -> str:
    """Table 1's printed accuracy of ``row`` as percent, for a claim's source: ``0.74`` -> ``"74%"``."""
    return f"{100 * printed(TABLE1, row, 'test_accuracy'):.0f}%"

# The claims' thresholds, named so that pages glue them: output differences, and accuracy in percentage points.
EXACT64 = 1e-12  # float64: every transform preserves the output below this
EXACT32 = 1e-5  # float32: the same below this (also the unit tests' tolerance)
RANDOM_MOVES = 1e-3  # random padding changes the output by more than this
LATE_LOSS_POINTS = 1  # transforming at 3/4 of the run ends at most this many points below transforming at 0
CLOSE_END_POINTS = 2  # the four students' best accuracies lie within this many points


def sci(x: float) -> str:
    """A threshold as the claims and pages write it: ``1e-05`` -> ``"1e-5"``."""
    return f"{x:.0e}".replace("e-0", "e-")


# The claims: margins in percentage points of accuracy, evaluation images, updates, parameters or output difference.
def _points(a: Value) -> Value:
    """An accuracy stored as a fraction, in percentage points."""
    return lambda r: 100 * a(r)


def _same(a: Value, b: Value) -> Value:
    """``a`` and ``b`` count the same correct evaluation images: margin (images), half an image less the gap."""
    return lambda r: 0.5 - round(abs(a(r) - b(r)) * r.data["eval"], 6)


def _within(values: Sequence[Value], tol: float) -> Value:
    """All of ``values`` (accuracies, fractions) within ``tol`` points of each other: margin ``tol - (max - min)``."""
    return lambda r: tol - 100 * (max(v(r) for v in values) - min(v(r) for v in values))


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


def _schedule_claims(table: str, figure: str, verb: str, late_s: int, scratch_s: int,
                     paper_accuracy: str) -> list[Claim]:
    """Figs. 5 and 7: later transforms are cheaper, cost no accuracy, and the transform itself changes none."""
    acc, cost = cell(table, "accuracy"), cell(table, "relative_cost")
    after, before = cell(table, "accuracy_after_transform"), _before_transform(table)
    return [
        Claim(f"the later the {verb}, the fewer the training FLOPs",
              f"{figure}: {verb} at {LATE_AT} takes {late_s} s, at 0 {scratch_s} s",
              decreasing([cost(q) for q in ("quarter0", "quarter1", "quarter2", "quarter3")]), "relative cost",
              "cost_falls"),
        Claim(f"{verb} at 3/4 of the run ends at most {LATE_LOSS_POINTS} point below {verb} at 0",
              f"{figure}: {paper_accuracy}",
              greater(_points(acc("quarter3")), _points(acc("quarter0")), by=-LATE_LOSS_POINTS),
              "points", "late_no_loss"),
        Claim("right after the transform the student scores the teacher's accuracy",
              "Section 3: the transform preserves the function",
              all_of(*[_same(after(q), before(q)) for q in ("quarter1", "quarter2", "quarter3")]), "images",
              "preserved"),
    ]


def _convergence_claims(table: str, figure: str, r2r: str, net2net: str, paper_close: str) -> list[Claim]:
    """Figs. 6 and 8: the preserving students start at the teacher, the network from scratch catches up later."""
    best_acc, after = cell(table, "best_accuracy"), cell(table, "accuracy_after_transform")
    reach, teacher = _updates_to_teacher(table), cell(table, "accuracy")("teacher")
    return [
        Claim(f"{r2r} and {net2net} start at the teacher's accuracy", "Section 3: the transforms preserve the function",
              all_of(_same(after("r2r"), teacher), _same(after("net2net"), teacher)), "images", "preserved"),
        Claim("random padding starts below the teacher's accuracy", f"{figure}: random padding, the control",
              greater(_points(teacher), _points(after("random"))), "points", "random_below"),
        Claim(f"from scratch reaches the teacher's accuracy later than {r2r} and {net2net}",
              f"{figure}: from scratch only reaches the teacher at {SCRATCH_REACH_UPDATES} updates",
              all_of(greater(reach("scratch"), reach("r2r")), greater(reach("scratch"), reach("net2net"))), "updates",
              "head_start"),
        Claim("random padding reaches the teacher's accuracy before from scratch",
              f"{figure}: random padding converges significantly faster than from scratch",
              greater(reach("scratch"), reach("random")), "updates", "random_head_start"),
        Claim(f"the fresh optimiser first drops {r2r} below the teacher's accuracy",
              "not stated (App. C.3 prescribes a fresh optimiser)", greater(_points(teacher), _points(_lowest("r2r"))),
              "points", "adam_dip"),
        Claim(f"the four students' best accuracies lie within {CLOSE_END_POINTS} points", paper_close,
              _within([best_acc(m) for m in ("r2r", "random", "net2net", "scratch")], CLOSE_END_POINTS), "points",
              "close_end"),
    ]


_error, _error32 = cell("preservation", "max_error"), cell("preservation", "max_error_float32")
_free = cell("preservation", "free_parameters")
_PRESERVING = ("R2WiderR", "R2DeeperR", "Net2WiderNet", "Net2DeeperNet")
_test_acc, _parameters = cell("table1", "test_accuracy"), cell("table1", "parameters")


def _test_points(row: str) -> Value:
    """Table 1's test accuracy of ``row`` in points."""
    return _points(_test_acc(row))


CLAIMS: dict[str, list[Claim]] = {
    "preservation": [
        Claim(f"every transform preserves the output to float64 rounding (< {sci(EXACT64)})",
              "Section 3: exactly (error 0)",
              all_of(*[below(_error(t), EXACT64) for t in _PRESERVING]), "|f_s - f_t|", "exact64"),
        Claim(f"every transform preserves the output to float32 rounding (< {sci(EXACT32)})",
              "Section 3: exactly (error 0)",
              all_of(*[below(_error32(t), EXACT32) for t in _PRESERVING]), "|f_s - f_t|", "exact32"),
        Claim(f"random padding changes the output (> {sci(RANDOM_MOVES)})",
              "Fig. 6: random padding, the non-preserving control",
              above(_error("Random padding"), RANDOM_MOVES), "|f_s - f_t|", "random_moves"),
        Claim("R2R leaves exactly half of its new parameters free", "Section 3.4: K of 2K free",
              all_of(_half_free("R2WiderR"), _half_free("R2DeeperR")), "parameters", "r2r_half_free"),
        Claim("Net2Net leaves none of its new parameters free", "Section 3.4: zero degrees of freedom",
              all_of(below(_free("Net2WiderNet"), 0.5), below(_free("Net2DeeperNet"), 0.5)), "parameters",
              "net2net_none_free"),
    ],
    "widen_schedule": _schedule_claims("fig5", "Fig. 5", "widening", WIDEN_LATE_S, WIDEN_SCRATCH_S,
                                       f"both converge to about {100 * CONVERGED_ACCURACY:.0f}%"),
    "deepen_schedule": _schedule_claims("fig7", "Fig. 7", "deepening", DEEPEN_LATE_S, DEEPEN_SCRATCH_S,
                                        "the curves hug each other far more tightly"),
    "widen_convergence": _convergence_claims("fig6", "Fig. 6", "R2WiderR", "Net2WiderNet",
                                             "not stated (from scratch only reaches the teacher at "
                                             f"{SCRATCH_REACH_UPDATES} updates)"),
    "deepen_convergence": _convergence_claims("fig8", "Fig. 8, as Fig. 6", "R2DeeperR", "Net2DeeperNet",
                                              "Fig. 8: similar performance to Fig. 6"),
    "neuroevolution": [
        Claim("NE's best model beats the base network", f"Table 1: {_pct('ne_best')} vs {_pct('base')}",
              greater(_test_points("ne_best"), _test_points("base")), "points", "ne_base"),
        Claim("co-evolution's best model beats the base network",
              f"Table 1: {_pct('coevolution_best')} vs {_pct('base')}",
              greater(_test_points("coevolution_best"), _test_points("base")), "points", "coevolution_base"),
        Claim("NE's best model beats co-evolution's", f"Table 1: {_pct('ne_best')} vs {_pct('coevolution_best')}",
              greater(_test_points("ne_best"), _test_points("coevolution_best")), "points", "ne_coevolution"),
        Claim("the co-evolution ensemble beats its best member",
              f"Table 1: {_pct('coevolution_ensemble')} vs {_pct('coevolution_best')}",
              greater(_test_points("coevolution_ensemble"), _test_points("coevolution_best")), "points",
              "ensemble_member"),
        Claim("the co-evolution ensemble is the best row",
              f"Table 1: {_pct('coevolution_ensemble')}, above {_pct('ne_best')}, {_pct('coevolution_best')} "
              f"and {_pct('base')}",
              best(_test_points("coevolution_ensemble"),
                   [_test_points(r) for r in ("base", "ne_best", "coevolution_best")]),
              "points", "ensemble_best"),
        Claim("both searches' picks are larger than the base network", "Section 4: R2R mutations only grow a network",
              all_of(greater(_parameters("ne_best"), _parameters("base")),
                     greater(_parameters("coevolution_best"), _parameters("base"))), "parameters", "grown"),
    ],
}
