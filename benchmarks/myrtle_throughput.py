"""Training throughput of Myrtle-5 on CIFAR-sized batches: images/s and achieved GFLOP/s of the speed options
(channels_last, torch.compile, bf16 autocast) side by side, next to a plain matmul's GFLOP/s (the machine's
practical ceiling) measured in the same run.

    python benchmarks/myrtle_throughput.py [--widths 16 32 64] [--steps 8] [--batch 128] [--no-compile]

Variants, each a TrainConfig setting: eager fp32 (the default), channels_last, channels_last + compile, bf16
autocast. FLOPs are counted analytically (2 x multiply-adds of every conv and the linear layer, forward), and a
training step is taken as 3x the forward FLOPs (forward + two backward products). Compile time is excluded (two
warm-up steps); it is printed separately. Uses random inputs: no dataset needed.
"""

from __future__ import annotations

import argparse

import torch

from dllab.environment import describe_cpu
from dllab.executor import apply_budget
from dllab.nn.models import make_cnn, myrtle_flops
from dllab.nn.throughput import matmul_gflops, train_rate
from dllab.seeding import torch_stream

VARIANTS = {  # name -> (bf16, channels_last, compile)
    "fp32": (False, False, False),
    "fp32 channels_last": (False, True, False),
    "fp32 channels_last + compile": (False, True, True),
    "bf16 autocast": (True, False, False),
}


def _rate(c: int, bf16: bool, channels_last: bool, compile_: bool, steps: int, batch: int) -> tuple[float, float]:
    with torch_stream(0, "init"):
        net = make_cnn(c)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return train_rate(net, batch, steps, bf16=bf16, channels_last=channels_last,
                      forward=torch.compile(net) if compile_ else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = ap.parse_args()
    apply_budget()  # the one place that sets torch's threads (dllab.executor)
    ceiling = matmul_gflops()
    print(describe_cpu())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul 2048^2: {ceiling:.1f} GFLOP/s")
    print(f"{'width':>5} {'variant':<28} {'images/s':>9} {'x fp32':>6} {'GFLOP/s':>8} {'of matmul':>9} "
          f"{'epoch (50k) min':>15} {'warm-up s':>9}")
    for c in args.widths:
        base = None
        for name, (bf16, cl, comp) in VARIANTS.items():
            if comp and args.no_compile:
                continue
            rate, warm = _rate(c, bf16, cl, comp, args.steps, args.batch)
            base = base or rate
            gflops = 3 * myrtle_flops(c) * rate / 1e9
            print(f"{c:>5} {name:<28} {rate:>9.0f} {rate / base:>6.2f} {gflops:>8.1f} {gflops / ceiling:>8.0%} "
                  f"{50000 / rate / 60:>15.1f} {warm:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
