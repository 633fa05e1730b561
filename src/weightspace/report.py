"""Presentation: paper-vs-ours comparison tables and the provenance table.

Reference values live in one module per paper (e.g.
:mod:`weightspace.neuron_embedding.reference`) as :class:`Reference` records, so a
comparison table is built from them and a :class:`~weightspace.results.Result`,
never typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from weightspace.results import Result, all_results, load_result
from weightspace.tables import TableContractError, check_references


@dataclass(frozen=True)
class Reference:
    """One number printed in a paper: where (``source``, ``row``), what (``metric``) and its ``value``."""

    source: str
    row: str
    metric: str
    value: float
    label: str = ""


def references(source: str, metrics: Sequence[str], rows: Sequence[tuple]) -> list[Reference]:
    """References for a printed table: ``rows`` of ``(row, label, value per metric...)``; ``None`` = not printed."""
    return [Reference(source, row, metric, value, label)
            for row, label, *values in rows
            for metric, value in zip(metrics, values, strict=True) if value is not None]


def printed(references: Sequence[Reference], row: str, metric: str) -> float:
    """The paper's printed value for ``row`` and ``metric`` among ``references``; a ``KeyError`` if absent."""
    for ref in references:
        if ref.row == row and ref.metric == metric:
            return ref.value
    raise KeyError(f"no printed value for row {row!r}, metric {metric!r}")


def lookup(result: Result | None, table: str, row: str, metric: str) -> tuple[float, str]:
    """``result.tables[table]``'s value of ``metric`` in ``row`` and the row's status; NaN (and why) where absent."""
    if result is None:
        return np.nan, ""
    for rec in result.tables.get(table, []):
        if rec.get("row") == row:
            value = rec.get(metric)
            return (np.nan if value is None else float(value)), rec.get("status", "")
    return np.nan, "not in this run"


def comparison_table(references: Sequence[Reference], result: Result, table: str,
                     full: Result | None | bool = True) -> pd.DataFrame:
    """Paper | full-profile result (if committed) | this run | difference, one line per reference value.

    ``full=True`` loads the committed ``results/full`` result of the same experiment
    (if any); pass a :class:`Result` or ``None`` to choose. The difference is
    this run minus the paper. A row this run could not compute says why in ``note``.
    """
    _check_rows(references, result, table)
    if full is True:
        full = load_result("full", result.experiment, result.seed) if result.profile != "full" else None
    records = []
    for ref in references:
        ours, note = lookup(result, table, ref.row, ref.metric)
        full_value, _ = lookup(full or None, table, ref.row, ref.metric)
        records.append({
            "source": ref.source, "row": ref.label or ref.row, "metric": ref.metric, "paper": ref.value,
            "full (ours)": full_value, f"this run ({result.profile})": ours, "difference": ours - ref.value,
            "note": note,
        })
    return pd.DataFrame.from_records(records)


def _check_rows(references: Sequence[Reference], result: Result, table: str) -> None:
    """Every reference names a row that ``table`` declares, for this run's config or the profile's default."""
    from weightspace import experiments

    declared = experiments.tables_of(result.experiment)
    if table not in declared:
        raise TableContractError(f"{result.experiment} declares no table {table!r}; its tables: "
                                 f"{', '.join(declared)}")
    configs = [experiments.config(result.experiment, result.profile)] + ([result.config] if result.config else [])
    check_references(result.experiment, table, declared[table], [ref.row for ref in references], configs)


def side_by_side(df: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """A comparison table pivoted to one line per paper row: for each metric, paper | full | this run | difference."""
    value_cols = [c for c in df.columns if c in ("paper", "full (ours)", "difference") or c.startswith("this run")]
    wide = df.pivot_table(index="row", columns="metric", values=value_cols, sort=False, dropna=False)
    wide = wide.swaplevel(0, 1, axis=1)
    metrics = list(dict.fromkeys(df["metric"]))
    wide = wide.reindex(columns=pd.MultiIndex.from_product([metrics, value_cols]))
    wide = wide.reindex(list(dict.fromkeys(df["row"])))
    wide.index.name, wide.columns.names = None, [None, None]
    return wide.round(digits).astype(object).map(_cell)


def _cell(value: object) -> object:
    """Print a missing value as a dash and a whole number (a count) without decimals."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 100:
        return int(value)
    return value


def provenance_table(results: Sequence[Result] | None = None) -> pd.DataFrame:
    """Every stored result with the facts needed to trust it."""
    rows = []
    for r in results if results is not None else all_results():
        p = r.provenance
        rows.append({"experiment": r.experiment, "profile": r.profile, "seed": r.seed, "data": r.data.get("split", ""),
                     "device": p.get("device"), "kernels": _kernels(p), "torch": p.get("torch"),
                     "commit": str(p.get("git_commit", ""))[:12],
                     "wall time (s)": p.get("wall_time_s"), "created": p.get("created"), "config hash": r.config_hash})
    return pd.DataFrame.from_records(rows)


def _kernels(provenance: dict) -> str:
    """The CPU kernels a result used and the CPU's native set, e.g. ``avx2 (native avx512)``."""
    isa = provenance.get("cpu_isa")
    return f"{isa['kernels']} (native {isa['native']})" if isa else "not recorded"


def claims_summary(results: Sequence[Result] | None = None) -> pd.DataFrame:
    """Every claim of every stored seed-0 quick result: experiment, claim, the paper, holds in k of 3, verdict."""
    from weightspace import claims

    frames = []
    for r in results if results is not None else all_results():
        if r.profile == "quick" and r.seed == 0 and claims.claims_of(r.experiment):
            frames.append(claims.table(r).reset_index().assign(experiment=r.experiment))
    if not frames:
        return pd.DataFrame(columns=["experiment", "claim (ours)", "holds in", "verdict"])
    table = pd.concat(frames, ignore_index=True)
    return table[["experiment", "claim (ours)", "the paper", "holds in", "verdict"]]


def stored_comparison(references: Sequence[Reference], experiment: str, table: str, profile: str = "full",
                      seed: int = 0) -> pd.DataFrame:
    """The paper beside the committed ``profile`` result of ``experiment``, a dash where none is committed.

    For pages of experiments that need data this machine lacks (e.g. ImageNet): nothing runs.
    """
    result = load_result(profile, experiment, seed) or Result(experiment, profile, seed, {}, "")
    return comparison_table(references, result, table, full=None).drop(columns=["full (ours)"])
