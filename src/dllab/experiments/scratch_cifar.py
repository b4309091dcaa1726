"""MIT 6.S898 HW1: an MLP built from dllab.scratch trained on CIFAR-10, without and with random-crop augmentation."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig
from dllab.training import TrainConfig

DESCRIPTION = "NumPy MLP on CIFAR-10: learning curves, then random-crop augmentation"
HOMEWORK = [(courses.MIT_6S898, "Q10-Q15")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"test accuracy, plain": "test_accuracy.plain",
            "test accuracy, random crops": "test_accuracy.augmented"}
ESTIMATE_S = {"smoke": 15, "cpu": 330, "full": 330}

# CIFAR-10 training-set channel statistics (published values; the data layer's tests check them).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class Config(ExperimentConfig):
    hidden: list[int] = Field([512, 256], description="hidden layer widths of the MLP 3072 -> ... -> 10")
    activation: str = Field("relu", pattern="^(relu|sigmoid|tanh)$", description="hidden activation")
    train: TrainConfig = TrainConfig(epochs=30, batch_size=128, lr=0.01, momentum=0.9, weight_decay=5e-4,
                                     schedule="cosine")
    crop_pad: int = Field(4, ge=1, description="augmented run: reflect-pad by this much, then a random 32x32 crop")
    n_train: int | None = Field(None, ge=100, description="first n training images (None: all 50,000)")
    val_size: int = Field(5000, ge=100, description="the last val_size training images validate")


PRESETS = {"smoke": {"n_train": 2000, "val_size": 500, "train": {"epochs": 2}, "hidden": [64]}, "cpu": {}, "full": {}}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "test_accuracy": ("test accuracy, plain and augmented",
                      "{plain, augmented}: test accuracy of each run's best-on-validation weights"),
    "best_val_accuracy": ("best validation accuracy, plain and augmented",
                          "{plain, augmented}: best validation accuracy"),
    "final_train_accuracy": ("training accuracy in the last epoch, plain and augmented",
                             "{plain, augmented}: training accuracy in the last epoch"),
    "generalization_gap": ("generalization gap (train minus validation accuracy)",
                           "{plain, augmented}: final train accuracy minus final validation accuracy"),
    "n_train": ("training images",
                "training images (validation excluded)"),
}


def run(cfg: Config, rec) -> dict:
    """The same MLP trained twice on the same split: on the images as they are, and on random crops of them."""
    from dllab.scratch import models
    from dllab.scratch.data import random_crop
    from dllab.scratch.train import evaluate, fit, load_params
    from dllab.seeding import rng

    ds, (xt, yt), val, test, prep = _data(cfg, rec)

    def train(name: str, augment: bool) -> dict:
        net = models.mlp([3072, *cfg.hidden, 10], cfg.activation, rng=rng(cfg.seed, "init"))
        transform = (lambda xb, g: prep(random_crop(xb, cfg.crop_pad, g))) if augment else (lambda xb, g: prep(xb))
        res = fit(net, (xt, yt), val, cfg.train, seed=cfg.seed, transform=transform, recorder=rec, name=name)
        load_params(net, res.best_params)
        return {"history": res.history, "best_epoch": res.best_epoch, "best_val_accuracy": res.best_val_acc,
                "test_accuracy": evaluate(net, *test)[1]}

    runs = {name: rec.stage(name, lambda name=name: train(name, name == "augmented"))
            for name in ("plain", "augmented")}
    return _report(cfg, rec, ds, (xt, yt), runs)


def _data(cfg: Config, rec):
    """Training images (uint8, augmented per batch), the validation and test sets as model inputs, and ``prep``."""
    import numpy as np

    from dllab import data
    from dllab.errors import ConfigError

    ds = data.load("cifar10")
    n = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    if cfg.val_size >= n:
        raise ConfigError(f"val_size ({cfg.val_size}) must be smaller than the training images used ({n})")
    x_all, y_all = np.asarray(ds.x_train[:n]), np.asarray(ds.y_train[:n], dtype=np.int64)
    mean = np.array(MEAN, np.float32) * 255
    inv_std = 1.0 / (np.array(STD, np.float32) * 255)

    def prep(x: np.ndarray) -> np.ndarray:
        """uint8 (N,32,32,3) -> float32 (N, 3072), normalised per channel."""
        return ((x.astype(np.float32) - mean) * inv_std).reshape(len(x), -1)

    train = (x_all[:-cfg.val_size], y_all[:-cfg.val_size])
    val = (prep(x_all[-cfg.val_size:]), y_all[-cfg.val_size:])
    test = (prep(np.asarray(ds.x_test)), np.asarray(ds.y_test, dtype=np.int64))
    rec.text("Data", f"{ds.describe()}. The first {len(train[0])} training images train, the last {cfg.val_size} "
                     "validate; inputs normalised per channel with the training-set mean and std. The augmented run "
                     f"reflect-pads each training image by {cfg.crop_pad} pixels and cuts a random 32x32 crop, a new "
                     "one every epoch; validation and test images are never augmented.")
    return ds, train, val, test, prep


# -- the report ---------------------------------------------------------------------------------------------

def _report(cfg: Config, rec, ds, train, runs: dict) -> dict:
    from dllab import plotting
    from dllab.scratch.data import random_crop
    from dllab.seeding import rng

    xt, yt = train
    g = rng(cfg.seed, "figure", "crops")
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

    t = cfg.train
    fig, _ = plotting.learning_curves({k: r["history"] for k, r in runs.items()},
                                      {"train": "train", "validation": "val"}, loss_label="loss (train: CE + L2 term)")
    rec.figure(fig, "learning_curves", f"MLP 3072-{'-'.join(map(str, cfg.hidden))}-10 ({cfg.activation}), SGD "
                                       f"momentum {t.momentum}, lr {t.lr} ({t.schedule}), batch "
                                       f"{t.batch_size}, L2 {t.weight_decay}. Solid: train; dashed: validation.")

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
