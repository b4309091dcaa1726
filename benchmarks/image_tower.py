"""The lit encoder's image tower (frozen EfficientNet-Lite0) side by side in one run: images/s of a forward pass in
fp32 with the NCHW layout (the tower before), fp32 channels-last, and bf16 autocast channels-last (what
``ImageTower`` uses where bf16 is measured faster), at each input size; and how far bf16 features are from fp32.

    python benchmarks/image_tower.py [--sizes 160 224] [--batch 128] [--repeats 2]

Inputs are real TinyImageNet validation images (upsampled from 64 px as the tower does), so it needs the data.
"""

from __future__ import annotations

import argparse
import time

import torch

from dllab.environment import cpu_cores, describe_cpu
from dllab.executor import apply_budget
from dllab.search.galleries import validation_set
from dllab.search.towers import ImageTower, normalize_rows, to_nchw


def rate(fn, batch: torch.Tensor, repeats: int) -> tuple[float, torch.Tensor]:
    out = fn(batch[:16])  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        out = fn(batch)
    return repeats * len(batch) / (time.perf_counter() - t), out


def bench(size: int, pixels: torch.Tensor, repeats: int) -> str:
    tower = ImageTower(size, flip=False, precision="fp32")
    nchw = tower.model.to(memory_format=torch.contiguous_format)  # the module itself, converted in place

    def fp32_nchw(p):
        with torch.no_grad():
            return nchw.features(tower.prepare(p).contiguous())

    r0, f0 = rate(fp32_nchw, pixels, repeats)
    tower.model = nchw.to(memory_format=torch.channels_last)
    r1, _ = rate(lambda p: tower.forward(p, False), pixels, repeats)
    r2, f2 = rate(lambda p: tower.forward(p, True), pixels, repeats)
    cos = (normalize_rows(f0.numpy()) * normalize_rows(f2.numpy())).sum(1)
    return (f"{size} px: fp32 NCHW {r0:.0f} images/s; fp32 channels-last {r1:.0f} ({r1 / r0:.2f}x); "
            f"bf16 channels-last {r2:.0f} ({r2 / r0:.2f}x); bf16 vs fp32 feature cosine mean {cos.mean():.4f}, "
            f"min {cos.min():.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[160, 224])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    apply_budget()  # the one place that sets torch's threads (dllab.executor)
    _, xv, _, _, _ = validation_set(None)
    pixels = to_nchw(xv[::10][:args.batch])
    print(f"{describe_cpu()}; {cpu_cores()} threads; batch {len(pixels)}")
    for size in args.sizes:
        print(bench(size, pixels, args.repeats))


if __name__ == "__main__":
    main()
