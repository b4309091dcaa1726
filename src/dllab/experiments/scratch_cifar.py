"""6.S898 HW1: an MLP built from dllab.scratch trained on CIFAR-10, without and with random-crop augmentation."""

from __future__ import annotations

from pydantic import Field

from dllab.config import ExperimentConfig

DESCRIPTION = "6.S898 HW1 in NumPy: MLP on CIFAR-10, learning curves, then random-crop augmentation"

# CIFAR-10 training-set channel statistics (published values; the data layer's tests check them).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class Config(ExperimentConfig):
    hidden: list[int] = [512, 256]
    activation: str = Field("relu", pattern="^(relu|sigmoid|tanh)$")
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    lr_schedule: str = Field("cosine", pattern="^(constant|step|cosine)$")
    crop_pad: int = Field(4, ge=1, description="augmented run: reflect-pad by this much, then a random 32x32 crop")
    n_train: int | None = Field(None, ge=100, description="first n training images (None: all 50,000)")
    val_size: int = Field(5000, ge=100, description="the last val_size training images validate")


PRESETS = {"smoke": {"n_train": 2000, "val_size": 500, "epochs": 2, "hidden": [64]}, "cpu": {}, "full": {}}

SUMMARY_KEYS = {
    "test_accuracy": "{plain, augmented}: test accuracy of each run's best-on-validation weights",
    "best_val_accuracy": "{plain, augmented}: best validation accuracy",
    "final_train_accuracy": "{plain, augmented}: training accuracy in the last epoch",
    "generalization_gap": "{plain, augmented}: final train accuracy minus final validation accuracy",
    "n_train": "training images (validation excluded)",
}


def run(cfg: Config, rec) -> dict:
    import numpy as np

    from dllab import data, plotting
    from dllab.scratch import models
    from dllab.scratch.data import random_crop
    from dllab.scratch.train import evaluate, fit, load_params

    ds = data.load("cifar10")
    n = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    if cfg.val_size >= n:
        from dllab.errors import ConfigError

        raise ConfigError(f"val_size ({cfg.val_size}) must be smaller than the training images used ({n})")
    x_all, y_all = np.asarray(ds.x_train[:n]), np.asarray(ds.y_train[:n], dtype=np.int64)
    xt, yt = x_all[:-cfg.val_size], y_all[:-cfg.val_size]
    mean = np.array(MEAN, np.float32) * 255
    inv_std = 1.0 / (np.array(STD, np.float32) * 255)

    def prep(x: np.ndarray) -> np.ndarray:
        """uint8 (N,32,32,3) -> float32 (N, 3072), normalised per channel."""
        return ((x.astype(np.float32) - mean) * inv_std).reshape(len(x), -1)

    val = (prep(x_all[-cfg.val_size:]), y_all[-cfg.val_size:])
    test = (prep(np.asarray(ds.x_test)), np.asarray(ds.y_test, dtype=np.int64))
    rec.text("Data", f"{ds.describe()}. The first {len(xt)} training images train, the last {cfg.val_size} "
                     "validate; inputs normalised per channel with the training-set mean and std. The augmented run "
                     f"reflect-pads each training image by {cfg.crop_pad} pixels and cuts a random 32x32 crop, a new "
                     "one every epoch; validation and test images are never augmented.")

    def train(name: str, augment: bool) -> dict:
        net = models.mlp([3072, *cfg.hidden, 10], cfg.activation, rng=np.random.default_rng(cfg.seed))
        transform = (lambda xb, rng: prep(random_crop(xb, cfg.crop_pad, rng))) if augment else \
            (lambda xb, rng: prep(xb))
        res = fit(net, (xt, yt), val, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                  momentum=cfg.momentum, weight_decay=cfg.weight_decay, lr_schedule=cfg.lr_schedule, seed=cfg.seed,
                  transform=transform, recorder=rec, name=name)
        load_params(net, res.best_params)
        return {"history": res.history, "best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_acc,
                "test_accuracy": evaluate(net, *test)[1]}

    runs = {name: rec.stage(name, lambda name=name: train(name, name == "augmented"))
            for name in ("plain", "augmented")}

    g = np.random.default_rng(cfg.seed)
    pick = g.choice(len(xt), 6, replace=False)
    originals = xt[pick]
    crops = [random_crop(originals, cfg.crop_pad, g) for _ in range(3)]
    fig, axes = plotting.subplots(6, 4, width=1.5, height=1.6)
    for row, label in enumerate(["original", "crop 1", "crop 2", "crop 3"]):
        images = originals if row == 0 else crops[row - 1]
        plotting.image_grid(axes[row * 6:(row + 1) * 6], images,
                            [f"{label}: {ds.classes[yt[i]]}" if row == 0 else label for i in pick])
    fig.suptitle(f"Random-crop augmentation (reflect-pad {cfg.crop_pad}, random 32x32 window)")
    rec.figure(fig, "augmentation", "Top row: training images; below: three random crops of each.")

    fig, (ax_loss, ax_acc) = plotting.subplots(2)
    for colour, (name, r) in zip(("C0", "C3"), runs.items()):
        ep = [h["epoch"] for h in r["history"]]
        ax_loss.plot(ep, [h["train_loss"] for h in r["history"]], color=colour, label=f"{name}: train")
        ax_loss.plot(ep, [h["val_loss"] for h in r["history"]], "--", color=colour, label=f"{name}: validation")
        ax_acc.plot(ep, [100 * h["train_acc"] for h in r["history"]], color=colour, label=f"{name}: train")
        ax_acc.plot(ep, [100 * h["val_acc"] for h in r["history"]], "--", color=colour, label=f"{name}: validation")
    ax_loss.set(title="Loss per epoch", ylabel="loss (train: CE + L2 term)")
    ax_acc.set(title="Accuracy per epoch", ylabel="accuracy (%)")
    plotting.epoch_axis(ax_loss)
    plotting.epoch_axis(ax_acc)
    ax_loss.legend(fontsize=8)
    ax_acc.legend(fontsize=8)
    rec.figure(fig, "learning_curves", f"MLP 3072-{'-'.join(map(str, cfg.hidden))}-10 ({cfg.activation}), SGD "
                                       f"momentum {cfg.momentum}, lr {cfg.lr} ({cfg.lr_schedule}), batch "
                                       f"{cfg.batch_size}, L2 {cfg.weight_decay}. Solid: train; dashed: validation.")

    def last(r, key):
        return r["history"][-1][key]

    summary = {
        "test_accuracy": {k: r["test_accuracy"] for k, r in runs.items()},
        "best_val_accuracy": {k: r["best_val_accuracy"] for k, r in runs.items()},
        "final_train_accuracy": {k: last(r, "train_acc") for k, r in runs.items()},
        "generalization_gap": {k: last(r, "train_acc") - last(r, "val_acc") for k, r in runs.items()},
        "n_train": len(xt),
    }
    p, a = runs["plain"], runs["augmented"]
    rec.table("Results", [{"run": k, "final train acc (%)": round(100 * last(r, "train_acc"), 2),
                           "best val acc (%)": round(100 * r["best_val_accuracy"], 2),
                           "test acc (%)": round(100 * r["test_accuracy"], 2), "best epoch": r["best_epoch"]}
                          for k, r in runs.items()])
    rec.text("Reading", (
        f"Without augmentation the MLP reaches {100 * last(p, 'train_acc'):.1f}% on its training images but "
        f"{100 * last(p, 'val_acc'):.1f}% on validation: a gap of "
        f"{100 * summary['generalization_gap']['plain']:.1f} points, since a fully connected net can memorise "
        f"pixels. With random crops the gap is {100 * summary['generalization_gap']['augmented']:.1f} points and "
        f"the test accuracy {'rises' if a['test_accuracy'] > p['test_accuracy'] else 'does not rise'} "
        f"({100 * p['test_accuracy']:.1f}% -> {100 * a['test_accuracy']:.1f}%): every epoch sees shifted copies, "
        "which are harder to memorise. An MLP has no built-in translation invariance, so it must learn each shift "
        "separately: augmentation here mostly acts as a regulariser against memorisation."))
    return summary
