"""Presentation: paper-vs-ours comparison tables and the provenance table.

Reference values live in one module per paper (e.g.
:mod:`weightspace.neuron_embedding.reference`) as :class:`Reference` records, so a
comparison table is built from them and a :class:`~weightspace.results.Result`,
never typed by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import pandas as pd
from pandas.io.formats.style import Styler

from weightspace.results import (Result, all_results, code_version, load_result, project_root, read_result,
                                 results_dir)
from weightspace.tables import TableContractError, check_references


@dataclass(frozen=True)
class Reference:
    """One number printed in a paper: where (``source``, ``row``), what (``metric``) and its ``value``.

    ``data`` is the dataset the paper measured it on, as results name it (``"MNIST"``,
    ``"CIFAR10"``), or ``None`` for a property of the architecture or the method alone
    (a parameter count, an exactness), which any run of the paper's architecture measures;
    ``""`` (not stated) is never compared.
    """

    source: str
    row: str
    metric: str
    value: float
    label: str = ""
    data: str | None = ""


def references(source: str, metrics: Sequence[str], rows: Sequence[tuple], *, data: str | None) -> list[Reference]:
    """References for a printed table: ``rows`` of ``(row, label, value per metric...)``; ``None`` = not printed.

    ``data``: the dataset of the whole table (see :class:`Reference`).
    """
    return [Reference(source, row, metric, value, label, data)
            for row, label, *values in rows
            for metric, value in zip(metrics, values, strict=True) if value is not None]


def dataset_of(result: Result | None) -> str | None:
    """The dataset a result ran on, as its data description names it (``None``: none or several)."""
    if result is None:
        return None
    if "dataset" in result.data:
        return str(result.data["dataset"])
    datasets = result.data.get("datasets", {})
    return str(next(iter(datasets.values())).get("dataset")) if len(datasets) == 1 else None


def same_data(a: str | None, b: str | None) -> bool:
    """Two dataset names mean the same data (``"CIFAR-10"`` is ``"CIFAR10"``)."""
    def norm(name: str | None) -> str:
        return (name or "").replace("-", "").replace(" ", "").lower()
    return a is not None and b is not None and norm(a) == norm(b)


def comparable(ref: Reference, result: Result | None) -> bool:
    """``result`` measures what the paper measured for ``ref``: a difference between them means something.

    That is the paper's architecture and recipe (the full profile) on the paper's data, or, for
    a property of the architecture or method (``ref.data is None``), any run that computes it.
    """
    if result is None:
        return False
    return ref.data is None or (result.profile == "full" and same_data(dataset_of(result), ref.data))


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


def stale(result: Result) -> bool:
    """``result`` is older than the code or config its experiment has now (rerun it to trust it).

    A full result keeps the kernels of the machine that made it, so its cache key is not
    recomputed here: its code version, config and torch are compared instead.
    """
    from weightspace import experiments

    try:
        cfg = experiments.config(result.experiment, result.profile, **result.overrides)
    except (KeyError, ValueError):
        return True
    now = json.loads(json.dumps(cfg, default=str))
    return (result.provenance.get("code_version") != code_version(result.experiment) or result.config != now
            or result.provenance.get("torch") != torch.__version__)


def variants(profile: str, experiment: str, seed: int = 0) -> list[Result]:
    """The stored results of ``experiment`` run with overrides (``--set``: e.g. a subset of its rows)."""
    paper, _, section = experiment.partition(".")
    pattern = f"{section}{f'-seed{seed}' if seed else ''}-set*.json"
    return [read_result(path) for path in sorted((results_dir() / profile / paper).glob(pattern))]


ROWS_APART = frozenset({"neuron_embedding.table1", "neuron_embedding.table1_cifar10"})
"""Experiments whose rows run apart: each row trains its own model, seeded from the run's seed and the row's
place in the table, so a run of some rows gives those rows exactly as a run of all
(``tests/test_experiments.py`` checks it), and runs of its rows in parts join (:func:`join_rows`)."""


def join_rows(parts: Sequence[Result]) -> Result | None:
    """One result from runs of disjoint subsets of an experiment's rows (``--set rows=[...]`` each), or ``None``
    where they are not such runs.

    Sound only for an experiment of :data:`ROWS_APART`, and only where the parts agree on
    everything but ``rows``: experiment, profile, seed, their other overrides and the
    rest of the config, the data, the code version and torch. The machines may differ
    (another thread count, say): a row's number is its own run's, so ``provenance``'s
    ``device`` names each distinct one. Each row comes from the part that ran it; the
    joined ``rows`` keep the config's order, and where they are all its rows, ``rows`` is
    no longer an override. ``provenance`` sums the wall times, keeps the newest date and
    lists each part's own under ``parts``.
    """
    from weightspace import experiments

    def apart_from_rows(result: Result) -> tuple:
        return (result.experiment, result.profile, result.seed, result.data,
                {k: v for k, v in result.overrides.items() if k != "rows"},
                {k: v for k, v in result.config.items() if k != "rows"},
                [result.provenance.get(k) for k in ("code_version", "torch")])

    if (len(parts) < 2 or any("rows" not in p.overrides for p in parts) or parts[0].experiment not in ROWS_APART
            or any(apart_from_rows(p) != apart_from_rows(parts[0]) for p in parts)):
        return None
    first, owner = parts[0], {row: p for p in parts for row in p.config["rows"]}
    if len(owner) != sum(len(p.config["rows"]) for p in parts):
        return None  # a row ran twice
    overrides = {k: v for k, v in first.overrides.items() if k != "rows"}
    try:
        declared = list(experiments.config(first.experiment, first.profile, **overrides)["rows"])
    except (KeyError, ValueError):
        return None
    rows = [r for r in declared if r in owner] + [r for r in owner if r not in declared]
    tables = {name: [next(r for r in owner[rec["row"]].tables[name] if r.get("row") == rec["row"])
                     if rec.get("row") in owner else rec for rec in records]
              for name, records in first.tables.items()}
    metrics = {k: next((p.metrics[k] for p in parts if p.metrics.get(k) is not None), v)
               for k, v in first.metrics.items()}
    provenance = {**first.provenance, "wall_time_s": round(sum(p.provenance.get("wall_time_s") or 0 for p in parts), 2),
                  "created": max(p.provenance.get("created", "") for p in parts),
                  "git_commit": ", ".join(dict.fromkeys(p.provenance.get("git_commit", "?") for p in parts)),
                  "device": "; ".join(dict.fromkeys(p.provenance.get("device", "?") for p in parts)),
                  "parts": [{"rows": p.config["rows"], **p.provenance} for p in parts]}
    return Result(experiment=first.experiment, profile=first.profile, seed=first.seed,
                  config={**first.config, "rows": rows}, config_hash="+".join(p.config_hash for p in parts),
                  metrics=metrics, tables=tables, curves={k: v for p in parts for k, v in p.curves.items()},
                  data=first.data, provenance=provenance,
                  overrides={**overrides, **({} if rows == declared else {"rows": rows})})


def committed(profile: str, experiment: str, seed: int = 0) -> Result | None:
    """The stored ``profile`` result of ``experiment`` and ``seed`` that pages and the dashboard show.

    The default run where there is one; else the runs of its rows in parts, joined
    (:func:`join_rows`); else the one run with overrides (e.g. ``--set dataset=mnist``:
    its data and table say what ran). Several other runs with overrides are ambiguous,
    so none is shown.
    """
    found = load_result(profile, experiment, seed)
    if found is not None:
        return found
    others = variants(profile, experiment, seed)
    return join_rows(others) or (others[0] if len(others) == 1 else None)


def ran_where(result: Result) -> str:
    """What a stored run ran on, for a page or the dashboard: its data, device and wall time, the settings it was
    run with and the parts it was joined from, e.g. ``MNIST, <cpu>, 68 min (run with --set dataset=mnist)``."""
    p = result.provenance
    where = f"{dataset_of(result) or '?'}, {p.get('device', '?')}, {(p.get('wall_time_s') or 0) / 60:.0f} min"
    if result.overrides:
        where += f" (run with {', '.join(f'--set {k}={v}' for k, v in result.overrides.items())})"
    if "parts" in p:
        where += f" (in {len(p['parts'])} runs of its rows)"
    return where


def comparison_table(references: Sequence[Reference], result: Result, table: str,
                     full: Result | None | bool = True, cpu: Result | None | bool = True) -> pd.DataFrame:
    """Paper | full-profile result (if committed) | cpu-profile result | this run | difference, one line per
    reference value.

    ``full=True`` loads the committed ``results/full`` result of the same experiment
    (if any), ``cpu=True`` its committed ``results/cpu`` result (the CPU-scale tier, for an
    experiment that runs at it); pass a :class:`Result` or ``None`` to choose. The difference is ours
    minus the paper, and only where ours measures what the paper did (:func:`comparable`):
    the full result, or this run where it is itself comparable; elsewhere a quick run
    stands in for the paper's setting and no difference is shown. ``note`` says why a
    row is missing, or what ran in the paper's slot where another setting filled it.
    """
    _check_rows(references, result, table)
    full, cpu = (_committed(profile, given, result) for profile, given in (("full", full), ("cpu", cpu)))
    records = []
    for ref in references:
        ours, note = lookup(result, table, ref.row, ref.metric)
        full_value, _ = lookup(full, table, ref.row, ref.metric)
        cpu_value, _ = lookup(cpu, table, ref.row, ref.metric)
        for other, value in ((full, full_value), (cpu, cpu_value)):
            if other is not None and not np.isnan(value) and stale(other):
                note = "; ".join(filter(None, [note, f"the {other.profile} result is stale: its code changed since "
                                                     "(rerun it)"]))
        versus = result if comparable(ref, result) else full if comparable(ref, full) else None
        versus_value = ours if versus is result else full_value
        records.append({
            "source": ref.source, "row": ref.label or ref.row, "metric": ref.metric, "paper": ref.value,
            "full (ours)": full_value, "cpu (ours)": cpu_value, f"this run ({result.profile})": ours,
            "difference": versus_value - ref.value if versus is not None else np.nan,
            "note": note or _ran(result, table, ref.row),
        })
    return pd.DataFrame.from_records(records)


def _committed(profile: str, given: Result | None | bool, result: Result) -> Result | None:
    """The ``profile`` result a comparison shows beside ``result``: ``given``, or with ``True`` the committed
    one of the same experiment and seed (none where ``result`` is itself at ``profile`` or the experiment
    does not run there)."""
    from weightspace import experiments

    if given is not True:
        return given or None
    if result.profile == profile or profile not in experiments.profiles(result.experiment):
        return None
    return committed(profile, result.experiment, result.seed)


def _ran(result: Result, table: str, row: str) -> str:
    """What ran in a paper's slot, where a row records it (``ran``: another size or factor stood in)."""
    for rec in result.tables.get(table, []):
        if rec.get("row") == row and rec.get("ran"):
            return f"ran: {rec['ran']}"
    return ""


def stand_in(references: Sequence[Reference], result: Result, full: Result | None | bool = True,
             cpu: Result | None | bool = True) -> str:
    """A sentence or two under a comparison table: what this run measured beside what the paper did, what
    the committed full result (``full``, as :func:`comparison_table` takes it) ran where it is a run with
    overrides, and what the committed cpu result (``cpu``) ran."""
    datas = sorted({ref.data for ref in references if ref.data is not None})
    ours = result.data.get("split") or dataset_of(result) or "no dataset"
    if all(comparable(ref, result) for ref in references):
        text = f"This run ({result.profile}) measures what the paper did, on {ours}."
    else:
        paper = ", ".join(datas) if datas else "the paper's architectures"
        text = (f"This run ({result.profile} profile) stands in for the paper's setting ({paper}, the paper's "
                f"architecture and recipe) on {ours}, so it is shown beside the paper's value without a "
                f"difference; a difference appears only against a full-profile result on the paper's data.")
    full = _committed("full", full, result)
    if full is not None and full.overrides:
        settings = ", ".join(f"{k} = {v if isinstance(v, str) else json.dumps(v)}" for k, v in full.overrides.items())
        where = dataset_of(full) or "its data"
        compared = ("" if any(comparable(ref, full) for ref in references) else
                    ", not the paper's data, so it has no difference either")
        text += (f" The full-profile column is the paper's recipe run with the setting{'s' * (len(full.overrides) > 1)} "
                 f"{settings}, on {where}{compared}.")
    cpu = _committed("cpu", cpu, result)
    if cpu is not None:
        ran = list(dict.fromkeys(rec["ran"] for recs in cpu.tables.values() for rec in recs if rec.get("ran")))
        where = cpu.data.get("split") or dataset_of(cpu) or "its data"
        text += (f" The cpu column is our CPU-scale tier (seed {cpu.seed}) on {where}"
                 + (f", its rows run at {'; '.join(ran)}" if ran else "") + ", so it has no difference either.")
    return text


def _check_rows(references: Sequence[Reference], result: Result, table: str) -> None:
    """Every reference names a row that ``table`` declares, for this run's config or the profile's default."""
    from weightspace import experiments

    declared = experiments.tables_of(result.experiment)
    if table not in declared:
        raise TableContractError(f"{result.experiment} declares no table {table!r}; its tables: "
                                 f"{', '.join(declared)}")
    configs = [experiments.config(result.experiment, result.profile)] + ([result.config] if result.config else [])
    check_references(result.experiment, table, declared[table], [ref.row for ref in references], configs)


def side_by_side(df: pd.DataFrame, digits: int | Mapping[str, int] = 2, percent: Sequence[str] = ()) -> Styler:
    """A comparison table pivoted to one line per paper row, styled for the book.

    For each metric: paper | full (ours) | cpu (ours) | this run | difference, less any column with
    no value at all (no full or cpu result committed, no comparable run). Headers are words,
    ``percent`` metrics (accuracies stored as fractions) are shown ×100, every number
    has ``digits`` decimals (a mapping gives them per metric, e.g. ``{"updates": 0}``; counts of
    100 or more have none), a missing value is a dash, and there is no
    index column. The table's HTML id is fixed by its content, so re-running a
    notebook reproduces its output byte for byte.
    """
    value_cols = [c for c in df.columns if c in ("paper", "full (ours)", "cpu (ours)", "difference")
                  or c.startswith("this run")]
    scaled = df.copy()
    for col in value_cols:
        scaled[col] = [v * 100.0 if m in percent else v for v, m in zip(scaled[col], scaled["metric"])]
    wide = scaled.pivot_table(index="row", columns="metric", values=value_cols, sort=False, dropna=False)
    wide = wide.swaplevel(0, 1, axis=1)
    metrics = list(dict.fromkeys(df["metric"]))
    wide = wide.reindex(columns=pd.MultiIndex.from_product([metrics, value_cols]))
    wide = wide.reindex(list(dict.fromkeys(df["row"])))
    wide = wide.loc[:, wide.notna().any(axis=0)]
    notes = df.groupby("row", sort=False)["note"].agg(lambda s: "; ".join(dict.fromkeys(n for n in s if n)))
    if notes.str.len().any():
        wide[("", "note")] = notes.reindex(wide.index).fillna("")
    wide = wide.reset_index(names=[("", "row")])
    metric_of = [m for m, _ in wide.columns]
    wide.columns = pd.MultiIndex.from_tuples([(header(m, m in percent), c) for m, c in wide.columns])
    uid = hashlib.sha256(wide.to_json().encode()).hexdigest()[:10]
    styler = wide.style.set_uuid(f"cmp{uid}").hide(axis="index")
    return styler.format({col: (lambda v, d=_digits(digits, m): _cell(v, d)) for col, m in zip(wide.columns, metric_of)})


def _digits(digits: int | Mapping[str, int], metric: str) -> int:
    """The decimals of ``metric``: ``digits`` itself, or its entry (default 2) where it is a mapping."""
    return digits if isinstance(digits, int) else digits.get(metric, 2)


def table(df: pd.DataFrame, digits: int = 2, percent: Sequence[str] = (), index: bool = False) -> Styler:
    """Any other table of a page, styled as :func:`side_by_side`: word headers, ``percent`` columns
    (fractions) ×100, ``digits`` decimals, dashes for missing values, no index column (``index=True``
    keeps a meaningful one as the first column) and a fixed HTML id."""
    shown = (df.reset_index() if index else df).copy()
    for col in percent:
        shown[col] = shown[col] * 100.0
    shown.columns = [header(c, c in percent) for c in shown.columns]
    uid = hashlib.sha256(shown.to_json().encode()).hexdigest()[:10]
    return shown.style.set_uuid(f"tab{uid}").hide(axis="index").format(lambda v: _cell(v, digits))


_HEADERS = {"mse": "MSE", "mb": "(MB)", "pct": "(%)", "acc": "accuracy", "top1": "top-1", "top5": "top-5",
            "max": "largest", "fc": "FC", "kd": "KD", "psnr": "PSNR", "tsne": "t-SNE", "inr": "INR"}


def header(name: str, percent: bool = False) -> str:
    """A column name for people: ``predictor_mb`` -> ``predictor (MB)``, ``crossover_50`` -> ``crossover 50``."""
    words = [_HEADERS.get(w, w) for w in str(name).split("_")]
    text = " ".join(words)
    return f"{text} (%)" if percent and not text.endswith("(%)") else text


def over_seeds(values: Sequence[float]) -> str:
    """Values of one quantity over seeds as ``mean ± std (n seeds)``, one seed as ``value (1 seed)``; a dash for none."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.2f} (1 seed)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} ({len(values)} seeds)"


def _cell(value: object, digits: int) -> str:
    """A missing value as a dash, a whole number of 100 or more (a count) without decimals, else ``digits``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


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
    result = committed(profile, experiment, seed) or Result(experiment, profile, seed, {}, "")
    return comparison_table(references, result, table, full=None, cpu=None).drop(columns=["full (ours)", "cpu (ours)"])


def notebooks() -> dict[str, list[str]]:
    """Each notebook of this checkout (path from the project root) -> the experiments it runs, in page order.

    Empty where the library is installed without its notebooks.
    """
    found: dict[str, list[str]] = {}
    for path in sorted((project_root() / "notebooks").glob("*/*.ipynb")):
        names = re.findall(r'experiments\.run\(\\"([a-z_0-9]+\.[a-z_0-9]+)\\"', path.read_text())
        found[str(path.relative_to(project_root()))] = list(dict.fromkeys(names))
    return found


def execution_table() -> pd.DataFrame:
    """Every paper notebook: its last execution (papermill's metadata: status, seconds, when) and the compute
    time of the experiments it shows (the stored seed-0 results' provenance, quick and full)."""
    rows = []
    for page, names in notebooks().items():
        meta = json.loads((project_root() / page).read_text()).get("metadata", {}).get("papermill", {})
        status = ("not executed by papermill" if not meta else
                  f"failed: {meta['exception']}" if meta.get("exception") else "ok")
        compute = {}
        for profile in ("quick", "full"):
            stored = [r for n in names if (r := load_result(profile, n, 0)) is not None]
            compute[profile] = sum(r.provenance.get("wall_time_s") or 0.0 for r in stored) if stored else None
        rows.append({"notebook": page.removeprefix("notebooks/"), "experiments": ", ".join(names) or "—",
                     "status": status, "notebook run (s)": meta.get("duration"),
                     "last run": str(meta.get("end_time", ""))[:16].replace("T", " ") or "—",
                     "quick compute (s)": compute["quick"], "full compute (s)": compute["full"]})
    return pd.DataFrame.from_records(rows)
