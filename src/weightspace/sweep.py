"""Seed and experiment grids: each (experiment, seed) of a sweep run once, on Ray or in this process.

``python -m weightspace sweep nern --seeds 0-2`` expands its targets (an
experiment, a paper or ``all``) into (experiment, seed) tasks. It skips the
experiments that do not run at the profile (a module's ``PROFILES``, see
:func:`~weightspace.experiments.profiles`) and the tasks whose stored result
matches the current code and config, so a rerun resumes an interrupted sweep.
It runs the rest:

- ``backend="ray"``: one Ray task each, on the cluster at ``address`` (else
  ``$RAY_ADDRESS``, else a local one started here). A task takes one CPU, and
  one GPU on a CUDA device; at the quick profile it computes on one thread. A
  task whose worker dies is retried. Tasks only compute and return the result's
  JSON: this process (the driver) writes each result atomically as it arrives,
  so workers need no shared disk.
- ``backend="serial"``: the same tasks one after another in this process.

A task that fails is reported with its experiment, seed and error while the
others finish. :func:`summary` tabulates each numeric metric over the seeds.

Example::

    >>> report = sweep(["r2r"], [1, 2], profile="quick", backend="ray")
    >>> print(summary(report.results))
"""

from __future__ import annotations

import os
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from weightspace import experiments, isa
from weightspace.profiles import PINNED_PROFILES, check_profile
from weightspace.results import Result, save_result, verifying

BACKENDS: tuple[str, ...] = ("ray", "serial")
# How often Ray reruns a task whose worker process died (a task that raises is reported, not retried).
MAX_RETRIES = 2


@dataclass(frozen=True)
class Task:
    """One run of a sweep: an experiment at a seed."""

    experiment: str
    seed: int

    @property
    def paper(self) -> str:
        return self.experiment.split(".")[0]

    def __str__(self) -> str:
        return f"{self.experiment} seed {self.seed}"


@dataclass(frozen=True)
class Failure:
    """A task that raised, or whose worker kept dying: its error as ``Type: message``."""

    task: Task
    error: str


@dataclass
class SweepReport:
    """What a sweep did: the results it computed, those it found stored, its failures and skipped experiments."""

    computed: list[Result] = field(default_factory=list)
    stored: list[Result] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[Result]:
        """Every result of the grid, stored or computed now."""
        return self.stored + self.computed


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"3"``, ``"1,2"``, ``"0-2"`` (inclusive) or a mix such as ``"0-2,5"``, in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError(f"bad seeds {text!r}: give a seed (3), a list (1,2) or a range (0-2)") from None
        if low > high:
            raise ValueError(f"bad seed range {part.strip()!r}: its first seed is above its last")
        seeds += [s for s in range(low, high + 1) if s not in seeds]
    return seeds


def expand(targets: Iterable[str]) -> list[str]:
    """The experiments that ``targets`` name: experiments (``nern.cifar10``), papers (``nern``) or ``all``.

    An unknown target raises a ``KeyError`` that lists the papers and experiments.
    """
    known = experiments.names()
    papers = sorted({name.split(".")[0] for name in known})
    chosen: list[str] = []
    for target in targets:
        if target == "all":
            found = known
        elif target in known:
            found = [target]
        elif target in papers:
            found = [name for name in known if name.split(".")[0] == target]
        else:
            raise KeyError(f"unknown experiment or paper {target!r}; papers: {', '.join(papers)}; "
                           f"experiments: {', '.join(known)}; or all")
        chosen += [name for name in found if name not in chosen]
    return chosen


def schedule(tasks: Iterable[Task]) -> list[Task]:
    """Tasks in the order to start them: per seed, a paper's sections in module order, papers interleaved.

    A paper's sections may share cached artifacts (:func:`~weightspace.results.load_or_make`):
    started in module order, a later section tends to find what an earlier one made,
    and interleaving papers keeps the tasks that run at the same time apart. The order
    matters for speed only; artifacts are written atomically.
    """
    chains: dict[tuple[int, str], list[Task]] = defaultdict(list)
    for task in sorted(tasks, key=lambda t: (t.seed, t.experiment)):
        chains[task.seed, task.paper].append(task)
    rounds = max(map(len, chains.values()), default=0)
    return [chain[i] for i in range(rounds) for chain in chains.values() if i < len(chain)]


def run_task(experiment: str, module: str, seed: int, profile: str, device: str) -> str:
    """The body of one task: compute ``experiment`` at ``seed`` and return its result as JSON, writing nothing.

    ``module`` is where the driver found the experiment, so a worker also runs one
    that the driver registered at run time, provided the module imports there. The
    task always computes: the driver has already skipped the stored results.
    """
    experiments.REGISTRY[experiment] = module
    return experiments.run(experiment, profile, seed, device, recompute=True, save=False).to_json()


def task_env(profile: str) -> dict[str, str]:
    """A Ray task's environment: the driver's ``WEIGHTSPACE_*`` settings, no progress bars, one thread at quick.

    Workers compute with the CPU kernels the driver chose for the profile
    (:func:`weightspace.isa.configure`: pinned at quick, native at full), so the
    config hashes the driver expects are the ones the workers produce.
    """
    env = {key: value for key, value in os.environ.items() if key.startswith("WEIGHTSPACE_")}
    env["TQDM_DISABLE"] = "1"
    if isa.pinnable() and isa.configure(profile) != isa.PINNED:
        env[isa.OPT_OUT] = "1"
    if profile in PINNED_PROFILES:
        env.update(OMP_NUM_THREADS=str(experiments.QUICK_THREADS), MKL_NUM_THREADS=str(experiments.QUICK_THREADS))
    return env


Outcome = tuple[Task, str | BaseException]


def _in_process(tasks: Sequence[Task], profile: str, device: str) -> Iterator[Outcome]:
    for task in tasks:
        try:
            outcome: str | BaseException = run_task(task.experiment, experiments.REGISTRY[task.experiment],
                                                    task.seed, profile, device)
        except Exception as err:
            outcome = err
        yield task, outcome


def _connect(address: str | None, num_cpus: int | None) -> str:
    """Connect to the cluster at ``address`` or ``$RAY_ADDRESS``, else start a local one; describe it."""
    import ray

    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
        return f"the Ray cluster at {address}"
    cpus = num_cpus or os.cpu_count() or 1
    ray.init(address="local", num_cpus=cpus, include_dashboard=False)
    return f"a local Ray cluster of {cpus} CPUs"


def _on_ray(tasks: Sequence[Task], profile: str, device: str, address: str | None,
            num_cpus: int | None) -> Iterator[Outcome]:
    """Submit every task, then yield each outcome as it finishes (a Ray session already open is used as is)."""
    import ray

    own = not ray.is_initialized()
    if own:
        tqdm.write(f"sweep: on {_connect(address, num_cpus)}")
    try:
        gpu = torch.device(device).type == "cuda"
        remote = ray.remote(run_task).options(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=MAX_RETRIES,
                                              runtime_env={"env_vars": task_env(profile)})
        # Ray makes a task's GPU the only one it sees: the task computes on "cuda".
        where = "cuda" if gpu else device
        pending = {remote.remote(t.experiment, experiments.REGISTRY[t.experiment], t.seed, profile, where): t
                   for t in tasks}
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(ref)
            try:
                outcome: str | BaseException = ray.get(ref)
            except ray.exceptions.RayTaskError as err:  # the task raised: report its own exception
                outcome = err.cause
            except ray.exceptions.RayError as err:  # its worker kept dying, or the cluster failed it
                outcome = err
            yield task, outcome
    finally:
        if own:
            ray.shutdown()


def sweep(targets: Iterable[str], seeds: Iterable[int], profile: str = "quick", device: str = "cpu",
          backend: str = "ray", address: str | None = None, num_cpus: int | None = None,
          recompute: bool = False) -> SweepReport:
    """Run each (experiment, seed) of ``targets`` x ``seeds`` that has no stored result; write each result as it comes.

    Unknown targets, profiles, devices and backends raise before any task starts.
    ``address`` and ``num_cpus`` apply to the Ray backend (see :mod:`weightspace.sweep`).
    With ``WEIGHTSPACE_VERIFY=1`` every task is recomputed and nothing is written.
    """
    check_profile(profile)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    torch.device(device)  # a malformed device name fails here, not in every task
    seeds = list(seeds)
    report = SweepReport()
    todo: list[Task] = []
    for name in expand(targets):
        if profile not in experiments.profiles(name):
            report.skipped.append(name)
            print(f"sweep: skipping {name}: it runs at the {' and '.join(experiments.profiles(name))} profile only")
            continue
        for seed in seeds:
            found = None if recompute or verifying() else experiments.stored(name, profile, seed)
            if found is None:
                todo.append(Task(name, seed))
            else:
                report.stored.append(found)
    runs = len(report.stored) + len(todo)
    print(f"sweep: {runs} run{'s' * (runs != 1)} at the {profile} profile, {len(report.stored)} stored, "
          f"{len(todo)} to compute ({backend})")
    if not todo:
        return report
    expected = {task: experiments.plan(task.experiment, profile, task.seed)[1] for task in todo}
    ordered = schedule(todo)
    outcomes = (_on_ray(ordered, profile, device, address, num_cpus) if backend == "ray"
                else _in_process(ordered, profile, device))
    with closing(outcomes), tqdm(total=len(todo), desc="sweep", unit="run") as bar:
        for task, outcome in outcomes:
            bar.update()
            if isinstance(outcome, BaseException):
                report.failed.append(Failure(task, f"{type(outcome).__name__}: {outcome}"))
                tqdm.write(f"sweep: {task} failed: {report.failed[-1].error}", file=sys.stderr)
                continue
            result = Result.from_json(outcome)
            if not verifying():
                save_result(result)
            if result.config_hash != expected[task]:
                tqdm.write(f"sweep: {task} was computed with other code or CPU kernels than this machine has "
                           f"(config hash {result.config_hash}, here {expected[task]}): a rerun will not count it "
                           f"as stored", file=sys.stderr)
            report.computed.append(result)
    return report


def _mean_std(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.fmean(values):.4g} ± {statistics.stdev(values):.2g}"


def summary(results: Iterable[Result]) -> str:
    """A text table of each experiment's numeric metrics: mean ± sample std over its seeds (one seed: the value)."""
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for result in sorted(results, key=lambda r: (r.experiment, r.seed)):
        for metric, value in result.metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[result.experiment, metric].append(value)
    if not values:
        return "no numeric metrics to summarise"
    rows = [("experiment", "metric", "seeds", "mean ± std")]
    rows += [(name, metric, str(len(vs)), _mean_std(vs)) for (name, metric), vs in values.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
