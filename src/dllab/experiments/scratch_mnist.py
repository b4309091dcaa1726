"""CS7643 A1: softmax regression and a two-layer net in NumPy on MNIST, with hyper-parameter studies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dllab.config import ExperimentConfig

DESCRIPTION = "CS7643 A1 in NumPy: softmax regression / two-layer net on MNIST, lr & L2 sweeps, a tuned net"


class Hyper(BaseModel):
    """The hyper-parameters a study may change."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["twolayer", "softmax"] = "twolayer"
    softmax_relu: bool = Field(True, description="softmax model only: the ReLU on the logits that CS7643 specifies")
    hidden: int = Field(128, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(0.1, gt=0)
    reg: float = Field(0.001, ge=0, description="L2 coefficient lambda in J = CE + lambda/2 sum w^2 (weights only)")
    momentum: float = Field(0.0, ge=0, lt=1)
    epochs: int = Field(10, ge=1)
    init_std: float = Field(0.001, gt=0)
    lr_schedule: Literal["constant", "step", "cosine"] = "constant"


class Config(ExperimentConfig, Hyper):
    n_train: int | None = Field(None, ge=100, description="use the first n official training images (None: all)")
    studies: list[Literal["lr", "reg", "tuned", "seeds"]] = ["lr", "reg", "tuned"]
    n_seeds: int = Field(8, ge=2, description="study 'seeds': initialisations compared")
    lr_values: list[float] = [1.0, 0.1, 0.05, 0.01, 0.001]
    reg_values: list[float] = [1.0, 0.1, 0.01, 0.001, 0.0001]
    tuned: dict[str, float | int | str] = {"hidden": 512, "momentum": 0.9, "reg": 0.0001, "lr_schedule": "cosine",
                                           "batch_size": 32, "epochs": 15}


PRESETS = {
    "smoke": {"n_train": 6000, "epochs": 3, "lr": 0.5, "lr_values": [0.5, 0.05], "reg_values": [0.01, 0.0001],
              "tuned": {"hidden": 64, "momentum": 0.9, "reg": 0.0001, "lr_schedule": "cosine", "epochs": 2}},
    "cpu": {},
    "full": {},
}

SUMMARY_KEYS = {
    "test_accuracy": "test accuracy of the configured model at its best-on-validation epoch",
    "best_val_accuracy": "best validation accuracy over the epochs",
    "best_epoch": "the epoch (1-based) with the best validation accuracy",
    "final_train_loss": "training objective J (cross-entropy + L2 term) in the last epoch",
    "lr_sweep": "learning rate -> {best_val_accuracy, final_train_loss} (study 'lr')",
    "reg_sweep": "L2 coefficient -> {best_val_accuracy, final_train_loss} (study 'reg')",
    "tuned": "{changes, best_val_accuracy, test_accuracy, gain_over_default} (study 'tuned')",
    "per_class_val_accuracy": "validation accuracy per digit at the best epoch",
    "dead_classes": "digits never predicted correctly on validation (0% accuracy): the ReLU-on-logits failure",
    "seeds": "variant -> {seed: {best_val_accuracy, test_accuracy, dead_classes}} (study 'seeds')",
    "n_train": "training images (the first 80% of those used; the rest is validation)",
}


def train_one(h: Hyper, split, seed: int, rec, name: str) -> dict:
    """Train one configuration; return its history and the test accuracy of its best-on-validation weights."""
    import numpy as np

    from dllab.scratch import models
    from dllab.scratch.train import evaluate, fit, load_params

    (xt, yt), (xv, yv), (xs, ys) = split
    rng = np.random.default_rng(seed)
    if h.model == "softmax":
        net = models.SoftmaxRegression(xt.shape[1], 10, init_std=h.init_std, relu=h.softmax_relu, rng=rng)
    else:
        net = models.TwoLayerNet(xt.shape[1], h.hidden, 10, init_std=h.init_std, rng=rng)
    res = fit(net, (xt, yt), (xv, yv), epochs=h.epochs, batch_size=h.batch_size, lr=h.lr, momentum=h.momentum,
              weight_decay=h.reg, lr_schedule=h.lr_schedule, seed=seed, recorder=rec, name=name)
    load_params(net, res.best_params)
    test_loss, test_acc = evaluate(net, xs, ys)
    pred = net.predict(xv)
    per_class = [float(np.mean(pred[yv == c] == c)) for c in range(10)]
    return {"history": res.history, "best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_acc,
            "test_accuracy": test_acc, "final_train_loss": res.history[-1]["train_loss"],
            "per_class_val_accuracy": per_class, "dead_classes": [c for c in range(10) if per_class[c] == 0.0]}


def _curves(rec, runs: dict[str, dict], name: str, title: str, caption: str) -> None:
    from dllab import plotting

    fig, (ax_loss, ax_acc) = plotting.subplots(2)
    plotting.curves(ax_loss, {k: ([h["epoch"] for h in r["history"]], [h["train_loss"] for h in r["history"]])
                              for k, r in runs.items()},
                    title=f"{title}: training objective J", xlabel="epoch", ylabel="J = CE + L2 term", logy=True)
    plotting.curves(ax_acc, {k: ([h["epoch"] for h in r["history"]], [100 * h["val_acc"] for h in r["history"]])
                             for k, r in runs.items()},
                    title=f"{title}: validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    rec.figure(fig, name, caption)


def run(cfg: Config, rec) -> dict:
    import numpy as np

    from dllab import data, plotting
    from dllab.scratch.data import flatten_scaled, train_val_split

    ds = data.load("mnist")
    n = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    x = flatten_scaled(ds.x_train[:n])
    y = np.asarray(ds.y_train[:n], dtype=np.int64)
    (xt, yt), (xv, yv) = train_val_split(x, y, 0.8)
    split = ((xt, yt), (xv, yv), (flatten_scaled(ds.x_test), np.asarray(ds.y_test, dtype=np.int64)))
    rec.text("Data", f"{ds.describe()}. As CS7643 specifies, the first 80% of the {n} official training images "
                     f"({len(xt)}) train and the rest ({len(xv)}) validate; pixels scaled to [0, 1]. The test set "
                     "scores the weights of the epoch with the best validation accuracy.")
    base = Hyper(**{k: getattr(cfg, k) for k in Hyper.model_fields})
    main = rec.stage("main", lambda: train_one(base, split, cfg.seed, rec, "main"))

    hist = main["history"]
    fig, (_, ax_acc) = plotting.learning_curves(hist, {"train": "train", "validation": "val"},
                                                loss_label="loss (train: J incl. L2; val: CE)")
    ax_acc.axvline(main["best_epoch"], color="gray", ls=":", label="best epoch (val)")
    ax_acc.legend()
    rec.figure(fig, "learning_curves", f"The {cfg.model} model with the configured hyper-parameters. Training "
                                       "figures are averages over each epoch's mini-batches.")
    summary = {"test_accuracy": main["test_accuracy"], "best_val_accuracy": main["best_val_accuracy"],
               "best_epoch": main["best_epoch"], "final_train_loss": main["final_train_loss"],
               "lr_sweep": {}, "reg_sweep": {}, "tuned": {}, "n_train": n,
               "per_class_val_accuracy": main["per_class_val_accuracy"], "dead_classes": main["dead_classes"],
               "seeds": {}}
    if main["dead_classes"]:
        rec.text("Dead classes", (
            f"Digits {main['dead_classes']} are never predicted correctly: with a ReLU on the logits, a class whose "
            "logit is negative on its own images receives no gradient from them, while images of the other nine "
            "classes keep pushing its logit down; early in training some classes lose this race for good. "
            "Run the 'seeds' study (--set 'studies=[seeds]') to see how often this happens."))

    for study, key, values in (("lr", "lr", cfg.lr_values), ("reg", "reg", cfg.reg_values)):
        if study not in cfg.studies:
            continue
        runs = {f"{key}={v:g}": rec.stage(f"{study}_{v:g}", lambda v=v, key=key, study=study: train_one(
            base.model_copy(update={key: v}), split, cfg.seed, rec, f"{study}={v:g}")) for v in values}
        table = [{key: v, "best val acc (%)": round(100 * r["best_val_accuracy"], 2), "best epoch": r["best_epoch"],
                  "final J": round(r["final_train_loss"], 4)} for v, r in zip(values, runs.values())]
        summary[f"{study}_sweep"] = {f"{v:g}": {"best_val_accuracy": r["best_val_accuracy"],
                                                "final_train_loss": r["final_train_loss"]}
                                     for v, r in zip(values, runs.values())}
        name = "learning rate" if study == "lr" else "L2 coefficient"
        _curves(rec, runs, f"{study}_sweep", f"{name} sweep",
                f"Only the {name} changes; every other hyper-parameter as configured.")
        rec.table(f"{name} sweep", table)
        rec.text(f"Reading: {name}", _reading(study, values, list(runs.values())))

    if "seeds" in cfg.studies:
        _seeds_study(cfg, base, split, rec, summary)

    if "tuned" in cfg.studies:
        from dllab.config import validate
        from dllab.errors import ConfigError

        try:
            tuned_h = validate(Hyper, {**base.model_dump(), **cfg.tuned})
        except ConfigError as exc:
            raise ConfigError(f"in 'tuned': {exc}") from None
        tuned = rec.stage("tuned", lambda: train_one(tuned_h, split, cfg.seed, rec, "tuned"))
        changes = {k: v for k, v in cfg.tuned.items() if getattr(base, k) != v}
        summary["tuned"] = {"changes": changes, "best_val_accuracy": tuned["best_val_accuracy"],
                            "test_accuracy": tuned["test_accuracy"],
                            "gain_over_default": tuned["best_val_accuracy"] - main["best_val_accuracy"]}
        _curves(rec, {"configured": main, "tuned": tuned}, "tuned_vs_default", "tuned vs configured",
                "The tuned configuration changes: " + ", ".join(f"{k}={v}" for k, v in changes.items()))
        rec.table("Tuned configuration", [
            {"run": "configured", **{k: getattr(base, k) for k in changes},
             "best val acc (%)": round(100 * main["best_val_accuracy"], 2),
             "test acc (%)": round(100 * main["test_accuracy"], 2)},
            {"run": "tuned", **changes, "best val acc (%)": round(100 * tuned["best_val_accuracy"], 2),
             "test acc (%)": round(100 * tuned["test_accuracy"], 2)}])
        rec.text("Reading: tuning", (
            f"Changing {len(changes)} hyper-parameters ({', '.join(changes)}) moves the best validation accuracy "
            f"from {100 * main['best_val_accuracy']:.2f}% to {100 * tuned['best_val_accuracy']:.2f}%. Momentum "
            "averages gradients over steps, so each step moves further along consistent directions; a wider "
            "hidden layer gives more features; smaller batches take more steps per epoch; a weaker L2 penalty "
            "stops pulling useful weights to zero; the cosine schedule takes large steps early and fine ones late."))
    return summary


def _seeds_study(cfg: Config, base: Hyper, split, rec, summary: dict) -> None:
    """The same configuration from ``n_seeds`` initialisations (and, for softmax, without the ReLU)."""
    from dllab import plotting

    if base.model == "softmax":
        variants = {f"softmax, relu={r}": base.model_copy(update={"softmax_relu": r})
                    for r in (base.softmax_relu, not base.softmax_relu)}
    else:
        variants = {base.model: base}
    out: dict[str, dict] = {}
    for label, h in variants.items():
        out[label] = {}
        for i in range(cfg.n_seeds):
            seed = cfg.seed + i
            tag = f"seeds_{label.replace(', ', '_').replace('=', '')}_{seed}"
            r = rec.stage(tag, lambda h=h, seed=seed, tag=tag: train_one(h, split, seed, rec, tag))
            out[label][str(seed)] = {k: r[k] for k in ("best_val_accuracy", "test_accuracy", "dead_classes")}
    summary["seeds"] = out
    fig, ax = plotting.subplots(width=6.5)
    for j, (label, runs) in enumerate(out.items()):
        accs = [100 * r["best_val_accuracy"] for r in runs.values()]
        ax.scatter([j] * len(accs), accs, s=40, alpha=0.7, label=label)
        ax.hlines(sum(accs) / len(accs), j - 0.2, j + 0.2, color="black")
    ax.set_xticks(range(len(out)), list(out))
    ax.set(title=f"Best validation accuracy over {cfg.n_seeds} initialisations", xlabel="variant",
           ylabel="accuracy (%)")
    rec.figure(fig, "seeds", "One dot per initialisation seed (the seed also sets the batch order); bar: mean.")
    rows = []
    for label, runs in out.items():
        accs = [r["best_val_accuracy"] for r in runs.values()]
        rows.append({"variant": label, "mean val acc (%)": round(100 * sum(accs) / len(accs), 2),
                     "min (%)": round(100 * min(accs), 2), "max (%)": round(100 * max(accs), 2),
                     "runs with a dead class": sum(bool(r["dead_classes"]) for r in runs.values()),
                     "runs >= 91% test": sum(r["test_accuracy"] >= 0.91 for r in runs.values())})
    rec.table("Initialisation study", rows)


def _reading(study: str, values: list[float], runs: list[dict]) -> str:
    """A short interpretation written from the measured numbers (never fixed text about the outcome)."""
    accs = [r["best_val_accuracy"] for r in runs]
    losses = [r["final_train_loss"] for r in runs]
    order = sorted(range(len(values)), key=values.__getitem__)
    best_i = max(range(len(accs)), key=accs.__getitem__)
    lo_i, hi_i = order[0], order[-1]
    facts = (f"Best: {values[best_i]:g} ({100 * accs[best_i]:.2f}% validation accuracy). Smallest value "
             f"{values[lo_i]:g}: {100 * accs[lo_i]:.2f}%, final J {losses[lo_i]:.3f}; largest {values[hi_i]:g}: "
             f"{100 * accs[hi_i]:.2f}%, final J {losses[hi_i]:.3f}.")
    if study == "lr":
        if best_i == hi_i:
            why = ("The largest rate tried is the best: in a fixed budget of epochs, starting from tiny weights "
                   "(0.001 * randn: every hidden unit outputs about 0.5, and the gradient reaching the first layer "
                   "is scaled by the tiny second-layer weights), larger steps simply get further; none of the rates "
                   "tried diverged.")
        else:
            why = "Above the best rate, steps overshoot and progress becomes noisy or stalls."
        epochs = len(runs[0]["history"])
        slow = runs[lo_i]["history"]
        if accs[lo_i] < 0.2:
            tail = (f" The smallest rate never leaves the starting plateau (chance accuracy, J stays near "
                    f"{slow[-1]['train_loss']:.2f}) in {epochs} epochs: it is under-trained, not a worse model.")
        else:
            tail = (f" The smallest rate is still improving at the end (J {slow[-2]['train_loss']:.3f} -> "
                    f"{slow[-1]['train_loss']:.3f} in the last epoch): under-trained, not a worse model.")
        return f"{facts} {why}{tail}"
    chance = [values[i] for i in range(len(values)) if accs[i] < 0.2]
    why = ("A large coefficient dominates the objective: the gradient of lambda/2 * ||w||^2 pulls every weight "
           "to zero faster than the data pushes it away, so the network underfits (high J, low accuracy)")
    why += f"; at lambda = {', '.join(f'{v:g}' for v in chance)} it stays at chance level." if chance else "."
    why += " Small coefficients leave the data term in charge" + (
        f"; in {len(runs[0]['history'])} epochs there is little overfitting to prevent, so the weakest penalty "
        "tried is the best here." if best_i == lo_i else
        f"; the best value, {values[best_i]:g}, balances fitting the data against keeping the weights small.")
    return f"{facts} {why}"
