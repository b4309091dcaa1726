"""One training epoch of the same network in dllab.scratch (NumPy) and in PyTorch eager, side by side.

    python benchmarks/scratch_vs_torch.py [--repeats 3]

Models: CS7643's two-layer net on MNIST (784-128-10, sigmoid, batch 64, 48,000 images) and the scratch-cifar
MLP on CIFAR-10 (3072-512-256-10, ReLU, momentum 0.9, batch 128, 45,000 images). Both frameworks get the same
data order, float32, the same thread count, L2 on weights only. Prints seconds per epoch and the ratio
scratch / torch (below 1.0: scratch is faster). Needs DLLAB_DATA.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from dllab import data
from dllab.executor import apply_budget
from dllab.scratch import models
from dllab.scratch.data import flatten_scaled
from dllab.scratch.optim import SGD

CASES = {
    "two-layer MNIST": dict(dataset="mnist", sizes=[784, 128, 10], act="sigmoid", batch=64, n=48000, lr=0.1,
                            momentum=0.0, wd=1e-3),
    "MLP CIFAR-10": dict(dataset="cifar10", sizes=[3072, 512, 256, 10], act="relu", batch=128, n=45000, lr=0.01,
                         momentum=0.9, wd=5e-4),
}


def scratch_epoch(c, x, y, order, phases=None):
    """Seconds for one epoch; with a ``phases`` dict, also the seconds spent in each phase."""
    net = models.mlp(c["sizes"], c["act"], rng=np.random.default_rng(0))
    opt = SGD(net, lr=c["lr"], momentum=c["momentum"], weight_decay=c["wd"])
    clock = time.perf_counter
    t = clock()
    for s in range(0, len(order), c["batch"]):
        idx = order[s:s + c["batch"]]
        t0 = clock()
        xb, yb = x[idx], y[idx]
        t1 = clock()
        net.forward(xb, yb)
        t2 = clock()
        net.backward()
        t3 = clock()
        opt.step()
        if phases is not None:
            for k, dt in (("batch gather", t1 - t0), ("forward", t2 - t1), ("backward", t3 - t2),
                          ("optimiser step", clock() - t3)):
                phases[k] = phases.get(k, 0.0) + dt
    return time.perf_counter() - t


def torch_epoch(c, x, y, order):
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[c["act"]]
    layers = []
    for i, (a, b) in enumerate(zip(c["sizes"][:-1], c["sizes"][1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(c["sizes"]) - 2:
            layers.append(act())
    net = torch.nn.Sequential(*layers)
    decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in net.named_parameters() if n.endswith("bias")]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": c["wd"]}, {"params": no_decay, "weight_decay": 0}],
                          lr=c["lr"], momentum=c["momentum"])
    xt, yt, ot = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(order)
    t = time.perf_counter()
    for s in range(0, len(order), c["batch"]):
        idx = ot[s:s + c["batch"]]
        loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="epochs timed per framework (the best is reported)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--profile", action="store_true", help="also print where the scratch epoch's time goes")
    args = ap.parse_args()
    apply_budget(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    from dllab.environment import describe_cpu

    print(describe_cpu())
    print(f"threads: {args.threads} (torch {torch.__version__}, numpy {np.__version__})")
    print(f"{'case':<18} {'scratch s/epoch':>16} {'torch s/epoch':>14} {'ratio':>7}")
    for name, c in CASES.items():
        ds = data.load(c["dataset"])
        x = flatten_scaled(ds.x_train[:c["n"]])
        y = np.asarray(ds.y_train[:c["n"]], dtype=np.int64)
        order = np.random.default_rng(0).permutation(len(x))
        s = min(scratch_epoch(c, x, y, order) for _ in range(args.repeats))
        t = min(torch_epoch(c, x, y, order) for _ in range(args.repeats))
        print(f"{name:<18} {s:>16.2f} {t:>14.2f} {s / t:>7.2f}")
        if args.profile:
            phases: dict[str, float] = {}
            scratch_epoch(c, x, y, order, phases)
            print("    scratch: " + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()))


if __name__ == "__main__":
    main()
