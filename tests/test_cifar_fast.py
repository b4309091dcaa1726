"""cifar-fast: the airbench94-style pieces, the smoke run, and proof that no test image reaches training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dllab.nn.fast import AirNet, FastConfig, init_whitening, normalize, train_fast, tta_logits
from dllab.nn.throughput import training_step
from dllab.seeding import torch_stream


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


def test_selective_tta_augments_only_the_least_sure_images():
    with torch_stream(0, "test", "tta"):
        net = AirNet((8, 16, 16)).eval()
        x = torch.randn(40, 3, 32, 32)
    plain, full = tta_logits(net, x, 0, False, batch=16), tta_logits(net, x, 2, False, batch=16)
    assert not torch.allclose(plain, full)
    torch.testing.assert_close(tta_logits(net, x, 2, False, uncertain=0.0), plain)
    some = tta_logits(net, x, 2, False, batch=16, uncertain=0.25)
    unsure = plain.softmax(1).amax(1).argsort()[:10]  # 25% of 40: the 10 lowest top probabilities
    changed = (some != plain).any(1).nonzero().flatten()
    assert sorted(changed.tolist()) == sorted(unsure.tolist())
    torch.testing.assert_close(some[unsure], full[unsure], atol=1e-5, rtol=1e-5)


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


@pytest.mark.parametrize("recipe,seeds", [("dllab", 2), ("airbench94", 1), ("airbench94_muon", 1)])
def test_cifar_fast_smoke(tmp_path, shared_data, recipe, seeds):
    """Each recipe's smoke run trains with its own optimiser (the smoke preset changes only size and length) and
    reports the spread over seeds with a Student-t interval around the mean."""
    from scipy import stats

    from dllab.cli import main
    from dllab.experiments.cifar_fast import RECIPES

    out = tmp_path / "cf"
    assert main(["run", "cifar-fast", "--preset", "smoke", "--set", f"recipe={recipe}", "--set", f"seeds={seeds}",
                 "--out", str(out), "--no-progress"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert 0.15 < s["mean_accuracy"] <= 1 and s["split"] == "test" and s["bf16"] is False
    assert s["config"]["widths"] == [16, 32, 32] and s["recipe"] == recipe
    for key, value in RECIPES[94][recipe].items():  # the recipe's numbers, except what the smoke preset sets
        if key not in ("epochs", "batch_size"):
            assert s["config"][key] == pytest.approx(value), key
    a = np.array(s["accuracies"])
    assert len(a) == seeds
    if seeds == 1:  # one run says nothing about the spread
        assert s["std_accuracy"] == 0 and s["ci95_low_accuracy"] == s["ci95_high_accuracy"] == a[0]
        return
    assert s["std_accuracy"] == pytest.approx(a.std(ddof=1)) and a[0] != a[1]
    half = stats.t.ppf(0.975, 1) * a.std(ddof=1) / np.sqrt(2)  # 12.7 standard errors with 2 seeds
    assert s["ci95_low_accuracy"] == pytest.approx(a.mean() - half)
    assert s["ci95_high_accuracy"] == pytest.approx(a.mean() + half)


def test_cifar_fast_homework_recipe_points_at_cifar_train(tmp_path, shared_data):
    from dllab.cli import main

    assert main(["run", "cifar-fast", "--preset", "smoke", "--set", "recipe=homework", "--out",
                 str(tmp_path / "h"), "--no-progress"]) == 2  # one line pointing at cifar-train


def test_normalize_matches_published_stats(shared_data):
    """The constants are the training set's channel means and standard deviations (to the published 4 digits), and
    normalize applies them channel by channel to NHWC uint8 images."""
    from dllab import data
    from dllab.nn.fast import CIFAR_MEAN, CIFAR_STD

    x_all = np.asarray(data.load("cifar10").x_train).reshape(-1, 3)
    # exact per-channel moments from the 256-bin histograms (no 1.2 GB float copy of the 50,000 images)
    hist = np.stack([np.bincount(x_all[:, c], minlength=256) for c in range(3)]) / len(x_all)
    levels = np.arange(256) / 255
    mean = hist @ levels
    np.testing.assert_allclose(mean, CIFAR_MEAN, atol=6e-5)
    np.testing.assert_allclose(np.sqrt(hist @ levels**2 - mean**2), CIFAR_STD, atol=6e-5)
    _, x, _ = _tiny(shared_data)
    z = normalize(x)
    assert z.shape == (512, 3, 32, 32)
    expected = (x.permute(0, 3, 1, 2).double() / 255 - torch.tensor(CIFAR_MEAN, dtype=torch.float64).view(3, 1, 1)) \
        / torch.tensor(CIFAR_STD, dtype=torch.float64).view(3, 1, 1)
    torch.testing.assert_close(z.double(), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("optimizer", ["nesterov", "muon"])
def test_optimizers_cover_each_trainable_parameter_once(optimizer):
    from dllab.nn.fast import make_optimizers

    for whitening, bn_scale in ((True, False), (False, True)):
        net = AirNet((8, 16, 16))
        net.whiten.weight.requires_grad_(not whitening)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.requires_grad_(bn_scale)
        opts, groups = make_optimizers(FastConfig(optimizer=optimizer), net)
        seen = [id(p) for o in opts for g in o.param_groups for p in g["params"]]
        assert sorted(seen) == sorted(id(p) for p in net.parameters() if p.requires_grad)
        if optimizer == "muon":  # Muon takes the conv filters, SGD the rest
            assert {p.ndim for p in groups["filters"]["params"]} == {4}
            assert groups["head"]["params"] == [net.head.weight]
            assert groups["filters"]["dtype"] == torch.bfloat16  # Newton-Schulz in the steps' precision
            assert make_optimizers(FastConfig(optimizer=optimizer), net, bf16=False)[1]["filters"]["dtype"] \
                == torch.float32


def test_airnet_takes_low_resolution_crops():
    """Progressive resizing: the global max at the end makes any input size work; at 32 px it is the 3x3 pool."""
    net = AirNet((8, 16, 16)).eval()
    assert net(torch.randn(2, 3, 24, 24)).shape == (2, 10)
    x = torch.randn(2, 3, 32, 32)
    h = net.groups(torch.nn.functional.gelu(net.whiten(x)))
    assert h.shape[-2:] == (3, 3)
    torch.testing.assert_close(net(x), net.head(torch.nn.functional.max_pool2d(h, 3).flatten(1)) * net.scaling)


@pytest.mark.parametrize("change", [dict(optimizer="muon", schedule="linear", lookahead=False, head_unit_std=True),
                                    dict(low_res=24, low_res_epochs=1), dict(alternate_flip=False),
                                    dict(whitening=False, train_bn_scale=True)])
def test_recipe_variants_train(shared_data, change):
    ds, x, y = _tiny(shared_data)
    cfg = FastConfig(epochs=2.0, batch_size=128, widths=(8, 16, 16), precision="fp32", tta_level=1, **change)
    r = train_fast(cfg, x, y, x[:200], y[:200], seed=0)
    assert r["steps"] == 8
    losses = [h["train_loss"] for h in r["history"]]
    assert np.isfinite(losses).all() and losses[1] < losses[0]  # it learns: the second epoch's loss is lower
    assert r["accuracy"] > 0.11 and r["accuracy_no_tta"] > 0.11  # above chance (0.10) after 8 steps (0.14-0.19)
    plain = tta_logits(r["model"], normalize(x[:200]), 0, False).argmax(1)  # the final model, without TTA
    assert r["accuracy_no_tta"] == pytest.approx(float((plain == y[:200]).float().mean()))
    if change.get("whitening") is False:  # the first layer trained as an ordinary conv
        assert r["model"].whiten.weight.requires_grad


def test_ablation_rows_are_changes_from_the_recipe():
    from dllab.experiments.cifar_fast import ablation_rows

    runs = {"none": [{"accuracy": 0.86, "time_s": 100.0}, {"accuracy": 0.88, "time_s": 110.0}],
            "translation": [{"accuracy": 0.84, "time_s": 100.0}, {"accuracy": 0.85, "time_s": 100.0}]}
    rows = ablation_rows(runs)
    assert rows[0]["removed"].startswith("nothing") and rows[0]["change (points)"] == 0
    assert rows[1]["change (points)"] == pytest.approx(-2.5) and rows[1]["time / recipe's"] == pytest.approx(0.95)
    assert rows[1]["seeds"] == 2


def test_training_step_updates_only_with_an_optimiser_and_clears_gradients():
    with torch_stream(0, "test", "step"):
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        x, y = torch.randn(8, 3, 2, 2), torch.randint(0, 3, (8,))
    w0, b0 = net[1].weight.detach().clone(), net[1].bias.detach().clone()
    training_step(net, x, y)()
    assert torch.equal(net[1].weight, w0) and net[1].weight.grad is None
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    training_step(net, x, y, [opt])()
    expected = w0.clone().requires_grad_()
    torch.nn.functional.cross_entropy(x.flatten(1) @ expected.T + b0, y).backward()
    assert torch.allclose(net[1].weight, w0 - 0.1 * expected.grad, atol=1e-6) and net[1].weight.grad is None


def test_precision_is_timed_only_where_bf16_has_units(monkeypatch):
    """Without bf16 units only fp32 is timed (a bf16 step would take tens of seconds to lose) and fp32 is chosen;
    with them both are timed and the faster wins. The probe itself agrees with a direct comparison."""
    from dllab.nn import throughput

    calls = []
    monkeypatch.setattr(throughput, "seconds_per_call", lambda call, steps: (calls.append(call), 1.0)[1])
    monkeypatch.setattr(throughput, "bf16_units", lambda: False)
    times = throughput.precision_times(lambda bf16: None)
    assert list(times) == ["fp32"] and len(calls) == 1 and not throughput.bf16_faster(times)
    monkeypatch.setattr(throughput, "bf16_units", lambda: True)
    assert list(throughput.precision_times(lambda bf16: None)) == ["fp32", "bf16"]
    assert throughput.bf16_faster({"fp32": 2.0, "bf16": 1.0}) and not throughput.bf16_faster({"fp32": 1.0, "bf16": 2.0})


def test_a_diverging_run_stops_at_the_step_in_one_line(shared_data):
    """A learning rate far too large makes the loss NaN within the first steps: the run stops there with a
    DivergenceError that names the epoch and step and the key to lower, instead of training on NaN weights."""
    from dllab.errors import DivergenceError

    _, x, y = _tiny(shared_data)
    cfg = FastConfig(epochs=2, batch_size=128, widths=(8, 16, 16), lr=1e38, precision="fp32",
                     eval_each_epoch=False, tta_level=0)
    with pytest.raises(DivergenceError, match=r"loss became nan at epoch 1, step \d.*fast\.lr") as err:
        train_fast(cfg, x, y, None, None, seed=0, progress=False)
    assert "\n" not in str(err.value)
