"""Layers: forward and hand-derived backward side by side.

Conventions: a layer's ``forward(x)`` caches what its backward needs and returns the output; ``backward(g)``
takes dL/d(output) and returns dL/d(input), writing dL/d(param) into ``self.grads[name]``. Arrays keep the
dtype they are given (float32 for training, float64 for gradient checks). Shapes are given per layer.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import expit


class Module:
    """Base: ``params`` and ``grads`` are dicts of arrays keyed by name; ``no_decay`` names skip L2."""

    no_decay: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def named_parameters(self, prefix: str = "") -> dict[str, tuple[np.ndarray, np.ndarray, bool]]:
        """name -> (param, grad, decays)"""
        return {f"{prefix}{k}": (v, self.grads[k], k not in self.no_decay) for k, v in self.params.items()}

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        return self


class Linear(Module):
    """y = x W + b.   x (N, in), W (in, out), b (out,), y (N, out).

    ``init_std`` draws W ~ N(0, init_std^2); None uses U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default).
    """

    no_decay = frozenset({"b"})

    def __init__(self, n_in: int, n_out: int, bias: bool = True, *, init_std: float | None = None,
                 rng: np.random.Generator | None = None, dtype=np.float32):
        super().__init__()
        rng = rng or np.random.default_rng()
        if init_std is None:
            bound = 1.0 / np.sqrt(n_in)
            W = rng.uniform(-bound, bound, (n_in, n_out))
            b = rng.uniform(-bound, bound, n_out)
        else:
            W = init_std * rng.standard_normal((n_in, n_out))
            b = np.zeros(n_out)
        self.params["W"] = W.astype(dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        if bias:
            self.params["b"] = b.astype(dtype)
            self.grads["b"] = np.zeros_like(self.params["b"])

    def forward(self, x):
        self.x = x
        out = x @ self.params["W"]
        if "b" in self.params:
            out += self.params["b"]
        return out

    def backward(self, g, need_input_grad=True):
        np.matmul(self.x.T, g, out=self.grads["W"])          # dL/dW = x^T g
        if "b" in self.params:
            np.sum(g, axis=0, out=self.grads["b"])            # dL/db = sum over the batch of g
        return g @ self.params["W"].T if need_input_grad else None   # dL/dx = g W^T


class ReLU(Module):
    """y = max(x, 0); dy/dx = 1 where x > 0 (0 at x = 0)."""

    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, g, need_input_grad=True):
        return g * self.mask


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)) (stable for any x); dy/dx = y (1 - y)."""

    def forward(self, x):
        self.y = expit(x)
        return self.y

    def backward(self, g, need_input_grad=True):
        y = self.y
        return g * y * (1 - y)


class Tanh(Module):
    """y = tanh(x); dy/dx = 1 - y^2."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g, need_input_grad=True):
        return g * (1 - self.y * self.y)


class Identity(Module):
    """y = x; dy/dx = 1 (a linear activation)."""

    def forward(self, x):
        return x

    def backward(self, g, need_input_grad=True):
        return g


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) logits, shifted by the row max so any magnitude is finite."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


class Softmax(Module):
    """s = softmax(x) per row; the Jacobian is diag(s) - s s^T, so dL/dx = s * (g - <g, s>)."""

    def forward(self, x):
        self.s = softmax(x)
        return self.s

    def backward(self, g, need_input_grad=True):
        s = self.s
        return s * (g - (g * s).sum(axis=1, keepdims=True))


class Flatten(Module):
    """(N, ...) -> (N, prod(...)); backward restores the shape."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, g, need_input_grad=True):
        return g.reshape(self.shape)


class Conv2d(Module):
    """2-D cross-correlation.   x (N, C, H, W), weight (F, C, k, k), b (F,) -> y (N, F, Ho, Wo).

    Forward reads every k x k window through a strided view (no copy) and contracts it with the filters
    (one tensordot). Backward: dW contracts g with the same windows; dx scatters g W back, one slice per
    kernel offset (k^2 vectorised adds; no loop over pixels or examples).
    """

    no_decay = frozenset({"b"})

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True,
                 *, rng: np.random.Generator | None = None, dtype=np.float32):
        super().__init__()
        rng = rng or np.random.default_rng()
        self.k, self.stride, self.pad = kernel, stride, padding
        bound = 1.0 / np.sqrt(c_in * kernel * kernel)
        self.params["W"] = rng.uniform(-bound, bound, (c_out, c_in, kernel, kernel)).astype(dtype)
        self.grads["W"] = np.zeros_like(self.params["W"])
        if bias:
            self.params["b"] = rng.uniform(-bound, bound, c_out).astype(dtype)
            self.grads["b"] = np.zeros_like(self.params["b"])

    def _windows(self, x):
        p, s = self.pad, self.stride
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        return xp, sliding_window_view(xp, (self.k, self.k), axis=(2, 3))[:, :, ::s, ::s]  # (N,C,Ho,Wo,k,k)

    def forward(self, x):
        self.x_shape = x.shape
        xp, self.win = self._windows(x)
        self.xp_shape = xp.shape
        out = np.tensordot(self.win, self.params["W"], axes=([1, 4, 5], [1, 2, 3]))  # (N,Ho,Wo,F)
        if "b" in self.params:
            out += self.params["b"]
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))

    def backward(self, g, need_input_grad=True):
        self.grads["W"][...] = np.tensordot(g, self.win, axes=([0, 2, 3], [0, 2, 3]))  # (F,C,k,k)
        if "b" in self.params:
            self.grads["b"][...] = g.sum(axis=(0, 2, 3))
        if not need_input_grad:
            return None
        k, s, p = self.k, self.stride, self.pad
        n, f, ho, wo = g.shape
        cols = np.tensordot(g, self.params["W"], axes=([1], [0]))  # (N,Ho,Wo,C,k,k)
        dxp = np.zeros(self.xp_shape, dtype=g.dtype)
        for i in range(k):
            for j in range(k):
                dxp[:, :, i:i + s * ho:s, j:j + s * wo:s] += cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return dxp[:, :, p:p + self.x_shape[2], p:p + self.x_shape[3]] if p else dxp


class MaxPool2d(Module):
    """Max over k x k windows with stride s (default k).   x (N, C, H, W) -> (N, C, Ho, Wo).

    The gradient goes to the (first) arg-max of each window.
    """

    def __init__(self, kernel: int, stride: int | None = None):
        super().__init__()
        self.k, self.stride = kernel, stride or kernel

    def forward(self, x):
        k, s = self.k, self.stride
        win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        n, c, ho, wo = win.shape[:4]
        self.x_shape, self.argmax = x.shape, win.reshape(n, c, ho, wo, k * k).argmax(axis=-1)
        return np.take_along_axis(win.reshape(n, c, ho, wo, k * k), self.argmax[..., None], -1)[..., 0]

    def backward(self, g, need_input_grad=True):
        k, s = self.k, self.stride
        ho, wo = g.shape[2:]
        dx = np.zeros(self.x_shape, dtype=g.dtype)
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + s * ho:s, j:j + s * wo:s] += g * (self.argmax == i * k + j)
        return dx


class Sequential(Module):
    """Layers applied in order; parameters are named '<index>.<name>' (e.g. '0.W')."""

    def __init__(self, *layers: Module):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, g, need_input_grad=True):
        for i in range(len(self.layers) - 1, -1, -1):
            g = self.layers[i].backward(g, need_input_grad=need_input_grad or i > 0)
        return g

    def named_parameters(self, prefix=""):
        out = {}
        for i, layer in enumerate(self.layers):
            out.update(layer.named_parameters(f"{prefix}{i}."))
        return out

    def train(self, mode=True):
        for layer in self.layers:
            layer.train(mode)
        return super().train(mode)


class CrossEntropy:
    """Fused softmax + cross-entropy, averaged over the batch.   logits (N, K), labels (N,) int.

    L = mean_i [logsumexp(z_i) - z_i[y_i]], computed with the row max subtracted, so logits of magnitude
    1e4 give a finite loss; dL/dz = (softmax(z) - onehot(y)) / N.
    """

    def forward(self, z: np.ndarray, y: np.ndarray) -> float:
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        self.probs = e / total
        self.y = y
        rows = np.arange(len(y))
        return float(np.mean(np.log(total[:, 0]) - shifted[rows, y]))

    def backward(self) -> np.ndarray:
        g = self.probs.copy()
        g[np.arange(len(self.y)), self.y] -= 1
        g /= len(self.y)
        return g


class MSE:
    """Mean squared error over all elements.   pred, target (N, ...); dL/dpred = 2 (pred - target) / size."""

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        self.diff = pred - target
        return float(np.mean(self.diff * self.diff))

    def backward(self) -> np.ndarray:
        return self.diff * (2.0 / self.diff.size)
