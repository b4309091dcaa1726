"""CIFAR-10 pieces: label noise and the three experiments at their smoke presets."""

import json

import numpy as np
import pytest

from dllab import experiments
from dllab.nn.data import noisy_labels
from dllab.runner import run_experiment


def test_label_noise_rate_and_reproducibility():
    y = np.repeat(np.arange(10), 1000)
    noisy, idx = noisy_labels(y, 0.5, 10, seed=1)
    assert len(idx) == 5000 and len(np.unique(idx)) == 5000
    untouched = np.setdiff1d(np.arange(len(y)), idx)
    assert np.array_equal(noisy[untouched], y[untouched])
    changed = np.mean(noisy != y)
    assert abs(changed - 0.5 * 0.9) < 0.02  # a redrawn label keeps its value 1 time in 10
    again, idx2 = noisy_labels(y, 0.5, 10, seed=1)
    assert np.array_equal(noisy, again) and np.array_equal(idx, idx2)
    assert not np.array_equal(noisy, noisy_labels(y, 0.5, 10, seed=2)[0])
    full, _ = noisy_labels(y, 1.0, 10, seed=0)
    assert abs(np.mean(full != y) - 0.9) < 0.02 and np.bincount(full).min() > 800
    with pytest.raises(ValueError):
        noisy_labels(y, 1.5, 10, 0)


@pytest.mark.parametrize("name", ["cifar-train", "flip-robustness", "random-labels"])
def test_cifar_experiments_smoke(name, tmp_path, shared_data):
    out = run_experiment(name, preset="smoke", out=tmp_path / "r", progress=False)
    s = json.loads((out / "summary.json").read_text())
    assert set(experiments.get(name).SUMMARY_KEYS) <= set(s)
    assert list((out / "figures").glob("*.png"))
    if name == "flip-robustness":
        assert set(s["per_class_drop"]) == {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                            "ship", "truck"}
    if name == "random-labels":
        assert set(s["table"]) == {"2", "8"} and set(s["table"]["8"]) == {"0", "0.5", "1"}
        assert s["label_noise"]["1"]["redrawn"] == 300


def test_flip_robustness_evaluates_a_cifar_train_checkpoint(tmp_path, shared_data):
    trained = run_experiment("cifar-train", preset="smoke", out=tmp_path / "train", progress=False)
    ckpt = trained / "checkpoints" / "train.pt"
    flip = run_experiment("flip-robustness", preset="smoke", out=tmp_path / "flip", progress=False,
                          overrides=[f"checkpoint={ckpt}"])
    acc = json.loads((trained / "summary.json").read_text())["final_test_accuracy"]
    s = json.loads((flip / "summary.json").read_text())
    assert s["acc"] == pytest.approx(acc, abs=1e-6)  # the same network on the same test set
    assert not (flip / "checkpoints" / "plain.pt").exists()  # nothing was trained in its place


def test_cnn_training_depends_on_the_seed(tmp_path, shared_data):
    """Another seed, other numbers; the same seed's same numbers, with the default speed options (channels_last
    convolutions), are checked in test_resume.py (a re-run from the run's config.yaml in another process)."""
    def numbers(out):
        s = json.loads((out / "summary.json").read_text())
        return {k: v for k, v in s.items() if k not in ("train_time_s", "time_to_target_s")}

    a = run_experiment("cifar-train", preset="smoke", out=tmp_path / "a", progress=False)
    c = run_experiment("cifar-train", preset="smoke", out=tmp_path / "c", progress=False, seed=1)
    assert numbers(c) != numbers(a)
