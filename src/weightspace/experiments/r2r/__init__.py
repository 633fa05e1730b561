"""Experiments of the R2R report: function preservation (Section 3), widening and deepening (5.2), Table 1 (5.3).

Shared here: the data of a profile, the networks of Section 5.2, the training
recipe of App. D (Adam with AMSGrad, learning rate 0.003, weight decay 1e-6,
batch 32, constant rate) and :func:`grow_run`, which trains a teacher, applies a
transform and trains the student on with the rescaled learning rate of App. C.3,
counting training FLOPs with ``torch.utils.flop_counter``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable

import torch
import torch.nn.functional as F

from weightspace import data as datasets
from weightspace.data import ImageData, Split
from weightspace.experiments import RunContext, seed_everything
from weightspace.r2r.networks import (NetSpec, ResNet, architecture, build, parameter_count, section52_spec,
                                      training_flops)
from weightspace.r2r.transforms import net2_deeper_net, net2_wider_net, r2_deeper_r, r2_wider_r, rescaled
from weightspace.results import load_or_make
from weightspace.training import TrainConfig, evaluate, train_classifier

Transform = Callable[[ResNet, ImageData, torch.Generator], ResNet]


def recipe(profile: str, **changes: Any) -> dict[str, Any]:
    """App. D, Table 2: Adam (AMSGrad, as the authors' code), lr 0.003, weight decay 1e-6, batch 32, constant rate."""
    full = {"steps": 6000, "batch_size": 32, "lr": 0.003, "optimizer": "adam", "schedule": "constant",
            "weight_decay": 1e-6, "amsgrad": True, "eval_every": 250, "checkpoint_every": 1000}
    quick = {**full, "eval_every": 80}
    return {**(full if profile == "full" else quick), **changes}


def data_config(profile: str) -> dict[str, Any]:
    """CIFAR-10 at ``full``; at ``quick`` the offline MNIST split, average-pooled 2x to 14x14 pixels."""
    if profile == "full":
        return {"dataset": "cifar10", "downsample": 1, "widths": [16, 32, 64], "fc": 128, "kernel": 3}
    return {"dataset": "mnist", "downsample": 2, "widths": [8, 16, 32], "fc": 64, "kernel": 3}


def _pool(split: Split, factor: int) -> Split:
    return split if factor == 1 else Split(F.avg_pool2d(split.x, factor), split.y)


def load_data(cfg: dict[str, Any], profile: str, device: torch.device) -> ImageData:
    """The dataset of ``cfg`` at ``profile``, average-pooled by ``cfg["downsample"]``, on ``device``."""
    data = datasets.load(cfg["dataset"], profile)
    factor = cfg["downsample"]
    desc = dict(data.description)
    if factor > 1:
        side = data.train.x.shape[-1] // factor
        desc["split"] = f"{desc['split']}, average-pooled {factor}x to {side}x{side} pixels"
    return ImageData(data.name, _pool(data.train, factor), _pool(data.eval, factor), data.num_classes,
                     desc).to(device)


def net_shape(data: ImageData) -> tuple[int, int]:
    """Input channels and image side of a dataset."""
    return data.train.x.shape[1], data.train.x.shape[-1]


def specs(cfg: dict[str, Any], data: ImageData) -> dict[str, NetSpec]:
    """Section 5.2's networks: the base, the widening teacher (half the internal width), the deepening teacher."""
    c, side = net_shape(data)
    kw = {"widths": cfg["widths"], "fc": cfg["fc"], "kernel": cfg["kernel"]}
    return {"base": section52_spec(c, side, **kw), "wide_teacher": section52_spec(c, side, hidden=0.5, **kw),
            "deep_teacher": section52_spec(c, side, residual=False, **kw)}


def fresh(spec: NetSpec, seed: int, device: torch.device) -> ResNet:
    """A network of ``spec`` initialised from ``seed``."""
    seed_everything(seed)
    return build(spec).to(device)


_FLOPS: dict[tuple, int] = {}


def step_flops(net: ResNet, data: ImageData, batch_size: int) -> int:
    """Training FLOPs of one step of ``net``, counted once per architecture (the runs of a figure share them)."""
    c, side = net_shape(data)
    key = (architecture(net), tuple(tuple(p.shape) for p in net.parameters()), c, side, batch_size)
    if key not in _FLOPS:
        _FLOPS[key] = training_flops(net, (c, side, side), batch_size)
    return _FLOPS[key]


def _accuracy(net: ResNet, data: ImageData) -> float:
    return evaluate(net, data.eval)[0] / 100.0


def _points(curve: list[dict], flops_before: float, per_step: float, start: int) -> list[dict]:
    return [{"step": p["step"], "accuracy": p["accuracy"] / 100.0, "train_loss": p["train_loss"],
             "flops": flops_before + per_step * (p["step"] - start)} for p in curve]


def grow_run(teacher: ResNet, transform: Transform | None, at: int, cfg: TrainConfig, data: ImageData, *, seed: int,
             ctx: RunContext, tag: str, rescale: bool = True) -> dict[str, Any]:
    """Train ``teacher`` for ``at`` steps, transform it, train the student to ``cfg.steps`` in all.

    The student continues the teacher's batch stream with a fresh optimiser whose
    learning rate and weight decay are scaled by :math:`|\\theta_t|_c / |\\theta_s|_c`
    (App. C.3) when ``rescale``. Returns the curve (accuracy as a fraction, with
    the cumulative training FLOPs at each point), the FLOPs per step before and
    after, parameter counts, the accuracy right after the transform and wall time.
    """
    started = time.time()
    g = torch.Generator().manual_seed(seed)
    per_teacher = step_flops(teacher, data, cfg.batch_size)
    curve: list[dict] = []
    if at > 0:
        curve.append({"step": 0, "accuracy": _accuracy(teacher, data), "flops": 0.0})
        out = train_classifier(teacher, data, replace(cfg, steps=at), seed=seed, keep="last",
                               checkpoint=ctx.checkpoint(f"{tag}-teacher"), desc=f"{tag} teacher")
        curve += _points(out.curve, 0.0, per_teacher, 0)
    student = transform(teacher, data, g) if transform is not None else teacher
    student_cfg = rescaled(cfg, teacher, student) if rescale and transform is not None else cfg
    per_student = step_flops(student, data, cfg.batch_size)
    after = _accuracy(student, data)
    before_flops = per_teacher * at
    curve.append({"step": at, "accuracy": after, "flops": before_flops, "transform": True})
    out = train_classifier(student, data, student_cfg, seed=seed, start_step=at, keep="last",
                           checkpoint=ctx.checkpoint(f"{tag}-student"), desc=f"{tag} student")
    curve += _points(out.curve, before_flops, per_student, at)
    return {"curve": curve, "at": at, "accuracy": curve[-1]["accuracy"], "best_accuracy": out.accuracy / 100.0,
            "accuracy_after_transform": after, "teacher_parameters": parameter_count(teacher),
            "student_parameters": parameter_count(student), "flops_per_step_teacher": per_teacher,
            "flops_per_step_student": per_student, "total_flops": curve[-1]["flops"], "lr": student_cfg.lr,
            "train_time_s": round(time.time() - started, 2), "net": student}


def trained_teacher(spec: NetSpec, cfg: TrainConfig, data: ImageData, *, seed: int, ctx: RunContext,
                    tag: str) -> tuple[ResNet, dict[str, Any]]:
    """A teacher of ``spec`` trained for ``cfg.steps`` (to convergence, Figs. 6 and 8), cached as an artifact."""
    key = {"spec": repr(spec), "recipe": cfg.to_dict(), "seed": seed, "profile": ctx.profile,
           "data": data.description, "device": ctx.device.type}

    def make() -> dict[str, Any]:
        net = fresh(spec, seed, ctx.device)
        out = train_classifier(net, data, cfg, seed=seed, keep="last", checkpoint=ctx.checkpoint(tag), desc=tag)
        return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "curve": out.curve,
                "accuracy": _accuracy(net, data)}

    record = load_or_make(f"r2r/{tag}", key, make, scope=__name__)
    net = build(spec).to(ctx.device)
    net.load_state_dict(record["state"])
    return net, record


def first_step(curve: list[dict], threshold: float) -> int | None:
    """The first evaluated step whose accuracy reaches ``threshold`` (``None`` if none does)."""
    return next((p["step"] for p in curve if p["accuracy"] >= threshold), None)


def _hidden(spec: NetSpec) -> list[int]:
    return [s.blocks[0].widths[0] if s.blocks else 0 for s in spec.stages]


def widen_all(spec_from: NetSpec, spec_to: NetSpec, *, new: str = "r2r", init: str = "match") -> Transform:
    """R2WiderR by concatenation (App. C.1) on every stage's residual block, from ``spec_from``'s to ``spec_to``'s width."""
    extra = [b - a for a, b in zip(_hidden(spec_from), _hidden(spec_to))]

    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        for s, e in enumerate(extra):
            net = r2_wider_r(net, s, 0, e, mode="concat", new=new, init=init, generator=g)
        return net

    return transform


def net2wider_all(spec_to: NetSpec) -> Transform:
    """Net2WiderNet on every stage's residual block, to ``spec_to``'s internal width."""
    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        for s, width in enumerate(_hidden(spec_to)):
            net = net2_wider_net(net, s, 0, width, generator=g)
        return net

    return transform


def deepen_all(spec_to: NetSpec, *, new: str = "r2r", init: str = "match") -> Transform:
    """R2DeeperR on every stage: a residual block of ``spec_to``'s internal width after the plain conv units."""
    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        for s, (hidden, stage) in enumerate(zip(_hidden(spec_to), spec_to.stages)):
            net = r2_deeper_r(net, s, 0, hidden, stage.blocks[0].kernels[0], new=new, init=init, generator=g)
        return net

    return transform


def net2deeper_all(batch_size: int = 256) -> Transform:
    """Net2DeeperNet on every stage: an identity conv unit after the last plain unit, BN set from a training batch."""
    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        batch = data.train.x[:batch_size]
        for s, stage in enumerate(net.stages):
            net = net2_deeper_net(net, s, len(stage.convs) - 1, batch=batch)
        return net

    return transform


def schedule_config(profile: str) -> dict[str, Any]:
    """Figs. 5 and 7: 6000 updates with the transform before 0, 1500, 3000 or 4500 (quick: the same quarters of 360)."""
    total = 6000 if profile == "full" else 360
    return {**data_config(profile), "transform_at": [0, total // 4, total // 2, 3 * total // 4], "init": "match",
            "recipes": {"train": recipe(profile, steps=total)}}


def schedule(cfg: dict[str, Any], ctx: RunContext, kind: str) -> dict[str, Any]:
    """Train teacher-then-student once per transform point; rows ``quarter<i>`` with accuracy and relative cost."""
    data = load_data(cfg, ctx.profile, ctx.device)
    nets = specs(cfg, data)
    teacher_spec = nets["wide_teacher" if kind == "widen" else "deep_teacher"]
    transform = (widen_all(teacher_spec, nets["base"], init=cfg["init"]) if kind == "widen"
                 else deepen_all(nets["base"], init=cfg["init"]))
    train = TrainConfig(**cfg["recipes"]["train"])
    if sorted(cfg["transform_at"]) != cfg["transform_at"] or cfg["transform_at"][0] != 0 or \
            cfg["transform_at"][-1] >= train.steps:
        raise ValueError(f"transform_at must be increasing steps in [0, {train.steps}) starting at 0 (the cost "
                         f"baseline), got {cfg['transform_at']}")
    runs = []
    for i, at in enumerate(cfg["transform_at"]):
        teacher = fresh(teacher_spec, ctx.seed, ctx.device)
        run = grow_run(teacher, transform, at, train, data, seed=ctx.seed, ctx=ctx, tag=f"{kind}-at{at}")
        run.pop("net")
        runs.append(run)
    reference_flops = runs[0]["total_flops"]
    rows = [{"row": f"quarter{i}", "at": r["at"], "accuracy": r["accuracy"], "best_accuracy": r["best_accuracy"],
             "relative_cost": r["total_flops"] / reference_flops, "total_flops": r["total_flops"],
             "accuracy_after_transform": r["accuracy_after_transform"], "teacher_parameters": r["teacher_parameters"],
             "student_parameters": r["student_parameters"], "train_time_s": r["train_time_s"],
             "relative_time": r["train_time_s"] / runs[0]["train_time_s"], "status": ""} for i, r in enumerate(runs)]
    return {"rows": rows, "curves": {f"quarter{i}": r["curve"] for i, r in enumerate(runs)}, "data": data}


def convergence_config(profile: str) -> dict[str, Any]:
    """Figs. 6 and 8: a teacher trained to convergence, then 7000 updates per student (quick: 400 and 320)."""
    teacher, student = (7000, 7000) if profile == "full" else (400, 320)
    return {**data_config(profile), "init": "match", "methods": list(METHODS),
            "recipes": {"teacher": recipe(profile, steps=teacher), "student": recipe(profile, steps=student)}}


METHODS = ("r2r", "random", "net2net", "scratch")
CONVERGED_WITHIN = 0.005


def convergence(cfg: dict[str, Any], ctx: RunContext, kind: str) -> dict[str, Any]:
    """The converged teacher transformed by R2R, random padding and Net2Net, against the base from scratch."""
    unknown = sorted(set(cfg["methods"]) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}: choose from {', '.join(METHODS)}")
    data = load_data(cfg, ctx.profile, ctx.device)
    nets = specs(cfg, data)
    teacher_spec = nets["wide_teacher" if kind == "widen" else "deep_teacher"]
    teacher_cfg, student_cfg = (TrainConfig(**cfg["recipes"][k]) for k in ("teacher", "student"))
    teacher, record = trained_teacher(teacher_spec, teacher_cfg, data, seed=ctx.seed, ctx=ctx, tag=f"{kind}-teacher")
    teacher_acc = record["accuracy"]
    if kind == "widen":
        transforms = {"r2r": widen_all(teacher_spec, nets["base"], init=cfg["init"]),
                      "random": widen_all(teacher_spec, nets["base"], new="random", init=cfg["init"]),
                      "net2net": net2wider_all(nets["base"])}
    else:
        transforms = {"r2r": deepen_all(nets["base"], init=cfg["init"]),
                      "random": deepen_all(nets["base"], new="random", init=cfg["init"]),
                      "net2net": net2deeper_all()}
    rows, curves = [{"row": "teacher", "accuracy": teacher_acc, "parameters": parameter_count(teacher),
                     "status": ""}], {"teacher": [{"step": p["step"], "accuracy": p["accuracy"] / 100.0,
                                                   "train_loss": p["train_loss"]} for p in record["curve"]]}
    for i, method in enumerate(cfg["methods"]):
        if method == "scratch":
            start, transform = fresh(nets["base"], ctx.seed * 1000 + i + 1, ctx.device), None
        else:
            start, transform = build(teacher_spec).to(ctx.device), transforms[method]
            start.load_state_dict(teacher.state_dict())
        run = grow_run(start, transform, 0, student_cfg, data, seed=ctx.seed * 1000 + i + 1, ctx=ctx,
                       tag=f"{kind}-{method}")
        net = run.pop("net")
        curve = run["curve"]
        rows.append({"row": method, "accuracy": run["accuracy"], "best_accuracy": run["best_accuracy"],
                     "accuracy_after_transform": run["accuracy_after_transform"],
                     "updates_to_teacher": first_step(curve, teacher_acc),
                     "updates_to_converge": first_step(curve, run["best_accuracy"] - CONVERGED_WITHIN),
                     "parameters": parameter_count(net), "lr": run["lr"], "train_time_s": run["train_time_s"],
                     "status": ""})
        curves[method] = curve
    return {"rows": rows, "curves": curves, "data": data, "teacher_accuracy": teacher_acc}
