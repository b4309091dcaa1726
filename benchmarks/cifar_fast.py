"""Fast CIFAR-10 side by side in one run: time to 85% and to 94% for cifar-fast, the airbench94 baseline's time
to 94%, the homework recipe's images/s (Myrtle-5 c = 64; not a 2-hour rerun), and the training steps' achieved
GFLOP/s next to large fp32 and bf16 matmuls measured in the same run (the machine's ceiling).

    python benchmarks/cifar_fast.py [--throughput-only] [--json FILE]

Times count everything after the data is loaded and decoded: set-up, whitening, the precision measurement,
training and the final test-time-augmented evaluation (no per-epoch evaluation). Accuracies are on the 10,000
test images. Prints the CPU model and its extensions.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from dllab.environment import cpu_cores, describe_cpu
from dllab.nn.fast import AirNet, FastConfig, choose_precision, train_fast
from dllab.nn.models import make_cnn, model_flops
from dllab.nn.throughput import matmul_gflops, train_rate
from dllab.seeding import torch_stream


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--throughput-only", action="store_true", help="skip the three training runs")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    torch.set_num_threads(cpu_cores())
    print(describe_cpu(), f"| {cpu_cores()} threads | torch {torch.__version__}", flush=True)
    rows: dict = {"cpu": describe_cpu()}
    rows["matmul_fp32_gflops"] = matmul_gflops(2048)
    rows["matmul_bf16_gflops"] = matmul_gflops(2048, dtype=torch.bfloat16)
    print(f"matmul 2048^2: fp32 {rows['matmul_fp32_gflops']:.0f} GFLOP/s, bf16 {rows['matmul_bf16_gflops']:.0f}",
          flush=True)
    with torch_stream(0, "bench"):
        air, myrtle = AirNet(), make_cnn(64)
    for name, net, batch in (("airbench94 net", air, 512), ("homework Myrtle-5 c=64", myrtle, 128)):
        x, y = torch.rand(batch // 2, 3, 32, 32), torch.randint(0, 10, (batch // 2,))
        bf16, _ = choose_precision(net.to(memory_format=torch.channels_last),
                                   x.contiguous(memory_format=torch.channels_last), y)
        flops = 3 * model_flops(net, (3, 32, 32))  # forward + backward ~ 3x forward
        for prec in (False, True):
            rate, _ = train_rate(net, batch, 4, bf16=prec)
            rows[f"{name} {'bf16' if prec else 'fp32'} images/s"] = rate
            print(f"{name:<24} {'bf16' if prec else 'fp32'}: {rate:7.0f} images/s, {rate * flops / 1e9:6.0f} GFLOP/s"
                  f"{'  <- chosen at start-up' if prec == bf16 else ''}", flush=True)
    if not args.throughput_only:
        from dllab import data
        from dllab.experiments.cifar_fast import RECIPES

        ds = data.load("cifar10")
        x_tr, y_tr = torch.from_numpy(np.array(ds.x_train)), torch.from_numpy(np.array(ds.y_train, np.int64))
        x_te, y_te = torch.from_numpy(np.array(ds.x_test)), torch.from_numpy(np.array(ds.y_test, np.int64))
        for label, target, recipe in (("cifar-fast 85%", 85, "dllab"), ("cifar-fast 94%", 94, "dllab"),
                                      ("airbench94 baseline 94%", 94, "airbench94")):
            cfg = FastConfig(**RECIPES[target][recipe], eval_each_epoch=False)
            r = train_fast(cfg, x_tr, y_tr, x_te, y_te, seed=0)
            rows[label] = {"accuracy": r["accuracy"], "time_s": r["time_s"], "bf16": r["bf16"]}
            print(f"{label:<26} {100 * r['accuracy']:.2f}% in {r['time_s']:.0f} s (bf16 {r['bf16']})", flush=True)
    if args.json:
        from dllab.fileio import write_json

        write_json(args.json, rows)


if __name__ == "__main__":
    main()
