"""The scratch experiments end to end at their smoke presets."""

import json
import shutil

import pytest

from dllab import experiments
from dllab.rundir import read_metrics
from dllab.runner import run_experiment


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, shared_data):
    return run_experiment("scratch-mnist", preset="smoke", out=tmp_path_factory.mktemp("r") / "m", progress=False)


def test_scratch_mnist_smoke(mnist_run):
    s = json.loads((mnist_run / "summary.json").read_text())
    assert set(experiments.get("scratch-mnist").SUMMARY_KEYS) <= set(s)
    assert s["test_accuracy"] > 0.6 and 1 <= s["best_epoch"] <= 3  # 4,800 images, 3 epochs: learning, not chance
    assert set(s["lr_sweep"]) == {"0.5", "0.05"} and set(s["reg_sweep"]) == {"0.01", "0.0001"}
    assert s["tuned"]["gain_over_default"] == pytest.approx(s["tuned"]["best_val_accuracy"] - s["best_val_accuracy"])
    figs = {p.name for p in (mnist_run / "figures").iterdir()}
    assert figs == {"learning_curves.png", "lr_sweep.png", "reg_sweep.png", "tuned_vs_default.png"}
    runs = {m["run"] for m in read_metrics(mnist_run)}
    assert runs == {"main", "lr=0.5", "lr=0.05", "reg=0.01", "reg=0.0001", "tuned"}


def test_scratch_mnist_resume_skips_finished_stages(mnist_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(mnist_run, copy)
    (copy / "stages" / "tuned.json").unlink()  # as if the run was interrupted during the tuned study
    (copy / "summary.json").unlink()
    run_experiment("scratch-mnist", out=copy, resume=True, progress=False)
    assert (copy / "summary.json").read_text() == (mnist_run / "summary.json").read_text()
    assert [m["run"] for m in read_metrics(copy)].count("main") == 3  # not trained again


def test_scratch_mnist_rejects_bad_tuned_entry(tmp_path, shared_data):
    from dllab.errors import DllabError

    with pytest.raises(DllabError):
        run_experiment("scratch-mnist", preset="smoke", overrides=["tuned={lr: -1}", "studies=[tuned]"],
                       out=tmp_path / "x", progress=False)


def test_scratch_cifar_smoke(tmp_path, shared_data):
    out = run_experiment("scratch-cifar", preset="smoke", out=tmp_path / "c", progress=False)
    s = json.loads((out / "summary.json").read_text())
    assert set(s["test_accuracy"]) == {"plain", "augmented"}
    assert all(0.15 < v < 0.6 for v in s["test_accuracy"].values())  # 1,500 images: above chance (10%)
    assert {p.name for p in (out / "figures").iterdir()} == {"augmentation.png", "learning_curves.png"}
