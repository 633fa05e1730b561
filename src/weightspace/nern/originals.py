"""The original networks NeRN reconstructs: their data, architectures, recipes and (cached) training.

An original is defined by an architecture (:data:`ARCHITECTURES`: a CIFAR ResNet's
depth, the channels of its first stage and of its stem), a training recipe
(:data:`RECIPES`), the smoothness factor of eq. 6 it is trained with (Section
4.1), the data and the seed. :func:`train_original` trains it once and caches it,
so every section that reconstructs the same original reuses it.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from weightspace import data as datasets
from weightspace.data import ImageData, Split
from weightspace.nern.models import CifarResNet, smoothness
from weightspace.results import Checkpoint, load_or_make
from weightspace.training import TrainConfig, seed_everything, train_classifier

# Architectures by name: ``arch`` (resnet<6n+2>), ``width`` (channels of stage 1) and ``in_channels`` (the stem's).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "resnet20": {"arch": "resnet20", "width": 16, "in_channels": 3},
    "resnet56": {"arch": "resnet56", "width": 16, "in_channels": 3},
    # One option-B block per stage, 4/8/16 channels and a 1-channel stem (676 kernels): a NeRN fits it in a few
    # hundred iterations on one CPU thread.
    "resnet8-w4-gray": {"arch": "resnet8", "width": 4, "in_channels": 1},
    # The paper's ResNet20 (option B, 21 convs) at half its width, 8/16/32 channels, with a 1-channel stem: a
    # quarter of ResNet20's weights, for MNIST padded to 32x32 (the cpu profile).
    "resnet20-w8-gray": {"arch": "resnet20", "width": 8, "in_channels": 1},
}

# Training recipes by name (TrainConfig values).
RECIPES: dict[str, dict[str, Any]] = {
    # The paper's CIFAR recipe: SGD 0.1, momentum 0.9, wd 1e-4, batch 128, 200 epochs (78,000 steps),
    # lr x0.1 at epochs 100 and 150, crop + flip.
    "cifar": {"steps": 78_000, "batch_size": 128, "lr": 0.1, "optimizer": "sgd", "schedule": "step",
              "milestones": [39_000, 58_500], "weight_decay": 1e-4, "nesterov": False, "eval_every": 3900,
              "checkpoint_every": 3900},
    # A brief one-cycle run for the small MNIST originals.
    "brief": {"steps": 200, "batch_size": 64, "lr": 0.1, "optimizer": "sgd", "schedule": "one_cycle",
              "weight_decay": 5e-4, "eval_every": 200},
    # About 1.9 epochs of MNIST's 60,000 training images, one-cycle, for ResNet20-w8 (the cpu profile): one
    # evaluation, at the end (seed 0: 99.31% on the test split, about 3 minutes of one core).
    "mnist": {"steps": 900, "batch_size": 128, "lr": 0.1, "optimizer": "sgd", "schedule": "one_cycle",
              "weight_decay": 5e-4, "eval_every": 900, "checkpoint_every": 300},
}


def preset(presets: dict[str, dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    """A copy of preset ``name`` of ``presets`` (``what`` names them in the error for an unknown name)."""
    if name not in presets:
        raise KeyError(f"unknown {what} {name!r}: choose one of {', '.join(presets)}")
    return copy.deepcopy(presets[name])


def architecture(name: str) -> dict[str, Any]:
    """Architecture ``name`` of :data:`ARCHITECTURES`, for a config."""
    return preset(ARCHITECTURES, name, "architecture")


def recipe(name: str) -> dict[str, Any]:
    """Training recipe ``name`` of :data:`RECIPES`, for a config."""
    return preset(RECIPES, name, "original recipe")


def task_data(dataset: str, split: str, pad_to: int | None, device: torch.device) -> ImageData:
    """``dataset``'s ``split`` on ``device``; ``pad_to`` pads the images to that square size (e.g. MNIST to 32).

    Padding uses the normalised background value (the images' minimum), so a
    28x28 MNIST digit sits in a 32x32 image as CIFAR ResNets expect.
    """
    d = datasets.load(dataset, split)
    if pad_to is None:
        return d.to(device)
    h, w = d.train.x.shape[-2:]
    if pad_to < max(h, w) or (pad_to - h) % 2 or (pad_to - w) % 2:
        raise ValueError(f"pad_to = {pad_to} cannot centre {h}x{w} images: give an even margin, at least "
                         f"{max(h, w)}, or None for no padding")
    ph, pw = (pad_to - h) // 2, (pad_to - w) // 2

    def pad(s: Split) -> Split:
        return Split(F.pad(s.x, (pw, pw, ph, ph), value=float(s.x.min())), s.y)

    channels = d.train.x.shape[1]
    desc = {**d.description, "split": f"{d.description['split']}, padded to {pad_to}x{pad_to} ({channels} channel"
                                      f"{'s' if channels > 1 else ''})"}
    return ImageData(f"{d.name}{pad_to}", pad(d.train), pad(d.eval), d.num_classes, desc).to(device)


def crop_flip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random 32x32 crop of the 4-pixel zero-padded image and random horizontal flip (CIFAR augmentation)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy, dx = (torch.randint(0, 9, (n,), generator=g) for _ in range(2))
    rows = (dy.view(n, 1) + torch.arange(h)).to(x.device)
    cols = (dx.view(n, 1) + torch.arange(w)).to(x.device)
    out = padded[torch.arange(n, device=x.device).view(n, 1, 1, 1), torch.arange(x.shape[1], device=x.device)
                 .view(1, -1, 1, 1), rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]
    flip = (torch.rand(n, generator=g) < 0.5).to(x.device)
    return torch.where(flip.view(n, 1, 1, 1), out.flip(-1), out)


def build_original(arch: dict[str, Any], num_classes: int) -> CifarResNet:
    """The untrained CIFAR ResNet of architecture ``arch`` (``arch``, ``width``, ``in_channels``)."""
    missing = sorted({"arch", "width", "in_channels"} - set(arch))
    if missing:
        raise KeyError(f"an original's architecture needs {', '.join(missing)} (e.g. {ARCHITECTURES['resnet20']})")
    name = arch["arch"]
    if not (isinstance(name, str) and name.startswith("resnet") and name[6:].isdigit()):
        raise ValueError(f"original arch {name!r} is not a CIFAR ResNet: give resnet<6n+2>, e.g. resnet20")
    return CifarResNet(int(name[6:]), num_classes, arch["width"], arch["in_channels"])


def train_original(arch: dict[str, Any], recipe: dict[str, Any], smooth: float, data: ImageData, *, augment: bool,
                   seed: int, device: torch.device,
                   checkpoint: Callable[[str], Checkpoint]) -> tuple[nn.Module, dict[str, Any]]:
    """The original ``arch`` trained on ``data`` with ``recipe`` and eq. 6's term times ``smooth`` (cached).

    ``augment``: each training batch gets CIFAR's random crop and flip (:func:`crop_flip`).

    Returns the network (eval mode, on ``device``) and its training record
    (``state``, ``accuracy``, ``seconds``). ``checkpoint(tag)`` gives the file an
    interrupted training resumes from.
    """
    if data.train.x.shape[1] != arch.get("in_channels"):
        raise ValueError(f"the original's stem takes in_channels = {arch.get('in_channels')} but {data.name} images "
                         f"have {data.train.x.shape[1]} channels")
    key = {"arch": arch, "recipe": recipe, "smooth": smooth, "augment": augment, "data": data.description,
           "device": device.type, "seed": seed}
    train = TrainConfig(**recipe)

    def make() -> dict[str, Any]:
        seed_everything(seed)
        net = build_original(arch, data.num_classes).to(device)
        reg = (lambda m: smooth * smoothness(m)) if smooth else None
        started = time.time()
        out = train_classifier(net, data, train, seed=seed, desc=f"original {arch['arch']}",
                               checkpoint=checkpoint(f"original-{arch['arch']}-{smooth}"), regularizer=reg,
                               augment=crop_flip if augment else None)
        return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "accuracy": out.accuracy,
                "seconds": round(time.time() - started, 1)}

    record = load_or_make("nern/original", key, make, scope=__name__)
    net = build_original(arch, data.num_classes)
    net.load_state_dict(record["state"])
    return net.to(device).eval(), record
