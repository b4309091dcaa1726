import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dllab import experiments
from dllab.data import random_split
from dllab.nn.models import flooded, mlp, mnist_cnn
from dllab.runner import run_experiment
from dllab.seeding import rng


def test_flooded_loss_value_and_gradient_sign_flip():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 10, generator=g).requires_grad_()
    y = torch.randint(0, 10, (8,), generator=g)
    r = F.cross_entropy(logits, y)
    (g_plain,) = torch.autograd.grad(r, logits)
    above = flooded(F.cross_entropy, float(r.detach()) - 0.5)  # R > b: same value and gradient as R
    lb = above(logits, y)
    (g_above,) = torch.autograd.grad(lb, logits)
    assert float(lb.detach()) == pytest.approx(float(r.detach())) and torch.allclose(g_above, g_plain)
    b = float(r.detach()) + 0.5  # R < b: value 2b - R, gradient -dR (ascent)
    below = flooded(F.cross_entropy, b)
    lb = below(logits, y)
    (g_below,) = torch.autograd.grad(lb, logits)
    assert float(lb.detach()) == pytest.approx(2 * b - float(r.detach())) and torch.allclose(g_below, -g_plain)
    assert float(flooded(F.cross_entropy, 0.0)(logits, y).detach()) == pytest.approx(float(r.detach()))


def test_split_proportions_and_reproducibility():
    tr, va = random_split(60000, 0.8, rng(3, "split"))
    assert len(tr) == 48000 and len(va) == 12000
    assert len(np.intersect1d(tr, va)) == 0 and len(np.union1d(tr, va)) == 60000
    tr2, va2 = random_split(60000, 0.8, rng(3, "split"))
    assert np.array_equal(va, va2) and not np.array_equal(va, random_split(60000, 0.8, rng(4, "split"))[1])
    with pytest.raises(ValueError):
        random_split(10, 1.0, rng(0, "split"))


def test_model_shapes():
    assert mlp([784, 500, 10])(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert mnist_cnn()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_flooding_smoke(tmp_path, shared_data):
    out = run_experiment("flooding", preset="smoke", out=tmp_path / "f", progress=False)
    s = json.loads((out / "summary.json").read_text())
    assert set(experiments.get("flooding").SUMMARY_KEYS) <= set(s)
    assert set(s["val_error_by_b"]) == {"0", "0.1"} and s["split"]["n_train"] == 2400 and s["split"]["n_val"] == 600
    assert 0.5 < s["baseline"]["test_accuracy"] < 1.0
    assert {p.name for p in (out / "figures").iterdir()} == {"flooding.png", "flood_levels.png", "mlp_vs_cnn.png"}
    split = np.load(out / "split.npz")
    assert len(split["val_indices"]) == 600
