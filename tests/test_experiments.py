"""The neuron-embedding experiments end to end on tiny synthetic data, at both profiles."""

import pytest
import torch

from weightspace import experiments
from weightspace.data import DatasetNotFoundError, ImageData, Split
from weightspace.experiments.neuron_embedding import table1
from weightspace.training import TrainConfig


def _fake(name, n_train=64, n_eval=32):
    shape = (3, 32, 32) if name.startswith("cifar") else (1, 28, 28)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n_train + n_eval, *shape, generator=g), torch.randint(0, 10, (n_train + n_eval,), generator=g)
    return ImageData(name, Split(x[:n_train], y[:n_train]), Split(x[n_train:], y[n_train:]), 10,
                     {"dataset": name, "split": f"synthetic {name}-shaped data (test)"})


@pytest.mark.parametrize("name,profile", [(n, p) for n in experiments.names() for p in experiments.profiles(n)])
def test_every_config_is_a_valid_recipe(name, profile):
    cfg = experiments.config(name, profile)
    recipes = cfg.get("recipes", {"reference": cfg.get("reference")})
    for recipe in recipes.values():
        TrainConfig(**recipe)


def test_full_table1_path_runs_resnet9_rows_on_cifar_shaped_data(isolated, monkeypatch):
    monkeypatch.setattr(table1.datasets, "load", lambda name, profile: _fake(name))
    tiny = {"steps": 2, "batch_size": 16, "lr": 2e-4, "optimizer": "sgd", "schedule": "linear", "eval_every": 1}
    cfg = experiments.config("neuron_embedding.table1", "full")
    result = experiments.run("neuron_embedding.table1", "full",
                             rows=["resnet9-direct", "resnet9-sep", "resnet9-emb"],
                             recipes={**cfg["recipes"], "cifar10": tiny}, selection_holdout=16)
    rows = {r["row"]: r for r in result.tables["table1"]}
    assert len(rows) == 10
    for row in ("resnet9-direct", "resnet9-sep", "resnet9-emb"):
        assert rows[row]["status"] == "" and 0 <= rows[row]["accuracy"] <= 100
    assert rows["fc2-direct"]["status"].startswith("not run")
    assert rows["resnet9-emb"]["parameters"] == 98298


def test_table1_without_its_data_stops_before_training_and_writes_nothing(isolated, monkeypatch):
    def missing(name, profile):
        raise DatasetNotFoundError(f"{name} not found: set WEIGHTSPACE_DATA")

    monkeypatch.setattr(table1.datasets, "load", missing)
    with pytest.raises(DatasetNotFoundError, match="cifar10 not found: set WEIGHTSPACE_DATA"):
        experiments.run("neuron_embedding.table1", "full", rows=["resnet9-emb"])
    assert not list((isolated / "results").rglob("*.json"))


def test_unknown_table1_row_fails_clearly(isolated):
    with pytest.raises(ValueError, match="unknown Table 1 rows"):
        experiments.run("neuron_embedding.table1", rows=["resnet50"])


def test_cross_model_endpoints_are_the_two_networks(isolated, monkeypatch):
    from weightspace.experiments.neuron_embedding import cross_model

    monkeypatch.setattr(cross_model.datasets, "load_mnist", lambda profile: _fake("mnist", 256, 200))
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


def test_table2_rows_follow_the_dimensions(isolated, monkeypatch):
    from weightspace.experiments.neuron_embedding import table2

    monkeypatch.setattr(table2.datasets, "load_mnist", lambda profile: _fake("mnist", 256, 64))
    ref = {"steps": 4, "batch_size": 32, "lr": 0.01, "optimizer": "adam", "schedule": "one_cycle", "eval_every": 2}
    result = experiments.run("neuron_embedding.table2", reference=ref, fit_steps=30, dims=[16, 4])
    rows = {r["row"]: r for r in result.tables["table2"]}
    assert rows["d16"]["parameters"] == 1194 * 16 and rows["d4"]["parameters"] == 4776
    assert rows["d16"]["mse"] < rows["d4"]["mse"]


def test_full_table1_recipes_are_the_authors():
    cfg = experiments.config("neuron_embedding.table1", "full")
    cifar = cfg["recipes"]["cifar10"]
    assert (cfg["loss"]["cifar10"], cfg["flip"]["cifar10"]) == ("sum", True)
    assert (cifar["optimizer"], cifar["nesterov"], cifar["lr"], cifar["batch_size"], cifar["weight_decay"]) == (
        "sgd", True, 2e-4, 512, 0.512)
    assert cfg["loss"]["mnist-fc"] == "mean" and not cfg["flip"]["mnist-fc"]
    assert cfg["selection_holdout"] == 10_000, "the best step is chosen on 10,000 held-out training images"
    assert experiments.config("neuron_embedding.table1", "quick")["selection_holdout"] == 0


def test_table1_selects_on_held_out_training_images_and_reports_the_test_split():
    x, y = torch.randn(30, 1, 4, 4), torch.arange(30) % 10
    data = ImageData("toy", Split(x[:20], y[:20]), Split(x[20:], y[20:]), 10, {})
    select, report = table1.selection_split(data, 5)
    assert (len(select.train), len(select.eval), len(report)) == (15, 5, 10)
    assert report is data.eval
    together = torch.cat([select.train.x, select.eval.x])
    assert torch.equal(together.sort(0).values, data.train.x.sort(0).values), "every training image used once"
    flipped = table1.flip_horizontally(x, torch.Generator().manual_seed(0))
    mirrored = [torch.equal(f, xi.flip(-1)) for f, xi in zip(flipped, x)]
    assert all(m or torch.equal(f, xi) for m, f, xi in zip(mirrored, flipped, x)) and 5 < sum(mirrored) < 25
