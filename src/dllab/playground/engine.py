"""The playground's engine: the TensorFlow Playground's network and training, in NumPy, one implementation for the
page and the studies.

The model follows the original (``nn.ts``, ``playground.ts``): input features from (x1, x2); fully connected hidden
layers; a tanh output unit trained on the squared error 0.5 (out - y)^2 for binary classification (labels -1/+1),
a linear one for regression; weights drawn from U(-0.5, 0.5), biases 0.1; mini-batch SGD in the order of the
(once shuffled) training set, the gradient averaged over the batch and the last partial batch of an epoch carried
into the next one; L1/L2 on the weights applied after the gradient step (an L1 step that crosses zero sets the
weight to 0 and freezes it). Beyond the original: cross-entropy (a sigmoid output for binary, softmax for
multi-class data), a different activation per layer, up to 10 hidden layers of 32 neurons (``extended``), a
seed for everything, and the number of linear regions of ReLU networks (:mod:`dllab.playground.regions`).
Losses are reported on the original's scale: the mean of 0.5 (out - y)^2 with out in [-1, 1] (for multi-class,
summed over one-hot outputs), so runs with different training losses compare.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dllab.playground.datasets import DATASETS
from dllab.scratch.layers import Identity, ReLU, Sigmoid, Softmax, Tanh
from dllab.seeding import rng as seeded_rng

FEATURES = {
    "x1": lambda x: x[:, 0], "x2": lambda x: x[:, 1], "x1^2": lambda x: x[:, 0] ** 2, "x2^2": lambda x: x[:, 1] ** 2,
    "x1*x2": lambda x: x[:, 0] * x[:, 1], "sin(x1)": lambda x: np.sin(x[:, 0]), "sin(x2)": lambda x: np.sin(x[:, 1]),
}
Activation = Literal["relu", "tanh", "sigmoid", "linear"]


class PlaygroundConfig(BaseModel):
    """Everything that defines a playground run; the page's URL and JSON export hold exactly these keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    dataset: str = Field("circle", description="circle, xor, gauss, spiral (binary), plane, multi-gaussian "
                                               "(regression), blobs, spiral3 (multi-class), or csv")
    noise: int = Field(0, ge=0, le=50, description="noise, 0-50 (%)")
    train_ratio: int = Field(50, ge=10, le=90, description="share of the points that train, 10-90 (%)")
    batch_size: int = Field(10, ge=1, le=30)
    features: list[str] = Field(["x1", "x2"], min_length=1, description="input features")
    hidden: list[int] = Field([4, 2], description="neurons per hidden layer (0-6 layers of 1-8; extended: "
                                                  "10 of 32)")
    activation: Activation = "tanh"
    layer_activations: list[Activation] | None = Field(None, description="one activation per hidden layer")
    learning_rate: float = Field(0.03, ge=0.00001, le=10)
    regularization: Literal["none", "L1", "L2"] = "none"
    regularization_rate: float = Field(0.0, ge=0, le=10)
    loss: Literal["squared", "cross_entropy"] = Field("squared", description="squared error on a tanh output "
                                                                             "(the original), or cross-entropy")
    seed: int = Field(0, ge=0, description="seeds the data, the split, and the initial weights")
    init_zero: bool = Field(False, description="all weights and biases 0 (the original's debug option)")
    extended: bool = Field(False, description="allow up to 10 hidden layers of up to 32 neurons")
    max_epochs: int | None = Field(None, ge=1, description="stop after this many epochs")

    @model_validator(mode="after")
    def _check(self):
        if self.dataset not in DATASETS and self.dataset != "csv":
            raise ValueError(f"dataset must be one of {', '.join([*DATASETS, 'csv'])}")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or len(set(self.features)) != len(self.features):
            raise ValueError(f"features must be distinct names from {', '.join(FEATURES)}; got {self.features}")
        layers, width = (10, 32) if self.extended else (6, 8)
        if len(self.hidden) > layers or any(not 1 <= h <= width for h in self.hidden):
            raise ValueError(f"hidden must hold 0-{layers} layers of 1-{width} neurons (extended: 10 of 32); got "
                             f"{self.hidden}")
        if self.layer_activations is not None and len(self.layer_activations) != len(self.hidden):
            raise ValueError("layer_activations needs one activation per hidden layer")
        return self

    def activations(self) -> list[str]:
        return list(self.layer_activations or [self.activation] * len(self.hidden))


# Each activation with its derivative beside it: the scratch networks' layers (one implementation of each).
ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "linear": Identity, "softmax": Softmax}


class Network:
    """Fully connected layers: ``W[l]`` (n_in, n_out), ``b[l]`` (n_out,); ``alive[l]`` masks L1-frozen weights."""

    def __init__(self, sizes: list[int], activations: list[str], output: str, rng: np.random.Generator,
                 init_zero: bool = False):
        self.sizes, self.activations, self.output = sizes, [*activations, output], output
        self.W = [np.zeros((a, b)) if init_zero else rng.uniform(-0.5, 0.5, (a, b))
                  for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.full(b, 0.0 if init_zero else 0.1) for b in sizes[1:]]
        self.alive = [np.ones_like(w, dtype=bool) for w in self.W]
        self.layers = [ACTIVATIONS[name]() for name in self.activations]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer, inputs first: [x, a1, ..., out]; each activation keeps what its backward
        needs, so :meth:`backward` follows the last forward."""
        acts = [x]
        for W, b, act in zip(self.W, self.b, self.layers):
            acts.append(act.forward(acts[-1] @ W + b))
        return acts

    def backward(self, acts: list[np.ndarray], d_out: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradients of the batch-mean loss, given d loss / d (output pre-activation) per example (N, n_out)."""
        n = len(d_out)
        dW, db = [None] * len(self.W), [None] * len(self.W)
        delta = d_out
        for layer in range(len(self.W) - 1, -1, -1):
            dW[layer] = acts[layer].T @ delta / n
            db[layer] = delta.mean(0)
            if layer:
                delta = self.layers[layer - 1].backward(delta @ self.W[layer].T)
        return dW, db

    def n_weights(self) -> int:
        return sum(w.size for w in self.W)


class Playground:
    """A data set, its train/test split and a network; :meth:`step` trains one epoch.

    Labels: -1/+1 for binary data, class ids for multi-class, reals for regression. ``points`` (x, y) replace
    the generated data (a CSV's points; then ``problem`` and ``classes`` come with them).
    """

    def __init__(self, cfg: PlaygroundConfig, points: tuple[np.ndarray, np.ndarray, str, int] | None = None):
        self.cfg = cfg
        if cfg.dataset == "csv":
            if points is None:
                raise ValueError("dataset csv needs points (load a CSV file)")
            x, y, self.problem, self.classes = points
        else:
            gen, self.problem, self.classes, n = DATASETS[cfg.dataset]
            x, y = gen(n, cfg.noise / 100, seeded_rng(cfg.seed, "playground", "data"))
        order = seeded_rng(cfg.seed, "playground", "shuffle").permutation(len(x))
        x, y = x[order], y[order]
        cut = int(np.floor(len(x) * cfg.train_ratio / 100))
        self.train, self.test = (x[:cut], y[:cut]), (x[cut:], y[cut:])
        self.features = list(cfg.features)
        self.reset()

    # -- the model ---------------------------------------------------------------------------------------
    @property
    def n_out(self) -> int:
        return self.classes if self.classes > 1 else 1

    def output_activation(self) -> str:
        if self.classes > 1:
            return "softmax"
        if self.problem == "regression":
            return "linear"
        return "sigmoid" if self.cfg.loss == "cross_entropy" else "tanh"

    def reset(self) -> None:
        """New initial weights (from the seed), epoch 0; the data stay."""
        sizes = [len(self.features), *self.cfg.hidden, self.n_out]
        self.net = Network(sizes, self.cfg.activations(), self.output_activation(),
                           seeded_rng(self.cfg.seed, "playground", "init"), self.cfg.init_zero)
        self.epoch = 0
        self._carry = None  # the partial batch carried into the next epoch, as in the original
        self.history: list[dict] = []

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """The selected input features of points (N, 2) -> (N, n_features)."""
        return np.stack([FEATURES[f](x) for f in self.features], axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The network's output on points (N, 2): (N,) in [-1, 1] (binary; regression: real), or (N, K) class
        probabilities."""
        out = self.net.forward(self.inputs(x))[-1]
        if self.classes > 1:
            return out
        return 2 * out[:, 0] - 1 if self.output_activation() == "sigmoid" else out[:, 0]

    # -- losses --------------------------------------------------------------------------------------------
    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean 0.5 (out - y)^2 on the original's scale (multi-class: summed over one-hot outputs)."""
        if len(x) == 0:
            return float("nan")
        out = self.predict(x)
        if self.classes > 1:
            return float(0.5 * np.mean(np.sum((out - np.eye(self.classes)[y]) ** 2, axis=1)))
        return float(0.5 * np.mean((out - y) ** 2))

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float | None:
        if self.problem == "regression" or len(x) == 0:
            return None
        out = self.predict(x)
        pred = out.argmax(1) if self.classes > 1 else np.where(out >= 0, 1.0, -1.0)
        return float(np.mean(pred == y))

    def _output_delta(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d (training loss) / d (output pre-activation), per example."""
        if self.classes > 1:  # softmax + cross-entropy
            return out - np.eye(self.classes)[y]
        if self.output_activation() == "sigmoid":  # cross-entropy on p = sigmoid(z) with target (y + 1) / 2
            return out - (y[:, None] + 1) / 2
        return self.net.layers[-1].backward(out - y[:, None])  # squared error 0.5 (a - y)^2 through the output

    def gradients(self, x: np.ndarray, y: np.ndarray):
        """Batch-mean gradients of the training loss (without regularisation) for points (N, 2)."""
        acts = self.net.forward(self.inputs(x))
        return self.net.backward(acts, self._output_delta(acts[-1], y))

    def training_loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """The mean of the loss that training minimises (squared error or cross-entropy), for gradient checks."""
        out = self.net.forward(self.inputs(x))[-1]
        if self.classes > 1:
            return float(-np.mean(np.log(out[np.arange(len(y)), y] + 1e-300)))
        if self.output_activation() == "sigmoid":
            t = (y + 1) / 2
            p = np.clip(out[:, 0], 1e-300, 1 - 1e-16)
            return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
        return float(0.5 * np.mean((out[:, 0] - y) ** 2))

    # -- training --------------------------------------------------------------------------------------------
    def _update(self, dW, db) -> None:
        lr, rate, reg = self.cfg.learning_rate, self.cfg.regularization_rate, self.cfg.regularization
        for layer, (W, b, alive) in enumerate(zip(self.net.W, self.net.b, self.net.alive)):
            reg_grad = np.sign(W) if reg == "L1" else W if reg == "L2" else 0.0
            after = W - lr * dW[layer]
            new = after - lr * rate * reg_grad
            frozen = ~alive
            if reg == "L1":  # a weight that the L1 step pushes across zero is set to 0 and frozen
                crossed = alive & (after * new < 0)
                new[crossed] = 0.0
                alive &= ~crossed
            W[...] = np.where(frozen, W, new)
            b -= lr * db[layer]

    def step(self, epochs: int = 1) -> dict:
        """Train ``epochs`` epochs; return the latest record (epoch, losses, accuracies)."""
        x, y = self.train
        bs = self.cfg.batch_size
        rec = None
        for _ in range(epochs):
            if self.cfg.max_epochs is not None and self.epoch >= self.cfg.max_epochs:
                break
            start = 0
            if self._carry is not None and len(x):  # the leftover examples join this epoch's first batch
                cx, cy = self._carry
                first = min(bs, len(x))
                self._update(*self.gradients(np.r_[cx, x[:first]], np.r_[cy, y[:first]]))
                start, self._carry = first, None
            full_end = start + (len(x) - start) // bs * bs
            for s in range(start, full_end, bs):
                self._update(*self.gradients(x[s:s + bs], y[s:s + bs]))
            if full_end < len(x):
                self._carry = (x[full_end:], y[full_end:])
            self.epoch += 1
            rec = self.record()
            self.history.append(rec)
        return dict(rec) if rec is not None else self.record()

    def record(self) -> dict:
        return {"epoch": self.epoch, "train_loss": self.loss(*self.train), "test_loss": self.loss(*self.test),
                "train_acc": self.accuracy(*self.train), "test_acc": self.accuracy(*self.test)}

    @property
    def done(self) -> bool:
        return self.cfg.max_epochs is not None and self.epoch >= self.cfg.max_epochs

    # -- views for the page ------------------------------------------------------------------------------
    def grid(self, density: int) -> np.ndarray:
        """Points of a density x density grid over [-6, 6]^2, row 0 at the top (x2 = 6)."""
        xs = np.linspace(-6, 6, density)
        gx, gy = np.meshgrid(xs, xs[::-1])
        return np.c_[gx.ravel(), gy.ravel()]

    def heatmaps(self, density: int = 100, neuron_density: int = 20) -> dict:
        """The output over [-6, 6]^2 (density^2 values: in [-1, 1], regression reals, or class ids + confidence)
        and every neuron's activation on a coarser grid, each (neuron_density^2,)."""
        pts = self.grid(density)
        out = self.predict(pts)
        if self.classes > 1:
            main = {"class": out.argmax(1).astype(np.int8), "confidence": out.max(1)}
        else:
            main = {"value": out}
        acts = self.net.forward(self.inputs(self.grid(neuron_density)))
        neurons = [a[:, j] for a in acts[1:-1] for j in range(a.shape[1])]
        inputs = [acts[0][:, j] for j in range(acts[0].shape[1])]
        return {"output": main, "neurons": neurons, "inputs": inputs}
