"""Experiments: one module per notebook, each a config per profile and a ``compute``.

An experiment module defines ``TITLE``, ``config(profile) -> dict`` and
``compute(cfg, ctx) -> Outputs``, and ``PROFILES`` when it runs at some profiles
only (``("full",)``: no quick data or model exists for it). :func:`run` adds what every experiment needs:
profile and override checks, seeding, the cache keyed by config hash, provenance
and an atomic results file. The CLI (``python -m weightspace``) and the
notebooks both call :func:`run`.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import numpy as np
import torch

from weightspace import isa
from weightspace.profiles import PROFILES, check_profile
from weightspace.results import Checkpoint, Result, config_hash, load_result, provenance, save_result, verifying

# The quick profile computes on one CPU thread: float reductions then happen in the same
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
    """What ``compute`` returns; :func:`run` wraps it into a :class:`Result`."""

    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
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


def profiles(name: str) -> tuple[str, ...]:
    """The profiles an experiment runs at: its module's ``PROFILES`` (``("full",)`` for full-only ones), else all."""
    return tuple(getattr(get(name), "PROFILES", PROFILES))


def config(name: str, profile: str = "quick", **overrides: Any) -> dict[str, Any]:
    """The config of an experiment at a profile, with ``overrides`` of existing keys applied."""
    if check_profile(profile) not in profiles(name):
        raise ValueError(f"{name} runs at the {' and '.join(profiles(name))} profile only, not {profile!r}: "
                         f"its data or model is not part of the {profile} profile (`--profile full`)")
    cfg = get(name).config(profile)
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise KeyError(f"{name} has no setting {', '.join(map(repr, unknown))}; its settings are: {', '.join(cfg)}")
    return {**cfg, **overrides}


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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)``, refusing a CUDA device when none is available."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available here; use device='cpu'")
    return dev


def plan(name: str, profile: str = "quick", seed: int = 0, **overrides: Any) -> tuple[dict[str, Any], str]:
    """The config of a run and its hash (config, seed, the code it depends on, torch, CPU kernels), without running.

    The hash is what :func:`run` compares with a stored result: a sweep uses it to
    skip the runs whose results are already stored.
    """
    cfg = config(name, profile, **overrides)
    paper = name.split(".")[0]
    return cfg, config_hash({"experiment": name, "profile": profile, "seed": seed, **cfg}, paper)


def stored(name: str, profile: str = "quick", seed: int = 0, **overrides: Any) -> Result | None:
    """The stored result of this run if its config hash matches the current code and config, else ``None``."""
    _, digest = plan(name, profile, seed, **overrides)
    cached = load_result(profile, name, seed)
    return cached if cached is not None and cached.config_hash == digest else None


def run(name: str, profile: str = "quick", seed: int = 0, device: str | torch.device = "cpu",
        recompute: bool = False, save: bool = True, **overrides: Any) -> Result:
    """Run (or load from ``results/``) experiment ``name`` at ``profile``.

    A stored result whose config hash (config, seed, library source, torch version,
    CPU kernels) matches is returned unless ``recompute``. ``save`` writes the result
    JSON atomically. With ``WEIGHTSPACE_VERIFY=1`` in the environment (what ``make test``
    sets for nbval) every run is recomputed and nothing is written, so the checked
    notebook outputs are compared against a fresh computation.
    """
    if verifying():
        recompute, save = True, False
    module = get(name)
    isa.configure(check_profile(profile))
    cfg, digest = plan(name, profile, seed, **overrides)
    dev = resolve_device(device)
    paper = name.split(".")[0]
    if not recompute:
        cached = stored(name, profile, seed, **overrides)
        if cached is not None:
            return cached
    seed_everything(seed)
    started = time.time()
    with cpu_threads(QUICK_THREADS if profile == "quick" else None):
        out = module.compute(cfg, RunContext(name, profile, seed, dev, digest))
        record = provenance(dev, started, paper)
    result = Result(experiment=name, profile=profile, seed=seed, config=cfg, config_hash=digest,
                    metrics=out.metrics, tables=out.tables, curves=out.curves, data=out.data, provenance=record)
    if save:
        save_result(result)
    return result
