"""Models: a network body plus a loss. ``forward(x, y)`` returns (loss, accuracy); ``backward()`` fills grads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dllab.scratch.layers import CrossEntropy, Linear, Module, ReLU, Sequential, Sigmoid, Tanh

ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class Classifier:
    """A body (x -> logits) trained with fused softmax + cross-entropy."""

    def __init__(self, body: Module):
        self.body = body
        self.loss = CrossEntropy()

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.body.forward(x)

    def forward(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Loss and accuracy on a batch; caches what backward needs.   x (N, ...), y (N,) int."""
        z = self.body.forward(x)
        loss = self.loss.forward(z, y)
        return loss, float(np.mean(z.argmax(axis=1) == y))

    def backward(self) -> None:
        self.body.backward(self.loss.backward(), need_input_grad=False)

    def named_parameters(self) -> dict[str, tuple[np.ndarray, np.ndarray, bool]]:
        """name -> (param, grad, decays)."""
        return self.body.named_parameters()

    def params(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.named_parameters().items()}

    def grads(self) -> dict[str, np.ndarray]:
        return {k: v[1] for k, v in self.named_parameters().items()}

    def predict(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        return np.concatenate([self.logits(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


class SoftmaxRegression(Classifier):
    """CS7643's softmax regression: FC (no bias) -> ReLU -> softmax + cross-entropy. Weights 0.001 * randn.

    The ReLU on the logits zeroes the gradient of every negative logit, so a class whose logit turns negative
    on its own images early in training can never recover ("dead class"). ``relu=False`` gives plain
    multinomial logistic regression (without bias), which later versions of the course allow.
    """

    def __init__(self, n_in: int = 784, n_classes: int = 10, *, init_std: float = 1e-3, relu: bool = True,
                 rng: np.random.Generator | None = None, dtype=np.float32):
        fc = Linear(n_in, n_classes, bias=False, init_std=init_std, rng=rng, dtype=dtype)
        super().__init__(Sequential(fc, ReLU()) if relu else Sequential(fc))


class TwoLayerNet(Classifier):
    """CS7643's two-layer net: FC (bias) -> sigmoid -> FC (bias) -> softmax + cross-entropy.

    Weights 0.001 * randn, biases zero (the course defaults).
    """

    def __init__(self, n_in: int = 784, hidden: int = 128, n_classes: int = 10, *, init_std: float = 1e-3,
                 rng: np.random.Generator | None = None, dtype=np.float32):
        super().__init__(Sequential(Linear(n_in, hidden, init_std=init_std, rng=rng, dtype=dtype), Sigmoid(),
                                    Linear(hidden, n_classes, init_std=init_std, rng=rng, dtype=dtype)))


def mlp(sizes: Sequence[int], activation: str = "relu", *, init_std: float | None = None,
        rng: np.random.Generator | None = None, dtype=np.float32) -> Classifier:
    """An MLP classifier with layer sizes ``sizes`` (input, hidden..., classes) and the given activation."""
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least input and output sizes, got {list(sizes)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(a, b, init_std=init_std, rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return Classifier(Sequential(*layers))
