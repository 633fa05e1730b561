"""Benchmarks: the library's hot paths timed against an in-project baseline, interleaved.

Each paper package may define ``bench.py`` with ``CASES``, a list of :class:`Case`:
what is timed (``ours``), the slower way it replaces (``baseline``: a brute-force
loop, one network at a time, ...), both on inputs built once by ``setup``, and the
target the project holds it to (a ratio ours / baseline, an absolute time, a
rate). :func:`run` times every case on one thread by default (figures per core),
ours and the baseline each in its own fresh Python process, the processes in
turn, three times by default (:func:`sample_sides_apart`). Two things make this
necessary: a step that shares a process with another allocates into the heap the
other left, which can cost it (the authors' NeRN step ran up to 1.5 times slower
beside ours than alone here), and within one process the timed calls agree to a
few per cent while one process can run a case up to a quarter faster or slower
than the next, so a process is one draw. It reports medians over every timed
call of wall time and of the thread's CPU time, the ratio, its range over the
process pairs and whether each target is met. Targets are judged on CPU time, which a machine shared with
other work does not inflate (on one thread it is the time the computation took); :func:`save` writes
``results/bench/<device>.json``. ``python -m weightspace bench`` and ``make bench``
run it; it is not part of ``make test`` (a benchmark, not a timed test).
"""

from __future__ import annotations

import importlib
import json
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import torch

from weightspace import isa
from weightspace.results import _cpu_model, device_name, git_commit, results_dir

PAPERS = ("neuron_embedding", "nern", "dws", "r2r")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Case:
    """One benchmark: ``ours`` and its ``baseline`` on the inputs that ``setup`` builds.

    Args:
        name: a short id, ``<paper>.<what>`` (e.g. ``nern.cross_filter_order_resnet56``).
        what: one line for people.
        setup: builds the inputs once (not timed); both callables receive them.
        ours: the library's way.
        baseline: the in-project way it is compared with (``None``: an absolute target only).
        baseline_name: what the baseline is.
        max_ratio: the target ``ours / baseline`` time, if any.
        max_seconds: the target time of ``ours``, if any.
        items: how many things one call of ``ours`` processes (INRs, kernels), for a rate.
        unit: the rate's unit (``"INRs/s"``).
        min_rate: the target rate, if any.
        repeats: timed calls of each (after ``warmup`` untimed calls).
        warmup: untimed calls of each before the timed ones.
        device: where the case computes. A ``"cuda"`` case runs only where torch sees a
            GPU (elsewhere it is skipped and the report lists it) and is timed by the wall
            clock around a synchronised call, since the thread's CPU time leaves out the
            GPU's work; its "CPU s" figures are those wall times.
    """

    name: str
    what: str
    setup: Callable[[], Any]
    ours: Callable[[Any], Any]
    baseline: Callable[[Any], Any] | None = None
    baseline_name: str = ""
    max_ratio: float | None = None
    max_seconds: float | None = None
    items: float | None = None
    unit: str = ""
    min_rate: float | None = None
    repeats: int = 3
    warmup: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"benchmark {self.name}: unknown device {self.device!r}: "
                             f"choose one of {', '.join(DEVICES)}")


@dataclass
class Timing:
    """The measured medians of one case and whether its targets are met."""

    name: str
    what: str
    ours_s: float
    baseline_s: float | None
    ours_cpu_s: float
    baseline_cpu_s: float | None
    baseline_name: str
    ratio: float | None
    rate: float | None
    unit: str
    targets: list[str] = field(default_factory=list)
    met: bool = True
    processes: int = 1
    ratio_range: list[float] | None = None  # the lowest and highest ratio of one process's medians


def cases(papers: Sequence[str] = PAPERS) -> list[Case]:
    """Every paper's ``CASES`` (its ``weightspace.<paper>.bench`` module, where it has one)."""
    found: list[Case] = []
    for paper in papers:
        try:
            module = importlib.import_module(f"weightspace.{paper}.bench")
        except ModuleNotFoundError as err:
            if err.name == f"weightspace.{paper}":
                raise KeyError(f"unknown paper {paper!r}: choose from {', '.join(PAPERS)}") from err
            if err.name != f"weightspace.{paper}.bench":
                raise
            continue  # a paper without benchmarks
        found += module.CASES
    return found


def _time_once(fn: Callable[[Any], Any], inputs: Any, device: str = "cpu") -> tuple[float, float]:
    """Wall time and this thread's CPU time of one call (on a GPU: the wall time of a synchronised call, twice)."""
    if device == "cuda":
        torch.cuda.synchronize()
        wall = time.perf_counter()
        fn(inputs)
        torch.cuda.synchronize()
        wall = time.perf_counter() - wall
        return wall, wall
    wall, cpu = time.perf_counter(), time.thread_time()
    fn(inputs)
    return time.perf_counter() - wall, time.thread_time() - cpu


def available(case: Case) -> bool:
    """Whether this machine has the case's device."""
    return case.device == "cpu" or (case.device == "cuda" and torch.cuda.is_available())


Samples = tuple[list[tuple[float, float]], list[tuple[float, float]]]
"""One process's timed calls: (wall, CPU) seconds of each call of ours and of the baseline."""


SIDES = ("both", "ours", "baseline")


def sample(case: Case, side: str = "both") -> Samples:
    """Time ``case`` here: ``warmup`` untimed calls of each side, then ``repeats`` timed calls, alternating.

    ``side`` ``"ours"`` or ``"baseline"`` times that one alone (the other's list stays empty).
    """
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}: choose one of {', '.join(SIDES)}")
    inputs = case.setup()
    calls = {"ours": case.ours, "baseline": case.baseline}
    chosen = [name for name, fn in calls.items() if fn is not None and side in (name, "both")]
    timed: dict[str, list[tuple[float, float]]] = {"ours": [], "baseline": []}
    for _ in range(case.warmup):
        for name in chosen:
            calls[name](inputs)
    for _ in range(case.repeats):
        for name in chosen:
            timed[name].append(_time_once(calls[name], inputs, case.device))
    return timed["ours"], timed["baseline"]


def sample_apart(name: str, threads: int, side: str = "both") -> Samples:
    """:func:`sample` one ``side`` of the case ``name`` on ``threads`` threads in a fresh Python process.

    The child (``python -m weightspace bench --one NAME --side SIDE``) chooses the CPU
    kernels as the CLI does, times the case and prints its samples as JSON, so the
    case finds the allocator, caches and thread pool as a run of that workload alone
    would, not as the cases before it (or the other side) left them.
    """
    command = [sys.executable, "-m", "weightspace", "bench", "--one", name, "--side", side, "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark {name} failed in its own process (exit {done.returncode}): "
                           f"{done.stderr.strip()[-2000:] or 'no output'}")
    ours, base = json.loads(lines[-1])
    return [tuple(t) for t in ours], [tuple(t) for t in base]


def sample_sides_apart(case: Case, threads: int) -> Samples:
    """Ours in one fresh process, then the baseline in another (:func:`sample_apart`): neither runs beside
    the other, and the two alternate in time when called in turn."""
    ours, _ = sample_apart(case.name, threads, "ours")
    base = sample_apart(case.name, threads, "baseline")[1] if case.baseline is not None else []
    return ours, base


def judge(case: Case, runs: Sequence[Samples]) -> Timing:
    """The :class:`Timing` of ``case`` from the samples of one or more processes: medians over every timed call.

    The ratio, rate and targets use CPU time (see the module docstring); wall times are reported beside.
    """
    ours = [t for run_ in runs for t in run_[0]]
    base = [t for run_ in runs for t in run_[1]]
    ours_s, ours_cpu = (statistics.median(t) for t in zip(*ours))
    base_s, base_cpu = (statistics.median(t) for t in zip(*base)) if base else (None, None)
    ratio = ours_cpu / base_cpu if base_cpu else None
    per_process = [statistics.median(c for _, c in o) / statistics.median(c for _, c in b) for o, b in runs if b]
    rate = case.items / ours_cpu if case.items else None
    targets, met = [], True
    if case.max_ratio is not None:
        targets.append(f"ours/baseline <= {case.max_ratio:g}")
        met &= ratio is not None and ratio <= case.max_ratio
    if case.max_seconds is not None:
        targets.append(f"ours <= {case.max_seconds:g} s")
        met &= ours_cpu <= case.max_seconds
    if case.min_rate is not None:
        targets.append(f">= {case.min_rate:g} {case.unit}")
        met &= rate is not None and rate >= case.min_rate
    return Timing(case.name, case.what, ours_s, base_s, ours_cpu, base_cpu, case.baseline_name, ratio, rate,
                  case.unit, targets, met, len(runs), [min(per_process), max(per_process)] if per_process else None)


def find(name: str, papers: Sequence[str] = PAPERS) -> Case:
    """The case called exactly ``name``; a :class:`KeyError` lists the cases where there is none."""
    found = cases(papers)
    for case in found:
        if case.name == name:
            return case
    raise KeyError(f"no benchmark is called {name}; cases: {', '.join(c.name for c in found)}")


def run(papers: Sequence[str] = PAPERS, names: Sequence[str] = (), threads: int | None = 1,
        progress: Callable[[Timing], None] | None = None, processes: int = 3) -> dict[str, Any]:
    """Measure every case of ``papers`` (only those whose name contains one of ``names``, if given).

    Runs on ``threads`` intra-op threads (1: figures per core; ``None``: torch's
    default), each case ``processes`` times, ours and the baseline each in a fresh
    process, in turn (:func:`sample_sides_apart`; 0: once, both sides alternating in
    this process), and returns the report
    :func:`save` writes: the device, torch, the CPU kernels, the commit, the processes
    per case and one :class:`Timing` per case.
    """
    if processes < 0:
        raise ValueError(f"processes = {processes}: give 0 (this process) or a positive number of fresh ones")
    chosen = [c for c in cases(papers) if not names or any(n in c.name for n in names)]
    if not chosen:
        raise KeyError(f"no benchmark matches {', '.join(names)}; cases: {', '.join(c.name for c in cases(papers))}")
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    ready = [c for c in chosen if available(c)]
    try:
        timings = []
        for case in ready:
            runs = ([sample_sides_apart(case, torch.get_num_threads()) for _ in range(processes)] if processes
                    else [sample(case)])
            timings.append(judge(case, runs))
            if progress is not None:
                progress(timings[-1])
        device = device_name("cpu")
    finally:
        torch.set_num_threads(before)
    return {"device": device, "cpu": _cpu_model(), "threads": threads or before, "torch": torch.__version__,
            "cpu_isa": {"native": isa.native(), "kernels": isa.kernels()}, "git_commit": git_commit(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "gpu": torch.cuda.get_device_name() if any(c.device == "cuda" for c in ready) else None,
            "processes": processes or "this one", "cases": [asdict(t) for t in timings],
            "skipped": [c.name for c in chosen if c not in ready]}


def device_slug(report: dict[str, Any]) -> str:
    """A file name for the machine of ``report``: its CPU model, kernels and GPU if one was timed, e.g.
    ``amd-epyc-7b13-avx2``."""
    name = f"{report['cpu']} {report['cpu_isa']['kernels']} {report.get('gpu') or ''}"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "cpu"


def save(report: dict[str, Any], folder: Path | None = None) -> Path:
    """Write ``report`` to ``<folder or results/bench>/<device>.json`` (replacing that machine's last one)."""
    folder = folder or results_dir() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{device_slug(report)}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    tmp.chmod(0o644)
    tmp.replace(path)
    return path


def line(t: Timing | dict[str, Any]) -> str:
    """One printed line of a timing: ours, the baseline, the ratio, the rate and the verdict."""
    t = t if isinstance(t, dict) else asdict(t)
    parts = [f"{t['name']:42s} ours {t['ours_cpu_s']:8.3f} s CPU ({t['ours_s']:.3f} wall)"]
    if t["baseline_s"] is not None:
        spread = (f" ({t['ratio_range'][0]:.3f}-{t['ratio_range'][1]:.3f} over {t['processes']} processes)"
                  if t.get("ratio_range") and t["processes"] > 1 else "")
        parts.append(f"{t['baseline_name']} {t['baseline_cpu_s']:8.3f} s CPU ({t['baseline_s']:.3f} wall)  "
                     f"ratio {t['ratio']:.3f}{spread}")
    if t["rate"] is not None:
        parts.append(f"{t['rate']:.2f} {t['unit']}")
    if t["targets"]:
        parts.append(f"[{'met' if t['met'] else 'NOT met'}: {'; '.join(t['targets'])}]")
    return "  ".join(parts)


def stored(folder: Path | None = None) -> list[dict[str, Any]]:
    """Every committed report (``results/bench/*.json``), one per machine, by file name."""
    folder = folder or results_dir() / "bench"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def frame(report: dict[str, Any]) -> pd.DataFrame:
    """One report as a table: case, what, ours and the baseline (CPU s), ratio, rate, targets, verdict."""
    rows = []
    for t in report["cases"]:
        rows.append({"case": t["name"], "what": t["what"], "ours (CPU s)": t["ours_cpu_s"],
                     "baseline": t["baseline_name"] or "—", "baseline (CPU s)": t["baseline_cpu_s"],
                     "ours / baseline": t["ratio"],
                     "range over processes": (f"{t['ratio_range'][0]:.3f}-{t['ratio_range'][1]:.3f} "
                                              f"({t['processes']})" if t.get("ratio_range") else "—"),
                     "rate": f"{t['rate']:.2f} {t['unit']}" if t["rate"] else "—",
                     "target": "; ".join(t["targets"]) or "—",
                     "met": "—" if not t["targets"] else "met" if t["met"] else "NOT met"})
    return pd.DataFrame.from_records(rows)
