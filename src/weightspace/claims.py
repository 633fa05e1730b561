"""Claims: the qualitative statements a page makes, checked over seeds.

A page that says "cross-filter permutation beats none" or "accuracy falls as d
shrinks" states it as a :class:`Claim`: a margin computed from a result that is
positive exactly when the statement holds. :func:`table` evaluates a page's claims
on seeds 0, 1 and 2 (this run for its own seed, the committed results for the
others) and shows, per claim, in how many seeds it holds and its margin as mean
± std. A claim that does not hold in every seed is marked as not resolved at
that profile, and the page must not make it.

Each paper's claims live beside its printed numbers, in
``weightspace.<paper>.reference.CLAIMS`` (a dict from section to claims).

Example::

    >>> acc = cell("table1", "metric")                      # reads tables["table1"][row]["metric"]
    >>> Claim("cross > none", "cross-filter is best", greater(acc("cross"), acc("none")), "points")
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from weightspace.results import Result

Value = Callable[[Result], float]
SEEDS: tuple[int, ...] = (0, 1, 2)


@dataclass(frozen=True)
class Claim:
    """A statement about a result, as a margin that is positive when it holds.

    Args:
        text: what is claimed of our run, as the page states it.
        paper: what the paper says (the claim's source).
        margin: ``margin(result) -> float``, ``> 0`` when the claim holds.
        unit: the margin's unit ("points", "dB", ...), for the table.
        key: a short name for prose (``claims.outcomes(result)[key].summary`` glued into the page).
    """

    text: str
    paper: str
    margin: Value
    unit: str = ""
    key: str = ""

    def holds(self, result: Result) -> bool:
        value = self.margin(result)
        return math.isfinite(value) and value > 0


def cell(table: str, metric: str, key: str = "row") -> Callable[[str], Value]:
    """``cell(table, metric)(row)``: reads ``result.tables[table]``'s record whose ``key`` is ``row``."""
    def at(row: str) -> Value:
        def read(result: Result) -> float:
            records = result.tables.get(table)
            if records is None:
                raise KeyError(f"{result.experiment} has no table {table!r}; its tables: {', '.join(result.tables)}")
            for rec in records:
                if rec.get(key) == row:
                    value = rec.get(metric)
                    return math.nan if value is None else float(value)
            raise KeyError(f"{result.experiment} table {table!r} has no {key} {row!r}; "
                           f"its {key}s: {', '.join(str(r.get(key)) for r in records)}")
        read.__name__ = f"{table}[{row}].{metric}"
        return read
    return at


def metric(name: str) -> Value:
    """Reads ``result.metrics[name]``."""
    def read(result: Result) -> float:
        if name not in result.metrics:
            raise KeyError(f"{result.experiment} has no metric {name!r}; its metrics: {', '.join(result.metrics)}")
        value = result.metrics[name]
        return math.nan if value is None else float(value)
    return read


def greater(a: Value, b: Value, by: float = 0.0) -> Value:
    """``a > b + by``: margin ``a - b - by``."""
    return lambda r: a(r) - b(r) - by


def below(a: Value, limit: float) -> Value:
    """``a < limit``: margin ``limit - a``."""
    return lambda r: limit - a(r)


def above(a: Value, limit: float) -> Value:
    """``a > limit``: margin ``a - limit``."""
    return lambda r: a(r) - limit


def close(a: Value, b: Value, tol: float) -> Value:
    """``|a - b| < tol``: margin ``tol - |a - b|``."""
    return lambda r: tol - abs(a(r) - b(r))


def best(a: Value, others: Sequence[Value]) -> Value:
    """``a`` above every one of ``others``: margin ``a - max(others)``."""
    return lambda r: a(r) - max(o(r) for o in others)


def lowest(a: Value, others: Sequence[Value]) -> Value:
    """``a`` below every one of ``others`` (an error, lower is better): margin ``min(others) - a``."""
    return lambda r: min(o(r) for o in others) - a(r)


def increasing(values: Sequence[Value]) -> Value:
    """Strictly increasing along ``values``: margin, the smallest step."""
    return lambda r: min(b(r) - a(r) for a, b in zip(values, values[1:]))


def decreasing(values: Sequence[Value]) -> Value:
    """Strictly decreasing along ``values``: margin, the smallest fall."""
    return lambda r: min(a(r) - b(r) for a, b in zip(values, values[1:]))


def all_of(*margins: Value) -> Value:
    """Every one holds: margin, the smallest."""
    return lambda r: min(m(r) for m in margins)


def claims_of(experiment: str) -> list[Claim]:
    """The claims declared for ``paper.section`` in ``weightspace.<paper>.reference.CLAIMS`` (``[]`` if none)."""
    paper, _, section = experiment.partition(".")
    module = importlib.import_module(f"weightspace.{paper}.reference")
    return list(getattr(module, "CLAIMS", {}).get(section, []))


def seed_results(result: Result, seeds: Sequence[int] = SEEDS) -> dict[int, Result | None]:
    """``result`` for its own seed, the stored result (current code and config) for each other seed, else ``None``."""
    return {seed: result if seed == result.seed else experiments_stored(result, seed) for seed in seeds}


@dataclass(frozen=True)
class Outcome:
    """A claim evaluated over seeds: the margins (``None`` where a seed has no stored result)."""

    claim: Claim
    margins: dict[int, float | None]

    @property
    def evaluated(self) -> list[float]:
        return [m for m in self.margins.values() if m is not None]

    @property
    def held(self) -> int:
        return sum(1 for m in self.evaluated if math.isfinite(m) and m > 0)

    @property
    def resolved(self) -> bool:
        """Holds in every seed, and every seed was run."""
        return bool(self.margins) and len(self.evaluated) == len(self.margins) and self.held == len(self.margins)

    @property
    def summary(self) -> str:
        """For prose: "holds in all 3 seeds" or "is not resolved by this profile (holds in 1 of 3 seeds)"."""
        n = len(self.evaluated)
        if self.resolved:
            return f"holds in all {n} seeds"
        return f"is not resolved by this profile (holds in {self.held} of {n} seeds)"


def listed(seeds: Sequence[int] = SEEDS, but: int | None = None) -> str:
    """Seeds as prose, ``"0, 1 and 2"``; ``but`` leaves one out (the run's own: ``listed(but=0)`` is ``"1 and 2"``).

    Example::

        >>> listed(), listed(but=1), listed([4])
        ('0, 1 and 2', '0 and 2', '4')
    """
    names = [str(s) for s in seeds if s != but]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def evaluate(claims: Sequence[Claim], results: dict[int, Result | None]) -> list[Outcome]:
    """Each claim's margin in each seed's result."""
    return [Outcome(c, {s: (None if r is None else c.margin(r)) for s, r in results.items()}) for c in claims]


def _mean_std(values: Sequence[float]) -> str:
    n = len(values)
    if n == 0:
        return "—"
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return f"{mean:+.3g} ± {std:.2g}"


def frame(outcomes: Sequence[Outcome]) -> pd.DataFrame:
    """One line per claim (the index): the paper | holds in k of n seeds | margin mean ± std | verdict."""
    rows = []
    for o in outcomes:
        n, missing = len(o.margins), [s for s, m in o.margins.items() if m is None]
        verdict = ("holds in every seed" if o.resolved else
                   f"seed {', '.join(map(str, missing))} not run" if missing else
                   "not resolved by this profile")
        rows.append({"claim (ours)": o.claim.text, "the paper": o.claim.paper,
                     "holds in": f"{o.held} of {n - len(missing)} seeds",
                     "margin (mean ± std)": f"{_mean_std(o.evaluated)} {o.claim.unit}".strip(),
                     "verdict": verdict})
    table = pd.DataFrame.from_records(rows, columns=["claim (ours)", "the paper", "holds in", "margin (mean ± std)",
                                                     "verdict"])
    return table.set_index("claim (ours)")


def table(result: Result, seeds: Sequence[int] = SEEDS) -> pd.DataFrame:
    """The claims of ``result``'s experiment over ``seeds`` (see :func:`frame`), for a page."""
    return frame(evaluate(claims_of(result.experiment), seed_results(result, seeds)))


def outcomes(result: Result, seeds: Sequence[int] = SEEDS) -> dict[str, Outcome]:
    """The claims of ``result``'s experiment evaluated over ``seeds``, by key (else text), for prose and glue."""
    return {o.claim.key or o.claim.text: o for o in evaluate(claims_of(result.experiment), seed_results(result, seeds))}


def verify(result: Result, seeds: Sequence[int] = SEEDS) -> tuple[list[str], list[str]]:
    """Check a recomputed ``result`` against the committed seeds' claims: (problems, notes); no problems: passed.

    For a machine whose digits differ from the committed ones (another CPU model, or
    kernels that cannot be pinned), a run there is one more draw of the quick
    profile's noise, like another seed. Each claim that holds in every committed seed
    must hold in ``result`` too (a problem where it does not); a margin outside the
    committed seeds' band, widened by its width on each side, is a note, not a
    failure: three seeds make a narrow band (identical seeds, as for a discrete
    outcome, one of width zero), which another draw leaves often.
    """
    problems, notes = [], []
    committed = {s: experiments_stored(result, s) for s in seeds}
    for outcome in evaluate(claims_of(result.experiment), committed):
        if not outcome.resolved:
            continue
        low, high = min(outcome.evaluated), max(outcome.evaluated)
        width = high - low
        margin = outcome.claim.margin(result)
        if not (math.isfinite(margin) and margin > 0):
            problems.append(f"{result.experiment}: {outcome.claim.text!r} fails here (margin {margin:+.3g}) but "
                            f"holds in every committed seed")
        elif not low - width <= margin <= high + width:
            notes.append(f"{result.experiment}: {outcome.claim.text!r} holds, margin {margin:+.3g}, outside the "
                         f"committed seeds' band [{low - width:+.3g}, {high + width:+.3g}]")
    return problems, notes


def experiments_stored(result: Result, seed: int) -> Result | None:
    """The committed result of ``result``'s experiment at ``seed`` (current code and config), else ``None``."""
    from weightspace import experiments

    return experiments.stored(result.experiment, result.profile, seed)
