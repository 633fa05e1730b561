"""What the four sections of Section 5.2 share: their configs per profile, their row records and their rows.

Figs. 5 and 7 (widening and deepening at different points of training) and
Figs. 6 and 8 (widening and deepening a converged teacher) differ only in the
teacher and the transforms, which each section module chooses; the runs are
:func:`weightspace.r2r.growing.schedule_runs` and
:func:`~weightspace.r2r.growing.convergence_runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from weightspace.data import ImageData
from weightspace.experiments import Outputs, RunContext
from weightspace.experiments.r2r._presets import SCALES
from weightspace.r2r.growing import Transform, convergence_runs, schedule_runs, trained_teacher
from weightspace.r2r.networks import NetSpec, parameter_count
from weightspace.r2r.presets import recipe
from weightspace.r2r.transforms import INITS
from weightspace.tables import Row
from weightspace.training import TrainConfig

METHODS = ("r2r", "random", "net2net", "scratch")
CONVERGED_WITHIN = 0.005  # updates_to_converge: the first evaluation within half a point of the run's best


def _eval_every(profile: str) -> dict[str, int]:
    return {} if profile == "full" else {"eval_every": 80}


def schedule_config(profile: str) -> dict[str, Any]:
    """Figs. 5 and 7: 6000 updates with the transform before 0, 1500, 3000 or 4500 (quick: the same quarters of 360).

    ``init``: how new weights are drawn (:data:`~weightspace.r2r.transforms.INITS`;
    ``"match"`` is the report's, ``"authors"`` the authors' code); ``zero_init``: the
    networks start with every residual branch an R2R block that outputs zero.
    """
    total = 6000 if profile == "full" else 360
    return {**SCALES[profile], "kernel": 3, "transform_at": [0, total // 4, total // 2, 3 * total // 4],
            "init": "match", "zero_init": True,
            "recipes": {"train": recipe("app_d", steps=total, **_eval_every(profile))}}


def convergence_config(profile: str) -> dict[str, Any]:
    """Figs. 6 and 8: a teacher trained to convergence, then 7000 updates per student (quick: 400 and 320)."""
    teacher, student = (7000, 7000) if profile == "full" else (400, 320)
    return {**SCALES[profile], "kernel": 3, "init": "match", "zero_init": True, "methods": list(METHODS),
            "recipes": {"teacher": recipe("app_d", steps=teacher, **_eval_every(profile)),
                        "student": recipe("app_d", steps=student, **_eval_every(profile))}}


@dataclass(frozen=True, kw_only=True)
class ScheduleRow(Row):
    """A run of Fig. 5 or 7, transformed before update ``at`` (accuracies are fractions of the evaluation split).

    ``relative_cost``: training FLOPs relative to the run transformed at 0;
    ``relative_time``: the same for wall time (machine-dependent).
    """

    at: int
    accuracy: float
    best_accuracy: float
    relative_cost: float
    total_flops: float
    accuracy_after_transform: float
    teacher_parameters: int
    student_parameters: int
    train_time_s: float
    relative_time: float


def quarters(cfg: dict[str, Any]) -> list[str]:
    """The rows of Figs. 5 and 7: ``quarter<i>`` for the ``i``-th transform point."""
    return [f"quarter{i}" for i in range(len(cfg["transform_at"]))]


def check_init(cfg: dict[str, Any]) -> None:
    """``cfg["init"]`` is one of :data:`~weightspace.r2r.transforms.INITS`, else a ``ValueError`` naming the setting."""
    if cfg["init"] not in INITS:
        raise ValueError(f"init = {cfg['init']!r} is not allowed: choose one of {', '.join(INITS)} (match: the "
                         f"report's variance matching; he: He-normal; authors: the authors' code)")


def schedule(cfg: dict[str, Any], ctx: RunContext, data: ImageData, teacher: NetSpec, transform: Transform,
             table: str, tag: str) -> Outputs:
    """Figs. 5 and 7: one run per transform point of ``cfg["transform_at"]``, as table ``table``."""
    check_init(cfg)
    runs = schedule_runs(teacher, transform, cfg["transform_at"], TrainConfig(**cfg["recipes"]["train"]), data,
                         seed=ctx.seed, device=ctx.device, checkpoint=ctx.checkpoint, tag=tag,
                         zero_init=cfg["zero_init"], init=cfg["init"])
    first = runs[0]
    rows = [ScheduleRow(row=row, at=r.at, accuracy=r.accuracy, best_accuracy=r.best_accuracy,
                        relative_cost=r.total_flops / first.total_flops, total_flops=r.total_flops,
                        accuracy_after_transform=r.accuracy_after_transform, teacher_parameters=r.teacher_parameters,
                        student_parameters=r.student_parameters, train_time_s=r.train_time_s,
                        relative_time=r.train_time_s / first.train_time_s) for row, r in zip(quarters(cfg), runs)]
    return Outputs(metrics={r.row: r.accuracy for r in rows}, tables={table: rows},
                   curves={row: r.curve for row, r in zip(quarters(cfg), runs)}, data=data.description)


@dataclass(frozen=True, kw_only=True)
class ConvergenceRow(Row):
    """The teacher or a student of Fig. 6 or 8 (the teacher's row has its accuracy and parameters only).

    ``updates_to_teacher``: the first evaluated update at which the run reaches
    the teacher's accuracy (``None``: never); ``updates_to_converge``: the first
    within :data:`CONVERGED_WITHIN` of the run's best. ``lr``: the student's
    learning rate after the rescaling of App. C.3.
    """

    accuracy: float
    parameters: int
    best_accuracy: float | None = None
    accuracy_after_transform: float | None = None
    updates_to_teacher: int | None = None
    updates_to_converge: int | None = None
    lr: float | None = None
    train_time_s: float | None = None


def students(cfg: dict[str, Any]) -> list[str]:
    """The rows of Figs. 6 and 8: the teacher, then each of ``cfg["methods"]``."""
    return ["teacher", *cfg["methods"]]


def check_methods(methods: list[str]) -> None:
    """``methods`` are distinct names of :data:`METHODS`, else a ``ValueError`` naming the setting."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or len(set(methods)) != len(methods):
        raise ValueError(f"methods = {methods} is not allowed: unknown methods {unknown} or a method named twice; "
                         f"choose distinct ones from {', '.join(METHODS)}")


def first_step(curve: list[dict], threshold: float) -> int | None:
    """The first evaluated step whose accuracy reaches ``threshold`` (``None`` if none does)."""
    return next((p["step"] for p in curve if p["accuracy"] >= threshold), None)


def convergence(cfg: dict[str, Any], ctx: RunContext, data: ImageData, teacher_spec: NetSpec, base: NetSpec,
                transforms: Mapping[str, Transform | None], table: str, tag: str) -> Outputs:
    """Figs. 6 and 8: the converged teacher grown by each of ``cfg["methods"]`` (``transforms``), as table ``table``."""
    check_init(cfg)
    start = {"zero_init": cfg["zero_init"], "init": cfg["init"]}
    teacher, record = trained_teacher(teacher_spec, TrainConfig(**cfg["recipes"]["teacher"]), data, seed=ctx.seed,
                                      device=ctx.device, checkpoint=ctx.checkpoint, tag=f"{tag}-teacher", **start)
    runs = convergence_runs(teacher, teacher_spec, base, {m: transforms[m] for m in cfg["methods"]},
                            TrainConfig(**cfg["recipes"]["student"]), data, seed=ctx.seed, device=ctx.device,
                            checkpoint=ctx.checkpoint, tag=tag, **start)
    reached = record["accuracy"]
    rows = [ConvergenceRow(row="teacher", accuracy=reached, parameters=parameter_count(teacher))]
    rows += [ConvergenceRow(row=m, accuracy=r.accuracy, best_accuracy=r.best_accuracy,
                            accuracy_after_transform=r.accuracy_after_transform,
                            updates_to_teacher=first_step(r.curve, reached),
                            updates_to_converge=first_step(r.curve, r.best_accuracy - CONVERGED_WITHIN),
                            parameters=parameter_count(r.net), lr=r.lr, train_time_s=r.train_time_s)
             for m, r in runs.items()]
    curves = {"teacher": [{"step": p["step"], "accuracy": p["accuracy"] / 100.0, "train_loss": p["train_loss"]}
                          for p in record["curve"]], **{m: r.curve for m, r in runs.items()}}
    return Outputs(metrics={r.row: r.accuracy for r in rows}, tables={table: rows}, curves=curves,
                   data=data.description)
