"""The R2R experiments end to end: every full-profile path on synthetic CIFAR-shaped data, and clear errors."""

import pytest
import torch

import weightspace.data
from weightspace import experiments
from weightspace.data import DatasetNotFoundError, ImageData, Split
from weightspace.experiments.r2r import _section52
from weightspace.r2r import base_spec, build, presets, reference
from weightspace.r2r.growing import FlopCounter, average_pooled, schedule_runs, section52_specs, widen_all
from weightspace.tables import TableContractError, check_references
from weightspace.training import TrainConfig, train_classifier

R2R = [n for n in experiments.names() if n.startswith("r2r.")]
TINY = {"steps": 4, "batch_size": 8, "lr": 0.003, "optimizer": "adam", "schedule": "constant", "weight_decay": 1e-6,
        "amsgrad": True, "eval_every": 2}
SMALL = {"widths": [4, 8, 16], "fc": 16}  # the full-profile path with narrower networks, to keep the test fast


def _fake(name, n_train=64, n_eval=32):
    g = torch.Generator().manual_seed(0)
    n = n_train + n_eval
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    return ImageData(name, Split(x[:n_train], y[:n_train]), Split(x[n_train:], y[n_train:]), 10,
                     {"dataset": name, "split": f"synthetic {name}-shaped data (test)"})


@pytest.fixture
def cifar(monkeypatch):
    seen = []

    def load(name, split):
        seen.append((name, split))
        return _fake(name)

    monkeypatch.setattr(weightspace.data, "load", load)
    return seen


def test_all_sections_are_registered():
    assert set(R2R) == {f"r2r.{s}" for s in ("preservation", "widen_schedule", "widen_convergence",
                                             "deepen_schedule", "deepen_convergence", "neuroevolution")}


@pytest.mark.parametrize("name", ["r2r.widen_schedule", "r2r.deepen_schedule"])
def test_full_schedule_paths_run_on_cifar_shaped_data(isolated, cifar, name):
    result = experiments.run(name, "full", transform_at=[0, 1, 2, 3], recipes={"train": TINY}, **SMALL)
    assert cifar == [("cifar10", "standard")]
    rows = next(iter(result.tables.values()))
    assert [r["row"] for r in rows] == ["quarter0", "quarter1", "quarter2", "quarter3"]
    assert rows[0]["relative_cost"] == 1.0
    assert [r["relative_cost"] for r in rows] == sorted((r["relative_cost"] for r in rows), reverse=True)
    for r in rows:
        assert r["student_parameters"] > r["teacher_parameters"]
        curve = result.curves[r["row"]]
        assert curve[-1]["step"] == 4 and curve[-1]["flops"] == pytest.approx(r["total_flops"])
    # the transform preserves the function: accuracy right after it equals the teacher's at that step
    transformed = [p for p in result.curves["quarter2"] if p.get("transform")][0]
    teacher_point = [p for p in result.curves["quarter2"] if p["step"] == 2 and not p.get("transform")][0]
    assert transformed["accuracy"] == pytest.approx(teacher_point["accuracy"])


@pytest.mark.parametrize("name", ["r2r.widen_convergence", "r2r.deepen_convergence"])
def test_full_convergence_paths_run_on_cifar_shaped_data(isolated, cifar, name):
    result = experiments.run(name, "full", recipes={"teacher": TINY, "student": TINY}, **SMALL)
    rows = {r["row"]: r for r in next(iter(result.tables.values()))}
    assert set(rows) == {"teacher", "r2r", "random", "net2net", "scratch"}
    teacher = rows["teacher"]["accuracy"]
    assert rows["r2r"]["accuracy_after_transform"] == pytest.approx(teacher)
    assert rows["net2net"]["accuracy_after_transform"] == pytest.approx(teacher)
    assert rows["r2r"]["updates_to_teacher"] == 0
    assert rows["r2r"]["lr"] < TINY["lr"], "the student's learning rate is rescaled by the parameter ratio"


def test_full_neuroevolution_path_runs_on_cifar_shaped_data(isolated, cifar):
    ne = {"n_initial": 2, "n_joint": 2, "k": 2, "m": 3, "iterations": 1, "tau": 0.5}
    result = experiments.run("r2r.neuroevolution", "full", ne=ne, val_size=16,
                             recipes={"train": TINY, "ensemble": TINY}, **SMALL)
    rows = {r["row"]: r for r in result.tables["table1"]}
    assert set(rows) == {"base", "ne_best", "coevolution_best", "coevolution_ensemble"}
    assert all(0 <= r["test_accuracy"] <= 1 for r in rows.values())
    assert rows["coevolution_ensemble"]["members"] == 2


def test_preservation_table_reports_exact_preservation(isolated):
    result = experiments.run("r2r.preservation", kernels=[3], widths=[4, 6], image_size=8)
    rows = {r["row"]: r for r in result.tables["preservation"]}
    for t in ("R2WiderR", "R2DeeperR", "Net2WiderNet", "Net2DeeperNet"):
        assert rows[t]["max_error"] < 1e-12 and rows[t]["places"] > 0
    assert rows["Random padding"]["max_error"] > 1e-3
    assert rows["R2WiderR"]["free_fraction"] == 0.5 and rows["Net2WiderNet"]["free_fraction"] == 0.0


def test_full_profile_without_cifar_fails_early_and_clearly(isolated, monkeypatch, tmp_path):
    real = weightspace.data.load
    monkeypatch.setattr(weightspace.data, "load", lambda name, split: real(name, split, root=tmp_path, download=False))
    for name in [n for n in R2R if n != "r2r.preservation"]:
        with pytest.raises(DatasetNotFoundError, match="CIFAR10"):
            experiments.run(name, "full")


def test_bad_settings_fail_clearly(isolated, cifar):
    with pytest.raises(ValueError, match="transform_at"):
        experiments.run("r2r.widen_schedule", "full", transform_at=[0, 9], recipes={"train": TINY})
    with pytest.raises(ValueError, match="unknown methods"):
        experiments.run("r2r.widen_convergence", "full", methods=["r2r", "magic"])
    with pytest.raises(ValueError, match="named twice"):
        experiments.run("r2r.deepen_convergence", "full", methods=["r2r", "r2r"])
    with pytest.raises(ValueError, match="downsample"):
        experiments.run("r2r.neuroevolution", "full", downsample=3)
    with pytest.raises(ValueError, match="val_size"):
        experiments.run("r2r.neuroevolution", "full", val_size=64)
    for name in ("r2r.widen_schedule", "r2r.deepen_convergence"):
        with pytest.raises(ValueError, match="init = 'xavier' is not allowed"):
            experiments.run(name, "full", init="xavier", **SMALL)
    with pytest.raises(ValueError, match="optimizers = 'global' is not allowed"):
        experiments.run("r2r.neuroevolution", "full", **SMALL,
                        ne={**experiments.config("r2r.neuroevolution", "full")["ne"], "optimizers": "global"})


def test_every_profile_runs_the_report_s_initialisation_and_learning_rate_rule():
    for name in [n for n in R2R if n != "r2r.preservation"]:
        for profile in ("quick", "full"):
            cfg = experiments.config(name, profile)
            init = cfg["ne"]["init"] if "ne" in cfg else cfg["init"]
            assert init == "match" and cfg["zero_init"] is True  # variance matching; R2R blocks start at zero
    for profile in ("quick", "full"):
        assert experiments.config("r2r.neuroevolution", profile)["ne"]["optimizers"] == "per_model"  # App. C.3


def test_the_quick_search_keeps_the_report_s_8_to_1_budget():
    def ratio(cfg):
        ne = cfg["ne"]
        return (ne["n_initial"] + ne["iterations"] * ne["n_joint"]) / cfg["recipes"]["train"]["steps"]

    full, quick = (experiments.config("r2r.neuroevolution", p) for p in ("full", "quick"))
    assert ratio(full) == 8.0 and ratio(quick) == 8.0  # 80,000 joint steps against the base's 10,000


def test_data_and_its_pooling_are_settings_of_every_training_config():
    for name in [n for n in R2R if n != "r2r.preservation"]:
        quick, full = experiments.config(name, "quick"), experiments.config(name, "full")
        assert (quick["dataset"], quick["split"], quick["downsample"]) == ("mnist", "test-8k/2k", 2)
        assert (full["dataset"], full["split"], full["downsample"]) == ("cifar10", "standard", 1)
        assert (quick["widths"], full["widths"]) == ([8, 16, 32], [16, 32, 64])


def test_the_app_d_recipe_has_one_home_and_every_config_shows_its_values():
    app_d = presets.RECIPES["app_d"]
    assert (app_d["optimizer"], app_d["lr"], app_d["weight_decay"], app_d["batch_size"]) == ("adam", 0.003, 1e-6, 32)
    for name in [n for n in R2R if n != "r2r.preservation"]:
        for profile in ("quick", "full"):
            for recipe in experiments.config(name, profile)["recipes"].values():
                assert recipe.keys() == app_d.keys()
                assert recipe["optimizer"] == "adam" and recipe["amsgrad"] and recipe["weight_decay"] == 1e-6
    full = experiments.config("r2r.neuroevolution", "full")["ne"]
    assert {k: full[k] for k in presets.SEARCHES["app_d"]} == presets.SEARCHES["app_d"]
    with pytest.raises(KeyError, match="unknown recipe 'app_e'"):
        presets.recipe("app_e")
    with pytest.raises(KeyError, match="no setting 'step'"):
        presets.recipe("app_d", step=10)


def test_average_pooling_is_named_in_the_description_and_checked():
    data = _fake("cifar10")
    pooled = average_pooled(data, 2)
    assert pooled.train.x.shape[-1] == 16 and pooled.description["split"].endswith("average-pooled 2x to 16x16 pixels")
    assert average_pooled(data, 1).description == data.description
    for bad in (0, 3, 1.5):
        with pytest.raises(ValueError, match="downsample"):
            average_pooled(data, bad)


def test_flops_are_counted_once_per_architecture():
    data = _fake("cifar10")
    nets = section52_specs(data, [4, 8, 16], 16, 3)
    counter = FlopCounter(data, 8)
    small, big = build(nets["wide_teacher"]), build(nets["base"])
    assert counter.per_step(big) > counter.per_step(small) > 0
    assert counter.per_step(build(nets["base"])) == counter.per_step(big) and len(counter._counts) == 2


def test_schedule_runs_need_increasing_points_from_zero():
    data = _fake("cifar10")
    nets = section52_specs(data, [4, 8, 16], 16, 3)
    transform = widen_all(nets["wide_teacher"], nets["base"])
    for bad in ([], [1, 2], [0, 2, 2], [0, 3, 1], [0, 4]):
        with pytest.raises(ValueError, match="transform_at"):
            schedule_runs(nets["wide_teacher"], transform, bad, TrainConfig(**TINY), data, seed=0,
                          device=torch.device("cpu"), checkpoint=lambda tag: None, tag="t")


def test_tables_are_declared_with_their_rows():
    cfg = experiments.config("r2r.widen_convergence", "quick", methods=["scratch", "r2r"])
    assert experiments.tables_of("r2r.widen_convergence")["fig6"].row_ids(cfg) == ["teacher", "scratch", "r2r"]
    fig5 = experiments.tables_of("r2r.widen_schedule")["fig5"]
    assert fig5.row_ids(experiments.config("r2r.widen_schedule")) == ["quarter0", "quarter1", "quarter2", "quarter3"]
    for name, table, refs in (("r2r.widen_schedule", "fig5", reference.FIG5),
                              ("r2r.deepen_schedule", "fig7", reference.FIG7),
                              ("r2r.widen_convergence", "fig6", reference.FIG6),
                              ("r2r.neuroevolution", "table1", reference.TABLE1),
                              ("r2r.preservation", "preservation", reference.PRESERVATION)):
        declared = experiments.tables_of(name)[table]
        check_references(name, table, declared, [r.row for r in refs], [experiments.config(name)])
        assert {r.metric for r in refs} <= set(declared.fields())
    with pytest.raises(TableContractError, match="quarter9"):
        check_references("r2r.widen_schedule", "fig5", fig5, ["quarter9"], [experiments.config("r2r.widen_schedule")])
    assert _section52.first_step([{"step": 0, "accuracy": 0.2}, {"step": 5, "accuracy": 0.6}], 0.5) == 5


def test_training_continues_a_run_with_a_new_model():
    data = _fake("cifar10")
    torch.manual_seed(0)
    net = build(base_spec(3, 32, (4, 8), 16))
    cfg = TrainConfig(**TINY)
    first = train_classifier(net, data, TrainConfig(**{**TINY, "steps": 2}), keep="last")
    second = train_classifier(net, data, cfg, start_step=2, keep="last")
    assert [p["step"] for p in first.curve] == [2] and [p["step"] for p in second.curve] == [4]
    with pytest.raises(ValueError, match="start_step"):
        train_classifier(net, data, cfg, start_step=4)
    with pytest.raises(ValueError, match="keep"):
        train_classifier(net, data, cfg, keep="worst")


def test_each_page_s_recipe_line_is_generated_from_its_config():
    from weightspace.experiments.r2r._presets import recipe_line

    for name in [n for n in R2R if n != "r2r.preservation"]:
        for profile in ("quick", "full"):
            cfg = experiments.config(name, profile)
            line = recipe_line(cfg)
            for r in cfg["recipes"].values():
                assert f"{r['steps']:,} updates of Adam (AMSGrad), lr {r['lr']:g}" in line
            assert "variance matching" in line and "zero-initialised" in line
    cfg = experiments.config("r2r.neuroevolution", "full")
    assert "N_i 5,000, N_j 5,000, K 3, M 10, 15 iterations" in recipe_line(cfg)
    assert "one optimiser shared" in recipe_line({**cfg, "ne": {**cfg["ne"], "optimizers": "shared"}})
