"""The homework's 5-layer CNN (Myrtle-5) on CIFAR-10: the baseline recipe and the knobs students explore."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.experiments._cifar import CifarConfig

DESCRIPTION = "Myrtle-5 CNN on CIFAR-10 (the homework recipe: SGD 0.1, batch 128, 20 epochs), curves and timing"
HOMEWORK = [(courses.CS229BR, "Q2.1"), (courses.THEORY_SEMINAR, "Train CIFAR-10")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"test accuracy": "final_test_accuracy", "best test accuracy": "best_test_accuracy"}
ESTIMATE_S = {"smoke": 20, "cpu": 1100, "full": 8200}


class Config(CifarConfig):
    target_accuracy: float = Field(0.8, gt=0, le=1, description="report the time to reach this test accuracy")


PRESETS = {
    "smoke": {"width": 8, "n_train": 1000, "train": {"epochs": 2}},
    "cpu": {"width": 32, "train": {"epochs": 10}, "target_accuracy": 0.7},
    "full": {},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "final_test_accuracy": ("test accuracy after the last epoch", ""),
    "best_test_accuracy": ("best test accuracy over the epochs", ""),
    "best_epoch": ("epoch of the best test accuracy",
                   "its epoch"),
    "final_train_accuracy": ("training accuracy in the last epoch",
                             "training accuracy (running average) in the last epoch"),
    "train_time_s": ("training wall time (s)",
                     "training wall time (evaluation included)"),
    "epochs": ("epochs trained", ""),
    "time_to_target_s": ("time to the target accuracy (s)",
                         "seconds until the test accuracy first reached target_accuracy (null if never)"),
    "per_class_accuracy": ("test accuracy per class (last epoch)",
                           "class -> final test accuracy"),
    "n_train": ("training images",
                "training images used"),
    "parameters": ("model parameters", ""),
}


def run(cfg: Config, rec) -> dict:
    from dllab import plotting
    from dllab.experiments import _cifar
    from dllab.nn.models import count_parameters
    from dllab.nn.train import evaluate, fit

    ds, train, test, device = _cifar.load(cfg.n_train)
    net = _cifar.model(cfg)
    rec.text("Protocol", _cifar.describe(ds, len(train[0]), cfg) + f" Device: {device}.")
    res = fit(net, train, {"test": test}, cfg.train, prep=_cifar.prep, num_classes=10, seed=cfg.seed, recorder=rec,
              name="train")
    hist = res.history
    final = evaluate(net, *test, _cifar.prep, num_classes=10)
    best = max(hist, key=lambda h: h["test_acc"])
    reach = next((h["time_s"] for h in hist if h["test_acc"] >= cfg.target_accuracy), None)

    fig, (_, ax_acc) = plotting.learning_curves(hist, {"train": "train", "test": "test"})
    ax_acc.axhline(100 * cfg.target_accuracy, color="gray", ls=":", label="target")
    ax_acc.legend()
    rec.figure(fig, "learning_curves", "Train: running average over the epoch's mini-batches (train mode); "
                                       "test: after the epoch (eval mode).")
    fig, ax = plotting.subplots(width=6)
    plotting.draw_series(ax, [round(h["time_s"] / 60, 2) for h in hist], [100 * h["test_acc"] for h in hist],
                         marker="o", color="C0")
    ax.set(title="Test accuracy against wall time", xlabel="minutes", ylabel="test accuracy (%)")
    rec.figure(fig, "accuracy_vs_time", f"Wall time on {device} with {rec.env.get('torch_threads')} threads.")
    per_class = dict(zip(ds.classes, final["per_class_acc"]))
    rec.table("Per-class test accuracy",
              [{"class": k, "accuracy (%)": round(100 * v, 2)} for k, v in per_class.items()])
    return {"final_test_accuracy": final["acc"], "best_test_accuracy": best["test_acc"], "best_epoch": best["epoch"],
            "final_train_accuracy": hist[-1]["train_acc"], "train_time_s": hist[-1]["time_s"], "epochs": len(hist),
            "time_to_target_s": reach, "per_class_accuracy": per_class, "n_train": len(train[0]),
            "parameters": count_parameters(net)}
