"""Georgia Tech CS7643 A1: softmax regression and a two-layer net in NumPy on MNIST, with hyper-parameter studies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig
from dllab.training import TrainConfig

DESCRIPTION = "NumPy softmax regression / two-layer net on MNIST: lr & L2 sweeps, a tuned net"
HOMEWORK = [(courses.CS7643, "sections 1-5")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"test accuracy": "test_accuracy", "tuned test accuracy": "tuned.test_accuracy"}
ESTIMATE_S = {"smoke": 20, "cpu": 100, "full": 100}


class Config(ExperimentConfig):
    model: Literal["twolayer", "softmax"] = Field("twolayer", description="CS7643's two-layer net or its softmax "
                                                                         "regression")
    softmax_relu: bool = Field(True, description="softmax model only: the ReLU on the logits that CS7643 specifies")
    hidden: int = Field(128, ge=1, description="two-layer net: hidden units (sigmoid)")
    init_std: float = Field(0.001, gt=0, description="weights ~ N(0, init_std^2), biases 0 (CS7643)")
    # CS7643's defaults; train.weight_decay is its L2 coefficient lambda in J = CE + lambda/2 sum w^2
    train: TrainConfig = TrainConfig(epochs=10, batch_size=64, lr=0.1, weight_decay=0.001)
    n_train: int | None = Field(None, ge=100, description="use the first n official training images (None: all)")
    studies: list[Literal["lr", "reg", "tuned", "seeds"]] = Field(
        ["lr", "reg", "tuned"], description="studies run after the configured model (lr, reg, tuned, seeds)")
    n_seeds: int = Field(8, ge=2, description="study 'seeds': initialisations compared")
    lr_values: list[float] = Field([1.0, 0.1, 0.05, 0.01, 0.001], description="study 'lr': values of train.lr")
    reg_values: list[float] = Field([1.0, 0.1, 0.01, 0.001, 0.0001],
                                    description="study 'reg': values of train.weight_decay")
    tuned: dict[str, Any] = Field({"hidden": 512, "train.momentum": 0.9, "train.weight_decay": 0.0001,
                                   "train.schedule": "cosine", "train.batch_size": 32, "train.epochs": 15},
                                  description="study 'tuned': config keys (dotted, as --set takes them) changed")


PRESETS = {
    "smoke": {"n_train": 6000, "train": {"epochs": 3, "lr": 0.5}, "lr_values": [0.5, 0.05],
              "reg_values": [0.01, 0.0001],
              "tuned": {"hidden": 64, "train.momentum": 0.9, "train.weight_decay": 0.0001,
                        "train.schedule": "cosine", "train.epochs": 2}},
    "cpu": {},
    "full": {},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "test_accuracy": ("test accuracy at the best validation epoch",
                      "test accuracy of the configured model at its best-on-validation epoch"),
    "best_val_accuracy": ("best validation accuracy",
                          "best validation accuracy over the epochs"),
    "best_epoch": ("best validation epoch",
                   "the epoch (1-based) with the best validation accuracy"),
    "final_train_loss": ("training objective J in the last epoch",
                         "training objective J (cross-entropy + L2 term) in the last epoch"),
    "lr_sweep": ("learning-rate sweep: validation accuracy and final loss per lr",
                 "learning rate -> {best_val_accuracy, final_train_loss} (study 'lr')"),
    "reg_sweep": ("L2 sweep: validation accuracy and final loss per coefficient",
                  "L2 coefficient -> {best_val_accuracy, final_train_loss} (study 'reg')"),
    "tuned": ("tuned model: changes, validation and test accuracy, gain",
              "{changes, best_val_accuracy, test_accuracy, gain_over_default} (study 'tuned')"),
    "per_class_val_accuracy": ("validation accuracy per digit (best epoch)",
                               "validation accuracy per digit at the best epoch"),
    "dead_classes": ("digits never predicted correctly",
                     "digits never predicted correctly on validation (0% accuracy): the ReLU-on-logits failure"),
    "seeds": ("replicates per variant",
              "variant -> {replicate i: {best_val_accuracy, test_accuracy, dead_classes}} (study 'seeds'; "
               "replicate i's seed is derived from the run seed and i)"),
    "n_train": ("training images",
                "training images (the first 80% of those used; the rest is validation)"),
}


def run(cfg: Config, rec) -> dict:
    """The configured model, then the studies; every training run is a resumable stage."""
    split, n = _data(cfg, rec)
    res: dict[str, Any] = {"n": n, "main": rec.stage("main", lambda: train_one(cfg, split, cfg.seed, rec, "main"))}
    for study, key, values in (("lr", "lr", cfg.lr_values), ("reg", "weight_decay", cfg.reg_values)):
        if study in cfg.studies:
            res[study] = {v: rec.stage(f"{study}_{v:g}", lambda v=v, key=key, study=study: train_one(
                _with(cfg, {f"train.{key}": v}), split, cfg.seed, rec, f"{study}={v:g}")) for v in values}
    if "seeds" in cfg.studies:
        res["seeds"] = _seeds_study(cfg, split, rec)
    if "tuned" in cfg.studies:
        from dllab.errors import ConfigError

        try:
            tuned_cfg = _with(cfg, cfg.tuned)
        except ConfigError as exc:
            raise ConfigError(f"in 'tuned': {exc}") from None
        res["tuned_cfg"] = tuned_cfg
        res["tuned"] = rec.stage("tuned", lambda: train_one(tuned_cfg, split, cfg.seed, rec, "tuned"))
    return _report(cfg, rec, res)


def train_one(cfg: Config, split, seed: int, rec, name: str) -> dict:
    """Train one configuration; return its history and the test accuracy of its best-on-validation weights."""
    import numpy as np

    from dllab.scratch import models
    from dllab.scratch.train import evaluate, fit, load_params
    from dllab.seeding import rng

    (xt, yt), (xv, yv), (xs, ys) = split
    if cfg.model == "softmax":
        net = models.SoftmaxRegression(xt.shape[1], 10, init_std=cfg.init_std, relu=cfg.softmax_relu,
                                       rng=rng(seed, "init"))
    else:
        net = models.TwoLayerNet(xt.shape[1], cfg.hidden, 10, init_std=cfg.init_std, rng=rng(seed, "init"))
    res = fit(net, (xt, yt), (xv, yv), cfg.train, seed=seed, recorder=rec, name=name)
    load_params(net, res.best_params)
    test_loss, test_acc = evaluate(net, xs, ys)
    pred = net.predict(xv)
    per_class = [float(np.mean(pred[yv == c] == c)) for c in range(10)]
    return {"history": res.history, "best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_acc,
            "test_accuracy": test_acc, "final_train_loss": res.history[-1]["train_loss"],
            "per_class_val_accuracy": per_class, "dead_classes": [c for c in range(10) if per_class[c] == 0.0]}


def _data(cfg: Config, rec):
    """CS7643's split: the first 80% of the (first n_train) official training images train, the rest validate."""
    import numpy as np

    from dllab import data
    from dllab.scratch.data import flatten_scaled, train_val_split

    ds = data.load("mnist")
    n = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    (xt, yt), (xv, yv) = train_val_split(flatten_scaled(ds.x_train[:n]), np.asarray(ds.y_train[:n], np.int64), 0.8)
    rec.text("Data", f"{ds.describe()}. As CS7643 specifies, the first 80% of the {n} official training images "
                     f"({len(xt)}) train and the rest ({len(xv)}) validate; pixels scaled to [0, 1]. The test set "
                     "scores the weights of the epoch with the best validation accuracy.")
    return ((xt, yt), (xv, yv), (flatten_scaled(ds.x_test), np.asarray(ds.y_test, np.int64))), n


def _with(cfg: Config, changes: dict[str, Any]) -> Config:
    """``cfg`` with dotted keys changed (``{"train.lr": 0.5}``), validated like ``--set``."""
    from dllab.config import apply_dotted, validate

    return validate(Config, apply_dotted(cfg.model_dump(), changes))


def _seeds_study(cfg: Config, split, rec) -> dict:
    """The same configuration from ``n_seeds`` initialisations (and, for softmax, without the ReLU)."""
    from dllab.seeding import int_seed

    variants = {cfg.model: cfg}
    if cfg.model == "softmax":
        variants = {f"softmax, relu={r}": cfg.model_copy(update={"softmax_relu": r})
                    for r in (cfg.softmax_relu, not cfg.softmax_relu)}
    out: dict[str, dict] = {}
    for label, v in variants.items():
        out[label] = {}
        for i in range(cfg.n_seeds):
            tag = f"seeds_{label.replace(', ', '_').replace('=', '')}_{i}"
            seed = int_seed(cfg.seed, "replicate", i)
            r = rec.stage(tag, lambda v=v, seed=seed, tag=tag: train_one(v, split, seed, rec, tag))
            out[label][str(i)] = {k: r[k] for k in ("best_val_accuracy", "test_accuracy", "dead_classes")}
    return out


# -- the report: figures, tables and the reading, in the homework's order -------------------------------------

def _report(cfg: Config, rec, res: dict) -> dict:
    from dllab import plotting

    main = res["main"]
    fig, (_, ax_acc) = plotting.learning_curves(main["history"], {"train": "train", "validation": "val"},
                                                loss_label="loss (train: J incl. L2; val: CE)")
    ax_acc.axvline(main["best_epoch"], color="gray", ls=":", label="best epoch (val)")
    ax_acc.legend()
    rec.figure(fig, "learning_curves", f"The {cfg.model} model with the configured hyper-parameters. Training "
                                       "figures are averages over each epoch's mini-batches.")
    summary = {"test_accuracy": main["test_accuracy"], "best_val_accuracy": main["best_val_accuracy"],
               "best_epoch": main["best_epoch"], "final_train_loss": main["final_train_loss"],
               "lr_sweep": {}, "reg_sweep": {}, "tuned": {}, "n_train": res["n"],
               "per_class_val_accuracy": main["per_class_val_accuracy"], "dead_classes": main["dead_classes"],
               "seeds": res.get("seeds", {})}
    if main["dead_classes"]:
        rec.text("Dead classes", (
            f"Digits {main['dead_classes']} are never predicted correctly: with a ReLU on the logits, a class whose "
            "logit is negative on its own images receives no gradient from them, while images of the other nine "
            "classes keep pushing its logit down; early in training some classes lose this race for good. "
            "Run the 'seeds' study (--set 'studies=[seeds]') to see how often this happens."))
    for study, knob, name in (("lr", "train.lr", "learning rate"), ("reg", "train.weight_decay", "L2 coefficient")):
        if study not in res:
            continue
        runs = res[study]
        summary[f"{study}_sweep"] = {f"{v:g}": {"best_val_accuracy": r["best_val_accuracy"],
                                                "final_train_loss": r["final_train_loss"]} for v, r in runs.items()}
        _sweep_figure(rec, {f"{knob}={v:g}": r for v, r in runs.items()}, f"{study}_sweep", f"{name} sweep",
                      f"Only {knob} changes; every other hyper-parameter as configured.")
        rec.table(f"{name} sweep", [{knob: v, "best val acc (%)": round(100 * r["best_val_accuracy"], 2),
                                     "best epoch": r["best_epoch"], "final J": round(r["final_train_loss"], 4)}
                                    for v, r in runs.items()])
        rec.text(f"Reading: {name}", _reading(study, list(runs), list(runs.values())))
    if "seeds" in res:
        _seeds_report(cfg, rec, res["seeds"])
    if "tuned" in res:
        tuned, tuned_cfg = res["tuned"], res["tuned_cfg"]
        from dllab.config import get_dotted

        changes = {k: v for k, v in cfg.tuned.items() if get_dotted(cfg, k) != get_dotted(tuned_cfg, k)}
        summary["tuned"] = {"changes": changes, "best_val_accuracy": tuned["best_val_accuracy"],
                            "test_accuracy": tuned["test_accuracy"],
                            "gain_over_default": tuned["best_val_accuracy"] - main["best_val_accuracy"]}
        _sweep_figure(rec, {"configured": main, "tuned": tuned}, "tuned_vs_default", "tuned vs configured",
                      "The tuned configuration changes: " + ", ".join(f"{k}={v}" for k, v in changes.items()))
        rec.table("Tuned configuration", [
            {"run": "configured", **{k: get_dotted(cfg, k) for k in changes},
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


def _sweep_figure(rec, runs: dict[str, dict], name: str, title: str, caption: str) -> None:
    from dllab import plotting

    fig, _ = plotting.learning_curves({k: r["history"] for k, r in runs.items()},
                                      {"train": "train", "validation": "val"},
                                      loss_label="train: J = CE + L2 term; validation: CE", log_loss=True, title=title)
    rec.figure(fig, name, caption)


def _seeds_report(cfg: Config, rec, out: dict) -> None:
    from dllab import plotting

    fig, ax = plotting.subplots(width=6.5)
    for j, (label, runs) in enumerate(out.items()):
        accs = [100 * r["best_val_accuracy"] for r in runs.values()]
        ax.scatter([j] * len(accs), accs, s=40, alpha=0.7, label=label)
        ax.hlines(sum(accs) / len(accs), j - 0.2, j + 0.2, color="black")
    ax.set_xticks(range(len(out)), list(out))
    ax.set(title=f"Best validation accuracy over {cfg.n_seeds} initialisations", xlabel="variant",
           ylabel="accuracy (%)")
    rec.figure(fig, "seeds", "One dot per initialisation (its seed also sets the batch order); bar: mean.")
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
