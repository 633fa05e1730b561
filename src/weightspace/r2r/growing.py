"""Growing a network during training (Section 5.2): train a teacher, transform it, train the student on.

:func:`grow_run` trains a teacher for some updates, applies a transform and
trains the student to the end with the learning rate rescaled by the parameter
ratio (App. C.3), counting training FLOPs with ``torch.utils.flop_counter``;
:func:`schedule_runs` does so once per transform point (Figs. 5 and 7) and
:func:`convergence_runs` once per transform of a converged teacher (Figs. 6 and
8), whose teacher :func:`trained_teacher` trains once and caches. The transforms
of every stage (:func:`widen_all`, :func:`deepen_all`, :func:`net2wider_all`,
:func:`net2deeper_all`) and Section 5.2's networks (:func:`section52_specs`) are
here too. Checkpoints come from a factory (``tag -> Checkpoint``) so an
interrupted run resumes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from weightspace.data import ImageData, Split
from weightspace.r2r.networks import (NetSpec, ResNet, architecture, build, parameter_count, section52_spec,
                                      training_flops)
from weightspace.r2r.transforms import (net2_deeper_net, net2_wider_net, r2_deeper_r, r2_wider_r, rescaled,
                                        zero_initialize)
from weightspace.results import Checkpoint, load_or_make
from weightspace.training import TrainConfig, evaluate, seed_everything, train_classifier

Transform = Callable[[ResNet, ImageData, torch.Generator], ResNet]
Checkpoints = Callable[[str], Checkpoint]


def _pool(split: Split, factor: int) -> Split:
    return split if factor == 1 else Split(F.avg_pool2d(split.x, factor), split.y)


def average_pooled(data: ImageData, factor: int) -> ImageData:
    """``data`` average-pooled ``factor`` x ``factor`` (1: unchanged), the pooling named in its description."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"downsample = {factor!r} is not allowed: it takes a whole number >= 1 (1: no pooling)")
    side = data.train.x.shape[-1]
    if side % factor:
        raise ValueError(f"downsample = {factor} does not divide the {side}x{side} images of {data.name}")
    desc = dict(data.description)
    if factor > 1:
        desc["split"] = f"{desc['split']}, average-pooled {factor}x to {side // factor}x{side // factor} pixels"
    return ImageData(data.name, _pool(data.train, factor), _pool(data.eval, factor), data.num_classes, desc)


def input_shape(data: ImageData) -> tuple[int, int]:
    """Input channels and image side of a dataset."""
    return data.train.x.shape[1], data.train.x.shape[-1]


def section52_specs(data: ImageData, widths: Sequence[int], fc: int, kernel: int) -> dict[str, NetSpec]:
    """Section 5.2's networks for ``data``: the base, the widening teacher (half the branch filters), the deepening teacher (two blocks)."""
    c, side = input_shape(data)
    kw = {"widths": widths, "fc": fc, "kernel": kernel}
    return {"base": section52_spec(c, side, **kw), "wide_teacher": section52_spec(c, side, hidden=1.0, **kw),
            "deep_teacher": section52_spec(c, side, depth=len(widths) - 1, **kw)}


def fresh(spec: NetSpec, seed: int, device: torch.device, *, zero_init: bool = True, init: str = "match") -> ResNet:
    """A network of ``spec`` initialised from ``seed`` (the global torch generator is seeded with it).

    ``zero_init``: every residual branch starts as an R2R block that outputs zero
    (:func:`~weightspace.r2r.transforms.zero_initialize`, He-normal weights as ``init``
    says; the report's blocks are zero-initialised, Section 3.1, as in the authors'
    code); ``False``: PyTorch's default initialisation.
    """
    seed_everything(seed)
    net = build(spec)
    if zero_init:
        zero_initialize(net, init=init)
    return net.to(device)


class FlopCounter:
    """Training FLOPs of one step, counted once per architecture (the runs of a figure share them).

    Args:
        data: the data the networks train on (its input shape).
        batch_size: the training batch.
    """

    def __init__(self, data: ImageData, batch_size: int) -> None:
        self.channels, self.side = input_shape(data)
        self.batch_size = batch_size
        self._counts: dict[tuple, int] = {}

    def per_step(self, net: ResNet) -> int:
        key = (architecture(net), tuple(tuple(p.shape) for p in net.parameters()))
        if key not in self._counts:
            self._counts[key] = training_flops(net, (self.channels, self.side, self.side), self.batch_size)
        return self._counts[key]


@dataclass
class Growth:
    """One run of :func:`grow_run`.

    Args:
        curve: evaluation points ``{"step", "accuracy", "train_loss", "flops"}`` (accuracy a fraction, flops the
            cumulative training FLOPs); the point right after the transform has ``"transform": True``.
        at: the update before which the transform was applied.
        accuracy: the last evaluation's accuracy; best_accuracy: the best evaluation of the student.
        accuracy_after_transform: the student's accuracy right after the transform.
        teacher_parameters, student_parameters: parameter counts.
        flops_per_step_teacher, flops_per_step_student: training FLOPs of one step.
        total_flops: the training FLOPs of the whole run.
        lr: the student's (rescaled) learning rate.
        train_time_s: wall time of the run.
        net: the trained student.
    """

    curve: list[dict[str, Any]]
    at: int
    accuracy: float
    best_accuracy: float
    accuracy_after_transform: float
    teacher_parameters: int
    student_parameters: int
    flops_per_step_teacher: int
    flops_per_step_student: int
    total_flops: float
    lr: float
    train_time_s: float
    net: ResNet


def _accuracy(net: ResNet, data: ImageData) -> float:
    return evaluate(net, data.eval)[0] / 100.0


def _points(curve: list[dict], flops_before: float, per_step: float, start: int) -> list[dict]:
    return [{"step": p["step"], "accuracy": p["accuracy"] / 100.0, "train_loss": p["train_loss"],
             "flops": flops_before + per_step * (p["step"] - start)} for p in curve]


def grow_run(teacher: ResNet, transform: Transform | None, at: int, cfg: TrainConfig, data: ImageData, *, seed: int,
             checkpoint: Checkpoints, tag: str, flops: FlopCounter, rescale: bool = True) -> Growth:
    """Train ``teacher`` for ``at`` steps, transform it, train the student to ``cfg.steps`` in all.

    The student continues the teacher's batch stream with a fresh optimiser whose
    learning rate and weight decay are scaled by :math:`|\\theta_t|_c / |\\theta_s|_c`
    (App. C.3) when ``rescale``. ``transform`` ``None`` trains ``teacher`` on
    unchanged. ``checkpoint(tag + "-teacher")`` and ``checkpoint(tag + "-student")``
    let an interrupted run resume.
    """
    started = time.time()
    g = torch.Generator().manual_seed(seed)
    per_teacher = flops.per_step(teacher)
    curve: list[dict] = []
    if at > 0:
        curve.append({"step": 0, "accuracy": _accuracy(teacher, data), "flops": 0.0})
        out = train_classifier(teacher, data, replace(cfg, steps=at), seed=seed, keep="last",
                               checkpoint=checkpoint(f"{tag}-teacher"), desc=f"{tag} teacher")
        curve += _points(out.curve, 0.0, per_teacher, 0)
    student = transform(teacher, data, g) if transform is not None else teacher
    student_cfg = rescaled(cfg, teacher, student) if rescale and transform is not None else cfg
    per_student = flops.per_step(student)
    after = _accuracy(student, data)
    before_flops = per_teacher * at
    curve.append({"step": at, "accuracy": after, "flops": before_flops, "transform": True})
    out = train_classifier(student, data, student_cfg, seed=seed, start_step=at, keep="last",
                           checkpoint=checkpoint(f"{tag}-student"), desc=f"{tag} student")
    curve += _points(out.curve, before_flops, per_student, at)
    return Growth(curve=curve, at=at, accuracy=curve[-1]["accuracy"], best_accuracy=out.accuracy / 100.0,
                  accuracy_after_transform=after, teacher_parameters=parameter_count(teacher),
                  student_parameters=parameter_count(student), flops_per_step_teacher=per_teacher,
                  flops_per_step_student=per_student, total_flops=curve[-1]["flops"], lr=student_cfg.lr,
                  train_time_s=round(time.time() - started, 2), net=student)


def schedule_runs(teacher: NetSpec, transform: Transform, transform_at: Sequence[int], cfg: TrainConfig,
                  data: ImageData, *, seed: int, device: torch.device, checkpoint: Checkpoints,
                  tag: str, zero_init: bool = True, init: str = "match") -> list[Growth]:
    """Figs. 5 and 7: the same teacher (initialisation ``seed``, same batches) transformed before each of ``transform_at``.

    ``transform_at`` are increasing updates in ``[0, cfg.steps)`` starting at 0, the
    run that trains the grown network throughout (the cost baseline). The teacher
    starts as :func:`fresh` with ``zero_init`` and ``init`` makes it.
    """
    at = list(transform_at)
    if not at or sorted(set(at)) != at or at[0] != 0 or at[-1] >= cfg.steps:
        raise ValueError(f"transform_at must be increasing steps in [0, {cfg.steps}) starting at 0 (the cost "
                         f"baseline), got {at}")
    flops = FlopCounter(data, cfg.batch_size)
    return [grow_run(fresh(teacher, seed, device, zero_init=zero_init, init=init), transform, step, cfg, data, seed=seed, checkpoint=checkpoint,
                     tag=f"{tag}-at{step}", flops=flops) for step in at]


def trained_teacher(spec: NetSpec, cfg: TrainConfig, data: ImageData, *, seed: int, device: torch.device,
                    checkpoint: Checkpoints, tag: str, zero_init: bool = True,
                    init: str = "match") -> tuple[ResNet, dict[str, Any]]:
    """A teacher of ``spec`` trained for ``cfg.steps`` (to convergence, Figs. 6 and 8), cached as an artifact.

    Returns the network and its record: ``state`` (the state dict), ``curve`` (the
    training run's evaluations, accuracy in percent) and ``accuracy`` (a fraction).
    """
    key = {"spec": repr(spec), "recipe": cfg.to_dict(), "seed": seed, "data": data.description,
           "device": device.type, "zero_init": zero_init, "init": init}

    def make() -> dict[str, Any]:
        net = fresh(spec, seed, device, zero_init=zero_init, init=init)
        out = train_classifier(net, data, cfg, seed=seed, keep="last", checkpoint=checkpoint(tag), desc=tag)
        return {"state": {k: v.cpu() for k, v in net.state_dict().items()}, "curve": out.curve,
                "accuracy": _accuracy(net, data)}

    record = load_or_make(f"r2r/{tag}", key, make, scope=__name__)
    net = build(spec).to(device)
    net.load_state_dict(record["state"])
    return net, record


def convergence_runs(teacher: ResNet, teacher_spec: NetSpec, base: NetSpec, transforms: Mapping[str, Transform | None],
                     cfg: TrainConfig, data: ImageData, *, seed: int, device: torch.device, checkpoint: Checkpoints,
                     tag: str, zero_init: bool = True, init: str = "match") -> dict[str, Growth]:
    """Figs. 6 and 8: each transform of the trained ``teacher`` trained on for ``cfg.steps``, by name.

    A transform ``None`` is the comparison: the ``base`` network from scratch. The
    ``i``-th run (in the order of ``transforms``) trains with seed
    ``1000 * seed + i + 1``; a network from scratch is initialised from it (:func:`fresh`
    with ``zero_init`` and ``init``).
    """
    flops = FlopCounter(data, cfg.batch_size)
    runs = {}
    for i, (name, transform) in enumerate(transforms.items()):
        run_seed = seed * 1000 + i + 1
        if transform is None:
            start = fresh(base, run_seed, device, zero_init=zero_init, init=init)
        else:
            start = build(teacher_spec).to(device)
            start.load_state_dict(teacher.state_dict())
        runs[name] = grow_run(start, transform, 0, cfg, data, seed=run_seed, checkpoint=checkpoint,
                              tag=f"{tag}-{name}", flops=flops)
    return runs


def _branch_widths(spec: NetSpec) -> list[tuple[int, ...]]:
    """The widths of each stage's (first) residual branch; ``()`` where the block has none."""
    return [s.blocks[0].widths for s in spec.stages]


def widen_all(spec_from: NetSpec, spec_to: NetSpec, *, new: str = "r2r", init: str = "match") -> Transform:
    """R2WiderR by concatenation (App. C.1) on every conv of every stage's branch, from ``spec_from``'s widths to ``spec_to``'s."""
    grow = []
    for s, (a, b) in enumerate(zip(_branch_widths(spec_from), _branch_widths(spec_to))):
        if len(a) != len(b) or any(y < x for x, y in zip(a, b)):
            raise ValueError(f"stage {s}: R2WiderR cannot turn a branch of widths {a} into one of widths {b}")
        grow += [(s, u, y - x) for u, (x, y) in enumerate(zip(a, b)) if y > x]

    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        for s, u, extra in grow:
            net = r2_wider_r(net, s, 0, extra, mode="concat", unit=u, new=new, init=init, generator=g)
        return net

    return transform


def net2wider_all(spec_to: NetSpec) -> Transform:
    """Net2WiderNet on every conv of every stage's branch, to ``spec_to``'s widths."""
    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        for s, widths in enumerate(_branch_widths(spec_to)):
            for u, width in enumerate(widths):
                if width > net.stages[s].blocks[0].branches[0].units[u].out_channels:
                    net = net2_wider_net(net, s, 0, width, unit=u, generator=g)
        return net

    return transform


def deepen_all(spec_from: NetSpec, spec_to: NetSpec, *, new: str = "r2r", init: str = "match") -> Transform:
    """R2DeeperR on every stage whose block has no branch in ``spec_from`` and one in ``spec_to``: it gets that branch."""
    grow = [(s, b.blocks[0]) for s, (a, b) in enumerate(zip(spec_from.stages, spec_to.stages))
            if not a.blocks[0].widths and b.blocks[0].widths]
    if not grow:
        raise ValueError("R2DeeperR has nothing to add: no block without a branch in the teacher has one in the student")

    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        for s, block in grow:
            net = r2_deeper_r(net, s, 0, block.widths, block.kernels, into_identity=True, new=new, init=init,
                              generator=g)
        return net

    return transform


def net2deeper_all(batch_size: int = 256) -> Transform:
    """Net2DeeperNet on every residual branch: an identity conv unit after its last unit, BN set from a training batch.

    Net2Net has no zero block, so it cannot give the teacher's identity layer a
    branch; this deepens the branches it has instead (a different architecture,
    its parameter count reported beside the others).
    """
    def transform(net: ResNet, data: ImageData, g: torch.Generator) -> ResNet:
        batch = data.train.x[:batch_size]
        for s, stage in enumerate(net.stages):
            for b, block in enumerate(stage.blocks):
                if block.branches:
                    net = net2_deeper_net(net, s, len(block.branches[0].units) - 1, block=b, batch=batch)
        return net

    return transform
