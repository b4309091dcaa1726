"""Flooding (Ishida et al. 2020) on MNIST: does training need zero loss after zero error? MLP and CNN."""

from __future__ import annotations

from pydantic import Field

from dllab.config import ExperimentConfig
from dllab.torch.config import TrainConfig

DESCRIPTION = "flooding |R-b|+b on MNIST (Ishida et al. 2020): b search with an MLP, baseline vs best b, a CNN"


class Config(ExperimentConfig):
    b_values: list[float] = Field(default_factory=lambda: [round(0.01 * i, 2) for i in range(21)],
                                  description="flood levels searched (0 = no flooding, the baseline)")
    hidden: int = Field(500, ge=1)
    val_fraction: float = Field(0.2, gt=0, lt=1, description="seeded random validation share of the training set")
    n_train: int | None = Field(None, ge=100, description="first n official training images (None: all)")
    train: TrainConfig = TrainConfig(epochs=500, batch_size=128, lr=0.1, momentum=0.9, checkpoint=True)
    cnn_epochs: int = Field(100, ge=0, description="epochs of the CNN runs (0: skip the CNN)")
    workers: int | None = Field(None, ge=1, description="parallel processes for the b runs (None: one per core)")


PRESETS = {
    "smoke": {"b_values": [0.0, 0.1], "n_train": 3000, "train": {"epochs": 2}, "cnn_epochs": 1, "workers": 1},
    "cpu": {"b_values": [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2], "train": {"epochs": 60}, "cnn_epochs": 15},
    "full": {},
}

SUMMARY_KEYS = {
    "best_b": "flood level with the lowest best-epoch validation error (0.0 is the baseline)",
    "baseline": "b=0: {final_train_error, final_val_error, best_val_error (%), test_accuracy, final_val_loss, "
                "first_zero_train_error_epoch}",
    "flooded": "the same for the best b above 0 (the comparison run; equals best_b unless that is 0)",
    "flooded_b": "that flood level",
    "test_accuracy_change": "test accuracy of the flooded run minus the baseline's (final epoch)",
    "val_error_by_b": "b -> best validation error (%) over the epochs",
    "cnn": "{b: {final_val_error, test_accuracy}} for the CNN at b=0 and the best b (empty if cnn_epochs=0)",
    "split": "{seed, n_train, n_val, val_indices_sha256}: the recorded train/validation split",
}


def _split(cfg: Config):
    """The dataset and the seeded 8:2 split of its first n_train training images (indices; same in every worker)."""
    from dllab import data

    ds = data.load("mnist")
    n = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    tr, va = data.random_split(n, 1 - cfg.val_fraction, cfg.seed)
    return ds, tr, va


def _data(cfg: Config):
    """uint8 tensors of the split's training and validation parts and of the test set."""
    import numpy as np

    from dllab.torch.data import as_tensors

    ds, tr, va = _split(cfg)
    n = len(tr) + len(va)
    x, y = np.asarray(ds.x_train[:n]), np.asarray(ds.y_train[:n])
    return as_tensors(x[tr], y[tr]), as_tensors(x[va], y[va]), as_tensors(ds.x_test, ds.y_test)


def _prep(x):
    return x.unsqueeze(1).float().div_(255.0)  # (N,28,28) uint8 -> (N,1,28,28) in [0,1]


def train_b(rec, cfg: Config, b: float, model: str, epochs: int) -> dict:
    """One training run at flood level b (a stage; may run in a worker process)."""
    import torch
    import torch.nn.functional as F

    from dllab.torch.models import flooded, mlp, mnist_cnn

    train, val, test = _data(cfg)
    torch.manual_seed(cfg.seed)  # the same initial weights for every b
    net = mlp([784, cfg.hidden, 10]) if model == "mlp" else mnist_cnn()
    from dllab.torch.train import fit

    tc = cfg.train.model_copy(update={"epochs": epochs})
    name = f"{model}_b{b:g}"
    res = fit(net, train, {"trainset": train, "val": val, "test": test}, tc, prep=_prep, num_classes=10,
              seed=cfg.seed, recorder=rec, name=name, loss_fn=flooded(F.cross_entropy, b), log_extra={"b": b})
    hist = res.history
    zero = [h["epoch"] for h in hist if h["trainset_acc"] == 1.0]
    return {"b": b, "model": model, "history": hist,
            "final_train_error": 100 * (1 - hist[-1]["trainset_acc"]),
            "final_val_error": 100 * (1 - hist[-1]["val_acc"]),
            "best_val_error": 100 * (1 - max(h["val_acc"] for h in hist)),
            "test_accuracy": hist[-1]["test_acc"],
            "first_zero_train_error_epoch": zero[0] if zero else None}


def _public(r: dict) -> dict:
    out = {k: v for k, v in r.items() if k not in ("history", "model", "b")}
    out["final_val_loss"] = r["history"][-1]["val_loss"]
    return out


def run(cfg: Config, rec) -> dict:
    import hashlib
    import os

    import numpy as np

    from dllab import plotting

    ds, tr, va = _split(cfg)  # the runs build their tensors in their own processes
    np.savez(rec.dir / "split.npz", train_indices=tr, val_indices=va)
    split = {"seed": cfg.seed, "n_train": len(tr), "n_val": len(va),
             "val_indices_sha256": hashlib.sha256(va.astype(np.int64).tobytes()).hexdigest()}
    workers = cfg.workers or min(os.cpu_count() or 1, len(cfg.b_values))
    rec.text("Protocol", (
        f"{ds.describe()}. The first {len(tr) + len(va)} official training images are split {len(tr)}:{len(va)} "
        f"at random with seed {cfg.seed} (indices in split.npz); the test set is the official 10,000. MLP "
        f"784-{cfg.hidden}-10 (ReLU), SGD lr {cfg.train.lr}, momentum {cfg.train.momentum}, batch "
        f"{cfg.train.batch_size}, {cfg.train.epochs} epochs, no augmentation, no learning-rate decay. The flooded "
        f"loss |R - b| + b is applied to each mini-batch's mean cross-entropy R, for b in {cfg.b_values} "
        f"({workers} worker processes). Errors are % misclassified, measured on the whole set after each epoch."))

    tasks = {f"mlp_b{b:g}": (train_b, {"cfg": cfg, "b": b, "model": "mlp", "epochs": cfg.train.epochs})
             for b in cfg.b_values}
    runs = rec.map_stages(tasks, workers=workers)
    by_b = {r["b"]: r for r in runs.values()}
    best_b = min(by_b, key=lambda b: (by_b[b]["best_val_error"], b))
    base = by_b.get(0.0) or by_b[min(by_b)]
    # the comparison run: the best flood level above 0 (the best b overall may be the baseline itself)
    flood_b = min((b for b in by_b if b > 0), key=lambda b: (by_b[b]["best_val_error"], b), default=best_b)
    best = by_b[flood_b]

    fig, axes = plotting.subplots(2, 2)
    for label, r in (("baseline b=0", base), (f"flooded b={flood_b:g}", best)):
        ep = [h["epoch"] for h in r["history"]]
        axes[0].plot(ep, [100 * (1 - h["trainset_acc"]) for h in r["history"]], label=f"{label}: train")
        axes[0].plot(ep, [100 * (1 - h["val_acc"]) for h in r["history"]], "--", label=f"{label}: validation")
        axes[1].plot(ep, [h["trainset_loss"] for h in r["history"]], label=f"{label}: train")
        axes[1].plot(ep, [h["val_loss"] for h in r["history"]], "--", label=f"{label}: validation")
    axes[0].set(title="Error per epoch (MLP)", ylabel="error (%, log above 0.1)")
    axes[0].set_yscale("symlog", linthresh=0.1)
    axes[1].set(title="Cross-entropy per epoch (MLP)", ylabel="mean cross-entropy", yscale="log")
    plotting.epoch_axis(axes[0])
    plotting.epoch_axis(axes[1])
    axes[2].plot(list(by_b), [by_b[b]["best_val_error"] for b in by_b], "o-", label="best over epochs")
    axes[2].plot(list(by_b), [by_b[b]["final_val_error"] for b in by_b], "s--", label="last epoch")
    axes[2].axvline(best_b, color="gray", ls=":")
    axes[2].set(title="Validation error vs flood level", xlabel="flood level b", ylabel="validation error (%)")
    axes[3].plot(list(by_b), [100 * by_b[b]["test_accuracy"] for b in by_b], "o-")
    axes[3].set(title="Test accuracy (last epoch) vs flood level", xlabel="flood level b", ylabel="accuracy (%)")
    for ax in axes[:3]:
        ax.legend(fontsize=7)
    rec.figure(fig, "flooding", f"Top: the baseline and the best flood level above 0 (b = {flood_b:g}); train "
                                "solid, validation dashed; cross-entropy is the plain R on the whole set. Bottom: the "
                                f"search over b (dotted: the best, b = {best_b:g}).")
    rec.table("Flood levels", [{"b": b, "best val error (%)": round(r["best_val_error"], 3),
                                "final val error (%)": round(r["final_val_error"], 3),
                                "final train error (%)": round(r["final_train_error"], 3),
                                "test acc (%)": round(100 * r["test_accuracy"], 2),
                                "first epoch with 0 train error": r["first_zero_train_error_epoch"]}
                               for b, r in by_b.items()])

    cnn = {}
    if cfg.cnn_epochs:
        cnn_b = sorted({0.0, best_b})
        cnn_runs = rec.map_stages({f"cnn_b{b:g}": (train_b, {"cfg": cfg, "b": b, "model": "cnn",
                                                                "epochs": cfg.cnn_epochs}) for b in cnn_b},
                                  workers=min(workers, len(cnn_b)))
        cnn = {f"{r['b']:g}": _public(r) for r in cnn_runs.values()}
        fig, ax = plotting.subplots(width=7)
        for label, r in [("MLP b=0", base), ("CNN b=0", cnn_runs["cnn_b0"])] + (
                [(f"CNN b={best_b:g}", cnn_runs[f"cnn_b{best_b:g}"])] if best_b else []):
            ep = [h["epoch"] for h in r["history"]]
            ax.plot(ep, [100 * (1 - h["trainset_acc"]) for h in r["history"]], label=f"{label}: train")
            ax.plot(ep, [100 * (1 - h["val_acc"]) for h in r["history"]], "--", label=f"{label}: validation")
        ax.set(title="MLP vs CNN", ylabel="error (%, log above 0.1)")
        plotting.epoch_axis(ax)
        ax.set_yscale("symlog", linthresh=0.1)
        ax.legend(fontsize=7)
        rec.figure(fig, "mlp_vs_cnn", "The homework's CNN (two 5x5 conv + pool blocks, linear) on the same split.")
        from dllab.torch.models import count_parameters, mlp, mnist_cnn

        rec.table("MLP vs CNN", [
            {"model": "MLP", "parameters": count_parameters(mlp([784, cfg.hidden, 10])), "epochs": cfg.train.epochs,
             "final val error (%)": round(base["final_val_error"], 3),
             "test acc (%)": round(100 * base["test_accuracy"], 2)},
            *[{"model": f"CNN b={b}", "parameters": count_parameters(mnist_cnn()), "epochs": cfg.cnn_epochs,
               "final val error (%)": round(r["final_val_error"], 3),
               "test acc (%)": round(100 * r["test_accuracy"], 2)}
              for b, r in cnn.items()]])

    change = best["test_accuracy"] - base["test_accuracy"]
    zero_epoch = base["first_zero_train_error_epoch"]
    rec.text("Reading: do we need zero training loss after zero training error? (Q5.4)", (
        (f"The baseline reaches zero training error at epoch {zero_epoch}; after that its training loss keeps "
         f"falling toward zero ({base['history'][zero_epoch - 1]['trainset_loss']:.2g} -> "
         f"{base['history'][-1]['trainset_loss']:.2g}) while the validation loss "
         + ("rises" if base["history"][-1]["val_loss"] > base["history"][zero_epoch - 1]["val_loss"] else "does not")
         + f" ({base['history'][zero_epoch - 1]['val_loss']:.3g} -> {base['history'][-1]['val_loss']:.3g}): the "
         "network only grows more confident on points it already classifies correctly. "
         if zero_epoch else
         f"The baseline has not reached zero training error within {cfg.train.epochs} epochs "
         f"(final {base['final_train_error']:.3f}%). ")
        + f"The best flood level on validation is b = {best_b:g}; the best above 0, b = {flood_b:g}, changes the "
          f"final test accuracy by {100 * change:+.2f} points ({100 * base['test_accuracy']:.2f}% -> "
          f"{100 * best['test_accuracy']:.2f}%). "
        + ("Keeping the loss floating around b instead of driving it to zero helps here, as Ishida et al. report: "
           "zero training loss is not needed, and not even desirable, once training error is zero."
           if change > 0 and best_b > 0 else
           f"On this budget ({cfg.train.epochs} epochs) flooding does not beat the baseline. With b = {flood_b:g} "
           f"the training cross-entropy never falls below {min(h['trainset_loss'] for h in best['history']):.3g} "
           f"(the baseline's reaches {min(h['trainset_loss'] for h in base['history']):.2g}) and the final "
           f"validation error differs by {best['final_val_error'] - base['final_val_error']:+.2f} points: "
           "driving the loss to zero is not what makes the baseline generalise, but this run gives no evidence "
           "that stopping short of zero helps either. "
           + (f"The flooded run's validation cross-entropy does end lower ({best['history'][-1]['val_loss']:.3g} vs "
              f"{base['history'][-1]['val_loss']:.3g}): the baseline grows over-confident on the points it gets "
              "wrong, the effect Ishida et al. describe, but on this budget it does not change the error. "
              if best['history'][-1]['val_loss'] < base['history'][-1]['val_loss'] else "")
           + "Ishida et al.'s accuracy gains come from much longer training (the full preset's 500 epochs).")))
    if cnn:
        rec.text("Reading: MLP vs CNN (Q5.5)", (
            f"The CNN reaches {100 * cnn['0']['test_accuracy']:.2f}% test accuracy against the MLP's "
            f"{100 * base['test_accuracy']:.2f}%, with far fewer parameters: its convolutions share weights across "
            "positions and see local neighbourhoods, and pooling adds tolerance to small shifts, so it needs to "
            "learn each stroke detector once rather than at every pixel position."))
    return {"best_b": best_b, "flooded_b": flood_b, "baseline": _public(base), "flooded": _public(best),
            "test_accuracy_change": change, "val_error_by_b": {f"{b:g}": r["best_val_error"] for b, r in by_b.items()},
            "cnn": cnn, "split": split}
