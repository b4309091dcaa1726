"""dllab.search.classifier: the frozen encoder stays frozen."""

from __future__ import annotations

import numpy as np
import torch


def test_frozen_classifier_no_gradient_reaches_the_encoder():
    from dllab.search.classifier import FrozenEmbeddingClassifier, balanced_weights

    encoder = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.BatchNorm1d(8))
    before = [p.detach().clone() for p in encoder.parameters()]
    stats = encoder[1].running_mean.clone()
    clf = FrozenEmbeddingClassifier(encoder, 8, 3, hidden=16).train()
    x, y = torch.randn(32, 10, requires_grad=True), torch.randint(0, 3, (32,))
    opt = torch.optim.SGD(clf.parameters(), lr=0.5)
    loss = torch.nn.functional.cross_entropy(clf(x), y)
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in encoder.parameters())
    assert x.grad is None  # nothing flows back through the encoder to its input either
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in clf.mlp.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    assert torch.equal(encoder[1].running_mean, stats)  # batch-norm statistics stay frozen too
    w = balanced_weights(np.array([0] * 90 + [1] * 10), 2)
    np.testing.assert_allclose(w.numpy(), [100 / 180, 100 / 20])
