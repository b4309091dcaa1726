import json

import numpy as np
import pytest

from dllab import experiments
from dllab import regression as R
from dllab.runner import run_experiment

G = np.random.default_rng(0)


def test_min_norm_solution_matches_row_space_formula():
    X, y = G.standard_normal((20, 50)), G.standard_normal(20)
    expected = X.T @ np.linalg.solve(X @ X.T, y)  # full row rank: beta = X^T (X X^T)^-1 y
    assert np.allclose(R.min_norm_solution(X, y), expected, atol=1e-10)


def test_gd_threshold_is_one_over_sigma_max_squared():
    X, y = G.standard_normal((30, 10)), G.standard_normal(30)
    bound = R.gd_step_bound(X)
    assert bound == pytest.approx(1 / np.linalg.svd(X, compute_uv=False)[0] ** 2)
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    beta, tr = R.gd_least_squares(X, y, 0.95 * bound, 5000, ref=ref)
    assert tr.dist[-1] < 1e-6
    _, tr = R.gd_least_squares(X, y, 1.05 * bound, 2000)
    assert tr.loss[-1] > 1e6 * tr.loss[0]
    # the 2/sigma_max^2 bound: beyond it the iteration diverges too
    _, tr = R.gd_least_squares(X, y, 2.1 * bound, 500)
    assert not np.isfinite(tr.loss[-1]) or tr.loss[-1] > 1e6 * tr.loss[0]


def test_gd_and_sgd_from_zero_converge_to_min_norm():
    X, y = G.standard_normal((10, 30)), G.standard_normal(10)
    ref = R.min_norm_solution(X, y)
    _, tr = R.gd_least_squares(X, y, 0.5 * R.gd_step_bound(X), 20000, ref=ref, every=1000)
    assert tr.dist[-1] < 1e-6
    eta = 0.5 / (len(X) * float(np.max((X * X).sum(1))))
    _, ts = R.sgd_least_squares(X, y, eta, 3000, ref=ref)
    assert ts.dist[-1] < 1e-4


def test_kernel_regression_against_direct_solve():
    X, y, Z = G.standard_normal((6, 3)), G.standard_normal(6), G.standard_normal((4, 3))
    h, ridge = 1.3, 0.1
    K = np.array([[np.exp(-np.sum((a - b) ** 2) / (2 * h * h)) for b in X] for a in X])
    k = np.array([[np.exp(-np.sum((z - b) ** 2) / (2 * h * h)) for b in X] for z in Z])
    expected = k @ np.linalg.inv(K + ridge * np.eye(6)) @ y
    assert np.allclose(R.kernel_regression(X, y, Z, h, ridge), expected)
    assert np.allclose(R.kernel_regression(X, y, X, h), y)  # ridge 0 interpolates


def test_deep_linear_gradient_matches_finite_differences():
    X, y = G.standard_normal((5, 4)), G.standard_normal(5)
    def loss(W, b):
        r = X @ (W @ b) - y
        return r @ r / 5

    _, W_after, b_after, _ = R.deep_linear_gd(X, y, 1, eta=1e-6, init_scale=2.0, rng=np.random.default_rng(7))
    same = np.random.default_rng(7)  # the draws deep_linear_gd makes (init_scale / sqrt(d) = 1)
    W0, b0 = same.normal(0, 1.0, (4, 4)), same.normal(0, 1.0, 4)
    gW = (W0 - W_after) / 1e-6
    eps = 1e-6
    num = np.zeros_like(W0)
    for i in range(4):
        for j in range(4):
            E = np.zeros_like(W0)
            E[i, j] = eps
            num[i, j] = (loss(W0 + E, b0) - loss(W0 - E, b0)) / (2 * eps)
    assert np.allclose(gW, num, rtol=1e-4, atol=1e-6)


def test_linreg_smoke_and_label_mapping(tmp_path, shared_data):
    out = run_experiment("linreg-mnist", preset="smoke", out=tmp_path / "l", progress=False)
    s = json.loads((out / "summary.json").read_text())
    assert set(experiments.get("linreg-mnist").SUMMARY_KEYS) <= set(s)
    assert s["rank"] == 100 and s["pinv_train_mse"] < 1e-20 and s["lstsq_vs_pinv"] < 1e-8
    assert "LinAlgError" in s["normal_equations"] or "norm" in s["normal_equations"]
    from dllab import data

    ds = data.load("mnist")
    idx = np.load(out / "train_indices.npy")
    y = np.where(ds.y_train[idx] % 2 == 1, 1.0, -1.0)  # +1 odd, -1 even
    X = ds.x_train[idx].reshape(len(idx), -1) / 255.0
    beta = np.linalg.pinv(X) @ y
    Xt = ds.x_test.reshape(10000, -1) / 255.0
    yt = np.where(ds.y_test % 2 == 1, 1.0, -1.0)
    assert s["pinv_test_mse"] == pytest.approx(float(np.mean((Xt @ beta - yt) ** 2)), rel=1e-8)
    assert {p.name for p in (out / "figures").iterdir()} == {"spectrum.png", "gd_sgd.png", "deep_linear.png",
                                                             "random_features.png"}
