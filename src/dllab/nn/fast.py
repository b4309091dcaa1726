"""Fast CIFAR-10 training: the airbench94 recipe (Keller Jordan, "94% on CIFAR-10 in 3.29 seconds on a single
GPU", 2024), written for dllab from the paper's description and published numbers, on the CPU.

The pieces, each a few lines: a 2x2 patch-whitening first layer (eigenvectors of the training patches'
covariance, +- each), three conv groups (conv, max-pool, batch norm with frozen scale, GELU, conv, BN, GELU) of
widths 64/256/256, logits scaled by 1/9; Nesterov SGD in decoupled form (lr and weight decay per 1,024 examples,
batch-norm biases at 64x the learning rate); label smoothing 0.2; a triangular schedule; lookahead (an EMA of the
weights every 5 steps, its decay rising as the cube of progress); alternating flips (a random half flipped once,
then every image flipped every other epoch) and 2-pixel reflect translations; the whitening bias trained for 3
epochs only; test-time augmentation over mirror and one-pixel translations. bf16 autocast is used only where a
short measurement at start-up finds it faster on the machine at hand (:func:`choose_precision`).

Training runs where the images are: pass CUDA tensors to :func:`train_fast` and the whole run (augmentation,
steps, evaluation) stays on that GPU; ``compile`` adds torch.compile of the training forward (a GPU's choice;
slower on the CPUs measured).

``optimizer="muon"`` switches to airbench94_muon's optimiser (:mod:`dllab.nn.muon` for the filters, Nesterov SGD
for biases and head, linear decay); ``low_res`` / ``low_res_epochs`` give progressive resizing (early epochs on
random crops; the network ends in a global max, so any size works). The experiment ``cifar-fast`` holds the
recipes and what they measured.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dllab.checkpoint import EpochCheckpoint
from dllab.nn.config import FastConfig
from dllab.nn.data import flip, images_to_float, random_crop
from dllab.nn.throughput import bf16_faster, precision_times, training_step
from dllab.seeding import torch_generator, torch_stream
from dllab.training import piecewise_linear

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def _bn(c: int, momentum: float) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c, eps=1e-12, momentum=1 - momentum)
    bn.weight.requires_grad_(False)  # frozen scale of 1: only the bias trains
    return bn


class ConvGroup(nn.Module):
    def __init__(self, c_in: int, c_out: int, bn_momentum: float):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = _bn(c_out, bn_momentum)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = _bn(c_out, bn_momentum)
        for conv in (self.conv1, self.conv2):  # identity-initialised first channels, as airbench
            nn.init.dirac_(conv.weight.data[:conv.weight.shape[1]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class AirNet(nn.Module):
    def __init__(self, widths=(64, 256, 256), bn_momentum: float = 0.6, scaling: float = 1 / 9):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        self.groups = nn.Sequential(ConvGroup(24, widths[0], bn_momentum),
                                    ConvGroup(widths[0], widths[1], bn_momentum),
                                    ConvGroup(widths[1], widths[2], bn_momentum))
        self.head = nn.Linear(widths[2], 10, bias=False)
        self.scaling = scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.groups(F.gelu(self.whiten(x)))
        return self.head(x.amax((2, 3))) * self.scaling  # global max: the 3x3 max-pool at 32 px, any size


def init_whitening(conv: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set a 2x2 conv to +- the eigenvectors of the patch covariance of ``images`` scaled by 1/sqrt(eigenvalue)."""
    c, (h, w) = images.shape[1], conv.weight.shape[2:]
    patches = images.float().unfold(2, h, 1).unfold(3, w, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * h * w)
    cov = patches.T @ patches / len(patches)
    values, vectors = torch.linalg.eigh(cov)
    values, vectors = values.flip(0), vectors.T.flip(0)
    scaled = (vectors / torch.sqrt(values + eps)[:, None]).reshape(-1, c, h, w)
    conv.weight.data.copy_(torch.cat([scaled, -scaled]))


def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW normalised by the CIFAR-10 channel statistics."""
    return images_to_float(x_uint8, CIFAR_MEAN, CIFAR_STD)


def tta_logits(model: nn.Module, x: torch.Tensor, level: int, bf16: bool, batch: int = 1000,
               uncertain: float = 1.0) -> torch.Tensor:
    """Logits averaged over views: 0 the image, 1 + its mirror, 2 + one-pixel translations (up-left,
    down-right; reflect padding), weighted as airbench does (half the plain views, half the translated).

    ``uncertain`` < 1 (selective TTA, as hiverge's cifar10-speedrun): every image gets the plain view first, and
    only the ``uncertain`` share whose top softmax probability is lowest gets the other views."""
    model.eval()

    def views(xb: torch.Tensor, plain: torch.Tensor) -> torch.Tensor:
        if level == 0:
            return plain
        logits = 0.5 * (plain + model(xb.flip(-1)).float())
        if level >= 2:
            p = F.pad(xb, (1, 1, 1, 1), mode="reflect")
            shifted = [p[..., 0:32, 0:32], p[..., 2:34, 2:34]]
            moved = [0.5 * (model(s).float() + model(s.flip(-1)).float()) for s in shifted]
            logits = 0.5 * logits + 0.25 * (moved[0] + moved[1])
        return logits

    with torch.no_grad(), torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        plain = torch.cat([model(x[i:i + batch]).float() for i in range(0, len(x), batch)])
        if level == 0 or uncertain <= 0:
            return plain
        pick = None if uncertain >= 1 else \
            plain.softmax(1).amax(1).topk(math.ceil(uncertain * len(x)), largest=False).indices
        xs, ps = (x, plain) if pick is None else (x[pick], plain[pick])
        full = torch.cat([views(xs[i:i + batch], ps[i:i + batch]) for i in range(0, len(xs), batch)])
        if pick is None:
            return full
        out = plain.clone()
        out[pick] = full
        return out


def choose_precision(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 3) -> tuple[bool, dict]:
    """Time ``steps`` training steps (forward + backward, after one warm-up) in fp32 and in bf16 autocast on the
    device of ``x``; bf16 is chosen only if faster. The model's weights and gradients are left as they were."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    times = precision_times(lambda bf16: training_step(model, x, y, bf16=bf16)(), steps, device=x.device)
    model.load_state_dict(state)
    return bf16_faster(times), {k: round(v, 4) for k, v in times.items()}


def make_optimizers(cfg: FastConfig, model: AirNet, bf16: bool = True) -> tuple[list[torch.optim.Optimizer], dict]:
    """The optimisers of a recipe and its named parameter groups (each group's dict holds its ``name``, which a
    checkpoint keeps).

    nesterov (airbench94): one Nesterov SGD, learning rate and weight decay given per 1,024 examples and
    decoupled from the momentum (lr / (1024 (1 + 1 / (1 - momentum)))), batch-norm biases at ``bias_scaler``
    times the rate. muon (airbench94_muon): Muon for the conv filters; Nesterov SGD for the whitening bias, the
    batch-norm biases and the head, weight decay ``sgd_weight_decay`` per example of a batch; its Newton-Schulz
    iteration runs in bf16 if ``bf16`` (the training steps' precision), else in fp32: where bf16 autocast loses,
    bf16 products are slow too (on a 2-core AVX2 EPYC without bf16 units a dllab step, batch 500, took 6.4 s with
    bf16 Newton-Schulz against 3.0 s in fp32)."""
    from dllab.nn.muon import Muon

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad or n == "whiten.bias"]
    norm_biases = [p for n, p in named if "norm" in n]
    if cfg.optimizer == "nesterov":
        kilostep = 1024 * (1 + 1 / (1 - cfg.momentum))
        lr = cfg.lr / kilostep
        wd = cfg.weight_decay * cfg.batch_size / kilostep
        others = [p for n, p in named if "norm" not in n]
        bias_lr = lr * cfg.bias_scaler
        opt = torch.optim.SGD([{"name": "norm", "params": norm_biases, "lr": bias_lr, "weight_decay": wd / bias_lr},
                               {"name": "others", "params": others, "lr": lr, "weight_decay": wd / lr}],
                              momentum=cfg.momentum, nesterov=True)
        return [opt], {"norm": opt.param_groups[0], "others": opt.param_groups[1]}
    wd = cfg.sgd_weight_decay * cfg.batch_size
    blr, hlr = cfg.sgd_bias_lr, cfg.sgd_head_lr
    sgd = torch.optim.SGD([{"name": "whiten", "params": [model.whiten.bias], "lr": blr, "weight_decay": wd / blr},
                           {"name": "norm", "params": norm_biases, "lr": blr, "weight_decay": wd / blr},
                           {"name": "head", "params": [model.head.weight], "lr": hlr, "weight_decay": wd / hlr}],
                          momentum=cfg.momentum, nesterov=True)
    filters = [p for n, p in named if p.ndim == 4]  # the whitening filter only when it trains
    muon = Muon(filters, lr=cfg.muon_lr, momentum=cfg.muon_momentum, nesterov=True, ns_steps=cfg.muon_ns_steps,
                dtype=torch.bfloat16 if bf16 else torch.float32)
    return [sgd, muon], {"whiten": sgd.param_groups[0], "norm": sgd.param_groups[1], "head": sgd.param_groups[2],
                         "filters": muon.param_groups[0]}


def lr_schedule(cfg: FastConfig, total: int) -> Callable[[int], float]:
    """The learning-rate factor at each of ``total`` steps, through :func:`dllab.training.piecewise_linear`:
    triangular (airbench94: from ``lr_start`` up to 1 over the first ``warmup_frac`` of the steps, then down to
    ``lr_end``) or linear (airbench94_muon: from 1 down to 0)."""
    if cfg.schedule == "linear":
        points = [(0, 1.0), (total, 0.0)]
    else:
        points = [(0, cfg.lr_start), (max(1, int(cfg.warmup_frac * total)), 1.0), (total, cfg.lr_end)]
    return lambda step: piecewise_linear(step, points)


def _check_finite(loss: torch.Tensor, where: str) -> None:
    if not torch.isfinite(loss):
        from dllab.errors import DivergenceError

        raise DivergenceError(f"cifar-fast: the loss became {float(loss.detach())} at {where}; "
                              "lower lr (--set fast.lr=...)")


def train_fast(cfg: FastConfig, x_train: torch.Tensor, y_train: torch.Tensor, x_eval: torch.Tensor | None,
               y_eval: torch.Tensor | None, *, seed: int, log: Callable[[dict], None] | None = None,
               progress: bool | None = None, checkpoint: EpochCheckpoint | None = None) -> dict:
    """Train an :class:`AirNet` with ``cfg`` on uint8 NHWC images; evaluate on (x_eval, y_eval) after each epoch
    (without TTA; ``eval_each_epoch``) and at the end with TTA. Returns {"model", "accuracy", "history", "time_s",
    "bf16", ...}. ``time_s`` counts everything after the data is loaded (set-up, whitening, the precision check,
    training, the final TTA evaluation) except the per-epoch monitoring evaluations (``monitor_s``).

    ``checkpoint`` saves the whole training state after each epoch (weights, optimisers, lookahead EMA, the data
    generator, the step, the precision chosen, history) and, when resuming, continues from it: the result equals
    an uninterrupted run's (times aside).

    The run happens on ``x_train``'s device (the other tensors follow it). The random draws come from one CPU
    generator whatever the device, so a seed draws the same augmentation on a CPU and a GPU. On a GPU the loss is
    read (and checked for divergence) once per epoch rather than after every step, which would stall the GPU's
    queue."""
    from dllab.progress import progress_bar

    t_start = time.perf_counter()
    dev = x_train.device
    per_step = dev.type == "cpu"  # read the loss after each step (progress bar, divergence check) on the CPU only
    x = normalize(x_train)
    x_eval_n = normalize(x_eval.to(dev)) if x_eval is not None else None  # once, not per evaluation
    y = y_train.to(dev).long()
    y_eval = y_eval.to(dev) if y_eval is not None else None
    gen = torch_generator(seed, "cifar-fast", "data")
    with torch_stream(seed, "cifar-fast", "init"):
        model = AirNet(cfg.widths, cfg.bn_momentum, cfg.scaling).to(dev)
        if cfg.head_unit_std:
            model.head.weight.data /= model.head.weight.data.std()
    if cfg.whitening:
        init_whitening(model.whiten, x[:5000])
    else:
        model.whiten.weight.requires_grad_(True)
    if cfg.train_bn_scale:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.requires_grad_(True)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    checkpoint = checkpoint or EpochCheckpoint(None)
    state = checkpoint.load()
    if state is not None:  # the precision chosen at the start stays (a new timing could choose otherwise)
        bf16, step_times = state["bf16"], state["step_times"]
    elif cfg.precision == "auto":
        bf16, step_times = choose_precision(model, x[:cfg.batch_size // 4], y[:cfg.batch_size // 4])
    else:
        bf16, step_times = cfg.precision == "bf16", {}
    opts, _ = make_optimizers(cfg, model, bf16)
    # the compiled module shares the model's parameters; checkpoints and evaluation use the model itself
    forward = torch.compile(model) if cfg.compile else model
    base_lrs = [[g["lr"] for g in opt.param_groups] for opt in opts]
    steps_per_epoch = len(x) // cfg.batch_size
    total = math.ceil(steps_per_epoch * cfg.epochs)
    whiten_steps = steps_per_epoch * cfg.whiten_bias_epochs
    schedule = lr_schedule(cfg, total)

    ema = {k: v.detach().clone() for k, v in model.state_dict().items()} if cfg.lookahead else None

    def lookahead(decay: float) -> None:
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.dtype.is_floating_point:
                    ema[k].lerp_(v, 1 - decay)
                    v.copy_(ema[k])

    flipped = flip(x, 0.5, -1, gen) if cfg.flip else x  # alternating: a random half once, then all every other epoch
    history, step, monitor_s, start_epoch, elapsed = [], 0, 0.0, 1, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        for opt, opt_state in zip(opts, state["optimizers"]):
            opt.load_state_dict(opt_state)
        if ema is not None:
            ema = state["ema"]
        gen.set_state(state["generator"])
        history, step, monitor_s = state["history"], state["step"], state["monitor_s"]
        start_epoch, elapsed = state["epoch"] + 1, state["elapsed_s"]
    t_start -= elapsed  # time before an interruption counts

    def accuracy(tta_level: int) -> tuple[float, float]:
        """(accuracy on the evaluation images at this TTA level, seconds it took)."""
        t_eval = time.perf_counter()
        pred = tta_logits(model, x_eval_n, tta_level, bf16, uncertain=cfg.tta_uncertain).argmax(1)
        return float((pred == y_eval).float().mean()), time.perf_counter() - t_eval

    with progress_bar("cifar-fast", total, enabled=progress) as bar:
        bar.advance(step)
        for epoch in range(start_epoch, math.ceil(cfg.epochs) + 1):
            model.train()
            model.whiten.bias.requires_grad_(epoch <= cfg.whiten_bias_epochs)
            if cfg.flip and not cfg.alternate_flip:
                base = flip(x, 0.5, -1, gen) if epoch > 1 else flipped
            else:
                base = flipped.flip(-1) if cfg.flip and epoch % 2 == 0 else flipped
            data = random_crop(base, cfg.translate, gen) if cfg.translate else base
            order = torch.randperm(len(x), generator=gen).to(dev)
            sum_loss = correct = torch.zeros((), device=dev)
            seen = 0
            for i in range(steps_per_epoch):
                if step >= total:
                    break
                idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                xb, yb = data[idx], y[idx]
                if epoch <= cfg.low_res_epochs and cfg.low_res < xb.shape[-1]:  # one random window per batch
                    oy, ox = torch.randint(0, xb.shape[-1] - cfg.low_res + 1, (2,), generator=gen).tolist()
                    xb = xb[..., oy:oy + cfg.low_res, ox:ox + cfg.low_res]
                    xb = xb.contiguous(memory_format=torch.channels_last if cfg.channels_last else
                                       torch.contiguous_format)
                factor = schedule(step)
                for opt, lrs in zip(opts, base_lrs):
                    for g, base_lr in zip(opt.param_groups, lrs):
                        if g.get("name") == "whiten":  # muon only: the whitening bias decays to 0 over its epochs
                            g["lr"] = base_lr * max(0.0, 1 - step / max(1, whiten_steps))
                        else:
                            g["lr"] = base_lr * factor
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                    out = forward(xb)
                loss = F.cross_entropy(out.float(), yb, label_smoothing=cfg.label_smoothing, reduction="sum")
                if per_step:
                    _check_finite(loss, f"epoch {epoch}, step {i + 1}")
                loss.backward()
                for opt in opts:
                    opt.step()
                model.zero_grad(set_to_none=True)
                step += 1
                if ema is not None and step % cfg.lookahead_every == 0:  # decay grows to its final value
                    lookahead(cfg.lookahead_decay ** cfg.lookahead_every * (step / total) ** 3)
                sum_loss = sum_loss + loss.detach()
                correct = correct + (out.detach().argmax(1) == yb).sum()
                seen += len(idx)
                bar.advance(1, **({"loss": float(sum_loss) / seen} if per_step else {}))
            if not per_step:
                _check_finite(sum_loss, f"epoch {epoch}")
            if ema is not None and step >= total:
                lookahead(1.0)  # the final weights are the EMA's
            rec = {"epoch": epoch, "train_loss": float(sum_loss) / max(seen, 1),
                   "train_acc": float(correct) / max(seen, 1),
                   "time_s": round(time.perf_counter() - t_start - monitor_s, 2)}
            if x_eval is not None and cfg.eval_each_epoch:  # monitoring, not part of the recipe: not timed
                rec["eval_acc"], eval_s = accuracy(0)
                rec["eval_s"] = round(eval_s, 2)
                monitor_s += eval_s
            history.append(rec)
            if log is not None:
                log(rec)
            checkpoint.save({"epoch": epoch, "model": model.state_dict(), "optimizers": [o.state_dict() for o in opts],
                             "ema": ema, "generator": gen.get_state(), "step": step, "history": history,
                             "monitor_s": monitor_s, "elapsed_s": time.perf_counter() - t_start,
                             "bf16": bf16, "step_times": step_times})
    result = {"model": model, "history": history, "bf16": bf16, "step_times": step_times, "steps": step}
    if x_eval is not None:
        result["accuracy"], result["eval_s"] = accuracy(cfg.tta_level)
    result["time_s"] = time.perf_counter() - t_start - monitor_s
    result["monitor_s"] = monitor_s
    if x_eval is not None:  # outside the timed part: the same model without test-time augmentation
        if history and "eval_acc" in history[-1]:  # the last monitoring evaluation measured the final model
            result["accuracy_no_tta"], result["eval_no_tta_s"] = history[-1]["eval_acc"], history[-1]["eval_s"]
        else:
            result["accuracy_no_tta"], result["eval_no_tta_s"] = accuracy(0)
    return result
