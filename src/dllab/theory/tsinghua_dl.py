"""Tsinghua Deep Learning 2024, Q2-Q4: least squares as projection, convex hulls vs separability, logistic
ridge, separable data, convolution arithmetic, backprop through a DAG."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linprog

from dllab import courses, plotting
from dllab.theory.base import Result, check, close

HW = courses.TSINGHUA


@check("least_squares_projection", HW, "Q2.1",
       "X theta* is the orthogonal projection of y onto col(X): the residual is orthogonal to every column, and "
       "P = X (X^T X)^-1 X^T is idempotent and symmetric.")
def least_squares_projection(rng, n=40, d=5, projector=lambda X: X @ np.linalg.solve(X.T @ X, X.T)):
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    theta = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ theta
    P = projector(X)
    ortho = float(np.max(np.abs(X.T @ resid)))
    idem, sym = float(np.max(np.abs(P @ P - P))), float(np.max(np.abs(P - P.T)))
    proj = float(np.max(np.abs(P @ y - X @ theta)))
    passed = max(ortho, idem, sym, proj) < 1e-10
    return Result(passed, {"max_abs_XT_residual": ortho, "idempotence_error": idem, "symmetry_error": sym,
                           "Py_vs_Xtheta": proj},
                  f"max |X^T (y - X theta*)| = {ortho:.1e}; ||P^2 - P|| = {idem:.1e}; ||P - P^T|| = {sym:.1e}; "
                  f"P y = X theta* to {proj:.1e}.")


def hulls_intersect(A: np.ndarray, B: np.ndarray) -> bool:
    """LP feasibility: alpha, beta >= 0, sum alpha = sum beta = 1, A^T alpha = B^T beta."""
    na, nb, d = len(A), len(B), A.shape[1]
    A_eq = np.zeros((d + 2, na + nb))
    A_eq[:d, :na], A_eq[:d, na:] = A.T, -B.T
    A_eq[d, :na], A_eq[d + 1, na:] = 1, 1
    b_eq = np.r_[np.zeros(d), 1, 1]
    res = linprog(np.zeros(na + nb), A_eq=A_eq, b_eq=b_eq, bounds=[(0, None)] * (na + nb), method="highs")
    return res.status == 0


def separable(A: np.ndarray, B: np.ndarray) -> bool:
    """LP feasibility: w, w0 with w.a + w0 >= 1 for a in A and w.b + w0 <= -1 for b in B (strict separation,
    rescaled to margin 1)."""
    d = A.shape[1]
    A_ub = np.vstack([-np.c_[A, np.ones(len(A))], np.c_[B, np.ones(len(B))]])
    res = linprog(np.zeros(d + 1), A_ub=A_ub, b_ub=-np.ones(len(A) + len(B)), bounds=[(None, None)] * (d + 1),
                  method="highs")
    return res.status == 0


@check("convex_hulls_vs_separability", HW, "Q2.2",
       "Two point sets are linearly separable if and only if their convex hulls do not intersect.")
def convex_hulls_vs_separability(rng, trials=200):
    agree, counts = 0, {"separable": 0, "intersecting": 0}
    for _ in range(trials):
        d = int(rng.integers(2, 4))
        A = rng.standard_normal((int(rng.integers(2, 8)), d))
        B = rng.standard_normal((int(rng.integers(2, 8)), d)) + rng.uniform(0, 4) * rng.standard_normal(d)
        inter, sep = hulls_intersect(A, B), separable(A, B)
        agree += inter != sep
        counts["separable" if sep else "intersecting"] += 1
    passed = agree == trials and min(counts.values()) > trials // 10
    return Result(passed, {"trials": trials, "agreements": agree, **counts},
                  f"On {trials} random pairs of point sets in 2-3 dimensions ({counts['separable']} separable, "
                  f"{counts['intersecting']} not), the two linear programs agreed {agree} times.")


def logistic_ridge_grad(theta: np.ndarray, X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """The derived gradient: df/dtheta_k = (1/N) sum_i (sigma(theta^T x_i) - y_i) x_ik + lambda theta_k."""
    p = 1 / (1 + np.exp(-X @ theta))
    return X.T @ (p - y) / len(y) + lam * theta


@check("logistic_ridge_gradient", HW, "Q3.1",
       "For f = J + lambda/2 ||theta||^2: df/dtheta_k = (1/N) sum_i (sigma(theta^T x_i) - y_i) x_ik + lambda "
       "theta_k, and the update theta_k <- theta_k - eta df/dtheta_k decreases f for a small eta.")
def logistic_ridge_gradient(rng, n=30, m=4, lam=0.3, grad=logistic_ridge_grad):
    X = np.c_[rng.standard_normal((n, m)), np.ones(n)]
    y = (rng.random(n) < 0.5).astype(float)
    errs, decrease = [], True
    for _ in range(5):
        theta = rng.standard_normal(m + 1)
        t = torch.tensor(theta, requires_grad=True)
        z = torch.tensor(X) @ t
        f = torch.mean(-torch.tensor(y) * z + torch.log1p(torch.exp(z))) + lam / 2 * (t * t).sum()
        f.backward()
        g = grad(theta, X, y, lam)
        errs.append(float(np.max(np.abs(g - t.grad.numpy()))))
        f_new = np.mean(-y * (X @ (theta - 1e-3 * g)) + np.log1p(np.exp(X @ (theta - 1e-3 * g)))) + lam / 2 * np.sum(
            (theta - 1e-3 * g) ** 2)
        decrease &= bool(f_new < f.item())
    passed = max(errs) < 1e-10 and decrease
    return Result(passed, {"max_abs_error_vs_autograd": max(errs), "update_decreases_f": decrease},
                  f"Derived gradient vs torch autograd at 5 random theta: max error {max(errs):.1e}; one step with "
                  "eta = 1e-3 lowers f at every point: " + str(decrease) + ".")


@check("separable_logistic_norm", HW, "Q3.2",
       "On separable data unregularised logistic regression's ||theta|| grows without bound; L2 keeps it bounded; "
       "L1 keeps it bounded and sparse.")
def separable_logistic_norm(rng, n=60, m=10, steps=20000, lam=0.05, eta=0.5):
    X = rng.standard_normal((n, m))
    y = (X[:, 0] > 0).astype(float)  # separable along feature 0; the other 9 features are noise
    X[:, 0] += np.where(y > 0, 0.5, -0.5)  # a margin
    X = np.c_[X, np.ones(n)]
    norms = {"none": [], "L2": [], "L1": []}
    final = {}
    for kind in norms:
        theta = np.zeros(m + 1)
        for t in range(1, steps + 1):
            theta -= eta * logistic_ridge_grad(theta, X, y, lam if kind == "L2" else 0.0)
            if kind == "L1":  # proximal step (soft threshold) for lambda ||theta||_1, bias not penalised
                w = theta[:-1]
                theta[:-1] = np.sign(w) * np.maximum(np.abs(w) - eta * lam, 0)
            if t % 100 == 0:
                norms[kind].append(float(np.linalg.norm(theta)))
        final[kind] = theta
    growth = norms["none"][-1] - norms["none"][len(norms["none"]) // 10 - 1]
    l2_change = abs(norms["L2"][-1] - norms["L2"][len(norms["L2"]) // 2])
    l1_zeros = int(np.sum(final["L1"][:-1] == 0))
    fig, ax = plotting.subplots(width=6)
    steps_axis = np.arange(1, len(norms["none"]) + 1) * 100
    for kind, v in norms.items():
        ax.semilogx(steps_axis, v, label={"none": "unregularised", "L2": f"L2, lambda={lam}",
                                          "L1": f"L1, lambda={lam}"}[kind])
    ax.set(title="||theta|| on separable data", xlabel="gradient step", ylabel="||theta||")
    ax.legend()
    passed = growth > 1.0 and l2_change < 1e-3 and l1_zeros >= m // 2
    return Result(passed, {"unregularised_norm_growth_last_90pct": growth, "final_norm": {k: v[-1] for k, v in
                                                                                          norms.items()},
                           "l2_norm_change_second_half": l2_change, "l1_zero_weights": l1_zeros},
                  f"Unregularised: ||theta|| grows by {growth:.2f} over the last 90% of {steps} steps and keeps "
                  f"growing (like log t: scaling a separating theta up always lowers the loss). L2: it settles at "
                  f"{norms['L2'][-1]:.2f}. L1 (proximal gradient): {l1_zeros} of {m} weights exactly zero.",
                  [("separable_logistic_norm", fig, "Data separable along one of ten features, with a margin.")])


CONV_X = np.array([[-15, -10, -13, 12, 6, 2], [8, 12, 10, -1, 3, -15], [8, 10, 11, -14, -14, 5],
                   [-4, 4, -11, -6, 13, 14], [-13, 3, 8, -3, -2, 15], [14, 12, -2, -9, -11, 0]], dtype=float)
CONV_F = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=float) / 16


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


@check("convolution_arithmetic", HW, "Q4.1",
       "Y = X * F (no padding, stride 1) and its entry j; F blurs; a (6,4) input with a (2,2) filter and stride "
       "(2,2) gives (3,2), and padding (3,2) keeps (6,4); one 4x4 filter with bias has 17 parameters.")
def convolution_arithmetic(rng):
    from dllab import data

    Y = torch.nn.functional.conv2d(torch.tensor(CONV_X)[None, None], torch.tensor(CONV_F)[None, None])[0, 0].numpy()
    # by hand: sliding 3x3 windows, each multiplied elementwise by F and summed (cross-correlation, as CNNs do)
    manual = np.array([[np.sum(CONV_X[i:i + 3, j:j + 3] * CONV_F) for j in range(4)] for i in range(4)])
    j_entry = float(Y[2, 1])  # rows a-d, e-h, i-l, m-p: j is row 3, column 2
    out = (conv_output_size(6, 2, 2, 0), conv_output_size(4, 2, 2, 0))
    pad = next((ph, pw) for ph in range(10) for pw in range(10)
               if (conv_output_size(6, 2, 2, ph), conv_output_size(4, 2, 2, pw)) == (6, 4))
    torch_out = torch.nn.functional.conv2d(torch.zeros(1, 1, 6, 4), torch.zeros(1, 1, 2, 2), stride=2,
                                           padding=pad).shape[2:]
    params = sum(p.numel() for p in torch.nn.Conv2d(1, 1, 4, stride=2).parameters())
    # blur: apply F to a real image; compare with two candidate outputs (blurred vs edge-enhanced)
    try:
        img = np.asarray(data.load("cifar10").x_test[0], dtype=float).mean(axis=2)
    except Exception:  # noqa: BLE001 - the check must not depend on a dataset being present
        img = np.add.outer(np.arange(32), np.arange(32)) % 8 * 30.0
    blurred = torch.nn.functional.conv2d(torch.tensor(img)[None, None], torch.tensor(CONV_F)[None, None])[0, 0].numpy()
    lap = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
    sharp = torch.nn.functional.conv2d(torch.tensor(img)[None, None], torch.tensor(lap)[None, None])[0, 0].numpy()

    def roughness(a):
        return float(np.mean(np.abs(np.diff(a, axis=0))) + np.mean(np.abs(np.diff(a, axis=1))))

    fig, axes = plotting.subplots(3, width=3, height=3.2)
    for ax, im, title in zip(axes, (img[1:-1, 1:-1], blurred, sharp),
                             ("input (CIFAR-10 test image 0, gray)", "candidate 1: X * F", "candidate 2: sharpened")):
        ax.imshow(im, cmap="gray")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    passed = (close(Y, manual, 1e-12) and out == (3, 2) and pad == (3, 2) and tuple(torch_out) == (6, 4)
              and params == 17 and roughness(blurred) < roughness(img) < roughness(sharp))
    return Result(passed, {"Y": Y.tolist(), "j": j_entry, "output_size": list(out), "same_padding": list(pad),
                           "parameters": params, "roughness": {"input": roughness(img), "X*F": roughness(blurred),
                                                               "sharpened": roughness(sharp)}},
                  "Y = [" + "; ".join(" ".join(f"{v:g}" for v in row) for row in Y) + "] (4x4, rows a-d, e-h, "
                  f"i-l, m-p) matches the by-hand sum of products; j = Y[3,2] = {j_entry:g}. F is a normalised "
                  f"Gaussian-like kernel, so X * F is the smoother candidate (mean neighbour difference "
                  f"{roughness(blurred):.2f} vs {roughness(img):.2f} for the input). Output size {out}; padding "
                  f"top=bottom={pad[0]}, left=right={pad[1]} keeps (6,4) (checked with torch); a 4x4 filter on a "
                  f"one-channel image has 16 weights + 1 bias = {params} parameters, whatever the 22x22 input size.",
                  [("convolution_blur", fig, "Which output is the input convolved with F? The blurred one.")])


def dag_forward(x, p):
    """The DAG of Q4.2. p: dict of the 9 parameters. Returns the intermediates and J (torch or numpy)."""
    lib = torch if isinstance(x, torch.Tensor) else np
    a1 = p["w11"] * x[0] + p["w21"] * x[1]
    z1 = lib.maximum(a1, 0 * a1) if lib is np else torch.relu(a1)
    z2 = p["w22"] * x[1] ** 2 + p["w32"] * x[2] + p["b2"]
    y1 = 1 / (1 + lib.exp(-(p["m11"] * z1 ** 3 + p["c1"])))
    y2 = p["m12"] * lib.sin(z1) + p["m22"] * lib.cos(z2)
    return a1, z1, z2, y1, y2


def dag_gradients(x, y, p) -> dict[str, float]:
    """Hand-derived dJ/dtheta for J = log((y1 - yh1)^2) + log((y2 - yh2)^2), ReLU'(0) = 1 as the homework sets."""
    a1, z1, z2, yh1, yh2 = dag_forward(x, p)
    dJ_dy1 = -2 / (y[0] - yh1)                      # d/dyh log((y - yh)^2) = -2 / (y - yh)
    dJ_dy2 = -2 / (y[1] - yh2)
    ds = yh1 * (1 - yh1)                            # sigma' = sigma (1 - sigma)
    dJ_dz1 = dJ_dy1 * ds * 3 * p["m11"] * z1 ** 2 + dJ_dy2 * p["m12"] * np.cos(z1)
    dJ_dz2 = -dJ_dy2 * p["m22"] * np.sin(z2)
    relu_d = 1.0 if a1 >= 0 else 0.0
    return {"m11": dJ_dy1 * ds * z1 ** 3, "c1": dJ_dy1 * ds, "m12": dJ_dy2 * np.sin(z1), "m22": dJ_dy2 * np.cos(z2),
            "w22": dJ_dz2 * x[1] ** 2, "w32": dJ_dz2 * x[2], "b2": dJ_dz2,
            "w11": dJ_dz1 * relu_d * x[0], "w21": dJ_dz1 * relu_d * x[1]}


@check("dag_backprop", HW, "Q4.2",
       "The hand-derived gradients of J for all nine parameters of the DAG equal autograd's, on both ReLU branches.")
def dag_backprop(rng, points=20, grads=dag_gradients):
    names = ["w11", "w21", "w22", "w32", "m11", "m12", "m22", "b2", "c1"]
    errs, branches = [], set()
    for _ in range(points):
        x, y = rng.standard_normal(3), rng.standard_normal(2) + 3
        p = {n: float(v) for n, v in zip(names, rng.standard_normal(9))}
        pt = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in p.items()}
        _, _, _, yh1, yh2 = dag_forward(torch.tensor(x), pt)
        J = torch.log((y[0] - yh1) ** 2) + torch.log((y[1] - yh2) ** 2)
        J.backward()
        g = grads(x, y, p)
        branches.add(bool(p["w11"] * x[0] + p["w21"] * x[1] > 0))
        errs.append(max(abs(g[n] - float(pt[n].grad)) / max(1.0, abs(float(pt[n].grad))) for n in names))
    passed = max(errs) < 1e-9 and branches == {True, False}
    return Result(passed, {"max_relative_error": max(errs), "points": points,
                           "relu_branches_seen": sorted(branches)},
                  f"At {points} random points (both ReLU branches), the hand-derived gradients match autograd to "
                  f"{max(errs):.1e} (relative).")
