"""The first experiment end to end at its smoke preset, and the run contract around it."""

import json

import pytest

from dllab import experiments
from dllab.cli import main
from dllab.config import load_yaml, validate
from dllab.rundir import read_metrics
from dllab.runner import run_experiment


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("runs") / "a"
    assert main(["run", "mnist-logreg", "--preset", "smoke", "--seed", "3", "--out", str(out), "--no-progress"]) == 0
    return out


def test_run_directory_layout(smoke_run):
    names = {p.name for p in smoke_run.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "summary.json", "env.json", "figures", "report.html"} <= names
    assert {p.name for p in (smoke_run / "figures").iterdir()} == {"learning_curves.png", "confusion_matrix.png",
                                                                   "weight_templates.png"}
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert set(experiments.get("mnist-logreg").SUMMARY_KEYS) <= set(summary)
    # 2,000 images, 2 epochs of a linear model: well above chance, below the full run
    assert 0.75 < summary["test_accuracy"] < 0.95
    env = json.loads((smoke_run / "env.json").read_text())
    assert env["seed"] == 3 and env["status"] == "finished" and env["versions"]["torch"]
    assert [m["epoch"] for m in read_metrics(smoke_run)] == [1, 2]
    cfg = load_yaml(smoke_run / "config.yaml")
    assert cfg["seed"] == 3 and cfg["n_train"] == 2000 and cfg["train"]["epochs"] == 2


def test_same_seed_same_summary(smoke_run, tmp_path):
    again = run_experiment("mnist-logreg", preset="smoke", seed=3, out=tmp_path / "b", progress=False)
    assert (again / "summary.json").read_text() == (smoke_run / "summary.json").read_text()
    other = run_experiment("mnist-logreg", preset="smoke", seed=4, out=tmp_path / "c", progress=False)
    assert (other / "summary.json").read_text() != (smoke_run / "summary.json").read_text()


def test_resume_of_a_finished_run_reproduces_it(smoke_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(smoke_run, copy)
    run_experiment("mnist-logreg", out=copy, resume=True, progress=False)
    assert (copy / "summary.json").read_text() == (smoke_run / "summary.json").read_text()
    assert len(read_metrics(copy)) == 2


def test_report_rebuilds(smoke_run, tmp_path):
    (smoke_run / "report.html").unlink()
    assert main(["report", str(smoke_run), "--combined", str(tmp_path / "all.html")]) == 0
    assert "data:image/png;base64," in (smoke_run / "report.html").read_text()
    assert (tmp_path / "all.html").is_file()


def test_shipped_yaml_configs_validate():
    from pathlib import Path

    shipped = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert len(shipped) >= 3, "configs/ lost its example files"
    for path in shipped:
        experiment = path.stem.split(".")[0]
        validate(experiments.get(experiment).Config, load_yaml(path))
