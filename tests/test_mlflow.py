"""MLflow tracking against a real `mlflow server` (SQLite store, local artifact root) on 127.0.0.1: a smoke run's
params, per-epoch metrics, summary and artifacts read back through MlflowClient."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dllab.tracking import metric_points
from test_cli import assert_one_line_error, dllab

mlflow = pytest.importorskip("mlflow", reason="MLflow tracking tests need the mlflow extra (make install has it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    exe = Path(sys.executable).with_name("mlflow")
    cmd = [str(exe) if exe.exists() else shutil.which("mlflow"), "server", "--host", "127.0.0.1", "--port",
           str(port), "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination",
           str(root / "artifacts"), "--workers", "1"]
    log = open(root / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("mlflow server did not start: " + (root / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()


def test_a_run_is_tracked_and_read_back_through_the_client(mlflow_server, tmp_path, shared_data):
    from mlflow.tracking import MlflowClient

    out = tmp_path / "run"
    res = dllab("run", "mnist-logreg", "--preset", "smoke", "--out", str(out), "--set", "train.lr=0.05",
                "--mlflow", mlflow_server)
    assert res.returncode == 0, res.stderr
    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("mnist-logreg")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_name == out.name
    assert run.data.tags["dllab.run_dir"] == str(out.resolve())
    # params: the flattened config
    assert run.data.params["train.lr"] == "0.05" and run.data.params["seed"] == "0"
    assert run.data.params["n_train"] == str(json.loads((out / "summary.json").read_text())["n_train"])
    # per-epoch metrics, one point per epoch, equal to metrics.jsonl
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    history = client.get_metric_history(run.info.run_id, "train/test_acc")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([r["test_acc"] for r in rows])
    # the summary's numbers
    summary = json.loads((out / "summary.json").read_text())
    assert run.data.metrics["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    assert run.data.metrics["per_class_accuracy.3"] == pytest.approx(summary["per_class_accuracy"]["3"])
    # artifacts: the report, the summary and the figures, byte for byte
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "summary.json", "config.yaml", "figures"} <= names
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/learning_curves.png" in figures
    got = Path(client.download_artifacts(run.info.run_id, "report.html", str(tmp_path)))
    assert got.read_bytes() == (out / "report.html").read_bytes()


def test_a_server_that_is_not_there_is_one_clear_line(tmp_path, shared_data):
    url = f"http://127.0.0.1:{_free_port()}"
    res = dllab("run", "mnist-logreg", "--preset", "smoke", "--out", str(tmp_path / "r"), "--mlflow", url,
                env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"})
    assert_one_line_error(res, r"MLflow at http://127.0.0.1:\d+ could not start a run .*run without --mlflow")
    assert not (tmp_path / "r").exists()  # nothing was written: nothing to resume


def test_metric_points_name_series_by_their_tags_and_step_by_epoch():
    records = [{"run": "b0.1", "phase": "train", "epoch": 1, "loss": 0.5, "ok": True},
               {"run": "b0.1", "phase": "train", "epoch": 2, "loss": 0.25},
               {"phase": "eval", "step": 0.5, "acc": 0.9}, {"phase": "eval", "step": 1.5, "acc": 0.95}]
    assert metric_points(records) == [("b0.1/train/loss", 0.5, 1), ("b0.1/train/loss", 0.25, 2),
                                      ("eval/acc", 0.9, 0), ("eval/acc", 0.95, 1)]
