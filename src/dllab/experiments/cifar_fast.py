"""Fast CIFAR-10 on the CPU: the airbench94 recipe (our implementation), the dllab recipe and the homework
recipe, each on the same machine so that speed-ups are ratios. Recipes are tuned on a 45,000 / 5,000 split of
the training set (``split=holdout``); the reported runs train on all 50,000 and test on the 10,000 test images,
which are never used for any choice."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dllab import courses
from dllab.config import ExperimentConfig
from dllab.nn.config import FastConfig

DESCRIPTION = "fast CIFAR-10 on the CPU: airbench94 (our implementation) and the dllab recipe, 94% / 85% targets"
HOMEWORK = [(courses.CS229BR, "Q2.1 (fast training)")]
HEADLINE = {"mean test accuracy": "mean_accuracy", "mean time (s)": "mean_time_s"}
ESTIMATE_S = {"smoke": 30, "cpu": 1200, "full": 6000}

# target -> recipe -> overrides of FastConfig (airbench94's published numbers are FastConfig's defaults)
RECIPES: dict[int, dict[str, dict]] = {
    94: {"airbench94": {}, "dllab": {}},
    # 85%: the same network and optimiser on a shorter schedule (untuned in this release: see docs)
    85: {"airbench94": {"epochs": 3.0}, "dllab": {"epochs": 3.0}},
}


class Config(ExperimentConfig):
    recipe: Literal["dllab", "airbench94", "homework"] = Field("dllab", description="which recipe trains")
    target: Literal[94, 85] = Field(94, description="the accuracy the recipe aims at")
    seeds: int = Field(1, ge=1, le=20, description="runs with seeds seed, seed + 1, ...; mean and spread reported")
    split: Literal["test", "holdout"] = Field("test", description="test: train on 50,000, measure on the 10,000 "
                                                                  "test images; holdout: train on 45,000, measure "
                                                                  "on the other 5,000 (for tuning)")
    n_train: int | None = Field(None, ge=100, description="first n training images (smoke runs)")
    n_eval: int | None = Field(None, ge=100, description="first n evaluation images (smoke runs; None: all)")
    fast: FastConfig | None = Field(None, description="overrides of the recipe's numbers (None: the recipe's)")


PRESETS = {
    "smoke": {"n_train": 2048, "n_eval": 1000, "fast": {"epochs": 2.0, "batch_size": 256, "precision": "fp32",
                                                       "widths": [16, 32, 32], "tta_level": 1}},
    "cpu": {},
    "full": {"seeds": 5},
}

SUMMARY_KEYS = {
    "mean_accuracy": "mean over seeds of the final (TTA) accuracy on the evaluation images",
    "std_accuracy": "standard deviation over seeds", "accuracies": "per seed", "times_s": "per seed, wall time "
    "after the data is loaded (set-up, whitening, training, evaluation, TTA)", "mean_time_s": "their mean",
    "recipe": "recipe name", "target": "accuracy target", "split": "what was trained on and measured",
    "bf16": "whether bf16 autocast was chosen (measured at start-up)", "step_times": "measured s per step, fp32/bf16",
    "config": "the recipe's numbers as run", "train_indices_sha256": "hash of the training indices used",
}


def recipe_config(cfg: Config) -> FastConfig:
    if cfg.recipe == "homework":
        from dllab.errors import ConfigError

        raise ConfigError("recipe=homework is Myrtle-5 with plain SGD: run 'dllab run cifar-train --preset full' "
                          "(2 h 16 min on 2 cores); benchmarks/cifar_fast.py measures its images/s")
    base = FastConfig(**RECIPES[cfg.target][cfg.recipe])
    return base.model_copy(update=cfg.fast.model_dump(exclude_unset=True)) if cfg.fast is not None else base


def split_indices(n_total: int, split: str, n_train: int | None, seed: int):
    """Training and evaluation indices into the *training* set for split=holdout (a seeded 45,000 / 5,000 split),
    or (all training indices, None) for split=test. Test images never enter this function."""
    import numpy as np

    from dllab.seeding import rng

    if split == "holdout":
        order = rng(seed, "cifar-fast", "holdout").permutation(n_total)
        train, held = np.sort(order[:n_total - n_total // 10]), np.sort(order[n_total - n_total // 10:])
    else:
        train, held = np.arange(n_total), None
    return (train[:n_train] if n_train else train), held


def run(cfg: Config, rec) -> dict:
    import hashlib

    import numpy as np
    import torch

    from dllab import data, plotting
    from dllab.environment import cpu_cores, describe_cpu

    fc = recipe_config(cfg)
    torch.set_num_threads(cpu_cores())
    ds = data.load("cifar10")
    train_idx, held_idx = split_indices(len(ds.x_train), cfg.split, cfg.n_train, cfg.seed)
    x_tr = torch.from_numpy(np.array(ds.x_train[train_idx]))
    y_tr = torch.from_numpy(np.array(ds.y_train[train_idx], np.int64))
    if cfg.split == "holdout":
        x_ev = torch.from_numpy(np.array(ds.x_train[held_idx]))
        y_ev = torch.from_numpy(np.array(ds.y_train[held_idx], np.int64))
    else:
        x_ev, y_ev = torch.from_numpy(np.array(ds.x_test)), torch.from_numpy(np.array(ds.y_test, np.int64))
    if cfg.n_eval:
        x_ev, y_ev = x_ev[:cfg.n_eval], y_ev[:cfg.n_eval]

    def one(seed: int) -> dict:
        from dllab.nn.fast import train_fast

        def log(r):
            rec.log(run=f"seed{seed}", **r)

        r = train_fast(fc, x_tr, y_tr, x_ev, y_ev, seed=seed, log=log, progress=rec._show_progress)
        return {k: r[k] for k in ("accuracy", "time_s", "bf16", "step_times", "history", "steps")}

    results = [rec.stage(f"seed{cfg.seed + i}", lambda s=cfg.seed + i: one(s)) for i in range(cfg.seeds)]
    accs = np.array([r["accuracy"] for r in results])
    times = np.array([r["time_s"] for r in results])
    where = f"{len(x_ev)} test images" if cfg.split == "test" else f"{len(x_ev)} held-out training images"
    rec.text("Setting", f"{ds.describe()}. Recipe {cfg.recipe} for {cfg.target}%: trained on {len(train_idx)} "
                        f"training images, measured on {where}. CPU: {describe_cpu()}, {cpu_cores()} threads; "
                        f"bf16 autocast {'on' if results[0]['bf16'] else 'off'} (measured s/step: "
                        f"{results[0]['step_times'] or 'fixed by config'}).")
    hist = {f"seed {cfg.seed + i}": r["history"] for i, r in enumerate(results)}
    if all("eval_acc" in h for r in results for h in r["history"]):
        fig, ax = plotting.subplots(width=6, height=3.8)
        series = {k: ([h["time_s"] for h in v], [100 * h["eval_acc"] for h in v]) for k, v in hist.items()}
        plotting.curves(ax, series, title="Accuracy (no TTA) against wall time", xlabel="seconds",
                        ylabel="accuracy (%)")
        rec.figure(fig, "accuracy_vs_time", "Accuracy after each epoch, without test-time augmentation.")
    rec.table("Runs", [{"seed": cfg.seed + i, "accuracy (TTA)": r["accuracy"], "time (s)": round(r["time_s"], 1),
                        "steps": r["steps"]} for i, r in enumerate(results)])
    rec.text("Reading", f"Mean accuracy {100 * accs.mean():.2f}% (std {100 * accs.std():.2f} over {len(accs)} "
                        f"seeds; target {cfg.target}%: {'met' if accs.mean() * 100 >= cfg.target else 'missed'}) "
                        f"in {times.mean():.0f} s on average.")
    return {"mean_accuracy": float(accs.mean()), "std_accuracy": float(accs.std()), "accuracies": accs.tolist(),
            "times_s": times.tolist(), "mean_time_s": float(times.mean()), "recipe": cfg.recipe,
            "target": cfg.target, "split": cfg.split, "bf16": results[0]["bf16"],
            "step_times": results[0]["step_times"], "config": fc.model_dump(),
            "train_indices_sha256": hashlib.sha256(np.asarray(train_idx, np.int64).tobytes()).hexdigest()[:16]}
