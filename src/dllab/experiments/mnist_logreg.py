"""Multinomial logistic regression on MNIST in PyTorch: learning curves, confusion matrix, weight templates."""

from __future__ import annotations

from pydantic import Field

from dllab.config import ExperimentConfig
from dllab.nn.config import TorchTrainConfig

DESCRIPTION = "multinomial logistic regression on MNIST (torch): learning curves, confusion matrix, templates"
HOMEWORK: list[tuple[str, str]] = []  # a warm-up of the toolkit, in no homework set
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"test accuracy": "test_accuracy"}
ESTIMATE_S = {"smoke": 10, "cpu": 30, "full": 90}


class Config(ExperimentConfig):
    dataset: str = Field("mnist", pattern="^(mnist|fashion-mnist)$", description="mnist or fashion-mnist (the same "
                                                                             "shapes and protocol)")
    n_train: int | None = Field(None, ge=10, description="use the first n training images (None: all)")
    train: TorchTrainConfig = TorchTrainConfig(epochs=10, batch_size=128, lr=0.1, momentum=0.9)


PRESETS = {
    "smoke": {"n_train": 2000, "train": {"epochs": 2}},
    "cpu": {},
    "full": {"train": {"epochs": 30, "schedule": "cosine"}},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "test_accuracy": ("test accuracy (10,000 images, last epoch)",
                      "accuracy on the 10,000 test images after the last epoch"),
    "test_loss": ("test loss (mean cross-entropy)",
                  "mean cross-entropy on the test set"),
    "train_accuracy": ("training accuracy (eval mode, last epoch)",
                       "accuracy on the training images after the last epoch (eval mode)"),
    "per_class_accuracy": ("test accuracy per class",
                           "class name -> test accuracy"),
    "epochs": ("epochs trained", ""),
    "n_train": ("training images",
                "training images used"),
    "dataset_partial": ("only part of the dataset found",
                        "true if only part of the dataset was found"),
}


def run(cfg: Config, rec) -> dict:
    import numpy as np
    import torch

    from dllab import data, plotting
    from dllab.nn.data import as_tensors
    from dllab.nn.train import evaluate, fit, pick_device
    from dllab.seeding import torch_stream

    ds = data.load(cfg.dataset)
    n_train = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    device = pick_device()
    train = as_tensors(ds.x_train[:n_train], ds.y_train[:n_train], device)
    test = as_tensors(ds.x_test, ds.y_test, device)
    rec.text("Data", f"{ds.describe()}. Training on the first {n_train} training images; "
                     "pixels scaled to [0, 1] per batch; no augmentation.")

    def prep(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1).float().div_(255.0)

    with torch_stream(cfg.seed, "init"):
        model = torch.nn.Linear(28 * 28, 10).to(device)
    result = fit(model, train, {"test": test}, cfg.train, prep=prep, num_classes=10, seed=cfg.seed, recorder=rec)
    hist = result.history
    final_train = evaluate(model, *train, prep, num_classes=10)
    final_test = evaluate(model, *test, prep, num_classes=10)

    fig, _ = plotting.learning_curves(hist, {"train": "train", "test": "test"},
                                      loss_label="mean cross-entropy (nats)")
    rec.figure(fig, "learning_curves", "Training loss/accuracy are running averages over each epoch's "
                                       "mini-batches; test figures are measured after the epoch.")

    fig, ax = plotting.subplots(width=6.5, height=5.5)
    plotting.confusion_matrix(ax, np.array(final_test["confusion"]), ds.classes,
                              title=f"Test confusion matrix (accuracy {100 * final_test['acc']:.2f}%)")
    rec.figure(fig, "confusion_matrix", "Rows: true class; colour: fraction of the row; numbers: counts.")

    w = model.weight.detach().cpu().numpy().reshape(10, 28, 28)
    fig, axes = plotting.subplots(5, 2, width=1.6, height=1.8)
    lim = np.abs(w).max()
    for i, ax in enumerate(axes):
        ax.imshow(w[i], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"class {ds.classes[i]}", fontsize=9)
        ax.axis("off")
    fig.suptitle("Weight templates (red: evidence for the class, blue: against)")
    rec.figure(fig, "weight_templates", "Each class's weight vector shown as a 28x28 image.")

    worst = int(np.argmin(final_test["per_class_acc"]))
    rec.text("Reading", f"A linear model reaches {100 * final_test['acc']:.2f}% test accuracy after "
                        f"{len(hist)} epochs ({100 * final_train['acc']:.2f}% on its training images): MNIST is "
                        f"close to linearly separable, but not quite. The hardest class is "
                        f"{ds.classes[worst]} ({100 * final_test['per_class_acc'][worst]:.1f}%). Each weight "
                        "template is a noisy stroke pattern: red where the digit puts ink, blue where competing "
                        "digits do; the border pixels, never inked, keep weights near zero.")
    return {
        "test_accuracy": final_test["acc"],
        "test_loss": final_test["loss"],
        "train_accuracy": final_train["acc"],
        "per_class_accuracy": dict(zip(ds.classes, final_test["per_class_acc"])),
        "epochs": len(hist),
        "n_train": n_train,
        "dataset_partial": ds.partial,
    }
