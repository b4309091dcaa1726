"""SGD with optional momentum, L2 regularisation on weights only, and learning-rate schedules."""

from __future__ import annotations

import math

import numpy as np


class SGD:
    """theta <- theta - lr * v,  v <- momentum * v + (grad + weight_decay * theta)  (weights only).

    The L2 term is J = CE + weight_decay / 2 * sum(w^2) over weights, never biases, so its gradient is
    weight_decay * w. Updates are in place.
    """

    def __init__(self, model, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.velocity = {k: np.zeros_like(p) for k, (p, _, _) in model.named_parameters().items()} \
            if momentum else {}

    def regularization(self) -> float:
        """The L2 penalty weight_decay / 2 * sum(w^2) over weights (to add to the reported loss)."""
        return 0.5 * self.weight_decay * sum(float(np.vdot(p, p)) for p, _, d in
                                             self.model.named_parameters().values() if d)

    def step(self) -> None:
        for name, (p, g, decays) in self.model.named_parameters().items():
            if decays and self.weight_decay:
                g += self.weight_decay * p
            if self.momentum:
                v = self.velocity[name]
                v *= self.momentum
                v += g
                g = v
            p -= self.lr * g


def schedule(kind: str, base_lr: float, epoch: int, epochs: int, step_size: int = 10, gamma: float = 0.1) -> float:
    """Learning rate of 0-based ``epoch``: constant, step (x gamma every step_size epochs) or cosine."""
    if kind == "constant":
        return base_lr
    if kind == "step":
        return base_lr * gamma ** (epoch // step_size)
    if kind == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
    raise ValueError(f"unknown schedule {kind!r}; choose constant, step or cosine")
