"""Flip robustness of the CIFAR-10 CNN: accuracy on upside-down test images, per class, and a robust retraining."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.experiments._cifar import CifarConfig

DESCRIPTION = "CIFAR-10 CNN on vertically flipped test images: per-class drop, then vertical-flip augmentation"
HOMEWORK = [(courses.THEORY_SEMINAR, "Problem 1")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"accuracy upright": "acc", "accuracy flipped": "acc_flipped", "flip-trained, flipped": "robust_acc_flipped"}
ESTIMATE_S = {"smoke": 25, "cpu": 660, "full": 9000}


class Config(CifarConfig):
    checkpoint: str | None = Field(None, description="a trained model's state dict (e.g. a cifar-train run's "
                                                     "checkpoints/train.pt) to evaluate instead of training one")
    robust_flip_p: float = Field(0.5, gt=0, le=1, description="vertical-flip probability of the robust training")
    val_size: int = Field(5000, ge=100, description="last training images held out to pick the robust epoch")


PRESETS = {
    "smoke": {"width": 8, "n_train": 1200, "val_size": 200, "train": {"epochs": 1}},
    "cpu": {"width": 32, "n_train": 20000, "val_size": 2000, "train": {"epochs": 8}},
    "full": {},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "acc": ("test accuracy, normally trained model",
            "test accuracy of the normally trained model"),
    "acc_flipped": ("flipped-test accuracy, normally trained model",
                    "its accuracy on vertically flipped test images"),
    "per_class_drop": ("accuracy drop under the flip per class (points)",
                       "class -> accuracy drop (points of %) under the flip"),
    "robust_acc": ("test accuracy, flip-augmented model",
                   "test accuracy of the flip-augmented model (epoch chosen by the max of the two validation "
                    "errors)"),
    "robust_acc_flipped": ("flipped-test accuracy, flip-augmented model",
                           "its accuracy on the flipped test images"),
    "robust_epoch": ("epoch chosen, flip-augmented model",
                     "the chosen epoch"),
}


def _both(net, x, y, prep):
    from dllab.nn.train import evaluate

    plain = evaluate(net, x, y, prep, num_classes=10)
    flipped = evaluate(net, x, y, lambda b: prep(b).flip(-2), num_classes=10)
    return plain, flipped


def run(cfg: Config, rec) -> dict:
    """The normally trained CNN (or a loaded one) on upright and flipped test images, then a flip-trained CNN."""
    import io

    import torch

    from dllab.experiments import _cifar
    from dllab.fileio import atomic_write
    from dllab.nn.models import load_weights
    from dllab.nn.train import fit

    ds, train, test, _ = _cifar.load(cfg.n_train)
    n = len(train[0])
    if cfg.val_size >= n:
        from dllab.errors import ConfigError

        raise ConfigError(f"val_size ({cfg.val_size}) must be smaller than the training images used ({n})")
    fit_set = (train[0][:-cfg.val_size], train[1][:-cfg.val_size])
    val = (train[0][-cfg.val_size:], train[1][-cfg.val_size:])
    rec.text("Protocol", _cifar.describe(ds, n - cfg.val_size, cfg) + f" The last {cfg.val_size} training images "
             "are held out as validation. 'Flipped' means each test image turned upside down (rows reversed).")

    net = _cifar.model(cfg)
    if cfg.checkpoint:
        load_weights(net, cfg.checkpoint, hint="; set width and batch_norm as in the run that saved it "
                                                "(its config.yaml), e.g. --set width=64")
        rec.text("Model", f"The normally trained model is loaded from {cfg.checkpoint} (trained as that run's "
                          "config says); the protocol above is the flip-augmented model's.")
    else:
        fit(net, fit_set, {"val": val}, cfg.train, prep=_cifar.prep, num_classes=10, seed=cfg.seed, recorder=rec,
            name="plain")
    plain, flipped = _both(net, *test, _cifar.prep)

    # Robust model: vertical flips with probability p during training; keep the epoch whose larger validation
    # error (original or flipped) is smallest.
    robust = _cifar.model(cfg)
    best_path = rec.checkpoint_path("robust_best")

    def keep_best(epoch_net, epoch):
        p, f = _both(epoch_net, *val, _cifar.prep)
        score = max(1 - p["acc"], 1 - f["acc"])
        history = [m for m in rec.metrics() if m.get("run") == "robust" and m.get("epoch", 0) < epoch]
        if all(score < max(1 - m["val_acc"], 1 - m["val_flipped_acc"]) for m in history):
            buf = io.BytesIO()
            torch.save(epoch_net.state_dict(), buf)
            atomic_write(best_path, buf.getvalue())
        return {"val_acc": p["acc"], "val_flipped_acc": f["acc"]}

    tc = cfg.train.model_copy(update={"flip_v": cfg.robust_flip_p})
    res = fit(robust, fit_set, {}, tc, prep=_cifar.prep, num_classes=10, seed=cfg.seed, recorder=rec, name="robust",
              epoch_hook=keep_best)
    best = {"epoch": min(res.history, key=lambda h: (max(1 - h["val_acc"], 1 - h["val_flipped_acc"]),
                                                     h["epoch"]))["epoch"]}
    load_weights(robust, best_path)
    r_plain, r_flipped = _both(robust, *test, _cifar.prep)
    return _report(cfg, rec, ds.classes, (plain, flipped), (r_plain, r_flipped), best["epoch"])


# -- the report ---------------------------------------------------------------------------------------------

def _report(cfg: Config, rec, classes, normal, robust, robust_epoch: int) -> dict:
    import numpy as np

    from dllab import plotting

    plain, flipped = normal
    r_plain, r_flipped = robust
    best = {"epoch": robust_epoch}
    drop = {c: 100 * (a - b) for c, a, b in zip(classes, plain["per_class_acc"], flipped["per_class_acc"])}
    fig, ax = plotting.subplots(width=8)
    xs = np.arange(10)
    ax.bar(xs - 0.2, [100 * a for a in plain["per_class_acc"]], 0.4, label="original test images")
    ax.bar(xs + 0.2, [100 * a for a in flipped["per_class_acc"]], 0.4, label="flipped upside down")
    ax.set_xticks(xs, classes, rotation=30)
    ax.set(title="Per-class test accuracy of the normally trained CNN", ylabel="accuracy (%)")
    ax.legend()
    rec.figure(fig, "per_class_flip", "Which classes survive being turned upside down?")
    fig, ax = plotting.subplots(width=6)
    ax.bar(["normal: original", "normal: flipped", "robust: original", "robust: flipped"],
           [100 * plain["acc"], 100 * flipped["acc"], 100 * r_plain["acc"], 100 * r_flipped["acc"]],
           color=["C0", "C1", "C0", "C1"])
    ax.set(title="Test accuracy", ylabel="accuracy (%)")
    ax.tick_params(axis="x", rotation=20)
    rec.figure(fig, "robust", f"Robust model: vertical flips with p = {cfg.robust_flip_p} in training, epoch "
                              f"{best['epoch']} chosen by the larger of its two validation errors.")
    rec.table("Accuracy drop per class under a vertical flip",
              [{"class": c, "original (%)": round(100 * a, 2), "flipped (%)": round(100 * b, 2),
                "drop (points)": round(drop[c], 2)}
               for c, a, b in zip(classes, plain["per_class_acc"], flipped["per_class_acc"])])
    # compare classes by the share of their accuracy that survives the flip, among classes the model knows
    pairs = list(zip(classes, plain["per_class_acc"], flipped["per_class_acc"]))
    known = {c: (a, b) for c, a, b in pairs if a >= 0.3} or {c: (a, b) for c, a, b in pairs if a > 0} \
        or {c: (1.0, 1.0) for c, _, _ in pairs}
    kept = {c: b / a for c, (a, b) in known.items()}
    best_kept, worst_kept = max(kept, key=kept.get), min(kept, key=kept.get)
    rec.text("Reading", (
        f"Turned upside down, the test set's accuracy falls from {100 * plain['acc']:.1f}% to "
        f"{100 * flipped['acc']:.1f}%. Among the classes the model mostly recognises (at least 30% accuracy), "
        f"{best_kept} keeps the largest share of its accuracy ({100 * known[best_kept][0]:.0f}% -> "
        f"{100 * known[best_kept][1]:.0f}%) and {worst_kept} the smallest ({100 * known[worst_kept][0]:.0f}% -> "
        f"{100 * known[worst_kept][1]:.0f}%); by the share kept: "
        + ", ".join(f"{c} {100 * kept[c]:.0f}%" for c in sorted(kept, key=kept.get, reverse=True))
        + ". Classes that keep much of their accuracy are presumably recognised by cues that survive the flip "
        "(texture, colour); those that lose it rely on the picture's orientation (ground below, sky above). "
        f"Training with vertical flips (p = {cfg.robust_flip_p}) gives {100 * r_plain['acc']:.1f}% on the "
        f"original and {100 * r_flipped['acc']:.1f}% on the flipped test images: the worst of the two errors "
        f"falls from {100 * max(1 - plain['acc'], 1 - flipped['acc']):.1f}% to "
        f"{100 * max(1 - r_plain['acc'], 1 - r_flipped['acc']):.1f}%."))
    return {"acc": plain["acc"], "acc_flipped": flipped["acc"], "per_class_drop": drop, "robust_acc": r_plain["acc"],
            "robust_acc_flipped": r_flipped["acc"], "robust_epoch": best["epoch"]}
