"""The training loop: plain PyTorch, every step visible.

``fit`` trains a model on uint8 tensors with a config (:class:`TrainConfig`), evaluates on named sets each
epoch, logs one metrics record per epoch, checkpoints each epoch (atomically) and resumes from the last
checkpoint, and stops with a clear message if the loss becomes non-finite.

Randomness of epoch ``e`` comes from named streams of ``seed`` (:mod:`dllab.seeding`): shuffling and augmentation
from ``("batches", e)``, layers that draw from torch's global generator (dropout) from ``("layers", e)``. So a
resumed run matches an uninterrupted one exactly, and runs of one experiment that differ in one knob see the same
batches (a like-for-like comparison).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from dllab.checkpoint import EpochCheckpoint
from dllab.errors import ConfigError, DivergenceError
from dllab.nn.config import TorchTrainConfig
from dllab.nn.data import batch_indices, flip, random_crop
from dllab.recorder import Recorder
from dllab.seeding import torch_generator, torch_stream
from dllab.training import lr_factor

Prep = Callable[[torch.Tensor], torch.Tensor]  # uint8 batch -> float model input
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, labels) -> scalar


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    diverged: dict | None = None  # {"epoch", "step", "loss"} where the loss became non-finite (on_divergence="stop")


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_optimizer(model: torch.nn.Module, cfg: TorchTrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``cfg``; weight decay applies to weights only (tensors of 2 or more dimensions), never to
    biases or batch-norm parameters, as :class:`~dllab.training.TrainConfig` defines it."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() > 1], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    return torch.optim.AdamW(groups, lr=cfg.lr)


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, prep: Prep, *, num_classes: int,
             batch_size: int = 1000, bf16: bool = False, loss_fn: LossFn | None = None) -> dict:
    """Loss, accuracy, per-class accuracy and the confusion matrix (rows: true class) of ``model`` on (x, y)."""
    model.eval()
    device = next(model.parameters()).device
    total_loss, preds = 0.0, []
    for idx in batch_indices(len(x), batch_size, shuffle=False):
        xb, yb = prep(x[idx].to(device)), y[idx].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(xb)
        logits = logits.float()
        total_loss += float((loss_fn or F.cross_entropy)(logits, yb)) * len(idx)
        preds.append(logits.argmax(1).cpu())
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)
    true = y.cpu()
    confusion = torch.bincount(true * num_classes + pred, minlength=num_classes ** 2).view(num_classes, num_classes)
    per_class = confusion.diag().float() / confusion.sum(1).clamp(min=1).float()
    n = max(len(x), 1)
    return {"loss": total_loss / n, "acc": float((pred == true).float().mean()) if len(x) else float("nan"),
            "per_class_acc": per_class.tolist(), "confusion": confusion.tolist(), "pred": pred}


@torch.no_grad()
def recalibrate_batch_norm(model: torch.nn.Module, x: torch.Tensor, prep: Prep, batch_size: int = 256,
                           bf16: bool = False) -> None:
    """Replace every batch-norm layer's running statistics by their average over the images ``x`` (uint8) under
    the current weights ("precise BN", Wu & Johnson 2021). The running averages mix statistics of weights from the
    last ~10 steps; at a high constant learning rate those are stale and the eval-mode accuracy swings far below
    the network's (Myrtle-5 at lr 0.1: 13% instead of 28% after 3 epochs on 10,000 images)."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not layers or len(x) == 0:
        return
    momenta = [m.momentum for m in layers]
    was_training = model.training
    device = next(model.parameters()).device
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    model.train()
    for idx in batch_indices(len(x), batch_size, shuffle=False):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):  # as the evaluation computes
            model(prep(x[idx].to(device)))
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum
    model.train(was_training)


def _augment(x: torch.Tensor, cfg: TorchTrainConfig, gen: torch.Generator) -> torch.Tensor:
    x = flip(x, cfg.flip_h, -1, gen)
    x = flip(x, cfg.flip_v, -2, gen)
    return random_crop(x, cfg.crop_pad, gen)


def _call(forward, xb: torch.Tensor, cfg: TorchTrainConfig) -> torch.Tensor:
    if not cfg.compile:  # torch._dynamo is imported only once torch.compile has been used
        return forward(xb)
    try:
        return forward(xb)
    except torch._dynamo.exc.TorchDynamoException as e:
        raise ConfigError(f"train.compile: torch.compile failed ({type(e).__name__}: "
                          f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else 'no message'}); it needs a "
                          "C++ compiler on the CPU and triton on a GPU. Set train.compile=false") from e


def fit(model: torch.nn.Module, train: tuple[torch.Tensor, torch.Tensor],
        evals: dict[str, tuple[torch.Tensor, torch.Tensor]], cfg: TorchTrainConfig, *, prep: Prep, num_classes: int,
        seed: int, recorder: Recorder | None = None, name: str = "train", loss_fn: LossFn | None = None,
        log_extra: dict | None = None, epoch_hook: Callable[[torch.nn.Module, int], dict | None] | None = None,
        on_divergence: str = "raise") -> FitResult:
    """Train ``model`` in place for ``cfg.epochs`` epochs; return the per-epoch history.

    ``train`` and ``evals`` hold uint8 images and int64 labels; ``prep`` turns a uint8 batch into the model's
    float input (it runs before augmentation, which works on (N,C,H,W)). ``loss_fn`` replaces cross-entropy
    for training (e.g. flooding). ``epoch_hook(model, epoch)`` runs after each epoch's evaluation; the numbers it
    returns join that epoch's record. With a recorder, each epoch is logged as one metrics record tagged
    ``run=name`` and checkpointed to ``checkpoints/<name>.pt``; on ``--resume`` training continues from it.
    A non-finite loss raises :class:`DivergenceError`; with ``on_divergence="stop"`` (a sweep, where divergence
    is a result) training stops there instead and ``FitResult.diverged`` says where (checkpointed as finished).
    """
    if on_divergence not in ("raise", "stop"):
        raise ValueError(f"on_divergence must be 'raise' or 'stop', not {on_divergence!r}")
    device = next(model.parameters()).device
    loss_fn = loss_fn or F.cross_entropy
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, cfg)
    # the compiled module shares the model's parameters; checkpoints and evaluation use the model itself
    forward = torch.compile(model) if cfg.compile else model
    x_train, y_train = train
    n = len(x_train)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    result = FitResult()
    start_epoch = 0
    ckpt = recorder.epoch_checkpoint(name, cfg.checkpoint) if recorder is not None else EpochCheckpoint(None)
    state = ckpt.load()
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, result.history = state["epoch"], state["history"]
        result.diverged = state.get("diverged")
        if state["done"]:
            result.stopped_early = start_epoch < cfg.epochs
            return result
    def save(epoch: int, done: bool, **extra) -> None:
        ckpt.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                   "history": result.history, "done": done, **extra})

    t_start = time.perf_counter() - (result.history[-1]["time_s"] if result.history else 0.0)
    sync_every = 1 if device.type == "cpu" else 10
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        model.train()
        gen = torch_generator(seed, "batches", epoch)
        sum_loss = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        bar_cm = recorder.progress_bar(f"{name} epoch {epoch}/{cfg.epochs}", steps_per_epoch) \
            if recorder is not None else contextlib.nullcontext()
        with bar_cm as bar, torch_stream(seed, "layers", epoch):
            for i, idx in enumerate(batch_indices(n, cfg.batch_size, shuffle=True, generator=gen)):
                step = (epoch - 1) * steps_per_epoch + i
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * lr_factor(cfg, step, steps_per_epoch)
                xb = _augment(prep(x_train[idx].to(device, non_blocking=True)), cfg, gen)
                yb = y_train[idx].to(device, non_blocking=True)
                if cfg.channels_last and xb.dim() == 4:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                    logits = _call(forward, xb, cfg)
                loss = loss_fn(logits.float(), yb)
                sum_loss += loss.detach() * len(idx)
                # Reading a value syncs the device: on a GPU the guard looks at the running sum every
                # `sync_every` steps (a non-finite loss keeps it non-finite); on the CPU it is free.
                if (i % sync_every == sync_every - 1 or i == steps_per_epoch - 1) and not torch.isfinite(sum_loss):
                    if on_divergence == "stop":
                        result.diverged = {"epoch": epoch, "step": i + 1, "loss": str(float(loss.detach()))}
                        break
                    where = f"the last good checkpoint is {ckpt.path} (epoch {epoch - 1})" if ckpt.path and epoch > 1 \
                        else "no checkpoint was written yet"
                    raise DivergenceError(f"{name}: the loss became {float(loss.detach())} at epoch {epoch}, "
                                          f"step {i + 1}; {where}. Lower the learning rate (--set train.lr=...) "
                                          "and run again")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                correct += (logits.detach().argmax(1) == yb).sum()
                seen += len(idx)
                if bar is not None and (i % 10 == 9 or i == steps_per_epoch - 1):
                    bar.update(i + 1, loss=float(sum_loss) / seen, acc=float(correct) / seen)
        if result.diverged is not None:  # the epoch's partial numbers mean nothing: stop with the history so far
            save(epoch - 1, True, diverged=result.diverged)
            result.stopped_early = True
            break
        record = {"run": name, "epoch": epoch, "lr": opt.param_groups[0]["lr"],
                  "train_loss": float(sum_loss) / seen, "train_acc": float(correct) / seen}
        if cfg.bn_recalibrate:
            recalibrate_batch_norm(model, x_train[:cfg.bn_recalibrate], prep, bf16=cfg.bf16)
        for set_name, (xe, ye) in evals.items():
            ev = evaluate(model, xe, ye, prep, num_classes=num_classes, batch_size=cfg.eval_batch_size,
                          bf16=cfg.bf16)
            record[f"{set_name}_loss"], record[f"{set_name}_acc"] = ev["loss"], ev["acc"]
        if epoch_hook is not None:
            record.update(epoch_hook(model, epoch) or {})
        record["time_s"] = round(time.perf_counter() - t_start, 3)
        record.update(log_extra or {})
        result.history.append(record)
        done = epoch == cfg.epochs or (cfg.stop_at_train_acc is not None
                                       and record["train_acc"] >= cfg.stop_at_train_acc)
        if recorder is not None:
            recorder.log(**record)
        save(epoch, done)
        if done:
            result.stopped_early = epoch < cfg.epochs
            break
    return result

