"""The even/odd linear-regression lab on MNIST: rank, pinv vs lstsq vs normal equations, (S)GD and the spectrum,
deep-linear reparameterisation, random features through the interpolation threshold, Gaussian-kernel regression."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig

DESCRIPTION = ("even/odd least squares on 500 MNIST images: pinv, (S)GD vs spectrum, deep linear, random features, "
               "kernels")
HOMEWORK = [(courses.THEORY_SEMINAR, "Problem 3")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"rank of X": "rank", "pinv test MSE": "pinv_test_mse", "kernel test MSE": "kernel_test_mse"}
ESTIMATE_S = {"smoke": 15, "cpu": 120, "full": 900}


class Config(ExperimentConfig):
    n: int = Field(500, ge=10, description="training images drawn with the seed")
    gd_steps: int = Field(5000, ge=1, description="full-batch gradient-descent steps from beta = 0")
    gd_step_fraction: float = Field(0.5, gt=0, description="GD step as a fraction of the stability bound 1/sigma_max^2")
    sgd_epochs: int = Field(50, ge=1, description="SGD passes over the n images, one image per step")
    deep_steps: int = Field(5000, ge=0, description="gradient steps of the deep-linear model (0: skip)")
    deep_init_scale: float = Field(0.1, gt=0, description="deep-linear initial entries ~ N(0, scale^2 / 784)")
    rf_features: list[int] = Field([50, 100, 200, 300, 400, 450, 480, 500, 520, 550, 600, 700, 1000, 2000, 4000],
                                   description="random-feature counts p (the threshold is p = n)")
    rf_repeats: int = Field(3, ge=1, description="random-feature draws averaged per feature count")
    kernel_bandwidths: list[float] = Field([0.25, 0.5, 1.0, 2.0, 4.0],
                                           description="candidate bandwidths, in units of the median pairwise distance")
    kernel_val_fraction: float = Field(0.2, gt=0, lt=1, description="share of the n images that chooses the "
                                                                        "kernel bandwidth")


PRESETS = {
    "smoke": {"n": 100, "gd_steps": 200, "sgd_epochs": 5, "deep_steps": 100, "rf_features": [20, 100, 400],
              "rf_repeats": 1, "kernel_bandwidths": [0.5, 1.0]},
    "cpu": {},
    "full": {"rf_repeats": 10, "deep_steps": 20000, "gd_steps": 50000},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "rank": ("numerical rank of X (n x 784)", ""),
    "rank_tol": ("rank tolerance",
                 "the tolerance used: sigma_max * max(n, d) * eps"),
    "pinv_train_mse": ("training MSE, minimum-norm solution",
                       "train MSE of the minimum-norm solution pinv(X) y"),
    "pinv_test_mse": ("test MSE, minimum-norm solution",
                      "its test MSE (10,000 images)"),
    "pinv_test_acc": ("test accuracy of sign(f), minimum-norm solution",
                      "test accuracy of sign(f) for it"),
    "pinv_norm": ("norm of the minimum-norm solution",
                  "||beta_pinv||"),
    "lstsq_vs_pinv": ("max |beta_lstsq - beta_pinv|", ""),
    "normal_equations": ("normal equations solve(X^T X, X^T y)",
                         "what solve(X^T X, X^T y) did"),
    "cond_X": ("condition number of X",
               "sigma_max / sigma_min over the min(n, d) singular values"),
    "cond_row_space": ("condition number on the row space",
                       "sigma_max / sigma_r, r = rank (X restricted to its row space)"),
    "gd_eta": ("gradient-descent step size",
               "GD step used"),
    "gd_eta_bound": ("stability bound of the step",
                     "stability bound 1 / sigma_max^2 for L = ||X beta - y||^2"),
    "gd_final_loss": ("loss after gradient descent",
                      "L after the GD steps"),
    "gd_test_mse": ("test MSE of the gradient-descent iterate",
                    "test MSE of the GD iterate"),
    "sgd_final_loss": ("loss after SGD",
                       "L after SGD"),
    "deep_linear": ("deep linear model: MSEs, norm, distance to pinv, row-space share",
                    "{train_mse, test_mse, norm, dist_to_pinv, row_space_fraction} of beta = W1 beta1"),
    "rf_test_mse": ("random features: mean test MSE per feature count",
                    "{relu, fourier}: feature count -> mean test MSE"),
    "best_rf_test_mse": ("lowest random-feature test MSE",
                         "lowest mean test MSE over feature counts and both feature kinds"),
    "kernel_bandwidth": ("Gaussian-kernel bandwidth",
                         "chosen Gaussian-kernel bandwidth"),
    "kernel_test_mse": ("test MSE, kernel interpolation",
                        "test MSE of kernel interpolation"),
    "kernel_test_acc": ("test accuracy of sign(f), kernel interpolation",
                        "its test accuracy of sign(f)"),
}


def run(cfg: Config, rec) -> dict:
    """Problem 3, question by question: each step computes its figures; the report is written after."""
    import numpy as np

    from dllab.seeding import rng

    d = _data(cfg)
    np.save(rec.dir / "train_indices.npy", d["idx"])
    res = {"exact": _exact_solutions(d["X"], d["y"], d["Xt"], d["yt"])}                    # questions 0-1
    res["gd"] = _gradient_descent(cfg, d, res["exact"], rng(cfg.seed, "sgd"))               # question 2
    res["spectrum"] = _spectrum(res["exact"]["s"], res["exact"]["tol"], res["gd"]["eta"])  # question 3
    if cfg.deep_steps:                                                                      # question 4
        res["deep"] = _deep_linear(cfg, d, res["exact"]["beta"], res["exact"]["s"], rng(cfg.seed, "deep-linear"))
    with rec.progress_bar("random features", len(cfg.rf_features)) as bar:                  # question 5
        res["rf"] = _random_features(cfg, d, res["exact"]["median_dist"], rng(cfg.seed, "random-features"), bar)
    res["kernel"] = _kernel(cfg, d, res["exact"]["median_dist"], rng(cfg.seed, "kernel-split"))
    return _report(cfg, rec, d, res)


def _data(cfg: Config) -> dict:
    """n training images drawn with the seed, all test images; y = +1 for odd digits, -1 for even."""
    import numpy as np

    from dllab import data
    from dllab.seeding import rng

    ds = data.load("mnist")
    idx = np.sort(rng(cfg.seed, "sample").choice(len(ds.x_train), cfg.n, replace=False))
    X = np.asarray(ds.x_train[idx], dtype=np.float64).reshape(cfg.n, -1) / 255.0
    Xt = np.asarray(ds.x_test, dtype=np.float64).reshape(len(ds.x_test), -1) / 255.0
    return {"ds": ds, "idx": idx, "X": X, "y": np.where(np.asarray(ds.y_train[idx]) % 2 == 1, 1.0, -1.0),
            "Xt": Xt, "yt": np.where(np.asarray(ds.y_test) % 2 == 1, 1.0, -1.0)}


def _exact_solutions(X, y, Xt, yt) -> dict:
    """Rank, the minimum-norm solution (pinv), lstsq, and what solve() makes of the normal equations."""
    import numpy as np

    from dllab import regression as R

    n, d = X.shape
    s = np.linalg.svd(X, compute_uv=False)
    tol = s[0] * max(n, d) * np.finfo(float).eps
    rank = int((s > tol).sum())
    beta = R.min_norm_solution(X, y)
    beta_ls = np.linalg.lstsq(X, y, rcond=None)[0]
    try:
        beta_ne = np.linalg.solve(X.T @ X, X.T @ y)
        normal = (f"solve returned a vector of norm {np.linalg.norm(beta_ne):.3g} with train MSE "
                  f"{R.mse(X @ beta_ne, y):.3g} (vs {R.mse(X @ beta, y):.1e} for pinv): X^T X is {d} x {d} with rank "
                  f"at most {rank}, so LU divides by rounding noise")
    except np.linalg.LinAlgError as exc:
        normal = (f"solve raised LinAlgError ('{exc}'): X^T X is {d} x {d} but has rank {rank} < {d}, so it has no "
                  "inverse; the normal equations have infinitely many solutions and LU hits a zero pivot")
    med = float(np.sqrt(np.median(R.sq_dists(X[:200], X[:200])[np.triu_indices(min(200, n), 1)])))
    return {"s": s, "tol": tol, "rank": rank, "beta": beta, "normal": normal, "median_dist": med,
            "lstsq": {"train MSE": R.mse(X @ beta_ls, y), "test MSE": R.mse(Xt @ beta_ls, yt),
                      "test acc": float(np.mean(np.sign(Xt @ beta_ls) == yt)), "norm": float(np.linalg.norm(beta_ls)),
                      "max_diff": float(np.max(np.abs(beta_ls - beta)))},
            "pinv": {"train MSE": R.mse(X @ beta, y), "test MSE": R.mse(Xt @ beta, yt),
                     "test acc": float(np.mean(np.sign(Xt @ beta) == yt)), "norm": float(np.linalg.norm(beta))}}


def _gradient_descent(cfg: Config, d: dict, exact: dict, g) -> dict:
    """GD at a fraction of the stability bound, GD just above it, and SGD (one example per step)."""
    import numpy as np

    from dllab import regression as R

    X, y, beta = d["X"], d["y"], exact["beta"]
    bound = R.gd_step_bound(X)
    eta = cfg.gd_step_fraction * bound
    beta_gd, gd = R.gd_least_squares(X, y, eta, cfg.gd_steps, ref=beta, every=max(1, cfg.gd_steps // 200))
    _, gd_bad = R.gd_least_squares(X, y, 1.05 * bound, min(cfg.gd_steps, 300), ref=beta)
    eta_sgd = 0.5 / (len(X) * float(np.max((X * X).sum(1))))
    _, sgd = R.sgd_least_squares(X, y, eta_sgd, cfg.sgd_epochs, rng=g, ref=beta)
    return {"bound": bound, "eta": eta, "eta_sgd": eta_sgd, "gd": gd, "gd_bad": gd_bad, "sgd": sgd,
            "test_mse": R.mse(d["Xt"] @ beta_gd, d["yt"])}


def _spectrum(s, tol: float, eta: float) -> dict:
    """Condition numbers, and how slowly GD's error shrinks along the smallest singular direction."""
    r_s = s[s > tol]
    return {"cond_X": float(s[0] / s[-1]) if s[-1] > 0 else float("inf"), "cond_row_space": float(r_s[0] / r_s[-1]),
            "sigma_min": float(r_s[-1]), "slow_factor": float(2 * eta * r_s[-1] ** 2),
            "above_tenth": int((r_s > r_s[0] / 10).sum())}


def _deep_linear(cfg: Config, d: dict, beta, s, g) -> dict:
    """beta = W1 beta1 trained by gradient descent from a small initialisation."""
    import numpy as np

    from dllab import regression as R

    X, y, Xt, yt, n = d["X"], d["y"], d["Xt"], d["yt"], len(d["X"])
    eta = 0.25 * n / (4 * s[0] ** 2)  # curvature (2 sigma^2 / n) x (||beta1||^2 + ||W1||^2 ~ 2) at init
    beta_deep, _, _, losses = R.deep_linear_gd(X, y, cfg.deep_steps, eta=eta, init_scale=cfg.deep_init_scale, rng=g)
    P = np.linalg.pinv(X) @ X  # projector onto the row space
    return {"train_mse": R.mse(X @ beta_deep, y), "test_mse": R.mse(Xt @ beta_deep, yt),
            "test_acc": float(np.mean(np.sign(Xt @ beta_deep) == yt)), "norm": float(np.linalg.norm(beta_deep)),
            "dist_to_pinv": float(np.linalg.norm(beta_deep - beta)),
            "row_space_fraction": float(np.linalg.norm(P @ beta_deep) / max(np.linalg.norm(beta_deep), 1e-300)),
            "eta": eta, "steps": cfg.deep_steps, "losses": losses}


def _random_features(cfg: Config, d: dict, med: float, g, bar) -> dict:
    """Min-norm least squares on p random ReLU and random Fourier features: mean test MSE over draws."""
    import numpy as np

    from dllab import regression as R

    X, y, Xt, yt = d["X"], d["y"], d["Xt"], d["yt"]
    rf = {"relu": {}, "fourier": {}}
    for p in cfg.rf_features:
        errs = {"relu": [], "fourier": []}
        for _ in range(cfg.rf_repeats):
            W = g.normal(0, 1 / np.sqrt(X.shape[1]), (X.shape[1], p))
            Wf, bf = g.normal(0, 1 / med, (X.shape[1], p)), g.uniform(0, 2 * np.pi, p)
            for kind, phi in (("relu", lambda A, W=W: R.relu_features(A, W)),
                              ("fourier", lambda A, Wf=Wf, bf=bf: R.fourier_features(A, Wf, bf))):
                coef = np.linalg.lstsq(phi(X), y, rcond=None)[0]
                errs[kind].append(R.mse(phi(Xt) @ coef, yt))
        for kind in rf:
            rf[kind][str(p)] = float(np.mean(errs[kind]))
        bar.advance()
    return rf


def _kernel(cfg: Config, d: dict, med: float, g) -> dict:
    """Gaussian-kernel interpolation; the bandwidth chosen on a validation split, then refitted on all n."""
    import numpy as np

    from dllab import regression as R

    X, y, n = d["X"], d["y"], len(d["X"])
    perm = g.permutation(n)
    cut = int(round((1 - cfg.kernel_val_fraction) * n))
    tr, va = perm[:cut], perm[cut:]
    val_mse = {c: R.mse(R.kernel_regression(X[tr], y[tr], X[va], c * med), y[va]) for c in cfg.kernel_bandwidths}
    c_best = min(val_mse, key=val_mse.get)
    pred = R.kernel_regression(X, y, d["Xt"], c_best * med)
    return {"val_mse": val_mse, "c_best": c_best, "h": c_best * med, "n_val": len(va),
            "test_mse": R.mse(pred, d["yt"]), "test_acc": float(np.mean(np.sign(pred) == d["yt"]))}


# -- the report, in the homework's question order ----------------------------------------------------------

def summary(res: dict) -> dict:
    """The summary's numbers (the data every question's prose and figures read)."""
    ex, gd, sp, rf, k = res["exact"], res["gd"], res["spectrum"], res["rf"], res["kernel"]
    out = {"rank": ex["rank"], "rank_tol": ex["tol"], "pinv_train_mse": ex["pinv"]["train MSE"],
           "pinv_test_mse": ex["pinv"]["test MSE"], "pinv_test_acc": ex["pinv"]["test acc"],
           "pinv_norm": ex["pinv"]["norm"], "lstsq_vs_pinv": ex["lstsq"]["max_diff"], "normal_equations": ex["normal"],
           "cond_X": sp["cond_X"], "cond_row_space": sp["cond_row_space"], "gd_eta": gd["eta"],
           "gd_eta_bound": gd["bound"], "gd_final_loss": gd["gd"].loss[-1], "gd_test_mse": gd["test_mse"],
           "sgd_final_loss": gd["sgd"].loss[-1], "rf_test_mse": rf,
           "best_rf_test_mse": min(min(v.values()) for v in rf.values()), "kernel_bandwidth": k["h"],
           "kernel_test_mse": k["test_mse"], "kernel_test_acc": k["test_acc"]}
    if "deep" in res:
        out["deep_linear"] = {k_: v for k_, v in res["deep"].items() if k_ != "losses"}
    return out


def _report(cfg: Config, rec, d: dict, res: dict) -> dict:
    """The report in the homework's question order: one function per question, each a figure or table and a
    paragraph computed from the numbers."""
    out = summary(res)
    n, dim = d["X"].shape
    rec.text("Data", f"{d['ds'].describe()}. n = {n} training images drawn without replacement with seed {cfg.seed} "
                     f"(indices in train_indices.npy); X in R^({n} x {dim}) with pixels in [0, 1]; y = +1 for odd "
                     f"digits, -1 for even ({int((d['y'] > 0).sum())} odd). Test: all {len(d['Xt'])} test images.")

    for question in (_q01_exact, _q2_gradient_descent, _q3_spectrum, _q4_deep_linear, _q5_features_and_kernels):
        question(cfg, rec, d, res, out)
    return out


def _q01_exact(cfg: Config, rec, d: dict, res: dict, out: dict) -> None:
    """Questions 0-1: the rank of X, the minimum-norm solution (pinv, lstsq), the normal equations."""
    n, dim = d["X"].shape
    ex = res["exact"]
    rank = res["exact"]["rank"]
    tol = res["exact"]["tol"]
    rec.table("Zero-loss solutions", [
        {"method": "pinv (min-norm)", **{k_: v for k_, v in ex["pinv"].items() if k_ != "test acc"},
         "test acc (%)": round(100 * ex["pinv"]["test acc"], 2)},
        {"method": "lstsq", **{k_: v for k_, v in ex["lstsq"].items() if k_ not in ("test acc", "max_diff")},
         "test acc (%)": round(100 * ex["lstsq"]["test acc"], 2)}])
    rec.text("0-1. Rank, pinv and the normal equations", (
        f"The numerical rank of X is {rank} (singular values above sigma_max * max(n, d) * eps = {tol:.2e}), so "
        f"with n = {n} < d = {dim} the system X beta = y has exact solutions, in fact an affine space of dimension "
        f"{dim - rank} of them. pinv computes the SVD X = U S V^T and returns beta = V S^+ U^T y, inverting only the "
        f"{rank} non-zero singular values: the solution with no component in the null space, hence the smallest "
        f"norm ({out['pinv_norm']:.2f}). lstsq (LAPACK gelsd, also SVD-based) returns the same vector: max "
        f"difference {out['lstsq_vs_pinv']:.1e}. The normal equations X^T X beta = X^T y: {ex['normal']}. Both exact "
        f"solutions fit the training set perfectly (train MSE {out['pinv_train_mse']:.1e}) but predict the test set "
        f"poorly: test MSE {out['pinv_test_mse']:.2f}, accuracy {100 * out['pinv_test_acc']:.1f}%. Interpolating "
        "near the threshold n ~ rank forces large weights along the smallest singular directions, which amplify "
        "noise on new images."))


def _q2_gradient_descent(cfg: Config, rec, d: dict, res: dict, out: dict) -> None:
    """Question 2: gradient descent and SGD toward the minimum-norm interpolant."""
    from dllab import plotting

    gd = res["gd"]
    g, sg, bad = gd["gd"], gd["sgd"], gd["gd_bad"]
    fig, axes = plotting.subplots(3)
    # step 0 (beta = 0) is left out of the log-x plots
    axes[0].loglog(g.steps[1:], g.loss[1:], label=f"GD, eta = {cfg.gd_step_fraction:g} / sigma_max^2")
    axes[0].loglog(sg.steps[1:], sg.loss[1:], label="SGD (x-axis: epochs)")
    axes[0].set(title="Training loss ||X beta - y||^2", xlabel="iteration / epoch", ylabel="loss")
    axes[1].semilogx(g.steps[1:], g.dist[1:], label="GD")
    axes[1].semilogx(sg.steps[1:], sg.dist[1:], label="SGD")
    axes[1].set(title="Distance to the pinv solution", xlabel="iteration / epoch", ylabel="||beta_t - beta_pinv||")
    axes[2].semilogy(bad.steps, bad.loss, color="C3")
    axes[2].set(title="GD with eta = 1.05 / sigma_max^2 diverges", xlabel="iteration", ylabel="loss (log)")
    for ax in axes[:2]:
        ax.legend(fontsize=8)
    rec.figure(fig, "gd_sgd", "Gradient 2 X^T (X beta - y); both start at beta = 0, so every iterate stays in the "
                              "row space of X and the limit is the pinv solution.")
    rec.text("2. Gradient descent and SGD", (
        f"The gradient of L(beta) = ||X beta - y||^2 is 2 X^T (X beta - y). GD from beta = 0 with eta = "
        f"{gd['eta']:.3g} ({cfg.gd_step_fraction:g} x the stability bound 1 / sigma_max^2 = {gd['bound']:.3g}; the "
        "often-quoted 2 / sigma_max^2 is the same bound for the loss with a factor 1/2) lowers the loss quickly at "
        f"first, then crawls: after {cfg.gd_steps} steps it is {g.loss[-1]:.3g}, and beta is still "
        f"{g.dist[-1]:.3g} away from the pinv solution (whose norm is {out['pinv_norm']:.3g}). A step 5% above the "
        f"bound diverges (right panel). SGD (one example per step, eta = {gd['eta_sgd']:.2g}) behaves alike: loss "
        f"{sg.loss[-1]:.3g} after {cfg.sgd_epochs} epochs. So (S)GD works in the sense that it converges toward the "
        "minimum-norm interpolant, but far too slowly to reach it in any reasonable budget. The early-stopped "
        f"iterate generalises far better than the interpolant (test MSE {out['gd_test_mse']:.3g} vs "
        f"{out['pinv_test_mse']:.3g})."))


def _q3_spectrum(cfg: Config, rec, d: dict, res: dict, out: dict) -> None:
    """Question 3: why (S)GD is slow: the spectrum of X."""
    import numpy as np

    from dllab import plotting

    n, dim = d["X"].shape
    sp = res["spectrum"]
    s = res["exact"]["s"]
    rank = res["exact"]["rank"]
    tol = res["exact"]["tol"]
    fig, ax = plotting.subplots(width=6)
    ax.semilogy(np.arange(1, len(s) + 1), s, ".", ms=3)
    ax.axhline(tol, color="gray", ls=":", label="rank tolerance")
    ax.set(title=f"Singular values of X ({n} x {dim})", xlabel="index i", ylabel="sigma_i (log scale)")
    ax.legend()
    rec.figure(fig, "spectrum", f"Condition number sigma_max/sigma_min = {out['cond_X']:.3g}; on the row space "
                                f"(sigma_max/sigma_{rank}) = {out['cond_row_space']:.3g}.")
    rec.text("3. Why: the spectrum of X", (
        f"L has Hessian 2 X^T X with largest eigenvalue 2 sigma_max^2 = {2 * s[0] ** 2:.3g}, which caps the step. "
        "Writing the error in the SVD basis, the component along singular direction i shrinks by the factor "
        f"|1 - 2 eta sigma_i^2| per step: fast for the top directions, but for sigma_i = sigma_min = "
        f"{sp['sigma_min']:.3g} the factor is 1 - {sp['slow_factor']:.2e}, so it needs about "
        f"{1 / sp['slow_factor']:.2e} steps per e-fold. The condition number on the row space is "
        f"{out['cond_row_space']:.3g}, and only {sp['above_tenth']} of the {rank} singular values exceed "
        "sigma_max / 10: GD has fitted the large-singular-value directions and barely started on the rest. Those "
        "are exactly the directions where fitting means amplifying noise, which is why stopping early helps."))


def _q4_deep_linear(cfg: Config, rec, d: dict, res: dict, out: dict) -> None:
    """Question 4: the deep-linear reparameterisation beta = W1 beta1."""
    import numpy as np

    from dllab import plotting

    if "deep" not in res:
        return
    dl = res["deep"]
    fig, ax = plotting.subplots(width=6)
    ax.loglog(np.arange(1, len(dl["losses"]) + 1), dl["losses"])
    ax.set(title="Deep linear beta = W1 beta1: training loss", xlabel="step", ylabel="(1/n) ||X beta - y||^2")
    rec.figure(fig, "deep_linear", f"Gradient descent on W1 (784 x 784) and beta1, entries ~ N(0, "
                                   f"{cfg.deep_init_scale}^2 / 784), eta = {dl['eta']:.3g}.")
    rec.table("Deep linear vs minimum norm", [
        {"solution": "pinv", "train MSE": out["pinv_train_mse"], "test MSE": out["pinv_test_mse"],
         "norm": out["pinv_norm"], "distance to pinv": 0.0},
        {"solution": "deep linear", "train MSE": dl["train_mse"], "test MSE": dl["test_mse"], "norm": dl["norm"],
         "distance to pinv": dl["dist_to_pinv"]}])
    rec.text("4. Deep-linear reparameterisation", (
        f"The product W1 beta1 is trained by gradient descent on the same data. After {cfg.deep_steps} steps its "
        f"train MSE is {dl['train_mse']:.3g}, its norm {dl['norm']:.3g} (pinv: {out['pinv_norm']:.3g}) and "
        f"{100 * dl['row_space_fraction']:.1f}% of its length lies in the row space of X. The updates to W1 are "
        "outer products u beta1^T with u in the row space, but W1 W1^T u need not be, so unlike plain GD the "
        "reparameterised model can leave the row space; from a small initialisation it mostly does not, and it "
        f"approaches the data along the top singular directions first, like early-stopped GD (test MSE "
        f"{dl['test_mse']:.3g})."))


def _q5_features_and_kernels(cfg: Config, rec, d: dict, res: dict, out: dict) -> None:
    """Question 5: minimum-norm regression on random features, and Gaussian kernels."""
    from dllab import plotting

    n = d["X"].shape[0]
    rf = res["rf"]
    k = res["kernel"]
    fig, axes = plotting.subplots(2)
    ps = [int(p) for p in rf["relu"]]
    for kind in rf:
        axes[0].loglog(ps, list(rf[kind].values()), "o-", label=f"random {kind} features")
    axes[0].axvline(n, color="gray", ls=":", label=f"p = n = {n}")
    axes[0].axhline(out["kernel_test_mse"], color="C2", ls="--", label="Gaussian kernel")
    axes[0].axhline(out["pinv_test_mse"], color="C3", ls="-.", label="raw pixels (pinv)")
    axes[0].set(title="Min-norm regression on p random features", xlabel="number of features p",
                ylabel="test MSE (log)")
    axes[0].legend(fontsize=7)
    axes[1].semilogx(list(k["val_mse"]), list(k["val_mse"].values()), "o-")
    axes[1].set_xticks(list(k["val_mse"]), [f"{c:g}" for c in k["val_mse"]])
    axes[1].minorticks_off()
    axes[1].axvline(k["c_best"], color="gray", ls=":")
    axes[1].set(title="Kernel bandwidth on the validation split", xlabel="bandwidth / median distance",
                ylabel="validation MSE")
    rec.figure(fig, "random_features", f"Each point: mean over {cfg.rf_repeats} feature draws; fits are min-norm "
                                       "least squares (lstsq), so p >= n interpolates the training set.")
    peak_p = max(rf["relu"], key=rf["relu"].get)
    rec.table("Test MSE on the 10,000 test images", [
        {"model": "raw pixels, min-norm (pinv)", "test MSE": out["pinv_test_mse"]},
        {"model": f"raw pixels, GD stopped after {cfg.gd_steps} steps", "test MSE": out["gd_test_mse"]},
        *([{"model": "deep linear", "test MSE": out["deep_linear"]["test_mse"]}] if "deep" in res else []),
        {"model": f"random ReLU features, best p ({min(rf['relu'], key=rf['relu'].get)})",
         "test MSE": min(rf["relu"].values())},
        {"model": f"random Fourier features, best p ({min(rf['fourier'], key=rf['fourier'].get)})",
         "test MSE": min(rf["fourier"].values())},
        {"model": f"Gaussian kernel interpolation (h = {k['h']:.3g})", "test MSE": out["kernel_test_mse"]}])
    rec.text("5. Random features and kernels", (
        f"With p random features the min-norm fit interpolates once p >= n = {n}. The ReLU features' test MSE peaks at "
        f"p = {peak_p} ({rf['relu'][peak_p]:.3g}): at the interpolation threshold the feature matrix is square and "
        "badly conditioned, so the fit needs huge coefficients; adding features past the threshold lets the "
        f"min-norm solution spread the fit and the error falls again (double descent). Exact Gaussian-kernel "
        f"interpolation (bandwidth {k['c_best']:g} x the median pairwise distance, chosen on a {k['n_val']}-image "
        f"validation split, then refitted on all {n}) reaches test MSE {out['kernel_test_mse']:.3g} and accuracy "
        f"{100 * out['kernel_test_acc']:.1f}%, the infinite-feature limit of the Fourier features."))
