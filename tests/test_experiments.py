"""The neuron-embedding experiments end to end on tiny synthetic data, at both profiles."""

import json

import pytest
import torch

from weightspace import experiments
from weightspace.data import DatasetNotFoundError, ImageData, Split
from weightspace.experiments.neuron_embedding import _table1, cross_model, table1, table1_cifar10, table2
from weightspace.neuron_embedding import training
from weightspace.training import TrainConfig

NEURON_EMBEDDING = [f"neuron_embedding.{s}" for s in ("table1", "table1_cifar10", "table2", "cross_model")]


def _fake(name, n_train=64, n_eval=32):
    shape = (3, 32, 32) if name.startswith("cifar") else (1, 28, 28)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n_train + n_eval, *shape, generator=g), torch.randint(0, 10, (n_train + n_eval,), generator=g)
    return ImageData(name, Split(x[:n_train], y[:n_train]), Split(x[n_train:], y[n_train:]), 10,
                     {"dataset": name, "split": f"synthetic {name}-shaped data (test)"})


@pytest.mark.parametrize("name,profile", [(n, p) for n in experiments.names() for p in experiments.profiles(n)])
def test_every_config_is_a_valid_recipe(name, profile):
    cfg = experiments.config(name, profile)
    recipes = cfg.get("recipes") or ({"reference": cfg["reference"]} if "reference" in cfg else {})
    for recipe in recipes.values():
        TrainConfig(**recipe)


def test_full_table1_cifar10_rows_run_on_cifar_shaped_data(isolated, monkeypatch):
    monkeypatch.setattr(_table1.datasets, "load", lambda name, split: _fake(name))
    tiny = {"steps": 2, "batch_size": 16, "lr": 2e-4, "optimizer": "sgd", "schedule": "linear", "eval_every": 1}
    result = experiments.run("neuron_embedding.table1_cifar10", "full", recipes={"cifar10": tiny},
                             selection_holdout=16)
    rows = {r["row"]: r for r in result.tables["table1"]}
    assert list(rows) == ["resnet9-direct", "resnet9-sep", "resnet9-emb"]
    for row in rows.values():
        assert row["status"] == "" and 0 <= row["accuracy"] <= 100
    assert rows["resnet9-emb"]["parameters"] == 98298


def test_full_table1_mnist_rows_run_without_cifar10(isolated, monkeypatch):
    def mnist_only(name, split):
        if name != "mnist":
            raise DatasetNotFoundError(f"{name} not found: set WEIGHTSPACE_DATA")
        return _fake(name)

    monkeypatch.setattr(_table1.datasets, "load", mnist_only)
    tiny = {"steps": 2, "batch_size": 16, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 1}
    result = experiments.run("neuron_embedding.table1", "full", recipes={"mnist-fc": tiny, "mnist-conv": tiny},
                             selection_holdout=16)
    rows = {r["row"]: r for r in result.tables["table1"]}
    assert list(rows) == list(table1.ROWS) and len(rows) == 7
    assert all(r["status"] == "" and 0 <= r["accuracy"] <= 100 for r in rows.values())
    assert result.data["datasets"].keys() == {"mnist"}


def test_table1_rows_run_apart_so_runs_of_some_rows_join_into_the_whole_table(isolated, monkeypatch):
    from weightspace import report

    monkeypatch.setattr(_table1.datasets, "load", lambda name, split: _fake(name))
    tiny = {"steps": 3, "batch_size": 16, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 1}
    settings = {"recipes": {"mnist-fc": tiny, "mnist-conv": tiny}, "selection_holdout": 16}
    whole = experiments.run("neuron_embedding.table1", "full", **settings)
    for path in (isolated / "results").rglob("*.json"):
        path.unlink()
    assert report.committed("full", "neuron_embedding.table1") is None
    parts = [["conv-sep", "fc2-direct"], ["fc2-emb", "fc5-direct", "fc5-emb"], ["conv-direct", "conv-emb"]]
    for rows in parts:
        experiments.run("neuron_embedding.table1", "full", rows=rows, **settings)
    last = max((isolated / "results").rglob("*.json"), key=lambda path: path.stat().st_mtime_ns)
    stored = json.loads(last.read_text())
    stored["provenance"]["device"] = "another machine"  # a part run elsewhere (another thread count, say)
    last.write_text(json.dumps(stored))
    joined = report.committed("full", "neuron_embedding.table1")
    assert joined is not None and joined.overrides == settings and not report.stale(joined)
    assert "another machine" in joined.provenance["device"].split("; ") and "; " in joined.provenance["device"]
    assert joined.config["rows"] == list(table1.ROWS) and len(joined.provenance["parts"]) == 3
    timeless = [{k: v for k, v in rec.items() if k != "train_time_s"} for rec in whole.tables["table1"]]
    assert [{k: v for k, v in rec.items() if k != "train_time_s"} for rec in joined.tables["table1"]] == timeless
    assert joined.metrics == whole.metrics and joined.curves.keys() == whole.curves.keys()
    experiments.run("neuron_embedding.table1", "full", rows=["conv-sep"], **{**settings, "selection_holdout": 8})
    assert report.committed("full", "neuron_embedding.table1") is None, "a part run otherwise does not join"


def test_table1_cifar10_rows_are_full_profile_only():
    assert experiments.profiles("neuron_embedding.table1_cifar10") == ("full",)
    assert experiments.profiles("neuron_embedding.table1") == ("quick", "full")
    with pytest.raises(ValueError, match="runs at the full profile only, not 'quick'"):
        experiments.config("neuron_embedding.table1_cifar10", "quick")


def test_table1_without_its_data_stops_before_training_and_writes_nothing(isolated, monkeypatch):
    def missing(name, split):
        raise DatasetNotFoundError(f"{name} not found: set WEIGHTSPACE_DATA")

    monkeypatch.setattr(_table1.datasets, "load", missing)
    with pytest.raises(DatasetNotFoundError, match="cifar10 not found: set WEIGHTSPACE_DATA"):
        experiments.run("neuron_embedding.table1_cifar10", "full")
    assert not list((isolated / "results").rglob("*.json"))


def test_unknown_table1_row_fails_clearly(isolated):
    with pytest.raises(ValueError, match="names unknown Table 1 rows \\['resnet50'\\]"):
        experiments.run("neuron_embedding.table1", rows=["resnet50"])
    with pytest.raises(ValueError, match="unknown Table 1 rows \\['resnet9-emb'\\]: this experiment's rows are "
                                         "fc2-direct, "):
        experiments.run("neuron_embedding.table1", rows=["resnet9-emb"])


def test_cross_model_endpoints_are_the_two_networks(isolated, monkeypatch):
    monkeypatch.setattr(cross_model.datasets, "load", lambda name, split: _fake(name, 256, 200))
    ref = {"steps": 8, "batch_size": 32, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 4}
    result = experiments.run("neuron_embedding.cross_model", reference=ref, fit_steps=20, repeats=3,
                             fractions=[0.0, 0.5, 1.0], alphas=[0.0, 0.5, 1.0])
    curves = result.curves
    for row in result.tables["table3"]:
        enc = row["row"]
        assert curves[f"interpolation_{enc}"][0] == pytest.approx(row["target"])
        assert curves[f"interpolation_{enc}"][-1] == pytest.approx(row["source"])
        assert curves[f"crossover_{enc}_mean"][0] == pytest.approx(row["target"])
        assert curves[f"crossover_{enc}_ci95"][0] == pytest.approx(0.0)


def test_cross_model_source_input_readings(isolated, monkeypatch):
    """The paper copies the target's input embeddings into the source "before fitting": each reading of that."""
    monkeypatch.setattr(cross_model.datasets, "load", lambda name, split: _fake(name, 256, 200))
    ref = {"steps": 8, "batch_size": 32, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 4}
    small = {"reference": ref, "fit_steps": 20, "repeats": 2, "fractions": [0.0, 1.0], "alphas": [0.0, 1.0]}
    drift = {r: experiments.run("neuron_embedding.cross_model", source_inputs=r, **small).metrics["source_input_drift"]
             for r in cross_model.SOURCE_INPUTS}
    assert drift["shared"] == 0.0  # the same tensors, frozen
    assert drift["copied"] > 0.0 and drift["initial"] > 0.0  # each fit moved its own copy
    with pytest.raises(ValueError, match="source_inputs = 'frozen' is not allowed: choose one of shared, copied"):
        experiments.run("neuron_embedding.cross_model", source_inputs="frozen", **small)


def test_table2_rows_follow_the_dimensions(isolated, monkeypatch):
    monkeypatch.setattr(table2.datasets, "load", lambda name, split: _fake(name, 256, 64))
    ref = {"steps": 4, "batch_size": 32, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 2}
    result = experiments.run("neuron_embedding.table2", reference=ref, fit_steps=30, dims=[16, 4])
    rows = {r["row"]: r for r in result.tables["table2"]}
    assert rows["d16"]["parameters"] == 1194 * 16 and rows["d4"]["parameters"] == 4776
    assert rows["d16"]["mse"] < rows["d4"]["mse"]
    assert all(rows[d]["mse"] >= rows[d]["svd_mse"] > 0 for d in ("d16", "d4"))  # no fit beats the SVD optimum


def test_full_table1_recipes_are_the_authors():
    resnet9 = experiments.config("neuron_embedding.table1_cifar10", "full")
    cifar = resnet9["recipes"]["cifar10"]
    assert (resnet9["loss"]["cifar10"], resnet9["flip"]["cifar10"]) == ("sum", True)
    assert (cifar["optimizer"], cifar["nesterov"], cifar["momentum"], cifar["schedule"], cifar["lr"],
            cifar["batch_size"], cifar["weight_decay"], cifar["steps"]) == (
        "sgd", True, 0.9, "linear", 2e-4, 512, 0.512, 2000)
    assert resnet9["selection_holdout"] == 10_000 and resnet9["split"] == {"cifar10": "standard"}
    line = table1_cifar10.summary(resnet9)
    assert "sum-reduced" in line and "weight decay 0.512" in line and "random horizontal flips" in line
    mnist = experiments.config("neuron_embedding.table1", "full")
    for key in ("mnist-fc", "mnist-conv"):
        r = mnist["recipes"][key]
        assert (r["optimizer"], r["schedule"], r["lr"], r["batch_size"], r["steps"]) == (
            "adam", "one_cycle", 0.01, 1000, 2000)
        assert mnist["loss"][key] == "mean" and not mnist["flip"][key]
    assert mnist["split"] == {"mnist": "standard"}
    assert mnist["selection_holdout"] == 10_000, "the best step is chosen on 10,000 held-out training images"
    assert "10,000 held-out training images, reported on the test split" in table1.summary(mnist)
    assert experiments.config("neuron_embedding.table1", "quick")["selection_holdout"] == 0


def test_table1_selects_on_held_out_training_images_and_reports_the_test_split():
    x, y = torch.randn(30, 1, 4, 4), torch.arange(30) % 10
    data = ImageData("toy", Split(x[:20], y[:20]), Split(x[20:], y[20:]), 10, {})
    select, report = training.selection_split(data, 5)
    assert (len(select.train), len(select.eval), len(report)) == (15, 5, 10)
    assert report is data.eval
    together = torch.cat([select.train.x, select.eval.x])
    assert torch.equal(together.sort(0).values, data.train.x.sort(0).values), "every training image used once"
    flipped = training.flip_horizontally(x, torch.Generator().manual_seed(0))
    mirrored = [torch.equal(f, xi.flip(-1)) for f, xi in zip(flipped, x)]
    assert all(m or torch.equal(f, xi) for m, f, xi in zip(mirrored, flipped, x)) and 5 < sum(mirrored) < 25


@pytest.mark.parametrize("name,profile", [(n, p) for n in NEURON_EMBEDDING for p in experiments.profiles(n)])
def test_every_config_names_its_data_split(name, profile):
    from weightspace.data import check_split

    cfg = experiments.config(name, profile)
    splits = cfg["split"] if isinstance(cfg["split"], dict) else {cfg["dataset"]: cfg["split"]}
    for dataset, split in splits.items():
        check_split(dataset, split)
    assert ("test-8k/2k" in splits.values()) == (profile == "quick"), "quick runs the 8k/2k cut of MNIST's test set"


def test_shared_presets_are_one_object_picked_by_name():
    from weightspace.experiments.neuron_embedding._presets import FIT, RECIPES, recipe

    for profile, rows, reference in (("quick", "mnist-quick", "mnist-reference-quick"), ("full", "mnist", "mnist")):
        assert experiments.config("neuron_embedding.table2", profile)["reference"] == RECIPES[reference]
        assert experiments.config("neuron_embedding.cross_model", profile)["reference"] == RECIPES[reference]
        assert experiments.config("neuron_embedding.table1", profile)["recipes"]["mnist-fc"] == RECIPES[rows]
        for section in ("table2", "cross_model"):
            cfg = experiments.config(f"neuron_embedding.{section}", profile)
            assert {k: cfg[k] for k in FIT} == FIT
    with pytest.raises(KeyError, match="unknown training recipe 'mnist-slow'.*mnist-quick"):
        recipe("mnist-slow")


def test_table1_rows_left_out_by_the_config_are_listed_with_their_counts(isolated, monkeypatch):
    monkeypatch.setattr(_table1.datasets, "load", lambda name, split: _fake(name))
    tiny = {"steps": 2, "batch_size": 16, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 1}
    cfg = experiments.config("neuron_embedding.table1", "quick")
    result = experiments.run("neuron_embedding.table1", rows=["fc2-emb"],
                             recipes={**cfg["recipes"], "mnist-fc": tiny})
    rows = {r["row"]: r for r in result.tables["table1"]}
    assert list(rows) == list(table1.ROWS)
    assert rows["fc2-emb"]["status"] == "" and rows["fc2-emb"]["best_step"] in (1, 2)
    assert rows["conv-emb"]["status"] == "not run: not among the config's rows (needs MNIST)"
    assert rows["conv-emb"]["parameters"] == 51598
    assert "quick" not in rows["fc2-direct"]["status"], "the status follows the config, not the profile"
    assert result.metrics["fc2-direct"] is None and result.metrics["fc2-emb"] == rows["fc2-emb"]["accuracy"]


@pytest.mark.parametrize("overrides,message", [
    ({"split": {"cifar10": "standard"}}, "setting 'split' = .* has no split for 'mnist', which rows "
     "\\['fc2-direct', "),
    ({"split": {"mnist": "test-5k"}}, "mnist has no split 'test-5k'"),
    ({"recipes": {"mnist-fc": {"steps": 2, "batch_size": 16, "lr": 0.01}}}, "setting 'recipes' has no entry "
     "'mnist-conv', which rows \\['conv-direct', 'conv-sep', 'conv-emb'\\] need"),
    ({"loss": {"mnist-fc": "max", "mnist-conv": "mean"}}, "'loss.mnist-fc' is not allowed: loss reduction"),
])
def test_table1_bad_settings_fail_before_loading_data(isolated, monkeypatch, overrides, message):
    def never(name, split):
        raise AssertionError("data loaded before the settings were checked")

    monkeypatch.setattr(_table1.datasets, "load", never)
    with pytest.raises(ValueError, match=message):
        experiments.run("neuron_embedding.table1", **overrides)


def test_table2_repeated_dimension_fails_before_training(isolated, monkeypatch):
    monkeypatch.setattr(table2.datasets, "load", lambda name, split: _fake(name))
    with pytest.raises(ValueError, match="setting 'dims' = \\[8, 4, 8\\] repeats \\[8\\]"):
        experiments.run("neuron_embedding.table2", dims=[8, 4, 8])


def test_trained_reference_is_cached_by_its_inputs_not_the_profile(isolated, monkeypatch):
    from weightspace.results import Checkpoint

    data = _fake("mnist", 64, 32)
    recipe = {"steps": 4, "batch_size": 16, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 2}
    calls = []
    train = training.train_classifier
    monkeypatch.setattr(training, "train_classifier", lambda *a, **k: calls.append(1) or train(*a, **k))
    tags = []

    def checkpoint(tag):
        tags.append(tag)
        return Checkpoint(isolated / "checkpoints" / f"{tag}.pt")

    net, outcome = training.trained_reference(data, recipe, 3, torch.device("cpu"), checkpoint)
    again, cached = training.trained_reference(data, recipe, 3, torch.device("cpu"), checkpoint)
    assert len(calls) == 1 and tags == ["reference-seed3"], "trained once, then loaded"
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    assert (cached.accuracy, cached.best_step, len(cached.curve)) == (outcome.accuracy, outcome.best_step, 2)
    assert not net.training
    training.trained_reference(data, recipe, 4, torch.device("cpu"), checkpoint)
    assert len(calls) == 2, "another seed is another network"
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'"):
        training.trained_reference(data, {**recipe, "optimizer": "adagrad"}, 3, torch.device("cpu"), checkpoint)
