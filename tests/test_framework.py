"""Experiments, results, training loop and CLI: caching, atomic writes, resume, clear errors."""

import dataclasses
import json
import sys
import types

import numpy as np
import pytest
import torch

from weightspace import experiments, isa, results
from weightspace.cli import main
from weightspace.data import ImageData, Split
from weightspace.experiments import Outputs
from weightspace.tables import Row, Table, TableContractError
from weightspace.training import TrainConfig, train_classifier


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToyRow(Row):
    x: float


@pytest.fixture
def toy_experiment(monkeypatch):
    module = types.ModuleType("toy")
    module.TITLE = "toy"
    module.calls = 0
    module.config = lambda profile: {"n": 3 if profile == "quick" else 30, "rows": ["a", "b"]}
    module.TABLES = {"t": Table(ToyRow, rows=lambda cfg: cfg["rows"])}
    module.produce = None  # a test may make compute return other rows

    def compute(cfg, ctx):
        module.calls += 1
        rows = module.produce or [ToyRow(row=r, x=1.0 + i) for i, r in enumerate(cfg["rows"])]
        return Outputs(metrics={"value": torch.rand(()).item() + cfg["n"]}, tables={"t": rows},
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
    assert main(["run", "toy.exp", "--seed", "2"]) == 0
    assert main(["run", "toy.exp", "--seed", "2", "--set", "n=5"]) == 0
    path = results.result_path("quick", "toy.exp", seed=2, overrides={"n": 5})
    assert path.name.startswith("exp-seed2-set") and str(path) in capsys.readouterr().out
    stored = json.loads(path.read_text())
    assert stored["seed"] == 2 and stored["config"]["n"] == 5 and stored["overrides"] == {"n": 5}
    default = json.loads(results.result_path("quick", "toy.exp", seed=2).read_text())
    assert default["config"]["n"] == 3, "a run with --set must not replace the default result"


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

    refs = references("Table 9", ("a", "b"), [("r1", "Row 1", 1.0, None), ("r2", "Row 2", 2.0, 3.0)], data="MNIST")
    assert [(r.row, r.metric, r.value) for r in refs] == [("r1", "a", 1.0), ("r2", "a", 2.0), ("r2", "b", 3.0)]
    assert {r.data for r in refs} == {"MNIST"}
    with pytest.raises(ValueError):
        references("Table 9", ("a", "b"), [("r1", "Row 1", 1.0)], data="MNIST")


def test_comparison_table_puts_paper_full_and_this_run_side_by_side(isolated, toy_experiment):
    from weightspace.report import Reference, comparison_table

    quick = experiments.run("toy.exp", rows=["a"])  # row "b" left out by an override
    full = experiments.run("toy.exp", profile="full")
    table = comparison_table([Reference("Table 9", "a", "x", 0.5), Reference("Table 9", "b", "x", 2.0)], quick, "t")
    assert list(table["paper"]) == [0.5, 2.0]
    assert table.loc[0, "this run (quick)"] == 1.0 and table.loc[0, "full (ours)"] == full.tables["t"][0]["x"]
    assert table.loc[1, "note"] == "not in this run"
    # the references name no dataset: neither run measures what the paper did, so no difference is shown
    assert table["difference"].isna().all()


def test_a_cpu_result_has_its_own_column_and_never_a_difference(isolated, toy_experiment):
    from weightspace.report import Reference, comparison_table, side_by_side, stand_in

    toy_experiment.config = lambda profile: {"n": {"quick": 3, "cpu": 10, "full": 30}[profile], "rows": ["a", "b"]}
    toy_experiment.produce = [ToyRow(row="a", x=7.0), ToyRow(row="b", x=8.0)]
    ref = [Reference("Table 9", "a", "x", 0.5, data=None)]  # a property: comparable wherever it is computed
    with pytest.raises(ValueError, match="quick and full profile only"):
        experiments.run("toy.exp", profile="cpu")
    toy_experiment.PROFILES = ("quick", "cpu", "full")
    cpu = experiments.run("toy.exp", profile="cpu")
    assert f"{experiments.QUICK_THREADS} of " in cpu.provenance["device"]  # pinned on one thread, like quick
    assert isa.wanted("cpu") == isa.wanted("quick")  # the same pinned kernels
    toy_experiment.produce = None
    quick = experiments.run("toy.exp")
    table = comparison_table([Reference("Table 9", "a", "x", 0.5, data="MNIST")], quick, "t")
    assert table.loc[0, "cpu (ours)"] == 7.0 and np.isnan(table.loc[0, "full (ours)"])
    assert table["difference"].isna().all()  # neither a quick nor a cpu run measures what the paper did
    assert ("x", "cpu (ours)") in side_by_side(table).data.columns
    assert comparison_table(ref, quick, "t", cpu=None)["cpu (ours)"].isna().all()
    assert "The cpu column is our CPU-scale tier (seed 0)" in stand_in(ref, quick)
    assert "cpu column" not in stand_in(ref, quick, cpu=None)


def test_the_one_full_run_with_overrides_fills_the_full_column_and_the_note_says_how_it_ran(isolated, toy_experiment):
    from weightspace.report import Reference, comparison_table, stand_in

    quick = experiments.run("toy.exp")
    refs = [Reference("Table 9", "a", "x", 0.5, data="MNIST")]
    assert np.isnan(comparison_table(refs, quick, "t").loc[0, "full (ours)"])
    variant = experiments.run("toy.exp", profile="full", rows=["a"])
    assert comparison_table(refs, quick, "t").loc[0, "full (ours)"] == variant.tables["t"][0]["x"]
    note = stand_in(refs, quick)
    assert 'the setting rows = ["a"]' in note and "no difference either" in note
    experiments.run("toy.exp", profile="full", rows=["b"])  # two variants: none is chosen for the reader
    assert np.isnan(comparison_table(refs, quick, "t").loc[0, "full (ours)"])


def test_a_difference_is_shown_only_where_data_and_architecture_are_the_papers(isolated, toy_experiment):
    from weightspace.report import Reference, comparison_table, side_by_side

    def make(cfg, ctx):
        return Outputs(tables={"t": [ToyRow(row=r, x=1.0) for r in cfg["rows"]]}, data={"dataset": "MNIST"})

    toy_experiment.compute = make
    quick, full = experiments.run("toy.exp"), experiments.run("toy.exp", profile="full")
    on_mnist, on_cifar = Reference("Table 9", "a", "x", 0.5, data="MNIST"), Reference("Table 9", "b", "x", 2.0,
                                                                                     data="CIFAR-10")
    property_ = Reference("Table 9", "a", "x", 0.75, data=None)  # of the architecture: any run measures it
    table = comparison_table([on_mnist, on_cifar, property_], quick, "t", full=full)
    assert list(table["difference"].fillna(-1)) == [0.5, -1, 0.25]  # full - paper on MNIST; none on CIFAR-10
    assert comparison_table([on_mnist], quick, "t", full=None)["difference"].isna().all()  # quick stands in
    shown = side_by_side(comparison_table([on_cifar], quick, "t", full=None)).data
    assert "difference" not in {c for _, c in shown.columns}, "an all-dash column is left out"
    html = side_by_side(comparison_table([on_mnist, on_cifar], quick, "t", full=full), percent=("x",)).to_html()
    assert "x (%)" in html and "50.00" in html and "nan" not in html.lower()  # 0.5 shown as 50.00, a dash for none


def test_the_table_contract_fails_on_a_misspelled_row_id(isolated, toy_experiment):
    from weightspace.report import Reference, comparison_table

    result = experiments.run("toy.exp")
    with pytest.raises(TableContractError, match=r"the paper's rows 'bb' are not rows of toy.exp table 't'.*'a', 'b'"):
        comparison_table([Reference("Table 9", "a", "x", 0.5), Reference("Table 9", "bb", "x", 2.0)], result, "t")
    with pytest.raises(TableContractError, match="declares no table 'tt'"):
        comparison_table([Reference("Table 9", "a", "x", 0.5)], result, "tt")


@pytest.mark.parametrize("produce, message", [
    ([ToyRow(row="a", x=1.0)], r"missing 'b'"),
    ([ToyRow(row="a", x=1.0), ToyRow(row="b", x=1.0), ToyRow(row="c", x=1.0)], r"undeclared 'c'"),
    ([ToyRow(row="a", x=1.0), ToyRow(row="a", x=1.0), ToyRow(row="b", x=1.0)], r"repeated 'a'"),
    ([{"row": "a", "x": 1.0}, {"row": "b", "x": 1.0}], r"rows must be ToyRow records, got dict"),
])
def test_a_run_whose_rows_differ_from_the_declared_ones_fails_with_the_names(isolated, toy_experiment, produce,
                                                                             message):
    toy_experiment.produce = produce
    with pytest.raises(TableContractError, match=rf"toy.exp table 't'.*{message}"):
        experiments.run("toy.exp")
    assert not results.result_path("quick", "toy.exp").exists()


def test_a_stored_table_is_held_to_the_declared_record(isolated, toy_experiment):
    experiments.run("toy.exp")
    path = results.result_path("quick", "toy.exp")
    record = json.loads(path.read_text())
    record["tables"]["t"][0]["accuracy"] = 1.0
    path.write_text(json.dumps(record))
    with pytest.raises(results.ResultFileError, match=rf"{path}: .*fields .*'accuracy'.*not those of ToyRow"):
        experiments.run("toy.exp")
    assert experiments.run("toy.exp", recompute=True).tables["t"][0] == {"row": "a", "status": "", "x": 1.0}


def test_experiments_are_discovered_per_paper_and_section():
    assert {"neuron_embedding.table1", "neuron_embedding.table2", "neuron_embedding.cross_model"} <= set(
        experiments.names())
    assert all(not name.split(".")[1].startswith("_") for name in experiments.names())


def _package(tmp_path, files):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)


def test_the_code_hash_follows_the_imports_of_the_experiment(tmp_path, monkeypatch):
    _package(tmp_path, {
        "__init__.py": "", "core.py": "x = 1\n", "plotting.py": "x = 1\n", "unused.py": "x = 1\n",
        "a/__init__.py": "", "a/model.py": "from weightspace.core import x\n", "a/reference.py": "v = 1\n",
        "b/__init__.py": "", "b/model.py": "x = 1\n",
        "experiments/__init__.py": "", "experiments/a/__init__.py": "",
        "experiments/a/t1.py": '"""Section 1."""\nfrom weightspace.a import model\nfrom weightspace.a.reference import v\n',
        "experiments/a/t2.py": '"""Section 2."""\nfrom . import t1\n',
        "experiments/b/__init__.py": "", "experiments/b/t1.py": "from ...b.model import x\n",
    })
    monkeypatch.setattr(results, "_PACKAGE_DIR", tmp_path)

    def versions():
        results.code_version.cache_clear()
        return {s: results.code_version(s) for s in ("a.t1", "a.t2", "b.t1", "a")}

    before = versions()
    assert "weightspace.core" in results.scope_modules("a.t1") and "weightspace.b.model" in results.scope_modules("b.t1")
    for rel, text in (("plotting.py", "x = 2\n"), ("a/reference.py", "v = 2\n"), ("unused.py", "x = 2\n"),
                      ("experiments/a/t2.py", '"""Section 2."""\nfrom . import t1\nSTEPS = 2\n')):
        _package(tmp_path, {rel: text})
        after = versions()
        assert after["a.t1"] == before["a.t1"] and after["b.t1"] == before["b.t1"], rel
    assert after["a.t2"] != before["a.t2"], "a section's own source is part of its hash"
    for text in ('"""Core values, reworded."""\nx = 1  # a comment\n\n', "# header\nx = 1\n"):
        _package(tmp_path, {"core.py": text})  # a docstring, a comment, a blank line: nothing that computes
        assert versions() == after, text
    _package(tmp_path, {"core.py": "x = 3\n"})  # a function the experiment calls, two imports away
    changed = versions()
    assert changed["a.t1"] != after["a.t1"] and changed["a"] != after["a"] and changed["b.t1"] == after["b.t1"]
    results.code_version.cache_clear()



def test_a_full_only_experiment_refuses_the_quick_profile_by_name():
    assert experiments.profiles("nern.imagenet") == ("full",)
    assert experiments.profiles("r2r.preservation") == ("quick", "full")
    with pytest.raises(ValueError, match=r"nern\.imagenet runs at the full profile only"):
        experiments.config("nern.imagenet", "quick")


def test_a_stored_file_claiming_another_run_is_named_and_replaced_under_recompute(isolated, toy_experiment):
    experiments.run("toy.exp")
    path = results.result_path("quick", "toy.exp")
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "seed": 7, "metrics": {"value": 99.0}}))
    with pytest.raises(results.ResultFileError, match=rf"{path}.*seed 7 \(expected 0\).*--recompute"):
        experiments.run("toy.exp")
    fresh = experiments.run("toy.exp", recompute=True)
    assert fresh.seed == 0 and fresh.metrics["value"] != 99.0
    path.write_text(json.dumps({**record, "config": {**record["config"], "n": 4}}))  # the hash no longer describes the config
    with pytest.raises(results.ResultFileError, match="config does not match"):
        experiments.run("toy.exp")


def test_a_corrupt_result_file_is_named_and_recomputed_under_recompute(isolated, toy_experiment):
    experiments.run("toy.exp")
    path = results.result_path("quick", "toy.exp")
    path.write_text('{"experiment": "toy.exp", "prof')
    with pytest.raises(results.ResultFileError, match=rf"{path}: not a readable result file"):
        experiments.run("toy.exp")
    assert experiments.run("toy.exp", recompute=True).experiment == "toy.exp"
    assert results.read_result(path).seed == 0
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_corrupt_artifact_or_checkpoint_is_named_and_remade_under_recompute(isolated):
    results.load_or_make("toy", {"a": 1}, lambda: {"w": 1})
    (path,) = (results.cache_dir() / "toy").glob("*.pt")
    path.write_bytes(b"not a torch file")
    with pytest.raises(results.ResultFileError, match=rf"{path}: a corrupt or unreadable cached toy"):
        results.load_or_make("toy", {"a": 1}, lambda: {"w": 1})
    token = results.RECOMPUTING.set(True)
    try:
        assert results.load_or_make("toy", {"a": 1}, lambda: {"w": 2}) == {"w": 2}
        ckpt = results.Checkpoint(isolated / "c.pt")
        ckpt.path.write_bytes(b"truncated")
        assert ckpt.load() is None
    finally:
        results.RECOMPUTING.reset(token)
    with pytest.raises(results.ResultFileError, match="c.pt: a corrupt or unreadable checkpoint"):
        ckpt.load()


@pytest.mark.parametrize("overrides, message", [
    ({"n": 0}, "'n' = 0 is not allowed: it takes a positive whole number"),
    ({"n": 2.5}, "'n' = 2.5 is not allowed: it takes a whole number"),
    ({"n": True}, "'n' = True is not allowed: it takes a whole number"),
])
def test_overrides_are_checked_against_the_setting_they_replace(isolated, toy_experiment, overrides, message):
    with pytest.raises(ValueError, match=message):
        experiments.run("toy.exp", **overrides)
    assert toy_experiment.calls == 0, "nothing may run before the settings are checked"


def test_override_kinds_follow_the_defaults():
    check = experiments.check_override
    with pytest.raises(ValueError, match="a learning rate must be positive"):
        check("recipe.lr", 0.0, 1e-3)
    with pytest.raises(ValueError, match="finite number"):
        check("lr", float("nan"), 1e-3)
    with pytest.raises(ValueError, match="non-empty list"):
        check("widths", [], [784, 32, 10])
    with pytest.raises(ValueError, match=r"'widths\[1\]' = 0 .* positive whole number"):
        check("widths", [784, 0, 10], [784, 32, 10])
    with pytest.raises(ValueError, match="true or false"):
        check("flip", "false", False)
    assert check("archs", {"resnet20": [8]}, {"resnet20": [32], "resnet56": [64]}) == {"resnet20": [8]}
    with pytest.raises(ValueError, match=r"'train.lr' = -1.0 .* a learning rate must be positive"):
        check("train", {"lr": -1.0, "steps": 10}, {"lr": 1e-3, "steps": 10})
    assert check("alpha", 0, 1e-5) == 0.0, "a positive float may be switched off with 0"
    assert check("offset", -0.5, 0.0) == -0.5


def test_notebook_parameters_are_checked_and_papermill_strings_understood(isolated, toy_experiment):
    experiments.run("toy.exp")
    assert experiments.run("toy.exp", recompute="false") is not None and toy_experiment.calls == 1
    experiments.run("toy.exp", recompute="True")
    assert toy_experiment.calls == 2
    with pytest.raises(ValueError, match="recompute = 'no' is not allowed"):
        experiments.run("toy.exp", recompute="no")
    with pytest.raises(ValueError, match="seed = -1 is not allowed"):
        experiments.run("toy.exp", seed=-1)


def test_an_unwritable_results_folder_is_reported_before_the_computation(isolated, toy_experiment, monkeypatch):
    blocked = isolated / "blocked"
    blocked.write_text("a file where the results folder should be")
    monkeypatch.setenv("WEIGHTSPACE_RESULTS", str(blocked))
    with pytest.raises(PermissionError, match=rf"results folder {blocked}.*WEIGHTSPACE_RESULTS"):
        experiments.run("toy.exp")
    assert toy_experiment.calls == 0


def test_library_inputs_are_checked_not_defaulted_or_wrapped():
    from weightspace.dws.space import WeightSpace
    from weightspace.neuron_embedding.models import FCNet, build
    from weightspace.r2r.transforms import _unit_index

    with pytest.raises(ValueError, match=r"positive whole numbers, got \[784, 0, 10\]"):
        FCNet([784, 0, 10])
    with pytest.raises(ValueError, match="embedding dimension must be a positive whole number, got 0"):
        build("fc2-emb", 0)
    space = WeightSpace((torch.randn(1, 1, 4, 2), torch.randn(1, 1, 1, 4)), (torch.randn(1, 1, 4), torch.randn(1, 1, 1)))
    with pytest.raises(ValueError, match=r"hidden layer 1 is not a permutation of range\(4\)"):
        space.permute([torch.tensor([0, 0, 0, 0])])
    with pytest.raises(ValueError, match=r"shape \[4\] or \[B, 4\]"):
        space.permute([torch.tensor([0, 1, 2])])
    assert _unit_index(-1, 2) == 1
    with pytest.raises(IndexError, match="unit 5 does not exist: the branch has 2 units"):
        _unit_index(5, 2)


def test_cli_says_whether_it_loaded_or_computed_and_rounds(isolated, toy_experiment, capsys):
    assert main(["run", "toy.exp"]) == 0
    first = capsys.readouterr().out
    assert "computed in" in first and "wrote" in first
    value = float(first.split("value: ")[1])
    assert len(repr(value).replace(".", "").lstrip("0")) <= 5, "metrics are printed to 4 significant digits"
    assert main(["run", "toy.exp"]) == 0
    assert "loaded stored result" in capsys.readouterr().out


def test_cli_shows_a_config_and_lists_full_only_experiments(capsys):
    assert main(["show", "r2r.neuroevolution"]) == 0
    assert json.loads(capsys.readouterr().out)["ne"]["iterations"] == 15
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "[full profile only]" in listed.split("nern.imagenet")[1].splitlines()[0]
    assert "notebook: notebooks/r2r/06_neuroevolution.ipynb" in listed


def test_an_empty_dict_cannot_replace_a_recipe():
    with pytest.raises(ValueError, match="'recipes' = {} is not allowed: it takes a non-empty dict"):
        experiments.check_override("recipes", {}, {"train": {"steps": 1}})


def test_a_stale_full_result_is_marked_in_the_comparison(isolated, toy_experiment):
    from weightspace.report import Reference, comparison_table, stale

    quick, full = experiments.run("toy.exp"), experiments.run("toy.exp", profile="full")
    ref = Reference("Table 9", "a", "x", 0.5, data=None)
    assert not stale(full) and "stale" not in comparison_table([ref], quick, "t", full=full).loc[0, "note"]
    old = dataclasses.replace(full, provenance={**full.provenance, "code_version": "an older code"})
    assert stale(old) and "stale" in comparison_table([ref], quick, "t", full=old).loc[0, "note"]


def test_training_flops_are_three_forward_passes_and_count_per_step_work_once():
    from weightspace import cost

    assert cost.training_flops(torch.nn.Linear(10, 5), (10,), steps=7, batch_size=32) == 3 * 7 * 32 * 2 * 10 * 5

    class Generated(torch.nn.Module):  # weights made once per step (Z Z^T, 2*8*8*4 FLOPs), then applied per image
        def __init__(self):
            super().__init__()
            self.z = torch.nn.Parameter(torch.randn(8, 4))

        def forward(self, x):
            return x @ (self.z @ self.z.T)

    assert cost.training_flops(Generated(), (8,), steps=5, batch_size=100) == 3 * 5 * (2 * 8 * 8 * 4 + 100 * 2 * 8 * 8)
    assert cost.gpu_minutes(60e12, tflops=1.0) == 1.0
    with pytest.raises(ValueError, match="must be positive"):
        cost.gpu_minutes(1.0, tflops=0)
