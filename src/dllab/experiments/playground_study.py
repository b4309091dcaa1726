"""Tsinghua Deep Learning 2024, Q1: the playground's questions answered headlessly with the page's own engine."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig

DESCRIPTION = "the playground's homework questions: best configurations, what each knob does, small weights"
HOMEWORK = [(courses.TSINGHUA, "Q1.1-Q1.3")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"spiral: best test loss": "best.spiral.test_loss", "datasets searched": "n_datasets"}
ESTIMATE_S = {"smoke": 20, "cpu": 600, "full": 2400}

ALL_FEATURES = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
DATASETS = ["circle", "xor", "gauss", "spiral", "plane", "multi-gaussian"]


class Config(ExperimentConfig):
    epochs: int = Field(400, ge=1, description="epochs per training run")
    seeds: int = Field(3, ge=1, description="seeds per configuration (mean and spread reported)")
    datasets: list[str] = Field(DATASETS, description="Q1.1: the data sets searched")
    noise: int = Field(0, ge=0, le=50, description="the data's noise (0-50)")
    candidates: list[dict[str, Any]] = Field(
        [{"features": f, "hidden": h, "activation": a}
         for f in (["x1", "x2"], ALL_FEATURES) for h in ([4], [8, 8], [8, 8, 8]) for a in ("tanh", "relu")],
        description="Q1.1: configurations tried on every data set (other keys: the playground's defaults)")
    learning_rates: list[float] = Field([0.001, 0.01, 0.03, 0.3, 3.0], description="Q1.2 (1)")
    activations: list[str] = Field(["relu", "tanh", "sigmoid", "linear"], description="Q1.2 (2)")
    depths: list[int] = Field([0, 1, 2, 4, 6], description="Q1.2 (3): hidden layers of 8")
    l2_rates: list[float] = Field([0.0, 0.001, 0.01, 0.1], description="Q1.2 (4): L2 rates")
    l1_rate: float = Field(0.003, ge=0, description="Q1.3: the L1 rate compared with none")
    prune_fractions: list[float] = Field([0.0, 0.25, 0.5, 0.75, 0.9], description="Q1.3: shares of the "
                                                                                  "smallest weights set to 0")
    workers: int | None = Field(None, ge=1, description="parallel processes (None: one per core of the budget)")


PRESETS = {
    "smoke": {"epochs": 15, "seeds": 1, "datasets": ["circle", "spiral"],
              "candidates": [{"features": ["x1", "x2"], "hidden": [4], "activation": "tanh"},
                             {"features": ALL_FEATURES, "hidden": [8, 8], "activation": "tanh"}],
              "learning_rates": [0.01, 0.3], "activations": ["relu", "tanh"], "depths": [0, 2], "l2_rates": [0, 0.01],
              "prune_fractions": [0.0, 0.5], "workers": 1},
    "cpu": {},
    "full": {"epochs": 1000, "seeds": 5, "noise": 10},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "best": ("best configuration per data set",
             "data set -> {config, val_loss, test_loss (mean over seeds, on freshly drawn points), test_loss_std}"),
    "n_datasets": ("data sets searched",
                   "data sets searched (Q1.1)"),
    "knobs": ("final test loss and convergence epoch per knob value",
              "knob -> value -> {final_test_loss, final_test_loss_std, convergence_epoch} (Q1.2, spiral)"),
    "weights": ("weights without and with L1",
                "{none, L1}: {median_abs_weight, share_below_0.01, test_loss} after training (Q1.3)"),
    "pruning": ("test loss of the pruned network per fraction pruned",
                "fraction pruned -> test loss of the pruned network (Q1.3)"),
    "smaller": ("test loss of a smaller network per width",
                "hidden layer width -> test loss of a smaller network trained from scratch (Q1.3)"),
}


def train_config(config: dict, epochs: int, fresh_test: bool = False, prune: list[float] | None = None) -> dict:
    """Train one playground configuration with the page's engine; its history, final losses, weights.

    The test loss of the returned record is on the engine's held-out split; with ``fresh_test`` also on a new
    draw of the same data set (the stream ("playground", "fresh") of the config's seed), never seen in the search.
    ``prune`` adds the test loss of the trained network with those shares of its smallest weights set to 0.
    """
    from dllab.playground.datasets import DATASETS as GEN
    from dllab.playground.engine import Playground, PlaygroundConfig
    from dllab.seeding import rng

    pg = Playground(PlaygroundConfig(**config))
    pg.step(epochs)
    out = {"history": pg.history, "final": pg.record(), "weights": [w.tolist() for w in pg.net.W],
           "config": pg.cfg.model_dump()}
    if fresh_test:
        gen, _, _, n = GEN[pg.cfg.dataset]
        x, y = gen(n, pg.cfg.noise / 100, rng(pg.cfg.seed, "playground", "fresh"))
        out["fresh_test_loss"] = pg.loss(x, y)
    if prune:
        out["pruned"] = _pruned_losses(pg, prune)
    return out


def _stage(rec, config: dict, epochs: int, fresh_test: bool = False, prune: list[float] | None = None) -> dict:
    """One training run as a stage (module level: it may run in a worker process)."""
    res = train_config(config, epochs, fresh_test, prune)
    test = [h["test_loss"] for h in res.pop("history")]
    res["test_curve"] = test
    res["convergence_epoch"] = convergence_epoch(test)
    return res


def convergence_epoch(test_losses: list[float]) -> int:
    """The first epoch (1-based) whose test loss is within 10% of the final one."""
    final = test_losses[-1]
    return next(i + 1 for i, v in enumerate(test_losses) if v <= 1.1 * final + 1e-12)


def _pruned_losses(pg, fractions: list[float]) -> dict:
    """Test loss of trained ``pg`` after setting the smallest-magnitude share of the weights to 0 (magnitude
    pruning); the weights are restored afterwards."""
    import numpy as np

    kept = [w.copy() for w in pg.net.W]
    flat = np.sort(np.abs(np.concatenate([w.ravel() for w in kept])))
    out = {}
    for f in fractions:
        cut = flat[int(f * (len(flat) - 1))] if f > 0 else -1.0
        for w, k in zip(pg.net.W, kept):
            w[...] = np.where(np.abs(k) <= cut, 0.0, k)
        out[f"{f:g}"] = pg.loss(*pg.test)
    for w, k in zip(pg.net.W, kept):
        w[...] = k
    return out


def _first_tasks(cfg: Config) -> tuple[dict[str, tuple], dict, dict]:
    """The first round's stages (Q1.1's search, Q1.2's knobs, Q1.3's weights), the base config and the knobs."""
    from dllab.seeding import int_seed

    base = {"noise": cfg.noise, "learning_rate": 0.03, "batch_size": 10}
    tasks: dict[str, tuple] = {}
    for ds in cfg.datasets:  # Q1.1: every candidate, chosen by the loss on the held-out (validation) split
        for i, c in enumerate(cfg.candidates):
            tasks[f"search_{ds}_{i}"] = (_stage, {"config": {**base, **c, "dataset": ds,
                                                             "seed": int_seed(cfg.seed, "search") % 2**31},
                                                  "epochs": cfg.epochs})
    spiral = {**base, "dataset": "spiral", "features": ALL_FEATURES, "hidden": [8, 8], "activation": "tanh"}
    knobs = {"learning rate": ("learning_rate", cfg.learning_rates), "activation": ("activation", cfg.activations),
             "hidden layers": ("hidden", [[8] * d for d in cfg.depths]),
             "L2 rate": ("regularization_rate", cfg.l2_rates)}
    for key, values in knobs.values():  # Q1.2: one knob at a time on the spiral, over seeds
        for v in values:
            extra = {"regularization": "L2"} if key == "regularization_rate" and v > 0 else {}
            for s in range(cfg.seeds):
                tasks[f"knob_{key}_{_tag(v)}_{s}"] = (_stage, {"config": {**spiral, key: v, **extra,
                                                                          "seed": _seed(cfg, s)},
                                                               "epochs": cfg.epochs})
    for name, extra in (("none", {}), ("L1", {"regularization": "L1", "regularization_rate": cfg.l1_rate})):
        tasks[f"weights_{name}"] = (_stage, {"config": {**spiral, **extra, "seed": _seed(cfg, 0)}, "epochs": cfg.epochs,
                                             "prune": cfg.prune_fractions})
    for width in (8, 4, 2):  # Q1.3: smaller networks trained from scratch
        tasks[f"smaller_{width}"] = (_stage, {"config": {**spiral, "hidden": [width, width], "seed": _seed(cfg, 0)},
                                              "epochs": cfg.epochs})
    return tasks, base, knobs


def STAGES(cfg: Config) -> list[str]:
    """The stages a run of ``cfg`` trains (for cost estimates): the first round, then the best over seeds."""
    return list(_first_tasks(cfg)[0]) + [f"best_{ds}_{s}" for ds in cfg.datasets for s in range(cfg.seeds)]


def run(cfg: Config, rec) -> dict:
    """Q1.1 search -> the best configurations over seeds; Q1.2 four knobs on the spiral; Q1.3 small weights."""

    tasks, base, knobs = _first_tasks(cfg)
    first = rec.map_stages(tasks, workers=cfg.workers)
    best = {}
    for ds in cfg.datasets:
        scores = {i: first[f"search_{ds}_{i}"]["final"]["test_loss"] for i in range(len(cfg.candidates))}
        best[ds] = min(scores, key=scores.get)
    repeats = rec.map_stages({f"best_{ds}_{s}": (_stage, {"config": {**base, **cfg.candidates[best[ds]],
                                                                     "dataset": ds, "seed": _seed(cfg, s)},
                                                          "epochs": cfg.epochs, "fresh_test": True})
                              for ds in cfg.datasets for s in range(cfg.seeds)}, workers=cfg.workers)
    return _report(cfg, rec, first, repeats, best, knobs)


def _seed(cfg: Config, s: int) -> int:
    from dllab.seeding import int_seed

    return int_seed(cfg.seed, "replicate", s) % 2**31


def _tag(v) -> str:
    return f"[{','.join(map(str, v))}]" if isinstance(v, list) else f"{v:g}" if isinstance(v, float) else str(v)


# -- the report, in the homework's question order ----------------------------------------------------------

def _report(cfg: Config, rec, first: dict, repeats: dict, best: dict, knobs: dict) -> dict:
    import numpy as np

    from dllab import plotting

    summary: dict[str, Any] = {"best": {}, "n_datasets": len(cfg.datasets), "knobs": {}, "weights": {},
                               "pruning": {}, "smaller": {}}
    rows = []
    for ds in cfg.datasets:
        runs = [repeats[f"best_{ds}_{s}"] for s in range(cfg.seeds)]
        fresh = [r["fresh_test_loss"] for r in runs]
        c = cfg.candidates[best[ds]]
        summary["best"][ds] = {"config": c, "val_loss": first[f"search_{ds}_{best[ds]}"]["final"]["test_loss"],
                               "test_loss": float(np.mean(fresh)), "test_loss_std": float(np.std(fresh))}
        rows.append({"data set": ds, "features": ", ".join(c["features"]), "hidden": str(c["hidden"]),
                     "activation": c["activation"], "validation loss": summary["best"][ds]["val_loss"],
                     f"fresh test loss (mean of {cfg.seeds})": float(np.mean(fresh))})
    rec.table("Q1.1: the best configuration per data set", rows,
              f"{len(cfg.candidates)} candidates per data set, {cfg.epochs} epochs, learning rate 0.03, batch 10, "
              "squared error on a tanh output (linear for regression). Chosen by the loss on the held-out split "
              "(validation); reported on freshly drawn points of the same distribution, mean over seeds.")
    if "spiral" in cfg.datasets:
        _figure_spiral(cfg, rec, repeats[f"best_spiral_{0}"])
    hard = max(summary["best"], key=lambda d: summary["best"][d]["test_loss"])
    rec.text("Reading: Q1.1", (
        f"Every data set is fitted with a small network; the hardest is {hard} (fresh test loss "
        f"{summary['best'][hard]['test_loss']:.3g}). "
        + " ".join(f"{ds}: {', '.join(b['config']['features'])} into {b['config']['hidden']} "
                   f"{b['config']['activation']} ({b['test_loss']:.3g})." for ds, b in summary["best"].items())
        + " Engineered features (squares, products, sines) make curved boundaries straight for the network, so "
          "fewer neurons suffice; without them depth has to build the curvature."))

    # Q1.2: four knobs on the spiral
    fig, axes = plotting.subplots(4, 2, width=3.6, height=3.0)
    findings = []
    for col, (knob, (key, values)) in enumerate(knobs.items()):
        per = {}
        for v in values:
            runs = [first[f"knob_{key}_{_tag(v)}_{s}"] for s in range(cfg.seeds)]
            finals = [r["final"]["test_loss"] for r in runs]
            per[_tag(v)] = {"final_test_loss": float(np.mean(finals)), "final_test_loss_std": float(np.std(finals)),
                            "convergence_epoch": float(np.mean([r["convergence_epoch"] for r in runs]))}
            axes[col].plot(np.arange(1, cfg.epochs + 1), np.mean([r["test_curve"] for r in runs], axis=0),
                           label=_tag(v))
        summary["knobs"][knob] = per
        axes[col].set(title=f"{knob}: test loss", xlabel="epoch", ylabel="test loss", yscale="log")
        axes[col].legend(fontsize=7)
        labels = list(per)
        axes[4 + col].bar(labels, [p["final_test_loss"] for p in per.values()],
                          yerr=[p["final_test_loss_std"] for p in per.values()], color="C0")
        ax2 = axes[4 + col].twinx()
        ax2.plot(labels, [p["convergence_epoch"] for p in per.values()], "o-", color="C3")
        ax2.set_ylabel("epochs to within 10% of final", color="C3")
        axes[4 + col].set(title=f"{knob}: final loss, speed", xlabel=knob, ylabel="final test loss")
        axes[4 + col].tick_params(axis="x", rotation=30)
        lo = min(per, key=lambda k: per[k]["final_test_loss"])
        fast = min(per, key=lambda k: per[k]["convergence_epoch"])
        findings.append(f"{knob}: the lowest final test loss at {lo} ({per[lo]['final_test_loss']:.3g}), the fastest "
                        f"convergence at {fast} ({per[fast]['convergence_epoch']:.0f} epochs); over "
                        + ", ".join(f"{k}: {p['final_test_loss']:.3g}" for k, p in per.items()) + ".")
    rec.figure(fig, "knobs", f"Q1.2 on the spiral (all features, hidden [8, 8] tanh, lr 0.03 unless varied), mean "
                             f"of {cfg.seeds} seeds. Convergence: the first epoch within 10% of the final test loss.")
    rec.text("Reading: Q1.2", " ".join(findings) + " " + _knob_reading(summary["knobs"]))

    # Q1.3: small weights, pruning, smaller networks
    fig, axes = plotting.subplots(3, width=4.2)
    for name in ("none", "L1"):
        r = first[f"weights_{name}"]
        w = np.abs(np.concatenate([np.ravel(x) for x in r["weights"]]))
        summary["weights"][name] = {"median_abs_weight": float(np.median(w)),
                                    "share_below_0.01": float(np.mean(w < 0.01)), "test_loss": r["final"]["test_loss"]}
        axes[0].hist(np.log10(w + 1e-6), bins=30, alpha=0.6, label=f"{name} regularisation")
        summary["pruning"][name] = r["pruned"]
        axes[1].plot([float(f) for f in r["pruned"]], list(r["pruned"].values()), "o-", label=name)
    axes[0].set(title="|weights| after training", xlabel="log10 |w|", ylabel="weights")
    axes[0].legend(fontsize=8)
    axes[1].set(title="pruning the smallest weights", xlabel="share of weights set to 0", ylabel="test loss",
                yscale="log")
    axes[1].legend(fontsize=8)
    widths = [8, 4, 2]
    summary["smaller"] = {str(w): first[f"smaller_{w}"]["final"]["test_loss"] for w in widths}
    axes[2].plot(widths, list(summary["smaller"].values()), "o-")
    axes[2].set(title="smaller networks from scratch", xlabel="neurons per hidden layer (2 layers)",
                ylabel="test loss", yscale="log")
    rec.figure(fig, "small_weights", f"Q1.3 on the spiral; L1 rate {cfg.l1_rate}. Pruning sets the given share of "
                                     "the smallest |w| to 0 without retraining.")
    rec.text("Reading: Q1.3", _weights_reading(summary))
    return summary


def _worse(value: float, best: float) -> bool:
    """Clearly worse: more than twice the best loss and at least 0.01 above it."""
    return value > 2 * best and value - best > 0.01


def _knob_reading(knobs: dict) -> str:
    """What the four sweeps show, in words chosen by the measured numbers."""
    out = []
    for knob, per in knobs.items():
        losses = {k: v["final_test_loss"] for k, v in per.items()}
        best = min(losses.values())
        bad = [k for k, v in losses.items() if _worse(v, best)]
        good = [k for k, v in losses.items() if not _worse(v, best)]
        if bad:
            out.append(f"For the {knob}, {', '.join(bad)} end clearly worse (over twice the best loss), while "
                       f"{', '.join(good)} reach within a factor 2 of it.")
        else:
            out.append(f"Every value of the {knob} tried ends within a factor 2 of the best loss.")
    return " ".join(out)


def _weights_reading(summary: dict) -> str:
    """Q1.3 from the numbers: how many weights are small, what pruning them costs, what smaller networks give."""
    wn, wl = summary["weights"]["none"], summary["weights"]["L1"]
    parts = [f"After training, {100 * wn['share_below_0.01']:.0f}% of the weights are below 0.01 without "
             f"regularisation and {100 * wl['share_below_0.01']:.0f}% with L1 (median |w| "
             f"{wn['median_abs_weight']:.3g} vs {wl['median_abs_weight']:.3g})."]
    for name, curve in summary["pruning"].items():
        base = curve["0"]
        safe = max(float(f) for f, v in curve.items() if not _worse(v, base))
        most = max(float(f) for f in curve)
        tail = f"; at {100 * most:.0f}% it is {curve[f'{most:g}']:.3g}." if safe < most else "."
        parts.append(f"Pruning the {'unregularised' if name == 'none' else 'L1-trained'} network: up to "
                     f"{100 * safe:.0f}% of its smallest weights can be set to 0 with the test loss staying "
                     f"within a factor 2 of {base:.3g}{tail}")
    parts.append("Smaller networks trained from scratch: " + ", ".join(
        f"width {w}: {v:.3g}" for w, v in summary["smaller"].items()) + ".")
    none_safe, l1_safe = (max(float(f) for f, v in summary["pruning"][k].items()
                              if not _worse(v, summary["pruning"][k]["0"])) for k in ("none", "L1"))
    if l1_safe > none_safe:
        parts.append(f"Small weights can be removed where L1 made them small on purpose ({100 * l1_safe:.0f}% "
                     f"prunable vs {100 * none_safe:.0f}% without it): without L1, small is not the same as "
                     "unimportant.")
    else:
        parts.append(f"Here L1 does not make the network easier to prune ({100 * l1_safe:.0f}% prunable with it, "
                     f"{100 * none_safe:.0f}% without).")
    return " ".join(parts)


def _figure_spiral(cfg: Config, rec, run: dict) -> None:
    """Like the homework's Figure 1: the decision heatmap with the points, the network, the loss curve."""
    import numpy as np

    from dllab import plotting
    from dllab.playground.engine import Playground, PlaygroundConfig

    pg = Playground(PlaygroundConfig(**run["config"]))
    for layer, w in enumerate(run["weights"]):
        pg.net.W[layer][...] = np.array(w)
    fig, axes = plotting.subplots(3, width=4.2, height=4.0)
    grid = pg.grid(200)
    axes[0].imshow(pg.predict(grid).reshape(200, 200), extent=(-6, 6, -6, 6), cmap="RdBu", vmin=-1, vmax=1)
    x, y = pg.train
    axes[0].scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu", vmin=-1.5, vmax=1.5, edgecolors="white", s=14)
    axes[0].set(title="spiral: the best network's output", xlabel="x1", ylabel="x2")
    axes[0].grid(False)
    sizes = [len(pg.features), *pg.cfg.hidden, 1]
    ys = [np.linspace(0, 1, n) if n > 1 else np.array([0.5]) for n in sizes]
    for layer, w in enumerate(pg.net.W):
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                axes[1].plot([layer, layer + 1], [ys[layer][i], ys[layer + 1][j]], color="C1" if w[i, j] < 0 else "C0",
                             lw=min(4, 0.3 + 1.5 * abs(w[i, j])), alpha=0.6)
    for layer, n in enumerate(sizes):
        axes[1].scatter([layer] * n, ys[layer], s=60, color="white", edgecolors="black", zorder=3)
    for i, f in enumerate(pg.features):
        axes[1].text(-0.1, ys[0][i], f, ha="right", va="center", fontsize=7)
    axes[1].set(title="the network (blue +, orange -)", xticks=range(len(sizes)),
                xticklabels=["features", *[f"hidden {i + 1}" for i in range(len(pg.cfg.hidden))], "out"])
    axes[1].set_yticks([])
    axes[1].grid(False)
    axes[2].plot(np.arange(1, len(run["test_curve"]) + 1), run["test_curve"], label="test")
    axes[2].set(title="test loss per epoch", xlabel="epoch", ylabel="loss (0.5 (out - y)^2)", yscale="log")
    rec.figure(fig, "spiral", f"The best spiral configuration (seed {pg.cfg.seed}): fresh test loss "
                              f"{run['fresh_test_loss']:.3g}.")
