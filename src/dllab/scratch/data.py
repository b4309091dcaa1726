"""Data utilities for the scratch networks: the CS7643 split, seeded batches, accuracy."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def train_val_split(x: np.ndarray, y: np.ndarray, train_fraction: float = 0.8):
    """The first ``train_fraction`` of the official training set is training data, the rest validation (CS7643)."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    cut = int(round(len(x) * train_fraction))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True,
            rng: np.random.Generator | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Successive (x, y) mini-batches; a new seeded order each call when ``shuffle``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = (rng or np.random.default_rng()).permutation(len(x)) if shuffle else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of predictions equal to labels (logits (N, K) or class indices (N,))."""
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    return float(np.mean(pred == y))


def flatten_scaled(x: np.ndarray) -> np.ndarray:
    """uint8 images (N, ...) -> float32 (N, D) in [0, 1]."""
    return np.asarray(x, dtype=np.float32).reshape(len(x), -1) / np.float32(255.0)


def random_crop(x: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    """Reflect-pad (N, H, W, C) images by ``pad`` and cut a random HxW window from each (one fancy index)."""
    n, h, w = x.shape[:3]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    dy = rng.integers(0, 2 * pad + 1, n)
    dx = rng.integers(0, 2 * pad + 1, n)
    rows = dy[:, None] + np.arange(h)  # (n, h)
    cols = dx[:, None] + np.arange(w)  # (n, w)
    return xp[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
