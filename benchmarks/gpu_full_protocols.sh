#!/usr/bin/env bash
# flooding's full protocol (the MLP at each of the 21 flood levels b, 500 epochs each) on one CUDA GPU, through
# the same stage mechanism as a cluster: a local Ray with the GPU, each b a Ray task with a share of it, files in
# a storage folder. As many b values as fit in 8 minutes: B (the first B of the 21 values; default 7, one round of
# SHARE=7 stages on the GPU at once) and EPOCHS (default 500, the protocol's).
#
#   DLLAB_DATA=../shared/data bash benchmarks/gpu_full_protocols.sh [OUT.json]
#
# Prints the GPU, the b values run, each stage's seconds and the total, and the same stages' figures for the
# dry run; never needed by the tests. Needs Ray (pip install 'dllab[ray]') and MNIST.
set -euo pipefail
out=${1:-gpu_full_protocols.json}
export B=${B:-7} EPOCHS=${EPOCHS:-500} SHARE=${SHARE:-7}
python - "$out" <<'PY'
import json, os, sys, tempfile, time
import torch
if not torch.cuda.is_available():
    sys.exit("no CUDA GPU here: this script measures the full protocol on a GPU")
import ray
from dllab.distributed import RayExecutor
from dllab.environment import describe_cpu
from dllab.runner import run_experiment

gpu = torch.cuda.get_device_name(0)
b_values = [round(0.01 * i, 2) for i in range(21)][: int(os.environ["B"])]
share = int(os.environ["SHARE"])  # stages sharing the GPU at once
ray.init(num_cpus=os.cpu_count(), num_gpus=1, include_dashboard=False, log_to_driver=False,
         _node_ip_address="127.0.0.1")
print(f"GPU: {gpu}; {describe_cpu()}; {len(b_values)} flood levels x {os.environ['EPOCHS']} epochs, "
      f"{share} stages at once", flush=True)
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    run = run_experiment("flooding", preset="full", progress=False, out=f"{tmp}/run", storage=f"{tmp}/storage",
                         overrides=[f"b_values={json.dumps(b_values)}", f"train.epochs={os.environ['EPOCHS']}",
                                    "cnn_epochs=0", f"workers={share}"],
                         executor=RayExecutor(cpus_per_task=max(1, os.cpu_count() // share),
                                              gpus_per_task=1 / share))
    total = time.perf_counter() - t0
    stages = [json.loads(line) for line in open(f"{run}/stages.jsonl")]
    summary = json.load(open(f"{run}/summary.json"))
figures = {"gpu": gpu, "b_values": b_values, "epochs": int(os.environ["EPOCHS"]), "share": share,
           "total_s": round(total, 1), "stage_s": {s["stage"]: s["seconds"] for s in stages},
           "best_b": summary.get("best_b")}
for s in stages:
    print(f"  {s['stage']:<10} {s['seconds']:8.1f} s")
print(f"total {total:.1f} s for {len(b_values)} x {os.environ['EPOCHS']} epochs on {gpu}; best b {figures['best_b']}")
json.dump(figures, open(sys.argv[1], "w"), indent=1)
PY
