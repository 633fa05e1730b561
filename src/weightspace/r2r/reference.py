"""The R2R report's printed numbers, each with its table, figure or section and row.

Accuracies are fractions (the report's scale). Figures 5-8 print no values;
the numbers below are the ones its text states about them.
"""

from weightspace.report import references

# Section 3 states these as properties of the transforms (exact preservation; R2R leaves half of its new
# parameters free, Net2Net none): the claims our measured errors and counted degrees of freedom are checked against.
PRESERVATION = references("Section 3 (stated properties, not measurements)", ("max_error", "free_fraction"), [
    ("R2WiderR", "R2WiderR", 0.0, 0.5),
    ("R2DeeperR", "R2DeeperR", 0.0, 0.5),
    ("Net2WiderNet", "Net2WiderNet", 0.0, 0.0),
    ("Net2DeeperNet", "Net2DeeperNet", 0.0, 0.0),
])

# Section 5.2.1: "widening at step 4500 had the fastest training time, finishing in 136 seconds. Training the
# model from scratch (widen at step 0) took 44 seconds longer"; "both networks converge to ... around 0.7".
# relative_cost: wall time relative to widening at 0 (the report's measure; ours counts training FLOPs).
FIG5 = references("Fig. 5", ("accuracy", "relative_cost"), [
    ("quarter0", "Widen before update 0", 0.70, 1.0),
    ("quarter3", "Widen before update 4500 (3/4 of the run)", 0.70, 136 / 180),
])

# Section 5.2.2: "By deepening after 4500 updates, the fastest network to be trained was 142 seconds, rather than
# the full 180 seconds to train the model from scratch."
FIG7 = references("Fig. 7", ("relative_cost",), [
    ("quarter0", "Deepen before update 0", 1.0),
    ("quarter3", "Deepen before update 4500 (3/4 of the run)", 142 / 180),
])

# Section 5.2.1 on Fig. 6: "R2WiderR converges at around 3000 updates, whereas the randomly initialized model has
# only just reached the accuracy of the teacher network at 7000 updates." Fig. 8: "similar performance".
FIG6 = references("Fig. 6", ("updates_to_teacher", "updates_to_converge"), [
    ("r2r", "R2WiderR", None, 3000),
    ("scratch", "From scratch", 7000, None),
])

TABLE1 = references("Table 1", ("test_accuracy",), [
    ("base", "Base network (sampled test set)", 0.70),
    ("ne_best", "NE (best model)", 0.74),
    ("coevolution_best", "NE (co-evolution selection, best model)", 0.72),
    ("coevolution_ensemble", "NE (co-evolution selection, ensemble)", 0.75),
])

# App. D, Table 2: training and neuroevolution settings used in all experiments.
APP_D = {"optimizer": "adam", "lr": 0.003, "weight_decay": 1e-6, "n_initial": 5000, "n_joint": 5000, "k": 3, "m": 10,
         "iterations": 15}
