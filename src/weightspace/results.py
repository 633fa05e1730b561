"""Results: one JSON per (profile, experiment), with provenance, written atomically.

A :class:`Result` holds an experiment's metrics, curves and tables, its config
and the hash that identifies it (config + source code), and provenance: data,
device, torch version, git commit, wall time. ``results/<profile>/<paper>/<name>.json``
is the committed record; a run whose hash matches an existing file loads it
instead of recomputing. Long runs checkpoint with :class:`Checkpoint`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import torch

import weightspace
from weightspace import isa

_PACKAGE_DIR = Path(weightspace.__file__).resolve().parent


def project_root() -> Path:
    """The checkout that holds this package (``src/weightspace``), else the working directory."""
    candidate = _PACKAGE_DIR.parent.parent
    return candidate if (candidate / "pyproject.toml").exists() else Path.cwd()


def results_dir() -> Path:
    """``$WEIGHTSPACE_RESULTS`` if set, else ``<project>/results``."""
    return Path(os.environ.get("WEIGHTSPACE_RESULTS", project_root() / "results"))


def cache_dir() -> Path:
    """``$WEIGHTSPACE_CACHE`` if set, else ``<project>/.cache/weightspace``: artifacts shared between runs."""
    return Path(os.environ.get("WEIGHTSPACE_CACHE", project_root() / ".cache" / "weightspace"))


def verifying() -> bool:
    """``WEIGHTSPACE_VERIFY=1``: recompute everything, read no cache, write no result (nbval's mode)."""
    return os.environ.get("WEIGHTSPACE_VERIFY") == "1"


def checkpoints_dir() -> Path:
    """``$WEIGHTSPACE_CHECKPOINTS`` if set, else ``<project>/checkpoints`` (not committed)."""
    return Path(os.environ.get("WEIGHTSPACE_CHECKPOINTS", project_root() / "checkpoints"))


# Modules that only present, schedule or describe results: editing them changes no number, so they are
# left out of the code hash (``reference.py``: a paper's printed values and claims, in every paper package).
PRESENTATIONAL = frozenset({"__main__.py", "cli.py", "claims.py", "isa.py", "plotting.py", "report.py", "sweep.py",
                            "reference.py"})


def _papers() -> set[str]:
    """The paper subpackages: those with experiments under ``weightspace/experiments``."""
    return {p.name for p in (_PACKAGE_DIR / "experiments").iterdir() if p.is_dir() and not p.name.startswith("_")}


@lru_cache(maxsize=None)
def code_version(paper: str | None = None) -> str:
    """A hash of the library's source that a result can depend on.

    With ``paper``, the other papers' subpackages (``weightspace/<p>`` and
    ``weightspace/experiments/<p>``) are left out, so work on one paper does not
    invalidate another's results; any change to shared code invalidates them all.
    The :data:`PRESENTATIONAL` modules are left out too (the CPU kernels that
    :mod:`weightspace.isa` chooses enter :func:`config_hash` as a value instead).
    """
    others = _papers() - {paper} if paper else set()
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(_PACKAGE_DIR)
        if rel.parts[0] in others or (rel.parts[0] == "experiments" and rel.parts[1] in others):
            continue
        if rel.name in PRESENTATIONAL:
            continue
        digest.update(rel.as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def config_hash(config: dict[str, Any], paper: str | None = None) -> str:
    """Hash of a JSON-able config with :func:`code_version` (of ``paper``), the torch version and the CPU kernels.

    The kernels (:func:`weightspace.isa.kernels`) are part of the key because an
    AVX-512 run rounds differently from an AVX2 one: a result or artifact made with
    one is never reused by a run with the other.
    """
    blob = json.dumps({"config": config, "code": code_version(paper), "torch": torch.__version__,
                       "cpu_kernels": isa.kernels()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def git_commit() -> str:
    """The project's current commit, ``-dirty`` if the library or its pins differ from it; or ``unknown``.

    Only the files that can change a result count (``src/``, ``pyproject.toml``,
    ``requirements.txt``): re-executing notebooks does not make a result dirty.
    """
    root = project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src",
                                "pyproject.toml", "requirements.txt"], cwd=root, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str | torch.device) -> str:
    """A human-readable name for the device a run used (CPU model and thread count on CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (f"{_cpu_model()}, {torch.get_num_threads()} of {os.cpu_count()} cores, {isa.kernels()} kernels "
            f"(native {isa.native()})")


@dataclass
class Result:
    """What one run of an experiment produced, with everything needed to trust it."""

    experiment: str
    profile: str
    seed: int
    config: dict[str, Any]
    config_hash: str
    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=False, default=_jsonable)

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls(**json.loads(text))


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a result")


def result_path(profile: str, experiment: str, seed: int = 0, root: Path | None = None) -> Path:
    """``results/<profile>/<paper>/<section>.json`` for experiment ``paper.section`` (``-seed<S>`` for S != 0)."""
    paper, _, section = experiment.partition(".")
    suffix = f"-seed{seed}" if seed else ""
    return (root or results_dir()) / profile / paper / f"{section}{suffix}.json"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` then move ``tmp`` onto ``path``: the file is whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_result(result: Result, root: Path | None = None) -> Path:
    """Write a result JSON atomically; return its path."""
    path = result_path(result.profile, result.experiment, result.seed, root)
    text = result.to_json()
    atomic_write(path, lambda tmp: tmp.write_text(text + "\n"))
    return path


def load_result(profile: str, experiment: str, seed: int = 0, root: Path | None = None) -> Result | None:
    """The stored result of an experiment at a profile and seed, or ``None``."""
    path = result_path(profile, experiment, seed, root)
    return Result.from_json(path.read_text()) if path.exists() else None


def all_results(root: Path | None = None) -> list[Result]:
    """Every stored result, sorted by profile and experiment."""
    base = root or results_dir()
    return [Result.from_json(p.read_text()) for p in sorted(base.glob("*/*/*.json"))]


def provenance(device: str | torch.device, started: float, paper: str | None = None) -> dict[str, Any]:
    """Where and how a result (of ``paper``) was made."""
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_isa": {"native": isa.native(), "kernels": isa.kernels()},
        "git_commit": git_commit(),
        "code_version": code_version(paper),
        "wall_time_s": round(time.time() - started, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def load_or_make(kind: str, config: dict[str, Any], make: Callable[[], Any], paper: str | None = None) -> Any:
    """An artifact (e.g. a trained network's state dict) keyed by ``config`` hash: loaded if cached, else made.

    Used for inputs several experiments share, such as the reference network that
    Table 2 fits and Table 3 uses as its target, so it is trained once. ``paper``
    scopes the code hash as in :func:`code_version`.
    """
    path = cache_dir() / kind / f"{config_hash(config, paper)}.pt"
    if path.exists() and not verifying():
        return torch.load(path, weights_only=False)
    artifact = make()
    if not verifying():
        atomic_write(path, lambda tmp: torch.save(artifact, tmp))
    return artifact


class Checkpoint:
    """An atomically written ``torch.save`` file that lets an interrupted run resume.

    >>> ckpt = Checkpoint.for_run("neuron_embedding.table1", cfg_hash, "fc2_direct")
    >>> state = ckpt.load()          # None on a fresh start
    >>> ckpt.save({"step": 100, ...})
    >>> ckpt.remove()                # when the run finished
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_run(cls, experiment: str, cfg_hash: str, tag: str) -> Checkpoint:
        return cls(checkpoints_dir() / experiment / cfg_hash / f"{tag}.pt")

    def load(self) -> dict[str, Any] | None:
        return torch.load(self.path, weights_only=False) if self.path.exists() else None

    def save(self, state: dict[str, Any]) -> None:
        atomic_write(self.path, lambda tmp: torch.save(state, tmp))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
