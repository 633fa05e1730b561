"""Experiments of NeRN (Ashkenazi et al., 2023): shared data, original networks and NeRN fits.

``quick``: CIFAR is not available offline, so the originals are CIFAR-style
ResNet8s (option-B shortcuts, 4 channels in stage 1, a 1-channel stem)
trained briefly on the offline MNIST split padded from 28x28 to 32x32 (padding
value: the normalised background), and the NeRNs train for a few hundred
iterations. ``full``: the paper's CIFAR-10/100 ResNets and recipes.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from weightspace import data as datasets
from weightspace.data import ImageData, Split
from weightspace.experiments import Outputs, RunContext, seed_everything
from weightspace.nern.models import CifarResNet, conv_names, smoothness
from weightspace.nern.predictor import KernelLayout, NeRN, predictor_size_mb
from weightspace.nern.train import NeRNConfig, NeRNOutcome, conv_weights, image_batches, noise_batches, train_nern
from weightspace.results import load_or_make
from weightspace.training import TrainConfig, evaluate, train_classifier

PAPER = "nern"


def load_data(dataset: str, profile: str, device: torch.device) -> ImageData:
    """``mnist32`` (quick: the offline MNIST split padded to 32x32, 1 channel) or ``cifar10``/``cifar100``."""
    if dataset == "mnist32":
        d = datasets.load("mnist", profile)
        pad = lambda s: Split(F.pad(s.x, (2, 2, 2, 2), value=float(s.x.min())), s.y)  # noqa: E731
        desc = {**d.description, "split": d.description["split"] + ", padded to 32x32 (1 channel)"}
        return ImageData("mnist32", pad(d.train), pad(d.eval), 10, desc).to(device)
    return datasets.load(dataset, profile).to(device)


def original_recipe(profile: str) -> dict[str, Any]:
    """The originals' recipe. ``full``: SGD 0.1, momentum 0.9, wd 1e-4, batch 128, 200 epochs (78,000 steps),
    lr x0.1 at epochs 100 and 150, crop + flip. ``quick``: 120 steps of batch 32, one-cycle to 0.1."""
    if profile == "full":
        return {"steps": 78_000, "batch_size": 128, "lr": 0.1, "optimizer": "sgd", "schedule": "step",
                "milestones": [39_000, 58_500], "weight_decay": 1e-4, "nesterov": False, "eval_every": 3900,
                "checkpoint_every": 3900}
    return {"steps": 200, "batch_size": 64, "lr": 0.1, "optimizer": "sgd", "schedule": "one_cycle",
            "weight_decay": 5e-4, "eval_every": 200}


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


def original_spec(profile: str, arch: str = "resnet20", dataset: str | None = None, smooth: float = 0.0,
                  recipe: dict[str, Any] | None = None) -> dict[str, Any]:
    """What defines an original network: architecture, width, data, recipe, smoothness factor (eq. 6).

    ``quick`` replaces ``arch`` by a ResNet8 of width 4 (one block per stage, option-B shortcuts: 676 kernels)
    so that a NeRN fits it in a few hundred iterations on one CPU thread.
    """
    quick = profile == "quick"
    return {"arch": "resnet8" if quick else arch, "width": 4 if quick else 16,
            "dataset": dataset or ("mnist32" if quick else "cifar10"),
            "recipe": recipe or original_recipe(profile), "smooth": smooth, "augment": not quick}


def original_network(ctx: RunContext, spec: dict[str, Any], data: ImageData) -> tuple[nn.Module, dict[str, Any]]:
    """The trained original of ``spec`` (cached, trained once for all sections) and its training record."""
    key = {**spec, "profile": ctx.profile, "data": data.description, "device": ctx.device.type, "seed": ctx.seed}

    def build() -> nn.Module:
        depth = int(spec["arch"].removeprefix("resnet"))
        return CifarResNet(depth, data.num_classes, spec["width"], data.train.x.shape[1])

    def make() -> dict[str, Any]:
        seed_everything(ctx.seed)
        net = build().to(ctx.device)
        reg = (lambda m: spec["smooth"] * smoothness(m)) if spec["smooth"] else None
        started = time.time()
        out = train_classifier(net, data, TrainConfig(**spec["recipe"]), seed=ctx.seed, desc=f"original {spec['arch']}",
                               checkpoint=ctx.checkpoint(f"original-{spec['arch']}-{spec['smooth']}"),
                               regularizer=reg, augment=crop_flip if spec["augment"] else None)
        return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "accuracy": out.accuracy,
                "seconds": round(time.time() - started, 1)}

    record = load_or_make(f"{PAPER}/original", key, make, scope=__name__)
    net = build()
    net.load_state_dict(record["state"])
    return net.to(ctx.device).eval(), record


def nern_recipe(profile: str, **overrides: Any) -> dict[str, Any]:
    """NeRN's training recipe. ``full``: the paper's (68,600 iterations, batch 256, 2^12 kernels, magnitude-
    oriented sampling, Ranger 5e-3 with cosine decay, alpha = beta = 1e-4, b = 0.76).

    ``quick``: 850 iterations, the first 700 reconstruction-only (the authors' warm-up), then distillation on
    batches of 16 images with the authors' ResNet20 weights alpha = beta = 1e-4; 256 kernels per step,
    learning rate 1e-2, base b = 1.25 (with b = 0.76 every frequency is at most pi and a predictor fits almost
    nothing in a few hundred iterations: measured) and h = 48.
    """
    if profile == "full":
        recipe = NeRNConfig().to_dict()
    else:
        recipe = {**NeRNConfig().to_dict(), "hidden": 48, "steps": 850, "batch_size": 16, "kernel_batch": 256,
                  "alpha": 1e-4, "beta": 1e-4, "warmup": 700, "lr": 1e-2, "base": 1.25, "eval_every": 425}
    return {**recipe, **overrides}


def evaluator(data: ImageData, limit: int | None) -> Any:
    """Accuracy (%) of a network on the evaluation split (its first ``limit`` images if given)."""
    split = data.eval if limit is None else Split(data.eval.x[:limit], data.eval.y[:limit])
    return lambda net: evaluate(net, split)[0]


def layouts(original: nn.Module) -> Callable[[str], KernelLayout]:
    """mode -> the layout of ``original``'s conv weights under that permutation.

    Each ordering is computed once and cached (``load_or_make``) under a digest of the
    weights, so every section that reconstructs the same original reuses it.
    """
    names, made = conv_names(original), {}
    weights = conv_weights(original, names)
    digest = hashlib.sha256()
    for name, w in weights.items():
        digest.update(name.encode())
        digest.update(w.detach().cpu().contiguous().numpy().tobytes())

    def get(mode: str) -> KernelLayout:
        if mode not in made:
            made[mode] = load_or_make(f"{PAPER}/layout", {"weights": digest.hexdigest(), "mode": mode},
                                      lambda: KernelLayout.of(weights, mode), scope=__name__)
        return made[mode]
    return get


def fit(ctx: RunContext, original: nn.Module, data: ImageData, mode: str, recipe: dict[str, Any], tag: str,
        inputs: str = "data", eval_limit: int | None = None,
        layout: Callable[[str], KernelLayout] | None = None) -> tuple[dict[str, Any], NeRNOutcome]:
    """Train one NeRN on ``original`` with permutation ``mode`` (inputs: task ``data`` or U[-1, 1] ``noise``).

    Returns its table row (reconstructed accuracy, final reconstruction RMSE, predictor size, speed) and the
    outcome (the trained NeRN and its curve).
    """
    cfg = NeRNConfig(**recipe)
    ordered = (layout or layouts(original))(mode)
    seed_everything(ctx.seed)
    nern = NeRN(ordered, cfg.hidden, cfg.base, cfg.frequencies).to(ctx.device)
    if inputs == "noise":
        draw = noise_batches(tuple(data.train.x.shape[1:]), cfg.batch_size, ctx.seed, ctx.device)
    elif inputs == "data":
        draw = image_batches(data.train.x, cfg.batch_size, ctx.seed)
    else:
        raise ValueError(f"unknown inputs {inputs!r}: choose data or noise")
    out = train_nern(original, nern, cfg, draw, evaluator(data, eval_limit), seed=ctx.seed,
                     checkpoint=ctx.checkpoint(tag), desc=tag)
    row = {"row": tag, "mode": mode, "hidden": cfg.hidden, "inputs": inputs, "accuracy": out.accuracy,
           "recon": out.curve[-1]["recon"], "predictor_mb": predictor_size_mb(cfg.hidden, 6 * cfg.frequencies),
           "seconds": out.seconds,
           "iterations_per_second": out.iterations_per_second, "status": ""}
    return row, out


def evaluated(curve: list[dict[str, float]]) -> list[dict[str, float]]:
    """The evaluated points of a NeRN training curve."""
    return [c for c in curve if "accuracy" in c]


def original_row(tag: str, spec: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The table row of an original network."""
    return {"row": tag, "arch": spec["arch"], "width": spec["width"], "accuracy": record["accuracy"],
            "seconds": record["seconds"], "status": ""}


def skipped(tag: str, why: str) -> dict[str, Any]:
    """A row this run did not compute, saying why."""
    return {"row": tag, "status": why}


def permutation_table(cfg: dict[str, Any], ctx: RunContext, paper_sizes: dict[str, list[int]]) -> Outputs:
    """Tables 1, 5 and 11: for each original and size, one NeRN per permutation mode.

    Rows are named after the paper's (``<arch>-<mode>-<h>``); ``cfg["archs"]`` maps the
    architectures that run to their sizes and ``cfg["slots"]`` to the paper's sizes they
    stand in for (at ``quick`` the quick original fills the first architecture's slots;
    the row's ``ran`` says what ran). Architectures not in ``cfg["archs"]`` get rows that
    say they did not run.
    """
    data = load_data(cfg["dataset"], ctx.profile, ctx.device)
    table, curves, originals = [], {}, {}
    for arch in paper_sizes:
        if arch not in cfg["archs"]:
            why = f"not run at the {ctx.profile} profile"
            table += [skipped(f"{arch}-original", why)] + [skipped(f"{arch}-{m}-{h}", why)
                                                           for m in cfg["modes"] for h in paper_sizes[arch]]
            continue
        spec = original_spec(ctx.profile, arch, cfg["dataset"], recipe=cfg["reference"])
        original, record = original_network(ctx, spec, data)
        ordered = layouts(original)
        originals[arch] = record["accuracy"]
        table.append({**original_row(f"{arch}-original", spec, record), "ran": f"{spec['arch']}-w{spec['width']}"})
        for h, slot in zip(cfg["archs"][arch], cfg["slots"][arch]):
            for mode in cfg["modes"]:
                tag = f"{arch}-{mode}-{slot}"
                row, out = fit(ctx, original, data, mode, {**cfg["nern"][arch], "hidden": h}, tag,
                               eval_limit=cfg["eval_limit"], layout=ordered)
                table.append({**row, "ran": f"{spec['arch']}-w{spec['width']}, h={h}"})
                curves[tag] = evaluated(out.curve)
    return Outputs(metrics={r["row"]: r.get("accuracy") for r in table}, tables={"table": table},
                   curves=curves, data={"split": data.description["split"], "originals": originals})
