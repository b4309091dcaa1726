"""Fast CIFAR-10 side by side in one run: time to 85% and to 94% for the dllab recipe and the two baselines
(airbench94 and airbench94_muon, our implementations of their published numbers), the ratios, each recipe's
training step (images/s and GFLOP/s at its own batch size, with its own optimisers) against large fp32 and bf16
matmuls measured in the same run (the machine's ceilings), where a dllab step's time goes (torch.profiler, by
kind of operation), and the homework recipe's images/s (Myrtle-5 c = 64, batch 128; not a 2-hour rerun).

    python benchmarks/cifar_fast.py [--throughput-only] [--recipes R,...] [--targets 94,85] [--seed N]
                                    [--seeds N] [--device cpu|cuda] [--compile] [--json FILE]

``--device cuda`` runs all of it on a GPU (data on the device, bf16 autocast where it is faster, channels_last;
``--compile`` adds torch.compile) with 8192^2 matmuls as the ceilings; there each recipe first trains a few
untimed steps (compilation, cuDNN's algorithm search), as airbench's published times leave those out too.
``benchmarks/cifar_fast_gpu.sh`` is the prepared 8-minute GPU run.

Times count everything after the data is loaded and decoded: set-up, whitening, the precision measurement,
training and the final test-time-augmented evaluation (no per-epoch evaluation). Accuracies are on the 10,000
test images; ``--seeds`` each, their mean time and accuracy (``dllab run cifar-fast --preset full`` gives 10 with
their interval). On a CPU
without bf16 units (bf16 matmul far below fp32) bf16 steps are not timed: they take minutes and lose.

Every run also prints each recipe's *projected* training time (its epochs at the step rate measured here, before
evaluation): with ``--throughput-only`` that is the only time-to-target figure, and it is labelled so.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from dllab.environment import cpu_cores, cpu_info, describe_cpu
from dllab.executor import apply_budget
from dllab.nn.fast import AirNet, FastConfig, choose_precision, make_optimizers, train_fast
from dllab.nn.models import make_cnn, model_flops
from dllab.nn.throughput import (
    has_bf16,
    matmul_gflops,
    seconds_per_call,
    step_profile,
    synchronize,
    train_rate,
    training_step,
)
from dllab.seeding import torch_stream

BASELINES = {"airbench94": 1.5, "airbench94_muon": 1.25}  # the goals: dllab's speed-up to 94% over each
UTILISATION_GOAL = 0.55  # a dllab training step at >= 55% of the bf16 matmul ceiling


def recipe(target: int, name: str, compile: bool = False) -> FastConfig:
    from dllab.experiments.cifar_fast import RECIPES

    return FastConfig(**RECIPES[target][name], eval_each_epoch=False, compile=compile)


def recipe_step(cfg: FastConfig, bf16: bool, device: str = "cpu"):
    """The network (channels_last, as train_fast), a batch of random data at ``cfg``'s batch size and ``cfg``'s
    optimisers for steps in ``bf16`` or not, on ``device``."""
    with torch_stream(0, "bench", "step"):
        net = AirNet(cfg.widths, cfg.bn_momentum, cfg.scaling).to(device, memory_format=torch.channels_last)
        x = torch.randn(cfg.batch_size, 3, 32, 32).to(device).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (cfg.batch_size,)).to(device)
    opts, _ = make_optimizers(cfg, net, bf16)
    return net, x, y, opts


def step_rates(cfg: FastConfig, precisions: list[bool], steps: int, device: str) -> dict[str, float]:
    """images/s of ``cfg``'s whole training step (forward, backward, optimisers) in each precision."""
    rates = {}
    for bf16 in precisions:
        net, x, y, opts = recipe_step(cfg, bf16, device)
        rates["bf16" if bf16 else "fp32"] = cfg.batch_size / seconds_per_call(
            training_step(net, x, y, opts, bf16=bf16), steps)
    return rates


def main() -> None:
    from dllab.experiments.cifar_fast import RECIPES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--throughput-only", action="store_true", help="no training runs: ceilings, step rates, "
                                                                   "profile and projected times only")
    ap.add_argument("--recipes", default="dllab,airbench94,airbench94_muon",
                    help="comma-separated recipes to train (default: all three)")
    ap.add_argument("--targets", default="94,85", help="comma-separated targets to train for (default: 94,85)")
    ap.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--seeds", type=int, default=1, help="training runs per recipe and target, seeds seed, "
                                                         "seed + 1, ... (default 1)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to train (default cpu)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the training forward (fast.compile)")
    ap.add_argument("--json", metavar="FILE", help="write every figure to FILE (JSON)")
    args = ap.parse_args()
    names = [r for r in args.recipes.split(",") if r]
    targets = [int(t) for t in args.targets.split(",") if t]
    for r in names:
        if r not in RECIPES[94]:
            ap.error(f"unknown recipe {r!r}: choose from {', '.join(RECIPES[94])}")
    for t in targets:
        if t not in RECIPES:
            ap.error(f"unknown target {t}: choose from {', '.join(map(str, RECIPES))}")
    if args.seeds < 1:
        ap.error(f"--seeds must be at least 1, got {args.seeds}")
    dev = args.device
    gpu = dev == "cuda"
    reps = 10 if gpu else 1  # a GPU step takes milliseconds: time ten times as many
    if gpu and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no CUDA GPU here (a CPU build of torch, or no driver)")
    apply_budget()  # the one place that sets torch's threads (dllab.executor)
    info = cpu_info()
    machine = describe_cpu() + (f" | GPU {torch.cuda.get_device_name(0)}" if gpu else "")
    print(machine, f"| {cpu_cores()} threads | torch {torch.__version__}", flush=True)
    rows: dict = {"cpu": info["model"], "extensions": info["extensions"], "cpu_line": describe_cpu(),
                  "gpu": torch.cuda.get_device_name(0) if gpu else None, "device": dev, "compile": args.compile,
                  "threads": cpu_cores(), "torch": torch.__version__, "seed": args.seed, "seeds": args.seeds}
    n_fp32 = rows["matmul_fp32_size"] = 8192 if gpu else 2048
    fp32_ceiling = rows["matmul_fp32_gflops"] = matmul_gflops(n_fp32, device=dev)
    bf16_ok = rows["bf16_units"] = has_bf16(dev)
    # without bf16 units a 2048^2 bf16 product takes a minute: the bf16 ceiling is a 512^2 product's there
    n_bf16 = rows["matmul_bf16_size"] = n_fp32 if bf16_ok else 512
    bf16_ceiling = rows["matmul_bf16_gflops"] = matmul_gflops(n_bf16, repeats=5 if bf16_ok else 1,
                                                               dtype=torch.bfloat16, device=dev)
    print(f"matmul: fp32 {fp32_ceiling:.0f} GFLOP/s ({n_fp32}^2), bf16 {bf16_ceiling:.1f} GFLOP/s ({n_bf16}^2)"
          f"{'' if bf16_ok else ' (no bf16 units: bf16 steps are not timed)'}", flush=True)
    precisions = [False, True] if bf16_ok else [False]

    # each recipe's step at its own batch size with its own optimisers
    flops = 3 * model_flops(AirNet(), (3, 32, 32))  # forward + backward ~ 3x forward, per image
    rows["flops_per_image"] = flops
    rows["steps"] = {}
    for name in RECIPES[94]:
        cfg = recipe(94, name)
        rates = step_rates(cfg, precisions, max(3, 4000 // cfg.batch_size) * reps, dev)
        best = max(rates, key=rates.get)
        rows["steps"][name] = {"batch_size": cfg.batch_size, "optimizer": cfg.optimizer, "precision": best,
                               **{f"images_per_s_{p}": r for p, r in rates.items()},
                               "gflops": rates[best] * flops / 1e9,
                               "of_fp32_ceiling": rates[best] * flops / 1e9 / fp32_ceiling,
                               "of_bf16_ceiling": rates[best] * flops / 1e9 / bf16_ceiling if bf16_ok else None}
        s = rows["steps"][name]
        print(f"{name:<16} step (batch {cfg.batch_size}, {cfg.optimizer}): "
              + ", ".join(f"{p} {r:.0f} images/s" for p, r in rates.items())
              + f"; {s['gflops']:.0f} GFLOP/s = {100 * s['of_fp32_ceiling']:.0f}% of the fp32 ceiling"
              + (f", {100 * s['of_bf16_ceiling']:.0f}% of the bf16 ceiling (goal {100 * UTILISATION_GOAL:.0f}%)"
                 if bf16_ok else ""), flush=True)
    projected = rows["projected_training_s"] = {}
    for t in RECIPES:
        for name in RECIPES[t]:
            cfg = recipe(t, name)
            s = rows["steps"][name]
            projected[f"{name} {t}%"] = cfg.epochs * 50_000 / s[f"images_per_s_{s['precision']}"]
    for name, goal in BASELINES.items():
        ratio = projected[f"{name} 94%"] / projected["dllab 94%"]
        rows[f"projected_speedup_to_94_vs_{name}"] = ratio
        print(f"projected (epochs / step rate, training only): dllab to 94% {ratio:.2f}x faster than {name} "
              f"(goal {goal}x)", flush=True)

    # the homework recipe's network, images/s only
    with torch_stream(args.seed, "bench"):
        myrtle = make_cnn(64)
    mflops = 3 * model_flops(myrtle, (3, 32, 32))
    for prec in precisions:
        rate, _ = train_rate(myrtle, 128, 16 * reps, bf16=prec, device=dev)
        rows[f"homework Myrtle-5 c=64 batch 128 {'bf16' if prec else 'fp32'}"] = {"images_per_s": rate,
                                                                                   "gflops": rate * mflops / 1e9}
        print(f"homework Myrtle-5 c=64 batch 128 {'bf16' if prec else 'fp32'}: {rate:.0f} images/s, "
              f"{rate * mflops / 1e9:.0f} GFLOP/s", flush=True)
    homework = rows["homework Myrtle-5 c=64 batch 128 fp32"]["images_per_s"]  # cifar-train's default precision
    rows["homework_20_epochs_projected_min"] = 20 * 50_000 / homework / 60
    print(f"the homework recipe (20 epochs of 50,000 images, fp32) at that rate: "
          f"{rows['homework_20_epochs_projected_min']:.0f} min", flush=True)

    fast94 = recipe(94, "dllab")
    net, x, y, _ = recipe_step(fast94, False, dev)
    bf16 = choose_precision(net, x[:fast94.batch_size // 4], y[:fast94.batch_size // 4])[0]  # fp32 without units
    net, x, y, opts = recipe_step(fast94, bf16, dev)
    rows["profile"] = step_profile(training_step(net, x, y, opts, bf16=bf16), device=dev)
    print("where a dllab training step's time goes:",
          ", ".join(f"{k} {100 * v:.0f}%" for k, v in rows["profile"].items()), flush=True)

    if not args.throughput_only:
        runs = rows["runs"] = train_runs(args, names, targets, dev)
        for t in targets:
            for name, goal in BASELINES.items():
                if f"dllab {t}%" in runs and f"{name} {t}%" in runs:
                    ratio = runs[f"{name} {t}%"]["time_s"] / runs[f"dllab {t}%"]["time_s"]
                    rows[f"speedup_to_{t}_vs_{name}"] = ratio
                    print(f"dllab is {ratio:.2f}x faster to {t}% than {name}"
                          + (f" (goal {goal}x)" if t == 94 else ""), flush=True)
    if args.json:
        from dllab.fileio import write_json

        write_json(args.json, rows)


def train_runs(args, names: list[str], targets: list[int], dev: str) -> dict:
    """``args.seeds`` training runs of each recipe to each target on the CIFAR-10 test set: mean accuracy and
    time, each run's, whether the mean reached the target. On a GPU each recipe first trains a few untimed steps
    with the whitening bias trained and a few without (compilation and cuDNN's algorithm search happen once per
    process, shape and set of trained parameters)."""
    from dllab import data
    from dllab.nn.data import as_tensors

    ds = data.load("cifar10")
    (x_tr, y_tr), (x_te, y_te) = as_tensors(ds.x_train, ds.y_train, dev), as_tensors(ds.x_test, ds.y_test, dev)
    if dev == "cuda":
        for name in names:
            cfg = recipe(94, name, args.compile)
            for bias_epochs in (cfg.whiten_bias_epochs, 0):  # both graphs: with and without the whitening bias
                warm = cfg.model_copy(update={"epochs": 3 * cfg.batch_size / len(x_tr),  # 3 steps
                                              "whiten_bias_epochs": bias_epochs})
                train_fast(warm, x_tr, y_tr, x_te[:1000], y_te[:1000], seed=args.seed)
        synchronize()
    runs = {}
    for t in targets:
        for name in names:
            rs = [train_fast(recipe(t, name, args.compile), x_tr, y_tr, x_te, y_te, seed=args.seed + i)
                  for i in range(args.seeds)]
            key = f"{name} {t}%"
            accs, times = [r["accuracy"] for r in rs], [r["time_s"] for r in rs]
            runs[key] = {"accuracy": float(np.mean(accs)), "time_s": float(np.mean(times)), "accuracies": accs,
                         "times_s": times, "bf16": rs[0]["bf16"], "steps": rs[0]["steps"],
                         "reached": 100 * float(np.mean(accs)) >= t}
            r = runs[key]
            print(f"{key:<22} {100 * r['accuracy']:.2f}% in {r['time_s']:.2f} s (bf16 {r['bf16']}"
                  + (f"; mean of {len(rs)} seeds" if len(rs) > 1 else "") + ")"
                  + ("" if r["reached"] else f"  (below {t}%)"), flush=True)
    return runs


if __name__ == "__main__":
    main()
