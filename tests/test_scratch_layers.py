"""Every scratch layer against finite differences and against torch autograd (float64)."""

import numpy as np
import pytest
import torch

from dllab.scratch import layers as L
from dllab.scratch.gradcheck import numerical_grad, relative_error

RNG = np.random.default_rng(0)


def _layer_cases():
    """(name, layer, input shape, equivalent torch function of (x, params))"""
    f64 = np.float64
    return [
        ("linear", L.Linear(5, 4, rng=RNG, dtype=f64), (3, 5), lambda x, p: x @ p["W"] + p["b"]),
        ("linear_nobias", L.Linear(5, 4, bias=False, rng=RNG, dtype=f64), (3, 5), lambda x, p: x @ p["W"]),
        ("relu", L.ReLU(), (4, 6), lambda x, p: torch.relu(x)),
        ("sigmoid", L.Sigmoid(), (4, 6), lambda x, p: torch.sigmoid(x)),
        ("tanh", L.Tanh(), (4, 6), lambda x, p: torch.tanh(x)),
        ("identity", L.Identity(), (4, 6), lambda x, p: x),
        ("softmax", L.Softmax(), (4, 6), lambda x, p: torch.softmax(x, 1)),
        ("flatten", L.Flatten(), (2, 3, 2, 2), lambda x, p: x.reshape(2, -1)),
        ("conv", L.Conv2d(2, 3, 3, rng=RNG, dtype=f64), (2, 2, 6, 5),
         lambda x, p: torch.nn.functional.conv2d(x, p["W"], p["b"])),
        ("conv_pad_stride", L.Conv2d(2, 3, 3, stride=2, padding=1, rng=RNG, dtype=f64), (2, 2, 7, 6),
         lambda x, p: torch.nn.functional.conv2d(x, p["W"], p["b"], stride=2, padding=1)),
        ("maxpool", L.MaxPool2d(2), (2, 3, 6, 4), lambda x, p: torch.nn.functional.max_pool2d(x, 2)),
        ("maxpool_overlap", L.MaxPool2d(3, 2), (2, 2, 7, 7), lambda x, p: torch.nn.functional.max_pool2d(x, 3, 2)),
    ]


CASES = _layer_cases()


@pytest.mark.parametrize("name,layer,shape,ref", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch_autograd(name, layer, shape, ref):
    x = RNG.standard_normal(shape)
    g = RNG.standard_normal(layer.forward(x).shape)
    out = layer.forward(x)
    dx = layer.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    out_t = ref(xt, pt)
    out_t.backward(torch.tensor(g))
    assert np.max(np.abs(out - out_t.detach().numpy())) < 1e-6
    assert np.max(np.abs(dx - xt.grad.numpy())) < 1e-6
    for k in layer.params:
        assert np.max(np.abs(layer.grads[k] - pt[k].grad.numpy())) < 1e-6, k


@pytest.mark.parametrize("name,layer,shape,ref", CASES, ids=[c[0] for c in CASES])
def test_layer_gradcheck(name, layer, shape, ref):
    x = RNG.standard_normal(shape)
    g = RNG.standard_normal(layer.forward(x).shape)

    def f():  # a scalar whose gradient w.r.t. the output is g
        return float(np.sum(layer.forward(x) * g))

    layer.forward(x)
    dx = layer.backward(g)
    analytic = {k: v.copy() for k, v in layer.grads.items()}
    assert relative_error(dx, numerical_grad(f, x)) < 1e-6
    for k, p in layer.params.items():
        assert relative_error(analytic[k], numerical_grad(f, p)) < 1e-6, k


def test_cross_entropy_matches_torch_and_gradcheck():
    z = RNG.standard_normal((5, 4))
    y = RNG.integers(0, 4, 5)
    ce = L.CrossEntropy()
    loss = ce.forward(z, y)
    g = ce.backward()
    zt = torch.tensor(z, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(zt, torch.tensor(y))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12 and np.max(np.abs(g - zt.grad.numpy())) < 1e-12
    assert relative_error(g, numerical_grad(lambda: ce.forward(z, y), z)) < 1e-7


def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype=np.float32)
    ce = L.CrossEntropy()
    loss = ce.forward(z, np.array([1, 1]))
    g = ce.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    assert loss == pytest.approx(1e4, rel=1e-6)  # first row: 2e4 nats wrong, second: 0; mean 1e4
    assert g[0, 0] == pytest.approx(0.5) and g[0, 1] == pytest.approx(-0.5)


def test_mse_matches_torch():
    p, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    mse = L.MSE()
    loss = mse.forward(p, t)
    pt = torch.tensor(p, requires_grad=True)
    lt = torch.nn.functional.mse_loss(pt, torch.tensor(t))
    lt.backward()
    assert abs(loss - lt.item()) < 1e-12 and np.max(np.abs(mse.backward() - pt.grad.numpy())) < 1e-12


def test_sequential_names_parameters():
    net = L.Sequential(L.Linear(3, 4, rng=RNG), L.ReLU(), L.Linear(4, 2, bias=False, rng=RNG))
    named = net.named_parameters()
    assert list(named) == ["0.W", "0.b", "2.W"]
    assert [d for _, _, d in named.values()] == [True, False, True]  # biases never decay
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    assert net.forward(x).dtype == np.float32 and net.forward(x).shape == (5, 2)


def test_sigmoid_is_stable_at_extremes():
    s = L.Sigmoid()
    out = s.forward(np.array([-1e4, 0.0, 1e4], dtype=np.float32))
    assert np.array_equal(out, np.array([0.0, 0.5, 1.0], dtype=np.float32))
