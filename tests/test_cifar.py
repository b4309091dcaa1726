"""CIFAR-10 pieces: Myrtle-5 shapes, label noise, and the three experiments at their smoke presets."""

import json

import numpy as np
import pytest
import torch

from dllab import experiments
from dllab.runner import run_experiment
from dllab.torch.data import noisy_labels
from dllab.torch.models import count_parameters, make_cnn


@pytest.mark.parametrize("c", [4, 16, 64])
def test_myrtle5_shapes(c):
    net = make_cnn(c)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [c, 2 * c, 4 * c, 8 * c]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net) == 4
    assert net[-1].in_features == 8 * c


def test_myrtle_flops_match_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    from dllab.torch.models import myrtle_flops

    for c in (4, 16):
        with FlopCounterMode(display=False) as counter:
            make_cnn(c).eval()(torch.zeros(1, 3, 32, 32))
        assert counter.get_total_flops() == myrtle_flops(c)


def test_myrtle5_without_batch_norm():
    plain = make_cnn(8, batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain)
    assert all(m.bias is not None for m in plain if isinstance(m, torch.nn.Conv2d))
    # BN (weight + bias per channel) is replaced by a conv bias (one per channel)
    assert count_parameters(make_cnn(8)) - count_parameters(plain) == 8 + 16 + 32 + 64


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


def test_load_weights_round_trip_and_clear_errors(tmp_path):
    from dllab.errors import ConfigError
    from dllab.torch.models import load_weights

    torch.manual_seed(0)
    saved = make_cnn(4)
    # a dllab checkpoint keeps the weights under "model", beside optimiser state and history
    torch.save({"model": saved.state_dict(), "epoch": 3, "history": [{"epoch": 1, "test_acc": 0.5}]},
               tmp_path / "ckpt.pt")
    torch.save(saved.state_dict(), tmp_path / "plain.pt")
    for name in ("ckpt.pt", "plain.pt"):
        torch.manual_seed(1)
        net = make_cnn(4)
        load_weights(net, tmp_path / name)
        for a, b in zip(net.state_dict().values(), saved.state_dict().values(), strict=True):
            assert torch.equal(a, b)

    with pytest.raises(ConfigError, match=r"does not exist"):
        load_weights(make_cnn(4), tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match=r"not a readable PyTorch weights file"):
        load_weights(make_cnn(4), tmp_path / "junk.pt")
    with pytest.raises(ConfigError, match=r"0\.weight: \(4, 3, 3, 3\) saved, \(8, 3, 3, 3\) in the model.*width=8"):
        load_weights(make_cnn(8), tmp_path / "ckpt.pt", hint="; try width=8")
    with pytest.raises(ConfigError, match=r"does not fit the model"):
        load_weights(make_cnn(4, batch_norm=False), tmp_path / "ckpt.pt")


def test_flip_robustness_evaluates_a_cifar_train_checkpoint(tmp_path, shared_data):
    trained = run_experiment("cifar-train", preset="smoke", out=tmp_path / "train", progress=False)
    ckpt = trained / "checkpoints" / "train.pt"
    flip = run_experiment("flip-robustness", preset="smoke", out=tmp_path / "flip", progress=False,
                          overrides=[f"checkpoint={ckpt}"])
    acc = json.loads((trained / "summary.json").read_text())["final_test_accuracy"]
    s = json.loads((flip / "summary.json").read_text())
    assert s["acc"] == pytest.approx(acc, abs=1e-6)  # the same network on the same test set
    assert not (flip / "checkpoints" / "plain.pt").exists()  # nothing was trained in its place


def test_cnn_training_is_reproducible(tmp_path, shared_data):
    """Same seed, same numbers, with the default speed options (channels_last convolutions)."""
    def numbers(out):
        s = json.loads((out / "summary.json").read_text())
        return {k: v for k, v in s.items() if k not in ("train_time_s", "time_to_target_s")}

    a = run_experiment("cifar-train", preset="smoke", out=tmp_path / "a", progress=False)
    b = run_experiment("cifar-train", preset="smoke", out=tmp_path / "b", progress=False)
    assert numbers(a) == numbers(b)
    c = run_experiment("cifar-train", preset="smoke", out=tmp_path / "c", progress=False, seed=1)
    assert numbers(c) != numbers(a)
