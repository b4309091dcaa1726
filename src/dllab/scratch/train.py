"""The training loop for scratch models: epochs of SGD, per-epoch evaluation, best-on-validation weights."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dllab.checkpoint import EpochCheckpoint
from dllab.errors import DivergenceError
from dllab.scratch.data import batches
from dllab.scratch.optim import SGD
from dllab.seeding import rng as seeded_rng
from dllab.training import TrainConfig, lr_factor


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y), in batches."""
    loss = correct = 0.0
    for xb, yb in batches(x, y, batch_size, shuffle=False):
        b_loss, b_acc = model.forward(xb, yb)
        loss += b_loss * len(yb)
        correct += b_acc * len(yb)
    return loss / len(y), correct / len(y)


@dataclass
class ScratchResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_acc: float = -1.0
    best_params: dict[str, np.ndarray] = field(default_factory=dict)


def fit(model, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], cfg: TrainConfig, *,
        seed: int = 0, transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        recorder=None, name: str = "train") -> ScratchResult:
    """Train with SGD as ``cfg`` says; evaluate train (running average) and validation each epoch; keep the best
    weights.

    The learning rate follows :func:`dllab.training.lr_factor` at every step, as in the PyTorch loop.
    ``transform(x_batch, rng)`` (e.g. augmentation + flattening) is applied to each training batch; validation
    data must already be in model-input form. With a recorder, each epoch is checkpointed (weights, momentum,
    history, best weights) and a resumed run continues after the last finished epoch. The reported training
    loss includes the L2 penalty, as CS7643's J = CE + lambda/2 * sum(w^2). Epoch e's shuffling and augmentation
    use the stream ``("batches", e)`` of ``seed``.
    """
    opt = SGD(model, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=cfg.nesterov)
    res = ScratchResult()
    x_train, y_train = train
    steps = -(-len(x_train) // cfg.batch_size)
    ckpt = recorder.epoch_checkpoint(name) if recorder is not None else EpochCheckpoint(None)
    state, start = ckpt.load(), 1
    if state is not None:
        load_params(model, state["params"])
        for k, v in state["velocity"].items():
            opt.velocity[k][...] = v
        res = state["result"]
        start = state["epoch"] + 1
    t0 = time.perf_counter() - (res.history[-1]["time_s"] if res.history else 0.0)
    for epoch in range(start, cfg.epochs + 1):
        rng = seeded_rng(seed, "batches", epoch)
        sum_loss = sum_acc = 0.0
        bar_cm = recorder.progress_bar(f"{name} epoch {epoch}/{cfg.epochs}", steps) if recorder \
            else contextlib.nullcontext()
        with bar_cm as bar:
            for i, (xb, yb) in enumerate(batches(x_train, y_train, cfg.batch_size, rng=rng)):
                opt.lr = cfg.lr * lr_factor(cfg, (epoch - 1) * steps + i, steps)
                if transform is not None:
                    xb = transform(xb, rng)
                loss, acc = model.forward(xb, yb)
                if not np.isfinite(loss):
                    raise DivergenceError(f"{name}: the loss became {loss} at epoch {epoch}, step {i + 1}; "
                                          "lower the learning rate (--set train.lr=...) and run again")
                model.backward()
                opt.step()
                sum_loss += loss * len(yb)
                sum_acc += acc * len(yb)
                if bar is not None and (i % 50 == 49 or i == steps - 1):
                    bar.update(i + 1, loss=loss, acc=acc)
        val_loss, val_acc = evaluate(model, *val)
        record = {"run": name, "epoch": epoch, "lr": opt.lr,
                  "train_loss": sum_loss / len(y_train) + opt.regularization(), "train_acc": sum_acc / len(y_train),
                  "val_loss": val_loss, "val_acc": val_acc, "time_s": round(time.perf_counter() - t0, 3)}
        res.history.append(record)
        if recorder is not None:
            recorder.log(**record)
        if val_acc > res.best_val_acc:
            res.best_epoch, res.best_val_acc = epoch, val_acc
            res.best_params = {k: p.copy() for k, p in model.params().items()}
        ckpt.save({"epoch": epoch, "params": model.params(), "velocity": opt.velocity, "result": res})
    return res


def load_params(model, params: dict[str, np.ndarray]) -> None:
    """Copy saved parameters back into ``model`` in place."""
    for k, p in model.params().items():
        p[...] = params[k]
