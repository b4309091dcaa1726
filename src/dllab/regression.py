"""Least squares in NumPy: minimum-norm solutions, (S)GD with the step size read off the spectrum, deep-linear
reparameterisation, random features and Gaussian-kernel regression. Shapes: X (n, d), y (n,), beta (d,).

The loss throughout is L(beta) = ||X beta - y||^2 (no 1/2, no 1/n). Its Hessian is 2 X^T X, whose largest
eigenvalue is 2 sigma_max^2, so gradient descent converges iff 0 < eta < 1 / sigma_max^2 (the bound often quoted
as 2 / sigma_max^2 belongs to the loss 1/2 ||X beta - y||^2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def min_norm_solution(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """pinv(X) y: the least-squares solution of smallest norm (via the SVD)."""
    return np.linalg.pinv(X) @ y


def gd_step_bound(X: np.ndarray) -> float:
    """The largest stable gradient-descent step for L = ||X beta - y||^2: 1 / sigma_max(X)^2."""
    return 1.0 / float(np.linalg.norm(X, 2)) ** 2


@dataclass
class Trace:
    """Loss (and distance to a reference solution) recorded along an optimisation."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    dist: list[float] = field(default_factory=list)


def _record(trace: Trace, t: int, X, y, beta, ref) -> None:
    r = X @ beta - y
    trace.steps.append(t)
    trace.loss.append(float(r @ r))
    if ref is not None:
        trace.dist.append(float(np.linalg.norm(beta - ref)))


def gd_least_squares(X: np.ndarray, y: np.ndarray, eta: float, steps: int, *, beta0: np.ndarray | None = None,
                     ref: np.ndarray | None = None, every: int = 1) -> tuple[np.ndarray, Trace]:
    """Gradient descent on ||X beta - y||^2 with gradient 2 X^T (X beta - y). Stops early if it diverges."""
    beta = np.zeros(X.shape[1]) if beta0 is None else beta0.astype(float).copy()
    trace = Trace()
    _record(trace, 0, X, y, beta, ref)
    for t in range(1, steps + 1):
        beta -= eta * 2.0 * (X.T @ (X @ beta - y))
        if t % every == 0 or t == steps:
            _record(trace, t, X, y, beta, ref)
            if not np.isfinite(trace.loss[-1]) or trace.loss[-1] > 1e300:
                break
    return beta, trace


def sgd_least_squares(X: np.ndarray, y: np.ndarray, eta: float, epochs: int, *, batch_size: int = 1,
                      rng: np.random.Generator | None = None, beta0: np.ndarray | None = None,
                      ref: np.ndarray | None = None) -> tuple[np.ndarray, Trace]:
    """SGD on the same loss: each step uses (n / b) times the gradient of a random mini-batch's squared error,
    an unbiased estimate of the full gradient. Recorded once per epoch (n / b steps)."""
    rng = rng or np.random.default_rng(0)
    n = len(X)
    beta = np.zeros(X.shape[1]) if beta0 is None else beta0.astype(float).copy()
    trace = Trace()
    _record(trace, 0, X, y, beta, ref)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        for s in range(0, n, batch_size):
            i = order[s:s + batch_size]
            beta -= eta * 2.0 * (n / len(i)) * (X[i].T @ (X[i] @ beta - y[i]))
        _record(trace, epoch, X, y, beta, ref)
        if not np.isfinite(trace.loss[-1]):
            break
    return beta, trace


def deep_linear_gd(X: np.ndarray, y: np.ndarray, steps: int, *, eta: float, init_scale: float = 1e-2,
                   rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """Gradient descent on the reparameterisation beta = W1 beta1 (W1 (d, d), beta1 (d,)) of the mean loss
    (1/n) ||X W1 beta1 - y||^2. Initial entries ~ N(0, init_scale^2 / d). Returns (beta, W1, beta1, losses).

    Gradients: with u = (2/n) X^T (X W1 beta1 - y),  dL/dbeta1 = W1^T u  and  dL/dW1 = u beta1^T.
    """
    rng = rng or np.random.default_rng(0)
    n, d = X.shape
    W1 = rng.normal(0, init_scale / np.sqrt(d), (d, d))
    b1 = rng.normal(0, init_scale / np.sqrt(d), d)
    losses = []
    for _ in range(steps):
        r = X @ (W1 @ b1) - y
        losses.append(float(r @ r) / n)
        u = (2.0 / n) * (X.T @ r)
        g_b1 = W1.T @ u
        W1 -= eta * np.outer(u, b1)
        b1 -= eta * g_b1
    return W1 @ b1, W1, b1, losses


def relu_features(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Random ReLU features max(0, X W) / sqrt(p).   W (d, p)."""
    return np.maximum(X @ W, 0) / np.sqrt(W.shape[1])


def fourier_features(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Random Fourier features sqrt(2/p) cos(X W + b) (Rahimi & Recht): W ~ N(0, 1/h^2), b ~ U[0, 2 pi)
    approximate the Gaussian kernel of bandwidth h."""
    return np.sqrt(2.0 / W.shape[1]) * np.cos(X @ W + b)


def sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances (len(A), len(B)), clipped at 0."""
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


def gaussian_kernel(A: np.ndarray, B: np.ndarray, h: float) -> np.ndarray:
    """k(a, b) = exp(-||a - b||^2 / (2 h^2))."""
    return np.exp(-sq_dists(A, B) / (2.0 * h * h))


def kernel_regression(X: np.ndarray, y: np.ndarray, X_new: np.ndarray, h: float, ridge: float = 0.0) -> np.ndarray:
    """Gaussian-kernel (ridge) regression: f(x) = k(x, X) (K + ridge I)^{-1} y; ridge 0 interpolates exactly."""
    K = gaussian_kernel(X, X, h)
    alpha = np.linalg.solve(K + ridge * np.eye(len(X)), y)
    return gaussian_kernel(X_new, X, h) @ alpha


def mse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((pred - y) ** 2))
