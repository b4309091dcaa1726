"""Selective test-time augmentation: which share of the images needs the extra views? Trains one cifar-fast
recipe on the 45,000 / 5,000 split (the split every recipe choice is made on; no test image is read), then
evaluates the same final model with TTA on the least sure 0%, 10%, ... 100% of the held-out images and prints
each share's accuracy and evaluation time.

    python benchmarks/cifar_fast_tta.py [--target 94|85] [--recipe dllab|airbench94|airbench94_muon] [--seed N]
                                        [--shares 0,0.1,0.25,1] [--n-train N] [--json FILE]

The 94% recipe trained 43 minutes on a 2-core AVX2 EPYC (fp32; about 7 on the AMX Xeon the recipe was tuned on),
the 85% one about 7. ``--n-train`` trains on fewer images (a quick look, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from dllab import data
from dllab.environment import describe_cpu
from dllab.experiments.cifar_fast import recipe_numbers, split_indices
from dllab.nn.fast import FastConfig, normalize, train_fast, tta_logits


def main() -> None:
    ap = argparse.ArgumentParser(prog="python benchmarks/cifar_fast_tta.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", type=int, choices=(94, 85), default=94)
    ap.add_argument("--recipe", choices=("dllab", "airbench94", "airbench94_muon"), default="dllab")
    ap.add_argument("--seed", type=int, default=0, help="the training seed (the split is always seed 0's)")
    ap.add_argument("--shares", default="0,0.1,0.2,0.25,0.35,0.5,1",
                    help="comma-separated shares of the held-out images that get the extra views")
    ap.add_argument("--n-train", type=int, default=None, help="train on the first N of the 45,000 images")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = ap.parse_args()
    try:
        shares = [float(s) for s in args.shares.split(",")]
    except ValueError:
        ap.error(f"--shares takes numbers between 0 and 1 separated by commas, not {args.shares!r}")
    if not all(0 <= s <= 1 for s in shares):
        ap.error(f"--shares takes numbers between 0 and 1, got {args.shares!r}")

    ds = data.load("cifar10")
    train_idx, held_idx = split_indices(len(ds.x_train), "holdout", args.n_train, 0)
    x_tr, x_ev = (torch.from_numpy(np.array(ds.x_train[i])) for i in (train_idx, held_idx))
    y_tr, y_ev = (torch.from_numpy(np.array(ds.y_train[i], np.int64)) for i in (train_idx, held_idx))
    cfg = FastConfig(**{**recipe_numbers(args.recipe, args.target), "eval_each_epoch": False})
    print(f"{describe_cpu()}: recipe {args.recipe} for {args.target}%, seed {args.seed}, {len(train_idx)} training "
          f"and {len(held_idx)} held-out images", flush=True)
    res = train_fast(cfg, x_tr, y_tr, None, None, seed=args.seed)
    x_n = normalize(x_ev)
    rows = []
    for share in shares:
        t = time.perf_counter()
        pred = tta_logits(res["model"], x_n, cfg.tta_level, res["bf16"], uncertain=share).argmax(1)
        rows.append({"share": share, "accuracy": float((pred == y_ev).float().mean()),
                     "eval_s": round(time.perf_counter() - t, 1)})
        print(f"TTA on {100 * share:5.1f}% of the images: {100 * rows[-1]['accuracy']:.2f}% "
              f"in {rows[-1]['eval_s']:.1f} s", flush=True)
    if args.json:
        out = {"cpu": describe_cpu(), "recipe": args.recipe, "target": args.target, "seed": args.seed,
               "n_train": len(train_idx), "train_s": res["time_s"], "bf16": res["bf16"], "rows": rows}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
