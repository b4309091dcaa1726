"""The theory lab: every check passes; wrong formulas make their checks fail."""

import json

import numpy as np
import pytest

from dllab.runner import run_experiment
from dllab.theory import cs229br, cs7643, load_all, mit_6s898, tsinghua_dl


@pytest.fixture(scope="module")
def theory_run(tmp_path_factory, shared_data):
    return run_experiment("theory", preset="smoke", out=tmp_path_factory.mktemp("t") / "run", progress=False)


def test_every_check_passes(theory_run):
    s = json.loads((theory_run / "summary.json").read_text())
    failed = [n for n, c in s["checks"].items() if not c["passed"]]
    assert not failed and s["all_passed"] and s["n_checks"] == len(load_all()) == 20


def test_summary_has_key_figures(theory_run):
    c = json.loads((theory_run / "summary.json").read_text())["checks"]
    conv = c["convolution_arithmetic"]
    assert conv["j"] == pytest.approx(-0.875) and conv["output_size"] == [3, 2]
    assert conv["same_padding"] == [3, 2] and conv["parameters"] == 17 and len(conv["Y"]) == 4
    assert c["sgd_expected_step"]["c_fitted"] == pytest.approx(2.0, abs=0.05)
    assert c["linear_regions"]["sawtooth_pieces"]["8"] == 256


def test_conv_entry_by_hand():
    X, F = tsinghua_dl.CONV_X, tsinghua_dl.CONV_F
    j = np.sum(X[2:5, 1:4] * F)  # row 3, column 2 of Y: the window starting at X[2, 1]
    assert j == pytest.approx(-0.875)


def test_subset_and_unknown_check(tmp_path, shared_data):
    from dllab.errors import ConfigError

    out = run_experiment("theory", overrides=["checks=[softmax_jacobian, logic_gates]"], out=tmp_path / "a",
                         progress=False)
    assert set(json.loads((out / "summary.json").read_text())["checks"]) == {"softmax_jacobian", "logic_gates"}
    with pytest.raises(ConfigError, match="unknown check"):
        run_experiment("theory", overrides=["checks=[nope]"], out=tmp_path / "b", progress=False)


RNG = np.random.default_rng


def test_wrong_softmax_jacobian_fails():
    def wrong(z):
        s = np.exp(z) / np.exp(z).sum()
        return np.diag(s) + np.outer(s, s)  # sign flipped

    assert cs7643.softmax_jacobian_check(RNG(0)).passed
    assert not cs7643.softmax_jacobian_check(RNG(0), formula=wrong).passed


def test_wrong_logistic_gradient_fails():
    def wrong(theta, X, y, lam):
        return tsinghua_dl.logistic_ridge_grad(theta, X, y, lam) - 2 * lam * theta  # -lambda theta: sign flipped

    assert not tsinghua_dl.logistic_ridge_gradient(RNG(0), grad=wrong).passed


def test_wrong_backprop_identity_fails():
    def wrong(W, x, y, u, v):  # forgets the identity in (I + W^T)
        return np.outer(v, u) + np.outer(np.diag((y > 0).astype(float)) @ W.T @ v, x)

    assert not mit_6s898.backprop_identity(RNG(0), formula=wrong).passed


def test_wrong_dag_gradient_fails():
    def wrong(x, y, p):
        g = tsinghua_dl.dag_gradients(x, y, p)
        g["w32"] = -g["w32"]
        return g

    assert not tsinghua_dl.dag_backprop(RNG(0), grads=wrong).passed


def test_wrong_expected_gradient_constant_fails():
    assert not cs229br.sgd_expected_step(RNG(0), c_formula=lambda: 1.0).passed


def test_wrong_projector_fails():
    assert not tsinghua_dl.least_squares_projection(RNG(0), projector=lambda X: X @ X.T).passed


def test_breakpoints_exact_on_known_net():
    # f(x) = ReLU(x + 1) - 2 ReLU(x) + ReLU(x - 1): kinks at -1, 0, 1
    net = [(np.array([[1.0], [1.0], [1.0]]), np.array([1.0, 0.0, -1.0])), (np.array([[1.0, -2.0, 1.0]]), np.zeros(1))]
    assert np.allclose(mit_6s898.breakpoints(net), [-1, 0, 1])
    # a neuron whose kink is cancelled downstream does not count
    net = [(np.array([[1.0], [1.0]]), np.array([0.0, 0.0])), (np.array([[1.0, -1.0]]), np.zeros(1))]
    assert len(mit_6s898.breakpoints(net)) == 0


def test_every_check_passes_for_seeds_0_to_5_at_smoke_sizes():
    import matplotlib.pyplot as plt

    from dllab.seeding import rng

    failures = []
    for seed in range(6):  # the statistical checks' false-failure bounds are asserted below
        for name, c in load_all().items():
            r = c.fn(rng(seed, "theory", name), **c.smoke)
            plt.close("all")
            if not r.passed:
                failures.append(f"seed {seed} {name}: {r.detail}")
    assert failures == []


def test_statistical_checks_state_a_false_failure_bound_below_one_in_a_million():
    stated = {n: c.false_failure for n, c in load_all().items() if c.false_failure is not None}
    assert set(stated) >= {"uniform_convergence", "sgd_expected_step"}
    assert all(0 < p < 1e-6 for p in stated.values())


@pytest.mark.parametrize("wrong_rate", [lambda k, n: np.log(k) / n,          # too fast in n: slope 0.5
                                        lambda k, n: np.sqrt(k / n),         # |F| instead of log|F|
                                        lambda k, n: np.sqrt(np.log(k)) / n ** 0.25])  # too slow in n
def test_uniform_convergence_fails_for_a_wrong_rate(wrong_rate):
    smoke = load_all()["uniform_convergence"].smoke
    assert not cs229br.uniform_convergence(RNG(0), **smoke, rate=wrong_rate).passed
