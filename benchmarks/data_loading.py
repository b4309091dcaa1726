"""Dataset load time: first load (decode + verify + write cache) vs. cached load (memory-map), side by side.

    python benchmarks/data_loading.py            # needs DLLAB_DATA (e.g. ../shared/data)
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DLLAB_CACHE"] = cache
        from dllab import data
        from dllab.environment import describe_cpu

        print(describe_cpu())
        print(f"{'dataset':<10} {'first load (s)':>15} {'cached load (s)':>16} {'speed-up':>9}")
        for name in ("mnist", "cifar10"):
            t0 = time.perf_counter()
            ds = data.load(name)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            ds = data.load(name)
            np.asarray(ds.x_train).sum()  # touch every byte so the memory map is really read
            cached = time.perf_counter() - t0
            print(f"{name:<10} {first:>15.2f} {cached:>16.3f} {first / cached:>8.1f}x")


if __name__ == "__main__":
    main()
