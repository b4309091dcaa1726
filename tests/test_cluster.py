"""A run's stages on a real multi-node Ray cluster on 127.0.0.1, results and checkpoints through storage (a local
folder, or a real S3-API server), a node lost mid-stage, and the cost estimate of --dry-run."""

from __future__ import annotations

import json
import os
import pickle
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dllab.runner import run_experiment

# Ray's nodes and moto's server start against deadlines: alone, not beside another test file (make test)
pytestmark = pytest.mark.serial

# flooding at smoke with its two MLP stages side by side: one task per node of the cluster
SWEEP = ["workers=2"]


def _records(run_dir: Path) -> dict[str, dict]:
    return {r["stage"]: r for r in map(json.loads, (run_dir / "stages.jsonl").read_text().splitlines())}


def _local(tmp_path: Path, name: str, overrides: list[str], monkeypatch) -> Path:
    """The same run on the local executor with one core: the threads every Ray task of the cluster gets."""
    with monkeypatch.context() as m:
        m.setenv("DLLAB_THREADS", "1")
        return run_experiment("flooding", preset="smoke", overrides=overrides, out=tmp_path / name, progress=False)


@pytest.fixture(scope="module")
def cluster():
    """A head node with no CPUs (it only coordinates) and two worker nodes of 1 CPU each, all on 127.0.0.1;
    shared by the tests of this module (the lost-node test, which removes a node, comes last)."""
    pytest.importorskip("ray", reason="Ray tests skipped: pip install 'dllab[ray]'")
    from dllab.distributed import loopback_cluster

    with loopback_cluster(nodes=2, cpus_per_node=1) as c:
        yield c


def test_a_sweep_spreads_over_the_nodes_with_the_local_summary(cluster, tmp_path, shared_data, monkeypatch):
    """Through dllab suite: the run is a Ray task and its stages are tasks nested in it (the run gives its CPU
    back while it waits), so both run on the two 1-CPU nodes. `dllab run --executor ray` is the next test's."""
    from dllab import suite
    from dllab.distributed import RayExecutor

    local = _local(tmp_path, "local", SWEEP, monkeypatch)
    record = suite.run_suite(preset="smoke", only=["flooding"], jobs=1, out=tmp_path / "suite", pdf=False,
                             progress=False, executor=RayExecutor(cluster.address), storage=str(tmp_path / "st"),
                             overrides=[f"flooding:{o}" for o in SWEEP])
    assert [r["status"] for r in record["runs"]] == ["finished"], record["runs"]
    remote = tmp_path / "suite" / "flooding"
    assert (tmp_path / "st" / "suite" / "flooding" / "stages" / "mlp_b0" / "result.json").is_file()
    records = _records(remote)
    assert set(records) == {"mlp_b0", "mlp_b0.1", "cnn_b0"}
    assert len({r["node"] for r in records.values()}) >= 2, records  # the sweep ran on both worker nodes
    assert all(r["seconds"] > 0 and r["threads"] == 1 and r["host"] for r in records.values())
    assert (remote / "summary.json").read_text() == (local / "summary.json").read_text()
    # the run directory is assembled as a local run's: the same files, each epoch's row once
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file() and p.name[0] != "."}
    assert files == {p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file() and p.name[0] != "."}
    rows = [(r["run"], r["epoch"]) for r in map(json.loads, (remote / "metrics.jsonl").read_text().splitlines())]
    assert sorted(rows) == sorted((r["run"], r["epoch"]) for r in
                                  map(json.loads, (local / "metrics.jsonl").read_text().splitlines()))


def test_a_node_lost_mid_stage_costs_at_most_an_epoch(cluster, tmp_path, shared_data, monkeypatch):
    """The node training mlp_b0 is removed once that stage has checkpointed an epoch: Ray runs the stage again on
    the other node, which continues after the last epoch in storage; the summary is the uninterrupted run's."""
    from dllab.distributed import RayExecutor
    from dllab.storage import Storage

    epochs = 10
    overrides = [*SWEEP, f"train.epochs={epochs}", "cnn_epochs=0"]
    store = Storage(str(tmp_path / "storage")).child("ray")
    outcome: dict = {}

    def drive():
        try:
            outcome["dir"] = run_experiment("flooding", preset="smoke", overrides=overrides, out=tmp_path / "ray",
                                            progress=False, executor=RayExecutor(cluster.address),
                                            storage=str(tmp_path / "storage"))
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    driver = threading.Thread(target=drive)
    driver.start()
    deadline = time.monotonic() + 120
    while not store.get("stages/mlp_b0/checkpoints/mlp_b0.pt") and time.monotonic() < deadline:
        assert driver.is_alive(), outcome
        time.sleep(0.02)
    node_id = json.loads(store.get("stages/mlp_b0/attempts/1.json"))["node"]
    [node] = [n for n in cluster.worker_nodes if n.node_id == node_id]
    cluster.remove_node(node, allow_graceful=False)
    driver.join(300)
    assert "error" not in outcome, outcome.get("error")
    record = _records(outcome["dir"])["mlp_b0"]
    assert record["attempt"] == 2 and record["node"] != node_id
    resumed = record["resumed_after"]["mlp_b0"]
    assert 1 <= resumed < epochs  # it re-trained fewer epochs than it has
    local = _local(tmp_path, "local", overrides, monkeypatch)
    assert (outcome["dir"] / "summary.json").read_text() == (local / "summary.json").read_text()
    lines = (outcome["dir"] / "metrics.jsonl").read_text().splitlines()
    rows = [(r["run"], r["epoch"]) for r in map(json.loads, lines)]
    assert sorted(rows) == sorted({(f"mlp_b{b}", e) for b in ("0", "0.1") for e in range(1, epochs + 1)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """moto's S3 server on 127.0.0.1 with an empty bucket; the AWS variables that point clients at it."""
    pytest.importorskip("moto", reason="S3 tests skipped: pip install 'moto[server]'")
    s3fs = pytest.importorskip("s3fs", reason="S3 tests skipped: pip install 'dllab[s3]'")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "moto's server did not start"
                time.sleep(0.1)
        s3fs.S3FileSystem(skip_instance_cache=True).mkdir("dllab-test")
        yield env
    finally:
        server.terminate()
        server.wait(10)


def where_am_i(rec) -> str:
    """A stage that tells where its recorder writes."""
    return str(rec.dir.resolve())


class Capture:
    """An executor that runs stages in this process and keeps what they were given."""

    def __init__(self):
        from dllab.executor import LocalExecutor

        self.inner, self.sent = LocalExecutor(1), []

    def map(self, stages, **kwargs):
        self.sent.append(pickle.dumps(stages))
        return self.inner.map(stages, **kwargs)


def test_stages_keep_their_files_in_s3_and_never_see_a_driver_path(s3, tmp_path, shared_data, monkeypatch):
    import torch

    from dllab.recorder import Recorder
    from dllab.storage import Storage

    run_dir = tmp_path / "s3run"
    res = subprocess.run([sys.executable, "-m", "dllab", "run", "flooding", "--preset", "smoke", "--out",
                          str(run_dir), "--storage", "s3://dllab-test/runs", "--no-progress"],
                         capture_output=True, text=True, env={**os.environ, **s3}, timeout=300)
    assert res.returncode == 0, res.stderr
    store = Storage("s3://dllab-test/runs").child("s3run")
    # the results and checkpoints read back from S3
    assert json.loads(store.get("run/summary.json")) == json.loads((run_dir / "summary.json").read_text())
    state = torch.load(__import__("io").BytesIO(store.get("stages/mlp_b0/checkpoints/mlp_b0.pt")),
                       weights_only=False)
    assert state["epoch"] == 2
    assert json.loads(store.get("stages/mlp_b0/result.json")) == \
        json.loads((run_dir / "stages" / "mlp_b0.json").read_text())
    assert store.get("run/report.html").startswith(b"<!DOCTYPE html>")
    assert json.loads((run_dir / "env.json").read_text())["storage"] == store.uri
    # a new run with the same name is refused, not mixed in
    again = subprocess.run([sys.executable, "-m", "dllab", "run", "flooding", "--preset", "smoke", "--out",
                            str(tmp_path / "other" / "s3run"), "--storage", "s3://dllab-test/runs"],
                           capture_output=True, text=True, env={**os.environ, **s3}, timeout=120)
    assert again.returncode == 2 and "already holds a run's files" in again.stderr

    # the stage code gets a storage URI and a folder of its own, never a path of the driver's machine
    driver = tmp_path / "driver-run"
    ex = Capture()
    from dllab.runner import resolve_config

    rec = Recorder(driver, "flooding", resolve_config("flooding", "smoke")[1], executor=ex,
                   storage=Storage("s3://dllab-test/probe"))
    [seen] = rec.map_stages({"probe": (where_am_i, {})}).values()
    assert str(driver) not in seen and not Path(seen).is_relative_to(driver.resolve())
    assert str(driver).encode() not in ex.sent[0] and str(driver.resolve()).encode() not in ex.sent[0]
    assert b"s3://dllab-test/probe" in ex.sent[0]


def test_dry_run_estimates_a_cluster_from_recorded_stage_times(tmp_path, monkeypatch):
    from dllab import timings

    monkeypatch.setenv("DLLAB_CACHE", str(tmp_path / "cache"))
    for stage in ("mlp_b0", "mlp_b0.1", "cnn_b0", "cnn_best"):
        timings.record("flooding", "smoke", 100.0, f"stage:{stage}")
    timings.record("flooding", "smoke", 20.0, "serial")
    res = subprocess.run([sys.executable, "-m", "dllab", "run", "flooding", "--preset", "smoke", "--dry-run",
                          "--nodes", "1", "2", "4", "--cpus-per-node", "2"], capture_output=True, text=True,
                         env={**os.environ, "DLLAB_CACHE": str(tmp_path / "cache")}, timeout=120)
    assert res.returncode == 0, res.stderr
    assert re.search(r"flooding\s+4 stages\s+0\.12 core-h\s+\(recorded\)", res.stdout)
    # serial 20 core-s on 2 cores (10 s), then 4 stages of 100 core-s: 2 at a time on 1 core each (200 s); on 2
    # nodes 4 at a time (100 s); on 4 nodes each on a node's 2 cores (50 s)
    for nodes, wall in ((1, "3 min 30 s"), (2, "1 min 50 s"), (4, "1 min 0 s")):
        assert f"on {nodes} node(s) x 2 cores: about {wall} of wall time" in res.stdout
    # a stage never recorded is estimated like its recorded peers; a run with none from its stated estimate
    from dllab import experiments
    from dllab.costs import run_cost
    from dllab.runner import resolve_config

    module, cfg = resolve_config("flooding", "smoke", overrides=["b_values=[0.0,0.1,0.2]"])
    cost = run_cost("flooding", module, cfg, "smoke")
    assert cost.stages["mlp_b0.2"] == 100.0 and cost.source == "partly recorded"
    module, cfg = resolve_config("random-labels", "full")
    cost = run_cost("random-labels", module, cfg, "full")
    stated = experiments.get("random-labels").ESTIMATE_S["full"]
    assert cost.source == "stated" and cost.core_s == pytest.approx(2 * stated)


def test_a_killed_driver_resumes_without_rerunning_a_finished_stage(tmp_path, shared_data):
    """The driver is SIGKILLed while the second stage trains: --resume finds the storage in env.json, reads the
    finished stage back and continues the other after its last epoch in storage."""
    from dllab.storage import Storage

    args = [sys.executable, "-m", "dllab", "run", "flooding", "--preset", "smoke", "--set", "train.epochs=8",
            "--set", "cnn_epochs=0", "--no-progress"]
    whole = subprocess.run([*args, "--out", str(tmp_path / "whole")], capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    run = tmp_path / "killed"
    store = Storage(str(tmp_path / "storage")).child("killed")
    driver = subprocess.Popen([*args, "--out", str(run), "--storage", str(tmp_path / "storage")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while store.get("stages/mlp_b0.1/checkpoints/mlp_b0.1.pt") is None:
        assert driver.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    driver.kill()
    driver.wait()
    resumed = subprocess.run([sys.executable, "-m", "dllab", "run", "flooding", "--out", str(run), "--resume",
                              "--no-progress"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = _records(run)
    assert records["mlp_b0"]["attempt"] == 1 and len(store.keys("stages/mlp_b0/attempts")) == 1  # not re-run
    assert records["mlp_b0.1"]["attempt"] == 2 and 1 <= records["mlp_b0.1"]["resumed_after"]["mlp_b0.1"] < 8
    assert (run / "summary.json").read_text() == (tmp_path / "whole" / "summary.json").read_text()
