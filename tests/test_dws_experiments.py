"""The DWSNets experiments end to end on tiny synthetic data, through their full-profile code paths."""

import pytest
import torch

from weightspace import data as datasets
from weightspace import experiments
from weightspace.data import DatasetNotFoundError, ImageData, Split
from weightspace.dws import adaptation, zoos
from weightspace.dws.inr import INRRecipe, fit_inrs, mnist_inr_targets
from weightspace.dws.models import METHODS
from weightspace.dws.space import Zoo
from weightspace.dws.zoos import ZooSplits, classifier_zoo

TINY = {"steps": 3, "batch_size": 8, "lr": 1e-3, "optimizer": "adamw", "schedule": "constant",
        "weight_decay": 5e-4, "eval_every": 1}
SMALL_MODELS = {"dwsnet": {"hidden": 4, "layers": 2, "head_hidden": 8}, "mlp": {"hidden": 16, "layers": 2},
                "mlp_perm": {"hidden": 16, "layers": 2}, "mlp_align": {"hidden": 16, "layers": 2},
                "deepsets": {"hidden": 8}, "transformer": {"d_model": 8, "heads": 2, "layers": 1},
                "inr2vec": {"hidden": 8, "embedding": 8}}


def _fake_images(name, split, n=40):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    return ImageData(name, Split(x[:30], y[:30]), Split(x[30:], y[30:]), 10,
                     {"dataset": name, "split": f"synthetic {name}-shaped data (test)"})


@pytest.mark.parametrize("name", ["dws.inr_classification", "dws.fmnist_classification"])
def test_full_inr_classification_path_runs_every_method(isolated, monkeypatch, name):
    monkeypatch.setattr("weightspace.data.load", _fake_images)
    result = experiments.run(name, "full", inrs=36, splits=[20, 8, 8],
                             inr={"steps": 2, "lr": 5e-4, "stop_psnr": 40.0},
                             models=SMALL_MODELS, recipes={m: TINY for m in METHODS},
                             augment={"translation": 0.1, "rotation_deg": 45.0, "scale": [0.8, 1.2],
                                      "dropout": 0.01}, speed_sample=2)
    rows = {r["row"]: r for r in result.tables["classification"]}
    assert set(rows) == set(METHODS)
    assert all(0 <= r["accuracy"] <= 100 for r in rows.values())
    assert result.metrics["zoo_inrs"] == 36 and result.metrics["inrs_per_second_batched"] > 0


def test_every_seed_classifies_one_zoo(isolated, monkeypatch):
    """The paper's 3 seeds train the models on one INR dataset: the zoo follows ``zoo_seed``, not the run's seed."""
    monkeypatch.setattr("weightspace.data.load", _fake_images)
    tiny = {"inrs": 36, "splits": [20, 8, 8], "inr": {"steps": 2, "lr": 5e-4, "stop_psnr": 40.0},
            "methods": ["mlp"], "models": SMALL_MODELS, "recipes": {"mlp": TINY}, "speed_sample": 2}
    psnr = {(seed, zoo): experiments.run("dws.inr_classification", "full", seed=seed, zoo_seed=zoo, **tiny)
            .metrics["zoo_mean_psnr"] for seed, zoo in ((0, 0), (1, 0), (0, 1))}
    assert psnr[0, 0] == psnr[1, 0] != psnr[0, 1]


def test_fashion_mnist_offline_fails_early_and_clearly(isolated, monkeypatch, tmp_path):
    monkeypatch.setenv("WEIGHTSPACE_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr("weightspace.data._torchvision_download", lambda *a, **k: None)  # offline
    with pytest.raises(DatasetNotFoundError, match="FashionMNIST.*WEIGHTSPACE_DATA"):
        experiments.run("dws.fmnist_classification", "quick")


def test_sine_regression_and_ablation_run_small(isolated, monkeypatch):
    result = experiments.run("dws.sine_regression", "full", points=16, train_sizes=[8, 16], val=8, test=8,
                             inr={"widths": [1, 8, 8, 1], "steps": 3, "lr": 1e-3, "stop_psnr": 40.0, "offset": 0.0,
                                  "init": "authors"},
                             models={**SMALL_MODELS, "dwsnet": {"hidden": 4, "layers": 2, "head_hidden": 8}},
                             recipes={m: TINY for m in METHODS})
    rows = {r["row"]: r for r in result.tables["sine"]}
    assert set(rows) == {f"{m}/{n}" for m in METHODS for n in (8, 16)}
    assert all(r["mse"] > 0 and r["train_size"] == int(r["row"].split("/")[1]) for r in rows.values())
    monkeypatch.setattr("weightspace.data.load", _fake_images)
    ablation = experiments.run("dws.block_ablation", "full", inrs=36, splits=[20, 8, 8],
                               inr={"steps": 2, "lr": 5e-4, "stop_psnr": 40.0},
                               model={"hidden": 4, "layers": 1, "head_hidden": 8}, recipes={"dwsnet": TINY})
    table = {r["row"]: r for r in ablation.tables["ablation"]}
    assert table["WW"]["parameters"] < table["all"]["parameters"]


def test_unknown_methods_and_blocks_fail_clearly(isolated):
    with pytest.raises(ValueError, match="unknown methods"):
        experiments.run("dws.sine_regression", methods=["resnet"])
    with pytest.raises(ValueError, match="unknown or no blocks"):
        experiments.run("dws.block_ablation", variants={"bad": ["XY"]})


def test_equivariance_experiment_confirms_the_invariants(isolated):
    result = experiments.run("dws.equivariance", architectures=[[2, 6, 5, 1]], count_architectures=[[2, 3, 1]])
    m = result.metrics
    assert m["max_equivariance_f64"] < 1e-12 and m["max_invariance_f32"] < 1e-5
    assert m["counts_match"] and m["matching_exact"] and m["min_input_permutation_error"] > 1e-3


def test_full_domain_adaptation_path_runs_on_cifar_shaped_data(isolated, monkeypatch):
    def fake_cifar(name, split):
        g = torch.Generator().manual_seed(0)
        x, y = torch.randn(48, 3, 32, 32, generator=g), torch.randint(0, 10, (48,), generator=g)
        return ImageData(name, Split(x[:32], y[:32]), Split(x[32:], y[32:]), 10,
                         {"dataset": name, "split": "synthetic CIFAR-shaped data (test)"})

    monkeypatch.setattr("weightspace.data.load", fake_cifar)
    used = []
    real = adaptation.make_optimizer
    monkeypatch.setattr(adaptation, "make_optimizer", lambda params, cfg: used.append(cfg) or real(params, cfg))
    small = {"side": 4, "classifier_widths": [48, 6, 5, 10],
             "classifiers": {"train": 6, "val": 2, "test": 2, "steps": 3, "lr": 1e-3, "batch_size": 8},
             "models": {"dwsnet": {"hidden": 3, "layers": 1}, "mlp": {"hidden": 8}}, "images_per_step": 8}
    adapt = {"steps": 2, "nets_per_step": 3, "lr": 1e-2, "optimizer": "sgd", "schedule": "one_cycle",
             "weight_decay": 0.0, "eval_every": 1}
    result = experiments.run("dws.domain_adaptation", "full", editor=adapt, **small)
    rows = {r["row"]: r for r in result.tables["adaptation"]}
    assert set(rows) == {"no_adaptation", "mlp", "dwsnet"}
    assert all(0 <= r["accuracy"] <= 100 for r in rows.values())
    # the editor recipe the config declares is the one that trains: classifiers per step, optimiser, schedule
    assert [(c.optimizer, c.schedule, c.lr, c.weight_decay, c.batch_size) for c in used] == [
        ("sgd", "one_cycle", 1e-2, 0.0, 3)] * 2
    with pytest.raises(ValueError, match="nets_per_step"):
        experiments.run("dws.domain_adaptation", "full", editor={**TINY, "steps": 2}, **small)


def test_domain_adaptation_offline_fails_early(isolated, monkeypatch, tmp_path):
    def missing(name, split):
        raise DatasetNotFoundError("CIFAR10 not found: set WEIGHTSPACE_DATA")

    monkeypatch.setattr("weightspace.data.load", missing)
    with pytest.raises(DatasetNotFoundError, match="WEIGHTSPACE_DATA"):
        experiments.run("dws.domain_adaptation", "full")


def test_corruption_changes_images_but_keeps_their_shape():
    from weightspace.dws.adaptation import corrupt

    x = torch.rand(5, 3, 16, 16)
    y = corrupt(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and (y - x).abs().mean() > 1e-3
    assert torch.equal(y, corrupt(x, torch.Generator().manual_seed(0)))


def test_generalization_path_runs_and_scores_kendall_tau(isolated, monkeypatch):
    monkeypatch.setattr("weightspace.data.load", _fake_images)
    result = experiments.run("dws.generalization", "full", side=4, widths=[16, 5, 5, 10], per_setting=5,
                             settings={"lr": [1e-3], "steps": [2, 6], "label_noise": [0.0, 0.5]},
                             classifier_batch=8, models=SMALL_MODELS, recipes={m: TINY for m in METHODS})
    rows = {r["row"]: r for r in result.tables["generalization"]}
    assert set(rows) == set(METHODS)
    assert all(-1 <= r["kendall_tau"] <= 1 for r in rows.values())
    zoo = result.tables["zoo"]
    assert len(zoo) == 20 and all(0 <= c["test_accuracy"] <= 100 and c["lr"] == 1e-3 for c in zoo)
    assert sorted({c["steps"] for c in zoo}) == [2, 6]


def test_dense_representation_path_runs(isolated):
    cfg = experiments.config("dws.dense_representation", "full")
    result = experiments.run("dws.dense_representation", "full", points=16, splits=[24, 8, 16],
                             inr={**cfg["inr"], "widths": [1, 6, 6, 1], "steps": 3},
                             models={m: SMALL_MODELS[m] for m in cfg["methods"]},
                             recipes={m: {**TINY, "batch_size": 8} for m in cfg["methods"]}, tsne_points=12)
    assert {r["row"] for r in result.tables["dense"]} == set(cfg["methods"])
    assert all(r["probe_mse"] > 0 for r in result.tables["dense"])
    assert len(result.tables["tsne"]) == 12 and set(result.tables["tsne"][0]) == {"x", "y", "a", "b"}


def test_info_nce_prefers_matching_views():
    from weightspace.dws.contrastive import info_nce, linear_probe

    z = torch.randn(8, 4)
    assert info_nce(torch.cat([z, z])) < info_nce(torch.cat([z, torch.randn(8, 4)]))
    x = torch.randn(50, 3)
    y = x @ torch.tensor([[1.0], [2.0], [-1.0]]) + 0.5
    assert linear_probe(x[:40], y[:40], x[40:], y[40:], ridge=1e-9) < 1e-8


DWS = [n for n in experiments.names() if n.startswith("dws.")]


@pytest.mark.parametrize("name", DWS)
def test_every_config_names_its_data_and_the_split(name):
    """A config that loads a dataset says which one and which split; quick MNIST is the test-8k/2k cut."""
    for profile in experiments.profiles(name):
        cfg = experiments.config(name, profile)
        if name in ("dws.equivariance", "dws.sine_regression", "dws.dense_representation"):
            assert "dataset" not in cfg  # random or generated data only
            continue
        datasets.check_split(cfg["dataset"], cfg["split"])
        if cfg["dataset"] == "mnist":
            assert cfg["split"] == (datasets.MNIST_TEST_CUT if profile == "quick" else datasets.STANDARD)


def test_model_presets_are_shared_values_not_copies():
    sine = experiments.config("dws.sine_regression", "full")["models"]
    gen = experiments.config("dws.generalization", "full")["models"]
    assert {m: v for m, v in sine.items() if m != "dwsnet"} == {m: v for m, v in gen.items() if m != "dwsnet"}
    assert experiments.config("dws.inr_classification", "full")["models"]["dwsnet"] == {
        "hidden": 32, "layers": 5, "head_hidden": None, "batch_norm": True, "last_batch_norm": False}
    sine["mlp"]["hidden"] = 1  # a config is a fresh copy: editing one changes no other
    assert experiments.config("dws.generalization", "full")["models"]["mlp"]["hidden"] == 256


def test_table_ids_follow_the_config():
    from weightspace.tables import TableContractError, conform
    from weightspace.experiments.dws.sine_regression import TABLES, SineRow

    cfg = experiments.config("dws.sine_regression", "quick", methods=["mlp"], train_sizes=[50, 800])
    rows = [SineRow(row=f"mlp/{n}", method="mlp", train_size=n, mse=1.0, best_step=1, train_time_s=0.0)
            for n in (50, 800)]
    assert [r["row"] for r in conform("dws.sine_regression", TABLES, {"sine": rows}, cfg)["sine"]] == [
        "mlp/50", "mlp/800"]
    with pytest.raises(TableContractError, match="mlp/800"):
        conform("dws.sine_regression", TABLES, {"sine": rows[:1]}, cfg)


def test_zoo_splits_carry_their_widths_and_fail_clearly():
    widths = (2, 3, 1)
    zoo = Zoo(torch.randn(10, 13), torch.arange(10), widths)
    splits = ZooSplits.cut(zoo, (5, 2, 3))
    assert splits.widths == widths and [len(s) for s in (splits.train, splits.val, splits.test)] == [5, 2, 3]
    assert torch.equal(splits.test.targets, torch.arange(7, 10))
    with pytest.raises(ValueError, match="need 11 MLPs; the zoo has 10"):
        ZooSplits.cut(zoo, (5, 3, 3))
    with pytest.raises(ValueError, match="at least one MLP"):
        ZooSplits.cut(zoo, (5, 0, 3))
    with pytest.raises(ValueError, match=r"flat parameters \[N, 13\]"):
        Zoo(torch.randn(10, 12), torch.arange(10), widths)
    with pytest.raises(ValueError, match="10 MLPs but 9 targets"):
        Zoo(torch.randn(10, 13), torch.arange(9), widths)
    with pytest.raises(ValueError, match="one architecture"):
        ZooSplits(splits.train, splits.val, Zoo(torch.randn(2, 9), torch.arange(2), (2, 2, 1)))
    aligned = splits.aligned()
    assert aligned.widths == widths and torch.equal(aligned.test.targets, splits.test.targets)


def test_classifier_zoo_settings_are_checked(monkeypatch):
    images = _fake_images("mnist", "standard")
    with pytest.raises(ValueError, match="lr, steps, label_noise"):
        classifier_zoo(images, 4, (16, 5, 10), 2, {"lr": [1e-3], "steps": [2]}, 8, 0, torch.device("cpu"))
    with pytest.raises(ValueError, match="side"):
        classifier_zoo(images, 4, (15, 5, 10), 2, {"lr": [1e-3], "steps": [2], "label_noise": [0.0]}, 8, 0,
                       torch.device("cpu"))


@pytest.mark.parametrize("name, table, refs", [("dws.sine_regression", "sine", "SINE_REGRESSION"),
                                               ("dws.inr_classification", "classification", "MNIST_INR"),
                                               ("dws.fmnist_classification", "classification", "FASHION_MNIST_INR")])
def test_the_papers_rows_are_rows_the_tables_declare(name, table, refs):
    from weightspace.dws import reference
    from weightspace.tables import check_references

    configs = [experiments.config(name, p) for p in experiments.profiles(name)]
    check_references(name, table, experiments.tables_of(name)[table],
                     [r.row for r in getattr(reference, refs)], configs)


def test_domain_adaptation_rows_are_the_papers_except_the_editors_it_does_not_implement():
    from weightspace.dws import reference

    ours = experiments.tables_of("dws.domain_adaptation")["adaptation"].row_ids(
        experiments.config("dws.domain_adaptation", "full"))
    paper = {r.row for r in reference.DOMAIN_ADAPTATION}
    assert set(ours) <= paper and paper - set(ours) == {"mlp_perm", "mlp_align", "inr2vec", "transformer"}


def test_an_interrupted_zoo_fit_resumes_at_its_first_missing_part_and_equals_the_one_shot_fit(isolated, monkeypatch):
    images = _fake_images("mnist", "test")
    recipe = {"widths": [2, 8, 8, 1], "steps": 3, "lr": 5e-4, "stop_psnr": 40.0, "chunk": 3}
    monkeypatch.setattr(zoos, "FIT_PART", 5)  # parts of 6 INRs (two tensor programs of 3): 36 INRs in 6 parts
    pixels = (torch.cat([images.train.x, images.eval.x])[:36] * datasets.MNIST_STD + datasets.MNIST_MEAN).clamp(0, 1)
    targets, coords = mnist_inr_targets(pixels)
    one_shot = fit_inrs(targets, coords, [7 * 1_000_003 + k for k in range(36)], INRRecipe(**recipe))
    fitted, real_fit = [], zoos.fit_inrs

    def fit_then_fail(*args, **kwargs):
        if fitted:
            raise KeyboardInterrupt("killed after the first part")
        fitted.append(len(args[0]))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(zoos, "fit_inrs", fit_then_fail)
    with pytest.raises(KeyboardInterrupt):
        zoos.image_inr_zoo(images, 36, recipe, 7, torch.device("cpu"))
    assert fitted == [6] and len(list((isolated / "cache" / "dws" / "mnist_inrs").glob("*.pt"))) == 1

    def counting_fit(*args, **kwargs):
        fitted.append(len(args[0]))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(zoos, "fit_inrs", counting_fit)
    resumed = zoos.image_inr_zoo(images, 36, recipe, 7, torch.device("cpu"))
    assert fitted == [6] * 6  # the first part came from the cache, the other five were fitted
    for got in (resumed, zoos.image_inr_zoo(images, 36, recipe, 7, torch.device("cpu"))):
        assert torch.equal(got.zoo.params, one_shot.zoo.params) and torch.equal(got.mse, one_shot.mse)
        assert torch.equal(got.steps, one_shot.steps)
        assert torch.equal(got.zoo.targets, torch.cat([images.train.y, images.eval.y])[:36])
    assert len(fitted) == 6  # the third call fitted nothing
    monkeypatch.setattr(zoos, "FIT_PART", 8)  # parts of 9 INRs: other parts, the same zoo
    assert torch.equal(zoos.image_inr_zoo(images, 36, recipe, 7, torch.device("cpu")).zoo.params, one_shot.zoo.params)
    smaller = zoos.image_inr_zoo(images, 18, recipe, 7, torch.device("cpu"))  # the first two parts of the larger zoo
    assert torch.equal(smaller.zoo.params, one_shot.zoo.params[:18]) and len(fitted) == 6 + 4


@pytest.mark.parametrize("name, dataset", [("dws.inr_classification", "mnist"),
                                           ("dws.fmnist_classification", "fashion_mnist")])
def test_the_cpu_profile_is_the_full_recipe_on_ten_thousand_real_training_images(name, dataset):
    from weightspace.experiments.dws.inr_classification import CPU_EPOCHS

    cpu, full = experiments.config(name, "cpu"), experiments.config(name, "full")
    assert "cpu" in experiments.profiles(name)
    assert cpu["dataset"] == full["dataset"] == dataset and cpu["split"] == full["split"] == datasets.STANDARD
    assert cpu["inrs"] == 10_000 and sum(cpu["splits"]) == cpu["inrs"] and min(cpu["splits"]) > 0
    shares = [n / sum(full["splits"]) for n in full["splits"]]
    assert all(abs(n / cpu["inrs"] - share) < 1 / cpu["inrs"] for n, share in zip(cpu["splits"], shares))
    assert cpu["inr"] == full["inr"] and cpu["models"] == full["models"] and cpu["augment"] == full["augment"]
    assert cpu["methods"] == full["methods"]
    for method, recipe in cpu["recipes"].items():
        paper = full["recipes"][method]
        assert {k: v for k, v in recipe.items() if k not in ("steps", "eval_every")} == \
               {k: v for k, v in paper.items() if k not in ("steps", "eval_every")}  # the paper's optimiser and batch
        epoch = -(-cpu["splits"][0] // recipe["batch_size"])
        assert recipe["eval_every"] == epoch and recipe["steps"] == CPU_EPOCHS * epoch  # validated once an epoch
    images = datasets.load(dataset, cpu["split"])
    assert len(images.train) >= cpu["inrs"]  # the zoo's INRs are all of training images, the first 10,000


def test_proportional_splits_add_up_by_largest_remainder():
    from weightspace.experiments.dws.inr_classification import proportional

    assert proportional([55_000, 5_000, 10_000], 10_000) == [7_857, 714, 1_429]
    assert proportional([1, 1, 1], 10) == [4, 3, 3] and sum(proportional([3, 7, 11], 1_000)) == 1_000
