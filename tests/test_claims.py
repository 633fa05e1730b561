"""Claims over seeds: a margin per seed, counted, summarised; a recomputation checked against the band."""

import pytest

from weightspace import claims
from weightspace.results import Result


def _result(seed: int, a: float, b: float) -> Result:
    return Result("toy.exp", "quick", seed, {}, "h", metrics={"a": a},
                  tables={"t": [{"row": "x", "acc": a}, {"row": "y", "acc": b}]})


ACC = claims.cell("t", "acc")
CLAIM = claims.Claim("x beats y", "Table 9: x > y", claims.greater(ACC("x"), ACC("y")), "points", key="x_y")


def test_a_claim_is_counted_over_seeds_and_marked_unresolved_unless_it_holds_in_all():
    seeds = {0: _result(0, 2.0, 1.0), 1: _result(1, 3.0, 1.0), 2: _result(2, 1.0, 1.5)}
    (outcome,) = claims.evaluate([CLAIM], seeds)
    assert outcome.margins == {0: 1.0, 1: 2.0, 2: -0.5}
    assert outcome.held == 2 and not outcome.resolved
    assert outcome.summary == "is not resolved by this profile (holds in 2 of 3 seeds)"
    row = claims.frame([outcome]).iloc[0]
    assert row["holds in"] == "2 of 3 seeds" and row["verdict"] == "not resolved by this profile"
    assert row["margin (mean ± std)"] == "+0.833 ± 1.3 points"


def test_a_claim_that_holds_in_every_seed_is_resolved_and_a_missing_seed_is_named():
    seeds = {0: _result(0, 2.0, 1.0), 1: _result(1, 3.0, 1.0), 2: _result(2, 4.0, 1.0)}
    (outcome,) = claims.evaluate([CLAIM], seeds)
    assert outcome.resolved and outcome.summary == "holds in all 3 seeds"
    (partial,) = claims.evaluate([CLAIM], {**seeds, 2: None})
    assert not partial.resolved and claims.frame([partial]).iloc[0]["verdict"] == "seed 2 not run"


def test_a_misspelled_row_fails_with_the_rows_there_are():
    with pytest.raises(KeyError, match=r"no row 'z'.*x, y"):
        ACC("z")(_result(0, 1.0, 2.0))


def test_combinators_state_their_margins():
    r = _result(0, 2.0, 1.0)
    assert claims.close(ACC("x"), ACC("y"), 1.5)(r) == 0.5
    assert claims.best(ACC("x"), [ACC("y")])(r) == 1.0
    assert claims.decreasing([ACC("x"), ACC("y")])(r) == 1.0 and claims.increasing([ACC("y"), ACC("x")])(r) == 1.0
    assert claims.above(claims.metric("a"), 1.5)(r) == 0.5 and claims.below(claims.metric("a"), 3.0)(r) == 1.0


def test_a_recomputation_is_checked_against_the_committed_seeds(monkeypatch):
    committed = {0: _result(0, 2.0, 1.0), 1: _result(1, 3.0, 1.0), 2: _result(2, 2.5, 1.0)}
    monkeypatch.setattr(claims, "claims_of", lambda name: [CLAIM])
    monkeypatch.setattr(claims, "experiments_stored", lambda result, seed: committed[seed])
    assert claims.verify(_result(0, 2.2, 1.0)) == ([], [])
    (flipped,), _ = claims.verify(_result(0, 0.5, 1.0))
    assert "fails here" in flipped
    problems, (outside,) = claims.verify(_result(0, 9.0, 1.0))  # holds, beyond the band: a note, not a failure
    assert problems == [] and "outside the committed seeds' band" in outside


def test_the_fallback_for_machines_the_pin_cannot_reach(monkeypatch, capsys):
    from weightspace import isa
    from weightspace.cli import main

    assert main(["kernels", "--pinnable"]) == (0 if isa.pinnable() else 3)
    monkeypatch.setattr(isa, "native", lambda: "aarch64")
    assert main(["kernels", "--pinnable"]) == 3
    assert "cannot apply" in capsys.readouterr().out
    monkeypatch.undo()
    monkeypatch.setenv("WEIGHTSPACE_VERIFY", "1")  # recompute seed 0, write nothing
    assert main(["claims", "r2r.preservation", "--recompute"]) == 0
    out = capsys.readouterr().out
    assert "every transform preserves the output to float64 rounding" in out and "3 of 3 seeds" in out
    assert main(["claims", "no_such_paper"]) == 2


def test_lowest_is_best_for_errors():
    r = _result(0, 2.0, 1.0)
    assert claims.lowest(ACC("y"), [ACC("x")])(r) == 1.0 and claims.lowest(ACC("x"), [ACC("y")])(r) == -1.0


def test_claims_names_are_those_of_a_sweep(capsys):
    from weightspace.cli import main

    assert main(["claims", "nern.imagenet"]) == 2
    assert "has no quick experiment with claims" in capsys.readouterr().err
    assert main(["claims", "r2r.preservation"]) == 0


def test_listed_names_the_seeds_as_prose():
    assert claims.listed() == "0, 1 and 2"
    assert claims.listed(but=0) == "1 and 2"
    assert claims.listed((3, 5), but=5) == "3"


@pytest.mark.parametrize("experiment, refs", [("dws.inr_classification", "MNIST_INR"),
                                              ("dws.fmnist_classification", "FASHION_MNIST_INR")])
def test_the_inr_classification_claims_hold_on_the_papers_own_table(experiment, refs):
    from weightspace.dws import reference

    printed = {r.row: r.value for r in getattr(reference, refs)}
    # DeepSets over neurons is our baseline only: at the MLP's value it can neither make nor break a claim
    rows = [{"row": m, "accuracy": printed.get(m, printed["mlp"])} for m in reference.METHODS]
    paper = Result(experiment, "full", 0, {}, "h", tables={"classification": rows})
    stated = claims.claims_of(experiment)
    assert [c.key for c in stated] == [c.key for c in claims.claims_of("dws.inr_classification")]
    assert all(c.holds(paper) for c in stated), [c.text for c in stated if not c.holds(paper)]
    assert stated[0].paper.endswith(f"{printed['dwsnet']:.2f} vs {printed['mlp']:.2f}")
