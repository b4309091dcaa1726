"""A sweep on the local executor beside the same sweep on a local two-node Ray cluster, and what the full
reproduction would cost on clusters of 1, 8 and 64 nodes.

    python benchmarks/cluster.py [--b-values 4] [--epochs 8] [--json FILE]

The sweep is flooding (MNIST MLP, one stage per flood level b, ``--epochs`` each, no CNN) at its smoke size. Both
runs use 2 cores in this one process, one after the other: the local executor's two worker processes, and a Ray
cluster on 127.0.0.1 of two worker nodes with 1 CPU each (plus a head without CPUs), its stages keeping their
files in a storage folder as they would on machines without a shared file system. Printed: each wall time, the
ratio (Ray's overhead: task start-up, workers importing torch, checkpoints through storage), whether the
summaries are identical, the nodes the stages ran on, then ``dllab suite --preset full --dry-run`` on 1, 8 and
64 nodes of 2 cores from the figures recorded on this CPU model (else the experiments' stated estimates).
Needs Ray (``pip install 'dllab[ray]'``) and MNIST (``DLLAB_DATA`` or the cache).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from dllab.environment import describe_cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--b-values", type=int, default=4, help="flood levels: 0, 0.05, 0.1, ... (stages)")
    p.add_argument("--epochs", type=int, default=8, help="epochs per stage")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args()

    from dllab import suite
    from dllab.costs import cluster_wall
    from dllab.distributed import RayExecutor, loopback_cluster
    from dllab.runner import run_experiment
    from dllab.suite.plan import plan_costs

    b_values = [round(0.05 * i, 2) for i in range(args.b_values)]
    overrides = [f"b_values={json.dumps(b_values)}", f"train.epochs={args.epochs}", "cnn_epochs=0", "workers=2"]
    print(describe_cpu())
    figures: dict = {"cpu": describe_cpu(), "stages": len(b_values), "epochs": args.epochs}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        local = run_experiment("flooding", preset="smoke", overrides=overrides, out=tmp / "local", progress=False)
        figures["local_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with loopback_cluster(nodes=2, cpus_per_node=1) as cluster:
            figures["cluster_start_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            remote = run_experiment("flooding", preset="smoke", overrides=overrides, out=tmp / "ray",
                                    progress=False, executor=RayExecutor(cluster.address),
                                    storage=str(tmp / "storage"))
            figures["ray_s"] = time.perf_counter() - t0
        records = [json.loads(line) for line in (remote / "stages.jsonl").read_text().splitlines()]
        figures["nodes_used"] = len({r["node"] for r in records})
        figures["identical"] = (local / "summary.json").read_text() == (remote / "summary.json").read_text()
    figures["ratio"] = figures["ray_s"] / figures["local_s"]
    print(f"flooding sweep, {len(b_values)} stages x {args.epochs} epochs on 2 cores:")
    print(f"  local executor (2 worker processes):        {figures['local_s']:7.1f} s")
    print(f"  Ray, 2 nodes x 1 CPU on 127.0.0.1:          {figures['ray_s']:7.1f} s  "
          f"({figures['ratio']:.2f}x the local time; the cluster took {figures['cluster_start_s']:.1f} s to start)")
    print(f"  stages ran on {figures['nodes_used']} nodes; summaries identical: "
          f"{'yes' if figures['identical'] else 'no'}")

    costs = plan_costs(suite.plan("full"), "full")
    figures["full_core_hours"] = sum(c.core_s for c in costs) / 3600
    figures["full_wall_h"] = {n: cluster_wall(costs, n, 2) / 3600 for n in (1, 8, 64)}
    sources = {c.source for c in costs}
    print(f"dllab suite --preset full: {figures['full_core_hours']:.0f} core-hours ({', '.join(sorted(sources))} "
          "figures); wall time on nodes of 2 cores:")
    for n, h in figures["full_wall_h"].items():
        print(f"  {n:>3} node(s): {h:7.1f} h")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
