"""Experiments, results, training loop and CLI: caching, atomic writes, resume, clear errors."""

import json
import sys
import types

import pytest
import torch

from weightspace import experiments, results
from weightspace.cli import main
from weightspace.data import ImageData, Split
from weightspace.experiments import Outputs
from weightspace.training import TrainConfig, train_classifier


@pytest.fixture
def toy_experiment(monkeypatch):
    module = types.ModuleType("toy")
    module.TITLE = "toy"
    module.calls = 0
    module.config = lambda profile: {"n": 3 if profile == "quick" else 30}

    def compute(cfg, ctx):
        module.calls += 1
        return Outputs(metrics={"value": torch.rand(()).item() + cfg["n"]}, tables={"t": [{"row": "a", "x": 1.0}]},
                       data={"split": "none"})

    module.compute = compute
    monkeypatch.setitem(sys.modules, "toy_module", module)
    monkeypatch.setitem(experiments.REGISTRY, "toy.exp", "toy_module")
    return module


def test_run_writes_a_result_with_provenance_and_reuses_it(isolated, toy_experiment):
    first = experiments.run("toy.exp")
    path = results.result_path("quick", "toy.exp")
    stored = json.loads(path.read_text())
    assert stored["config_hash"] == first.config_hash
    for key in ("device", "torch", "git_commit", "wall_time_s", "code_version"):
        assert key in stored["provenance"]
    again = experiments.run("toy.exp")
    assert toy_experiment.calls == 1 and again.metrics == first.metrics
    experiments.run("toy.exp", recompute=True)
    assert toy_experiment.calls == 2
    other = experiments.run("toy.exp", seed=1)
    assert other.config_hash != first.config_hash and toy_experiment.calls == 3
    assert json.loads(path.read_text())["seed"] == 0, "another seed must not overwrite seed 0's result"
    assert results.load_result("quick", "toy.exp", seed=1).config_hash == other.config_hash


def test_same_seed_gives_the_same_numbers(isolated, toy_experiment):
    a = experiments.run("toy.exp", save=False)
    b = experiments.run("toy.exp", save=False)
    assert a.metrics == b.metrics


def test_unknown_names_fail_clearly(isolated, toy_experiment):
    with pytest.raises(KeyError, match="unknown experiment 'nope'.*toy.exp"):
        experiments.run("nope")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        experiments.run("toy.exp", profile="huge")
    with pytest.raises(KeyError, match="no setting 'm'"):
        experiments.run("toy.exp", m=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_cuda_fails_clearly(isolated, toy_experiment):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        experiments.run("toy.exp", device="cuda")


def test_result_file_is_whole_or_absent(isolated):
    path = isolated / "out.json"

    def broken(tmp):
        tmp.write_text("{half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        results.atomic_write(path, broken)
    assert not path.exists() and list(isolated.iterdir()) == []


def _toy_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return ImageData("toy", Split(x[:192], y[:192]), Split(x[192:], y[192:]), 2)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def test_interrupted_training_resumes_to_the_same_result(isolated):
    cfg = TrainConfig(steps=40, batch_size=32, lr=0.01, eval_every=10, checkpoint_every=10)
    straight = _net()
    expected = train_classifier(straight, _toy_data(), cfg)

    ckpt = results.Checkpoint(isolated / "run.pt")
    interrupted = _net()

    class Stop(Exception):
        pass

    original = ckpt.save

    def save_then_stop(state):
        original(state)
        if state["step"] == 20:
            raise Stop

    ckpt.save = save_then_stop
    with pytest.raises(Stop):
        train_classifier(interrupted, _toy_data(), cfg, checkpoint=ckpt)
    assert ckpt.path.exists()
    ckpt.save = original
    resumed = _net()
    out = train_classifier(resumed, _toy_data(), cfg, checkpoint=ckpt)
    assert out.accuracy == expected.accuracy and out.best_step == expected.best_step
    for a, b in zip(resumed.parameters(), straight.parameters()):
        assert torch.allclose(a, b)
    assert not ckpt.path.exists()


def test_train_config_rejects_bad_recipes():
    with pytest.raises(ValueError, match="unknown optimizer"):
        TrainConfig(steps=1, batch_size=1, lr=1.0, optimizer="lbfgs")
    with pytest.raises(ValueError, match="exceeds"):
        train_classifier(_net(), _toy_data(), TrainConfig(steps=1, batch_size=1000, lr=0.1))


def test_cli_lists_and_reports_errors(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("neuron_embedding.table1", "neuron_embedding.table2", "neuron_embedding.cross_model"):
        assert name in out
    assert main(["run", "no.such"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_cli_runs_an_experiment(isolated, toy_experiment, capsys):
    assert main(["run", "toy.exp", "--seed", "2", "--set", "n=5"]) == 0
    stored = json.loads(results.result_path("quick", "toy.exp", seed=2).read_text())
    assert stored["seed"] == 2 and stored["config"]["n"] == 5


def test_artifacts_are_made_once_and_never_cached_in_verification(isolated, monkeypatch):
    calls = []

    def make():
        calls.append(1)
        return {"w": torch.ones(2)}

    first = results.load_or_make("toy", {"a": 1}, make)
    second = results.load_or_make("toy", {"a": 1}, make)
    assert len(calls) == 1 and torch.equal(first["w"], second["w"])
    results.load_or_make("toy", {"a": 2}, make)
    assert len(calls) == 2
    monkeypatch.setenv("WEIGHTSPACE_VERIFY", "1")
    results.load_or_make("toy", {"a": 1}, make)
    results.load_or_make("toy", {"a": 3}, make)
    assert len(calls) == 4
    assert len(list((isolated / "cache" / "toy").iterdir())) == 2


def test_quick_runs_on_one_thread_and_restores_the_setting(isolated, toy_experiment):
    seen = []
    compute = toy_experiment.compute
    toy_experiment.compute = lambda cfg, ctx: (seen.append(torch.get_num_threads()), compute(cfg, ctx))[1]
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # not the quick setting, so the test sees it change and come back
    try:
        result = experiments.run("toy.exp", profile="quick")
        assert seen == [experiments.QUICK_THREADS] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert f"{experiments.QUICK_THREADS} of " in result.provenance["device"]


def test_reference_tables_skip_unprinted_values_and_check_their_width():
    from weightspace.report import references

    refs = references("Table 9", ("a", "b"), [("r1", "Row 1", 1.0, None), ("r2", "Row 2", 2.0, 3.0)])
    assert [(r.row, r.metric, r.value) for r in refs] == [("r1", "a", 1.0), ("r2", "a", 2.0), ("r2", "b", 3.0)]
    with pytest.raises(ValueError):
        references("Table 9", ("a", "b"), [("r1", "Row 1", 1.0)])


def test_comparison_table_puts_paper_full_and_this_run_side_by_side(isolated, toy_experiment):
    from weightspace.report import Reference, comparison_table

    quick = experiments.run("toy.exp")
    full = experiments.run("toy.exp", profile="full")
    table = comparison_table([Reference("Table 9", "a", "x", 0.5), Reference("Table 9", "b", "x", 2.0)], quick, "t")
    assert list(table["paper"]) == [0.5, 2.0]
    assert table.loc[0, "this run (quick)"] == 1.0 and table.loc[0, "difference"] == 0.5
    assert table.loc[0, "full (ours)"] == full.tables["t"][0]["x"]
    assert table.loc[1, "note"] == "not in this run"


def test_experiments_are_discovered_per_paper_and_section():
    assert {"neuron_embedding.table1", "neuron_embedding.table2", "neuron_embedding.cross_model"} <= set(
        experiments.names())
    assert all(not name.split(".")[1].startswith("_") for name in experiments.names())


def test_code_version_of_a_paper_ignores_the_other_papers(tmp_path, monkeypatch):
    for rel in ("core.py", "a/model.py", "b/model.py", "experiments/a/t1.py", "experiments/b/t1.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    monkeypatch.setattr(results, "_PACKAGE_DIR", tmp_path)

    def versions():
        results.code_version.cache_clear()
        return {p: results.code_version(p) for p in ("a", "b", None)}

    before = versions()
    (tmp_path / "b/model.py").write_text("x = 2\n")
    after_b = versions()
    assert after_b["a"] == before["a"] and after_b["b"] != before["b"] and after_b[None] != before[None]
    (tmp_path / "core.py").write_text("x = 3\n")
    after_core = versions()
    assert all(after_core[p] != after_b[p] for p in after_core)
    results.code_version.cache_clear()


def test_a_full_only_experiment_refuses_the_quick_profile_by_name():
    assert experiments.profiles("nern.imagenet") == ("full",)
    assert experiments.profiles("r2r.preservation") == ("quick", "full")
    with pytest.raises(ValueError, match=r"nern\.imagenet runs at the full profile only"):
        experiments.config("nern.imagenet", "quick")


def test_presentational_modules_leave_the_code_hash_unchanged(tmp_path, monkeypatch):
    for rel in ("core.py", "plotting.py", "report.py", "claims.py", "a/reference.py", "a/model.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    (tmp_path / "experiments" / "a").mkdir(parents=True)
    monkeypatch.setattr(results, "_PACKAGE_DIR", tmp_path)
    results.code_version.cache_clear()
    before = results.code_version("a")
    for rel in ("plotting.py", "report.py", "claims.py", "a/reference.py"):
        (tmp_path / rel).write_text("x = 2  # presentation only\n")
        results.code_version.cache_clear()
        assert results.code_version("a") == before, rel
    (tmp_path / "a/model.py").write_text("x = 2\n")
    results.code_version.cache_clear()
    assert results.code_version("a") != before
    results.code_version.cache_clear()
