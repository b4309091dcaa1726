"""cifar-fast: the airbench94-style pieces, the smoke run, and proof that no test image reaches training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dllab.nn.fast import AirNet, FastConfig, init_whitening, normalize, train_fast, tta_logits


def test_whitening_layer_whitens_patches():
    """After init, the 2x2 patches' responses of the first 12 channels have (near) identity covariance."""
    g = torch.Generator().manual_seed(0)
    base = torch.rand(64, 3, 16, 16, generator=g)
    images = base + 0.5 * base.roll(1, dims=-1)  # correlated neighbouring pixels
    conv = torch.nn.Conv2d(3, 24, 2, bias=False)
    init_whitening(conv, images, eps=0.0)
    out = conv(images)[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    cov = (out.T @ out / len(out)).detach()
    np.testing.assert_allclose(cov.numpy(), np.eye(12), atol=0.05)
    torch.testing.assert_close(conv.weight[12:], -conv.weight[:12])


def test_airnet_shapes_and_frozen_parts():
    net = AirNet((16, 32, 32))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert not net.whiten.weight.requires_grad
    assert all(not m.weight.requires_grad for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_tta_mirror_is_flip_invariant():
    net = AirNet((8, 16, 16)).eval()
    x = torch.randn(6, 3, 32, 32)
    torch.testing.assert_close(tta_logits(net, x, 1, False), tta_logits(net, x.flip(-1), 1, False),
                               atol=1e-5, rtol=1e-4)


def _tiny(shared_data):
    from dllab import data

    ds = data.load("cifar10")
    x = torch.from_numpy(np.array(ds.x_train[:512]))
    y = torch.from_numpy(np.array(ds.y_train[:512], np.int64))
    return ds, x, y


def test_no_test_image_reaches_training(shared_data):
    """Training on the same images with the test set shuffled (or absent) gives identical weights: evaluation
    never feeds back into training."""
    ds, x, y = _tiny(shared_data)
    cfg = FastConfig(epochs=1.0, batch_size=128, widths=(8, 16, 16), precision="fp32", tta_level=1)
    xt = torch.from_numpy(np.array(ds.x_test[:300]))
    yt = torch.from_numpy(np.array(ds.y_test[:300], np.int64))
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(1))
    a = train_fast(cfg, x, y, xt, yt, seed=0)
    b = train_fast(cfg, x, y, xt[perm], yt[perm], seed=0)
    c = train_fast(cfg, x, y, None, None, seed=0)
    for k, v in a["model"].state_dict().items():
        torch.testing.assert_close(v, b["model"].state_dict()[k], rtol=0, atol=0)
        torch.testing.assert_close(v, c["model"].state_dict()[k], rtol=0, atol=0)
    assert a["accuracy"] == pytest.approx(b["accuracy"])  # the same predictions, in another order


def test_split_indices_use_training_images_only():
    from dllab.experiments.cifar_fast import split_indices

    train, held = split_indices(50_000, "holdout", None, seed=0)
    assert len(train) == 45_000 and len(held) == 5_000 and not set(train) & set(held)
    assert train.max() < 50_000 and held.max() < 50_000
    train2, none = split_indices(50_000, "test", 1000, seed=0)
    assert none is None and list(train2) == list(range(1000))


def test_cifar_fast_smoke(tmp_path, shared_data):
    from dllab.cli import main

    out = tmp_path / "cf"
    assert main(["run", "cifar-fast", "--preset", "smoke", "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert 0.15 < s["mean_accuracy"] <= 1 and s["split"] == "test" and s["bf16"] is False
    assert s["config"]["widths"] == [16, 32, 32]
    assert main(["run", "cifar-fast", "--preset", "smoke", "--set", "recipe=homework", "--out",
                 str(tmp_path / "h"), "--no-progress"]) == 2  # one line pointing at cifar-train


def test_normalize_matches_published_stats(shared_data):
    ds, x, _ = _tiny(shared_data)
    z = normalize(x)
    assert z.shape == (512, 3, 32, 32) and abs(float(z.mean())) < 0.2
