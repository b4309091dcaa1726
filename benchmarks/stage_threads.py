"""What re-sharing the cores among parallel stages buys: a sweep whose stages differ in length.

    python benchmarks/stage_threads.py [--n 4000] [--short 1] [--long 6] [--width 16]

Two Myrtle-5 trainings on the first ``--n`` CIFAR-10 images run as parallel stages of one run
(``Recorder.map_stages``, one worker per core): a short one (``--short`` epochs) and a long one (``--long``).
Measured side by side in this process:

* fixed: each worker keeps the threads it started with (cores / workers) to the end, as before dllab re-shared
  them; the stages train without a recorder, so nothing triggers a re-share;
* re-shared: the stages log each epoch to the run's recorder, so when the short stage ends the long one takes
  over its core (``dllab.executor.worker_threads``).

Both variants train the same networks on the same data with the same seed (the printed training accuracy shows
the same work was done; its last digits may differ, as the thread count changes the order of floating-point
sums); the speed-up is in the long stage's tail, which runs on all cores instead of one share. Needs CIFAR-10
(``DLLAB_DATA`` or the cache).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from dllab.config import ExperimentConfig
from dllab.environment import cpu_cores, describe_cpu
from dllab.recorder import Recorder


def train_stage(rec: Recorder, *, n: int, epochs: int, width: int, log: bool) -> dict:
    """One stage: Myrtle-5 on the first ``n`` training images; logs each epoch to ``rec`` when ``log``."""
    import torch

    from dllab import data
    from dllab.nn.config import TorchTrainConfig
    from dllab.nn.data import as_tensors, images_to_float
    from dllab.nn.models import make_cnn
    from dllab.nn.train import fit

    ds = data.load("cifar10")
    train = as_tensors(ds.x_train[:n], ds.y_train[:n])
    test = as_tensors(ds.x_test[:1000], ds.y_test[:1000])
    from dllab.seeding import torch_stream

    with torch_stream(0, "init"):
        net = make_cnn(width)
    cfg = TorchTrainConfig(epochs=epochs, checkpoint=False)
    t = time.perf_counter()
    res = fit(net, train, {"test": test}, cfg, prep=images_to_float, num_classes=10, seed=0,
              recorder=rec if log else None, name=f"e{epochs}")
    return {"seconds": time.perf_counter() - t, "threads_at_end": torch.get_num_threads(),
            "train_acc": res.history[-1]["train_acc"]}


def sweep(args, log: bool) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        rec = Recorder(tmp, "bench", ExperimentConfig(seed=0), progress=False)
        tasks = {f"e{e}": (train_stage, {"n": args.n, "epochs": e, "width": args.width, "log": log})
                 for e in (args.short, args.long)}
        t = time.perf_counter()
        out = rec.map_stages(tasks, workers=2)
        return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000, help="training images per stage")
    ap.add_argument("--short", type=int, default=1, help="epochs of the short stage")
    ap.add_argument("--long", type=int, default=6, help="epochs of the long stage")
    ap.add_argument("--width", type=int, default=16, help="Myrtle-5 width c")
    args = ap.parse_args()
    print(describe_cpu())
    print(f"{cpu_cores()} cores, 2 workers; stages of {args.short} and {args.long} epochs on {args.n} images, "
          f"c = {args.width}")
    times = {}
    for label, log in (("fixed", False), ("re-shared", True)):
        times[label], out = sweep(args, log)
        long = out[f"e{args.long}"]
        print(f"{label:>9}: sweep {times[label]:6.1f} s; long stage {long['seconds']:6.1f} s, "
              f"{long['threads_at_end']} threads at its end, train acc {long['train_acc']:.4f}")
    print(f"speed-up of the sweep: {times['fixed'] / times['re-shared']:.2f}x")


if __name__ == "__main__":
    main()
