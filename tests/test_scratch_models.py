import numpy as np
import pytest
import torch

from dllab.scratch import data as sdata
from dllab.scratch import models, optim
from dllab.scratch.gradcheck import check_model
from dllab.scratch.train import evaluate, fit
from dllab.training import TrainConfig

RNG = np.random.default_rng(1)


@pytest.mark.parametrize("make", [
    lambda: models.SoftmaxRegression(6, 3, init_std=0.5, rng=RNG, dtype=np.float64),
    lambda: models.TwoLayerNet(6, 5, 3, init_std=0.5, rng=RNG, dtype=np.float64),
    lambda: models.mlp([6, 5, 4, 3], "tanh", rng=RNG, dtype=np.float64),
], ids=["softmax_regression", "two_layer", "mlp"])
def test_models_pass_gradcheck(make):
    model = make()
    x = RNG.standard_normal((7, 6))
    y = RNG.integers(0, 3, 7)
    errors = check_model(model, x, y)
    assert max(errors.values()) < 1e-6, errors


def test_two_layer_net_matches_torch():
    net = models.TwoLayerNet(6, 5, 3, init_std=0.5, rng=RNG, dtype=np.float64)
    x, y = RNG.standard_normal((4, 6)), RNG.integers(0, 3, 4)
    loss, _ = net.forward(x, y)
    net.backward()
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params().items()}
    h = torch.sigmoid(torch.tensor(x) @ p["0.W"] + p["0.b"])
    lt = torch.nn.functional.cross_entropy(h @ p["2.W"] + p["2.b"], torch.tensor(y))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12
    for k, g in net.grads().items():
        assert np.max(np.abs(g - p[k].grad.numpy())) < 1e-10


def test_softmax_regression_structure():
    m = models.SoftmaxRegression(rng=np.random.default_rng(0))
    assert list(m.params()) == ["0.W"] and m.params()["0.W"].shape == (784, 10)
    assert abs(m.params()["0.W"].std() - 1e-3) < 1e-4  # 0.001 * randn


def test_sgd_l2_on_weights_not_biases():
    net = models.TwoLayerNet(3, 2, 2, init_std=1.0, rng=RNG, dtype=np.float64)
    before = {k: v.copy() for k, v in net.params().items()}
    for g in net.grads().values():
        g[...] = 0.0
    opt = optim.SGD(net, lr=0.5, weight_decay=0.1)
    assert opt.regularization() == pytest.approx(0.05 * sum((before[k] ** 2).sum() for k in ("0.W", "2.W")))
    opt.step()  # zero loss gradient: only the L2 term moves the weights
    after = net.params()
    assert np.allclose(after["0.W"], before["0.W"] * (1 - 0.5 * 0.1))
    assert np.array_equal(after["0.b"], before["0.b"]) and np.array_equal(after["2.b"], before["2.b"])


def test_sgd_momentum_matches_torch():
    net = models.mlp([4, 3], rng=RNG, dtype=np.float64)
    w0 = net.params()["0.W"].copy()
    wt = torch.tensor(w0, requires_grad=True)
    opt_t = torch.optim.SGD([wt], lr=0.1, momentum=0.9, weight_decay=0.01)
    opt = optim.SGD(net, lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(3):
        g = RNG.standard_normal(w0.shape)
        net.grads()["0.W"][...] = g
        net.grads()["0.b"][...] = 0
        opt.step()
        wt.grad = torch.tensor(g)
        opt_t.step()
    assert np.allclose(net.params()["0.W"], wt.detach().numpy(), atol=1e-12)


def test_bad_optimizer_arguments():
    net = models.mlp([2, 2])
    for kw in ({"lr": 0}, {"lr": 0.1, "momentum": 1.0}, {"lr": 0.1, "weight_decay": -1}, {"lr": 0.1, "nesterov": True}):
        with pytest.raises(ValueError):
            optim.SGD(net, **kw)


def test_split_batches_accuracy_crop():
    x, y = np.arange(100).reshape(100, 1), np.arange(100)
    (xt, yt), (xv, yv) = sdata.train_val_split(x, y)
    assert len(xt) == 80 and yt[0] == 0 and yv[0] == 80  # the FIRST 80% trains
    got = np.concatenate([b for _, b in sdata.batches(x, y, 32, rng=np.random.default_rng(0))])
    assert sorted(got) == list(range(100)) and not np.array_equal(got, np.arange(100))
    assert sdata.accuracy(np.array([[0, 1], [1, 0]]), np.array([1, 1])) == 0.5
    imgs = np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3)
    crops = sdata.random_crop(imgs, 4, np.random.default_rng(0))
    padded = np.pad(imgs, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
    assert crops.shape == imgs.shape
    for i in range(2):
        assert any(np.array_equal(crops[i], padded[i, a:a + 8, b:b + 8]) for a in range(9) for b in range(9))


def test_fit_learns_and_keeps_best():
    g = np.random.default_rng(0)
    x = g.standard_normal((400, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like quadrants: needs the hidden layer
    net = models.mlp([2, 32, 2], "relu", rng=g)
    res = fit(net, (x[:300], y[:300]), (x[300:], y[300:]), TrainConfig(epochs=30, batch_size=16, lr=0.05, momentum=0.9))
    assert res.best_val_acc > 0.9 and res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert evaluate(net, x[300:], y[300:])[1] > 0.85
