"""Flooding (Ishida et al. 2020) on MNIST: does training need zero loss after zero error? MLP and CNN."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig
from dllab.nn.config import TorchTrainConfig

DESCRIPTION = "flooding |R-b|+b on MNIST (Ishida et al. 2020): b search with an MLP, baseline vs best b, a CNN"
HOMEWORK = [(courses.TSINGHUA, "Q5.2-Q5.5")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"best b": "best_b", "baseline test accuracy": "baseline.test_accuracy",
            "CNN test accuracy": "cnn.0.test_accuracy"}
ESTIMATE_S = {"smoke": 40, "cpu": 600, "full": 36000}


class Config(ExperimentConfig):
    b_values: list[float] = Field(default_factory=lambda: [round(0.01 * i, 2) for i in range(21)],
                                  description="flood levels searched (0 = no flooding, the baseline)")
    hidden: int = Field(500, ge=1, description="hidden units of the MLP 784 -> hidden -> 10 (Ishida et al.: 500)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="seeded random validation share of the training set")
    n_train: int | None = Field(None, ge=100, description="first n official training images (None: all)")
    train: TorchTrainConfig = TorchTrainConfig(epochs=500, batch_size=128, lr=0.1, momentum=0.9, checkpoint=True)
    cnn_epochs: int = Field(100, ge=0, description="epochs of the CNN runs (0: skip the CNN)")
    workers: int | None = Field(None, ge=1, description="parallel processes for the b runs (None: one per core of "
                                                        "the budget, DLLAB_THREADS or all cores)")


PRESETS = {
    "smoke": {"b_values": [0.0, 0.1], "n_train": 3000, "train": {"epochs": 2}, "cnn_epochs": 1, "workers": 1},
    "cpu": {"b_values": [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2], "train": {"epochs": 60}, "cnn_epochs": 15},
    "full": {},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "best_b": ("flood level b with the lowest validation error",
               "flood level with the lowest best-epoch validation error (0.0 is the baseline)"),
    "baseline": ("baseline (b = 0): errors (%), test accuracy, loss",
                 "b=0: {final_train_error, final_val_error, best_val_error (%), test_accuracy, final_val_loss, "
                  "first_zero_train_error_epoch}"),
    "flooded": ("best flooded run (b > 0): errors (%), test accuracy, loss",
                "the same for the best b above 0 (the comparison run; equals best_b unless that is 0)"),
    "flooded_b": ("flood level b of the flooded run",
                  "that flood level"),
    "test_accuracy_change": ("test accuracy change, flooded minus baseline",
                             "test accuracy of the flooded run minus the baseline's (final epoch)"),
    "val_error_by_b": ("best validation error (%) per flood level b",
                       "b -> best validation error (%) over the epochs"),
    "cnn": ("CNN at b = 0 and the best b: validation error (%), test accuracy",
            "{b: {final_val_error, test_accuracy}} for the CNN at b=0 and the best b (empty if cnn_epochs=0)"),
    "split": ("train / validation split",
              "{seed, n_train, n_val, val_indices_sha256}: the recorded train/validation split"),
}


def _split(cfg: Config):
    """The dataset and the seeded 8:2 split of its first n_train training images (indices; same in every worker)."""
    from dllab import data
    from dllab.seeding import rng

    ds = data.load("mnist")
    n = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    tr, va = data.random_split(n, 1 - cfg.val_fraction, rng(cfg.seed, "split"))
    return ds, tr, va


def _data(cfg: Config):
    """uint8 tensors of the split's training and validation parts and of the test set."""
    import numpy as np

    from dllab.nn.data import as_tensors

    ds, tr, va = _split(cfg)
    n = len(tr) + len(va)
    x, y = np.asarray(ds.x_train[:n]), np.asarray(ds.y_train[:n])
    return as_tensors(x[tr], y[tr]), as_tensors(x[va], y[va]), as_tensors(ds.x_test, ds.y_test)


def _prep(x):
    return x.unsqueeze(1).float().div_(255.0)  # (N,28,28) uint8 -> (N,1,28,28) in [0,1]


def train_b(rec, cfg: Config, b: float, model: str, epochs: int) -> dict:
    """One training run at flood level b (a stage; may run in a worker process)."""
    import torch.nn.functional as F

    from dllab.nn.models import flooded, mlp, mnist_cnn
    from dllab.nn.train import fit
    from dllab.seeding import torch_stream

    train, val, test = _data(cfg)
    with torch_stream(cfg.seed, "init", model):  # the same initial weights for every b
        net = mlp([784, cfg.hidden, 10]) if model == "mlp" else mnist_cnn()
    tc = cfg.train.model_copy(update={"epochs": epochs})
    res = fit(net, train, {"trainset": train, "val": val, "test": test}, tc, prep=_prep, num_classes=10,
              seed=cfg.seed, recorder=rec, name=f"{model}_b{b:g}", loss_fn=flooded(F.cross_entropy, b),
              log_extra={"b": b})
    hist = res.history
    zero = [h["epoch"] for h in hist if h["trainset_acc"] == 1.0]
    return {"b": b, "model": model, "history": hist,
            "final_train_error": 100 * (1 - hist[-1]["trainset_acc"]),
            "final_val_error": 100 * (1 - hist[-1]["val_acc"]),
            "best_val_error": 100 * (1 - max(h["val_acc"] for h in hist)),
            "test_accuracy": hist[-1]["test_acc"],
            "first_zero_train_error_epoch": zero[0] if zero else None}


def STAGES(cfg: Config) -> list[str]:
    """The stages a run of ``cfg`` trains (for cost estimates): the MLP at every b, the CNN at 0 and the best b."""
    return [f"mlp_b{b:g}" for b in cfg.b_values] + (["cnn_b0", "cnn_best"] if cfg.cnn_epochs else [])


def run(cfg: Config, rec) -> dict:
    """Q5.2-Q5.3: the MLP at every flood level b (parallel stages); Q5.5: the CNN at b = 0 and the best b."""
    import numpy as np

    ds, tr, va = _split(cfg)  # the runs build their tensors in their own processes
    np.savez(rec.dir / "split.npz", train_indices=tr, val_indices=va)
    mlp_runs = rec.map_stages({f"mlp_b{b:g}": (train_b, {"cfg": cfg, "b": b, "model": "mlp",
                                                          "epochs": cfg.train.epochs}) for b in cfg.b_values},
                              workers=cfg.workers)
    by_b = {r["b"]: r for r in mlp_runs.values()}
    best_b = min(by_b, key=lambda b: (by_b[b]["best_val_error"], b))
    # the comparison run: the best flood level above 0 (the best b overall may be the baseline itself)
    flood_b = min((b for b in by_b if b > 0), key=lambda b: (by_b[b]["best_val_error"], b), default=best_b)
    cnn = {}
    if cfg.cnn_epochs:
        cnn = rec.map_stages({f"cnn_b{b:g}": (train_b, {"cfg": cfg, "b": b, "model": "cnn", "epochs": cfg.cnn_epochs})
                              for b in sorted({0.0, best_b})}, workers=cfg.workers)
    return _report(cfg, rec, ds, (tr, va), by_b, best_b, flood_b, {r["b"]: r for r in cnn.values()})


def _public(r: dict) -> dict:
    out = {k: v for k, v in r.items() if k not in ("history", "model", "b")}
    out["final_val_loss"] = r["history"][-1]["val_loss"]
    return out


# -- the report, in the homework's question order ----------------------------------------------------------

def _report(cfg: Config, rec, ds, split_idx, by_b: dict, best_b: float, flood_b: float, cnn: dict) -> dict:
    import hashlib

    import numpy as np

    from dllab import plotting
    from dllab.nn.models import count_parameters, mlp, mnist_cnn

    tr, va = split_idx
    base, best = by_b.get(0.0) or by_b[min(by_b)], by_b[flood_b]
    rec.text("Protocol", (
        f"{ds.describe()}. The first {len(tr) + len(va)} official training images are split {len(tr)}:{len(va)} "
        f"at random with seed {cfg.seed} (indices in split.npz); the test set is the official 10,000. MLP "
        f"784-{cfg.hidden}-10 (ReLU), SGD lr {cfg.train.lr}, momentum {cfg.train.momentum}, batch "
        f"{cfg.train.batch_size}, {cfg.train.epochs} epochs, no augmentation, no learning-rate decay. The flooded "
        f"loss |R - b| + b is applied to each mini-batch's mean cross-entropy R, for b in {cfg.b_values}. Every b "
        "starts from the same initial weights and sees the same batches. Errors are % misclassified, measured on "
        "the whole set after each epoch."))

    # Q5.2-Q5.3: the baseline, the best flooded run, and the search over b
    fig, _ = plotting.learning_curves({"baseline b=0": base["history"], f"flooded b={flood_b:g}": best["history"]},
                                      {"train": "trainset", "validation": "val"}, error=True, log_error=True,
                                      log_loss=True, title="MLP")
    rec.figure(fig, "flooding", f"The baseline and the best flood level above 0 (b = {flood_b:g}); train solid, "
                                "validation dashed; cross-entropy is the plain R on the whole set.")
    fig, axes = plotting.subplots(2)
    axes[0].plot(list(by_b), [by_b[b]["best_val_error"] for b in by_b], "o-", label="best over epochs")
    axes[0].plot(list(by_b), [by_b[b]["final_val_error"] for b in by_b], "s--", label="last epoch")
    axes[0].axvline(best_b, color="gray", ls=":")
    axes[0].set(title="Validation error vs flood level", xlabel="flood level b", ylabel="validation error (%)")
    axes[0].legend(fontsize=7)
    axes[1].plot(list(by_b), [100 * by_b[b]["test_accuracy"] for b in by_b], "o-")
    axes[1].set(title="Test accuracy (last epoch) vs flood level", xlabel="flood level b", ylabel="accuracy (%)")
    rec.figure(fig, "flood_levels", f"The search over b (dotted: the best on validation, b = {best_b:g}).")
    rec.table("Flood levels", [{"b": b, "best val error (%)": round(r["best_val_error"], 3),
                                "final val error (%)": round(r["final_val_error"], 3),
                                "final train error (%)": round(r["final_train_error"], 3),
                                "test acc (%)": round(100 * r["test_accuracy"], 2),
                                "first epoch with 0 train error": r["first_zero_train_error_epoch"]}
                               for b, r in by_b.items()])
    rec.text("Reading: do we need zero training loss after zero training error? (Q5.4)",
             " ".join([_baseline_reading(cfg, base), _flooding_reading(cfg, base, best, best_b, flood_b)]))

    # Q5.5: the CNN
    if cnn:
        runs = {"MLP b=0": base["history"], **{f"CNN b={b:g}": r["history"] for b, r in cnn.items()}}
        fig, _ = plotting.learning_curves(runs, {"train": "trainset", "validation": "val"}, error=True,
                                          log_error=True, log_loss=True, title="MLP vs CNN")
        rec.figure(fig, "mlp_vs_cnn", "The homework's CNN (two 5x5 conv + pool blocks, linear) on the same split.")
        rec.table("MLP vs CNN", [
            {"model": "MLP", "parameters": count_parameters(mlp([784, cfg.hidden, 10])), "epochs": cfg.train.epochs,
             "final val error (%)": round(base["final_val_error"], 3),
             "test acc (%)": round(100 * base["test_accuracy"], 2)},
            *[{"model": f"CNN b={b:g}", "parameters": count_parameters(mnist_cnn()), "epochs": cfg.cnn_epochs,
               "final val error (%)": round(r["final_val_error"], 3),
               "test acc (%)": round(100 * r["test_accuracy"], 2)} for b, r in cnn.items()]])
        rec.text("Reading: MLP vs CNN (Q5.5)", (
            f"The CNN reaches {100 * cnn[0.0]['test_accuracy']:.2f}% test accuracy against the MLP's "
            f"{100 * base['test_accuracy']:.2f}%, with far fewer parameters: its convolutions share weights across "
            "positions and see local neighbourhoods, and pooling adds tolerance to small shifts, so it needs to "
            "learn each stroke detector once rather than at every pixel position."))
    split = {"seed": cfg.seed, "n_train": len(tr), "n_val": len(va),
             "val_indices_sha256": hashlib.sha256(np.asarray(va, np.int64).tobytes()).hexdigest()}
    return {"best_b": best_b, "flooded_b": flood_b, "baseline": _public(base), "flooded": _public(best),
            "test_accuracy_change": best["test_accuracy"] - base["test_accuracy"],
            "val_error_by_b": {f"{b:g}": r["best_val_error"] for b, r in by_b.items()},
            "cnn": {f"{b:g}": _public(r) for b, r in cnn.items()}, "split": split}


def _baseline_reading(cfg: Config, base: dict) -> str:
    """What the baseline does after it reaches zero training error (computed from its history)."""
    zero, hist = base["first_zero_train_error_epoch"], base["history"]
    if not zero:
        return (f"The baseline has not reached zero training error within {cfg.train.epochs} epochs "
                f"(final {base['final_train_error']:.3f}%).")
    at, end = hist[zero - 1], hist[-1]
    trend = "rises" if end["val_loss"] > at["val_loss"] else "does not"
    return (f"The baseline reaches zero training error at epoch {zero}; after that its training loss keeps falling "
            f"toward zero ({at['trainset_loss']:.2g} -> {end['trainset_loss']:.2g}) while the validation loss "
            f"{trend} ({at['val_loss']:.3g} -> {end['val_loss']:.3g}): the network only grows more confident on "
            "points it already classifies correctly.")


def _flooding_reading(cfg: Config, base: dict, best: dict, best_b: float, flood_b: float) -> str:
    """Whether flooding helped, and how the flooded run's losses differ from the baseline's."""
    change = best["test_accuracy"] - base["test_accuracy"]
    head = (f"The best flood level on validation is b = {best_b:g}; the best above 0, b = {flood_b:g}, changes the "
            f"final test accuracy by {100 * change:+.2f} points ({100 * base['test_accuracy']:.2f}% -> "
            f"{100 * best['test_accuracy']:.2f}%).")
    if change > 0 and best_b > 0:
        return head + (" Keeping the loss floating around b instead of driving it to zero helps here, as Ishida et "
                       "al. report: zero training loss is not needed, and not even desirable, once training error "
                       "is zero.")
    floor = min(h["trainset_loss"] for h in best["history"])
    base_floor = min(h["trainset_loss"] for h in base["history"])
    text = (f" On this budget ({cfg.train.epochs} epochs) flooding does not beat the baseline. With b = {flood_b:g} "
            f"the training cross-entropy never falls below {floor:.3g} (the baseline's reaches {base_floor:.2g}) and "
            f"the final validation error differs by {best['final_val_error'] - base['final_val_error']:+.2f} points: "
            "driving the loss to zero is not what makes the baseline generalise, but this run gives no evidence "
            "that stopping short of zero helps either.")
    val_f, val_b = best["history"][-1]["val_loss"], base["history"][-1]["val_loss"]
    if val_f < val_b:
        text += (f" The flooded run's validation cross-entropy does end lower ({val_f:.3g} vs {val_b:.3g}): the "
                 "baseline grows over-confident on the points it gets wrong, the effect Ishida et al. describe, but "
                 "on this budget it does not change the error.")
    return head + text + (" Ishida et al.'s accuracy gains come from much longer training (the full preset's 500 "
                          "epochs).")
