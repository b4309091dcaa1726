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
