"""Declared result tables: the rows an experiment produces, one typed record per row.

An experiment module declares the tables it produces and the rows of each::

    @dataclass(frozen=True, kw_only=True)
    class ScheduleRow(Row):
        at: int
        accuracy: float

    TABLES = {"fig5": Table(ScheduleRow, rows=lambda cfg: [f"quarter{i}" for i in range(len(cfg["transform_at"]))])}

and its ``compute`` returns ``Outputs(tables={"fig5": [ScheduleRow(row="quarter0", at=0, accuracy=0.9), ...]})``.
:func:`conform` holds a run to the declaration (the tables, the record type of
every row, the row ids exactly) and turns the records into the plain dicts a
result file stores; :func:`check_stored` holds a stored result to it;
a paper's reference value naming a row the table does not declare is an error
(:func:`weightspace.report.comparison_table`), so a misspelled row id fails with
the names instead of showing an empty cell.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

RowIds = Callable[[dict[str, Any]], Sequence[str]]


class TableContractError(ValueError):
    """A run, a stored result or a reference that does not match the tables an experiment declares."""


@dataclass(frozen=True, kw_only=True)
class Row:
    """One row of a result table.

    Args:
        row: the id that the paper's reference values and the claims name.
        status: why a value of the row is missing (e.g. data not available here), else ``""``.
    """

    row: str
    status: str = ""


@dataclass(frozen=True)
class Table:
    """A table an experiment produces: its row record and the ids of its rows.

    Args:
        record: the dataclass of one row (a :class:`Row` when rows have ids).
        rows: the row ids a run of a config produces, as a sequence or a function of
            the config; ``None`` for a table of details without row ids.
    """

    record: type
    rows: Sequence[str] | RowIds | None = None

    def row_ids(self, cfg: dict[str, Any]) -> list[str] | None:
        """The ids of the rows a run of ``cfg`` produces (``None``: rows without ids)."""
        if self.rows is None:
            return None
        return list(self.rows(cfg) if callable(self.rows) else self.rows)

    def fields(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self.record)]


def _names(items: Sequence[str]) -> str:
    return ", ".join(map(repr, items)) or "none"


def _check_ids(where: str, table: Table, ids: list[str], cfg: dict[str, Any]) -> None:
    expected = table.row_ids(cfg)
    if expected is None:
        return
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    missing = [i for i in expected if i not in ids]
    unexpected = [i for i in ids if i not in expected]
    if repeated or missing or unexpected:
        raise TableContractError(f"{where}: rows do not match the declared rows {_names(expected)} "
                                 f"(missing {_names(missing)}; undeclared {_names(unexpected)}; "
                                 f"repeated {_names(repeated)})")


def _check_names(where: str, declared: Mapping[str, Table], produced: Mapping[str, Any]) -> None:
    missing, extra = sorted(set(declared) - set(produced)), sorted(set(produced) - set(declared))
    if missing or extra:
        raise TableContractError(f"{where}: tables do not match the declared {_names(sorted(declared))} "
                                 f"(missing {_names(missing)}; undeclared {_names(extra)})")


def conform(experiment: str, declared: Mapping[str, Table], produced: Mapping[str, Sequence[Any]],
            cfg: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The tables of a run as plain dicts, after checking them against ``declared``.

    Raises a :class:`TableContractError` naming the experiment, the table and the
    rows when a table is missing or undeclared, a row is not of the table's record
    type, or the row ids differ from the ids declared for ``cfg``.
    """
    _check_names(experiment, declared, produced)
    out = {}
    for name, records in produced.items():
        table, where = declared[name], f"{experiment} table {name!r}"
        wrong = sorted({type(r).__name__ for r in records if not isinstance(r, table.record)})
        if wrong:
            raise TableContractError(f"{where}: rows must be {table.record.__name__} records, got {', '.join(wrong)}")
        rows = [dataclasses.asdict(r) for r in records]
        _check_ids(where, table, [r["row"] for r in rows] if table.rows is not None else [], cfg)
        out[name] = rows
    return out


def check_stored(experiment: str, declared: Mapping[str, Table], stored: Mapping[str, Sequence[dict[str, Any]]],
                 cfg: dict[str, Any]) -> None:
    """Check a stored result's tables against ``declared``: the tables, every row's fields and the row ids."""
    _check_names(experiment, declared, stored)
    for name, rows in stored.items():
        table, where = declared[name], f"{experiment} table {name!r}"
        fields = table.fields()
        for row in rows:
            if not isinstance(row, dict) or sorted(row) != sorted(fields):
                got = sorted(row) if isinstance(row, dict) else type(row).__name__
                raise TableContractError(f"{where}: a row has fields {got}, not those of "
                                         f"{table.record.__name__} ({', '.join(fields)})")
        _check_ids(where, table, [r["row"] for r in rows] if table.rows is not None else [], cfg)


def check_references(experiment: str, name: str, table: Table, rows: Sequence[str],
                     configs: Sequence[dict[str, Any]]) -> None:
    """Every one of ``rows`` (the rows a paper's reference values name) is declared for one of ``configs``."""
    if table.rows is None:
        raise TableContractError(f"{experiment} table {name!r} has no row ids to compare with the paper's rows")
    known = {i for cfg in configs for i in table.row_ids(cfg) or []}
    unknown = [r for r in dict.fromkeys(rows) if r not in known]
    if unknown:
        raise TableContractError(f"the paper's rows {_names(unknown)} are not rows of {experiment} table {name!r}; "
                                 f"its rows: {_names(sorted(known))}")
