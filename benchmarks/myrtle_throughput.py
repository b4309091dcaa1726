"""Training throughput of Myrtle-5 on CIFAR-sized batches: images/s, achieved GFLOP/s, and a plain matmul's GFLOP/s
(the machine's practical ceiling) measured in the same run.

    python benchmarks/myrtle_throughput.py [--widths 16 32 64] [--steps 5] [--batch 128] [--channels-last]

FLOPs are counted analytically (2 x multiply-adds of every conv and the linear layer, forward), and a training step
is taken as 3x the forward FLOPs (forward + two backward products). Uses random inputs: no dataset needed.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from dllab.torch.models import make_cnn, myrtle_flops


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def train_rate(c: int, bf16: bool, steps: int, batch: int, channels_last: bool) -> float:
    torch.manual_seed(0)
    net = make_cnn(c)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--channels-last", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    ceiling = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; fp32 matmul 2048^2: {ceiling:.1f} GFLOP/s")
    print(f"{'width':>5} {'precision':>9} {'images/s':>9} {'GFLOP/s':>8} {'of matmul':>9} {'epoch (50k) min':>15}")
    for c in args.widths:
        for bf16 in (False, True):
            rate = train_rate(c, bf16, args.steps, args.batch, args.channels_last)
            gflops = 3 * myrtle_flops(c) * rate / 1e9
            print(f"{c:>5} {'bf16' if bf16 else 'fp32':>9} {rate:>9.0f} {gflops:>8.1f} {gflops / ceiling:>8.0%} "
                  f"{50000 / rate / 60:>15.1f}")


if __name__ == "__main__":
    main()
