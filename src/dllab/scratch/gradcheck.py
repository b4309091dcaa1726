"""Central finite differences in float64, for checking hand-written gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, perturbing ``x`` in place one entry at a time (x must be float64)."""
    if x.dtype != np.float64:
        raise TypeError(f"gradcheck needs float64 arrays, got {x.dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, tiny): scale-free comparison of two gradients."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a) + np.abs(b))), 1e-12))


def check_model(model, x: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> dict[str, float]:
    """Relative error between analytic and numerical gradients of every parameter of a Classifier."""
    model.forward(x, y)
    model.backward()
    analytic = {k: g.copy() for k, g in model.grads().items()}
    errors = {}
    for name, p in model.params().items():
        numeric = numerical_grad(lambda: model.forward(x, y)[0], p, eps)
        errors[name] = relative_error(analytic[name], numeric)
    return errors
