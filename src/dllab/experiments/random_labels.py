"""Zhang et al. (2017): a wide CNN fits even random labels of CIFAR-10; a narrow one cannot."""

from __future__ import annotations

from pydantic import Field

from dllab import courses
from dllab.experiments._cifar import CifarConfig
from dllab.nn.config import TorchTrainConfig

DESCRIPTION = "random labels (Zhang et al. 2017): label noise p in {0, 0.5, 1} x widths {4, 64}, train to interpolation"
HOMEWORK = [(courses.THEORY_SEMINAR, "Problem 2")]
# what the suite's front page shows (label -> dotted summary key), and stated wall times (s) on 2 cores
HEADLINE = {"wide net interpolates": "wide_interpolated", "narrow net interpolates": "narrow_interpolated"}
ESTIMATE_S = {"smoke": 30, "cpu": 600, "full": 30000}


class Config(CifarConfig):
    noise_levels: list[float] = Field([0.0, 0.5, 1.0], description="p: share of training labels redrawn at "
                                                                    "random (1.0: all random)")
    widths: list[int] = Field([4, 64], description="Myrtle-5 widths c (narrow and wide)")
    interpolation_threshold: float = Field(0.01, gt=0, lt=1, description="'interpolated' = train error below this")
    # Adam with small batches memorises random labels in a few dozen epochs; SGD at the recipe's lr 0.1 (and
    # momentum 0.9) barely moves on 1,000 random labels in the same budget (measured: 15% train accuracy after
    # 12 epochs vs 97.5% for Adam, width 64).
    train: TorchTrainConfig = TorchTrainConfig(epochs=100, batch_size=32, optimizer="adam", lr=1e-3,
                                               schedule="constant", stop_at_train_acc=0.999)
    workers: int | None = Field(None, ge=1, description="parallel processes for the runs (None: one per core of "
                                                        "the budget, DLLAB_THREADS or all cores)")


PRESETS = {
    "smoke": {"n_train": 300, "widths": [2, 8], "train": {"epochs": 2}, "workers": 1},
    "cpu": {"n_train": 2000, "train": {"epochs": 40}},
    "full": {},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "table": ("errors (%) per width and label-noise level p",
              "width -> p -> {final_train_error (eval mode, on the labels trained on), final_test_error (%), "
               "epochs, interpolated}"),
    "wide_interpolated": ("widest model interpolated, per p",
                          "p -> whether the widest model reached train error below the threshold"),
    "narrow_interpolated": ("narrowest model interpolated, per p",
                            "p -> the same for the narrowest model"),
    "label_noise": ("what the label noise did, per p",
                    "p -> {changed_fraction, redrawn, seed}: what the noise actually did"),
}


def train_one(rec, cfg: Config, width: int, p: float) -> dict:
    """One (width, p) run: labels redrawn once (seeded by the run seed and p), trained until interpolation or the
    epoch budget ends."""
    import numpy as np
    import torch

    from dllab.experiments import _cifar
    from dllab.nn.data import noisy_labels
    from dllab.nn.train import evaluate, fit

    ds, train, test, device = _cifar.load(cfg.n_train)
    y_noisy, _ = noisy_labels(train[1].cpu().numpy(), p, 10, seed=_label_seed(cfg, p))
    noisy_train = (train[0], torch.from_numpy(y_noisy).to(device))
    net = _cifar.model(cfg, width)
    # no per-epoch test evaluation: on 2 cores it would cost more than the training itself
    res = fit(net, noisy_train, {}, cfg.train, prep=_cifar.prep, num_classes=10, seed=cfg.seed, recorder=rec,
              name=f"c{width}_p{p:g}", log_extra={"width": width, "p": p})
    final_train = evaluate(net, *noisy_train, _cifar.prep, num_classes=10)  # eval mode, the labels it was fitted to
    final_test = evaluate(net, *test, _cifar.prep, num_classes=10)
    return {"history": res.history, "final_train_error": 100 * (1 - final_train["acc"]),
            "final_test_error": 100 * (1 - final_test["acc"]), "epochs": len(res.history),
            "interpolated": bool(1 - final_train["acc"] < cfg.interpolation_threshold),
            "changed_fraction": float(np.mean(y_noisy != train[1].cpu().numpy()))}


def _label_seed(cfg: Config, p: float) -> int:
    """The seed of the labels redrawn at noise level p: the same for every width, recorded in the summary."""
    from dllab.seeding import int_seed

    return int_seed(cfg.seed, "labels", p)


def run(cfg: Config, rec) -> dict:
    """Every (width, p) pair is one parallel stage, trained to interpolation or the epoch budget."""
    from dllab import data
    from dllab.experiments import _cifar

    ds = data.load("cifar10")  # the runs build their tensors in their own processes
    n = min(cfg.n_train or len(ds.x_train), len(ds.x_train))
    rec.text("Protocol", _cifar.describe(ds, n, cfg) + (
        f" Widths {cfg.widths}, label-noise rates {cfg.noise_levels}: a p fraction of the training labels, chosen "
        "once per run with a recorded seed, is replaced by labels drawn uniformly from the 10 classes (so about "
        "10% of those keep their true label). Each run stops once its training accuracy (running average over "
        f"the epoch) reaches {100 * cfg.train.stop_at_train_acc:g}% or after {cfg.train.epochs} epochs. Test labels "
        "are never changed."))
    runs_spec = [(w, p) for w in cfg.widths for p in cfg.noise_levels]
    results = rec.map_stages({_name(w, p): (train_one, {"cfg": cfg, "width": w, "p": p}) for w, p in runs_spec},
                             workers=cfg.workers)
    return _report(cfg, rec, n, {(w, p): results[_name(w, p)] for w, p in runs_spec})


def _name(width: int, p: float) -> str:
    return f"c{width}_p{p:g}"


def STAGES(cfg: Config) -> list[str]:
    """The stages a run of ``cfg`` trains (for cost estimates): every width at every noise level."""
    return [_name(w, p) for w in cfg.widths for p in cfg.noise_levels]


# -- the report ---------------------------------------------------------------------------------------------

def _report(cfg: Config, rec, n: int, res: dict) -> dict:
    from dllab import plotting
    from dllab.nn.models import count_parameters, make_cnn

    runs_spec = list(res)
    fig, ax = plotting.subplots(width=6)
    axes = [ax]
    for i, w in enumerate(cfg.widths):
        axes[0].plot(cfg.noise_levels, [res[w, p]["final_train_error"] for p in cfg.noise_levels], "o-",
                     color=f"C{i}", label=f"width {w}: train")
        axes[0].plot(cfg.noise_levels, [res[w, p]["final_test_error"] for p in cfg.noise_levels], "s--",
                     color=f"C{i}", label=f"width {w}: test")
    axes[0].axhline(90, color="gray", ls=":", label="chance (90% error)")
    axes[0].set(title="Final error vs label noise", xlabel="label-noise rate p", ylabel="error (%)")
    axes[0].legend(fontsize=7)
    rec.figure(fig, "random_labels", "After the last epoch, in eval mode (train error on the labels trained on).")
    fig, _ = plotting.learning_curves({f"c={w}, p={p:g}": res[w, p]["history"] for w, p in runs_spec},
                                      {"train": "train"}, error=True, title="Training on noisy labels")
    rec.figure(fig, "training_curves", "Running averages over each epoch's mini-batches, on the labels trained on.")
    rec.table("Final errors", [{"width": w, "p": p, "train error (%)": round(res[w, p]["final_train_error"], 2),
                                "test error (%)": round(res[w, p]["final_test_error"], 2),
                                "epochs": res[w, p]["epochs"], "interpolated": res[w, p]["interpolated"]}
                               for w, p in runs_spec])
    wide, narrow = max(cfg.widths), min(cfg.widths)
    top = max(cfg.noise_levels)
    n_wide, n_narrow = count_parameters(make_cnn(wide)), count_parameters(make_cnn(narrow))
    hist = res[narrow, top]["history"]
    recent = [100 * (1 - e["train_acc"]) for e in hist[-5:]]
    falling = len(recent) == 5 and recent[0] - recent[-1] > 1.0
    narrow_text = (
        f"The width-{narrow} network ({n_narrow:,} parameters against {n_wide:,}) ends at "
        f"{res[narrow, top]['final_train_error']:.1f}% train error at p = {top:g} after {res[narrow, top]['epochs']} "
        "epochs" + (f", and its training error was still falling ({recent[0]:.1f}% -> {recent[-1]:.1f}% over the "
                    "last 5 epochs): it memorises random labels far more slowly, and may not interpolate at all. "
                    if falling else ", no longer falling: it lacks the capacity to memorise labels without signal. "))
    rec.text("Reading", (
        f"The width-{wide} network {'reaches' if res[wide, top]['interpolated'] else 'does not reach'} train error "
        f"below {100 * cfg.interpolation_threshold:g}% at p = {top:g} (final "
        f"{res[wide, top]['final_train_error']:.2f}% after {res[wide, top]['epochs']} epochs), while its test error "
        f"there is {res[wide, top]['final_test_error']:.1f}% (chance: 90%). " + narrow_text +
        "Capacity, not the structure of the labels, decides whether the training set can be fitted, and fitting "
        "it says nothing about generalisation (Zhang et al. 2017)."))
    return {"table": {str(w): {f"{p:g}": {k: res[w, p][k] for k in ("final_train_error", "final_test_error", "epochs",
                                                                     "interpolated")}
                               for p in cfg.noise_levels} for w in cfg.widths},
            "wide_interpolated": {f"{p:g}": res[wide, p]["interpolated"] for p in cfg.noise_levels},
            "narrow_interpolated": {f"{p:g}": res[narrow, p]["interpolated"] for p in cfg.noise_levels},
            "label_noise": {f"{p:g}": {"changed_fraction": res[wide, p]["changed_fraction"],
                                       "redrawn": int(round(p * n)), "seed": _label_seed(cfg, p)}
                            for p in cfg.noise_levels}}
