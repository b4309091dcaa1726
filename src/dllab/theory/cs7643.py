"""Georgia Tech CS7643 A1, the theory questions: the softmax Jacobian and threshold neurons."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linprog

from dllab import courses, plotting
from dllab.theory.base import Result, check

HW = courses.CS7643


def softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """ds/dz = diag(s) - s s^T."""
    e = np.exp(z - z.max())
    s = e / e.sum()
    return np.diag(s) - np.outer(s, s)


@check("softmax_jacobian", HW, "Q1", "The Jacobian of the softmax is ds_i/dz_j = s_i (delta_ij - s_j) = "
                                     "(diag(s) - s s^T)_ij.")
def softmax_jacobian_check(rng, trials=20, formula=softmax_jacobian):
    errs = []
    for _ in range(trials):
        z = rng.standard_normal(int(rng.integers(2, 8))) * 3
        auto = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), torch.tensor(z)).numpy()
        errs.append(float(np.max(np.abs(formula(z) - auto))))
    return Result(max(errs) < 1e-12, {"max_abs_error": max(errs), "trials": trials},
                  f"Against torch.autograd's Jacobian for {trials} random logit vectors: max error {max(errs):.1e}.")


def threshold(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return (x @ w + b >= 0).astype(int)


TRUTH = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)


@check("and_or_threshold", HW, "Q2", "One linear threshold neuron computes AND (w = (1, 1), b = -1.5) and OR "
                                     "(w = (1, 1), b = -0.5).")
def and_or_threshold(rng, w_and=(1.0, 1.0), b_and=-1.5, w_or=(1.0, 1.0), b_or=-0.5):
    f_and = threshold(TRUTH, np.array(w_and), b_and)
    f_or = threshold(TRUTH, np.array(w_or), b_or)
    passed = f_and.tolist() == [0, 0, 0, 1] and f_or.tolist() == [0, 1, 1, 1]
    return Result(passed, {"AND": f_and.tolist(), "OR": f_or.tolist(), "w_and": list(w_and), "b_and": b_and,
                           "w_or": list(w_or), "b_or": b_or},
                  f"Truth tables on (0,0), (0,1), (1,0), (1,1): AND {f_and.tolist()}, OR {f_or.tolist()}.")


def threshold_feasible(x: np.ndarray, labels: np.ndarray) -> bool:
    """Is there (w, b) with w.x + b >= 0 where the label is 1 and <= -1 where it is 0? (Strict < 0 can be
    rescaled to <= -1, so this LP is feasible iff a threshold neuron realises the labels.)"""
    sign = np.where(labels == 1, -1.0, 1.0)
    A_ub = sign[:, None] * np.c_[x, np.ones(len(x))]
    b_ub = np.where(labels == 1, 0.0, -1.0)
    res = linprog(np.zeros(3), A_ub=A_ub, b_ub=b_ub, bounds=[(None, None)] * 3, method="highs")
    return res.status == 0


@check("xor_not_threshold", HW, "Q3", "No single linear threshold neuron computes XOR: the linear program for "
                                      "its weights is infeasible (while AND's and OR's are feasible).")
def xor_not_threshold(rng):
    feas = {name: threshold_feasible(TRUTH, np.array(t)) for name, t in
            (("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1]), ("XOR", [0, 1, 1, 0]))}
    fig, ax = plotting.subplots(width=4.5, height=4)
    xor = np.array([0, 1, 1, 0])
    for lab, marker, colour in ((0, "o", "C0"), (1, "s", "C3")):
        ax.scatter(*TRUTH[xor == lab].T, s=200, marker=marker, color=colour, label=f"XOR = {lab}")
    ax.set(title="XOR: no line separates the classes", xlabel="x1", ylabel="x2", xlim=(-0.5, 1.5), ylim=(-0.5, 1.5))
    ax.legend(loc="center")
    passed = feas == {"AND": True, "OR": True, "XOR": False}
    return Result(passed, {"feasible": feas},
                  "The LP w.x + b >= 0 on XOR's 1s and <= -1 on its 0s is infeasible: adding the two constraints of "
                  "(0,1) and (1,0) gives w1 + w2 + 2b >= 0, adding those of (0,0) and (1,1) gives "
                  "w1 + w2 + 2b <= -2.", [("xor_points", fig, "The four XOR inputs: the diagonals share a label.")])
