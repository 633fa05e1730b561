"""The NeRN experiments end to end: full-profile paths on synthetic CIFAR-shaped data, quick-profile learning."""

import ast
import os
from pathlib import Path

import pytest
import torch

from weightspace import experiments
from weightspace.data import DatasetNotFoundError, ImageData, Split
from weightspace.nern import fitting, originals
from weightspace.nern.models import CifarResNet, build, conv_names
from weightspace.nern.predictor import KernelLayout, NeRN
from weightspace.nern.sizes import predictor_ratio
from weightspace.nern.train import NeRNConfig, conv_weights, image_batches, reconstructed, train_nern
from weightspace.results import Checkpoint
from weightspace.training import evaluate

TINY_ORIGINAL = {"steps": 2, "batch_size": 16, "lr": 0.1, "optimizer": "sgd", "schedule": "step",
                 "milestones": [1], "weight_decay": 1e-4, "nesterov": False, "eval_every": 1}
TINY_NERN = {**NeRNConfig().to_dict(), "hidden": 8, "steps": 3, "batch_size": 4, "kernel_batch": 64,
             "warmup": 1, "eval_every": 2}


def _fake(name, split="standard"):
    classes = 100 if name == "cifar100" else 10
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 3, 32, 32, generator=g), torch.randint(0, classes, (48,), generator=g)
    return ImageData(name, Split(x[:32], y[:32]), Split(x[32:], y[32:]), classes,
                     {"dataset": name, "split": f"synthetic {name}-shaped data (test)"})


@pytest.fixture
def cifar(monkeypatch):
    monkeypatch.setattr(originals.datasets, "load", _fake)


def _rows(result, table):
    return {r["row"]: r for r in result.tables[table]}


def test_full_cifar10_path_runs_on_cifar_shaped_data(isolated, cifar):
    result = experiments.run("nern.cifar10", "full", archs={"resnet20": [8]}, slots={"resnet20": [160]},
                             nern={"resnet20": TINY_NERN}, reference=TINY_ORIGINAL)
    rows = _rows(result, "table")
    assert {"resnet20-none-160", "resnet20-in-160", "resnet20-cross-160"} <= set(rows)
    assert all(0 <= rows[f"resnet20-{m}-160"]["accuracy"] <= 100 for m in ("none", "in", "cross"))
    assert rows["resnet56-cross-320"]["status"].startswith("not run")
    assert rows["resnet20-original"]["accuracy"] >= 0 and rows["resnet20-original"]["ran"] == "resnet20-w16"
    assert rows["resnet20-none-140"]["status"].startswith("not run")


def test_full_cifar100_path_runs_and_fails_clearly_without_data(isolated, cifar, monkeypatch):
    result = experiments.run("nern.cifar100", "full", archs={"resnet56": [8]}, slots={"resnet56": [320]},
                             modes=["in"], nern={"resnet56": TINY_NERN}, reference=TINY_ORIGINAL)
    assert _rows(result, "table")["resnet56-in-320"]["status"] == ""

    def missing(name, split):
        raise DatasetNotFoundError(f"{name} not found: set WEIGHTSPACE_DATA")

    monkeypatch.setattr(originals.datasets, "load", missing)
    with pytest.raises(DatasetNotFoundError, match="WEIGHTSPACE_DATA"):
        experiments.run("nern.cifar100", "full", recompute=True)


def test_full_datafree_path_runs_with_noise_inputs(isolated, cifar):
    result = experiments.run("nern.datafree", "full", archs={"resnet20": [8]}, slots={"resnet20": [160]},
                             nern={"resnet20": TINY_NERN}, reference=TINY_ORIGINAL)
    rows = _rows(result, "table4")
    assert rows["resnet20-160-noise"]["inputs"] == "noise" and rows["resnet20-160-recon"]["inputs"] == "data"


def test_full_ablation_path_runs(isolated, cifar):
    result = experiments.run("nern.ablations", "full", nern=TINY_NERN, reference=TINY_ORIGINAL)
    assert set(_rows(result, "table6")) == {"recon", "distill", "all"}
    assert set(_rows(result, "table7")) == {"all", "layer", "uniform", "weighted"}
    assert _rows(result, "table7")["weighted"]["accuracy"] == _rows(result, "table6")["all"]["accuracy"]


def test_full_regularization_path_runs(isolated, cifar):
    result = experiments.run("nern.regularization", "full", original=originals.architecture("resnet20"), sizes=[8],
                             nern=TINY_NERN,
                             reference=TINY_ORIGINAL)
    rows = _rows(result, "table10")
    assert rows["5e-05-240"]["factor"] == 5e-5 and rows["5e-05-240"]["status"] == ""
    assert rows["5e-05-280"]["status"].startswith("not run")


def test_full_applications_path_runs(isolated, cifar):
    result = experiments.run("nern.applications", "full", original=originals.architecture("resnet20"), nern=TINY_NERN,
                             reference=TINY_ORIGINAL,
                             predictor_fractions=[0.0, 0.5], original_fractions=[0.2], top_filters=2,
                             activation_images=8)
    assert len(result.tables["meta_compression"]) == 2 and len(result.tables["pruning"]) == 3
    assert [r["row"] for r in result.tables["importance"]] == ["lowest-0", "lowest-1", "highest-0", "highest-1"]
    assert len(result.tables["kernels"][0]["original"]) == 8


def test_full_appendix_path_runs(isolated, cifar):
    result = experiments.run("nern.appendix", "full", reference=TINY_ORIGINAL, timing_arch="resnet20")
    assert round(_rows(result, "table8")["resnet18-imagenet"]["total_mb"], 2) == 44.59
    assert result.metrics["timing_cross_s"] >= 0


def test_imagenet_fails_early_without_imagenet(isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("WEIGHTSPACE_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="imagenet"):
        experiments.run("nern.imagenet", "full")


def test_a_trained_quick_nern_beats_a_random_predictor_by_far(isolated):
    torch.manual_seed(0)
    data = _separable()
    recipe = {**originals.recipe("brief"), "steps": 60, "batch_size": 32, "eval_every": 60}
    original, record = originals.train_original(originals.architecture("resnet8-w4-gray"), recipe, 0.0, data,
                                                augment=False, seed=0, device=torch.device("cpu"),
                                                checkpoint=_checkpoint)
    assert record["accuracy"] > 90
    layout = KernelLayout.of(conv_weights(original, conv_names(original)), "cross")
    score = lambda net: evaluate(net, data.eval)[0]  # noqa: E731
    torch.manual_seed(0)
    nern = NeRN(layout, 48, 1.25)
    with torch.no_grad():
        random_acc = score(reconstructed(original, nern.weights()))
    cfg = NeRNConfig(**fitting.recipe("brief"))
    out = train_nern(original, nern, cfg, image_batches(data.train.x, cfg.batch_size, 0), score)
    assert out.accuracy > random_acc + 30


def _checkpoint(tag):
    return Checkpoint.for_run("test", "x", tag)


def _separable():
    """Four well-separated classes of 1 x 32 x 32 images: an original that is easy and fast to train."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 1, 32, 32, generator=g)
    y = torch.randint(0, 4, (640,), generator=g)
    x = centres[y] + 0.5 * torch.randn(640, 1, 32, 32, generator=g)
    return ImageData("blobs", Split(x[:512], y[:512]), Split(x[512:], y[512:]), 4, {"split": "synthetic blobs"})


def test_cifar_augmentation_keeps_shapes_and_flips():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float).reshape(2, 3, 32, 32)
    out = originals.crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert set(out[0, 0].unique().tolist()) - {0.0} <= set(x[0, 0].unique().tolist())


def test_unknown_inputs_fail_clearly(isolated, cifar):
    data = _fake("cifar10")
    net = CifarResNet(8, 10, 4, 3).eval()
    with pytest.raises(ValueError, match="unknown inputs"):
        fitting.fit(net, data, "none", TINY_NERN, seed=0, device=torch.device("cpu"), inputs="images")


def test_orderings_are_cached_per_weights_and_mode(isolated):
    torch.manual_seed(0)
    net = CifarResNet(8, 10, 4, 1)
    first = fitting.layouts(net)("cross")
    again = fitting.layouts(net)("cross")
    assert all(torch.equal(a, b) for a, b in zip(first.orders, again.orders))
    assert len(list((isolated / "cache" / "nern" / "layout").glob("*.pt"))) == 1
    fitting.layouts(net)("in")
    assert len(list((isolated / "cache" / "nern" / "layout").glob("*.pt"))) == 2


NERN_EXPERIMENTS = [n for n in experiments.names() if n.startswith("nern.")]
SOURCES = Path(experiments.__file__).parent / "nern"


def _originals(cfg):
    return list(cfg["originals"].values()) if "originals" in cfg else [cfg["original"]]


@pytest.mark.parametrize("name", [n for n in NERN_EXPERIMENTS if "quick" in experiments.profiles(n)])
def test_quick_configs_name_the_original_that_runs(name):
    """The quick original is a ResNet8 of width 4 with a 1-channel stem, and the config says so."""
    cfg = experiments.config(name, "quick")
    assert (cfg["dataset"], cfg["split"], cfg["pad_to"], cfg["augment"]) == ("mnist", "test-8k/2k", 32, False)
    for arch in _originals(cfg):
        assert arch == {"arch": "resnet8", "width": 4, "in_channels": 1}
        net = originals.build_original(arch, 10)
        assert net.depth == 8 and net.width == 4 and net.conv1.in_channels == 1


def test_cpu_reconstruction_compresses_a_resnet20_like_the_paper():
    """At cpu each predictor is within 2 points of the paper's ratio to its original in its slot (43% at h = 160,
    52% at h = 180 of ResNet20 on CIFAR-10), so it compresses, where the quick predictors are larger than theirs."""
    paper = build("resnet20", 10)
    for profile, compresses in (("cpu", True), ("quick", False)):
        cfg = experiments.config("nern.cifar10", profile)
        net = originals.build_original(cfg["originals"]["resnet20"], 10)
        for h, slot in zip(cfg["archs"]["resnet20"], cfg["slots"]["resnet20"], strict=True):
            ratio = predictor_ratio(h, net)
            assert (ratio < 1) is compresses
            if compresses:
                assert abs(ratio - predictor_ratio(slot, paper)) < 0.02
    assert predictor_ratio(160, paper) == pytest.approx(0.43, abs=0.005)


def test_cpu_reconstruction_runs_on_padded_mnist_with_a_narrow_resnet20_and_the_papers_nern():
    cfg = experiments.config("nern.cifar10", "cpu")
    assert (cfg["dataset"], cfg["split"], cfg["pad_to"], cfg["augment"], cfg["seeds"]) == \
        ("mnist", "standard", 32, False, 3)
    assert cfg["eval_limit"] is None and cfg["modes"] == ["none", "in", "cross"]
    net = originals.build_original(cfg["originals"]["resnet20"], 10)
    assert isinstance(net, CifarResNet) and net.depth == 20 and net.conv1.in_channels == 1
    assert len(conv_names(net)) == len(conv_names(build("resnet20", 10))) == 21
    paper, ours = fitting.recipe("resnet20"), cfg["nern"]["resnet20"]
    assert {k for k in paper if paper[k] != ours[k]} == {"steps", "warmup", "batch_size", "kd_eps", "eval_every"}
    assert 1000 <= ours["steps"] <= 10_000 and 0 < ours["warmup"] < ours["steps"] and ours["kd_eps"] == 1e-4
    assert ours["alpha"] == ours["beta"] == 1e-4 and ours["recon"]


@pytest.mark.skipif(not os.environ.get("WEIGHTSPACE_DATA"), reason="WEIGHTSPACE_DATA not set")
def test_cpu_data_is_the_standard_mnist_split_padded_to_32():
    cfg = experiments.config("nern.cifar10", "cpu")
    data = originals.task_data(cfg["dataset"], cfg["split"], cfg["pad_to"], torch.device("cpu"))
    assert (len(data.train.y), len(data.eval.y)) == (60_000, 10_000)
    assert data.train.x.shape[1:] == data.eval.x.shape[1:] == (1, 32, 32)
    border = torch.cat([data.eval.x[..., :2, :].flatten(), data.eval.x[..., :, -2:].flatten()])
    assert torch.equal(border, torch.full_like(border, float(data.eval.x.min())))


@pytest.mark.parametrize("name", [n for n in NERN_EXPERIMENTS if n != "nern.imagenet"])
def test_full_configs_load_their_data_by_dataset_and_split(name):
    cfg = experiments.config(name, "full")
    assert cfg["split"] == "standard" and cfg["dataset"] in ("cifar10", "cifar100") and cfg["pad_to"] is None
    assert cfg["augment"] is True
    assert all(a["width"] == 16 and a["in_channels"] == 3 for a in _originals(cfg))


def test_no_profile_checks_outside_config_and_no_functions_in_the_package_init():
    for path in [*SOURCES.glob("*.py"), *(Path(originals.__file__).parent).glob("*.py")]:
        tree = ast.parse(path.read_text())
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name != "config"):
            assert "profile" not in ast.unparse(fn), f"{path.name}: {fn.name} looks at the profile"
    init = ast.parse((SOURCES / "__init__.py").read_text())
    assert not [n for n in init.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def test_presets_are_picked_by_name_and_copied():
    assert fitting.recipe("resnet56")["warmup"] == 10_000 and fitting.recipe("resnet20")["warmup"] == 0
    first = originals.recipe("cifar")
    first["milestones"].append(1)
    assert originals.recipe("cifar")["milestones"] == [39_000, 58_500]
    with pytest.raises(KeyError, match="unknown NeRN recipe 'resnet99'.*brief"):
        fitting.recipe("resnet99")
    with pytest.raises(KeyError, match="no setting 'hiden'"):
        fitting.recipe("brief", hiden=3)
    with pytest.raises(KeyError, match="unknown architecture"):
        originals.architecture("vgg16")


def test_bad_original_settings_fail_clearly(isolated, cifar):
    data = _fake("cifar10")
    with pytest.raises(ValueError, match="in_channels = 1 but cifar10 images have 3 channels"):
        originals.train_original(originals.architecture("resnet8-w4-gray"), TINY_ORIGINAL, 0.0, data, augment=False,
                                 seed=0, device=torch.device("cpu"), checkpoint=_checkpoint)
    with pytest.raises(ValueError, match="not a CIFAR ResNet"):
        originals.build_original({"arch": "vgg16", "width": 16, "in_channels": 3}, 10)
    with pytest.raises(ValueError, match="pad_to = 30 cannot centre 32x32 images"):
        originals.task_data("cifar10", "standard", 30, torch.device("cpu"))


@pytest.mark.skipif(not os.environ.get("WEIGHTSPACE_DATA"), reason="WEIGHTSPACE_DATA not set")
def test_padded_mnist_is_32_pixels_square():
    data = originals.task_data("mnist", "test-8k/2k", 32, torch.device("cpu"))
    assert data.name == "mnist32" and data.train.x.shape[1:] == (1, 32, 32)
    assert data.description["split"].endswith(", padded to 32x32 (1 channel)")


def test_slots_must_match_the_sizes_run(isolated, cifar):
    with pytest.raises(ValueError, match=r"slots\['resnet20'\] = \[160\] must give one of the paper's sizes"):
        experiments.run("nern.cifar10", "full", archs={"resnet20": [8, 16]}, slots={"resnet20": [160]},
                        nern={"resnet20": TINY_NERN}, reference=TINY_ORIGINAL, save=False)
    with pytest.raises(ValueError, match="originals has no architecture for 'resnet20'"):
        experiments.run("nern.datafree", "full", archs={"resnet20": [8]}, slots={"resnet20": [160]},
                        originals={"resnet56": originals.architecture("resnet56")}, save=False)


def test_too_many_top_filters_fail_clearly(isolated, cifar):
    with pytest.raises(ValueError, match="top_filters = 9: layer3.0.conv2.weight has 16 filters"):
        experiments.run("nern.applications", "full", original={"arch": "resnet8", "width": 4, "in_channels": 3},
                        nern=TINY_NERN, reference=TINY_ORIGINAL, predictor_fractions=[0.0],
                        original_fractions=[0.2], top_filters=9, activation_images=8, save=False)


@pytest.mark.parametrize("name", [n for n in NERN_EXPERIMENTS if n != "nern.appendix"])
def test_full_recipes_are_the_papers_and_run_four_seeds(name):
    """Section 4: every experiment runs 4 seeds; eq. 1 on the integer indices, b = 0.76, N = 40 (240 features);
    Ranger 5e-3 with cosine decay; 4,096 kernels per step with p_uni = 0.8 on CIFAR."""
    full, quick = experiments.config(name, "full"), experiments.config(name, "quick") \
        if "quick" in experiments.profiles(name) else None
    assert full["seeds"] == 4 and (quick is None or quick["seeds"] == 3)
    recipes = [full["nern"]] if "hidden" in full["nern"] else list(full["nern"].values())
    for r in recipes:
        cfg = NeRNConfig(**r)
        assert (cfg.indices, cfg.base, cfg.frequencies, cfg.lr, cfg.min_lr, cfg.p_uniform) == \
            ("integer", 0.76, 40, 5e-3, 1e-6, 0.8)
        assert (cfg.kd_eps, cfg.fmd_maps, cfg.selection, cfg.sampling) == (0.0, "paper", "final", "weighted")
        assert cfg.kernel_batch == (2**16 if name == "nern.imagenet" else 4096)
