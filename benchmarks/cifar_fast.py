"""Fast CIFAR-10 side by side in one run: time to 85% and to 94% for cifar-fast (the dllab recipes), the
airbench94 baseline's time to 94%, the homework recipe's images/s (Myrtle-5 c = 64, batch 128; not a 2-hour
rerun), the training step's achieved GFLOP/s next to large fp32 and bf16 matmuls measured in the same run (the
machine's ceiling), and where a training step's time goes (torch.profiler, by kind of operation).

    python benchmarks/cifar_fast.py [--throughput-only] [--seed N] [--json FILE]

Times count everything after the data is loaded and decoded: set-up, whitening, the precision measurement,
training and the final test-time-augmented evaluation (no per-epoch evaluation). Accuracies are on the 10,000
test images; one seed (``dllab run cifar-fast --preset full`` gives 5). Prints the CPU model and its extensions.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from dllab.environment import cpu_cores, describe_cpu
from dllab.executor import apply_budget
from dllab.nn.fast import AirNet, FastConfig, choose_precision, make_optimizers, train_fast
from dllab.nn.models import make_cnn, model_flops
from dllab.nn.throughput import matmul_gflops, step_profile, train_rate, training_step
from dllab.seeding import torch_stream


def recipe(target: int, name: str) -> FastConfig:
    from dllab.experiments.cifar_fast import RECIPES

    return FastConfig(**RECIPES[target][name], eval_each_epoch=False)


def profile_rows(cfg: FastConfig, bf16: bool) -> dict[str, float]:
    """The share of one training step's time per kind of operation, at the recipe's batch size."""
    with torch_stream(0, "bench", "profile"):
        net = AirNet(cfg.widths, cfg.bn_momentum, cfg.scaling).to(memory_format=torch.channels_last)
        x = torch.randn(cfg.batch_size, 3, 32, 32).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (cfg.batch_size,))
    opts, _ = make_optimizers(cfg, net)
    return step_profile(training_step(net, x, y, opts, bf16=bf16))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--throughput-only", action="store_true", help="skip the three training runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    apply_budget()  # the one place that sets torch's threads (dllab.executor)
    print(describe_cpu(), f"| {cpu_cores()} threads | torch {torch.__version__}", flush=True)
    rows: dict = {"cpu": describe_cpu(), "threads": cpu_cores(), "torch": torch.__version__}
    rows["matmul_fp32_gflops"] = matmul_gflops(2048)
    rows["matmul_bf16_gflops"] = matmul_gflops(2048, dtype=torch.bfloat16)
    print(f"matmul 2048^2: fp32 {rows['matmul_fp32_gflops']:.0f} GFLOP/s, bf16 {rows['matmul_bf16_gflops']:.0f}",
          flush=True)
    fast94 = recipe(94, "dllab")
    with torch_stream(args.seed, "bench"):
        air, myrtle = AirNet(), make_cnn(64)
    chosen = {}
    for name, net, batch in (("airbench net", air, fast94.batch_size), ("homework Myrtle-5 c=64", myrtle, 128)):
        x, y = torch.rand(batch // 2, 3, 32, 32), torch.randint(0, 10, (batch // 2,))
        bf16, _ = choose_precision(net.to(memory_format=torch.channels_last),
                                   x.contiguous(memory_format=torch.channels_last), y)
        chosen[name] = bf16
        flops = 3 * model_flops(net, (3, 32, 32))  # forward + backward ~ 3x forward
        for prec in (False, True):
            rate, _ = train_rate(net, batch, max(4, 2048 // batch), bf16=prec)
            key = f"{name} batch {batch} {'bf16' if prec else 'fp32'}"
            rows[key] = {"images_per_s": rate, "gflops": rate * flops / 1e9}
            print(f"{key:<36}: {rate:7.0f} images/s, {rate * flops / 1e9:6.0f} GFLOP/s"
                  f"{'  <- chosen at start-up' if prec == bf16 else ''}", flush=True)
    homework = rows["homework Myrtle-5 c=64 batch 128 fp32"]["images_per_s"]  # cifar-train's default precision
    rows["homework_20_epochs_projected_min"] = 20 * 50_000 / homework / 60
    print(f"the homework recipe (20 epochs of 50,000 images, fp32) at that rate: "
          f"{rows['homework_20_epochs_projected_min']:.0f} min", flush=True)
    rows["profile"] = profile_rows(fast94, chosen["airbench net"])
    print("where a cifar-fast training step's time goes:",
          ", ".join(f"{k} {100 * v:.0f}%" for k, v in rows["profile"].items()), flush=True)
    if not args.throughput_only:
        from dllab import data

        ds = data.load("cifar10")
        x_tr, y_tr = torch.from_numpy(np.array(ds.x_train)), torch.from_numpy(np.array(ds.y_train, np.int64))
        x_te, y_te = torch.from_numpy(np.array(ds.x_test)), torch.from_numpy(np.array(ds.y_test, np.int64))
        for label, target, name in (("cifar-fast 85%", 85, "dllab"), ("cifar-fast 94%", 94, "dllab"),
                                    ("airbench94 baseline 94%", 94, "airbench94")):
            r = train_fast(recipe(target, name), x_tr, y_tr, x_te, y_te, seed=args.seed)
            rows[label] = {"accuracy": r["accuracy"], "time_s": r["time_s"], "bf16": r["bf16"], "steps": r["steps"]}
            print(f"{label:<26} {100 * r['accuracy']:.2f}% in {r['time_s']:.0f} s (bf16 {r['bf16']})", flush=True)
        speedup = rows["airbench94 baseline 94%"]["time_s"] / rows["cifar-fast 94%"]["time_s"]
        rows["speedup_to_94_vs_airbench94"] = speedup
        print(f"cifar-fast is {speedup:.2f}x faster to 94% than the airbench94 baseline (goal: 1.5x)", flush=True)
    if args.json:
        from dllab.fileio import write_json

        write_json(args.json, rows)


if __name__ == "__main__":
    main()
