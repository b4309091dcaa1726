"""dllab.training: one vocabulary of training knobs and one schedule for the NumPy and the PyTorch loops."""

import math

import pytest

from dllab.config import describe_fields
from dllab.nn.config import TorchTrainConfig
from dllab.runner import resolve_config
from dllab.training import TrainConfig, lr_factor


def test_lr_schedules():
    cfg = TrainConfig(epochs=10, schedule="cosine", lr=1.0)
    assert lr_factor(cfg, 0, 10) == 1.0 and lr_factor(cfg, 50, 10) == pytest.approx(0.5)
    assert lr_factor(cfg, 99, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.99)))
    assert lr_factor(TrainConfig(epochs=10, schedule="step", step_epochs=3, step_gamma=0.5), 65, 10) == 0.25
    assert lr_factor(TrainConfig(epochs=10, schedule="linear", warmup_epochs=1), 4, 10) == pytest.approx(0.5)


def test_a_per_epoch_step_schedule_is_the_per_step_one_at_epoch_boundaries():
    cfg = TrainConfig(epochs=30, schedule="step", step_epochs=10, step_gamma=0.1)
    steps = 7
    per_step = [lr_factor(cfg, s, steps) for s in range(30 * steps)]
    per_epoch = [0.1 ** (e // 10) for e in range(30) for _ in range(steps)]
    assert per_step == pytest.approx(per_epoch)


def _train_rows(name: str) -> dict[str, dict]:
    _, cfg = resolve_config(name, "smoke")
    return {r["key"]: r for r in describe_fields(cfg) if r["key"].startswith("train.")}


@pytest.mark.parametrize("scratch", ["scratch-mnist", "scratch-cifar"])
@pytest.mark.parametrize("torch_experiment", ["cifar-train", "flooding", "mnist-logreg"])
def test_show_lists_the_same_train_keys_with_the_same_meanings(scratch, torch_experiment):
    s, t = _train_rows(scratch), _train_rows(torch_experiment)
    assert set(s) == {f"train.{k}" for k in TrainConfig.model_fields}
    assert set(s) <= set(t)
    for key in s:
        assert (s[key]["type"], s[key]["description"]) == (t[key]["type"], t[key]["description"]), key
    assert set(t) - set(s) == {f"train.{k}" for k in set(TorchTrainConfig.model_fields) - set(TrainConfig.model_fields)}


def test_scratch_and_torch_sgd_take_the_same_steps():
    """One knob, one meaning: the NumPy SGD (momentum, Nesterov, L2 on weights) matches torch.optim.SGD as
    dllab.nn.train configures it, step for step."""
    import numpy as np
    import torch

    from dllab.nn.train import make_optimizer
    from dllab.scratch import models
    from dllab.scratch.optim import SGD
    from dllab.seeding import rng

    cfg = TorchTrainConfig(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    net = models.TwoLayerNet(6, 5, 3, init_std=0.5, rng=rng(0, "init"), dtype=np.float64)
    tnet = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 3)).double()
    named = dict(net.params())
    with torch.no_grad():
        layers = [tnet[0], tnet[2]]
        ws = [p for k, p in named.items() if p.ndim == 2]
        bs = [p for k, p in named.items() if p.ndim == 1]
        for lay, w, b in zip(layers, ws, bs, strict=True):
            lay.weight.copy_(torch.from_numpy(w.T.copy()))  # scratch W is (in, out), torch's (out, in)
            lay.bias.copy_(torch.from_numpy(b.copy()))
    opt, topt = SGD(net, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.nesterov), make_optimizer(tnet, cfg)
    g = rng(0, "data")
    for _ in range(5):
        x, y = g.normal(size=(8, 6)), g.integers(0, 3, 8)
        net.forward(x, y)
        net.backward()
        opt.step()
        loss = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x)), torch.from_numpy(y))
        topt.zero_grad()
        loss.backward()
        topt.step()
    for w, lay in zip([p for p in net.params().values() if p.ndim == 2], layers, strict=True):
        assert np.allclose(w.T, lay.weight.detach().numpy(), atol=1e-10)
    for b, lay in zip([p for p in net.params().values() if p.ndim == 1], layers, strict=True):
        assert np.allclose(b, lay.bias.detach().numpy(), atol=1e-10)
