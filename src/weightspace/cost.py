"""What a training run costs in floating-point operations, and the GPU time that implies.

For pages of runs this machine cannot make (data or time it lacks): an estimate
from the model and the recipe, never a measurement, and said to be one. A training
step costs three forward passes of its batch (the forward and a backward of about
twice its cost), counted by :class:`torch.utils.flop_counter.FlopCounterMode`
(matrix products and convolutions, which dominate these networks). Work a model
does once per step whatever the batch (e.g. generating weights from neuron
embeddings) is counted once, not per image.

Example::

    >>> model = torch.nn.Linear(10, 5)
    >>> training_flops(model, (10,), steps=100, batch_size=32)
    960000
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ASSUMED_TFLOPS = 10.0
"""The sustained float32 rate assumed for one GPU, in TFLOP/s: about half an A100's float32 peak (19.5), which
small convolutional networks rarely exceed; real runs of small models are often slower (bound by kernel launches
and data loading), so an estimate from it is a lower bound on the time."""


def forward_flops(model: nn.Module, input_shape: tuple[int, ...], batch_size: int = 1) -> int:
    """FLOPs of one forward pass of ``model`` (in eval mode) on a batch of ``batch_size`` zero inputs."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(batch_size, *input_shape))
    finally:
        model.train(was_training)
    return counter.get_total_flops()


def training_flops(model: nn.Module, input_shape: tuple[int, ...], steps: int, batch_size: int) -> int:
    """FLOPs of ``steps`` training steps of batch ``batch_size``: three forward passes per step.

    The forward pass is counted at batch 1 and 2, so the work it does once per step
    (the difference between twice the first and the second) is not scaled by the batch.
    """
    one, two = forward_flops(model, input_shape, 1), forward_flops(model, input_shape, 2)
    per_image, per_step = two - one, 2 * one - two
    return 3 * steps * (per_step + per_image * batch_size)


def gpu_minutes(flops: float, tflops: float = ASSUMED_TFLOPS) -> float:
    """Minutes that ``flops`` take at ``tflops`` TFLOP/s sustained (:data:`ASSUMED_TFLOPS` by default)."""
    if tflops <= 0:
        raise ValueError(f"tflops = {tflops!r}: a rate must be positive")
    return flops / (tflops * 1e12) / 60
