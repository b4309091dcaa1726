"""cifar-study's readings: from the measured points of each question to numbers and a written finding.

Pure functions of plain data (no torch, no files), so that a test can feed two result sets and watch the words
follow the numbers. A *point* is one cell's results over its seeds (:func:`point`); accuracies are fractions,
the text gives them in percent.
"""

from __future__ import annotations

import math

import numpy as np

from dllab.stats import describe

CHANCE = 0.1  # CIFAR-10's ten classes: what a network that predicts nothing scores


def point(runs: list[dict], trained_above: float) -> dict:
    """One cell's runs (one per seed) as means, standard deviations and counts of the runs that diverged (a
    non-finite loss) or failed (finite, but validation accuracy not above ``trained_above``)."""
    val, test = describe([r["val_acc"] for r in runs]), describe([r["test_acc"] for r in runs])
    whole = [r["curve"] for r in runs if r["diverged"] is None]
    length = min((len(c) for c in whole), default=0)
    return {"val": val["mean"], "val_std": val["std"], "test": test["mean"], "test_std": test["std"],
            "first": float(np.mean([r["first_epoch_val_acc"] for r in runs])),
            "time_s": float(np.mean([r["time_s"] for r in runs])), "parameters": runs[0]["parameters"],
            "diverged": sum(r["diverged"] is not None for r in runs),
            "failed": sum(r["diverged"] is None and r["val_acc"] <= trained_above for r in runs),
            "seeds": len(runs), "curve": np.mean([c[:length] for c in whole], axis=0).tolist() if whole else []}


def broken(p: dict) -> bool:
    """Most of the cell's seeds diverged or failed to train."""
    return p["diverged"] + p["failed"] > p["seeds"] / 2


def status(p: dict) -> str:
    """'diverged', 'failed' or '' (trained), by what most seeds did."""
    if not broken(p):
        return ""
    return "diverged" if p["diverged"] >= p["failed"] else "failed"


def eligible(curve: dict) -> dict:
    """The points that may be chosen as best: those that trained (all of them when none did). A diverged run's
    chance-level score must never win over a run that trained badly."""
    return {k: p for k, p in curve.items() if not broken(p)} or curve


def noise(points: dict) -> float:
    """The typical spread between seeds of a question's cells: the median standard deviation of the validation
    accuracy over cells with more than one seed (0 with one seed: no error bars)."""
    stds = [p["val_std"] for p in points.values() if p["seeds"] > 1]
    return float(np.median(stds)) if stds else 0.0


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def lr_text(lr: float) -> str:
    return f"{lr:.3g}"


def noise_text(n: float, seeds: int) -> str:
    if seeds < 2:
        return "One seed per cell: no error bars, so differences of a point or two may be noise."
    return f"Seeds differ by {100 * n:.1f} points (median std), so smaller differences are not resolved."


def best_lr(curve: dict[float, float]) -> tuple[float, bool]:
    """(the learning rate with the highest accuracy, interpolated by a parabola in log lr through the best grid
    point and its neighbours; whether the best grid point is at the grid's edge, where the optimum may lie beyond)."""
    lrs = sorted(curve)
    acc = [curve[lr] for lr in lrs]
    j = int(np.argmax(acc))
    if j in (0, len(lrs) - 1):
        return lrs[j], True
    x = np.log(lrs[j - 1:j + 2])
    a, b, _ = np.polyfit(x, acc[j - 1:j + 2], 2)
    if a >= 0:
        return lrs[j], False
    return float(np.exp(np.clip(-b / (2 * a), x[0], x[2]))), False


def fit_line(x, y) -> tuple[float, float, float]:
    """(slope, intercept, R^2) of the least-squares line through (x, y)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    total = float(((y - y.mean()) ** 2).sum())
    return float(slope), float(intercept), 1 - float((resid ** 2).sum()) / total if total > 0 else 1.0


def octaves(lrs: list[float]) -> float:
    return math.log2(max(lrs) / min(lrs)) if lrs else 0.0


def range_text(lrs: list[float]) -> str:
    if not lrs:
        return "none"
    if len(lrs) == 1:
        return f"only {lr_text(lrs[0])}"
    return f"{lr_text(min(lrs))}-{lr_text(max(lrs))} ({octaves(lrs):.0f} octaves)"


# -- the questions, in the homework's order --------------------------------------------------------------------

def model(points: dict[tuple[int, int], dict], width: int) -> tuple[dict, str, str]:
    """Width c (convs 1) and depth (convs per group at ``width``): accuracy, then time, against parameters.
    Returns (numbers, the accuracy finding, the timing finding): wall times differ between any two runs, so they
    are kept out of the finding that a re-run must reproduce."""
    wide = sorted(((k, p) for k, p in points.items() if k[1] == 1), key=lambda kp: kp[1]["parameters"])
    rows = [{"width": w, "convs": d, "parameters": p["parameters"], "val_accuracy": p["val"],
             "test_accuracy": p["test"], "time_s": p["time_s"]} for (w, d), p in sorted(points.items())]
    numbers: dict = {"rows": rows, "points_per_doubling": None, "time_exponent": None}
    (w0, _), p0 = wide[0]
    (w1, _), p1 = wide[-1]
    text, timing = "", ""
    if len(wide) >= 2:
        params = [p["parameters"] for _, p in wide]
        ppd = fit_line(np.log2(params), [100 * p["val"] for _, p in wide])[0]
        te = fit_line(np.log(params), np.log([max(p["time_s"], 1e-9) for _, p in wide]))[0]
        numbers.update(points_per_doubling=round(ppd, 3), time_exponent=round(te, 3))
        verb = "rises" if p1["val"] > p0["val"] else "falls" if p1["val"] < p0["val"] else "stays"
        text = (f"Validation accuracy {verb} from {pct(p0['val'])} at c = {w0} ({p0['parameters']:,} parameters) to "
                f"{pct(p1['val'])} at c = {w1} ({p1['parameters']:,}): {ppd:+.1f} points per doubling of the "
                f"parameters (least squares over {len(wide)} widths).")
        timing = (f"The time per run scales as parameters^{te:.2f} over the widths ({p0['time_s']:.0f} s at c = "
                  f"{w0}, {p1['time_s']:.0f} s at c = {w1}).")
    deep = sorted((k[1], p) for k, p in points.items() if k[0] == width and k[1] > 1)
    ref = points.get((width, 1))
    if deep and ref:
        text += " Deeper at c = {}: {}.".format(width, "; ".join(
            f"{d} convs per group ({p['parameters']:,} parameters) {100 * (p['val'] - ref['val']):+.1f} points"
            for d, p in deep))
        timing += " Deeper at c = {}: {}.".format(width, "; ".join(
            f"{d} convs per group {p['time_s'] / max(ref['time_s'], 1e-9):.1f}x the time" for d, p in deep))
        per_param = [(d, p) for d, p in deep if any(q["parameters"] >= p["parameters"] for _, q in wide)]
        for d, p in per_param[:1]:
            match = min((q for _, q in wide if q["parameters"] >= p["parameters"]), key=lambda q: q["parameters"])
            better = "deeper" if p["val"] > match["val"] else "wider"
            text += (f" Against the next wider network with at least as many parameters ({match['parameters']:,}: "
                     f"{pct(match['val'])}), {d} convs per group reach {pct(p['val'])}: here the {better} network "
                     "uses its parameters better.")
    return numbers, text.strip(), timing.strip()


def batch_lr(points: dict[tuple[int, float], dict], trained_above: float) -> tuple[dict, str]:
    """Best learning rate per batch size, its scaling exponent, and where training breaks."""
    batches = sorted({b for b, _ in points})
    best, edge, breaks, top = {}, [], {}, {}
    for b in batches:
        curve = {lr: p for (bb, lr), p in points.items() if bb == b}
        ok = eligible(curve)
        best[b], at_edge = best_lr({lr: p["val"] for lr, p in ok.items()})
        top[b] = max(p["val"] for p in ok.values())
        if at_edge:
            edge.append(b)
        grid_best = max(ok, key=lambda lr: ok[lr]["val"])
        breaks[b] = min((lr for lr, p in curve.items() if lr > grid_best and broken(p)), default=None)
    numbers: dict = {"best_lr": {b: best[b] for b in batches}, "scaling_exponent": None,
                     "breaks_at": {b: breaks[b] for b in batches}}
    text = ("Best learning rate on validation (interpolated between grid points): "
            + ", ".join(f"{lr_text(best[b])} at batch {b}" for b in batches) + ".")
    if len(batches) >= 2:
        k = round(fit_line(np.log(batches), np.log([best[b] for b in batches]))[0], 6) + 0.0  # never -0.00
        numbers["scaling_exponent"] = round(k, 3) + 0.0
        rules = {"the linear scaling rule (k = 1)": 1.0, "the square-root rule (k = 0.5)": 0.5,
                 "no scaling (k = 0)": 0.0}
        closest = min(rules, key=lambda r: abs(rules[r] - k))
        verb = "grows" if k > 0.15 else "shrinks" if k < -0.15 else "barely changes"
        text += (f" It {verb} with the batch: best lr ~ batch^k with k = {k:.2f} (least squares over "
                 f"{len(batches)} batch sizes), closest to {closest}.")
    if edge:
        text += (f" At batch {', '.join(map(str, edge))} the best rate is at the grid's edge: the optimum may lie "
                 "beyond it, so k is uncertain there.")
    lrs = sorted({lr for _, lr in points})
    broke = [b for b in batches if breaks[b] is not None]
    if broke:
        text += (" Training breaks (diverges, or stays at or below " f"{pct(trained_above)} validation accuracy) from "
                 + ", ".join(f"lr {lr_text(breaks[b])} at batch {b}" for b in broke) + ".")
        calm = [b for b in batches if breaks[b] is None]
        if calm:
            text += f" At batch {', '.join(map(str, calm))} no rate of the grid (up to {lr_text(lrs[-1])}) broke it."
        limits = [breaks[b] if breaks[b] is not None else math.inf for b in batches]
        if all(x <= y for x, y in zip(limits, limits[1:])) and limits[0] < limits[-1]:
            text += " Larger batches tolerate larger steps, as their gradients are less noisy."
    else:
        text += f" No rate of the grid (up to {lr_text(lrs[-1])}) broke training at any batch size."
    accs = [top[b] for b in batches]
    if len(batches) >= 2:
        trend = ("falls" if all(x > y for x, y in zip(accs, accs[1:])) else
                 "rises" if all(x < y for x, y in zip(accs, accs[1:])) else "varies")
        text += (f" The best accuracy {trend} with the batch ({', '.join(pct(a) for a in accs)})"
                 + (": at a fixed number of epochs a larger batch takes fewer steps." if trend == "falls" else "."))
    return numbers, text


def schedule_label(schedule: str, warmup: float) -> str:
    if warmup and schedule == "linear":
        return "linear + warm-up (one-cycle)"
    return f"{schedule} + warm-up" if warmup else schedule


def schedules(points: dict[tuple[str, float], dict], epochs: int) -> tuple[dict, str]:
    """Schedules ranked at a fixed budget; the gain of decaying the rate and of warm-up."""
    labels = {k: schedule_label(*k) for k in points}
    ranked = sorted(points, key=lambda k: -points[k]["val"])
    numbers = {"val_accuracy": {labels[k]: points[k]["val"] for k in points}, "best": labels[ranked[0]]}
    text = (f"Ranked by validation accuracy at a fixed budget of {epochs} epochs: "
            + "; ".join(f"{labels[k]} {pct(points[k]['val'])}" for k in ranked) + ".")
    base = points.get(("constant", 0.0))
    decaying = [k for k in points if k[0] != "constant"]
    if base and decaying:
        gains = [100 * (points[k]["val"] - base["val"]) for k in decaying]
        text += (f" Against the homework's constant rate ({pct(base['val'])}), the decaying schedules change "
                 f"accuracy by {min(gains):+.1f} to {max(gains):+.1f} points"
                 + (": decaying the rate pays." if min(gains) > 0 else
                    ": no decaying schedule beats it." if max(gains) <= 0 else "."))
    warm = [(s, points[(s, w)]["val"] - points[(s, 0.0)]["val"]) for s, w in points if w and (s, 0.0) in points]
    if warm:
        text += " Warm-up changes it by " + ", ".join(f"{100 * d:+.1f} ({s})" for s, d in warm) + " points."
    return numbers, text + " " + noise_text(noise(points), min(p["seeds"] for p in points.values()))


def data(points: dict[tuple[int], dict]) -> tuple[dict, str]:
    """Test error against the number of training images on log-log axes, and its fitted slope."""
    ns = sorted(k[0] for k in points)
    err = [1 - points[(n,)]["test"] for n in ns]
    numbers: dict = {"test_error": {n: e for n, e in zip(ns, err)}, "slope": None, "r2": None}
    verb = "falls" if err[-1] < err[0] else "rises" if err[-1] > err[0] else "stays"
    text = f"Test error {verb} from {pct(err[0])} with {ns[0]:,} images to {pct(err[-1])} with {ns[-1]:,}"
    if len(ns) < 2:
        return numbers, text + "."
    slope, _, r2 = fit_line(np.log(ns), np.log(np.maximum(err, 1e-6)))
    numbers.update(slope=round(slope, 3), r2=round(r2, 3))  # figures a reader compares, not raw floats
    text += (f": error ~ n^{slope:.2f} (least squares on log-log axes over {len(ns)} sizes, R^2 {r2:.2f}), so each "
             f"doubling of the data multiplies the error by {2 ** slope:.2f}.")
    if slope >= 0:
        text += " More data did not lower the test error at this budget."
    elif len(ns) >= 3:
        local = math.log(err[-1] / err[-2]) / math.log(ns[-1] / ns[-2])
        if abs(local) < 0.5 * abs(slope):
            text += (f" The last step gains less (local slope {local:.2f}): the curve flattens at this model size "
                     "and budget.")
        elif abs(local) > 1.5 * abs(slope):
            text += f" The last step falls faster than the fit (local slope {local:.2f}): no sign of saturation yet."
        else:
            text += f" The last step follows the line (local slope {local:.2f}): no sign of saturation yet."
    return numbers, text


def optimizers(points: dict[tuple[str, float], dict], momentum: float = 0.9) -> tuple[dict, str]:
    """Each optimiser at its own tuned learning rate (chosen on validation), ranked."""
    names = list(dict.fromkeys(k[0] for k in points))
    tuned, edges = {}, []
    for name in names:
        curve = {lr: p for (o, lr), p in points.items() if o == name}
        ok = eligible(curve)
        lr = max(ok, key=lambda x: ok[x]["val"])
        tuned[name] = {"lr": lr, "val_accuracy": curve[lr]["val"], "test_accuracy": curve[lr]["test"]}
        if len(curve) > 1 and lr in (min(curve), max(curve)):
            edges.append(name)
    ranked = sorted(names, key=lambda n: -tuned[n]["val_accuracy"])
    text = ("At its own tuned learning rate (chosen on validation): "
            + "; ".join(f"{n} {pct(tuned[n]['val_accuracy'])} at lr {lr_text(tuned[n]['lr'])} (test "
                        f"{pct(tuned[n]['test_accuracy'])})" for n in ranked) + ".")
    if len(ranked) > 1:
        gap = 100 * (tuned[ranked[0]]["val_accuracy"] - tuned[ranked[-1]]["val_accuracy"])
        text += f" {ranked[0]} is best, {gap:.1f} points above {ranked[-1]}."
    if "sgd" in tuned and "momentum" in tuned:
        ratio = tuned["sgd"]["lr"] / tuned["momentum"]["lr"]
        expected = 1 / (1 - momentum)
        agree = "agrees with that" if expected / 3 <= ratio <= expected * 3 else "does not follow that"
        text += (f" Plain SGD's tuned rate is {ratio:.3g}x momentum's: momentum {momentum:g} multiplies the "
                 f"effective step by 1/(1 - {momentum:g}) = {expected:.3g}, and the measured ratio {agree}.")
    if edges:
        text += f" The best rate of {', '.join(edges)} is at its grid's edge: the tuned value may lie beyond it."
    return tuned, text + " " + noise_text(noise(points), min(p["seeds"] for p in points.values()))


# -- batch norm removed: the predictions, each tested against the numbers --------------------------------------

def _usable(curve: dict[float, dict], fraction: float, best: float | None = None) -> list[float]:
    """Learning rates that train and reach ``fraction`` of the best validation accuracy (the curve's own best
    unless ``best`` is given)."""
    best = max(p["val"] for p in eligible(curve).values()) if best is None else best
    return sorted(lr for lr, p in curve.items() if not broken(p) and p["val"] >= fraction * best)


def _trains(curve: dict[float, dict]) -> set[float]:
    return {lr for lr, p in curve.items() if not broken(p)}


def _verdict(difference: float, margin: float) -> str:
    """'supported' if ``difference`` (the prediction's direction positive) exceeds ``margin``, 'refuted' if it is
    below -margin, else 'inconclusive'."""
    return "supported" if difference > margin else "refuted" if difference < -margin else "inconclusive"


def shown_init(points: dict[tuple, dict], base_init: str) -> str:
    """The initialisation the batch-norm comparisons use: the base cell's if the grid has it, else the first."""
    inits = list(dict.fromkeys(k[2] for k in points if k[0] == "init"))
    return base_init if base_init in inits else inits[0]


def batch_norm(points: dict[tuple, dict], base_init: str, fraction: float) -> tuple[dict, str]:
    """The survey's predictions about training without batch norm, each given a verdict from the numbers.

    ``points`` keys: ("init", bn, init, lr) for both BN states over inits x lrs, ("width", w, lr) without BN for
    the narrow and the wide width, ("warmup", lr) without BN with warm-up; ``base_init`` is the default init's
    label (the other grids use it)."""
    def curve(*prefix) -> dict[float, dict]:
        return {k[-1]: p for k, p in points.items() if k[:-1] == prefix}

    inits = list(dict.fromkeys(k[2] for k in points if k[0] == "init"))
    base_init = shown_init(points, base_init)
    on, off = curve("init", True, base_init), curve("init", False, base_init)
    margin = noise(points)
    preds = []

    # 1. the usable learning-rate range narrows without BN
    u_on, u_off = _usable(on, fraction), _usable(off, fraction)
    broke_off = sorted(lr for lr, p in off.items() if broken(p))
    preds.append({"claim": "Without batch norm the usable learning-rate range narrows",
                  "verdict": _verdict(octaves(u_on) - octaves(u_off), 0.5),
                  "evidence": f"usable (within {fraction:.0%} of the best) with BN: {range_text(u_on)}, best "
                              f"{pct(max(p['val'] for p in on.values()))}; without: {range_text(u_off)}, best "
                              f"{pct(max(p['val'] for p in off.values()))}; without BN training broke at lr "
                              f"{', '.join(map(lr_text, broke_off)) or 'none of the grid'}"})

    # 2. the initialisation matters without BN, much less with it
    def by_init(bn: bool) -> dict[str, float]:
        return {i: max(p["val"] for p in eligible(curve("init", bn, i)).values()) for i in inits}

    t_on, t_off = by_init(True), by_init(False)
    spread_on, spread_off = max(t_on.values()) - min(t_on.values()), max(t_off.values()) - min(t_off.values())
    n_broken = {bn: sum(broken(p) for k, p in points.items() if k[0] == "init" and k[1] == bn) for bn in (True, False)}
    n_cells = sum(1 for k in points if k[0] == "init" and k[1])
    preds.append({"claim": "The initialisation scale matters without batch norm, much less with it",
                  "verdict": _verdict(spread_off - spread_on, max(margin, 0.005)),
                  "evidence": "best accuracy over the learning rates per initialisation, without BN: "
                              + ", ".join(f"{i} {pct(v)}" for i, v in t_off.items())
                              + f" (spread {100 * spread_off:.1f} points, {n_broken[False]} of {n_cells} cells "
                              "broke); with BN: " + ", ".join(f"{i} {pct(v)}" for i, v in t_on.items())
                              + f" (spread {100 * spread_on:.1f} points, {n_broken[True]} broke)"})

    # 3. warm-up widens the range without BN
    warm = curve("warmup")
    if warm:
        both = max(p["val"] for p in [*off.values(), *warm.values()])
        tr_off, tr_warm = _trains(off), _trains(warm)
        u_w, u_o = _usable(warm, fraction, both), _usable(off, fraction, both)
        diff = (len(tr_warm) - len(tr_off)) + 0.5 * (octaves(u_w) - octaves(u_o))
        preds.append({"claim": "Warm-up widens the usable learning-rate range without batch norm",
                      "verdict": _verdict(diff, 0.25),
                      "evidence": f"without BN, rates that train: {len(tr_warm)} of {len(warm)} with warm-up "
                                  f"(usable {range_text(u_w)}), {len(tr_off)} of {len(off)} without (usable "
                                  f"{range_text(u_o)})"
                                  + (f"; warm-up rescues lr {', '.join(map(lr_text, sorted(tr_warm - tr_off)))}"
                                     if tr_warm - tr_off else "")})

    # 4. wide networks train without BN where narrow ones fail
    widths = sorted({k[1] for k in points if k[0] == "width"})
    if len(widths) == 2:
        narrow, wide = curve("width", widths[0]), curve("width", widths[1])
        tn, tw = _trains(narrow), _trains(wide)
        if tw > tn:
            verdict = "supported"
        elif tn > tw or (tn == tw and len(tn) < len(narrow)):
            verdict = "refuted"
        else:
            verdict = "inconclusive"
        preds.append({"claim": "Wide networks train without batch norm where narrow ones fail",
                      "verdict": verdict,
                      "evidence": f"without BN, c = {widths[1]} trains at {len(tw)} of {len(wide)} rates (best "
                                  f"{pct(max(p['val'] for p in wide.values()))}), c = {widths[0]} at {len(tn)} "
                                  f"(best {pct(max(p['val'] for p in narrow.values()))})"
                                  + (f"; only the wide one trains at lr {', '.join(map(lr_text, sorted(tw - tn)))}"
                                     if tw - tn else "")
                                  + (f"; only the narrow one at lr {', '.join(map(lr_text, sorted(tn - tw)))}"
                                     if tn - tw else "")})

    # 5. batch norm speeds training up
    b_on = max(eligible(on), key=lambda lr: on[lr]["val"])
    b_off = max(eligible(off), key=lambda lr: off[lr]["val"])
    preds.append({"claim": "Batch norm makes training faster",
                  "verdict": _verdict(on[b_on]["first"] - off[b_off]["first"], max(margin, 0.005)),
                  "evidence": f"validation accuracy after the first epoch at each one's best rate: "
                              f"{pct(on[b_on]['first'])} with BN (lr {lr_text(b_on)}), {pct(off[b_off]['first'])} "
                              f"without (lr {lr_text(b_off)})"})

    counts = {v: sum(p["verdict"] == v for p in preds) for v in ("supported", "refuted", "inconclusive")}
    numbers = {"predictions": preds, "diverged": sum(p["diverged"] > p["seeds"] / 2 for p in points.values()),
               "failed": sum(broken(p) for p in points.values()) - sum(p["diverged"] > p["seeds"] / 2
                                                                     for p in points.values())}
    text = (f"Of {len(preds)} predictions, {counts['supported']} supported, {counts['refuted']} refuted, "
            f"{counts['inconclusive']} inconclusive: "
            + " ".join(f"({i}) {p['claim']}: {p['verdict']} ({p['evidence']})." for i, p in enumerate(preds, 1))
            + f" {numbers['diverged']} of {len(points)} cells diverged and {numbers['failed']} more failed to train.")
    return numbers, text
