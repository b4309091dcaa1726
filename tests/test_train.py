import numpy as np
import pytest
import torch

from dllab.config import ExperimentConfig
from dllab.errors import DivergenceError
from dllab.nn.config import TorchTrainConfig
from dllab.nn.data import batch_indices, flip, random_crop
from dllab.nn.train import evaluate, fit
from dllab.recorder import Recorder
from dllab.rundir import read_metrics
from dllab.seeding import seed_everything, torch_stream


def _blobs(n=600, seed=0):
    """Three Gaussian blobs in 2-D, as uint8-like integer features so the loop's uint8 path is used."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    centres = np.array([[60, 60], [190, 70], [120, 200]])
    x = np.clip(centres[y] + g.normal(0, 25, (n, 2)), 0, 255).astype(np.uint8)
    return torch.from_numpy(x), torch.from_numpy(y)


def _prep(x):
    return x.float() / 255.0


def _model(seed=0):
    with torch_stream(seed, "init"):
        return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                   torch.nn.Linear(16, 3))


class Cfg(ExperimentConfig):
    train: TorchTrainConfig = TorchTrainConfig()


def test_tiny_run_decreases_loss():
    x, y = _blobs()
    cfg = TorchTrainConfig(epochs=8, batch_size=32, lr=0.5, momentum=0.9, checkpoint=False)
    before = evaluate(_model(), x, y, _prep, num_classes=3)["loss"]
    model = _model()
    hist = fit(model, (x, y), {"val": (x, y)}, cfg, prep=_prep, num_classes=3, seed=0).history
    assert hist[-1]["train_loss"] < 0.5 * hist[0]["train_loss"]
    assert hist[-1]["val_loss"] < 0.5 * before and hist[-1]["val_acc"] > 0.9


def test_resume_matches_uninterrupted_run(tmp_path):
    x, y = _blobs()
    tc = TorchTrainConfig(epochs=4, batch_size=32, lr=0.3, momentum=0.9, flip_h=0.0)
    full_model = _model()
    rec_a = Recorder(tmp_path / "a", "t", Cfg(train=tc), progress=False)
    full = fit(full_model, (x, y), {"val": (x, y)}, tc, prep=_prep, num_classes=3, seed=5, recorder=rec_a)

    rec_b = Recorder(tmp_path / "b", "t", Cfg(train=tc), progress=False)
    real_log = rec_b.log

    def crash_on_epoch_3(**m):
        if m["epoch"] == 3:
            raise KeyboardInterrupt
        real_log(**m)

    rec_b.log = crash_on_epoch_3
    seed_everything(123)  # the interrupted process's global RNG state differs: dropout must not depend on it
    with pytest.raises(KeyboardInterrupt):
        fit(_model(), (x, y), {"val": (x, y)}, tc, prep=_prep, num_classes=3, seed=5, recorder=rec_b)
    resumed_rec = Recorder(tmp_path / "b", "t", Cfg(train=tc), resume=True, progress=False)
    resumed_model = _model(seed=99)  # weights come from the checkpoint
    resumed = fit(resumed_model, (x, y), {"val": (x, y)}, tc, prep=_prep, num_classes=3, seed=5,
                  recorder=resumed_rec)
    strip = [{k: v for k, v in h.items() if k != "time_s"} for h in full.history]
    assert [{k: v for k, v in h.items() if k != "time_s"} for h in resumed.history] == strip
    for p, q in zip(full_model.parameters(), resumed_model.parameters()):
        assert torch.equal(p, q)
    assert [m["epoch"] for m in read_metrics(tmp_path / "b")] == [1, 2, 3, 4]


def test_nan_loss_stops_with_clear_message(tmp_path):
    x, y = _blobs()
    tc = TorchTrainConfig(epochs=3, batch_size=32, lr=1e6)
    model = torch.nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.fill_(float("inf"))
    rec = Recorder(tmp_path / "r", "t", Cfg(train=tc), progress=False)
    with pytest.raises(DivergenceError, match=r"loss became nan at epoch 1, step 1.*Lower the learning rate"):
        fit(model, (x, y), {}, tc, prep=_prep, num_classes=3, seed=0, recorder=rec)


def test_divergence_keeps_last_good_checkpoint(tmp_path):
    x, y = _blobs()
    tc = TorchTrainConfig(epochs=3, batch_size=600, lr=0.1)
    model = torch.nn.Linear(2, 3)
    rec = Recorder(tmp_path / "r", "t", Cfg(train=tc), progress=False)
    calls = {"n": 0}

    def loss_fn(logits, yb):  # finite for the first epoch, then NaN
        calls["n"] += 1
        loss = torch.nn.functional.cross_entropy(logits, yb)
        return loss if calls["n"] == 1 else loss * float("nan")

    with pytest.raises(DivergenceError, match=r"epoch 2.*last good checkpoint.*epoch 1"):
        fit(model, (x, y), {}, tc, prep=_prep, num_classes=3, seed=0, recorder=rec, loss_fn=loss_fn)
    state = torch.load(rec.checkpoint_path("train"), weights_only=False)
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_divergence_as_a_result_stops_with_the_history_and_resumes_to_it(tmp_path):
    x, y = _blobs()
    tc = TorchTrainConfig(epochs=3, batch_size=600, lr=0.1)
    calls = {"n": 0}

    def loss_fn(logits, yb):  # finite for the first epoch, then NaN
        calls["n"] += 1
        loss = torch.nn.functional.cross_entropy(logits, yb)
        return loss if calls["n"] == 1 else loss * float("nan")

    rec = Recorder(tmp_path / "r", "t", Cfg(train=tc), progress=False)
    res = fit(torch.nn.Linear(2, 3), (x, y), {"val": (x, y)}, tc, prep=_prep, num_classes=3, seed=0, recorder=rec,
              loss_fn=loss_fn, on_divergence="stop")
    assert res.diverged == {"epoch": 2, "step": 1, "loss": "nan"} and res.stopped_early
    assert [h["epoch"] for h in res.history] == [1]
    again = fit(torch.nn.Linear(2, 3), (x, y), {"val": (x, y)}, tc, prep=_prep, num_classes=3, seed=0,
                recorder=Recorder(tmp_path / "r", "t", Cfg(train=tc), resume=True, progress=False),
                on_divergence="stop")
    assert again.diverged == res.diverged and again.history == res.history  # read back, not retrained
    with pytest.raises(ValueError, match="on_divergence"):
        fit(torch.nn.Linear(2, 3), (x, y), {}, tc, prep=_prep, num_classes=3, seed=0, on_divergence="ignore")


def test_recalibrated_batch_norm_holds_the_population_statistics_of_the_given_images():
    from dllab.nn.train import recalibrate_batch_norm

    with torch_stream(0, "init"):
        net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4))
    net[1].running_mean.fill_(5.0)  # stale statistics
    x, _ = _blobs(1000)
    recalibrate_batch_norm(net, x, _prep, batch_size=100)
    with torch.no_grad():
        h = net[0](_prep(x))
    # the mean is exact; the variance is the mean of the batches' unbiased variances (PyTorch's convention)
    assert torch.allclose(net[1].running_mean, h.mean(0), atol=1e-5)
    per_batch = torch.stack([h[i:i + 100].var(0, unbiased=True) for i in range(0, 1000, 100)]).mean(0)
    assert torch.allclose(net[1].running_var, per_batch, rtol=1e-4)
    assert net[1].momentum == 0.1 and net.training  # the layer's settings are restored


def test_stop_at_train_acc():
    x, y = _blobs()
    cfg = TorchTrainConfig(epochs=50, batch_size=32, lr=0.5, momentum=0.9, stop_at_train_acc=0.8, checkpoint=False)
    res = fit(_model(), (x, y), {}, cfg, prep=_prep, num_classes=3, seed=0)
    assert res.stopped_early and res.history[-1]["train_acc"] >= 0.8 and len(res.history) < 50


def test_evaluate_counts_and_confusion():
    model = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # predicts argmax of the input
    x = torch.tensor([[9, 1], [1, 9], [9, 1], [1, 9]], dtype=torch.uint8)
    y = torch.tensor([0, 1, 1, 1])
    ev = evaluate(model, x, y, lambda b: b.float(), num_classes=2, batch_size=3)
    assert ev["acc"] == 0.75 and ev["confusion"] == [[1, 0], [1, 2]]
    assert ev["per_class_acc"] == [1.0, pytest.approx(2 / 3)]


def test_batches_cover_every_index_once():
    g = torch.Generator().manual_seed(0)
    idx = torch.cat(list(batch_indices(103, 10, shuffle=True, generator=g)))
    assert sorted(idx.tolist()) == list(range(103))
    assert len(list(batch_indices(103, 10, shuffle=False, drop_last=True))) == 10


def test_flip_transform():
    x = torch.arange(2 * 1 * 3 * 3, dtype=torch.float32).view(2, 1, 3, 3)
    assert torch.equal(flip(x, 1.0, -2), x.flip(-2))  # vertical: rows reversed
    assert torch.equal(flip(x, 1.0, -1)[0, 0, 0], torch.tensor([2.0, 1.0, 0.0]))
    assert torch.equal(flip(x, 0.0, -2), x)
    g = torch.Generator().manual_seed(0)
    mixed = flip(torch.ones(1000, 1, 1, 2) * torch.tensor([0.0, 1.0]), 0.5, -1, g)
    assert 400 < int((mixed[:, 0, 0, 0] == 1).sum()) < 600


def test_random_crop_is_a_shifted_window():
    g = torch.Generator().manual_seed(1)
    x = torch.arange(4 * 2 * 8 * 8, dtype=torch.float32).view(4, 2, 8, 8)
    out = random_crop(x, 2, g, mode="constant")
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(4):  # each output equals some 8x8 window of its padded image
        assert any(torch.equal(out[i], padded[i, :, dy:dy + 8, dx:dx + 8]) for dy in range(5) for dx in range(5))


def _images(n=192, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g), torch.randint(0, 4, (n,), generator=g)


def _cnn():
    with torch_stream(0, "init"):
        return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                   torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4))


def _speed_variant_history(**options):
    x, y = _images()
    cfg = TorchTrainConfig(epochs=2, batch_size=64, lr=0.01, checkpoint=False, **options)
    return fit(_cnn(), (x, y), {"val": (x[:64], y[:64])}, cfg, prep=_prep, num_classes=4, seed=0).history


@pytest.mark.parametrize("options", [{"channels_last": False}, {"compile": True}])
def test_speed_options_train_the_same_network(options):
    """channels_last (the default) and torch.compile change how the numbers are computed, not which."""
    if options.get("compile"):
        import shutil

        if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
            pytest.skip("torch.compile on the CPU needs a C++ compiler")
    base = _speed_variant_history()
    other = _speed_variant_history(**options)
    for a, b in zip(base, other, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
