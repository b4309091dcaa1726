"""The CIFAR-10 warm-up answered: the homework's knobs on Myrtle-5, and training without batch norm.

Harvard CS229br HW0 Q2.1 and the ML theory seminar's "Train CIFAR-10" ask students to play with the model
definition, the batch size, the learning-rate schedule, the number of training images and the optimiser, and to
remove batch norm ("it should still work, but may be more sensitive to choices like initialization, layer widths,
and learning rates"). Each question here is a grid of cells (one training run per cell and seed, each a stage of
its own through the executor); every choice of "best" is made on a validation split of the training images, and
every finding is computed from the numbers (:mod:`dllab.experiments._study_findings`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from dllab import courses
from dllab.experiments import _study_findings as findings
from dllab.experiments._cifar import RECIPE, CifarConfig
from dllab.nn.config import TorchTrainConfig

DESCRIPTION = ("Myrtle-5 knob study on CIFAR-10: model size, batch x lr, schedules, data scaling, optimisers, "
               "and batch norm removed (lr x init x width), findings computed from the numbers")
HOMEWORK = [(courses.CS229BR, "Q2.1"), (courses.THEORY_SEMINAR, "Train CIFAR-10 (play with the parameters; "
                                                                "remove batch norm)")]
HEADLINE = {"best lr ~ batch^k, k": "batch_lr.scaling_exponent", "best schedule": "schedules.best",
            "test error ~ n^slope, slope": "data.slope"}
ESTIMATE_S = {"smoke": 15, "cpu": 3000, "full": 2_000_000}

QUESTIONS = ("model", "batch_lr", "schedules", "data", "optimizers", "batch_norm")  # the homework's order
OPTIMIZERS = {  # name -> the training config's optimiser knobs
    "sgd": {"optimizer": "sgd", "momentum": 0.0, "nesterov": False},
    "momentum": {"optimizer": "sgd", "momentum": 0.9, "nesterov": False},
    "nesterov": {"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
    "adam": {"optimizer": "adam", "momentum": 0.0, "nesterov": False},
    "adamw": {"optimizer": "adamw", "momentum": 0.0, "nesterov": False},
}
Schedule = Literal["constant", "step", "cosine", "linear"]


class Config(CifarConfig):
    train: TorchTrainConfig = Field(RECIPE.model_copy(update={"bn_recalibrate": 2048}), description=(
        "the base cell's training (the homework's recipe), with batch-norm statistics re-estimated on 2,048 "
        "training images before each evaluation: at a constant lr 0.1 the running averages are stale"))
    seeds: int = Field(3, ge=1, le=20, description="seeds per cell (seed, seed + 1, ...): means and error bars")
    questions: list[Literal[QUESTIONS]] = Field(list(QUESTIONS), min_length=1,
                                                description=f"which questions to run, of {', '.join(QUESTIONS)}")
    val_size: int = Field(5000, ge=100, le=25000, description="validation images held out of the 50,000 training "
                                                              "images (seeded); every 'best' is chosen on them")
    n_test: int | None = Field(None, ge=100, description="first n official test images (None: all 10,000)")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 autocast if a start-up "
                                                                          "timing finds it faster, else fp32")
    widths: list[int] = Field([16, 32, 64, 128], min_length=1, description="model: widths c of Myrtle-5")
    depths: list[int] = Field([1, 2, 3], min_length=1, description="model: convs per pooled group at width c "
                                                                   "(1: Myrtle-5; 2: 8 weight layers; 3: 11)")
    batch_sizes: list[int] = Field([32, 128, 512], min_length=1, description="batch_lr: batch sizes")
    lrs: list[float] = Field([0.0125, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6], min_length=2,
                             description="batch_lr and batch_norm: the learning-rate grid (SGD)")
    schedules: list[Schedule] = Field(["constant", "step", "cosine", "linear"], min_length=1,
                                      description="schedules: each with and without warm-up (linear + warm-up is "
                                                  "the one-cycle shape)")
    warmup_epochs: float = Field(2.0, gt=0, description="schedules and batch_norm: linear warm-up length")
    step_at: float = Field(0.67, gt=0, lt=1, description="schedules: the step schedule multiplies the lr by "
                                                         "train.step_gamma at this share of the epochs")
    n_values: list[int] = Field([1000, 2000, 5000, 10000, 20000, 45000], min_length=2,
                                description="data: training-set sizes (below n_train, epochs grow so that every "
                                            "size gets at least n_train's number of steps)")
    optimizer_lrs: dict[Literal[tuple(OPTIMIZERS)], list[float]] = Field(
        {"sgd": [0.05, 0.1, 0.2, 0.4], "momentum": [0.005, 0.01, 0.02, 0.04],
         "nesterov": [0.005, 0.01, 0.02, 0.04], "adam": [0.0003, 0.001, 0.003], "adamw": [0.0003, 0.001, 0.003]},
        min_length=1, description="optimizers: each optimiser's learning-rate grid (momentum 0.9)")
    adamw_weight_decay: float = Field(0.05, ge=0, description="optimizers: AdamW's decoupled weight decay")
    inits: list[str] = Field(["default", "kaiming*0.5", "kaiming", "kaiming*2", "xavier"], min_length=2,
                             description="batch_norm: initialisations, 'scheme' or 'scheme*scale' with scheme "
                                         "default (PyTorch's), kaiming or xavier")
    bn_widths: list[int] = Field([32, 128], min_length=2, max_length=2, description="batch_norm: the narrow and "
                                                                                    "the wide width without BN")
    usable_fraction: float = Field(0.9, gt=0, lt=1, description="a learning rate is usable when its validation "
                                                                "accuracy is at least this share of the best")
    trained_above: float = Field(0.2, gt=0.1, lt=1, description="a run whose final validation accuracy is not "
                                                                "above this has failed to train (chance: 0.1)")
    workers: int | None = Field(None, ge=1, description="parallel training processes (None: one per core of the "
                                                        "budget, DLLAB_THREADS or all cores)")

    @field_validator("inits")
    @classmethod
    def _known_inits(cls, inits: list[str]) -> list[str]:
        for item in inits:
            parse_init(item)
        return inits


def parse_init(item: str) -> tuple[str, float]:
    """'kaiming*0.5' -> ('kaiming', 0.5); 'xavier' -> ('xavier', 1.0). A bad item raises ValueError saying why."""
    from dllab.nn.config import INITS

    scheme, _, scale = item.partition("*")
    try:
        factor = float(scale) if scale else 1.0
    except ValueError:
        factor = -1.0
    if scheme not in INITS or not factor > 0:
        raise ValueError(f"init {item!r}: expected 'scheme' or 'scheme*scale' with scheme one of "
                         f"{', '.join(INITS)} and a positive scale, e.g. 'kaiming*0.5'")
    return scheme, factor


PRESETS = {
    "smoke": {"width": 4, "n_train": 256, "val_size": 256, "n_test": 500, "seeds": 1, "precision": "fp32",
              "train": {"epochs": 1, "batch_size": 64}, "widths": [2, 4], "depths": [1, 2], "batch_sizes": [32, 64],
              "lrs": [0.05, 3.2], "schedules": ["constant", "cosine"], "warmup_epochs": 0.5, "n_values": [128, 256],
              "optimizer_lrs": {"sgd": [0.05], "momentum": [0.005], "nesterov": [0.005], "adam": [0.001],
                                "adamw": [0.001]},
              "inits": ["default", "kaiming*2"], "bn_widths": [2, 4], "workers": 1},
    "cpu": {"width": 16, "n_train": 10000, "seeds": 2, "train": {"epochs": 3},
            "widths": [4, 8, 16, 32], "depths": [1, 2], "lrs": [0.025, 0.1, 0.4, 1.6, 6.4], "warmup_epochs": 1.0,
            "n_values": [1250, 2500, 5000, 10000, 20000],
            "optimizer_lrs": {"sgd": [0.025, 0.1, 0.4], "momentum": [0.0025, 0.01, 0.04],
                              "nesterov": [0.0025, 0.01, 0.04], "adam": [0.0003, 0.001, 0.003],
                              "adamw": [0.0003, 0.001, 0.003]},
            "inits": ["default", "kaiming", "kaiming*3", "xavier"], "bn_widths": [8, 16]},
    "full": {"n_train": 45000},
}

SUMMARY_KEYS = {  # key -> (label with its unit, as the report shows it; what the value holds)
    "model": ("model size: accuracy and time against parameters",
              "{rows: [{width, convs, parameters, val_accuracy, test_accuracy, time_s}], points_per_doubling, "
               "time_exponent}: accuracy and time against parameters"),
    "batch_lr": ("batch x learning rate: best lr, scaling exponent, break points",
                 "{best_lr: {batch: lr (interpolated)}, scaling_exponent (best lr ~ batch^k), breaks_at: {batch: "
                  "smallest lr that diverged or failed, null if none}}"),
    "schedules": ("schedules: mean validation accuracy",
                  "{val_accuracy: {schedule: mean validation accuracy}, best}"),
    "data": ("training images: test error, power-law slope",
             "{test_error: {n: mean test error}, slope (test error ~ n^slope), r2}"),
    "optimizers": ("optimisers: tuned lr, validation and test accuracy",
                   "{optimizer: {lr (tuned on validation), val_accuracy, test_accuracy}}"),
    "batch_norm": ("batch norm removed: predictions and verdicts",
                   "{predictions: [{claim, verdict (supported / refuted / inconclusive), evidence}], diverged, "
                    "failed}: cells of the question that diverged or failed to train"),
    "findings": ("findings per question",
                 "question -> the written finding (computed from the numbers); model_timing: the model's wall times"),
    "cells": ("distinct training configurations",
              "distinct training configurations run (each over `seeds` seeds)"),
    "runs": ("training runs (cells x seeds)", ""),
    "bf16": ("bf16 autocast used",
             "whether bf16 autocast was used (precision=auto: timed at start-up)"),
    "step_times": ("time per training step, fp32 and bf16 (s)",
                   "seconds per training step timed at start-up, fp32 and bf16 (empty unless precision=auto)"),
    "n_train": ("training images per cell",
                "training images of a cell at the default size"),
    "n_val": ("validation images", ""),
    "n_test": ("test images", ""),
}


# -- the grid: every question is a set of cells, each a complete description of one training run ---------------

def base_cell(cfg: Config) -> dict:
    """The homework's recipe at the study's size: the cell every question varies one or two knobs of."""
    t = cfg.train
    return {"width": cfg.width, "convs": 1, "bn": cfg.batch_norm, "init": cfg.init, "scale": cfg.init_scale,
            "n": cfg.n_train or 50000 - cfg.val_size, "epochs": t.epochs, "batch": t.batch_size, "lr": t.lr,
            "optimizer": t.optimizer, "momentum": t.momentum, "nesterov": t.nesterov,
            "weight_decay": t.weight_decay, "schedule": t.schedule, "warmup": t.warmup_epochs}


def plan(cfg: Config) -> dict[str, dict[tuple, dict]]:
    """question -> {point key: cell}; cells without a seed (each runs once per seed)."""
    base = base_cell(cfg)
    out: dict[str, dict[tuple, dict]] = {}
    if "model" in cfg.questions:
        out["model"] = {(c, 1): {**base, "width": c} for c in cfg.widths}
        out["model"].update({(cfg.width, d): {**base, "convs": d} for d in cfg.depths})
    if "batch_lr" in cfg.questions:
        out["batch_lr"] = {(b, lr): {**base, "batch": b, "lr": lr} for b in cfg.batch_sizes for lr in cfg.lrs}
    if "schedules" in cfg.questions:
        out["schedules"] = {(s, wu): {**base, "schedule": s, "warmup": wu}
                            for s in cfg.schedules for wu in (0.0, cfg.warmup_epochs)}
    if "data" in cfg.questions:  # small sets get more epochs: at least the default size's number of steps
        out["data"] = {(n,): {**base, "n": n, "epochs": max(base["epochs"], math.ceil(base["epochs"] * base["n"] / n))}
                       for n in cfg.n_values}
    if "optimizers" in cfg.questions:
        out["optimizers"] = {(name, lr): {**base, **OPTIMIZERS[name], "lr": lr, "weight_decay": (
            cfg.adamw_weight_decay if name == "adamw" else base["weight_decay"])}
            for name, lrs in cfg.optimizer_lrs.items() for lr in lrs}
    if "batch_norm" in cfg.questions:
        bn = {}
        for on in (True, False):
            for item in cfg.inits:
                scheme, scale = parse_init(item)
                bn.update({("init", on, item, lr): {**base, "bn": on, "init": scheme, "scale": scale, "lr": lr}
                           for lr in cfg.lrs})
        for w in cfg.bn_widths:
            bn.update({("width", w, lr): {**base, "bn": False, "width": w, "lr": lr} for lr in cfg.lrs})
        bn.update({("warmup", lr): {**base, "bn": False, "lr": lr, "warmup": cfg.warmup_epochs} for lr in cfg.lrs})
        out["batch_norm"] = bn
    return out


def cell_name(cell: dict, seed: int) -> str:
    """A readable, unique stage name: the same cell in two questions is trained once."""
    c = cell
    mom = f"m{c['momentum']:g}{'n' if c['nesterov'] else ''}" if c["optimizer"] == "sgd" else ""
    wd = f"-wd{c['weight_decay']:g}" if c["weight_decay"] else ""
    wu = f"+wu{c['warmup']:g}" if c["warmup"] else ""
    return (f"w{c['width']}x{c['convs']}-{'bn' if c['bn'] else 'nobn'}-{c['init']}{c['scale']:g}-n{c['n']}e"
            f"{c['epochs']}-b{c['batch']}-{c['optimizer']}{mom}{wd}-lr{c['lr']:g}-{c['schedule']}{wu}-s{seed}")


def _tensors(cfg: Config, n: int):
    """uint8 tensors: the first n images of the training part, the validation part, the (first n_test) test set."""
    from dllab import data
    from dllab.nn.data import as_tensors
    from dllab.seeding import rng

    ds = data.load("cifar10")
    train_idx, val_idx = data.random_split(len(ds.x_train), 1 - cfg.val_size / len(ds.x_train), rng(cfg.seed, "split"))
    x, y = ds.x_train, ds.y_train
    k = cfg.n_test or len(ds.x_test)
    return (as_tensors(x[train_idx[:n]], y[train_idx[:n]]), as_tensors(x[val_idx], y[val_idx]),
            as_tensors(ds.x_test[:k], ds.y_test[:k]))


def train_cell(rec, cfg: Config, cell: dict, seed: int, name: str, bf16: bool) -> dict:
    """One cell at one seed (a stage): Myrtle-5 as the cell says, trained with the PyTorch loop; a non-finite loss
    ends the run as a result ("diverged"), not an error. A diverged network predicts nothing: its accuracies count
    as chance (0.1)."""
    from dllab.experiments import _cifar
    from dllab.nn.config import TorchTrainConfig
    from dllab.nn.models import count_parameters, init_weights, make_cnn
    from dllab.nn.train import evaluate, fit
    from dllab.seeding import torch_stream

    train, val, test = _tensors(cfg, cell["n"])
    with torch_stream(seed, "init"):
        net = init_weights(make_cnn(cell["width"], cell["bn"], convs=cell["convs"]), cell["init"], cell["scale"])
    tc = TorchTrainConfig.model_validate({
        **cfg.train.model_dump(), "epochs": cell["epochs"], "batch_size": cell["batch"], "lr": cell["lr"],
        "optimizer": cell["optimizer"], "momentum": cell["momentum"], "nesterov": cell["nesterov"],
        "weight_decay": cell["weight_decay"], "schedule": cell["schedule"], "warmup_epochs": cell["warmup"],
        "step_epochs": max(1, round(cfg.step_at * cell["epochs"])), "bf16": bf16})
    res = fit(net, train, {"val": val}, tc, prep=_cifar.prep, num_classes=10, seed=seed, recorder=rec, name=name,
              on_divergence="stop")
    hist = res.history
    if res.diverged is None:
        test_acc = evaluate(net, *test, _cifar.prep, num_classes=10, batch_size=tc.eval_batch_size, bf16=bf16)["acc"]
        val_acc = hist[-1]["val_acc"]
    else:
        test_acc = val_acc = findings.CHANCE
    return {"val_acc": val_acc, "test_acc": test_acc, "diverged": res.diverged,
            "first_epoch_val_acc": hist[0]["val_acc"] if hist else findings.CHANCE,
            "curve": [h["val_acc"] for h in hist], "train_loss": hist[-1]["train_loss"] if hist else None,
            "time_s": hist[-1]["time_s"] if hist else 0.0, "parameters": count_parameters(net)}


def _precision(cfg: Config) -> dict:
    """bf16 or fp32 for every cell: fixed by the config, or the faster of the two for the base cell's step
    (cifar-fast's start-up timing, :func:`dllab.nn.fast.choose_precision`)."""
    import torch

    from dllab.nn.fast import choose_precision
    from dllab.nn.models import make_cnn

    if cfg.precision != "auto":
        return {"bf16": cfg.precision == "bf16", "step_times": {}}
    net = make_cnn(cfg.width, cfg.batch_norm).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(cfg.train.batch_size, 3, 32, 32, generator=gen).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (cfg.train.batch_size,), generator=gen)
    bf16, times = choose_precision(net, x, y)
    return {"bf16": bf16, "step_times": times}


def _cells(cfg: Config, grid: dict) -> dict[str, tuple[dict, int]]:
    """Stage name -> (cell, seed) for every cell of every question and every seed (a shared cell once)."""
    return {cell_name(cell, s): (cell, s) for cells in grid.values() for cell in cells.values()
            for s in [cfg.seed + i for i in range(cfg.seeds)]}


def STAGES(cfg: Config) -> list[str]:
    """The stages a run of ``cfg`` trains (for cost estimates): each cell at each seed."""
    return list(_cells(cfg, plan(cfg)))


def run(cfg: Config, rec) -> dict:
    """Every question's cells as stages (the same cell in two questions trained once), then the report."""
    from dllab.experiments import _study_report as report

    precision = rec.stage("precision", lambda: _precision(cfg))
    grid = plan(cfg)
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    tasks = {name: (train_cell, {"cfg": cfg, "cell": cell, "seed": s, "name": name, "bf16": precision["bf16"]})
             for name, (cell, s) in _cells(cfg, grid).items()}
    results = rec.map_stages(tasks, workers=cfg.workers)
    points = {q: {key: findings.point([results[cell_name(cell, s)] for s in seeds], cfg.trained_above)
                  for key, cell in cells.items()} for q, cells in grid.items()}
    summary = {q: None for q in QUESTIONS}
    texts = {}
    report.protocol(cfg, rec, base_cell(cfg), precision, len(tasks), len(seeds))
    for q in QUESTIONS:
        if q in points:
            summary[q], texts[q], *timing = getattr(report, q)(cfg, rec, points[q], grid[q])
            if timing:  # wall times: kept apart, since no two runs agree on them
                texts[f"{q}_timing"] = timing[0]
    rec.text("Summary of the findings", " ".join(f"({i}) {texts[q]}" for i, q in enumerate(
        [q for q in QUESTIONS if q in texts], 1)))
    n_cells = len({cell_name(c, 0) for cells in grid.values() for c in cells.values()})
    k = base_cell(cfg)["n"]
    return {**summary, "findings": texts, "cells": n_cells, "runs": len(tasks), "bf16": precision["bf16"],
            "step_times": precision["step_times"], "n_train": k, "n_val": cfg.val_size,
            "n_test": cfg.n_test or 10000}
