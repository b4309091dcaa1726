"""cifar-study's report: per question a figure, a table and the finding (:mod:`._study_findings`), in the
homework's order. Each function takes the question's points (``{key: point}``) and returns (summary, finding)."""

from __future__ import annotations

import numpy as np

from dllab import plotting
from dllab.experiments import _study_findings as F


def _pct(x: float) -> float:
    return round(100 * x, 2)


def _row(p: dict) -> dict:
    """A point's columns for a table: accuracies in percent, the seeds' spread, what broke."""
    return {"val acc (%)": _pct(p["val"]), "± std": _pct(p["val_std"]), "test acc (%)": _pct(p["test"]),
            "after epoch 1 (%)": _pct(p["first"]), "time (s)": round(p["time_s"], 1),
            "diverged / failed": f"{p['diverged']} / {p['failed']}" if p["diverged"] + p["failed"] else ""}


def _finding(rec, title: str, text: str) -> None:
    rec.text(f"Finding: {title}", text)


def protocol(cfg, rec, base: dict, precision: dict, runs: int, seeds: int) -> None:
    from dllab import data
    from dllab.environment import describe_cpu

    ds = data.load("cifar10")
    times = precision["step_times"]
    bf16_time = f"bf16 {times['bf16']:.3f} s" if "bf16" in times else "bf16 not timed: no bf16 units"
    how = (f"bf16 autocast {'on' if precision['bf16'] else 'off'}, timed at start-up (fp32 {times['fp32']:.3f} s, "
           f"{bf16_time} per step)" if times else f"{cfg.precision} (set by the config)")
    reduced = [] if cfg.width == 64 else [f"width c = {cfg.width} instead of the homework's 64"]
    reduced += [] if base["n"] >= 45000 else [f"{base['n']:,} training images instead of 50,000"]
    reduced += [] if base["epochs"] >= 20 else [f"{base['epochs']} epochs instead of 20"]
    rec.text("Protocol", (
        f"{ds.describe()}. {cfg.val_size:,} of the 50,000 training images are held out at random (seed "
        f"{cfg.seed}) as the validation set on which every 'best' is chosen; cells train on the first n of the "
        f"rest and are scored on {cfg.n_test or 10000:,} official test images once, after training. The base cell "
        f"is the homework's recipe: Myrtle-5 width {base['width']}, batch norm, {base['init']} initialisation, "
        f"plain SGD lr {base['lr']:g}, batch {base['batch']}, {base['schedule']} schedule, {base['epochs']} epochs, "
        "no augmentation, inputs in [0, 1]; each question varies one or two of its knobs. Every cell runs with "
        f"{seeds} seed(s) ({runs} training runs in all, each a stage of its own); a seed fixes the initial weights "
        "and the batch order, the same for every cell, so cells differ only by their knobs. A run whose loss "
        "becomes non-finite is recorded as diverged (accuracy counted as chance, 10%); one that ends at or below "
        f"{100 * cfg.trained_above:.0f}% validation accuracy as failed. Error bars: one standard deviation over "
        f"seeds. {describe_cpu()}; {how}."
        + (f" Reduced for the 2-core budget: {'; '.join(reduced)}." if reduced else "")))


def model(cfg, rec, points, cells):
    numbers, text, timing = F.model(points, cfg.width)
    wide = sorted((k, p) for k, p in points.items() if k[1] == 1)
    deep = sorted((k, p) for k, p in points.items() if k[0] == cfg.width and k[1] > 1)
    fig, (a1, a2) = plotting.subplots(ncols=2, width=5.2)
    for label, rows in (("width c (1 conv per group)", wide), (f"depth at c = {cfg.width}", deep)):
        if rows:
            a1.errorbar([p["parameters"] for _, p in rows], [100 * p["val"] for _, p in rows],
                        yerr=[100 * p["val_std"] for _, p in rows], fmt="o-", capsize=3, label=label)
            a2.plot([p["parameters"] for _, p in rows], [p["time_s"] for _, p in rows], "o-", label=label)
            for (w, d), p in rows:
                a1.annotate(f"c={w}" if d == 1 else f"{d} convs", (p["parameters"], 100 * p["val"]), fontsize=7,
                            xytext=(3, -10), textcoords="offset points")
    a1.set(xscale="log", title="Validation accuracy against size", xlabel="parameters",
           ylabel="validation accuracy (%)")
    a2.set(xscale="log", yscale="log", title="Time per run against size", xlabel="parameters",
           ylabel="seconds per run")
    a1.legend(fontsize=8)
    rec.figure(fig, "model", "Myrtle-5 at each width c, and with more convs per pooled group at the study's width.")
    rec.table("Model definition", [{"width c": w, "convs per group": d, "parameters": p["parameters"], **_row(p)}
                                   for (w, d), p in sorted(points.items())])
    _finding(rec, "the model definition", f"{text} {timing}".strip())
    return numbers, text, timing


def batch_lr(cfg, rec, points, cells):
    numbers, text = F.batch_lr(points, cfg.trained_above)
    batches = sorted({b for b, _ in points})
    lrs = sorted({lr for _, lr in points})
    fig, (a1, a2) = plotting.subplots(ncols=2, width=5.2)
    for b in batches:
        ps = [points[(b, lr)] for lr in lrs]
        line = a1.errorbar(lrs, [100 * p["val"] for p in ps], yerr=[100 * p["val_std"] for p in ps], fmt="o-",
                           capsize=3, label=f"batch {b}")
        bad = [(lr, p) for lr, p in zip(lrs, ps) if F.broken(p)]
        a1.plot([lr for lr, _ in bad], [100 * p["val"] for _, p in bad], "x", ms=10, mew=2,
                color=line[0].get_color())
    a1.axhline(100 * F.CHANCE, color="gray", ls=":", lw=1)
    a1.set(xscale="log", title="Validation accuracy (x: diverged or failed)", xlabel="learning rate",
           ylabel="validation accuracy (%)")
    plotting.plain_log_ticks(a1, x=lrs)
    a1.legend(fontsize=8)
    best = [numbers["best_lr"][b] for b in batches]
    a2.plot(batches, best, "o-", label="best lr (validation)")
    k = numbers["scaling_exponent"]
    if k is not None:
        ref = best[0] * (np.array(batches) / batches[0])
        a2.plot(batches, ref, "--", color="gray", label="linear scaling from the smallest batch")
    a2.set(xscale="log", yscale="log", title=f"Best learning rate against batch (k = {k + 0.0:.2f})"
           if k is not None else "Best learning rate", xlabel="batch size", ylabel="learning rate")
    plotting.plain_log_ticks(a2, x=batches)
    a2.legend(fontsize=8)
    rec.figure(fig, "batch_lr", "Each batch size over the learning-rate grid (same epochs, so fewer steps for "
                                "larger batches); right: the interpolated best rate.")
    rec.table("Batch size x learning rate",
              [{"batch": b, "lr": lr, **_row(p)} for (b, lr), p in sorted(points.items())])
    _finding(rec, "batch size and learning rate", text)
    return numbers, text


def schedules(cfg, rec, points, cells):
    numbers, text = F.schedules(points, cfg.train.epochs)
    names = list(dict.fromkeys(s for s, _ in points))
    fig, (a1, a2) = plotting.subplots(ncols=2, width=5.2)
    x = np.arange(len(names))
    for i, (wu, label) in enumerate(((0.0, "no warm-up"), (cfg.warmup_epochs, f"{cfg.warmup_epochs:g}-epoch warm-up"))):
        ps = [points.get((s, wu)) for s in names]
        a1.bar(x + (i - 0.5) * 0.38, [100 * p["val"] if p else 0 for p in ps], 0.38,
               yerr=[100 * p["val_std"] if p else 0 for p in ps], capsize=3, label=label)
    lo = min(100 * p["val"] for p in points.values())
    a1.set_ylim(max(0, lo - 10), None)
    a1.set_xticks(x, names)
    a1.set(title="Validation accuracy after training", ylabel="validation accuracy (%)")
    a1.legend(fontsize=8)
    for key, p in points.items():
        if p["curve"]:
            a2.plot(range(1, len(p["curve"]) + 1), [100 * v for v in p["curve"]], "o-" if key[1] else "o--", ms=3,
                    label=F.schedule_label(*key))
    plotting.epoch_axis(a2)
    a2.set(title="Validation accuracy per epoch (mean of seeds)", ylabel="validation accuracy (%)")
    a2.legend(fontsize=7)
    peak = next(iter(cells.values()))["lr"]
    rec.figure(fig, "schedules", f"The same budget ({cfg.train.epochs} epochs, peak lr {peak:g}) under each "
                                 f"schedule; step multiplies the rate by {cfg.train.step_gamma:g} at {cfg.step_at:.0%} "
                                 "of the epochs; dashed: no warm-up.")
    rec.table("Learning-rate schedules", [{"schedule": F.schedule_label(*k), **_row(p)} for k, p in points.items()])
    _finding(rec, "the learning-rate schedule", text)
    return numbers, text


def data(cfg, rec, points, cells):
    numbers, text = F.data(points)
    ns = sorted(k[0] for k in points)
    err = np.array([100 * (1 - points[(n,)]["test"]) for n in ns])
    fig, ax = plotting.subplots(width=6)
    ax.errorbar(ns, err, yerr=[100 * points[(n,)]["test_std"] for n in ns], fmt="o", capsize=3, label="measured")
    if numbers["slope"] is not None:
        slope = numbers["slope"]
        fit = np.exp(np.polyval(np.polyfit(np.log(ns), np.log(err), 1), np.log(ns)))
        ax.plot(ns, fit, "--", label=f"fit: error ~ n^{slope:.2f}")
    ax.set(xscale="log", yscale="log", title="Test error against training images", xlabel="training images n",
           ylabel="test error (%)")
    plotting.plain_log_ticks(ax, x=ns)
    ax.legend(fontsize=8)
    rec.figure(fig, "data_scaling", "Log-log axes: a straight line is a power law. Sets smaller than the default "
                                    "size train for more epochs, so that every size gets at least the default's "
                                    "number of steps.")
    rec.table("Number of training images", [{"n": n, "epochs": cells[(n,)]["epochs"], **_row(points[(n,)])}
                                            for n in ns])
    _finding(rec, "the number of training images", text)
    return numbers, text


def optimizers(cfg, rec, points, cells):
    numbers, text = F.optimizers(points)
    names = list(dict.fromkeys(o for o, _ in points))
    fig, ax = plotting.subplots(width=6.5)
    series = {}
    for name in names:
        lrs = sorted(lr for o, lr in points if o == name)
        series[name] = (lrs, [100 * points[(name, lr)]["val"] for lr in lrs],
                        [100 * points[(name, lr)]["val_std"] for lr in lrs])
    plotting.error_bars(ax, series, title="Each optimiser over its learning-rate grid", xlabel="learning rate",
                        ylabel="validation accuracy (%)", logx=True)
    rec.figure(fig, "optimizers", "SGD, heavy-ball momentum 0.9, Nesterov 0.9, Adam and AdamW (weight decay "
                                  f"{cfg.adamw_weight_decay:g}), each over its own grid; the best point of each is its "
                                  "tuned rate.")
    rec.table("Optimisers", [{"optimizer": o, "lr": lr, **_row(p)} for (o, lr), p in points.items()])
    _finding(rec, "the optimiser", text)
    return numbers, text


def batch_norm(cfg, rec, points, cells):
    base_init = cfg.init if cfg.init_scale == 1 else f"{cfg.init}*{cfg.init_scale:g}"
    numbers, text = F.batch_norm(points, base_init, cfg.usable_fraction)
    lrs, inits = cfg.lrs, cfg.inits
    fig, axes = plotting.subplots(ncols=2, width=5.4, height=0.42 * len(inits) + 1.6)
    for ax, bn in zip(axes, (True, False)):
        ps = [[points[("init", bn, i, lr)] for lr in lrs] for i in inits]
        plotting.heatmap(ax, [[100 * p["val"] for p in row] for row in ps], inits, [f"{lr:g}" for lr in lrs],
                         title=f"{'With' if bn else 'Without'} batch norm: validation accuracy (%)",
                         xlabel="learning rate", ylabel="initialisation", vmin=100 * F.CHANCE,
                         marks=np.array([[F.status(p) for p in row] for row in ps]), vmax=None)
    rec.figure(fig, "batch_norm_grid", f"Width c = {cfg.width}, mean of seeds; grey cells diverged (a non-finite "
                                       f"loss) or failed (at most {100 * cfg.trained_above:.0f}%).")
    fig, (a1, a2) = plotting.subplots(ncols=2, width=5.2)
    shown = F.shown_init(points, base_init)
    arms = {"with BN": {lr: points[("init", True, shown, lr)] for lr in lrs},
            f"without BN (c = {cfg.width})": {lr: points[("init", False, shown, lr)] for lr in lrs}}
    arms["without BN, warm-up"] = {lr: points[("warmup", lr)] for lr in lrs}
    for w in (w for w in cfg.bn_widths if w != cfg.width):  # the study's own width is the line above
        arms[f"without BN, c = {w}"] = {lr: points[("width", w, lr)] for lr in lrs}
    for label, curve in arms.items():
        a1.plot(lrs, [100 * curve[lr]["val"] for lr in lrs], "o-", ms=4, label=label)
        a2.plot(lrs, [100 * curve[lr]["first"] for lr in lrs], "o-", ms=4, label=label)
    for ax, what in ((a1, "after training"), (a2, "after one epoch")):
        ax.axhline(100 * F.CHANCE, color="gray", ls=":", lw=1)
        ax.set(xscale="log", title=f"Validation accuracy {what}", xlabel="learning rate",
               ylabel="validation accuracy (%)")
        plotting.plain_log_ticks(ax, x=lrs)
    a1.legend(fontsize=7)
    rec.figure(fig, "batch_norm_lr", f"The learning-rate range with and without batch norm ({base_init} "
                                     f"initialisation), with a {cfg.warmup_epochs:g}-epoch warm-up, and at two widths.")
    rec.table("Predictions about training without batch norm", [
        {"prediction": p["claim"], "verdict": p["verdict"], "evidence": p["evidence"]}
        for p in numbers["predictions"]])
    rec.table("Batch norm cells", [{"cell": " ".join(str(x) for x in k[:-1]), "lr": k[-1], **_row(p)}
                                   for k, p in points.items()])
    _finding(rec, "training without batch norm", text)
    return numbers, text
