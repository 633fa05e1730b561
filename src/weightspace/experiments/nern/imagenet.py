"""Section 4.3, Tables 3 and 12: ImageNet ResNet18 (full profile only).

torchvision's pretrained ResNet18 (69.76 / 89.08 top-1 / top-5); NeRN predicts
only its 3x3 convs (no 7x7 stem, no 1x1 downsampling), in-filter and
cross-filter, h = 1024 ... 1372; 160,000 iterations of 32 training images
(standard augmentation), 2^16 kernels per step, alpha = beta = 1e-6 after a
20,000-iteration reconstruction-only warm-up (the authors' ResNet18 setting).
Evaluated on the 50,000 validation images (resize 256, centre crop 224).

Needs ``$WEIGHTSPACE_DATA/imagenet/{train,val}`` and the pretrained weights
(downloaded by torchvision on first use): without them it stops at once with a
clear error. Table 13 (SqueezeNet) is not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import nn

from weightspace.data import imagenet_folders
from weightspace.experiments import Outputs, RunContext
from weightspace.nern import fitting
from weightspace.nern.fitting import evaluated
from weightspace.nern.models import conv_names, resnet18
from weightspace.nern.predictor import KernelLayout, NeRN, predictor_size_mb
from weightspace.nern.train import NeRNConfig, conv_weights, train_nern
from weightspace.tables import Row, Table

TITLE = "NeRN, Tables 3 and 12: ImageNet ResNet18 (full profile only)"
PROFILES = ("full",)  # the quick profile has no data or model for it (its page shows the committed full result)
SIZES = [1024, 1140, 1256, 1372]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True, kw_only=True)
class ImageNetRow(Row):
    """Table 12: the pretrained original (``row="original"``) or a NeRN of size ``hidden`` under ``mode``."""

    mode: str | None = None
    hidden: int | None = None
    predictor_mb: float | None = None
    top1: float | None = None
    top5: float | None = None
    best_top1: float | None = None
    recon: float | None = None
    iterations_per_second: float | None = None


TABLES = {"table12": Table(ImageNetRow, rows=lambda cfg: ["original"] + [f"{m}-{h}" for m in cfg["modes"]
                                                                           for h in cfg["sizes"]])}


def config(profile: str) -> dict[str, Any]:
    recipe = fitting.recipe("resnet18")
    # "reference" documents how the pretrained original was trained (torchvision's recipe: 90 epochs of
    # batch 256, lr x0.1 every 30 epochs); it is loaded, never trained here.
    reference = {"steps": 450_450, "batch_size": 256, "lr": 0.1, "optimizer": "sgd", "schedule": "step",
                 "milestones": [150_150, 300_300], "weight_decay": 1e-4, "nesterov": False}
    return {"sizes": SIZES, "modes": ["in", "cross"], "nern": recipe, "reference": reference, "eval_images": None,
            "workers": 8, "seeds": 4}


def loaders(cfg: dict[str, Any], device: torch.device) -> tuple[Callable[[int], torch.Tensor],
                                                                    Callable[[nn.Module], dict[str, float]]]:
    """Training batches (step -> images) and a top-1/top-5 evaluator on the validation folder."""
    from weightspace._compat import import_torchvision

    tv = import_torchvision()
    train_dir, val_dir = imagenet_folders()
    t = tv.transforms
    norm = t.Normalize(MEAN, STD)
    train = tv.datasets.ImageFolder(str(train_dir), t.Compose([t.RandomResizedCrop(224), t.RandomHorizontalFlip(),
                                                                t.ToTensor(), norm]))
    val = tv.datasets.ImageFolder(str(val_dir), t.Compose([t.Resize(256), t.CenterCrop(224), t.ToTensor(), norm]))
    if cfg["eval_images"]:
        val = torch.utils.data.Subset(val, range(cfg["eval_images"]))
    stream: Iterator[Any] = iter(())

    def batches(step: int) -> torch.Tensor:
        nonlocal stream
        try:
            return next(stream)[0].to(device, non_blocking=True)
        except StopIteration:
            stream = iter(torch.utils.data.DataLoader(train, cfg["nern"]["batch_size"], shuffle=True,
                                                      num_workers=cfg["workers"], drop_last=True, pin_memory=True))
            return next(stream)[0].to(device, non_blocking=True)

    @torch.no_grad()
    def evaluate(net: nn.Module) -> dict[str, float]:
        top1 = top5 = n = 0
        for x, y in torch.utils.data.DataLoader(val, 256, num_workers=cfg["workers"]):
            pred = net(x.to(device)).topk(5, 1).indices.cpu()
            top1 += (pred[:, 0] == y).sum().item()
            top5 += (pred == y[:, None]).any(1).sum().item()
            n += len(y)
        return {"top1": 100 * top1 / n, "top5": 100 * top5 / n}

    return batches, evaluate


def compute(cfg: dict[str, Any], ctx: RunContext) -> Outputs:
    batches, evaluate = loaders(cfg, ctx.device)  # fails first when ImageNet is missing
    try:
        original = resnet18(pretrained=True).to(ctx.device).eval()
    except (OSError, RuntimeError) as err:
        raise RuntimeError("torchvision's pretrained ResNet18 weights could not be loaded (offline? put "
                           "resnet18-f37072fd.pth in torch's hub cache, $TORCH_HOME/hub/checkpoints)") from err
    names = conv_names(original, (3,))
    table, curves = [ImageNetRow(row="original", **evaluate(original))], {}
    last: dict[str, float] = {}

    def score(net: nn.Module) -> float:
        last.update(evaluate(net))
        return last["top1"]

    for mode in cfg["modes"]:
        layout = KernelLayout.of(conv_weights(original, names), mode)
        for h in cfg["sizes"]:
            rcfg = NeRNConfig(**{**cfg["nern"], "hidden": h})
            nern = NeRN(layout, h, rcfg.base, rcfg.frequencies, rcfg.indices).to(ctx.device)
            tag = f"{mode}-{h}"
            out = train_nern(original, nern, rcfg, batches, score, seed=ctx.seed, checkpoint=ctx.checkpoint(tag),
                             desc=tag)
            table.append(ImageNetRow(row=tag, mode=mode, hidden=h, predictor_mb=predictor_size_mb(h, 6 * rcfg.frequencies),
                                     top1=last["top1"], top5=last["top5"], best_top1=out.best_accuracy,
                                     recon=out.curve[-1]["recon"],
                                     iterations_per_second=out.iterations_per_second))
            curves[tag] = evaluated(out.curve)
    return Outputs(metrics={r.row: r.top1 for r in table}, tables={"table12": table}, curves=curves,
                   data={"split": "ImageNet (ILSVRC 2012): 1.28M train / 50,000 val"})
