"""The training knobs shared by every training loop (NumPy and PyTorch) and the one learning-rate schedule.

Experiments nest a :class:`TrainConfig` (or the PyTorch loop's :class:`~dllab.nn.config.TorchTrainConfig`, which
adds to it) as ``train``, so a knob has one name and one meaning everywhere: ``--set train.lr=0.05`` does the
same in ``scratch-mnist`` and in ``cifar-train``. Importable without torch (``dllab list`` stays fast).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """Mini-batch SGD with momentum, L2 on the weights and a per-step learning-rate schedule."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(10, ge=1, description="passes over the training set")
    batch_size: int = Field(128, ge=1, description="examples per optimiser step")
    lr: float = Field(0.1, gt=0, description="base learning rate (the schedule multiplies it)")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (0: plain SGD)")
    nesterov: bool = Field(False, description="Nesterov momentum (SGD)")
    weight_decay: float = Field(0.0, ge=0, description="L2 coefficient lambda on the weights (not biases or "
                                                       "batch-norm parameters): J = loss + lambda/2 ||w||^2, so "
                                                       "lambda w joins their gradient (decoupled for adamw)")
    schedule: Literal["constant", "step", "cosine", "linear"] = Field(
        "constant", description="learning-rate schedule after the warm-up, evaluated at every optimiser step")
    step_epochs: int = Field(10, ge=1, description="step schedule: multiply the lr by step_gamma every this many "
                                                   "epochs")
    step_gamma: float = Field(0.1, gt=0, description="step schedule: the factor applied at each decay")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up from 0 over this many epochs")


def piecewise_linear(step: float, points: list[tuple[float, float]]) -> float:
    """The value at ``step`` of the line through ``points`` ``[(step, value), ...]`` (steps increasing), held
    flat outside them: the shape of cifar-fast's triangular and linear schedules."""
    if step <= points[0][0]:
        return points[0][1]
    for (s0, v0), (s1, v1) in zip(points, points[1:]):
        if step <= s1:
            return v0 + (v1 - v0) * (step - s0) / (s1 - s0)
    return points[-1][1]


def lr_factor(cfg: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Multiplier of the base learning rate at optimiser step ``step`` (0-based).

    A per-epoch step schedule is the special case where the factor changes only at multiples of
    ``step_epochs * steps_per_epoch``; cosine and linear decay reach 0 after the last step.
    """
    total = cfg.epochs * steps_per_epoch
    warm = cfg.warmup_epochs * steps_per_epoch
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "constant":
        return 1.0
    if cfg.schedule == "step":
        return cfg.step_gamma ** (step // (cfg.step_epochs * steps_per_epoch))
    progress = (step - warm) / max(total - warm, 1)
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    return max(1.0 - progress, 0.0)
