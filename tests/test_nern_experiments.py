"""The NeRN experiments end to end: full-profile paths on synthetic CIFAR-shaped data, quick-profile learning."""

import pytest
import torch

from weightspace import experiments
from weightspace.data import DatasetNotFoundError, ImageData, Split
from weightspace.experiments import nern as shared
from weightspace.experiments import RunContext
from weightspace.nern.models import CifarResNet, conv_names
from weightspace.nern.predictor import KernelLayout, NeRN
from weightspace.nern.train import NeRNConfig, conv_weights, image_batches, reconstructed, train_nern
from weightspace.training import evaluate

TINY_ORIGINAL = {"steps": 2, "batch_size": 16, "lr": 0.1, "optimizer": "sgd", "schedule": "step",
                 "milestones": [1], "weight_decay": 1e-4, "nesterov": False, "eval_every": 1}
TINY_NERN = {**NeRNConfig().to_dict(), "hidden": 8, "steps": 3, "batch_size": 4, "kernel_batch": 64,
             "warmup": 1, "eval_every": 2}


def _fake(name, profile="full"):
    classes = 100 if name == "cifar100" else 10
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 3, 32, 32, generator=g), torch.randint(0, classes, (48,), generator=g)
    return ImageData(name, Split(x[:32], y[:32]), Split(x[32:], y[32:]), classes,
                     {"dataset": name, "split": f"synthetic {name}-shaped data (test)"})


@pytest.fixture
def cifar(monkeypatch):
    monkeypatch.setattr(shared.datasets, "load", _fake)


def _rows(result, table):
    return {r["row"]: r for r in result.tables[table]}


def test_full_cifar10_path_runs_on_cifar_shaped_data(isolated, cifar):
    result = experiments.run("nern.cifar10", "full", archs={"resnet20": [8]}, slots={"resnet20": [160]},
                             nern={"resnet20": TINY_NERN}, reference=TINY_ORIGINAL)
    rows = _rows(result, "table")
    assert {"resnet20-none-160", "resnet20-in-160", "resnet20-cross-160"} <= set(rows)
    assert all(0 <= rows[f"resnet20-{m}-160"]["accuracy"] <= 100 for m in ("none", "in", "cross"))
    assert rows["resnet56-cross-320"]["status"].startswith("not run")
    assert result.data["originals"]["resnet20"] >= 0


def test_full_cifar100_path_runs_and_fails_clearly_without_data(isolated, cifar, monkeypatch):
    result = experiments.run("nern.cifar100", "full", archs={"resnet56": [8]}, slots={"resnet56": [320]},
                             modes=["in"], nern={"resnet56": TINY_NERN}, reference=TINY_ORIGINAL)
    assert _rows(result, "table")["resnet56-in-320"]["status"] == ""

    def missing(name, profile):
        raise DatasetNotFoundError(f"{name} not found: set WEIGHTSPACE_DATA")

    monkeypatch.setattr(shared.datasets, "load", missing)
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
    result = experiments.run("nern.regularization", "full", arch="resnet20", sizes=[8], nern=TINY_NERN,
                             reference=TINY_ORIGINAL)
    rows = _rows(result, "table10")
    assert rows["5e-05-240"]["factor"] == 5e-5 and rows["5e-05-240"]["status"] == ""
    assert rows["5e-05-280"]["status"].startswith("not run")


def test_full_applications_path_runs(isolated, cifar):
    result = experiments.run("nern.applications", "full", arch="resnet20", nern=TINY_NERN, reference=TINY_ORIGINAL,
                             predictor_fractions=[0.0, 0.5], original_fractions=[0.2], top_filters=2,
                             activation_images=8)
    assert len(result.tables["meta_compression"]) == 2 and len(result.tables["pruning"]) == 3
    assert len(result.data["lowest"]) == 2


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
    ctx = RunContext("test", "quick", 0, torch.device("cpu"), "x")
    spec = {"arch": "resnet8", "width": 4, "recipe": {"steps": 60, "batch_size": 32, "lr": 0.1,
                                                       "optimizer": "sgd", "schedule": "one_cycle",
                                                       "weight_decay": 5e-4, "eval_every": 60}}
    original, record = shared.original_network(ctx, {**spec, "smooth": 0.0, "augment": False}, data)
    assert record["accuracy"] > 90
    layout = KernelLayout.of(conv_weights(original, conv_names(original)), "cross")
    score = lambda net: evaluate(net, data.eval)[0]  # noqa: E731
    torch.manual_seed(0)
    nern = NeRN(layout, 48, 1.25)
    with torch.no_grad():
        random_acc = score(reconstructed(original, nern.weights()))
    cfg = NeRNConfig(**shared.nern_recipe("quick"))
    out = train_nern(original, nern, cfg, image_batches(data.train.x, cfg.batch_size, 0), score)
    assert out.accuracy > random_acc + 30


def _separable():
    """Four well-separated classes of 1 x 32 x 32 images: an original that is easy and fast to train."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 1, 32, 32, generator=g)
    y = torch.randint(0, 4, (640,), generator=g)
    x = centres[y] + 0.5 * torch.randn(640, 1, 32, 32, generator=g)
    return ImageData("blobs", Split(x[:512], y[:512]), Split(x[512:], y[512:]), 4, {"split": "synthetic blobs"})


def test_cifar_augmentation_keeps_shapes_and_flips():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float).reshape(2, 3, 32, 32)
    out = shared.crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert set(out[0, 0].unique().tolist()) - {0.0} <= set(x[0, 0].unique().tolist())


def test_unknown_inputs_fail_clearly(isolated, cifar):
    data = _fake("cifar10")
    net = CifarResNet(8, 10, 4, 3).eval()
    ctx = RunContext("t", "full", 0, torch.device("cpu"), "h")
    with pytest.raises(ValueError, match="unknown inputs"):
        shared.fit(ctx, net, data, "none", TINY_NERN, "x", inputs="images")


def test_orderings_are_cached_per_weights_and_mode(isolated):
    torch.manual_seed(0)
    net = CifarResNet(8, 10, 4, 1)
    first = shared.layouts(net)("cross")
    again = shared.layouts(net)("cross")
    assert all(torch.equal(a, b) for a, b in zip(first.orders, again.orders))
    assert len(list((isolated / "cache" / "nern" / "layout").glob("*.pt"))) == 1
    shared.layouts(net)("in")
    assert len(list((isolated / "cache" / "nern" / "layout").glob("*.pt"))) == 2
