"""CS229br homework 0, question 1 (000_801f8b1db8e7db69.txt): generalisation, SGD's expected step, implicit bias."""

from __future__ import annotations

import numpy as np

from dllab import plotting
from dllab.regression import min_norm_solution
from dllab.theory import Result, check

HW = "CS229br HW0"


def population_loss(W: np.ndarray, w_star: np.ndarray, B: float) -> np.ndarray:
    """Exact L(f_w) = E[(clip(<w, x>, -B, B) - y)^2] for x ~ N(0, I), y = <x, w*> + N(0, 1), each row w of W.

    With u = <w, x> ~ N(0, s^2), a = B / s:  E[u^2; |u| < B] = s^2 (2 Phi(a) - 1 - 2 a phi(a)),
    E[clip(u)^2] = that + B^2 P(|u| > B),  E[clip(u) u] = that + 2 B s phi(a), and since
    E[v | u] = (<w, w*> / s^2) u for v = <w*, x>:  L = E[clip^2] - 2 <w, w*> / s^2 E[clip(u) u] + ||w*||^2 + 1.
    """
    from scipy.stats import norm

    s = np.linalg.norm(W, axis=1)
    a = B / s
    inner = s**2 * (2 * norm.cdf(a) - 1 - 2 * a * norm.pdf(a))
    clip_sq = inner + B**2 * 2 * norm.sf(a)
    clip_u = inner + 2 * B * s * norm.pdf(a)
    return clip_sq - 2 * (W @ w_star) / s**2 * clip_u + w_star @ w_star + 1.0


@check("uniform_convergence", HW, "Q1.1",
       "For a finite class F of functions into [-B, B], max_f |L(f) - L_S(f)| = O(sqrt(log|F| / n)).")
def uniform_convergence(rng, ns=(100, 300, 1000, 3000, 10000), sizes=(10, 100, 1000), repeats=10, d=5, B=3.0):
    w_star = rng.standard_normal(d)
    W = {k: rng.standard_normal((k, d)) for k in sizes}

    def sample(m):
        x = rng.standard_normal((m, d))
        return x, x @ w_star + rng.standard_normal(m)

    pop = {k: population_loss(W[k], w_star, B) for k in sizes}
    dev = np.zeros((len(sizes), len(ns)))
    for i, k in enumerate(sizes):
        for j, n in enumerate(ns):
            devs = []
            for _ in range(repeats):
                x, y = sample(n)
                emp = np.mean((np.clip(x @ W[k].T, -B, B) - y[:, None]) ** 2, axis=0)
                devs.append(np.max(np.abs(pop[k] - emp)))
            dev[i, j] = np.mean(devs)
    rate = np.sqrt(np.log(np.array(sizes))[:, None] / np.array(ns)[None, :])
    ratio = dev / rate
    slopes = [float(np.polyfit(np.log(ns), np.log(dev[i]), 1)[0]) for i in range(len(sizes))]
    fig, axes = plotting.subplots(2)
    for i, k in enumerate(sizes):
        axes[0].loglog(ns, dev[i], "o-", label=f"|F| = {k}")
        axes[1].semilogx(ns, ratio[i], "o-", label=f"|F| = {k}")
    axes[0].set(title="max_f |L(f) - L_S(f)|", xlabel="n", ylabel="deviation (mean over draws)")
    axes[1].set(title="deviation / sqrt(log|F| / n)", xlabel="n", ylabel="ratio")
    axes[0].legend()
    axes[1].legend()
    passed = all(-0.6 < s < -0.4 for s in slopes) and ratio.max() / ratio.min() < 4
    return Result(passed, {"slopes_log_dev_vs_log_n": slopes, "ratio_min": float(ratio.min()),
                           "ratio_max": float(ratio.max())},
                  f"log-log slopes in n: {', '.join(f'{s:.2f}' for s in slopes)} (theory -0.5); the ratio to "
                  f"sqrt(log|F|/n) stays within [{ratio.min():.2f}, {ratio.max():.2f}].",
                  [("uniform_convergence", fig,
                    f"F: up to {max(sizes)} random linear functions clipped to [-{B}, {B}], d = {d}; L(f) in "
                    f"closed form; {repeats} draws of S per point.")])


def expected_gradient_constant() -> float:
    """The derived c in E[grad L_(x,y)(f_w)] = c (w - w*): E[2 (<w,x> - y) x] = 2 E[x x^T](w - w*) = 2 (w - w*)."""
    return 2.0


@check("sgd_expected_step", HW, "Q1.2",
       "E[grad L_(x,y)(f_w)] = c (w - w*) with c = 2 for x ~ N(0, I), y = <x, w*> + N(0, 1); SGD with n >> d "
       "converges to w*.")
def sgd_expected_step(rng, d=10, samples=200_000, points=6, c_formula=expected_gradient_constant):
    w_star = rng.standard_normal(d)
    w_star *= np.sqrt(d) / np.linalg.norm(w_star)  # ||w*||^2 = d as in the question
    x = rng.standard_normal((samples, d))
    y = x @ w_star + rng.standard_normal(samples)
    cs, resid = [], []
    for _ in range(points):
        w = w_star + rng.standard_normal(d) * rng.uniform(0.3, 3)
        g = np.mean(2 * (x @ w - y)[:, None] * x, axis=0)
        delta = w - w_star
        c = float(g @ delta / (delta @ delta))
        cs.append(c)
        resid.append(float(np.linalg.norm(g - c * delta) / np.linalg.norm(g)))
    c_fit = float(np.mean(cs))
    # SGD with n >> d (one fresh sample per step), from w0 ~ N(0, I). With E[grad] = c (w - w*), the step
    # 1 / (c (t + t0)) averages the noise away (a constant step would stall at a noise floor).
    n_steps, t0 = 20_000, 100
    w = rng.standard_normal(d)
    dist = []
    for t in range(n_steps):
        xt = rng.standard_normal(d)
        yt = xt @ w_star + rng.standard_normal()
        w -= 1.0 / (2.0 * (t + t0)) * 2 * (xt @ w - yt) * xt
        if t % 100 == 0:
            dist.append(float(np.linalg.norm(w - w_star)))
    fig, ax = plotting.subplots(width=6)
    ax.semilogy(np.arange(len(dist)) * 100, dist)
    ax.set(title="SGD on fresh samples: ||w_t - w*||", xlabel="step t", ylabel="distance (log)")
    derived = c_formula()
    passed = abs(c_fit - derived) < 0.05 and max(resid) < 0.05 and dist[-1] < 0.05 * dist[0]
    return Result(passed, {"c_fitted": c_fit, "c_derived": derived, "max_relative_residual": max(resid),
                           "sgd_final_distance": dist[-1], "sgd_initial_distance": dist[0]},
                  f"Monte Carlo over {samples} samples at {points} points w: fitted c = {c_fit:.4f} (derived "
                  f"{derived}); the mean gradient is parallel to w - w* up to {max(resid):.3f} relative residual. SGD "
                  f"moves from distance {dist[0]:.2f} to {dist[-1]:.3f}.",
                  [("sgd_expected_step", fig, f"d = {d}, step 1 / (2 (t + {t0})), one new sample per step.")])


@check("sgd_span_min_norm", HW, "Q1.3",
       "SGD iterates stay in span(w0, x_1, ..., x_{t-1}); with w0 = 0 and n << d the converged solution is the "
       "minimum-norm interpolant.")
def sgd_span_min_norm(rng, d=200, n=20, epochs=300):
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    eta = 0.5 / float(np.max((X * X).sum(1)))

    def step(w, i):
        return w - eta * 2 * (X[i] @ w - y[i]) * X[i]

    # 1. the span invariant, from a random w0, over 3n steps
    w0 = rng.standard_normal(d)
    w, used, residuals = w0.copy(), set(), []
    for i in rng.integers(0, n, 3 * n):
        w = step(w, i)
        used.add(int(i))
        q, _ = np.linalg.qr(np.column_stack([w0] + [X[j] for j in sorted(used)]))
        residuals.append(float(np.linalg.norm(w - q @ (q.T @ w)) / np.linalg.norm(w)))
    # 2. from w0 = 0, cycling through S until it interpolates
    w = np.zeros(d)
    for _ in range(epochs):
        for i in rng.permutation(n):
            w = step(w, i)
    ref = min_norm_solution(X, y)
    rel = float(np.linalg.norm(w - ref) / np.linalg.norm(ref))
    interp = float(np.max(np.abs(X @ w - y)))
    passed = max(residuals) < 1e-8 and rel < 1e-6 and interp < 1e-6
    return Result(passed, {"max_span_residual": max(residuals), "relative_distance_to_pinv": rel,
                           "max_interpolation_error": interp},
                  f"Largest relative distance of an iterate from span(w0, x_1..x_(t-1)) over {3 * n} steps: "
                  f"{max(residuals):.1e}. From w0 = 0 after {epochs} epochs (d = {d}, n = {n}): max |<x_i, w> - y_i| = "
                  f"{interp:.1e} and ||w - pinv(X) y|| / ||pinv(X) y|| = {rel:.1e}.")
