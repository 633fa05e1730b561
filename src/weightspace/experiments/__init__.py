"""Experiments: one module per notebook, each a config per profile and a ``compute``.

An experiment module defines ``TITLE``, ``config(profile) -> dict``,
``TABLES`` (the tables it produces and their rows, :mod:`weightspace.tables`) and
``compute(cfg, ctx) -> Outputs``, and ``PROFILES`` when it runs at other profiles
than quick and full (``("full",)``: no quick data or model exists for it; ``("quick",
"cpu", "full")``: it has a CPU-scale tier, :mod:`weightspace.profiles`). :func:`run` adds what every experiment needs:
profile and override checks, seeding, the cache keyed by config hash, provenance
and an atomic results file. The CLI (``python -m weightspace``) and the
notebooks both call :func:`run`.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import torch

from weightspace import isa
from weightspace.profiles import DEFAULT_PROFILES, PINNED_PROFILES, check_profile
from weightspace.tables import Table, TableContractError, check_stored, conform
from weightspace.training import seed_everything
from weightspace.results import (RECOMPUTING, Checkpoint, Result, ResultFileError, cache_dir, check_writable,
                                 checkpoints_dir, config_hash, load_result, provenance, result_path, save_result,
                                 verifying)

# The pinned profiles (quick, cpu) compute on one CPU thread: float reductions then happen in the same
# order on every machine, so its numbers do not depend on the core count, and nbval can
# re-execute notebooks in parallel without oversubscribing the cores.
QUICK_THREADS = 1


def _discover() -> dict[str, str]:
    """Experiment name -> module path, found on disk without importing anything.

    Every public module ``weightspace/experiments/<paper>/<section>.py`` is the
    experiment ``<paper>.<section>``; code the sections of a paper share lives in
    the paper package's ``__init__`` or in ``_``-prefixed modules.
    """
    found = {}
    for paper in pkgutil.iter_modules(__path__):
        if not paper.ispkg or paper.name.startswith("_"):
            continue
        for section in pkgutil.iter_modules([str(Path(__path__[0]) / paper.name)]):
            if not section.name.startswith("_"):
                found[f"{paper.name}.{section.name}"] = f"{__name__}.{paper.name}.{section.name}"
    return found


REGISTRY: dict[str, str] = _discover()


@dataclass
class Outputs:
    """What ``compute`` returns; :func:`run` wraps it into a :class:`Result`.

    Args:
        metrics: the headline numbers, by name.
        tables: the declared tables (the module's ``TABLES``), each a list of its row records.
        curves: series against steps or another axis, by name (e.g. a run's evaluation curve).
        data: the description of the data the run used (:attr:`weightspace.data.ImageData.description`).
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[Any]] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunContext:
    """Where a computation runs: seed, device, and a checkpoint factory for resuming."""

    experiment: str
    profile: str
    seed: int
    device: torch.device
    config_hash: str

    def checkpoint(self, tag: str) -> Checkpoint:
        return Checkpoint.for_run(self.experiment, self.config_hash, tag)


def names() -> list[str]:
    """All registered experiment names."""
    return sorted(REGISTRY)


def get(name: str) -> ModuleType:
    """The module of an experiment; a clear error for an unknown name."""
    if name not in REGISTRY:
        raise KeyError(f"unknown experiment {name!r}; known experiments: {', '.join(names())} "
                       f"(`python -m weightspace list`)")
    return importlib.import_module(REGISTRY[name])


def tables_of(name: str) -> dict[str, Table]:
    """The tables experiment ``name`` declares (its module's ``TABLES``)."""
    module = get(name)
    if not isinstance(getattr(module, "TABLES", None), dict):
        raise TableContractError(f"{name} declares no TABLES (a dict of weightspace.tables.Table)")
    return module.TABLES


def profiles(name: str) -> tuple[str, ...]:
    """The profiles an experiment runs at: its module's ``PROFILES`` (``("full",)`` for full-only ones), else quick and full."""
    return tuple(getattr(get(name), "PROFILES", DEFAULT_PROFILES))


def config(name: str, profile: str = "quick", **overrides: Any) -> dict[str, Any]:
    """The config of an experiment at a profile, with ``overrides`` of existing settings applied.

    Each override is checked against the setting it replaces (:func:`check_override`)
    before anything runs.
    """
    if check_profile(profile) not in profiles(name):
        raise ValueError(f"{name} runs at the {' and '.join(profiles(name))} profile only, not {profile!r}: "
                         f"its data or model is not part of the {profile} profile (choose `--profile "
                         f"{profiles(name)[0]}`)")
    cfg = get(name).config(profile)
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise KeyError(f"{name} has no setting {', '.join(map(repr, unknown))}; its settings are: {', '.join(cfg)}")
    return {**cfg, **{key: check_override(key, value, cfg[key]) for key, value in overrides.items()}}


def _is_lr(key: str) -> bool:
    leaf = key.rsplit(".", 1)[-1]
    return leaf == "lr" or leaf.endswith("_lr") or leaf == "learning_rate"


def check_override(key: str, value: Any, default: Any) -> Any:
    """``value`` for setting ``key`` if it has the kind of the default it replaces, else a ``ValueError`` saying so.

    The default declares the kind: a bool takes a bool; a positive int (a size, a
    count, a number of steps) a positive int; a number a finite number, non-negative
    where the default is positive, and positive for a learning rate; a string a
    string; a non-empty list a non-empty list of the same kind; a dict a dict, which
    replaces the default whole (``archs={"resnet20": [8]}`` runs ResNet20 only) and
    whose keys the default has are checked the same way (others, such as an optional
    model argument, are passed on). A ``None`` default takes anything.
    """
    def fail(allowed: str) -> ValueError:
        return ValueError(f"setting {key!r} = {value!r} is not allowed: {allowed} (the default is {default!r})")

    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise fail("it takes true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("it takes a whole number")
        if default > 0 and value < 1:
            raise fail("it takes a positive whole number")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise fail("it takes a finite number")
        if _is_lr(key) and value <= 0:
            raise fail("a learning rate must be positive")
        if default > 0 and value < 0:
            raise fail("it takes a number >= 0")
        return float(value) if isinstance(value, int) else value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise fail("it takes a string")
        return value
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise fail("it takes a list")
        if default and not value:
            raise fail("it takes a non-empty list")
        if default and all(type(d) is type(default[0]) for d in default):
            return [check_override(f"{key}[{i}]", v, default[0]) for i, v in enumerate(value)]
        return list(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise fail(f"it takes a dict (keys such as {', '.join(map(str, default))})")
        if default and not value:
            raise fail(f"it takes a non-empty dict (keys such as {', '.join(map(str, default))})")
        return {k: check_override(f"{key}.{k}", v, default.get(k)) for k, v in value.items()}
    return value


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op CPU threads (``None``: leave torch's setting)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)``, refusing a CUDA device when none is available."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available here; use device='cpu'")
    return dev


def plan(name: str, profile: str = "quick", seed: int = 0, **overrides: Any) -> tuple[dict[str, Any], str]:
    """The config of a run and its hash (config, seed, the code it imports, torch, CPU kernels), without running.

    The hash is what :func:`run` compares with a stored result: a sweep uses it to
    skip the runs whose results are already stored.
    """
    cfg = config(name, profile, **overrides)
    return cfg, config_hash({"experiment": name, "profile": profile, "seed": seed, **cfg}, name)


def stored(name: str, profile: str = "quick", seed: int = 0, **overrides: Any) -> Result | None:
    """The stored result of this run if it is one of exactly this request with the current hash, else ``None``.

    A stored file that is not a valid result of this request raises a
    :class:`~weightspace.results.ResultFileError` naming it.
    """
    return _stored(name, profile, seed, overrides, *plan(name, profile, seed, **overrides))


def _stored(name: str, profile: str, seed: int, overrides: dict[str, Any], cfg: dict[str, Any],
            digest: str) -> Result | None:
    """:func:`stored` for a run already planned (its config ``cfg`` and hash ``digest``)."""
    try:
        cached = load_result(profile, name, seed, overrides=overrides)
    except ResultFileError as err:
        raise ResultFileError(f"{err}; `--recompute` (recompute=True) replaces it") from err
    if cached is None or cached.config_hash != digest:
        return None
    path = result_path(profile, name, seed, overrides=overrides)
    if cached.config != json.loads(json.dumps(cfg, default=str)):
        raise ResultFileError(f"{path}: its config does not match "
                              f"its config hash (edited by hand?); `--recompute` (recompute=True) replaces it")
    try:
        check_stored(name, tables_of(name), cached.tables, cfg)
    except TableContractError as err:
        raise ResultFileError(f"{path}: {err}; `--recompute` (recompute=True) replaces it") from err
    return cached


def _flag(name: str, value: Any) -> bool:
    """A bool parameter; papermill passes ``-p recompute false`` as the string "false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{name} = {value!r} is not allowed: it takes True or False")


def _seed(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"seed = {value!r} is not allowed: it takes a whole number >= 0")
    return value


def run(name: str, profile: str = "quick", seed: int = 0, device: str | torch.device = "cpu",
        recompute: bool = False, save: bool = True, **overrides: Any) -> Result:
    """Run (or load from ``results/``) experiment ``name`` at ``profile``.

    A stored result whose config hash (config, seed, the code the experiment
    imports, torch version, CPU kernels) matches is returned unless ``recompute``.
    ``save`` writes the result JSON atomically; a run with ``overrides`` is stored
    beside the default result (:func:`~weightspace.results.result_path`), never
    over it. Every argument and override is checked, and every folder the run
    writes to is checked writable, before any work. With ``WEIGHTSPACE_VERIFY=1``
    (what ``make test`` sets for nbval) every run is recomputed and nothing is
    written, so the checked notebook outputs are compared against a fresh computation.
    """
    recompute, save, seed = _flag("recompute", recompute), _flag("save", save), _seed(seed)
    if verifying():
        recompute, save = True, False
    module, declared = get(name), tables_of(name)
    isa.configure(check_profile(profile))
    cfg, digest = plan(name, profile, seed, **overrides)
    dev = resolve_device(device)
    if not recompute:
        cached = _stored(name, profile, seed, overrides, cfg, digest)
        if cached is not None:
            return cached
    if save:
        check_writable(result_path(profile, name, seed, overrides=overrides).parent, "results")
    if not verifying():
        check_writable(checkpoints_dir(), "checkpoints")
        check_writable(cache_dir(), "cache")
    seed_everything(seed)
    started = time.time()
    token = RECOMPUTING.set(recompute)
    try:
        with cpu_threads(QUICK_THREADS if profile in PINNED_PROFILES else None):
            out = module.compute(cfg, RunContext(name, profile, seed, dev, digest))
            record = provenance(dev, started, name)
    finally:
        RECOMPUTING.reset(token)
    result = Result(experiment=name, profile=profile, seed=seed, config=cfg, config_hash=digest,
                    metrics=out.metrics, tables=conform(name, declared, out.tables, cfg), curves=out.curves, data=out.data, provenance=record,
                    overrides=overrides)
    if save:
        save_result(result)
    return result
