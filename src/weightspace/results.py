"""Results: one JSON per (profile, experiment), with provenance, written atomically.

A :class:`Result` holds an experiment's metrics, curves and tables, its config
and the hash that identifies it (config + source code), and provenance: data,
device, torch version, git commit, wall time. ``results/<profile>/<paper>/<name>.json``
is the committed record; a run whose hash matches an existing file loads it
instead of recomputing. Long runs checkpoint with :class:`Checkpoint`.
"""

from __future__ import annotations

import ast
import contextvars
import dataclasses
import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
import time
import tokenize
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
# left out of the code hash (``reference.py``: a paper's printed values and claims, ``bench.py``: its benchmark
# cases, in every paper package).
PRESENTATIONAL = frozenset({"__main__.py", "bench.py", "cli.py", "claims.py", "isa.py", "plotting.py", "report.py",
                            "sweep.py", "reference.py"})


def _module_file(module: str) -> Path | None:
    """The source file of ``weightspace.x.y`` (a module or a package's ``__init__``), or ``None``."""
    parts = module.split(".")
    if parts[0] != "weightspace":
        return None
    base = _PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str, path: Path) -> set[str]:
    """The ``weightspace`` modules that ``module`` (at ``path``) imports, read from its source, not run."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from package import module`
    return {m for m in found if m.split(".")[0] == "weightspace" and _module_file(m) is not None}


def _closure(roots: set[str]) -> set[str]:
    """``roots`` and every ``weightspace`` module they import, transitively, with the packages that hold them."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or _module_file(module) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # importing a.b.c runs a and a.b first
        todo.extend(_imports(module, _module_file(module)))
    return seen


def scope_modules(scope: str | None) -> set[str]:
    """The modules a result of ``scope`` can depend on.

    ``scope`` is an experiment (``paper.section``: its module), a paper (every
    experiment module of that paper), a module name (``weightspace...``), or
    ``None`` (the whole library). Imports are followed transitively inside
    ``weightspace``; the :data:`PRESENTATIONAL` modules are left out.
    """
    if scope is None:
        roots = {"weightspace." + ".".join(p.relative_to(_PACKAGE_DIR).with_suffix("").parts)
                 for p in _PACKAGE_DIR.rglob("*.py")}
        roots = {r.removesuffix(".__init__") for r in roots}
    elif scope.startswith("weightspace"):
        roots = {scope}
    elif "." in scope:
        roots = {f"weightspace.experiments.{scope}"}
    else:
        folder = _PACKAGE_DIR / "experiments" / scope
        roots = {f"weightspace.experiments.{scope}"} | {f"weightspace.experiments.{scope}.{p.stem}"
                                                        for p in folder.glob("*.py") if p.stem != "__init__"}
    return {m for m in _closure(roots) if _module_file(m).name not in PRESENTATIONAL}


def _code(path: Path) -> str:
    """The source of ``path`` less its docstrings, comments and blank lines: what can change what it computes.

    Docstrings are found with :mod:`ast` and comments with :mod:`tokenize`, and cut by
    line and column, so the rest stays byte for byte (the same on every Python version).
    """
    text = path.read_text()
    lines = text.splitlines()
    drop: set[int] = set()
    for node in ast.walk(ast.parse(text, str(path))):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            drop.update(range(body[0].lineno - 1, body[0].end_lineno))
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    return "\n".join(line.rstrip() for i, line in enumerate(lines) if i not in drop and line.strip())


@lru_cache(maxsize=None)
def code_version(scope: str | None = None) -> str:
    """A hash of the source a result of ``scope`` depends on (see :func:`scope_modules`).

    It follows imports: editing a function the experiment calls changes it;
    editing another paper, another section, the plotting or the reference values
    does not, nor does editing a docstring or a comment (:func:`_code`). The CPU kernels that :mod:`weightspace.isa` chooses enter
    :func:`config_hash` as a value instead of as source.
    """
    digest = hashlib.sha256()
    for module in sorted(scope_modules(scope)):
        path = _module_file(module)
        digest.update(path.relative_to(_PACKAGE_DIR).as_posix().encode())
        digest.update(_code(path).encode())
    return digest.hexdigest()[:12]


def config_hash(config: dict[str, Any], scope: str | None = None) -> str:
    """Hash of a JSON-able config with :func:`code_version` (of ``scope``), the torch version and the CPU kernels.

    The kernels (:func:`weightspace.isa.kernels`) are part of the key because an
    AVX-512 run rounds differently from an AVX2 one: a result or artifact made with
    one is never reused by a run with the other.
    """
    blob = json.dumps({"config": config, "code": code_version(scope), "torch": torch.__version__,
                       "cpu_kernels": isa.kernels()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def git_commit() -> str:
    """The project's current commit, ``-dirty`` if code that can change a result differs from it; or ``unknown``.

    Only the library's non-presentational modules (``src/``, less
    :data:`PRESENTATIONAL`), ``pyproject.toml`` and ``requirements.txt`` count:
    re-executing notebooks or editing a plot does not make a result dirty.
    """
    root = project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src",
                                  "pyproject.toml", "requirements.txt"], cwd=root, capture_output=True, text=True,
                                 check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = [line for line in changed if Path(line[3:].strip()).name not in PRESENTATIONAL]
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


class ResultFileError(ValueError):
    """A stored result, checkpoint or cached artifact that cannot be used; the message names its path."""


@dataclass
class Result:
    """What one run of an experiment produced, with everything needed to trust it.

    ``overrides`` are the settings changed from the profile's config (``--set``);
    a result with overrides is stored beside the default one, never over it.
    """

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
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=False, default=_jsonable)

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls(**json.loads(text))


_REQUIRED = {"experiment": str, "profile": str, "seed": int, "config": dict, "config_hash": str}
_OPTIONAL = {"metrics": dict, "tables": dict, "curves": dict, "data": dict, "provenance": dict, "overrides": dict}


def read_result(path: Path) -> Result:
    """Load a result file, checking its schema; a :class:`ResultFileError` naming ``path`` if it is not one."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultFileError(f"{path}: not a readable result file ({err})") from err
    if not isinstance(record, dict):
        raise ResultFileError(f"{path}: not a result file (a JSON {type(record).__name__}, not an object)")
    problems = [f"{key} missing" for key in _REQUIRED if key not in record]
    problems += [f"{key} is not a {kind.__name__}" for key, kind in {**_REQUIRED, **_OPTIONAL}.items()
                 if key in record and not isinstance(record[key], kind)]
    problems += [f"unknown field {key!r}" for key in record if key not in _REQUIRED and key not in _OPTIONAL]
    if problems:
        raise ResultFileError(f"{path}: not a valid result file: {'; '.join(problems)}")
    return Result(**record)


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a result")


def overrides_tag(overrides: dict[str, Any]) -> str:
    """A short hash naming a set of overrides in file names (``""`` for none)."""
    if not overrides:
        return ""
    return hashlib.sha256(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:8]


def result_path(profile: str, experiment: str, seed: int = 0, root: Path | None = None,
                overrides: dict[str, Any] | None = None) -> Path:
    """``results/<profile>/<paper>/<section>[-seed<S>][-set<hash>].json`` for experiment ``paper.section``.

    ``-seed<S>`` for S != 0; ``-set<hash>`` (:func:`overrides_tag`) when settings
    were overridden, so such a run never replaces the default result.
    """
    paper, _, section = experiment.partition(".")
    suffix = (f"-seed{seed}" if seed else "") + (f"-set{overrides_tag(overrides)}" if overrides else "")
    return (root or results_dir()) / profile / paper / f"{section}{suffix}.json"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` then move ``tmp`` onto ``path``: the file is whole or absent, readable by all (0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(folder: Path, what: str) -> None:
    """Fail now, naming ``folder`` and the variable that moves it, if ``what`` could not be written there later."""
    variable = {"results": "WEIGHTSPACE_RESULTS", "checkpoints": "WEIGHTSPACE_CHECKPOINTS",
                "cache": "WEIGHTSPACE_CACHE"}[what]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise PermissionError(f"the {what} folder {folder} cannot be written ({err.strerror or err}): fix its "
                              f"permissions or free space, or point {variable} elsewhere") from err


def save_result(result: Result, root: Path | None = None) -> Path:
    """Write a result JSON atomically; return its path."""
    path = result_path(result.profile, result.experiment, result.seed, root, result.overrides)
    text = result.to_json()
    atomic_write(path, lambda tmp: tmp.write_text(text + "\n"))
    return path


def load_result(profile: str, experiment: str, seed: int = 0, root: Path | None = None,
                overrides: dict[str, Any] | None = None) -> Result | None:
    """The stored result of an experiment at a profile, seed (and overrides), or ``None``.

    The file must be a result of exactly that request (experiment, profile, seed,
    overrides); otherwise a :class:`ResultFileError` names it.
    """
    path = result_path(profile, experiment, seed, root, overrides)
    if not path.exists():
        return None
    result = read_result(path)
    asked = {"experiment": experiment, "profile": profile, "seed": seed, "overrides": overrides or {}}
    found = {"experiment": result.experiment, "profile": result.profile, "seed": result.seed,
             "overrides": result.overrides}
    wrong = [f"{key} {found[key]!r} (expected {value!r})" for key, value in asked.items() if found[key] != value]
    if wrong:
        raise ResultFileError(f"{path}: holds another run: {', '.join(wrong)}")
    return result


def all_results(root: Path | None = None) -> list[Result]:
    """Every stored result, sorted by profile and experiment."""
    base = root or results_dir()
    return [read_result(p) for p in sorted(base.glob("*/*/*.json"))]


def provenance(device: str | torch.device, started: float, scope: str | None = None) -> dict[str, Any]:
    """Where and how a result (of ``scope``, see :func:`code_version`) was made."""
    return {
        "device": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_isa": {"native": isa.native(), "kernels": isa.kernels()},
        "git_commit": git_commit(),
        "code_version": code_version(scope),
        "wall_time_s": round(time.time() - started, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _torch_load(path: Path, what: str) -> Any:
    try:
        return torch.load(path, weights_only=False)
    except Exception as err:  # torch raises many kinds for a truncated or foreign file
        raise ResultFileError(f"{path}: a corrupt or unreadable {what} ({type(err).__name__}: {err}); delete it "
                              f"or rerun with --recompute") from err


# True while a ``--recompute`` run computes: corrupt cached artifacts and checkpoints are then made afresh.
RECOMPUTING: contextvars.ContextVar[bool] = contextvars.ContextVar("weightspace_recomputing", default=False)


def load_or_make(kind: str, config: dict[str, Any], make: Callable[[], Any], scope: str | None = None) -> Any:
    """An artifact (e.g. a trained network's state dict) keyed by ``config`` hash: loaded if cached, else made.

    Used for inputs several experiments share, such as the reference network that
    Table 2 fits and Table 3 uses as its target, so it is trained once. ``scope``
    (normally the calling module's ``__name__``) scopes the code hash as in
    :func:`code_version`. A corrupt cached file raises a :class:`ResultFileError`
    naming it; during a ``--recompute`` run (:data:`RECOMPUTING`) it is made again.
    """
    path = cache_dir() / kind / f"{config_hash(config, scope)}.pt"
    if path.exists() and not verifying():
        try:
            return _torch_load(path, f"cached {kind}")
        except ResultFileError:
            if not RECOMPUTING.get():
                raise
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

    A corrupt checkpoint raises a :class:`ResultFileError` naming it; during a
    ``--recompute`` run (:data:`RECOMPUTING`) the run starts afresh instead.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_run(cls, experiment: str, cfg_hash: str, tag: str) -> Checkpoint:
        return cls(checkpoints_dir() / experiment / cfg_hash / f"{tag}.pt")

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            return _torch_load(self.path, "checkpoint")
        except ResultFileError:
            if RECOMPUTING.get():
                return None
            raise

    def save(self, state: dict[str, Any]) -> None:
        atomic_write(self.path, lambda tmp: torch.save(state, tmp))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
