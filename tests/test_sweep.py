"""Sweeps: seeds and targets parsed, stored results skipped, failures reported, the Ray backend equal to the serial one.

A toy paper (``toy_sweep``, written to disk so that Ray's worker processes can
import it) trains a tiny MLP a few steps. Every check that needs Ray is in one
test (marked ``ray``: ``-m ray`` selects it, ``-m "not ray"`` leaves it out),
so ``pytest -n 2`` starts one local Ray cluster, not one per xdist worker.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import weightspace
from weightspace import experiments, results, sweep
from weightspace.cli import main
from weightspace.results import Result

SECTIONS = ("train", "crash", "fail", "full_only")
TOY = {
    "__init__.py": '''
        import os
        from pathlib import Path

        from dataclasses import dataclass

        import torch

        from weightspace.experiments import Outputs
        from weightspace.tables import Table


        @dataclass(frozen=True)
        class Point:
            step: int
            loss: float


        TABLES = {"curve": Table(Point)}

        HERE = Path(__file__).parent
        LOG = HERE / "calls.log"


        def toy_run(name, cfg, ctx):
            with LOG.open("a") as log:
                log.write(f"{name} {ctx.seed} {os.getpid()}\\n")
            if name == "crash" and (HERE / "armed").exists():
                (HERE / "armed").unlink()
                os._exit(1)  # the process dies mid-run, once per arming
            if name == "fail":
                raise ValueError("toy failure")
            g = torch.Generator().manual_seed(ctx.seed)
            x = torch.randn(64, 4, generator=g)
            y = (x.sum(1) > 0).long()
            net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
            opt = torch.optim.SGD(net.parameters(), lr=0.5)
            losses = []
            for _ in range(cfg["steps"]):
                loss = torch.nn.functional.cross_entropy(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            accuracy = (net(x).argmax(1) == y).float().mean().item()
            return Outputs(metrics={"loss": losses[-1], "accuracy": accuracy, "steps": cfg["steps"], "note": None},
                           tables={"curve": [Point(i, v) for i, v in enumerate(losses)]})
    ''',
    **{f"{name}.py": f'''
        from toy_sweep import TABLES, toy_run

        TITLE = "toy {name}"
        PROFILES = {("full",) if name == "full_only" else ("quick", "full")}


        def config(profile):
            return {{"steps": 5}}


        def compute(cfg, ctx):
            return toy_run("{name}", cfg, ctx)
    ''' for name in SECTIONS},
}


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    """A folder holding the importable toy package ``toy_sweep``."""
    root = tmp_path_factory.mktemp("toy")
    (root / "toy_sweep").mkdir()
    for name, source in TOY.items():
        (root / "toy_sweep" / name).write_text(textwrap.dedent(source))
    return root


class Toy:
    """The toy package on disk: its log of computations and its crash switch."""

    def __init__(self, root: Path) -> None:
        self.package = root / "toy_sweep"

    def arm(self) -> None:
        """Make the next ``toy.crash`` computation kill its process (never arm it for the serial backend)."""
        (self.package / "armed").touch()

    def calls(self) -> list[tuple[str, int, int]]:
        """Each computation started so far: (experiment section, seed, process id)."""
        log = self.package / "calls.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [(name, int(seed), int(pid)) for name, seed, pid in (line.split() for line in lines)]


@pytest.fixture
def toy(toy_dir, monkeypatch):
    """The toy paper registered as experiments ``toy.train``, ``toy.crash``, ``toy.fail`` and ``toy.full_only``."""
    for stale in ("calls.log", "armed"):
        (toy_dir / "toy_sweep" / stale).unlink(missing_ok=True)
    monkeypatch.syspath_prepend(str(toy_dir))
    for name in SECTIONS:
        monkeypatch.setitem(experiments.REGISTRY, f"toy.{name}", f"toy_sweep.{name}")
    return Toy(toy_dir)


def _stored(root: Path, name: str, seed: int) -> dict:
    """A written result without its provenance (which holds times and process details)."""
    data = json.loads(results.result_path("quick", name, seed, root).read_text())
    data.pop("provenance")
    return data


def test_seeds_parse_from_ranges_and_lists():
    assert sweep.parse_seeds("0-2") == [0, 1, 2]
    assert sweep.parse_seeds("1,2") == [1, 2]
    assert sweep.parse_seeds("3") == [3]
    assert sweep.parse_seeds("0-2, 1,5") == [0, 1, 2, 5]
    for bad in ("a", "2-1", "-1", "", "1,,2"):
        with pytest.raises(ValueError, match="seed"):
            sweep.parse_seeds(bad)


def test_targets_expand_to_experiments_and_unknown_ones_list_the_valid_names(toy):
    assert sweep.expand(["toy.train"]) == ["toy.train"]
    assert sweep.expand(["toy", "toy.fail"]) == ["toy.crash", "toy.fail", "toy.full_only", "toy.train"]
    assert sweep.expand(["all"]) == experiments.names()
    with pytest.raises(KeyError, match=r"unknown experiment or paper 'nope'; papers: .*r2r.*toy.*r2r\.preservation"):
        sweep.expand(["toy.train", "nope"])


def test_schedule_interleaves_papers_and_keeps_module_order_per_seed():
    tasks = [sweep.Task(name, seed) for seed in (1, 0) for name in ("b.y", "a.z", "a.x", "b.x")]
    assert [str(t) for t in sweep.schedule(tasks)] == [
        "a.x seed 0", "b.x seed 0", "a.x seed 1", "b.x seed 1", "a.z seed 0", "b.y seed 0", "a.z seed 1",
        "b.y seed 1"]


def test_summary_gives_numeric_metrics_as_mean_and_std_over_seeds():
    def result(seed, value):
        return Result("p.s", "quick", seed, {}, "h", metrics={"acc": value, "ok": True, "missing": None})

    table = sweep.summary([result(1, 2.0), result(0, 1.0)]).splitlines()
    assert table[0].split() == ["experiment", "metric", "seeds", "mean", "±", "std"]
    assert table[1].split() == ["p.s", "acc", "2", "1.5", "±", "0.71"]
    assert len(table) == 2, "booleans and missing values are not metrics to average"
    assert sweep.summary([result(0, 1.0)]).splitlines()[1].split() == ["p.s", "acc", "1", "1"]


def test_serial_sweep_writes_reports_failures_skips_full_only_and_resumes(isolated, toy, capsys):
    report = sweep.sweep(["toy"], [0, 1], backend="serial")
    assert report.skipped == ["toy.full_only"] and "skipping toy.full_only" in capsys.readouterr().out
    assert sorted((r.experiment, r.seed) for r in report.computed) == [
        ("toy.crash", 0), ("toy.crash", 1), ("toy.train", 0), ("toy.train", 1)]
    assert [(f.task, f.error) for f in report.failed] == [
        (sweep.Task("toy.fail", 0), "ValueError: toy failure"), (sweep.Task("toy.fail", 1), "ValueError: toy failure")]
    for r in report.computed:
        assert experiments.stored(r.experiment, "quick", r.seed).metrics == r.metrics
    assert not results.result_path("quick", "toy.fail", 0).exists()

    results.result_path("quick", "toy.train", 1).unlink()
    before = len(toy.calls())
    again = sweep.sweep(["toy.train", "toy.crash"], [0, 1], backend="serial")
    assert [(r.experiment, r.seed) for r in again.computed] == [("toy.train", 1)] and len(again.stored) == 3
    assert toy.calls()[before:] == [("train", 1, os.getpid())]
    assert again.results[-1].metrics == next(r for r in report.computed if (r.experiment, r.seed) == (
        "toy.train", 1)).metrics


def test_cli_sweep_prints_the_table_and_fails_at_the_end_if_a_run_failed(isolated, toy, capsys):
    assert main(["sweep", "toy.train", "toy.fail", "--seeds", "0-1", "--backend", "serial"]) == 1
    out, err = capsys.readouterr()
    assert "FAILED toy.fail seed 1: ValueError: toy failure" in err
    row = next(line for line in out.splitlines() if line.startswith("toy.train") and " loss " in line)
    assert row.split()[2] == "2" and "±" in row
    assert results.result_path("quick", "toy.train", 1).exists()


def test_cli_sweep_refuses_bad_targets_and_seeds_before_running(isolated, toy, capsys):
    assert main(["sweep", "toy.train", "nope", "--backend", "serial"]) == 2
    assert "unknown experiment or paper 'nope'" in capsys.readouterr().err
    assert main(["sweep", "toy.train", "--seeds", "2-1", "--backend", "serial"]) == 2
    assert "bad seed range" in capsys.readouterr().err
    assert toy.calls() == [] and not (isolated / "results").exists()


def test_importing_the_library_and_cli_does_not_import_ray():
    code = "import sys, weightspace, weightspace.cli, weightspace.sweep; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(
        Path(weightspace.__file__).parents[1])})


@pytest.fixture(scope="module")
def ray_cluster(toy_dir):
    """A local Ray cluster of 2 CPUs whose workers import this checkout's weightspace and the toy package."""
    import ray

    path = os.pathsep.join([str(toy_dir), str(Path(weightspace.__file__).parents[1])])
    # "local": a new cluster, never one that $RAY_ADDRESS or an earlier `ray start` points at.
    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_backend_equals_serial_retries_dead_workers_fails_early_and_resumes(ray_cluster, isolated, toy,
                                                                               monkeypatch):
    # A bad name fails before any task starts.
    with pytest.raises(KeyError, match="unknown experiment or paper 'nope'"):
        sweep.sweep(["toy.train", "nope"], [0, 1])
    assert toy.calls() == []

    # The ray backend writes the serial backend's results bit for bit, and reports failures the same way.
    grid = (["toy.train", "toy.fail"], [0, 1])
    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(isolated / "serial"))
    serial = sweep.sweep(*grid, backend="serial")
    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(isolated / "ray"))
    on_ray = sweep.sweep(*grid, backend="ray")
    assert {(f.task, f.error) for f in on_ray.failed} == {(f.task, f.error) for f in serial.failed} == {
        (sweep.Task("toy.fail", s), "ValueError: toy failure") for s in (0, 1)}
    for seed in (0, 1):
        assert _stored(isolated / "ray", "toy.train", seed) == _stored(isolated / "serial", "toy.train", seed)
    workers = {pid for name, _, pid in toy.calls() if name == "train"} - {os.getpid()}
    assert workers, "the ray backend computed in Ray's worker processes"

    # A task whose worker dies mid-run is retried, and its result is written whole.
    toy.arm()
    crashed = sweep.sweep(["toy.crash"], [0])
    assert not crashed.failed and [("crash", 0)] * 2 == [c[:2] for c in toy.calls() if c[0] == "crash"]
    written = results.load_result("quick", "toy.crash", 0)
    assert written.metrics == crashed.computed[0].metrics and len(written.tables["curve"]) == 5
    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(isolated / "serial"))
    sweep.sweep(["toy.crash"], [0], backend="serial")  # disarmed by the crash
    assert _stored(isolated / "ray", "toy.crash", 0) == _stored(isolated / "serial", "toy.crash", 0)

    # A rerun skips what is stored and computes only what is missing.
    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(isolated / "ray"))
    results.result_path("quick", "toy.train", 0).unlink()
    before = len(toy.calls())
    resumed = sweep.sweep(["toy.train", "toy.crash"], [0, 1])
    assert sorted((r.experiment, r.seed) for r in resumed.computed) == [("toy.crash", 1), ("toy.train", 0)]
    assert sorted(c[:2] for c in toy.calls()[before:]) == [("crash", 1), ("train", 0)]
    assert _stored(isolated / "ray", "toy.train", 0) == _stored(isolated / "serial", "toy.train", 0)
    assert len(resumed.stored) == 2
